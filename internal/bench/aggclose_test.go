package bench_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/mockserver"
)

// TestRun_FailedRunReleasesAggregator: a run that fails after its
// aggregator was built (here: no event subscriber turns up before the
// context ends) leaves no spill writer or token worker running.
func TestRun_FailedRunReleasesAggregator(t *testing.T) {
	const spiller, workers = "metrics.(*spiller).run", "aggregator.(*tokenPool).work"
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4})
	cfg := baseConfig(t, url)
	cfg.Metrics.EventsAddr = "tcp://127.0.0.1:0"
	cfg.Metrics.EventsSubscribers = 1
	r, err := bench.New(cfg, synthetic(t, 4), wordCount{}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if out, err := r.Run(ctx); err == nil {
		t.Fatalf("Run succeeded (%+v) without the event subscriber it waits for", out)
	}
	for _, fn := range []string{spiller, workers} {
		deadline := time.Now().Add(10 * time.Second)
		for stacksIn(fn) > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := stacksIn(fn); n > 0 {
			t.Errorf("%d goroutines still in %s after the failed run", n, fn)
		}
	}
}

// wordCount counts whitespace-separated words: a tokenizer for tests.
type wordCount struct{}

func (wordCount) Count(s string) int { return len(strings.Fields(s)) }

// stacksIn counts the goroutines whose stack holds fn.
func stacksIn(fn string) int {
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
