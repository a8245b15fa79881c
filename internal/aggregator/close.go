package aggregator

// Close releases what New started when the aggregator will not be
// finalized (a run that fails between New and Run): the spill writer's
// goroutine and its open raw value files (which are removed, since no
// final snapshot will ever point at them), and the token counting workers.
// After Finalize (or Run) it has nothing left to do. It is idempotent and
// returns the first call's error; call it after Run has returned, or
// instead of Run, not during it.
func (a *Aggregator) Close() error {
	a.closeOnce.Do(func() {
		a.stopTicks()
		if a.tokens != nil {
			a.tokens.stop()
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		// A finalized aggregator closed the spill already (CloseSpill is a
		// no-op then); otherwise the raw files have no snapshot to serve.
		a.closeErr = a.reg.CloseSpill(true)
	})
	return a.closeErr
}
