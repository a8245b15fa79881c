package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
)

// TestReport_rebuildKeepsGoodput: the report of a --goodput run whose final
// snapshot is gone is rebuilt from requests.jsonl with the goodput rule of
// its config.yaml, and counts the same good requests the run counted.
func TestReport_rebuildKeepsGoodput(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 5 * time.Millisecond, SlowRate: 0.3, SlowTTFT: time.Second,
		OutputTokens: 4, Seed: 3})
	dir := filepath.Join(shortDir(t), "run")
	if code, _, stderr := runInferbench(t, "benchmark", "offline", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "40", "--report-dir", dir, "--no-tui", "--goodput", "ttft<=500ms"); code != 0 {
		t.Fatalf("benchmark exit %d: %s", code, stderr)
	}
	type goodput struct {
		Good      int64 `json:"n_samples_good"`
		Completed int64 `json:"completed"`
	}
	var ran struct {
		Goodput *goodput `json:"goodput"`
	}
	data, err := os.ReadFile(filepath.Join(dir, rundir.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &ran); err != nil || ran.Goodput == nil || ran.Goodput.Good == 0 || ran.Goodput.Good == ran.Goodput.Completed {
		t.Fatalf("the run's summary: goodput %+v (%v), want some good and some not", ran.Goodput, err)
	}
	if err := os.Remove(filepath.Join(dir, rundir.MetricsDir, rundir.FinalFile)); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runInferbench(t, "report", dir, "--json")
	if code != 0 {
		t.Fatalf("report exit %d: %s", code, stderr)
	}
	var rebuilt struct {
		Goodput     *goodput `json:"goodput"`
		RebuiltFrom []string `json:"rebuilt_from"`
	}
	if err := json.Unmarshal([]byte(stdout), &rebuilt); err != nil {
		t.Fatalf("report --json: %v\n%s", err, stdout)
	}
	if len(rebuilt.RebuiltFrom) == 0 {
		t.Fatalf("the report was not rebuilt:\n%s", stdout)
	}
	if rebuilt.Goodput == nil || *rebuilt.Goodput != *ran.Goodput {
		t.Errorf("rebuilt goodput %+v, the run's %+v", rebuilt.Goodput, *ran.Goodput)
	}
}
