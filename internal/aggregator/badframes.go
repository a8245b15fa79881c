package aggregator

// BadFrames counts the frames of the event stream that were skipped because
// they could not be decoded (see bus.ZMQSubscriber). It is registered at the
// first bad frame, so the snapshot of a clean stream does not carry it.
const BadFrames = "bad_frames"

// CountBadFrame counts one skipped frame of the event stream; it is meant as
// a subscriber's OnBadFrame. A bad frame is not a sample: it moves no sample
// counter, failed or otherwise. CountBadFrame is safe for concurrent use.
func (a *Aggregator) CountBadFrame() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.badFrames == nil {
		c, err := a.reg.NewCounter(BadFrames, false)
		if err != nil {
			a.log.Error("cannot count bad frames", "err", err)
			return
		}
		a.badFrames = c
	}
	a.badFrames.Add(1)
}
