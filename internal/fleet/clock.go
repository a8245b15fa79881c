package fleet

import "sync"

// clockWindow is how many recent exchanges the offset estimate keeps; the
// one with the smallest round trip wins.
const clockWindow = 16

// clock estimates a worker's clock offset from NTP-style exchanges: the
// coordinator sends t1, the worker stamps its receive t2 and send t3, the
// coordinator receives at t4. The offset (worker − coordinator) is
// ((t2−t1)+(t3−t4))/2 and its error is at most the round trip
// (t4−t1)−(t3−t2) over two; the exchange with the smallest round trip of
// the recent ones gives the estimate. It is safe for concurrent use.
type clock struct {
	mu      sync.Mutex
	samples [clockWindow]clockSample
	n, next int
	worst   int64 // the largest uncertainty of an estimate used so far
}

type clockSample struct{ offset, rtt int64 }

// add records one exchange.
func (c *clock) add(t1, t2, t3, t4 int64) {
	rtt := (t4 - t1) - (t3 - t2)
	if rtt < 0 {
		rtt = 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.samples[c.next] = clockSample{offset: ((t2 - t1) + (t3 - t4)) / 2, rtt: rtt}
	c.next = (c.next + 1) % clockWindow
	c.n = min(c.n+1, clockWindow)
}

// estimate returns the offset (worker − coordinator) and its uncertainty
// (round trip / 2) of the best recent exchange; ok is false before any.
func (c *clock) estimate() (offset, uncertainty int64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		return 0, 0, false
	}
	best := c.samples[0]
	for _, s := range c.samples[1:c.n] {
		if s.rtt < best.rtt {
			best = s
		}
	}
	return best.offset, best.rtt / 2, true
}

// use returns the estimate for placing events on the coordinator's
// timeline and remembers its uncertainty for the report.
func (c *clock) use() int64 {
	off, unc, _ := c.estimate()
	c.mu.Lock()
	c.worst = max(c.worst, unc)
	c.mu.Unlock()
	return off
}

// worstUncertainty is the largest uncertainty of an estimate used.
func (c *clock) worstUncertainty() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.worst
}

// count is how many exchanges were recorded (at most the window).
func (c *clock) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
