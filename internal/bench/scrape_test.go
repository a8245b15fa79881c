package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/scrape"
)

// dcgmExporter serves a DCGM exporter page: constant power on each GPU.
func dcgmExporter(t *testing.T, gpus int, watts float64) string {
	t.Helper()
	var b strings.Builder
	for _, fam := range []struct {
		name string
		v    float64
	}{{"DCGM_FI_DEV_GPU_UTIL", 87}, {"DCGM_FI_DEV_FB_USED", 61234}, {"DCGM_FI_DEV_POWER_USAGE", watts}} {
		fmt.Fprintf(&b, "# HELP %s x\n# TYPE %s gauge\n", fam.name, fam.name)
		for i := range gpus {
			fmt.Fprintf(&b, "%s{gpu=\"%d\",UUID=\"GPU-%d\",device=\"nvidia%d\",modelName=\"NVIDIA H100 80GB HBM3\"} %g\n", fam.name, i, i, i, fam.v)
		}
	}
	page := b.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, page)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

// TestRun_ServerMetrics runs against the mock server (its /metrics has
// vLLM's names) and a fixture DCGM exporter at 300 W on 2 GPUs: the report's
// server view counts exactly the tokens the client counted, shows the
// queue, and its energy per output token is 600 W × window ÷ tokens; the
// live snapshots carry the server gauges; server.jsonl holds the scrapes.
func TestRun_ServerMetrics(t *testing.T) {
	const (
		osl  = 16
		conc = 6
		n    = 60
	)
	url, _ := startMock(t, mockserver.Config{TTFT: 20 * time.Millisecond, TPOT: 2 * time.Millisecond, OutputTokens: osl, MaxConcurrent: 4})
	dcgm := dcgmExporter(t, 2, 300)
	cfg := baseConfig(t, url)
	cfg.Load.Mode = string(loadgen.ModeConcurrency)
	cfg.Load.Concurrency = conc
	cfg.Metrics.ServerMetrics = []string{url + "/metrics", dcgm}
	cfg.Metrics.PublishInterval = 200 * time.Millisecond // the scrape period
	var live atomic.Int64
	var maxWaiting atomic.Int64
	out := run(t, cfg, synthetic(t, n), func(r *bench.Runner) {
		r.OnSnapshot = func(s metrics.Snapshot) {
			if s.State == metrics.StateLive && s.Server != nil && s.Server.PowerW == 600 {
				live.Add(1)
				if w := int64(s.Server.Waiting); w > maxWaiting.Load() {
					maxWaiting.Store(w)
				}
			}
		}
	})
	v := out.Report.Server
	if v == nil {
		t.Fatal("report has no server view")
	}
	fams := []string{v.Targets[0].Family, v.Targets[1].Family}
	// A tick scrape may time out on a loaded machine; the window's ends
	// have longer and must not.
	if !slices.Equal(fams, []string{"vllm", "dcgm"}) || v.Failures > v.Scrapes/4 {
		t.Fatalf("targets %+v, failures %d (%s)", v.Targets, v.Failures, v.LastError)
	}
	clientOut := *v.GenerationTokens.Client
	if v.GenerationTokens.Server != clientOut || clientOut != n*osl {
		t.Errorf("generation tokens server %v client %v, want both %d", v.GenerationTokens.Server, clientOut, n*osl)
	}
	if v.PromptTokens == nil || v.PromptTokens.Server <= 0 {
		t.Errorf("prompt tokens %+v", v.PromptTokens)
	}
	// 6 concurrent requests on 4 slots: 4 run and 2 wait at times.
	if v.Running == nil || v.Running.Max != 4 || v.Waiting == nil || v.Waiting.Max != 2 {
		t.Errorf("running %+v waiting %+v, want max 4 and 2", v.Running, v.Waiting)
	}
	if v.TTFT == nil || v.TTFT.Count != n || v.TTFT.ServerP50 == nil || v.TTFT.ClientP50 == nil {
		t.Errorf("TTFT %+v", v.TTFT)
	}
	// Energy: 600 W over the window, whatever the scrape times.
	if v.EnergyJ == nil || math.Abs(*v.EnergyJ-600*v.WindowS) > 1e-6 {
		t.Errorf("energy %v J, want 600 W × %v s", v.EnergyJ, v.WindowS)
	}
	want := 600 * v.WindowS / (n * osl)
	if v.EnergyPerTokenJ == nil || math.Abs(*v.EnergyPerTokenJ-want) > 1e-9 {
		t.Errorf("energy per token %v, want %v", v.EnergyPerTokenJ, want)
	}
	// The window is the tracking window, seen from the scraper.
	tracked := float64(out.Final.CounterInt(metrics.TrackedDuration)) / 1e9
	if math.Abs(v.WindowS-tracked) > 0.05+0.1*tracked {
		t.Errorf("window %v s, tracked duration %v s", v.WindowS, tracked)
	}
	if len(v.GPUs) != 2 || v.GPUs[0].PowerW.Max != 300 || v.GPUs[1].UtilPct.Mean != 87 {
		t.Errorf("GPUs %+v", v.GPUs)
	}
	if live.Load() == 0 {
		t.Error("no live snapshot carried the server gauges")
	}
	if maxWaiting.Load() > 2 {
		t.Errorf("live waiting %d, want at most 2", maxWaiting.Load())
	}
	data, err := os.ReadFile(rundir.ServerMetrics(out.Dir))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Count(data, []byte("\n"))
	if int64(lines) != v.Scrapes || lines < 4 {
		t.Errorf("server.jsonl has %d lines, %d scrapes", lines, v.Scrapes)
	}
	var text bytes.Buffer
	if err := out.Report.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Server view", "Requests waiting:", "energy per output token", "GPU 1:"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("report text lacks %q:\n%s", s, text.String())
		}
	}
}

// TestRun_ServerMetricsFailures: a target that fails mid-run (HTTP 500),
// answers garbage, or sends a body over the bound makes warnings, never a
// failed run.
func TestRun_ServerMetricsFailures(t *testing.T) {
	huge := strings.Repeat("# a comment line to make the body long enough\n", 400_000) // ~19 MB
	tests := []struct {
		name string
		page func(n int64) (int, string)
		want string
	}{
		{"fails mid-run", func(n int64) (int, string) {
			if n >= 3 {
				return 500, "down"
			}
			return 200, "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 1\n"
		}, "HTTP 500"},
		{"garbage", func(int64) (int, string) { return 200, "{\"not\": \"prometheus\"}\n\x00" }, "parse"},
		{"huge", func(int64) (int, string) { return 200, huge }, "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var hits atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				code, body := tc.page(hits.Add(1))
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.WriteHeader(code)
				fmt.Fprint(w, body)
			}))
			defer srv.Close()
			url, _ := startMock(t, mockserver.Config{TTFT: 10 * time.Millisecond, OutputTokens: 4})
			cfg := baseConfig(t, url)
			cfg.Load.Mode = string(loadgen.ModeConcurrency)
			cfg.Load.Concurrency = 2
			cfg.Load.MinDuration = 400 * time.Millisecond
			cfg.Metrics.ServerMetrics = []string{srv.URL + "/metrics"}
			out := run(t, cfg, synthetic(t, 10), nil)
			if !out.Report.Complete || out.Report.Failed != 0 {
				t.Errorf("run: complete %v failed %d", out.Report.Complete, out.Report.Failed)
			}
			v := out.Report.Server
			if v == nil || v.Failures == 0 {
				t.Fatalf("server view %+v, want failures", v)
			}
			found := false
			for _, w := range out.Report.Warnings {
				found = found || strings.Contains(w, "scrapes failed")
			}
			if !found {
				t.Errorf("no scrape warning in %q", out.Report.Warnings)
			}
			f, err := os.Open(rundir.ServerMetrics(out.Dir))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// Each failure is a line with its error (a tick scrape may
			// also time out on a loaded machine).
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, scrape.MaxLine)
			seen := false
			for sc.Scan() {
				seen = seen || strings.Contains(sc.Text(), tc.want)
			}
			if err := sc.Err(); err != nil {
				t.Error(err)
			}
			if !seen {
				t.Errorf("no scrape failed with %q in %s", tc.want, rundir.ServerMetricsFile)
			}
		})
	}
}

// TestPreflight_ServerMetricsDefault: by default the endpoint's /metrics is
// scraped when it answers in the probe (the mock's is vLLM's family); off
// turns it off; a server without /metrics leaves it off.
func TestPreflight_ServerMetricsDefault(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{})
	bare := httptest.NewServer(http.NotFoundHandler())
	defer bare.Close()
	for _, tc := range []struct {
		name     string
		endpoint string
		set      []string
		want     []string
		kind     scrape.Kind
	}{
		{"default, /v1 endpoint", url + "/v1", nil, []string{url + "/metrics"}, scrape.KindVLLM},
		{"off", url, []string{config.ServerMetricsOff}, nil, ""},
		{"no /metrics", bare.URL, nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t, tc.endpoint)
			cfg.Metrics.ServerMetrics = tc.set
			r, err := bench.New(cfg, synthetic(t, 1), nil, quiet())
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if err := r.Preflight(context.Background()); err != nil {
				t.Fatal(err)
			}
			urls, kinds := r.ServerMetrics()
			if !slices.Equal(urls, tc.want) {
				t.Errorf("urls %q, want %q", urls, tc.want)
			}
			if tc.kind != "" && (len(kinds) != 1 || kinds[0] != tc.kind) {
				t.Errorf("kinds %q, want %q", kinds, tc.kind)
			}
		})
	}
}
