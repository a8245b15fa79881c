package tui

import (
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
)

// Rates derives a run's elapsed time, QPS and TPS from its snapshots, one
// after another. inferbench's aggregator puts the tracked duration in every
// frame, and the rates are the run's totals over it. The Python tool sets
// tracked_duration_ns only at the end, so its live frames would show 0 s
// and 0 req/s: without a tracked duration the rates come from the counters'
// growth between the frames seen, over their timestamps, and the elapsed
// time from total_duration_ns (else the timestamps). The zero value is ready.
type Rates struct {
	first, prev ratePoint
	have        bool
}

// ratePoint is what a frame says about progress.
type ratePoint struct {
	ts int64         // snapshot timestamp_ns
	in metrics.Rates // tracked successful completions, Σ osl, tracked duration
}

// RateView is what to show for one snapshot.
type RateView struct {
	Elapsed  time.Duration // tracked time (or, derived, the run's time)
	QPS, TPS float64
	// Derived says the frame had no tracked duration and the values come
	// from consecutive frames.
	Derived bool
}

// Observe folds one snapshot in and returns what to show for it.
func (r *Rates) Observe(s metrics.Snapshot) RateView {
	p := ratePoint{ts: s.TimestampNS, in: metrics.RatesOf(&s)}
	if r.have && (p.in.Succeeded < r.prev.in.Succeeded || p.in.OutputTokens < r.prev.in.OutputTokens || p.ts < r.prev.ts) {
		r.have = false // counters or clock went backwards: a new session
	}
	if !r.have {
		r.first, r.have = p, true
	}
	r.prev = p
	if p.in.TrackedNS > 0 {
		v := RateView{Elapsed: time.Duration(p.in.TrackedNS)}
		v.QPS, _ = p.in.QPS()
		v.TPS, _ = p.in.TPS()
		return v
	}
	if s.CounterInt(metrics.TrackedIssued) == 0 {
		return RateView{} // tracking has not started: nothing to derive
	}
	v := RateView{Derived: true, Elapsed: time.Duration(s.CounterInt(metrics.TotalDuration))}
	if span := p.ts - r.first.ts; span > 0 {
		// The dictionary's formulas over the frames' own clock.
		d := p.in.Sub(r.first.in)
		d.TrackedNS = span
		v.QPS, _ = d.QPS()
		v.TPS, _ = d.TPS()
		if v.Elapsed <= 0 {
			v.Elapsed = time.Duration(span)
		}
	}
	return v
}
