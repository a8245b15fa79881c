package loadgen

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/inferbench/inferbench/internal/event"
)

// Ramped and staged concurrency (closed loop).
//
// With RampUp or Stages the concurrency schedule runs as many workers as its
// highest level, numbered from 0, and worker k issues only while the level is
// above k: a worker above the current level finishes the request it has in
// flight, then parks until the level rises above it again (or the schedule
// ends). So the requests in flight follow the level, a step behind while the
// surplus requests finish.
//
//   - RampUp T to Concurrency N: level(t) = 1 + ⌊(N−1)·t/T⌋ for t < T, then
//     N; worker k starts at T·k/(N−1).
//   - Stages N₁:D₁,N₂:D₂,…: level Nᵢ during stage i (a stage's "QPS" is its
//     worker count); issuing ends after the last stage.

// workerPlan is the level of a ramped or staged concurrency schedule over
// the phase's time.
type workerPlan struct {
	n      int           // the most workers at once
	ramp   time.Duration // 0: no ramp
	stages []Stage
}

func newWorkerPlan(cfg Config) workerPlan {
	p := workerPlan{n: cfg.Concurrency, ramp: cfg.RampUp, stages: cfg.Stages}
	if len(cfg.Stages) > 0 {
		p.n, p.ramp = 0, 0
		for _, st := range cfg.Stages {
			p.n = max(p.n, int(st.QPS))
		}
	}
	return p
}

// shaped reports whether the level changes over time.
func (p workerPlan) shaped() bool { return p.ramp > 0 || len(p.stages) > 0 }

// Level returns the number of active workers at offset d from the phase
// start; false once the last stage is over.
func (p workerPlan) Level(d time.Duration) (int, bool) {
	if len(p.stages) > 0 {
		var start time.Duration
		for _, st := range p.stages {
			if d < start+st.Duration {
				return int(st.QPS), true
			}
			start += st.Duration
		}
		return 0, false
	}
	if p.ramp > 0 && d < p.ramp && p.n > 1 {
		return min(1+int(float64(p.n-1)*float64(d)/float64(p.ramp)), p.n), true
	}
	return p.n, true
}

// nextActive returns the earliest offset at or after d at which worker k
// (from 0) is active; false when it never is again.
func (p workerPlan) nextActive(k int, d time.Duration) (time.Duration, bool) {
	if len(p.stages) > 0 {
		var start time.Duration
		for _, st := range p.stages {
			end := start + st.Duration
			if d < end && int(st.QPS) > k {
				return max(d, start), true
			}
			start = end
		}
		return 0, false
	}
	if k == 0 || p.ramp == 0 || p.n <= 1 {
		return d, k < max(p.n, 1)
	}
	if k >= p.n {
		return 0, false
	}
	// The first t with 1 + ⌊(N−1)·t/T⌋ > k, i.e. (N−1)·t/T ≥ k.
	at := time.Duration(math.Ceil(float64(p.ramp) * float64(k) / float64(p.n-1)))
	for at > 0 {
		if lvl, _ := p.Level(at - 1); lvl > k {
			at-- // rounding: the level rose a nanosecond earlier
			continue
		}
		break
	}
	for {
		if lvl, _ := p.Level(at); lvl > k {
			break
		}
		at++
	}
	return max(d, at), true
}

// runShapedConcurrency is runConcurrency with a ramped or staged level.
func (s *Session) runShapedConcurrency(ctx context.Context, wg *sync.WaitGroup, tracked bool, lim *phaseLimits, start int64) {
	plan := newWorkerPlan(s.cfg)
	claim := s.claimer(lim)
	for k := range plan.n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				now := event.Now()
				at, ok := plan.nextActive(k, time.Duration(now-start))
				if !ok {
					return
				}
				if wait := start + int64(at) - now; wait > 0 {
					if !sleepUntil(time.Duration(wait), s.stop) {
						return
					}
					continue // the level may have changed again
				}
				idx, ok := claim()
				if !ok {
					return
				}
				done := make(chan struct{})
				s.issue(ctx, idx, tracked, 0, func() { close(done) })
				<-done
			}
		}()
	}
}

// sleepUntil sleeps for d; false when stop closed first. A parked worker
// needs no sub-millisecond precision, so it does not spin.
func sleepUntil(d time.Duration, stop <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-stop:
		return false
	}
}
