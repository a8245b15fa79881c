package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/rundir"
)

var update = flag.Bool("update", false, "rewrite golden files")

// registry builds a snapshot like a run of 50 samples over 10 s would.
func snapshot(t *testing.T, state metrics.State, pending int64) metrics.Snapshot {
	t.Helper()
	r := metrics.NewRegistry()
	counters := map[string]int64{
		"total_samples_issued": 52, "total_samples_completed": 52, "total_samples_failed": 2,
		"tracked_samples_issued": 50, "tracked_samples_completed": 50,
		"tracked_samples_failed": 0, "tracked_duration_ns": 10_000_000_000, "warmup_errors.timeout": 2,
	}
	for _, name := range []string{"total_samples_issued", "total_samples_completed", "total_samples_failed", "tracked_samples_issued",
		"tracked_samples_completed", "tracked_samples_failed", "tracked_duration_ns", "warmup_errors.timeout"} {
		c, _ := r.NewCounter(name, false)
		c.Set(counters[name])
	}
	ttft, _ := r.NewSeries("ttft_ns", metrics.SeriesOpts{Buckets: 5})
	lat, _ := r.NewSeries("sample_latency_ns", metrics.SeriesOpts{Buckets: 5})
	osl, _ := r.NewSeries("osl", metrics.SeriesOpts{Buckets: 5, High: metrics.TokenHigh})
	_, _ = r.NewSeries("tpot_ns", metrics.SeriesOpts{Float: true})
	for i := int64(1); i <= 50; i++ {
		ttft.Record(i * 1_000_000)
		lat.Record(100_000_000 + i*2_000_000)
		osl.Record(100 + i)
	}
	return r.Snapshot(state, pending, 1)
}

func TestBuild_Summary(t *testing.T) {
	s := snapshot(t, metrics.StateComplete, 0)
	r := report.Build(&s)
	if !r.Complete || r.State != "complete" || len(r.Warnings) != 0 {
		t.Errorf("complete %v state %s warnings %v", r.Complete, r.State, r.Warnings)
	}
	if r.QPS != 5 {
		t.Errorf("QPS %v, want 5 (50 samples over 10 s)", r.QPS)
	}
	if want := (50*100 + 50*51/2) / 10.0; float64(r.TPS) != want {
		t.Errorf("TPS %v, want %v", r.TPS, want)
	}
	if r.Errors != nil || r.Warmup == nil || r.Warmup.Errors["timeout"] != 2 || r.Warmup.Failed != 2 {
		t.Errorf("errors %v, warmup %+v: want the 2 timeouts in the warmup", r.Errors, r.Warmup)
	}
	if len(r.Sections) != 3 {
		t.Errorf("%d sections, want 3 (empty tpot skipped)", len(r.Sections))
	}
}

func TestBuild_StdDevExact(t *testing.T) {
	r := metrics.NewRegistry()
	s, _ := r.NewSeries("sample_latency_ns", metrics.SeriesOpts{})
	// Large values with a tiny spread: the float formula Σx²−(Σx)²/n loses
	// every digit here; the integer numerator keeps them.
	base := int64(3_000_000_000_000)
	for _, d := range []int64{0, 1, 2, 3, 4} {
		s.Record(base + d)
	}
	snap := r.Snapshot(metrics.StateComplete, 0, 1)
	rep := report.Build(&snap)
	got := float64(rep.Sections[0].StdDev) / 1e-6 // back to ns
	if want := math.Sqrt(2.5); math.Abs(got-want) > 1e-9 {
		t.Errorf("std dev %v ns, want %v", got, want)
	}
}

func TestBuild_Warnings(t *testing.T) {
	tests := []struct {
		state   metrics.State
		pending int64
		want    string
	}{
		{metrics.StateInterrupted, 0, "interrupted"},
		{metrics.StateComplete, 3, "incomplete"},
		{metrics.StateLive, 0, "no final snapshot"},
	}
	for _, tc := range tests {
		s := snapshot(t, tc.state, tc.pending)
		r := report.Build(&s)
		var buf bytes.Buffer
		if err := r.WriteSummary(&buf); err != nil {
			t.Fatal(err)
		}
		if r.Complete || !strings.Contains(buf.String(), "WARNING") || !strings.Contains(buf.String(), tc.want) {
			t.Errorf("%s/%d: complete %v, summary:\n%s", tc.state, tc.pending, r.Complete, buf.String())
		}
	}
}

func TestBuild_PartialInput(t *testing.T) {
	tests := []string{
		`{}`,
		`{"state":"complete","metrics":[{"type":"series","name":"ttft_ns","count":2,"total":null,"min":1,"max":null,"sum_sq":null,"percentiles":{"50.0":null},"histogram":[[[1,null],2],"bad"]}, {"name":"x"}, 5]}`,
		`{"metrics":"nope","counter":"x","n_pending_tasks":-1}`,
	}
	for _, in := range tests {
		s, err := metrics.ParseJSON([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		r := report.Build(s)
		var buf bytes.Buffer
		if err := r.WriteText(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := r.JSON(); err != nil {
			t.Errorf("%s: JSON: %v", in, err)
		}
		if strings.Contains(buf.String(), "NaN") {
			t.Errorf("NaN printed instead of N/A:\n%s", buf.String())
		}
	}
	s, _ := metrics.ParseJSON([]byte(tests[1]))
	var buf bytes.Buffer
	_ = report.Build(s).WriteText(&buf)
	if !strings.Contains(buf.String(), "Median: N/A") {
		t.Errorf("null median not N/A:\n%s", buf.String())
	}
	if r := report.Build(&metrics.Snapshot{}); r.State != "interrupted" || r.Complete {
		t.Errorf("empty snapshot: state %q complete %v", r.State, r.Complete)
	}
}

// TestFinalSnapshotRoundTrip writes final_snapshot.json as the aggregator does
// and renders the report from the run directory.
func TestFinalSnapshotRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, rundir.MetricsDir), 0o755); err != nil {
		t.Fatal(err)
	}
	s := snapshot(t, metrics.StateComplete, 0)
	if err := aggregator.WriteFinal(filepath.Join(dir, rundir.MetricsDir, rundir.FinalFile), &s); err != nil {
		t.Fatal(err)
	}
	loaded, file, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(file) != rundir.FinalFile {
		t.Errorf("read %s", file)
	}
	want, _ := report.Build(&s).JSON()
	got, _ := report.Build(loaded).JSON()
	if !bytes.Equal(want, got) {
		t.Errorf("report differs after the file round trip:\n%s\n---\n%s", want, got)
	}
	if err := report.Build(loaded).WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	var summary map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, rundir.SummaryFile))
	if err := json.Unmarshal(data, &summary); err != nil || summary["complete"] != true || summary["qps"] != 5.0 {
		t.Errorf("result_summary.json: %v %v", err, summary)
	}
	if _, _, err := report.Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("no error for a missing path")
	}
}

func TestWriteText_Golden(t *testing.T) {
	s := snapshot(t, metrics.StateComplete, 0)
	r := report.Build(&s)
	r.Version = "test"
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "TestWriteText_Golden.golden")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("text report differs from %s (run with -update after reviewing):\n%s", golden, buf.String())
	}
}

func TestWriteSummary_Run(t *testing.T) {
	s := snapshot(t, metrics.StateComplete, 0)
	tests := []struct {
		run  report.Run
		want string
	}{
		{report.Run{Endpoint: "http://h:1", Model: "m", API: "chat", Streaming: true, Mode: "poisson", TargetQPS: 10, Dataset: "d.jsonl"},
			"Load: poisson at 10 req/s; dataset d.jsonl"},
		{report.Run{Endpoint: "http://h:1", Model: "m", API: "completions", Mode: "concurrency", Concurrency: 8, Dataset: "d"},
			"Load: 8 concurrent requests; dataset d"},
		{report.Run{Endpoint: "http://h:1", Model: "m", API: "chat", Mode: "offline", Dataset: "d"}, "(model m, chat API, not streaming)"},
		{report.Run{Mode: "poisson", TargetQPS: 40, MaxConcurrency: 16, RampUp: "1m0s", Dataset: "d"},
			"Load: poisson at 40 req/s, ramped up over 1m0s, at most 16 in flight; dataset d"},
		{report.Run{Mode: "concurrency", Concurrency: 8, Stages: "2:30s,8:1m", Dataset: "d"},
			"Load: concurrency in stages 2:30s,8:1m; dataset d"},
		{report.Run{Mode: "constant", TargetQPS: 5, Stages: "10:30s", Dataset: "d"},
			"Load: constant in stages 10:30s; dataset d"},
		{report.Run{Mode: "poisson", TargetQPS: 20, Burstiness: 0.5, RampUp: "30s", Dataset: "d"},
			"Load: poisson at 20 req/s, ramped up over 30s, burstiness 0.5 (gamma inter-arrivals); dataset d"},
		{report.Run{Mode: "poisson", Stages: "10:30s,20:30s", Burstiness: 2, MaxConcurrency: 4, Dataset: "d"},
			"Load: poisson in stages 10:30s,20:30s, burstiness 2 (gamma inter-arrivals), at most 4 in flight; dataset d"},
	}
	for _, tc := range tests {
		r := report.Build(&s)
		run := tc.run
		r.Run = &run
		var buf bytes.Buffer
		if err := r.WriteSummary(&buf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), tc.want) {
			t.Errorf("summary lacks %q:\n%s", tc.want, buf.String())
		}
	}
}
