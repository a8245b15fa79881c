package bus_test

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inferbench/inferbench/internal/bus"
)

type tagged struct{ Pub, Seq int }

func TestInProc_ConcurrentPublishersFanOut(t *testing.T) {
	const pubs, per = 4, 5_000
	b := bus.NewInProc[tagged](64) // small limit: publishers block often
	subs := []bus.Subscriber[tagged]{b.Subscribe(), b.Subscribe(), b.Subscribe()}
	got := make([][]tagged, len(subs))
	var readers sync.WaitGroup
	for i, s := range subs {
		readers.Go(func() {
			for {
				items, err := s.Next(context.Background())
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = append(got[i], items...)
			}
		})
	}
	var writers sync.WaitGroup
	for p := range pubs {
		writers.Go(func() {
			for seq := range per {
				if err := b.Publish(tagged{p, seq}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	writers.Wait()
	must(t, b.Close())
	readers.Wait()

	for i := range got {
		if len(got[i]) != pubs*per {
			t.Fatalf("subscriber %d received %d items, want %d", i, len(got[i]), pubs*per)
		}
		next := make([]int, pubs)
		for _, it := range got[i] {
			if it.Seq != next[it.Pub] {
				t.Fatalf("subscriber %d: publisher %d item %d arrived when %d was due", i, it.Pub, it.Seq, next[it.Pub])
			}
			next[it.Pub]++
		}
		if diff := cmp.Diff(got[0], got[i]); diff != "" {
			t.Fatalf("subscribers 0 and %d saw different orders", i)
		}
	}
}

func TestInProc_Backpressure(t *testing.T) {
	const limit, n = 4, 20
	b := bus.NewInProc[int](limit)
	sub := b.Subscribe()
	var published atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if err := b.Publish(i); err != nil {
				done <- err
				return
			}
			published.Add(1)
		}
		done <- nil
	}()
	deadline := time.Now().Add(5 * time.Second)
	for published.Load() < limit && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // would the publisher get past the limit?
	if p := published.Load(); p != limit {
		t.Fatalf("%d items published to a subscriber that reads nothing, want the limit %d", p, limit)
	}
	got := collect(t, sub, n, 5*time.Second)
	must(t, <-done)
	for i, v := range got {
		if v != i {
			t.Fatalf("item %d = %d", i, v)
		}
	}
}

func TestInProc_CloseDrainsThenEOF(t *testing.T) {
	b := bus.NewInProc[int](0)
	sub := b.Subscribe()
	must(t, b.PublishBatch([]int{1, 2}))
	must(t, b.Publish(3))
	must(t, b.Close())
	must(t, b.Close())
	if err := b.Publish(4); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := b.PublishBatch([]int{4}); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("PublishBatch after Close = %v, want ErrClosed", err)
	}
	items, err := sub.Next(context.Background())
	if err != nil || !cmp.Equal(items, []int{1, 2, 3}) {
		t.Fatalf("Next = %v, %v; want [1 2 3]", items, err)
	}
	if _, err := sub.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("Next after drain = %v, want io.EOF", err)
	}
	late := b.Subscribe()
	if _, err := late.Next(context.Background()); !errors.Is(err, io.EOF) {
		t.Fatalf("Next on a subscriber added after Close = %v, want io.EOF", err)
	}
}

func TestInProc_SubscriberClose(t *testing.T) {
	b := bus.NewInProc[int](2)
	stays, leaves := b.Subscribe(), b.Subscribe()
	must(t, b.Publish(1))
	must(t, b.Publish(2)) // both subscribers are full

	// The publisher blocks until stays drains; leaves never reads, and once
	// closed it must not hold the publisher any longer.
	pubDone := make(chan error, 1)
	go func() { pubDone <- b.PublishBatch([]int{3, 4}) }()
	time.Sleep(20 * time.Millisecond)
	must(t, leaves.Close())
	must(t, leaves.Close())
	if _, err := leaves.Next(context.Background()); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Next on a closed subscriber = %v, want ErrClosed", err)
	}
	got := collect(t, stays, 4, 5*time.Second)
	must(t, <-pubDone)
	if !cmp.Equal(got, []int{1, 2, 3, 4}) {
		t.Fatalf("remaining subscriber got %v", got)
	}

	// Close ends a Next that is waiting, and a deadline ends it too.
	waiter := b.Subscribe()
	errc := make(chan error, 1)
	go func() {
		_, err := waiter.Next(context.Background())
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	must(t, waiter.Close())
	select {
	case err := <-errc:
		if !errors.Is(err, bus.ErrClosed) {
			t.Fatalf("waiting Next after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting Next did not return after Close")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := stays.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with nothing published = %v, want DeadlineExceeded", err)
	}
}
