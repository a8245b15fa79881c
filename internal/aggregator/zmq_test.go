package aggregator_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
)

// zmqPair is a snapshot publisher on a real ipc socket and a subscriber
// reading it on another goroutine.
func zmqPair(t *testing.T) (*bus.ZMQPublisher[metrics.Snapshot], <-chan metrics.Snapshot) {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "iba")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	addr := "ipc://" + filepath.Join(dir, "m.sock")
	opts := bus.SnapshotPublisherOptions()
	opts.Linger = time.Second
	pub, err := bus.NewZMQPublisher[metrics.Snapshot](addr, metrics.SnapshotCodec{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	sub, err := bus.NewZMQSubscriber[metrics.Snapshot](addr, metrics.SnapshotCodec{}, bus.ZMQSubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	if err := pub.WaitSubscribers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	out := make(chan metrics.Snapshot, 1024)
	go func() {
		defer close(out)
		for {
			batch, err := sub.Next(ctx)
			if err != nil {
				return
			}
			for _, s := range batch {
				out <- s
				if s.State.Terminal() {
					return
				}
			}
		}
	}()
	t.Cleanup(func() { cancel(); sub.Close() })
	return pub, out
}

func terminalFrame(t *testing.T, frames <-chan metrics.Snapshot) metrics.Snapshot {
	t.Helper()
	var last metrics.Snapshot
	for s := range frames {
		last = s
	}
	if !last.State.Terminal() {
		t.Fatalf("no terminal frame; last state %q", last.State)
	}
	return last
}

// TestAggregator_ZMQFinalPaths checks over a real ZeroMQ ipc socket that the
// two final paths are independent: an unwritable directory still publishes
// the terminal frame and leaves no temporary file; a publisher that fails
// still gets the file written.
func TestAggregator_ZMQFinalPaths(t *testing.T) {
	start := []event.Record{ev(event.SessionStarted, event.Now(), "", nil), ev(event.SessionStartTracking, event.Now(), "", nil)}
	t.Run("unwritable directory", func(t *testing.T) {
		pub, frames := zmqPair(t)
		dir := t.TempDir()
		parent := filepath.Join(dir, "file")
		if err := os.WriteFile(parent, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		a := newAgg(t, aggregator.Config{PublishInterval: 20 * time.Millisecond, FinalPath: filepath.Join(parent, rundir.FinalFile)}, pub)
		a.Process(start)
		time.Sleep(100 * time.Millisecond)
		if _, err := a.Finalize(metrics.StateComplete); err == nil {
			t.Error("no error for the unwritable path")
		}
		if s := terminalFrame(t, frames); s.State != metrics.StateComplete {
			t.Errorf("terminal frame %s", s.State)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("files left: %v", entries)
		}
	})
	t.Run("failing publish", func(t *testing.T) {
		pub, _ := zmqPair(t)
		path := filepath.Join(t.TempDir(), rundir.FinalFile)
		a := newAgg(t, aggregator.Config{FinalPath: path}, pub)
		a.Process(start)
		pub.Close() // every publish now fails
		if _, err := a.Finalize(metrics.StateComplete); err == nil {
			t.Error("no error for the failing publish")
		}
		if s := readFinal(t, path); s.State != metrics.StateComplete {
			t.Errorf("file state %s", s.State)
		}
	})
}
