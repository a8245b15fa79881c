package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/tui"
)

// progress prints a plain progress line every few seconds from the latest
// snapshot: readable in CI logs and when stdout is not a terminal.
type progress struct {
	w      io.Writer
	load   loadgen.Config
	target int
	mu     sync.Mutex
	latest metrics.Snapshot
	have   bool
}

func newProgress(w io.Writer, load loadgen.Config, datasetLen int) *progress {
	target := load.NumSamples
	if target == 0 && load.Duration == 0 && load.MinDuration == 0 {
		target = datasetLen
	}
	return &progress{w: w, load: load, target: target}
}

// snapshot keeps the latest snapshot; it never blocks the aggregator.
func (p *progress) snapshot(s metrics.Snapshot) {
	p.mu.Lock()
	p.latest, p.have = s, true
	p.mu.Unlock()
}

// start prints until the returned stop function is called.
func (p *progress) start() (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.print()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func (p *progress) print() {
	p.mu.Lock()
	s, ok := p.latest, p.have
	p.mu.Unlock()
	if !ok || s.State.Terminal() {
		return
	}
	fmt.Fprintln(p.w, ProgressLine(s, p.target, p.load.Duration))
	if len(s.Fleet) > 0 {
		fmt.Fprintln(p.w, "  "+tui.FleetHeader())
	}
	for _, line := range tui.FleetLines(s.Fleet) {
		fmt.Fprintln(p.w, "  "+line)
	}
}

// ProgressLine renders one line of progress from a snapshot.
func ProgressLine(s metrics.Snapshot, target int, duration time.Duration) string {
	var r tui.Rates
	return progressLine(s, target, duration, r.Observe(s))
}

// progressLine renders a progress line with the rates of a [tui.Rates] that
// saw the run's earlier frames too (watch: a run whose snapshots carry no
// tracked duration gets its rates from consecutive frames).
func progressLine(s metrics.Snapshot, target int, duration time.Duration, v tui.RateView) string {
	done := s.CounterInt(metrics.TrackedCompleted)
	issued := s.CounterInt(metrics.TrackedIssued)
	failed := s.CounterInt(metrics.TrackedFailed)
	dur, qps, tps := v.Elapsed.Seconds(), v.QPS, v.TPS
	goal := ""
	switch {
	case target > 0:
		goal = fmt.Sprintf("/%d", target)
	case duration > 0:
		goal = fmt.Sprintf(" (%.0fs of %.0fs)", dur, duration.Seconds())
	}
	line := fmt.Sprintf("[%s %6.1fs] completed %d%s, in flight %d, failed %d, %.1f %s, %.1f %s",
		s.State, dur, done, goal, issued-done, failed, qps, metrics.UnitPerSecond, tps, metrics.UnitTokensPerS)
	if m, ok := s.Find(metrics.SeriesTTFT); ok && m.Count > 0 {
		if p50, ok := m.Percentile("50.0"); ok {
			line += fmt.Sprintf(", TTFT p50 %.1f ms", p50/1e6)
		}
	}
	if s.NPendingTasks > 0 {
		line += fmt.Sprintf(", %d token counts pending", s.NPendingTasks)
	}
	return line
}
