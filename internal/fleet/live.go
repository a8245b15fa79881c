package fleet

import (
	"slices"
	"sync"
	"time"

	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
)

// lateWindow keeps a worker's most recent scheduler lateness values, for
// the live p99 of the fleet table. It is safe for concurrent use.
type lateWindow struct {
	mu   sync.Mutex
	vals [512]int64
	n    int
	next int
}

func (w *lateWindow) add(v int64) {
	w.mu.Lock()
	w.vals[w.next] = max(v, 0)
	w.next = (w.next + 1) % len(w.vals)
	w.n = min(w.n+1, len(w.vals))
	w.mu.Unlock()
}

// p99 is the 99th percentile of the recent values (0 without any).
func (w *lateWindow) p99() int64 {
	w.mu.Lock()
	vals := slices.Clone(w.vals[:w.n])
	w.mu.Unlock()
	if len(vals) == 0 {
		return 0
	}
	slices.Sort(vals)
	return vals[(len(vals)-1)*99/100]
}

// WorkerStats are one worker's live counters.
type WorkerStats struct {
	Name                          string
	Issued, Completed, Failed     int64
	InFlight                      int64
	QPS                           float64 // completions per second since the start
	LatenessP99                   time.Duration
	ClockOffset, ClockUncertainty time.Duration // uncertainty 0: no estimate yet
	Lost                          bool
}

// Stats returns every worker's live counters, in index order.
func (r *Run) Stats() []WorkerStats {
	now := event.Now()
	out := make([]WorkerStats, len(r.peers))
	for i, p := range r.peers {
		off, unc, ok := p.clock.estimate()
		if ok {
			unc = max(unc, 1) // 0 is "no estimate yet"
		}
		s := WorkerStats{Name: p.name, Issued: p.issued.Load(), Completed: p.completed.Load(),
			Failed: p.failed.Load(), LatenessP99: time.Duration(p.lateness.p99()),
			ClockOffset: time.Duration(off), ClockUncertainty: time.Duration(unc), Lost: p.lost.Load()}
		s.InFlight = s.Issued - s.Completed
		if st := r.startedAt.Load(); st != 0 && now > st {
			el := now - st
			s.QPS = float64(s.Completed) / (float64(el) / 1e9)
		}
		out[i] = s
	}
	return out
}

// Decorate adds every worker's live counters to a snapshot (the fleet
// table of the dashboard and `inferbench watch`); bench calls it for each
// snapshot it publishes.
func (r *Run) Decorate(s *metrics.Snapshot) {
	stats := r.Stats()
	s.Fleet = make([]metrics.FleetWorker, len(stats))
	for i, w := range stats {
		s.Fleet[i] = metrics.FleetWorker{Name: w.Name, Issued: w.Issued, Completed: w.Completed, Failed: w.Failed,
			InFlight: w.InFlight, QPS: w.QPS, LatenessP99NS: int64(w.LatenessP99), Lost: w.Lost,
			ClockOffsetNS: int64(w.ClockOffset), ClockUncertaintyNS: int64(w.ClockUncertainty)}
	}
}
