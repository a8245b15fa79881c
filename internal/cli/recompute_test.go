package cli_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
)

// rawRun writes a run directory holding a final snapshot and the kept raw
// values of one series; it returns the sorted values.
func rawRun(t *testing.T) (string, []int64) {
	t.Helper()
	dir := t.TempDir()
	reg := metrics.NewRegistry()
	if err := reg.EnableSpill(metrics.SpillConfig{Dir: filepath.Join(dir, "metrics", "raw"), BlockSize: 1000}); err != nil {
		t.Fatal(err)
	}
	s, _ := reg.NewSeries("chunk_delta_ns", metrics.SeriesOpts{})
	r := rand.New(rand.NewPCG(4, 2))
	vals := make([]int64, 54_321)
	for i := range vals {
		vals[i] = 100_000 + r.Int64N(50_000_000)
		s.Record(vals[i])
	}
	snap := reg.Snapshot(metrics.StateComplete, 0, 1)
	if err := reg.CloseSpill(false); err != nil {
		t.Fatal(err)
	}
	data, _ := snap.MarshalJSON()
	if err := os.WriteFile(filepath.Join(dir, "metrics", "final_snapshot.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	slices.Sort(vals)
	return dir, vals
}

type jsonReport struct {
	Warnings []string `json:"warnings"`
	Metrics  []struct {
		Name        string `json:"name"`
		Count       int64  `json:"count"`
		Percentiles []struct {
			Key   string  `json:"key"`
			Value float64 `json:"value"`
		} `json:"percentiles"`
	} `json:"metrics"`
}

// TestReport_Recompute: a new percentile grid from kept raw values, exact;
// a killed run (no snapshot at all) rebuilt from the raw files alone; and the
// usage errors.
func TestReport_Recompute(t *testing.T) {
	dir, vals := rawRun(t)
	code, out, errOut := runInferbench(t, "report", "--recompute", "--percentiles", "99.99,0.1", "--json", dir)
	var rep jsonReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Metrics) != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	want := map[string]int64{"99.99": vals[int(float64(len(vals)-1)*0.9999)], "0.1": vals[int(float64(len(vals)-1)*0.001)],
		"50.0": vals[(len(vals)-1)/2]}
	got := map[string]float64{}
	for _, p := range rep.Metrics[0].Percentiles {
		got[p.Key] = p.Value * 1e6 // the report is in ms
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || int64(g+0.5) != w {
			t.Errorf("p%s = %v ns, want %d (all: %v)", k, g, w, got)
		}
	}

	// Killed: no snapshot.
	if err := os.Remove(filepath.Join(dir, "metrics", "final_snapshot.json")); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runInferbench(t, "report", "--recompute", "--json", dir)
	rep = jsonReport{}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || len(rep.Metrics) != 1 || rep.Metrics[0].Count != int64(len(vals)) ||
		!strings.Contains(strings.Join(rep.Warnings, "\n"), "no snapshot") {
		t.Fatalf("killed run: exit %d\n%s\n%s", code, out, errOut)
	}

	empty := t.TempDir()
	for _, args := range [][]string{
		{"report", "--percentiles", "99", dir},
		{"report", "--recompute", "--percentiles", "99,abc", dir},
		{"report", "--recompute", empty},
	} {
		code, _, stderr := runInferbench(t, args...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, stderr)
		}
	}
}

// TestBenchmark_SIGKILLLeavesRawValues: a streamed run killed with SIGKILL
// leaves its spilled raw values (whole blocks), and `report --recompute`
// rebuilds the inter-chunk series from them without any snapshot.
func TestBenchmark_SIGKILLLeavesRawValues(t *testing.T) {
	url := startMock(t, mockserver.Config{OutputTokens: 200})
	dir := filepath.Join(shortDir(t), "run")
	c := startInferbench(t, "benchmark", "offline", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "100000", "--output-len", "200", "--report-dir", dir, "--no-tui")
	raw := filepath.Join(dir, "metrics", "raw", metrics.RawFileName("chunk_delta_ns"))
	waitFor(t, "a spilled block", 60*time.Second, func() bool {
		st, err := os.Stat(raw)
		return err == nil && st.Size() > 1000
	})
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.wait(t, 10*time.Second)
	if _, err := os.Stat(filepath.Join(dir, "metrics", "final_snapshot.json")); err == nil {
		t.Fatal("a SIGKILLed run wrote a final snapshot")
	}
	code, out, errOut := runInferbench(t, "report", "--recompute", "--json", dir)
	var rep jsonReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var gaps int64
	for _, m := range rep.Metrics {
		if m.Name == "chunk_delta_ns" {
			gaps = m.Count
		}
	}
	if gaps < metrics.DefaultSpillBlock || gaps%metrics.DefaultSpillBlock != 0 {
		t.Errorf("rebuilt %d chunk gaps, want whole blocks of %d", gaps, metrics.DefaultSpillBlock)
	}
}
