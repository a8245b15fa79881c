package fleet_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/fleet"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/mockserver/mocktest"
	"github.com/inferbench/inferbench/internal/rundir"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startMock(t *testing.T, cfg mockserver.Config) string {
	t.Helper()
	url, _ := mocktest.Start(t, cfg)
	return url
}

// runConfig is a run against the mock at url with synthetic prompts.
func runConfig(t *testing.T, url string, mutate func(*config.Run)) config.Run {
	t.Helper()
	cfg := config.Default()
	cfg.Endpoint.Endpoint = url
	cfg.Endpoint.Model = mockserver.DefaultModel
	cfg.Dataset.Synthetic = &config.Synthetic{N: 40, Input: "32", Output: "16", Seed: 1}
	cfg.Load.Mode = "offline"
	cfg.Load.NumSamples = 90
	cfg.ReportDir = filepath.Join(t.TempDir(), "run")
	cfg.Metrics.PublishInterval = 50 * time.Millisecond
	cfg.EventLog = "full"
	if mutate != nil {
		mutate(&cfg)
	}
	if cfg.Load.MaxTokens == 0 {
		cfg.Load.MaxTokens = cfg.Endpoint.MaxTokens
	}
	if err := bench.Validate(&cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startWorkers runs n in-process workers (one run each) against addr.
func startWorkers(t *testing.T, addr string, timeout time.Duration, names ...string) (wait func() []error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			errs[i] = fleet.RunWorker(ctx, fleet.WorkerOptions{Coordinator: addr, Name: name, Once: true,
				Timeout: timeout, Logger: quietLog()})
		})
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
	return func() []error { wg.Wait(); return errs }
}

// startFleet listens for a fleet of len(names) in-process workers, the
// coordinator with coordTimeout, the workers with workerTimeout (their
// --fleet-timeout), starts them and waits until they joined; wait returns
// the workers' errors once they returned. The coordinator closes when the
// test ends, after the workers.
func startFleet(t *testing.T, coordTimeout, workerTimeout time.Duration, names ...string) (c *fleet.Coordinator, wait func() []error) {
	t.Helper()
	c, err := fleet.Listen(fleet.Options{Listen: "tcp://127.0.0.1:0", Size: len(names), Timeout: coordTimeout, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	wait = startWorkers(t, c.Endpoint(), workerTimeout, names...)
	if err := c.Wait(context.Background(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return c, wait
}

// runFleet runs cfg over a fleet of len(names) in-process workers.
func runFleet(t *testing.T, cfg config.Run, names ...string) *bench.Outcome {
	t.Helper()
	c, wait := startFleet(t, 5*time.Second, 5*time.Second, names...)
	var mu sync.Mutex
	var table []metrics.FleetWorker
	out := runBench(t, cfg, func(r *bench.Runner) {
		r.NewSource = func(pub bus.Publisher[event.Record]) (bench.Source, error) {
			return c.Source(r.Config(), r.Dataset(), pub)
		}
		r.OnSnapshot = func(s metrics.Snapshot) {
			mu.Lock()
			table = s.Fleet
			mu.Unlock()
		}
	})
	// The snapshots carry the fleet table; the last one the final counts.
	var issued int64
	for _, w := range table {
		issued += w.Issued
	}
	if len(table) != len(names) || issued != out.Final.CounterInt(metrics.TotalIssued) {
		t.Errorf("last snapshot's fleet table %+v: want %d workers and %d issued in all", table, len(names), out.Final.CounterInt(metrics.TotalIssued))
	}
	for i, err := range wait() {
		if err != nil {
			t.Errorf("worker %s: %v", names[i], err)
		}
	}
	return out
}

func runBench(t *testing.T, cfg config.Run, setup func(*bench.Runner)) *bench.Outcome {
	t.Helper()
	ds, err := bench.LoadDataset(cfg.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	r, err := bench.New(cfg, ds, nil, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(r)
	}
	out, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func counter(t *testing.T, s *metrics.Snapshot, name string) int64 {
	t.Helper()
	if _, ok := s.Find(name); !ok {
		t.Fatalf("no counter %s", name)
	}
	return s.CounterInt(name)
}

// p50 is the median of a series.
func p50(t *testing.T, s *metrics.Snapshot, name string) float64 {
	t.Helper()
	m, ok := s.Find(name)
	if !ok {
		t.Fatalf("no series %s", name)
	}
	v, _ := m.Percentile("50")
	return v
}

// numCmp compares metrics.Num by its JSON form (exact for ints and floats).
var numCmp = cmp.Comparer(func(a, b metrics.Num) bool { return a.String() == b.String() })

// TestFleet_Exactness: the merged report of a fleet is what one aggregator
// makes of the same events. Every event the coordinator received is in the
// full event log; replayed through a fresh aggregator they give the
// coordinator's final snapshot, field by field (exact percentiles too), for
// an offline run with warmup and for a Poisson run under a concurrency cap
// (its queue wait and lateness come from times the workers stamped).
func TestFleet_Exactness(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 2 * time.Millisecond, TPOT: 200 * time.Microsecond, OutputTokens: 8, Jitter: 0.5, Seed: 3})
	for _, tc := range []struct {
		name           string
		mutate         func(*config.Run)
		tracked, total int64
		series         []string // must be present and non-empty
	}{
		{"offline with warmup", func(c *config.Run) {
			c.Load.WarmupSamples = 7
			c.Load.NumSamples = 301
			c.Load.MaxInFlight = 16
		}, 301, 308, nil},
		{"capped poisson", func(c *config.Run) {
			c.Load.Mode = "poisson"
			c.Load.TargetQPS = 600
			c.Load.MaxConcurrency = 3
			c.Load.NumSamples = 200
		}, 200, 200, []string{metrics.SeriesLateness, metrics.SeriesQueueWait}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := runConfig(t, url, tc.mutate)
			out := runFleet(t, cfg, "w0", "w1", "w2")
			if got := counter(t, &out.Final, metrics.TrackedIssued); got != tc.tracked {
				t.Errorf("tracked issued %d, want exactly %d", got, tc.tracked)
			}
			if got := counter(t, &out.Final, metrics.TotalIssued); got != tc.total {
				t.Errorf("total issued %d, want exactly %d", got, tc.total)
			}
			if out.Final.State != metrics.StateComplete {
				t.Errorf("state %s", out.Final.State)
			}
			for _, name := range tc.series {
				if m, ok := out.Final.Find(name); !ok || m.Count == 0 {
					t.Errorf("series %s missing or empty", name)
				}
			}
			checkReplay(t, out)
			// The dataset indices travel with the records (the request log names the prompt).
			rq, err := os.ReadFile(rundir.Requests(out.Dir))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(rq), `"idx":`) {
				t.Error("requests.jsonl has no idx: the fleet lost PromptData.Index")
			}
			if len(out.Report.Warnings) == 0 || !strings.Contains(out.Report.Warnings[0], "fleet run: 3 workers") {
				t.Errorf("report warnings %q: want the fleet line", out.Report.Warnings)
			}
		})
	}
}

// numNear is numCmp up to a relative 1e-12 (float sums in another order).
var numNear = cmp.Comparer(func(a, b metrics.Num) bool {
	if a.String() == b.String() {
		return true
	}
	x, err1 := strconv.ParseFloat(a.String(), 64)
	y, err2 := strconv.ParseFloat(b.String(), 64)
	return err1 == nil && err2 == nil && math.Abs(x-y) <= 1e-12*math.Max(math.Abs(x), math.Abs(y))
})

// checkReplay replays a run's full event log through a fresh aggregator
// and compares its final snapshot with the run's, field by field.
func checkReplay(t *testing.T, out *bench.Outcome) {
	t.Helper()
	checkReplayTok(t, out, nil, "")
}

// checkReplayTok is checkReplay for a run that counted tokens with tok
// (metrics.token_source src).
func checkReplayTok(t *testing.T, out *bench.Outcome, tok aggregator.TokenCounter, src string) {
	t.Helper()
	recs := readEventLog(t, filepath.Join(out.Dir, "events.jsonl.zst"))
	for _, r := range recs {
		// A job carries only the samples its worker draws: a draw
		// outside that slice would issue an empty prompt.
		if p, ok := r.Data.(*event.PromptData); ok && p.Text == "" {
			t.Fatalf("sample %s was issued with an empty prompt (dataset index %d)", r.SampleUUID, p.Index-1)
		}
	}
	agg, err := aggregator.New(aggregator.Config{Streaming: true, Tokenizer: tok, TokenSource: src, Logger: quietLog()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var replayed metrics.Snapshot
	if tok == nil {
		if !agg.Process(recs) {
			t.Fatal("the event log has no session.ended")
		}
		replayed, err = agg.Finalize(metrics.StateComplete)
	} else {
		// Token counts are asynchronous: Run waits for them.
		b := bus.NewInProc[event.Record](0)
		sub := b.Subscribe()
		if err := b.PublishBatch(recs); err != nil {
			t.Fatal(err)
		}
		_ = b.Close()
		replayed, err = agg.Run(context.Background(), sub)
	}
	if err != nil {
		t.Fatal(err)
	}
	eq := numCmp
	if tok != nil {
		// Token counts are recorded in the order the tokenizer pool
		// finishes them: a float sum (TPOT's total, sum of squares) may
		// differ in its last bits; counts, extremes, percentiles and
		// histograms do not.
		eq = numNear
	}
	if diff := cmp.Diff(out.Final.Metrics, replayed.Metrics, eq, cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("replayed snapshot differs from the coordinator's (-coordinator +replayed):\n%s", diff)
	}
	if out.Final.NPendingTasks != replayed.NPendingTasks || out.Final.State != replayed.State {
		t.Errorf("pending/state %d/%s, replayed %d/%s", out.Final.NPendingTasks, out.Final.State, replayed.NPendingTasks, replayed.State)
	}
}

// readEventLog decodes events.jsonl.zst back into records.
func readEventLog(t *testing.T, path string) []event.Record {
	t.Helper()
	var out []event.Record
	if err := eventlog.ReadEvents(path, func(r *event.Record) error {
		out = append(out, *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFleet_MatchesSingleHost: against a mock with known timing, a fleet of
// two reports the single-host run's TTFT, TPOT and latency (the durations
// are measured on the workers) and exactly the requested sample count.
func TestFleet_MatchesSingleHost(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 100 * time.Millisecond, TPOT: 10 * time.Millisecond, OutputTokens: 12})
	mk := func() config.Run {
		return runConfig(t, url, func(c *config.Run) {
			c.Load.Mode = "concurrency"
			c.Load.Concurrency = 6
			c.Load.NumSamples = 61
			c.EventLog = "off"
		})
	}
	single := runBench(t, mk(), nil)
	multi := runFleet(t, mk(), "a", "b")
	for _, s := range []*metrics.Snapshot{&single.Final, &multi.Final} {
		if got := counter(t, s, metrics.TrackedCompleted); got != 61 {
			t.Errorf("tracked completed %d, want exactly 61", got)
		}
		if got := counter(t, s, metrics.TrackedFailed); got != 0 {
			t.Errorf("tracked failed %d", got)
		}
	}
	for _, name := range []string{metrics.SeriesTTFT, metrics.SeriesTPOT, metrics.SeriesLatency} {
		pa, pb := p50(t, &single.Final, name), p50(t, &multi.Final, name)
		// 20 % or 25 ms: this machine's load (and the race detector) moves
		// both runs' numbers by milliseconds; a clock or timeline mistake
		// would move them by far more (the whole run, or a warmup phase).
		if d := math.Abs(pa - pb); d > 0.2*pa && d > 25e6 {
			rel := d / pa
			t.Errorf("%s p50: single host %.0f, fleet %.0f (%.0f%% apart)", name, pa, pb, 100*rel)
		}
	}
}

// TestFleet_Refusals: a second worker of the same name is refused, so is a
// worker that comes when the run has begun; a fleet that does not fill says
// how many joined and who.
func TestFleet_Refusals(t *testing.T) {
	c, err := fleet.Listen(fleet.Options{Listen: "tcp://127.0.0.1:0", Size: 2, Timeout: 5 * time.Second, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() {
		first <- fleet.RunWorker(ctx, fleet.WorkerOptions{Coordinator: c.Endpoint(), Name: "twin", Once: true, Timeout: 5 * time.Second, Logger: quietLog()})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(c.Workers()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	err = fleet.RunWorker(ctx, fleet.WorkerOptions{Coordinator: c.Endpoint(), Name: "twin", Once: true, Timeout: 5 * time.Second, Logger: quietLog()})
	if !errors.Is(err, fleet.ErrRefused) || !strings.Contains(err.Error(), `duplicate worker name "twin"`) {
		t.Errorf("second twin: %v; want a refusal naming the duplicate", err)
	}
	err = c.Wait(ctx, 200*time.Millisecond)
	if !errors.Is(err, fleet.ErrMissing) || !strings.Contains(err.Error(), "1 of 2 workers joined") || !strings.Contains(err.Error(), "twin") {
		t.Errorf("wait: %v", err)
	}
	cancel()
	<-first
}

// TestFleet_JoinRunningRefused: once the run began, a newcomer is refused.
func TestFleet_JoinRunningRefused(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 50 * time.Millisecond, OutputTokens: 4})
	cfg := runConfig(t, url, func(c *config.Run) { c.Load.NumSamples = 40; c.Load.MaxInFlight = 2; c.EventLog = "off" })
	c, wait := startFleet(t, 5*time.Second, 5*time.Second, "only")
	late := make(chan error, 1)
	out := runBench(t, cfg, func(r *bench.Runner) {
		r.NewSource = func(pub bus.Publisher[event.Record]) (bench.Source, error) {
			run, err := c.Source(r.Config(), r.Dataset(), pub)
			go func() {
				late <- fleet.RunWorker(context.Background(), fleet.WorkerOptions{Coordinator: c.Endpoint(), Name: "late", Once: true, Timeout: 5 * time.Second, Logger: quietLog()})
			}()
			return run, err
		}
	})
	if err := <-late; !errors.Is(err, fleet.ErrRefused) || !strings.Contains(err.Error(), "run is in progress") {
		t.Errorf("late worker: %v; want refused (run in progress)", err)
	}
	if got := counter(t, &out.Final, metrics.TrackedCompleted); got != 40 {
		t.Errorf("completed %d", got)
	}
	if errs := wait(); errs[0] != nil {
		t.Error(errs[0])
	}
}

// TestWorker_Unreachable: no coordinator answers within the timeout.
func TestWorker_Unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "tcp://" + ln.Addr().String()
	ln.Close()
	err = fleet.RunWorker(context.Background(), fleet.WorkerOptions{Coordinator: addr, Name: "x", Once: true, Timeout: 300 * time.Millisecond, Logger: quietLog()})
	if !errors.Is(err, fleet.ErrUnreachable) || !strings.Contains(err.Error(), addr) {
		t.Errorf("err %v; want ErrUnreachable naming %s", err, addr)
	}
}

// TestWorker_ServesRuns: without Once a worker serves one coordinator's run
// after another (the next coordinator on the same address), and returns
// when its context ends.
func TestWorker_ServesRuns(t *testing.T) {
	url := startMock(t, mockserver.Config{OutputTokens: 4})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "tcp://" + ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- fleet.RunWorker(ctx, fleet.WorkerOptions{Coordinator: addr, Name: "steady", Timeout: 10 * time.Second, Logger: quietLog()})
	}()
	for run := range 2 {
		// The last coordinator's listener closes in the background.
		var c *fleet.Coordinator
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err = fleet.Listen(fleet.Options{Listen: addr, Size: 1, Timeout: 5 * time.Second, Logger: quietLog()})
			if err == nil || !strings.Contains(err.Error(), "address already in use") || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Wait(context.Background(), 30*time.Second); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		cfg := runConfig(t, url, func(c *config.Run) { c.Load.NumSamples = 20 + run; c.EventLog = "off" })
		out := runBench(t, cfg, func(r *bench.Runner) {
			r.NewSource = func(pub bus.Publisher[event.Record]) (bench.Source, error) {
				return c.Source(r.Config(), r.Dataset(), pub)
			}
		})
		if got := out.Final.CounterInt(metrics.TrackedCompleted); got != int64(20+run) {
			t.Errorf("run %d: completed %d", run, got)
		}
		c.Close()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("worker: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the worker did not return after its context ended")
	}
}

// TestFleet_MultiTurn: a multi-turn dataset's order deals whole
// conversations to the workers, so a fleet starts and completes the same
// conversations, turn for turn, as one process.
func TestFleet_MultiTurn(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: time.Millisecond, OutputTokens: 4})
	path := filepath.Join(t.TempDir(), "convs.jsonl")
	var b strings.Builder
	for i := range 30 {
		b.WriteString(`{"conversation_id":"c` + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + `","turns":[`)
		for k := range 1 + i%4 {
			if k > 0 {
				b.WriteString(",")
			}
			b.WriteString(`{"role":"user","content":"question ` + string(rune('a'+k)) + `"},{"role":"assistant","content":"answer"}`)
		}
		b.WriteString("]}\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	mk := func() config.Run {
		return runConfig(t, url, func(c *config.Run) {
			c.Dataset.Synthetic = nil
			c.Dataset.Path = path
			c.Dataset.MultiTurn = true
			c.Load.Mode = "concurrency"
			c.Load.Concurrency = 6
			c.Load.NumSamples = 40 // conversations, the dataset cycled
			c.EventLog = "off"
		})
	}
	single := runBench(t, mk(), nil)
	multi := runFleet(t, mk(), "w0", "w1", "w2")
	for _, name := range []string{metrics.TrackedIssued, metrics.TrackedCompleted, metrics.TrackedFailed,
		metrics.TrackedConversationsStarted, metrics.TrackedConversationsCompleted, metrics.TrackedConversationsFailed} {
		a, b := single.Final.CounterInt(name), multi.Final.CounterInt(name)
		if a != b {
			t.Errorf("%s: single host %d, fleet %d", name, a, b)
		}
	}
	if got := multi.Final.CounterInt(metrics.TrackedConversationsStarted); got != 40 {
		t.Errorf("conversations started %d, want 40", got)
	}
}
