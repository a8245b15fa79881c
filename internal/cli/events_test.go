package cli_test

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// TestBenchmark_EventsAddr runs a streamed benchmark with --events-addr
// against the mock server, feeding a separate `inferbench aggregate` process,
// and checks that the aggregate process reaches the same final snapshot as the
// run's own in-process aggregator: every counter, and every series with its
// exact percentiles and histogram, including the series that need
// inferbench's extension keys (issue lateness from scheduled_ns, ISL and OSL
// from usage).
func TestBenchmark_EventsAddr(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 2 * time.Millisecond, TPOT: 100 * time.Microsecond, OutputTokens: 16})
	dir := shortDir(t)
	evAddr := "ipc://" + filepath.Join(dir, "ev.sock")
	aggDir, runDir := filepath.Join(dir, "agg"), filepath.Join(dir, "run")
	agg := startInferbench(t, "aggregate", "--events", evAddr, "--out", aggDir, "--publish-interval", "50ms")
	code, _, stderr := runInferbench(t, "benchmark", "online", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "300", "--target-qps", "400", "--report-dir", runDir, "--no-tui",
		"--events-addr", evAddr, "--events-subscribers", "1")
	if code != 0 {
		t.Fatalf("benchmark exited %d\nstderr:\n%s", code, stderr)
	}
	if code := agg.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("aggregate exited %d\nstderr:\n%s", code, agg.stderr.String())
	}
	want := readSnapshotJSON(t, filepath.Join(runDir, "metrics", "final_snapshot.json"))
	got := readSnapshotJSON(t, filepath.Join(aggDir, "metrics", "final_snapshot.json"))
	if got.State != "complete" || want.State != "complete" {
		t.Errorf("states: aggregate %s, benchmark %s; want complete", got.State, want.State)
	}
	if len(got.Metrics) != len(want.Metrics) {
		t.Errorf("aggregate has %d metrics, the benchmark %d", len(got.Metrics), len(want.Metrics))
	}
	nonEmpty := map[string]bool{}
	for i := range min(len(got.Metrics), len(want.Metrics)) {
		g, w := got.Metrics[i], want.Metrics[i]
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if string(gj) != string(wj) {
			t.Errorf("metric %d differs:\naggregate: %s\nbenchmark: %s", i, gj, wj)
		}
		if w.Count != "" && w.Count != "0" {
			nonEmpty[w.Name] = true
		}
		if w.Name == "tracked_samples_completed" && w.Value != "300" {
			t.Errorf("tracked_samples_completed = %s, want 300", w.Value)
		}
	}
	for _, name := range []string{"ttft_ns", "sample_latency_ns", "tpot_ns", "chunk_delta_ns", "isl", "osl", "issue_lateness_ns"} {
		if !nonEmpty[name] {
			t.Errorf("series %s is empty: the comparison proves nothing for it", name)
		}
	}
}
