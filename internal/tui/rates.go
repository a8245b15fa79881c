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
	ts        int64   // snapshot timestamp_ns
	good, tok float64 // tracked successful completions, Σ osl
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
	p := ratePoint{ts: s.TimestampNS, good: float64(s.CounterInt(counterTrackedCompleted) - s.CounterInt(counterTrackedFailed))}
	if o, ok := s.Find(seriesOSL); ok {
		p.tok = o.Total.Float64()
	}
	if r.have && (p.good < r.prev.good || p.tok < r.prev.tok || p.ts < r.prev.ts) {
		r.have = false // counters or clock went backwards: a new session
	}
	if !r.have {
		r.first, r.have = p, true
	}
	r.prev = p
	if dur := s.CounterInt(counterTrackedDuration); dur > 0 {
		sec := float64(dur) / 1e9
		return RateView{Elapsed: time.Duration(dur), QPS: p.good / sec, TPS: p.tok / sec}
	}
	if s.CounterInt(counterTrackedIssued) == 0 {
		return RateView{} // tracking has not started: nothing to derive
	}
	v := RateView{Derived: true, Elapsed: time.Duration(s.CounterInt(counterTotalDuration))}
	if span := p.ts - r.first.ts; span > 0 {
		sec := float64(span) / 1e9
		v.QPS, v.TPS = (p.good-r.first.good)/sec, (p.tok-r.first.tok)/sec
		if v.Elapsed <= 0 {
			v.Elapsed = time.Duration(span)
		}
	}
	return v
}
