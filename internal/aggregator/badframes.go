package aggregator

import "github.com/inferbench/inferbench/internal/metrics"

// CountBadFrame counts one skipped frame of the event stream
// (metrics.BadFrames, registered at the first one); it is meant as a
// subscriber's OnBadFrame. A bad frame is not a sample: it moves no sample
// counter, failed or otherwise. CountBadFrame is safe for concurrent use.
func (a *Aggregator) CountBadFrame() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.badFrames == nil {
		c, err := a.reg.NewCounter(metrics.BadFrames, false)
		if err != nil {
			a.log.Error("cannot count bad frames", "err", err)
			return
		}
		a.badFrames = c
	}
	a.badFrames.Add(1)
}
