package bus

import (
	"context"
	"io"
	"slices"
	"sync"
)

// DefaultInProcLimit is how many items a subscriber of an [InProc] bus may
// have waiting before Publish blocks.
const DefaultInProcLimit = 1 << 16

// InProc is the in-process bus: publication order is kept, nothing is dropped,
// and every subscriber sees every item. A subscriber that falls more than its
// limit behind makes Publish block (backpressure) until it catches up.
//
// Items are handed over by value, without serialization. Subscribers receive
// everything published since they subscribed, in batches as large as what has
// accumulated, so a busy consumer amortizes its wake-ups. InProc is safe for
// concurrent use; one mutex orders all publishers, so all subscribers see the
// same order.
type InProc[T any] struct {
	mu     sync.Mutex
	space  sync.Cond // signalled when a subscriber drains its queue
	subs   []*inprocSub[T]
	limit  int
	closed bool
}

var _ Publisher[int] = (*InProc[int])(nil)

type inprocSub[T any] struct {
	bus    *InProc[T]
	buf    []T           // items waiting; guarded by bus.mu
	spare  []T           // the slice last returned by Next
	notify chan struct{} // capacity 1: "buf became non-empty" or "closed"
	closed bool          // guarded by bus.mu
}

// NewInProc returns an in-process bus whose subscribers may fall limit items
// behind before Publish blocks; limit <= 0 means [DefaultInProcLimit].
func NewInProc[T any](limit int) *InProc[T] {
	if limit <= 0 {
		limit = DefaultInProcLimit
	}
	b := &InProc[T]{limit: limit}
	b.space.L = &b.mu
	return b
}

// Subscribe adds a subscriber that receives every item published from now on.
func (b *InProc[T]) Subscribe() Subscriber[T] {
	s := &inprocSub[T]{bus: b, notify: make(chan struct{}, 1)}
	b.mu.Lock()
	b.subs = append(b.subs, s)
	if b.closed {
		s.wake()
	}
	b.mu.Unlock()
	return s
}

// Publish appends item to every subscriber's queue, blocking while one of them
// is full.
func (b *InProc[T]) Publish(item T) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	// Wait until every subscriber has room before appending to any, so that
	// concurrent publishers land in the same order in every queue.
	for b.full() {
		b.space.Wait()
	}
	for _, s := range b.subs {
		if s.closed {
			continue
		}
		s.buf = append(s.buf, item)
		if len(s.buf) == 1 {
			s.wake()
		}
	}
	b.mu.Unlock()
	return nil
}

// PublishBatch appends items in order under one lock acquisition.
func (b *InProc[T]) PublishBatch(items []T) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	for b.full() {
		b.space.Wait()
	}
	for _, s := range b.subs {
		if s.closed {
			continue
		}
		was := len(s.buf)
		s.buf = append(s.buf, items...)
		if was == 0 && len(s.buf) > 0 {
			s.wake()
		}
	}
	return nil
}

// full reports whether a live subscriber has no room; callers hold b.mu.
func (b *InProc[T]) full() bool {
	if b.closed {
		return false
	}
	for _, s := range b.subs {
		if !s.closed && len(s.buf) >= b.limit {
			return true
		}
	}
	return false
}

// Flush is a no-op: items are visible to subscribers as soon as Publish returns.
func (b *InProc[T]) Flush() error { return nil }

// Close ends the stream: subscribers receive what is queued, then io.EOF.
func (b *InProc[T]) Close() error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		for _, s := range b.subs {
			s.wake()
		}
		b.space.Broadcast()
	}
	b.mu.Unlock()
	return nil
}

func (s *inprocSub[T]) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *inprocSub[T]) Next(ctx context.Context) ([]T, error) {
	b := s.bus
	for {
		b.mu.Lock()
		if s.closed {
			b.mu.Unlock()
			return nil, ErrClosed
		}
		if len(s.buf) > 0 {
			out := s.buf
			clear(s.spare) // drop references the caller no longer needs
			s.buf = s.spare[:0]
			s.spare = out
			b.space.Broadcast()
			b.mu.Unlock()
			return out, nil
		}
		if b.closed {
			b.mu.Unlock()
			return nil, io.EOF
		}
		b.mu.Unlock()
		select {
		case <-s.notify:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *inprocSub[T]) Close() error {
	b := s.bus
	b.mu.Lock()
	if !s.closed {
		s.closed = true
		s.buf = nil
		// Forget the subscriber, so that a long-lived bus with subscribers
		// coming and going does not keep (and scan) every closed one.
		for i, o := range b.subs {
			if o == s {
				b.subs = slices.Delete(b.subs, i, i+1)
				break
			}
		}
		s.wake()
		b.space.Broadcast()
	}
	b.mu.Unlock()
	return nil
}
