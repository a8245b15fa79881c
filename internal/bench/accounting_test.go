package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/rundir"
)

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// loggedErrors counts the errors that name a sample in the run's event log
// (requests.jsonl): failed requests and the error lines with a request id.
func loggedErrors(t *testing.T, path string) int64 {
	t.Helper()
	rs, err := eventlog.ReadRequests(path)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, r := range rs.Requests {
		if r.Err != "" {
			n++
		}
	}
	for _, m := range rs.Marks {
		if m.Err != "" && m.ID != "" {
			n++
		}
	}
	return n
}

// TestRun_ErrorSums runs against a mock server that fails a fifth of the
// requests, warmup included, and checks that every sum in the report adds up:
// the tracked errors by class to the tracked failures, the warmup apart with
// its own classes, completed = succeeded + failed, and tracked + warmup
// failures to every failed sample of the event log.
func TestRun_ErrorSums(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{OutputTokens: 8, Seed: 7, Faults: mockserver.FaultRates{HTTP500: 0.2}})
	cfg := baseConfig(t, url)
	cfg.Load.WarmupSamples = 50
	out := run(t, cfg, synthetic(t, 200), nil)
	rep := out.Report

	if rep.Issued != 200 || rep.Completed != 200 || rep.Failed == 0 || rep.Succeeded+rep.Failed != rep.Completed {
		t.Errorf("tracked issued %d completed %d = succeeded %d + failed %d: want 200 completed, some failed",
			rep.Issued, rep.Completed, rep.Succeeded, rep.Failed)
	}
	if got := sum(rep.Errors); got != rep.Failed {
		t.Errorf("errors by class %v sum to %d, tracked failed %d", rep.Errors, got, rep.Failed)
	}
	w := rep.Warmup
	if w == nil {
		t.Fatal("no warmup in the report")
	}
	if w.Issued != 50 || w.Completed != 50 || w.Failed == 0 || w.Succeeded+w.Failed != w.Completed || sum(w.Errors) != w.Failed {
		t.Errorf("warmup %+v: want 50 issued and completed, failures that sum by class", *w)
	}
	if n := loggedErrors(t, filepath.Join(out.Dir, rundir.RequestsFile)); n != rep.Failed+w.Failed || n != out.Final.CounterInt(metrics.TotalFailed) {
		t.Errorf("event log holds %d failed samples; report tracked %d + warmup %d, snapshot total %d",
			n, rep.Failed, w.Failed, out.Final.CounterInt(metrics.TotalFailed))
	}
	if len(rep.OtherErrors) != 0 {
		t.Errorf("other errors %v, want none", rep.OtherErrors)
	}
	// The mock server stops before max_tokens: every success ends in stop.
	if rep.FinishReasonCounts["stop"] != rep.Succeeded || sum(rep.FinishReasonCounts) != rep.Succeeded {
		t.Errorf("finish reasons %v, want stop = %d succeeded", rep.FinishReasonCounts, rep.Succeeded)
	}

	// What a person reads says the same.
	text, err := os.ReadFile(filepath.Join(out.Dir, rundir.TextFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Total samples completed: 200 (succeeded ",
		"Errors by class: http_status=",
		"Warmup samples (not in the counts above): issued 50, completed 50 (succeeded ",
		"none=",
	} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("report.txt lacks %q:\n%s", want, text)
		}
	}
	var js struct {
		Failed  int64            `json:"n_samples_failed"`
		Errors  map[string]int64 `json:"errors"`
		Finish  map[string]int64 `json:"finish_reason_counts"`
		Warmup  *report.Samples  `json:"warmup"`
		Success int64            `json:"n_samples_succeeded"`
	}
	data, err := os.ReadFile(filepath.Join(out.Dir, rundir.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &js); err != nil {
		t.Fatal(err)
	}
	if sum(js.Errors) != js.Failed || js.Warmup == nil || sum(js.Warmup.Errors) != js.Warmup.Failed || len(js.Finish) != 6 || js.Success != rep.Succeeded {
		t.Errorf("result_summary.json does not add up:\n%s", data)
	}
}

// TestRun_FinishReasons checks the finish reason counters against what the
// mock server answers: "stop" when the output ends before max_tokens,
// "length" when max_tokens cuts it (what a run with ignore_eos expects),
// in live snapshots, the final one and the report.
func TestRun_FinishReasons(t *testing.T) {
	tests := []struct {
		name         string
		outputTokens int // the server's output length; max_tokens is 64
		want         string
	}{
		{"server stops before max_tokens", 8, "stop"},
		{"max_tokens cuts the output", 100, "length"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := startMock(t, mockserver.Config{OutputTokens: tc.outputTokens, TPOT: 2 * time.Millisecond})
			cfg := baseConfig(t, url)
			cfg.Load.MaxInFlight = 4
			const n = 40
			var mu sync.Mutex
			var live []metrics.Snapshot
			out := run(t, cfg, synthetic(t, n), func(r *bench.Runner) {
				r.OnSnapshot = func(s metrics.Snapshot) {
					if s.State == metrics.StateLive {
						mu.Lock()
						live = append(live, s)
						mu.Unlock()
					}
				}
			})
			counter := map[string]string{"stop": metrics.FinishReasonStop, "length": metrics.FinishReasonLength}
			for _, reason := range metrics.FinishReasons {
				name := "tracked_finish_reason_" + reason
				want := int64(0)
				if reason == tc.want {
					want = n
				}
				if got := out.Final.CounterInt(name); got != want {
					t.Errorf("final %s = %d, want %d", name, got, want)
				}
				if got := out.Report.FinishReasonCounts[reason]; got != want {
					t.Errorf("report finish_reason_counts[%s] = %d, want %d", reason, got, want)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(live) == 0 {
				t.Fatal("no live snapshot")
			}
			last := live[len(live)-1]
			if m, ok := last.Find(counter[tc.want]); !ok || m.Kind != metrics.KindCounter {
				t.Errorf("live snapshots lack %s", counter[tc.want])
			}
			if got, done := last.CounterInt(counter[tc.want]), last.CounterInt(metrics.TrackedCompleted); got != done {
				t.Errorf("last live snapshot: %s = %d, tracked completed %d", counter[tc.want], got, done)
			}
			text, err := os.ReadFile(filepath.Join(out.Dir, rundir.TextFile))
			if err != nil {
				t.Fatal(err)
			}
			want := "Finish reasons: stop=40, length=0,"
			if tc.want == "length" {
				want = "Finish reasons: stop=0, length=40,"
			}
			if !bytes.Contains(text, []byte(want)) {
				t.Errorf("report.txt lacks %q:\n%s", want, text)
			}
		})
	}
}

// TestRun_StopAccounting stops a run with requests in flight that the server
// will not answer for 30 s, in every way a caller can, and checks that each
// issued request is counted as completed and failed (class canceled), the
// same numbers as the event log holds.
func TestRun_StopAccounting(t *testing.T) {
	tests := []struct {
		name string
		stop func(r *bench.Runner, cancel context.CancelFunc)
	}{
		{"Stop then Abort (second Ctrl-C)", func(r *bench.Runner, _ context.CancelFunc) { r.Stop(); r.Abort() }},
		{"Abort alone", func(r *bench.Runner, _ context.CancelFunc) { r.Abort() }},
		{"ctx cancelled", func(_ *bench.Runner, cancel context.CancelFunc) { cancel() }},
		{"Stop, grace period expires", func(r *bench.Runner, _ context.CancelFunc) { r.Stop() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := startMock(t, mockserver.Config{TTFT: 30 * time.Second, OutputTokens: 5})
			cfg := baseConfig(t, url)
			cfg.Load.Mode = string(loadgen.ModeConstant)
			cfg.Load.TargetQPS = 100
			cfg.Load.GracePeriod = 200 * time.Millisecond
			r, err := bench.New(cfg, synthetic(t, 1000), nil, quiet())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			r.OnSnapshot = func(s metrics.Snapshot) {
				if s.CounterInt(metrics.TrackedIssued) >= 10 {
					once.Do(func() { go tc.stop(r, cancel) })
				}
			}
			start := time.Now()
			out, err := r.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el > 20*time.Second {
				t.Errorf("run took %v: the stop did not cancel the requests", el)
			}
			f := out.Final
			n := f.CounterInt(metrics.TotalIssued)
			logged := loggedErrors(t, filepath.Join(out.Dir, rundir.RequestsFile))
			if f.State != metrics.StateInterrupted || n < 10 {
				t.Errorf("state %s, %d issued: want interrupted after 10", f.State, n)
			}
			for _, name := range []string{metrics.TotalCompleted, metrics.TotalFailed, metrics.TrackedIssued,
				metrics.TrackedCompleted, metrics.TrackedFailed, metrics.ErrorCounterPrefix + "canceled"} {
				if got := f.CounterInt(name); got != n {
					t.Errorf("%s = %d, want %d: every issued request cancelled and counted", name, got, n)
				}
			}
			if logged != n || out.Loadgen.Issued != n || out.Loadgen.Failed != n {
				t.Errorf("event log holds %d failed samples, load generator issued %d failed %d; snapshot %d",
					logged, out.Loadgen.Issued, out.Loadgen.Failed, n)
			}
		})
	}
}
