package cli_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
)

// TestProbe_Metrics: probe says whether the server exposes /metrics and
// which family; the mock's are vLLM's.
func TestProbe_Metrics(t *testing.T) {
	url := startMock(t, mockserver.Config{OutputTokens: 4})
	code, stdout, stderr := runInferbench(t, "probe", "--endpoint", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "metrics:   "+url+"/metrics: vllm (") {
		t.Errorf("probe output lacks the metrics line:\n%s", stdout)
	}
}

// TestBenchmark_ServerMetrics: by default a benchmark scrapes the
// endpoint's /metrics, says so, records the resolved URL in config.yaml and
// writes the server view into result_summary.json and report.txt.
func TestBenchmark_ServerMetrics(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 5 * time.Millisecond, OutputTokens: 8})
	dir := shortDir(t)
	code, stdout, stderr := runInferbench(t, "benchmark", "concurrency", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "30", "--input-len", "16", "--output-len", "8", "--concurrency", "3", "--no-tui", "--report-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "server metrics from "+url+"/metrics (vllm)") {
		t.Errorf("no server metrics note in:\n%s", stderr)
	}
	if !strings.Contains(stdout, "Server view") || !strings.Contains(stdout, "Generation tokens:         server 240  client 240") {
		t.Errorf("report lacks the server view:\n%s", stdout)
	}
	cfg, err := config.Load(rundir.Config(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Metrics.ServerMetrics) != 1 || cfg.Metrics.ServerMetrics[0] != url+"/metrics" {
		t.Errorf("config.yaml server_metrics %q", cfg.Metrics.ServerMetrics)
	}
	data, err := os.ReadFile(rundir.Summary(dir))
	if err != nil {
		t.Fatal(err)
	}
	var sum struct {
		Server struct {
			Targets []struct{ Family string }
			Gen     struct{ Server, Client float64 } `json:"generation_tokens"`
		}
	}
	if err := json.Unmarshal(data, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Server.Targets) != 1 || sum.Server.Targets[0].Family != "vllm" || sum.Server.Gen.Server != 240 || sum.Server.Gen.Client != 240 {
		t.Errorf("result_summary.json server: %+v", sum.Server)
	}
	if _, err := os.Stat(rundir.ServerMetrics(dir)); err != nil {
		t.Error(err)
	}
	// inferbench report rebuilds the server view from server.jsonl.
	code, stdout, stderr = runInferbench(t, "report", dir)
	if code != 0 || !strings.Contains(stdout, "Generation tokens:         server 240  client 240") {
		t.Errorf("report %s: exit %d, %s\n%s", dir, code, stderr, stdout)
	}

	// Off: no scraping, no file, no section.
	dir2 := shortDir(t)
	code, stdout, stderr = runInferbench(t, "benchmark", "concurrency", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "5", "--input-len", "16", "--output-len", "8", "--concurrency", "1", "--no-tui", "--report-dir", dir2, "--server-metrics", "off")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "Server view") || strings.Contains(stderr, "server metrics from") {
		t.Errorf("--server-metrics off still scraped:\n%s\n%s", stdout, stderr)
	}
	if _, err := os.Stat(rundir.ServerMetrics(dir2)); err == nil {
		t.Error("--server-metrics off wrote server.jsonl")
	}
}
