package fleet

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/inferbench/inferbench/internal/event"
)

// TestCoordinator_HoldsFrames: while a worker's ingest channel is full
// (nothing drains it: the consumer stalls), the coordinator holds the
// frame it read, reads no more, and for 2.5 times its timeout goes on
// sending heartbeats and pings; it declares nobody lost. Once the channel
// drains it reads again, and the pongs that waited in its queue meanwhile
// are not clock samples: every exchange in the clock's window has a
// loopback round trip, none the stall's; nor is the time it did not read
// any worker's silence.
func TestCoordinator_HoldsFrames(t *testing.T) {
	const timeout = time.Second
	c, err := Listen(Options{Listen: "tcp://127.0.0.1:0", Size: 1, Timeout: timeout,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	zctx, err := zmq.NewContext()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = zctx.Term() }()
	w := newFakeWorker(t, zctx, c.Endpoint(), "w")
	defer func() { _ = w.ev.Close() }()
	if err := c.Wait(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.running = true
	p := c.peers[0]
	c.mu.Unlock()
	// Closing the channel at the end frees the loop of a held frame.
	defer c.do(func() { c.closeIngest(p) })

	// The worker's control side: it answers pings at once, and notes the
	// longest time without a heartbeat.
	var beatGap atomic.Int64
	quit := make(chan struct{})
	var ctl sync.WaitGroup
	ctl.Go(func() {
		defer func() { _ = w.ctl.Close() }()
		_ = w.ctl.SetRcvtimeo(20 * time.Millisecond)
		last := time.Now()
		for {
			select {
			case <-quit:
				return
			default:
			}
			f, err := w.ctl.RecvBytes(0)
			if err != nil || len(f) == 0 {
				continue
			}
			switch f[0] {
			case kindHeartbeat:
				beatGap.Store(max(beatGap.Load(), int64(time.Since(last))))
				last = time.Now()
				_, _ = w.ctl.SendBytes([]byte{kindHeartbeat, 0x90}, zmq.DONTWAIT)
			case kindPing:
				r := open(f[1:])
				t1 := r.int()
				now := event.Now()
				b := appendInt(appendInt(appendInt(msg(kindPong, 3), t1), now), now)
				_, _ = w.ctl.SendBytes(b, zmq.DONTWAIT)
			}
		}
	})
	defer func() { close(quit); ctl.Wait() }()

	// More frames than the channel holds.
	n := cap(p.ingest) + 8
	for seq := range n {
		f := appendEventHeader(nil, w.index, uint64(seq+1))
		if _, err := w.ev.SendBytes(append(f, 0x90), 0); err != nil {
			t.Fatal(err)
		}
	}
	held := func() bool {
		done := make(chan bool)
		c.do(func() { done <- c.held.p == p })
		return <-done
	}
	deadline := time.Now().Add(10 * time.Second)
	for !held() {
		if time.Now().After(deadline) {
			t.Fatalf("no frame held: %d frames sent, the channel holds %d", n, cap(p.ingest))
		}
		time.Sleep(5 * time.Millisecond)
	}
	beatGap.Store(0)
	time.Sleep(5 * timeout / 2)
	if !held() {
		t.Fatal("the frame is no longer held, yet nothing drained the channel")
	}
	if g := time.Duration(beatGap.Load()); g == 0 || g >= timeout {
		t.Errorf("longest time between heartbeats while holding a frame: %v; want heartbeats all along (well within %v)", g, timeout)
	}
	if p.lost.Load() {
		t.Fatal("the worker was declared lost while the coordinator did not read it")
	}

	// Drain: the loop reads again, every frame arrives, the waiting pongs
	// are read, and fresh exchanges follow.
	var got atomic.Int64
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range p.ingest {
			got.Add(1)
		}
	}()
	deadline = time.Now().Add(10 * time.Second)
	for got.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got.Load() != int64(n) {
		t.Fatalf("%d frames ingested of %d", got.Load(), n)
	}
	time.Sleep(4 * pingPeriod)
	if p.lost.Load() {
		t.Error("the worker was declared lost after the coordinator read again: the time it did not read counted as silence")
	}
	p.clock.mu.Lock()
	var worst int64
	for _, s := range p.clock.samples[:p.clock.n] {
		worst = max(worst, s.rtt)
	}
	nSamples := p.clock.n
	p.clock.mu.Unlock()
	if nSamples == 0 || time.Duration(worst) > timeout/4 {
		t.Errorf("clock window: %d exchanges, longest round trip %v; want loopback round trips, not the %v the coordinator did not read",
			nSamples, time.Duration(worst), 5*timeout/2)
	}

	// The bookkeeping alone, on the loop (deterministic, where the above
	// depends on which queued message the loop reads first): a worker
	// whose last message came just before a stretch of 2.5 timeouts
	// without reading is not silent once the loop reads again.
	lost := make(chan bool)
	c.do(func() {
		now := event.Now()
		c.deafSince = now - int64(5*timeout/2)
		p.lastSeen.Store(c.deafSince)
		c.hear(now)
		c.beat(false)
		lost <- p.lost.Load()
	})
	if <-lost {
		t.Error("a worker was declared lost for the time the coordinator did not read")
	}
	c.do(func() { c.closeIngest(p) })
	<-drained
}
