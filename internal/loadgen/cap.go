package loadgen

import (
	"context"
	"sync"

	"github.com/inferbench/inferbench/internal/event"
)

// The concurrency cap (Config.MaxConcurrency) of an open-loop schedule.
//
// The schedule keeps its intended times; the cap only decides when a
// released request is sent. At its intended time the scheduler releases a
// request: if a slot is free (and nobody waits), it is sent at once;
// otherwise it joins a FIFO queue and is sent by the completion that frees
// the next slot. Three instants per request, on the event clock:
//
//	intended   the schedule's time (sample.issued scheduled_ns)
//	release    when the scheduler got to it (released_ns)
//	send       when it was sent (the sample.issued timestamp)
//
// lateness = release − intended is the scheduler's own delay, so the
// load-delivered check keeps its meaning; queue wait = send − release is
// the wait for a slot (0 when one was free), recorded as its own series;
// TTFT and latency run from the send, so the wait is never inside them; and
// intended + lateness + queue wait = send exactly. A request sent at once
// has release = send.
//
// Queued requests are all sent in order as slots free up, also after the
// schedule ended (so a run with --duration may last longer: the queue wait
// shows why). Stop drops the queue: its requests are never sent or counted.

// capQueue holds the free slots and the released requests waiting for one.
// It is safe for concurrent use.
type capQueue struct {
	mu    sync.Mutex
	free  int
	queue []capped // FIFO; head at queue[0]
}

// capped is a released request waiting for a slot.
type capped struct {
	idx                int
	scheduled, release int64
}

// runCapped is runTimed, or runReplay, under the concurrency cap.
func (s *Session) runCapped(ctx context.Context, wg *sync.WaitGroup, tracked bool, lim *phaseLimits, start int64) {
	q := &capQueue{free: s.cfg.MaxConcurrency}
	var done func()
	// done frees the slot of a finished request, or hands it to the head of
	// the queue, which is then sent on this goroutine (issue returns at
	// once: the request runs on its own goroutine).
	done = func() {
		defer wg.Done()
		q.mu.Lock()
		if len(q.queue) == 0 || s.stopped() {
			q.free++
			dropped := len(q.queue)
			q.queue = q.queue[:0]
			q.mu.Unlock()
			for range dropped {
				wg.Done()
			}
			return
		}
		next := q.queue[0]
		q.queue = q.queue[1:]
		q.mu.Unlock()
		s.issueAt(ctx, next.idx, tracked, next.scheduled, next.release, done)
	}
	next := s.arrivals(start)
	for i := 0; ; i++ {
		at, idx, ok := next(i)
		if !ok || lim.done(i, at) || !waitUntil(at, s.stop) {
			break
		}
		wg.Add(1)
		q.mu.Lock()
		if q.free > 0 && len(q.queue) == 0 {
			q.free--
			q.mu.Unlock()
			s.issueAt(ctx, idx, tracked, at, releaseAtSend, done)
			continue
		}
		q.queue = append(q.queue, capped{idx: idx, scheduled: at, release: event.Now()})
		q.mu.Unlock()
	}
	if s.stopped() {
		q.mu.Lock()
		dropped := len(q.queue)
		q.queue = q.queue[:0]
		q.mu.Unlock()
		for range dropped {
			wg.Done()
		}
	}
}
