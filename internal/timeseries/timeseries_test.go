package timeseries_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/timeseries"
)

type line struct {
	TNS         int64                  `json:"t_ns"`
	State       string                 `json:"state"`
	Issued      int64                  `json:"issued"`
	Completed   int64                  `json:"completed"`
	Failed      int64                  `json:"failed"`
	Good        *int64                 `json:"good"`
	InFlight    int64                  `json:"in_flight"`
	QPS         *float64               `json:"qps"`
	IntervalQPS *float64               `json:"interval_qps"`
	P           map[string][3]*float64 `json:"p"`
}

// run feeds a registry through steps of 100 samples and offers a snapshot
// after each.
func TestWriter(t *testing.T) {
	reg := metrics.NewRegistry()
	c := map[string]*metrics.Counter{}
	for _, n := range []string{"total_samples_issued", "total_samples_completed", "tracked_samples_issued",
		"tracked_samples_completed", "tracked_samples_failed", "tracked_duration_ns", "total_duration_ns", "tracked_samples_good"} {
		c[n], _ = reg.NewCounter(n, false)
	}
	ttft, _ := reg.NewSeries("ttft_ns", metrics.SeriesOpts{})
	// A hundred long-named series must not make a line longer.
	for i := range 100 {
		s, _ := reg.NewSeries(strings.Repeat("x", 100)+string(rune('a'+i%26))+strings.Repeat("y", i), metrics.SeriesOpts{})
		s.Record(1)
	}
	path := filepath.Join(t.TempDir(), timeseries.FileName)
	w, err := timeseries.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const steps = 10
	for i := 1; i <= steps; i++ {
		for j := range 100 {
			ttft.Record(int64(1e6 * (j + 1)))
		}
		c["total_samples_issued"].Add(110)
		c["tracked_samples_issued"].Add(110)
		c["total_samples_completed"].Add(100)
		c["tracked_samples_completed"].Add(100)
		c["tracked_samples_failed"].Add(10)
		c["tracked_samples_good"].Add(50)
		c["tracked_duration_ns"].Add(1e9)
		c["total_duration_ns"].Add(1e9)
		state := metrics.StateLive
		if i == steps {
			state = metrics.StateComplete
		}
		w.Offer(reg.Snapshot(state, 0, int64(i)))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	w.Offer(reg.Snapshot(metrics.StateComplete, 0, 99)) // after Close: ignored
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		if len(sc.Bytes())+1 > timeseries.MaxLine {
			t.Errorf("line %d is %d bytes", n, len(sc.Bytes())+1)
		}
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v: %s", n, err, sc.Text())
		}
		if l.TNS != int64(n) || l.Issued != int64(110*n) || l.Completed != int64(100*n) || l.InFlight != int64(10*n) || l.Good == nil || *l.Good != int64(50*n) {
			t.Errorf("line %d: %+v", n, l)
		}
		if l.QPS == nil || *l.QPS != 90 {
			t.Errorf("line %d: qps %v, want 90", n, l.QPS)
		}
		if n > 1 && (l.IntervalQPS == nil || *l.IntervalQPS != 90) {
			t.Errorf("line %d: interval qps %v, want 90", n, l.IntervalQPS)
		}
		p := l.P["ttft"]
		if p[0] == nil || *p[0] < 49e6 || *p[0] > 51e6 || p[2] == nil || *p[2] < 98e6 || *p[2] > 100e6 {
			t.Errorf("line %d: ttft p50/p90/p99 %v", n, p)
		}
	}
	if n != steps || w.Lines() != steps || w.Dropped() != 0 {
		t.Errorf("%d lines (writer says %d, dropped %d), want %d", n, w.Lines(), w.Dropped(), steps)
	}
}

func TestCreate_badPath(t *testing.T) {
	if _, err := timeseries.Create(filepath.Join(t.TempDir(), "missing", "x.jsonl")); err == nil {
		t.Error("no error for a missing directory")
	}
}

// BenchmarkAppendLine is the cost of one line (once per publish interval,
// 4 per second by default): a run pays it per interval, not per request.
func BenchmarkAppendLine(b *testing.B) {
	reg := metrics.NewRegistry()
	for _, n := range []string{"tracked_samples_issued", "tracked_samples_completed", "tracked_duration_ns"} {
		c, _ := reg.NewCounter(n, false)
		c.Set(1e9)
	}
	for _, sr := range timeseries.Series {
		s, _ := reg.NewSeries(sr.Name, metrics.SeriesOpts{})
		for i := range 10000 {
			s.Record(int64(i) * 1000)
		}
	}
	s := reg.Snapshot(metrics.StateLive, 0, 1)
	buf := make([]byte, 0, timeseries.MaxLine)
	b.ReportAllocs()
	for b.Loop() {
		buf = timeseries.AppendLine(buf[:0], &s, &s)
	}
}

func TestWriter_nil(t *testing.T) {
	var w *timeseries.Writer
	w.Offer(metrics.Snapshot{})
	if err := w.Close(); err != nil || w.Lines() != 0 || w.Dropped() != 0 {
		t.Errorf("nil writer: %v %d %d", err, w.Lines(), w.Dropped())
	}
}
