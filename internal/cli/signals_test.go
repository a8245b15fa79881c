package cli

import (
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

type fakeStopper struct {
	mu           sync.Mutex
	stops, abort int
}

func (f *fakeStopper) Stop() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops++
	return f.stops == 1
}

func (f *fakeStopper) Abort() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.abort++
}

func (f *fakeStopper) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stops, f.abort
}

// TestRelaySignals checks that the first signal stops, the second aborts,
// and that the relaying goroutine has ended when its stop function returns:
// a signal sent afterwards is read by no one.
func TestRelaySignals(t *testing.T) {
	sigs := make(chan os.Signal, 2)
	var r fakeStopper
	var out lockedBuffer
	stop := relaySignals(sigs, &r, &out)
	sigs <- syscall.SIGINT
	sigs <- syscall.SIGINT
	deadline := time.Now().Add(10 * time.Second)
	for s, a := r.counts(); s != 2 || a != 1; s, a = r.counts() {
		if time.Now().After(deadline) {
			t.Fatalf("after two signals: %d stops, %d aborts; want 2 and 1", s, a)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if msg := string(out.Bytes()); !strings.Contains(msg, "stopping:") || !strings.Contains(msg, "stopping now") {
		t.Errorf("messages %q", msg)
	}
	ended := make(chan struct{})
	go func() { stop(); close(ended) }()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the relaying goroutine did not end")
	}
	sigs <- syscall.SIGTERM
	if len(sigs) != 1 {
		t.Error("a signal was read after the relay stopped")
	}
	if s, a := r.counts(); s != 2 || a != 1 {
		t.Errorf("after stop: %d stops, %d aborts", s, a)
	}
}
