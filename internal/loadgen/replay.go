package loadgen

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// A replay ([ModeReplay]) issues the dataset's samples in order, sample i at
// Config.Arrivals[i] after the start of the phase: the times of a recorded
// trace (package trace), compressed by its speed-up. It is the open-loop
// scheduler of the poisson and constant rates with the schedule read from a
// list, so its lateness is theirs, and the intended time of each
// sample.issued record is the trace's time. Issuing ends after the last
// sample, or earlier at NumSamples or Duration; it never cycles the trace.
//
// MaxConcurrency caps a replay as it caps a rate (cap.go): a request whose
// time has come waits for a slot, and the wait is measured apart. A warmup
// phase, if any, issues samples offline and untracked before the replay
// starts.

// validateArrivals checks that a replay's times are non-negative and in order.
func validateArrivals(at []time.Duration) error {
	if len(at) == 0 {
		return nil // New checks the count against the dataset
	}
	if at[0] < 0 {
		return fmt.Errorf("arrivals[0] %v: must not be negative", at[0])
	}
	for i := 1; i < len(at); i++ {
		if at[i] < at[i-1] {
			return fmt.Errorf("arrivals[%d] %v is before arrivals[%d] %v: want time order", i, at[i], i-1, at[i-1])
		}
	}
	return nil
}

// runReplay issues sample i at start + Arrivals[i].
func (s *Session) runReplay(ctx context.Context, wg *sync.WaitGroup, tracked bool, lim *phaseLimits, start int64) {
	if s.cfg.MaxConcurrency > 0 {
		s.runCapped(ctx, wg, tracked, lim, start)
		return
	}
	first, stride := s.replayShare()
	for i, p := 0, first; p < len(s.cfg.Arrivals); i, p = i+1, p+stride {
		at := start + int64(s.cfg.Arrivals[p])
		if lim.done(i, at) || !waitUntil(at, s.stop) {
			return
		}
		wg.Add(1)
		s.issue(ctx, p, tracked, at, wg.Done)
	}
}

// replayShare is the first request and the stride of this session's part
// of a replay: with a [Share] (one of several fleet sessions), requests
// Index, Index+Of, …, so that the sessions together replay the trace once,
// each request at its own time; alone, all of them.
func (s *Session) replayShare() (first, stride int) {
	if sh := s.cfg.Share; sh != nil && sh.Of > 1 {
		return sh.Index, sh.Of
	}
	return 0, 1
}

// arrivals returns the open-loop schedule from start as a function of the
// arrival's number: its intended time (event clock) and dataset index, or
// false past the end. A replay reads its Arrivals in order; a rate draws
// from its [Schedule] and the sample order (so call it with 0, 1, 2, …).
func (s *Session) arrivals(start int64) func(i int) (at int64, idx int, ok bool) {
	if s.cfg.Mode == ModeReplay {
		first, stride := s.replayShare()
		return func(i int) (int64, int, bool) {
			p := first + i*stride
			if p >= len(s.cfg.Arrivals) {
				return 0, 0, false
			}
			return start + int64(s.cfg.Arrivals[p]), p, true
		}
	}
	sched := NewSchedule(s.cfg)
	return func(int) (int64, int, bool) {
		off, ok := sched.Next()
		if !ok {
			return 0, 0, false
		}
		return start + int64(off), s.order.next(), true
	}
}
