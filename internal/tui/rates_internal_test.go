package tui

import (
	"regexp"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/inferbench/inferbench/internal/metrics"
)

// TestModel_NoTrackedDuration feeds the dashboard live frames that carry
// tracked_duration_ns = 0, as the Python tool's do until the end: QPS, TPS,
// the elapsed time of a duration run and the sparkline come from
// consecutive frames instead of staying at 0.
func TestModel_NoTrackedDuration(t *testing.T) {
	reg := metrics.NewRegistry()
	c := map[string]*metrics.Counter{}
	for _, n := range []string{metrics.TrackedIssued, metrics.TrackedCompleted, metrics.TrackedFailed,
		metrics.TrackedDuration, metrics.TotalDuration} {
		var err error
		if c[n], err = reg.NewCounter(n, false); err != nil {
			t.Fatal(err)
		}
	}
	osl, err := reg.NewSeries(metrics.SeriesOSL, metrics.SeriesOpts{Low: metrics.TokenLow, High: metrics.TokenHigh})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := feed(t, New(Options{Duration: 10 * time.Second}), tea.WindowSizeMsg{Width: 110, Height: 44})
	ts := int64(5e12)
	for range 6 {
		ts += 250_000_000
		c[metrics.TrackedIssued].Add(30)
		c[metrics.TrackedCompleted].Add(25) // 100 req/s by the snapshot clock
		c[metrics.TotalDuration].Add(250_000_000)
		for range 25 {
			osl.Record(8) // 800 tok/s
		}
		m, _ = feed(t, m, snapshotMsg{reg.Snapshot(metrics.StateLive, 0, ts)})
	}
	v := m.View()
	for _, re := range []string{`QPS\s+100\.0 req/s`, `TPS\s+800\.0 tok/s`, `1\.5s of 10\.0s`} {
		if !regexp.MustCompile(re).MatchString(v) {
			t.Errorf("frame lacks %s:\n%s", re, v)
		}
	}
	if len(m.qps.pts) == 0 || m.qps.pts[len(m.qps.pts)-1] != 100 {
		t.Errorf("QPS sparkline points %v, want the per-frame rate 100", m.qps.pts)
	}

	// The end sets the tracked duration: the run's own figures take over.
	c[metrics.TrackedDuration].Add(2_000_000_000)
	m, _ = feed(t, m, snapshotMsg{reg.Snapshot(metrics.StateComplete, 0, ts+1)})
	if v := m.View(); !regexp.MustCompile(`QPS\s+75\.0 req/s`).MatchString(v) {
		t.Errorf("terminal frame lacks the run's QPS (150 over 2 s):\n%s", v)
	}
}
