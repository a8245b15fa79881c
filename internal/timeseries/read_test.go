package timeseries_test

import (
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/timeseries"
)

// TestDecode reads back what AppendLine writes and skips what it could not
// have written: a torn last line, a truncation marker, an overlong line.
func TestDecode(t *testing.T) {
	r := metrics.NewRegistry()
	c, _ := r.NewCounter(metrics.TrackedCompleted, false)
	d, _ := r.NewCounter(metrics.TrackedDuration, false)
	ttft, _ := r.NewSeries(metrics.SeriesTTFT, metrics.SeriesOpts{})
	var b []byte
	var prev *metrics.Snapshot
	for i := int64(1); i <= 3; i++ {
		c.Set(10 * i)
		d.Set(i * 1e9)
		ttft.Record(i * 1e6)
		s := r.Snapshot(metrics.StateLive, 0, i*1e9)
		b = timeseries.AppendLine(b, &s, prev)
		prev = &s
	}
	in := string(b) + `{"truncated":true}` + "\n" + `{"t_ns":9,"x":"` + strings.Repeat("y", 70_000) + "\"}\n" + "\n" + `{"t_ns":4,"elaps`
	lines, skipped, err := timeseries.Decode(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 3 || skipped != 4 {
		t.Fatalf("%d lines, %d skipped; want 3 and 4", len(lines), skipped)
	}
	l := lines[2]
	if l.TNS != 3e9 || l.Completed != 30 || l.QPS == nil || *l.QPS != 10 || l.IntervalQPS == nil || *l.IntervalQPS != 10 {
		t.Errorf("line 3 = %+v", l)
	}
	if p := l.P["ttft"]; p[0] == nil || *p[0] < 1.9e6 || *p[0] > 2.1e6 {
		t.Errorf("ttft p50 of line 3 = %v, want 2e6", p[0])
	}
	if lines[0].IntervalQPS != nil {
		t.Error("the first line has an interval rate")
	}
}
