package aggregator_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/metrics"
)

// goroutinesIn counts the goroutines whose stack holds fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			n++
		}
	}
	return n
}

// openFilesUnder counts this process's open file descriptors on files in dir.
func openFilesUnder(t *testing.T, dir string) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list open files: %v", err)
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, dir+"/") {
			n++
		}
	}
	return n
}

// waitGone polls until no goroutine runs fn (a stopped goroutine needs a
// moment to be scheduled and return); it fails after a generous deadline.
func waitGone(t *testing.T, fn string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for goroutinesIn(fn) > 0 {
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines still in %s", goroutinesIn(fn), fn)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAggregator_Close: an aggregator that is never finalized (its run
// failed after New) releases on Close the spill writer (its goroutine and
// its open raw files, which are removed) and the token workers; a second
// Close is a no-op, and Close after Finalize leaves the final state alone.
func TestAggregator_Close(t *testing.T) {
	const spiller, workers = "metrics.(*spiller).run", "aggregator.(*tokenPool).work"
	t.Run("never finalized", func(t *testing.T) {
		raw := filepath.Join(t.TempDir(), "raw")
		a, err := aggregator.New(aggregator.Config{Streaming: true, RawDir: raw, SpillBlock: 1, Tokenizer: wordCounter{}, TokenWorkers: 2}, nil)
		if err != nil {
			t.Fatal(err)
		}
		evs := streamedRun(20, 3)
		a.Process(evs[:len(evs)-1]) // no session.ended: the run failed
		if goroutinesIn(spiller) == 0 || goroutinesIn(workers) == 0 {
			t.Fatalf("no spill writer or token workers running before Close (%d, %d)", goroutinesIn(spiller), goroutinesIn(workers))
		}
		if openFilesUnder(t, raw) == 0 {
			t.Fatal("no raw value file open before Close")
		}
		if err := a.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		waitGone(t, spiller)
		waitGone(t, workers)
		if n := openFilesUnder(t, raw); n != 0 {
			t.Errorf("%d raw value files still open after Close", n)
		}
		if left, _ := filepath.Glob(filepath.Join(raw, "*")); len(left) != 0 {
			t.Errorf("raw value files left behind: %v", left)
		}
		if err := a.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
	t.Run("after finalize", func(t *testing.T) {
		dir := t.TempDir()
		raw := filepath.Join(dir, "raw")
		cfg := aggregator.Config{Streaming: true, RawDir: raw, SpillBlock: 1, KeepRaw: true, FinalPath: filepath.Join(dir, "final.json")}
		a, err := aggregator.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		a.Process(streamedRun(5, 3))
		if _, err := a.Finalize(metrics.StateComplete); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatalf("Close after Finalize: %v", err)
		}
		waitGone(t, spiller)
		if kept, _ := filepath.Glob(filepath.Join(raw, "*")); len(kept) == 0 {
			t.Error("Close removed the raw files a finalized run kept (KeepRaw)")
		}
	})
}
