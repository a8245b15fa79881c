package timeseries_test

import (
	"encoding/json"
	"fmt"
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

// TestDecode_FastPathAgrees checks the fast parser against encoding/json on
// lines AppendLine writes and on lines of other shapes it must hand over.
func TestDecode_FastPathAgrees(t *testing.T) {
	r := metrics.NewRegistry()
	for _, name := range []string{metrics.TrackedIssued, metrics.TrackedCompleted, metrics.TrackedFailed, metrics.TrackedDuration, metrics.TrackedGood} {
		c, _ := r.NewCounter(name, false)
		c.Set(7)
	}
	tp, _ := r.NewSeries(metrics.SeriesTPOT, metrics.SeriesOpts{Float: true})
	tp.RecordFloat(1.5e6)
	s := r.Snapshot(metrics.StateLive, 3, 5e9)
	prev := s
	line := string(timeseries.AppendLine(nil, &s, &prev))
	for _, in := range []string{
		line,
		`{"elapsed_s":1.5,"t_ns":12,"state":"li\"ve","qps":null,"p":{}}` + "\n",
		`{"t_ns": 12, "qps": 3}` + "\n",
		`{"t_ns":12,"extra":{"a":1},"p":{"ttft":[1,2,3]}}` + "\n",
	} {
		got, _, err := timeseries.Decode(strings.NewReader(in))
		if err != nil || len(got) != 1 {
			t.Fatalf("%s: %d lines, %v", in, len(got), err)
		}
		var want timeseries.Line
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		if g, w := fmt.Sprintf("%+v", deref(got[0])), fmt.Sprintf("%+v", deref(want)); g != w {
			t.Errorf("%s\n got %s\nwant %s", in, g, w)
		}
	}
}

// deref shows a line's pointers as values.
func deref(l timeseries.Line) string {
	f := func(p *float64) string {
		if p == nil {
			return "nil"
		}
		return fmt.Sprint(*p)
	}
	g := "nil"
	if l.Good != nil {
		g = fmt.Sprint(*l.Good)
	}
	out := fmt.Sprint(l.TNS, f(l.ElapsedS), l.State, l.Issued, l.Completed, l.Failed, g, l.InFlight, l.Pending,
		f(l.QPS), f(l.TPS), f(l.Goodput), f(l.IntervalQPS), f(l.IntervalTPS))
	for _, k := range []string{"ttft", "tpot", "latency", "chunk_gap", "lateness"} {
		if v, ok := l.P[k]; ok {
			out += " " + k + ":" + f(v[0]) + "," + f(v[1]) + "," + f(v[2])
		}
	}
	return out
}
