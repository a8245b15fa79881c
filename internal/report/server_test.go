package report_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
)

func fp(v float64) *float64 { return &v }

// serverView is a view with every field: a vLLM server and a DCGM exporter.
func serverView() *metrics.ServerView {
	return &metrics.ServerView{
		Targets: []metrics.ServerTarget{
			{URL: "http://127.0.0.1:8000/metrics", Family: "vllm", Scrapes: 41, Failures: 1},
			{URL: "http://127.0.0.1:9400/metrics", Family: "dcgm", Scrapes: 41},
		},
		WindowS: 10, Scrapes: 82, Failures: 1, LastError: "GET http://127.0.0.1:8000/metrics: HTTP 503",
		Running:          &metrics.GaugeStat{Mean: 12.5, Max: 16},
		Waiting:          &metrics.GaugeStat{Mean: 3.25, Max: 9},
		KVCache:          &metrics.GaugeStat{Mean: 0.4125, Max: 0.75},
		PrefixHitRate:    fp(0.5),
		PromptTokens:     &metrics.TokenCount{Server: 51200, Client: fp(51200)},
		GenerationTokens: &metrics.TokenCount{Server: 25600, Client: fp(25590)},
		TTFT:             &metrics.LatencyCompare{Count: 200, ServerP50: fp(0.08), ServerP99: fp(0.175), ClientP50: fp(0.0852), ClientP99: fp(0.19)},
		TPOT:             &metrics.LatencyCompare{Count: 25400, ServerP50: fp(0.013), ServerP99: fp(0.0475)},
		GPUs: []metrics.GPUStat{
			{GPU: "0", Target: "http://127.0.0.1:9400/metrics", UtilPct: &metrics.GaugeStat{Mean: 87, Max: 99}, MemMiB: &metrics.GaugeStat{Mean: 70000, Max: 71000}, PowerW: &metrics.GaugeStat{Mean: 300, Max: 350}, EnergyJ: fp(3000)},
		},
		EnergyJ: fp(3000), EnergyPerTokenJ: fp(3000.0 / 25590),
	}
}

// The "Server view" section, text (golden) and JSON (the "server" object
// the HTML report renders).
func TestWriteText_Server(t *testing.T) {
	s := snapshot(t, metrics.StateComplete, 0)
	r := report.Build(&s)
	r.Version = "test"
	r.Server = serverView()
	var buf bytes.Buffer
	if err := r.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	start := bytes.Index(buf.Bytes(), []byte("------------------- Server view"))
	end := bytes.Index(buf.Bytes(), []byte("------------------- Latency Breakdowns"))
	if start < 0 || end < start {
		t.Fatalf("no server view before the breakdowns:\n%s", buf.String())
	}
	got := buf.Bytes()[start:end]
	golden := filepath.Join("testdata", "TestWriteText_Server.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("server view differs from %s (run with -update after reviewing):\n%s", golden, got)
	}
	data, err := r.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Server metrics.ServerView `json:"server"`
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Server.GPUs[0].PowerW.Max != 350 || *back.Server.EnergyPerTokenJ != 3000.0/25590 || back.Server.Targets[1].Family != "dcgm" {
		t.Errorf("server JSON round trip: %+v", back.Server)
	}
}
