package aggregator

import (
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
)

// capped records the timing of a tracked sample that went through a
// concurrency cap (--max-concurrency), issued (sent) at ts: the scheduler's
// lateness is release − intended, and the wait for a free slot, send −
// release, is a series of its own, so that neither hides in the other and
// intended + lateness + queue wait = send. The cap's series and counter are
// registered at the first such sample: runs without a cap do not carry them.
//
// The achieved issue rate (tracked_issue_duration_ns) runs to the last
// release, not the last send: it judges the scheduler, as lateness does; a
// cap that holds requests back shows in the queue wait instead.
func (a *Aggregator) capped(p *event.PromptData, ts int64, b *block) {
	b.lastRelease = max(b.lastRelease, p.ReleasedNS)
	b.lastIssue = b.lastRelease
	if a.queueWait == nil {
		if !a.registerQueue() {
			return
		}
	}
	if p.ScheduledNS != 0 {
		a.lateness.Record(max(p.ReleasedNS-p.ScheduledNS, 0))
	}
	wait := max(ts-p.ReleasedNS, 0)
	a.queueWait.Record(wait)
	if wait > 0 {
		a.queued.Add(1)
	}
}

// registerQueue registers the cap's counter and series; false (logged once,
// as the registry refuses the same name twice) when it cannot.
func (a *Aggregator) registerQueue() bool {
	d, err := describe(metrics.SeriesQueueWait, metrics.KindSeries)
	if err != nil {
		a.log.Error("cannot record queue waits", "err", err)
		return false
	}
	o := d.SeriesOpts()
	o.SigFigs, o.Buckets = a.cfg.SigFigs, a.cfg.Buckets
	o.ZeroOK = true // a request that found a free slot waited 0
	c, err := a.reg.NewCounter(metrics.TrackedQueued, false)
	if err != nil {
		a.log.Error("cannot count queued samples", "err", err)
		return false
	}
	s, err := a.reg.NewSeries(metrics.SeriesQueueWait, o)
	if err != nil {
		a.log.Error("cannot record queue waits", "err", err)
		return false
	}
	a.queued, a.queueWait = c, s
	return true
}
