package bench_test

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/rundir"
)

// The default event log stays under 200 bytes per request however long the
// stream: a streamed run of 250 tokens per response.
func TestRun_compactLogBounded(t *testing.T) {
	const n = 200
	url, _ := startMock(t, mockserver.Config{OutputTokens: 250})
	cfg := baseConfig(t, url)
	cfg.Endpoint.MaxTokens, cfg.Load.MaxTokens = 250, 250
	cfg.Load.Mode = string(loadgen.ModeConcurrency)
	cfg.Load.Concurrency = 8
	ds, err := dataset.Synthetic(dataset.SyntheticConfig{N: n, Input: dataset.Dist{Kind: dataset.DistFixed, Value: 16},
		Output: dataset.Dist{Kind: dataset.DistFixed, Value: 250}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, cfg, ds, nil)
	if out.Report.Completed != n || out.Report.Failed != 0 {
		t.Fatalf("completed %d failed %d, want %d and 0", out.Report.Completed, out.Report.Failed, n)
	}
	if s := section(t, out.Report, "osl"); s.Min != 250 {
		t.Fatalf("osl min %v, want 250 tokens per response", s.Min)
	}
	st, err := os.Stat(filepath.Join(out.Dir, rundir.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	if out.Requests != n {
		t.Errorf("requests.jsonl holds %d requests, want %d", out.Requests, n)
	}
	if per := st.Size() / n; per > 200 {
		t.Errorf("requests.jsonl: %d bytes for %d requests = %d B/request, want <= 200", st.Size(), n, per)
	}
	if _, err := os.Stat(filepath.Join(out.Dir, rundir.EventsFile)); !os.IsNotExist(err) {
		t.Errorf("the default event log wrote %s", rundir.EventsFile)
	}
}

// A run's final snapshot can be rebuilt from its event log: the same
// counters and the same exact percentiles, histograms and rollups of every
// per-request series; inter-chunk gaps only from the full log.
func TestRun_rebuildMatchesFinal(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		tok     aggregator.TokenCounter
		capped  int // --max-concurrency
		goodput string
	}{{"compact", nil, 0, ""}, {"full", nil, 0, ""}, {"compact", wordCounter{}, 0, ""}, {"compact", nil, 2, ""},
		{"compact", nil, 0, "ttft<=50ms,tpot<=200us,latency<=1s"}, {"compact", wordCounter{}, 0, "tpot<=200us"}} {
		mode := tc.mode
		name := mode
		if tc.tok != nil {
			name += "/tokenizer"
		}
		if tc.capped > 0 {
			name += "/max-concurrency"
		}
		if tc.goodput != "" {
			name += "/goodput"
		}
		t.Run(name, func(t *testing.T) {
			url, _ := startMock(t, mockserver.Config{OutputTokens: 12, TTFT: 2 * time.Millisecond, TPOT: 200 * time.Microsecond,
				Jitter: 0.5, Seed: 7, Faults: mockserver.FaultRates{HTTP500: 0.1}})
			cfg := baseConfig(t, url)
			cfg.EventLog = mode
			cfg.Load.Mode = string(loadgen.ModeConstant)
			cfg.Load.TargetQPS = 500
			cfg.Load.WarmupSamples = 20
			cfg.Load.MaxConcurrency = tc.capped
			cfg.Goodput = tc.goodput
			r, err := bench.New(cfg, synthetic(t, 200), tc.tok, quiet())
			if err != nil {
				t.Fatal(err)
			}
			out, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if out.Report.Failed == 0 || out.Report.Completed != 200 {
				t.Fatalf("completed %d failed %d: want 200 with some failures", out.Report.Completed, out.Report.Failed)
			}
			finalPath := filepath.Join(out.Dir, rundir.MetricsDir, rundir.FinalFile)
			data, err := os.ReadFile(finalPath)
			if err != nil {
				t.Fatal(err)
			}
			final, err := metrics.ParseJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(finalPath); err != nil {
				t.Fatal(err)
			}
			opts, err := bench.RebuildOptions(&cfg)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := eventlog.RebuildWith(out.Dir, opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.goodput != "" {
				good, ok := rb.Snapshot.Find(metrics.TrackedGood)
				t.Logf("good samples: final %d, rebuilt %v (of %d)", final.CounterInt(metrics.TrackedGood), good, out.Report.Completed)
				if !ok {
					t.Errorf("rebuilt snapshot of a --goodput run lacks %s", metrics.TrackedGood)
				}
			}
			if rb.Snapshot.State != final.State {
				t.Errorf("rebuilt state %s, want %s", rb.Snapshot.State, final.State)
			}
			wantMissing := []string{"chunk_delta_ns"}
			if mode == "full" {
				wantMissing = nil
			}
			if !slices.Equal(rb.Missing, wantMissing) {
				t.Errorf("missing series %v, want %v", rb.Missing, wantMissing)
			}
			compared := 0
			for i := range final.Metrics {
				m := &final.Metrics[i]
				got, ok := rb.Snapshot.Find(m.Name)
				if !ok {
					if !slices.Contains(wantMissing, m.Name) {
						t.Errorf("rebuilt snapshot lacks %s", m.Name)
					}
					continue
				}
				if m.Kind == metrics.KindSeries && m.Count == 0 && m.Name != "issue_lateness_ns" {
					continue
				}
				compared++
				if tc.tok != nil && (m.Name == "tpot_ns" || m.Name == "osl_usage_abs_rel_diff_sum") {
					// Token counts are recorded in the order the aggregator's
					// workers finish: float sums may differ in the last bits.
					sameFloatSums(t, m, got)
					continue
				}
				if w, g := metricJSON(t, m), metricJSON(t, got); w != g {
					t.Errorf("%s differs:\n final   %s\n rebuilt %s", m.Name, w, g)
				}
			}
			if len(rb.Snapshot.Metrics) != len(final.Metrics)-len(wantMissing) {
				t.Errorf("rebuilt %d metrics, final has %d (%d missing)", len(rb.Snapshot.Metrics), len(final.Metrics), len(wantMissing))
			}
			if tc.tok != nil && final.CounterInt("osl_usage_compared") == 0 {
				t.Error("the tokenizer run compared no OSL with the server's usage")
			}
			if compared < 15 {
				t.Errorf("only %d metrics compared", compared)
			}
			if _, ok := final.Find(metrics.SeriesQueueWait); ok != (tc.capped > 0) {
				t.Errorf("final snapshot has %s: %v, want %v", metrics.SeriesQueueWait, ok, tc.capped > 0)
			}
		})
	}
}

// wordCounter counts whitespace-separated words: the mock server's synthetic
// output has one word per token.
type wordCounter struct{}

func (wordCounter) Count(s string) int { return len(strings.Fields(s)) }

// sameFloatSums compares two float metrics exactly except for their sums,
// which may differ by rounding.
func sameFloatSums(t *testing.T, want, got *metrics.Metric) {
	t.Helper()
	near := func(a, b metrics.Num) bool {
		x, y := a.Float64(), b.Float64()
		return math.Abs(x-y) <= 1e-9*math.Max(math.Abs(x), math.Abs(y))
	}
	if !near(want.Value, got.Value) || !near(want.Total, got.Total) || !near(want.SumSq, got.SumSq) {
		t.Errorf("%s: sums differ: value %v/%v total %v/%v sum_sq %v/%v", want.Name, want.Value, got.Value, want.Total, got.Total, want.SumSq, got.SumSq)
	}
	w, g := *want, *got
	w.Value, w.Total, w.SumSq, g.Value, g.Total, g.SumSq = metrics.Num{}, metrics.Num{}, metrics.Num{}, metrics.Num{}, metrics.Num{}, metrics.Num{}
	if a, b := metricJSON(t, &w), metricJSON(t, &g); a != b {
		t.Errorf("%s differs:\n final   %s\n rebuilt %s", want.Name, a, b)
	}
}

func metricJSON(t *testing.T, m *metrics.Metric) string {
	t.Helper()
	b, err := metrics.Snapshot{Metrics: []metrics.Metric{*m}}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	return s[strings.Index(s, `"metrics":`):]
}

// failAfter fails every write once n bytes went through, as a full disk does.
type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n, _ := f.w.Write(p[:f.n])
		f.n -= n
		return n, syscall.ENOSPC
	}
	f.n -= len(p)
	return f.w.Write(p)
}

// At the first write failure of the event log the run stops issuing, ends
// interrupted with its final snapshot and report, returns an error naming
// the file and the cause, and leaves no partial file.
func TestRun_eventLogWriteFailure(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4})
	cfg := baseConfig(t, url)
	cfg.Load.Mode = string(loadgen.ModeConstant)
	cfg.Load.TargetQPS = 200
	cfg.Load.GracePeriod = 2 * time.Second
	r, err := bench.New(cfg, synthetic(t, 2000), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	r.WrapLogWriter = func(name string, w io.Writer) io.Writer {
		if name == rundir.RequestsFile {
			return &failAfter{w: w, n: 3000}
		}
		return w
	}
	out, err := r.Run(context.Background())
	if err == nil {
		t.Fatal("run succeeded despite the full disk")
	}
	path := filepath.Join(cfg.ReportDir, rundir.RequestsFile)
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "no space left on device") || strings.Contains(msg, "\n") {
		t.Errorf("error %q: want one line naming %s and the cause", msg, path)
	}
	if out == nil || out.Report == nil {
		t.Fatal("no outcome: the report must still be produced")
	}
	if out.Final.State != metrics.StateInterrupted {
		t.Errorf("state %s, want interrupted", out.Final.State)
	}
	if out.Report.Issued >= 2000 || out.Report.Completed != out.Report.Issued {
		t.Errorf("issued %d completed %d: issuing should stop and in-flight requests finish", out.Report.Issued, out.Report.Completed)
	}
	if _, _, err := report.Load(cfg.ReportDir); err != nil {
		t.Errorf("final snapshot: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 || data[len(data)-1] != '\n' {
		t.Errorf("requests.jsonl (%d bytes, %v) must end with a whole line", len(data), err)
	}
	if _, err := eventlog.ReadRequests(path); err != nil {
		t.Errorf("requests.jsonl does not parse: %v", err)
	}
	for _, dir := range []string{cfg.ReportDir, filepath.Join(cfg.ReportDir, rundir.MetricsDir)} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			info, _ := e.Info()
			if strings.Contains(e.Name(), ".tmp") || (!e.IsDir() && info.Size() == 0 && e.Name() != rundir.SocketFile) {
				t.Errorf("left behind %s (%d bytes)", filepath.Join(dir, e.Name()), info.Size())
			}
		}
	}
}

// When the disk is full several writes fail: here the event log and the
// final snapshot (its directory is replaced by a file). The run still ends
// with its report, one error line naming each file, and no partial file.
func TestRun_severalWritesFail(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4})
	cfg := baseConfig(t, url)
	cfg.Load.Mode = string(loadgen.ModeConstant)
	cfg.Load.TargetQPS = 200
	r, err := bench.New(cfg, synthetic(t, 2000), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	r.WrapLogWriter = func(name string, w io.Writer) io.Writer { return &failAfter{w: w, n: 2000} }
	if err := r.Open(); err != nil {
		t.Fatal(err)
	}
	metricsDir := filepath.Join(cfg.ReportDir, rundir.MetricsDir)
	if err := os.Remove(metricsDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(metricsDir, []byte("in the way"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := r.Run(context.Background())
	if err == nil || out == nil || out.Report == nil {
		t.Fatalf("outcome %v, err %v: want a report and an error", out, err)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	if strings.Contains(msg, "\n") || !strings.Contains(msg, rundir.RequestsFile) || !strings.Contains(msg, rundir.FinalFile) {
		t.Errorf("error %q: want one line naming %s and %s", msg, rundir.RequestsFile, rundir.FinalFile)
	}
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("error %q does not wrap the cause", msg)
	}
	if out.Final.State != metrics.StateInterrupted {
		t.Errorf("state %s, want interrupted", out.Final.State)
	}
	ents, _ := os.ReadDir(cfg.ReportDir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("left behind %s", e.Name())
		}
	}
}
