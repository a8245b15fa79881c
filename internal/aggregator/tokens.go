package aggregator

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

type jobKind uint8

const (
	jobISL jobKind = iota
	jobOSL
	jobTPOT
	jobTurnISL // a turn's part of its conversation's ISL (turnisl.go)
)

type tokenJob struct {
	kind     jobKind
	text     string
	decodeNS int64 // TPOT: complete − recv_first
	usage    int64 // OSL: the server's completion_tokens, 0 when none
	good     *goodPending
	text2    string   // jobTurnISL: the previous turn's reply, counted with text
	conv     *turnISL // jobTurnISL
	turn     int32    // jobTurnISL
}

// tokenBatch is how many counts a worker records under one acquisition of the
// aggregator's lock.
const tokenBatch = 256

// tokenPool counts tokens on worker goroutines, off the event path. Its queue
// is unbounded so that submitting (under the aggregator's lock) never waits
// for a worker that itself waits for that lock.
type tokenPool struct {
	a   *Aggregator
	tok TokenCounter

	mu      sync.Mutex
	cond    sync.Cond
	queue   []tokenJob
	stopped bool

	pending  atomic.Int64 // submitted and not yet recorded
	progress chan struct{}
}

func newTokenPool(a *Aggregator, tok TokenCounter, workers int) *tokenPool {
	p := &tokenPool{a: a, tok: tok, progress: make(chan struct{}, 1)}
	p.cond.L = &p.mu
	for range workers {
		go p.work()
	}
	return p
}

func (p *tokenPool) submit(j tokenJob) {
	p.pending.Add(1)
	p.mu.Lock()
	p.queue = append(p.queue, j)
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *tokenPool) work() {
	var jobs []tokenJob
	var counts []int
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.stopped {
			p.cond.Wait()
		}
		if p.stopped {
			p.mu.Unlock()
			return
		}
		n := min(len(p.queue), tokenBatch)
		jobs = append(jobs[:0], p.queue[:n]...)
		p.queue = p.queue[n:]
		p.mu.Unlock()

		counts = counts[:0]
		for _, j := range jobs {
			c := p.tok.Count(j.text)
			if j.text2 != "" {
				c += p.tok.Count(j.text2)
			}
			counts = append(counts, c)
		}
		a := p.a
		a.mu.Lock()
		if !a.state.Terminal() {
			for i, j := range jobs {
				c := int64(counts[i])
				switch j.kind {
				case jobISL:
					a.isl.Record(c)
				case jobTurnISL:
					a.turnISLCounted(j.conv, j.turn, c)
				case jobOSL:
					a.osl.Record(c)
					if j.usage > 0 {
						a.oslCompared.Add(1)
						if c != j.usage {
							a.oslMismatched.Add(1)
						}
						a.oslRelDiffSum.AddFloat(math.Abs(float64(c-j.usage)) / float64(j.usage))
					}
					if j.good != nil {
						j.good.osl = c
						a.recorded(j.good)
					}
				case jobTPOT:
					if c > 0 {
						a.tpot.RecordFloat(float64(j.decodeNS) / float64(c))
					}
					if j.good != nil {
						if c > 0 {
							j.good.tpot = float64(j.decodeNS) / float64(c)
						}
						a.recorded(j.good)
					}
				}
			}
		}
		a.mu.Unlock()
		p.pending.Add(-int64(len(jobs)))
		select {
		case p.progress <- struct{}{}:
		default:
		}
	}
}

// wait blocks until nothing is pending, the timeout passes, ctx ends or hurry
// closes, and returns the number still pending.
func (p *tokenPool) wait(ctx context.Context, hurry <-chan struct{}, timeout time.Duration) int64 {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if n := p.pending.Load(); n == 0 {
			return 0
		}
		select {
		case <-p.progress:
		case <-deadline.C:
			return p.pending.Load()
		case <-ctx.Done():
			return p.pending.Load()
		case <-hurry:
			return p.pending.Load()
		}
	}
}

// stop ends the workers; counts in progress are discarded once the session
// is terminal.
func (p *tokenPool) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.cond.Broadcast()
}
