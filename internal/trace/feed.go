package trace

import (
	"sync"

	"github.com/inferbench/inferbench/internal/dataset"
)

// DefaultAhead is how many prompt tokens a [Feed] keeps built ahead of the
// replay (about 180 MB of text): every prompt of most traces, minutes of
// the largest at their recorded rate.
const DefaultAhead = 32 << 20

// minAhead is the fewest prompts a Feed builds ahead, however long they are.
const minAhead = 64

// Feed hands a replay its samples with their prompts, built by a goroutine
// ahead of use and dropped once sent: a trace of any length replays in
// bounded memory, and the replay's scheduler only receives a finished
// sample when a request is due. [Feed.Wait] lets the first ones be built
// before the replay starts. Samples asked for in order (0, 1,
// 2, …) come from the goroutine; any other (a warmup's) is built by the
// caller. A Feed is safe for concurrent use; Close it when the replay ends.
type Feed struct {
	syn *Synthesizer
	tr  *Trace
	ds  *dataset.Dataset

	mu     sync.Mutex
	next   int
	ch     chan dataset.Sample
	stop   chan struct{}
	once   sync.Once
	done   chan struct{}
	filled chan struct{} // closed when the buffer is full or all are built
}

// Feed starts building the prompts of t, in replay order, about
// aheadTokens (0: DefaultAhead) before the one asked for next, counted in
// prompts of the trace's mean input length, at least minAhead. ds is t's
// sample list from [Synthesizer.Samples].
func (s *Synthesizer) Feed(t *Trace, ds *dataset.Dataset, aheadTokens int) *Feed {
	if aheadTokens <= 0 {
		aheadTokens = DefaultAhead
	}
	total := 1
	for _, r := range t.Requests {
		total += r.InputLen
	}
	mean := max(total/max(len(t.Requests), 1), 1)
	ahead := min(max(aheadTokens/mean, minAhead), len(t.Requests))
	f := &Feed{syn: s, tr: t, ds: ds, ch: make(chan dataset.Sample, ahead),
		stop: make(chan struct{}), done: make(chan struct{}), filled: make(chan struct{})}
	go func() {
		defer close(f.done)
		var fill sync.Once
		defer fill.Do(func() { close(f.filled) })
		for i := range t.Requests {
			select {
			case f.ch <- f.build(i):
			case <-f.stop:
				return
			}
			if len(f.ch) == cap(f.ch) {
				fill.Do(func() { close(f.filled) })
			}
		}
	}()
	return f
}

// Wait blocks until the buffer is first full (every prompt of a trace that
// fits in it), so that a replay starts with its prompts ready.
func (f *Feed) Wait() { <-f.filled }

func (f *Feed) build(i int) dataset.Sample {
	smp := f.ds.Samples[i]
	if smp.Prompt == "" {
		smp.Prompt = f.syn.Prompt(&f.tr.Requests[i], i)
	}
	return smp
}

// Sample returns sample i with its prompt.
func (f *Feed) Sample(i int) dataset.Sample {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i != f.next || i >= len(f.tr.Requests) {
		return f.build(i)
	}
	f.next++
	select {
	case smp := <-f.ch:
		return smp
	case <-f.done:
		// Closed: the goroutine may have stopped before building it.
		select {
		case smp := <-f.ch:
			return smp
		default:
			return f.build(i)
		}
	}
}

// Close stops the goroutine and waits for it; it returns true the first time.
func (f *Feed) Close() bool {
	first := false
	f.once.Do(func() { close(f.stop); first = true })
	<-f.done
	return first
}
