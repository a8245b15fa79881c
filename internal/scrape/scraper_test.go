package scrape_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/scrape"
)

// pages is a /metrics server whose page the test sets, counting the GETs.
type pages struct {
	mu   sync.Mutex
	body []byte
	code int
}

func (p *pages) set(body []byte, code int) {
	p.mu.Lock()
	p.body, p.code = body, code
	p.mu.Unlock()
}

func (p *pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	body, code := p.body, p.code
	p.mu.Unlock()
	if code != 0 && code != http.StatusOK {
		http.Error(w, "down", code)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	_, _ = w.Write(body)
}

// waitScrape waits until the scraper has recorded a scrape after the one
// whose live gauges were prev (each scrape stores new live gauges), and
// returns the new ones.
func waitScrape(t *testing.T, s *scrape.Scraper, prev *metrics.ServerGauges) *metrics.ServerGauges {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if g := s.Live(); g != prev {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatal("no scrape within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// startScraper runs a scraper with cfg until stop, which wants Run to end
// without an error; it returns once the first scrape is done, with its
// gauges.
func startScraper(t *testing.T, cfg scrape.Config) (s *scrape.Scraper, first *metrics.ServerGauges, stop func()) {
	t.Helper()
	s, err := scrape.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	g := s.Live()
	go func() { done <- s.Run(ctx) }()
	return s, waitScrape(t, s, g), func() {
		t.Helper()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func f(v float64) *float64 { return &v }

// runWindow runs a scraper on the URLs, opens the window on the first page
// set, then calls between (which changes the pages), closes it and returns
// the summary and the server.jsonl lines. The interval is long: only the
// first scrape and the window's marks scrape.
func runWindow(t *testing.T, urls []string, between func()) (*metrics.ServerView, []map[string]any) {
	t.Helper()
	var out bytes.Buffer
	s, g, stop := startScraper(t, scrape.Config{Targets: urls, Interval: time.Hour, Timeout: 5 * time.Second, Out: &out})
	s.StartWindow()
	g = waitScrape(t, s, g)
	between()
	s.StopWindow()
	waitScrape(t, s, g)
	stop()
	// The file rebuilds the same summary (inferbench report does).
	live := s.Summary()
	replayed, bad, err := scrape.Read(bytes.NewReader(out.Bytes()))
	if err != nil || bad != 0 {
		t.Fatalf("Read(server.jsonl): %v, %d bad lines", err, bad)
	}
	near := cmp.Comparer(func(a, b float64) bool { return a == b || math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) })
	if d := cmp.Diff(live, replayed, near); d != "" {
		t.Errorf("summary rebuilt from server.jsonl differs (-live +file):\n%s", d)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(&out)
	sc.Buffer(nil, scrape.MaxLine)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("server.jsonl line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return s.Summary(), lines
}

// TestScraper_VLLMFixture scrapes a vLLM /metrics page (real metric names;
// testdata/vllm_start.txt then vllm_end.txt) at the window's start and end
// and checks every number of the summary against the fixtures' arithmetic.
func TestScraper_VLLMFixture(t *testing.T) {
	t.Parallel()
	p := &pages{body: readFile(t, "vllm_start.txt")}
	srv := httptest.NewServer(p)
	defer srv.Close()
	url := srv.URL + "/metrics"
	v, lines := runWindow(t, []string{url}, func() { p.set(readFile(t, "vllm_end.txt"), 200) })

	// Fixture arithmetic (start → end):
	//   running 2 → 6, waiting 0 → 3, KV 0.1 → 0.5: mean of the two scrapes, max;
	//   prefix hits 250 → 1250 over queries 1000 → 3000: 1000/2000 = 0.5;
	//   prompt tokens 5000 → 15000, generation 2000 → 6000;
	//   TTFT bucket deltas over le 0.06/0.08/0.1/0.25 = 20/50/98/100 of 100:
	//     p50 = 0.08, p99 = 0.1 + 0.15·(99−98)/(100−98) = 0.175;
	//   ITL deltas 40/90/100 at le 0.01/0.025/0.05:
	//     p50 = 0.01 + 0.015·10/50 = 0.013, p99 = 0.025 + 0.025·9/10 = 0.0475;
	//   e2e deltas 10/50/90/100 at le 0.8/1/1.5/2:
	//     p50 = 0.8 + 0.2·40/40 = 1.0, p99 = 1.5 + 0.5·9/10 = 1.95.
	want := &metrics.ServerView{
		Targets:          []metrics.ServerTarget{{URL: url, Family: "vllm", Scrapes: 3}},
		Scrapes:          3,
		Running:          &metrics.GaugeStat{Mean: 4, Max: 6},
		Waiting:          &metrics.GaugeStat{Mean: 1.5, Max: 3},
		KVCache:          &metrics.GaugeStat{Mean: 0.3, Max: 0.5},
		PrefixHitRate:    f(0.5),
		PromptTokens:     &metrics.TokenCount{Server: 10000},
		GenerationTokens: &metrics.TokenCount{Server: 4000},
		TTFT:             &metrics.LatencyCompare{Count: 100, ServerP50: f(0.08), ServerP99: f(0.175)},
		TPOT:             &metrics.LatencyCompare{Count: 100, ServerP50: f(0.013), ServerP99: f(0.0475)},
		Latency:          &metrics.LatencyCompare{Count: 100, ServerP50: f(1.0), ServerP99: f(1.95)},
	}
	if !(v.WindowS > 0) {
		t.Errorf("window %v s, want > 0", v.WindowS)
	}
	v.WindowS = 0
	approx := cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) })
	if d := cmp.Diff(want, v, approx); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}

	// The client's side and the energy come from the final snapshot.
	snap := metrics.Snapshot{Metrics: []metrics.Metric{
		{Kind: metrics.KindSeries, Name: metrics.SeriesISL, Count: 100, Total: metrics.Int(9000)},
		{Kind: metrics.KindSeries, Name: metrics.SeriesOSL, Count: 100, Total: metrics.Int(4000)},
		{Kind: metrics.KindSeries, Name: metrics.SeriesTTFT, Count: 100, Total: metrics.Int(1),
			Percentiles: []metrics.Percentile{{Key: "99.0", Value: 2e8}, {Key: "50.0", Value: 9e7}}},
	}}
	v.SetClient(&snap)
	if got := *v.PromptTokens.Client; got != 9000 {
		t.Errorf("client prompt tokens %v, want 9000", got)
	}
	if got := *v.GenerationTokens.Client; got != 4000 {
		t.Errorf("client generation tokens %v, want 4000", got)
	}
	if *v.TTFT.ClientP50 != 0.09 || *v.TTFT.ClientP99 != 0.2 {
		t.Errorf("client TTFT p50/p99 %v/%v, want 0.09/0.2", *v.TTFT.ClientP50, *v.TTFT.ClientP99)
	}

	// server.jsonl: one line per scrape, only the table's families kept.
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	for i, w := range []string{"out", "start", "stop"} {
		if lines[i]["window"] != w || lines[i]["kind"] != "vllm" {
			t.Errorf("line %d: window %v kind %v, want %s vllm", i, lines[i]["window"], lines[i]["kind"], w)
		}
	}
	var names []string
	for n := range lines[2]["families"].(map[string]any) {
		names = append(names, n)
	}
	slices.Sort(names)
	wantNames := []string{
		"vllm:e2e_request_latency_seconds", "vllm:generation_tokens_total", "vllm:inter_token_latency_seconds",
		"vllm:kv_cache_usage_perc", "vllm:num_preemptions_total", "vllm:num_requests_running", "vllm:num_requests_waiting",
		"vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total", "vllm:prompt_tokens_total",
		"vllm:request_success_total", "vllm:time_to_first_token_seconds",
	}
	if d := cmp.Diff(wantNames, names); d != "" {
		t.Errorf("kept families (-want +got):\n%s", d)
	}
}

// dcgmPage is a DCGM exporter page with constant power on n GPUs.
func dcgmPage(n int, watts float64) []byte {
	var b strings.Builder
	for _, fam := range []struct {
		name, help string
		v          func(i int) float64
	}{
		{"DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", func(i int) float64 { return float64(50 + 10*i) }},
		{"DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).", func(i int) float64 { return 70000 }},
		{"DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", func(int) float64 { return watts }},
	} {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", fam.name, fam.help, fam.name)
		for i := range n {
			fmt.Fprintf(&b, "%s{gpu=\"%d\",UUID=\"GPU-%08d\",device=\"nvidia%d\",modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"node1\"} %g\n",
				fam.name, i, i, i, fam.v(i))
		}
	}
	return []byte(b.String())
}

// TestScraper_DCGMEnergy: 300 W on each of 2 GPUs over the window is
// 600 W × window of energy, whatever the scrape times.
func TestScraper_DCGMEnergy(t *testing.T) {
	t.Parallel()
	p := &pages{body: dcgmPage(2, 300)}
	srv := httptest.NewServer(p)
	defer srv.Close()
	v, _ := runWindow(t, []string{srv.URL + "/metrics"}, func() { time.Sleep(150 * time.Millisecond) })
	if v.Targets[0].Family != "dcgm" {
		t.Errorf("family %q, want dcgm", v.Targets[0].Family)
	}
	if len(v.GPUs) != 2 {
		t.Fatalf("%d GPUs, want 2", len(v.GPUs))
	}
	if v.WindowS < 0.15 {
		t.Errorf("window %v s, want ≥ 0.15", v.WindowS)
	}
	if want := 600 * v.WindowS; math.Abs(*v.EnergyJ-want) > 1e-9 {
		t.Errorf("energy %v J, want %v", *v.EnergyJ, want)
	}
	g := v.GPUs[1]
	if g.GPU != "1" || g.PowerW.Mean != 300 || g.UtilPct.Max != 60 || g.MemMiB.Mean != 70000 {
		t.Errorf("GPU 1: %+v util %+v mem %+v power %+v", g, *g.UtilPct, *g.MemMiB, *g.PowerW)
	}
	snap := metrics.Snapshot{Metrics: []metrics.Metric{{Kind: metrics.KindSeries, Name: metrics.SeriesOSL, Count: 10, Total: metrics.Int(1000)}}}
	v.SetClient(&snap)
	if want := 600 * v.WindowS / 1000; math.Abs(*v.EnergyPerTokenJ-want) > 1e-12 {
		t.Errorf("energy per token %v J, want %v", *v.EnergyPerTokenJ, want)
	}
}

// TestScraper_Failures: a scrape that fails (HTTP 500, garbage, a body over
// the bound, a refused connection) is counted and recorded; the next one
// works again.
func TestScraper_Failures(t *testing.T) {
	t.Parallel()
	huge := bytes.Repeat([]byte("x_total 1\n"), 300_000) // 3 MB
	for _, tc := range []struct {
		name    string
		page    []byte
		code    int
		maxBody int64
		want    string
	}{
		{"http 500", nil, 500, 0, "HTTP 500"},
		{"garbage", []byte("this is { not prometheus\n\x00\x01"), 200, 0, "no vllm metric family"},
		{"too large", huge, 200, 1 << 20, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &pages{body: readFile(t, "vllm_start.txt")}
			srv := httptest.NewServer(p)
			defer srv.Close()
			var out bytes.Buffer
			s, g, stop := startScraper(t, scrape.Config{Targets: []string{srv.URL}, Interval: time.Hour, MaxBody: tc.maxBody, Out: &out})
			p.set(tc.page, tc.code)
			s.StartWindow()
			g = waitScrape(t, s, g)
			if g.Failures != 1 {
				t.Errorf("live failures %d, want 1", g.Failures)
			}
			p.set(readFile(t, "vllm_end.txt"), 200)
			s.StopWindow()
			waitScrape(t, s, g)
			stop()
			v := s.Summary()
			if v.Failures != 1 || v.Scrapes != 3 || !strings.Contains(v.LastError, tc.want) {
				t.Errorf("failures %d of %d, last error %q; want 1 of 3 with %q", v.Failures, v.Scrapes, v.LastError, tc.want)
			}
			// The window holds the one good reading at its end: gauges, no deltas.
			if v.Running == nil || v.Running.Max != 6 {
				t.Errorf("running %+v, want max 6", v.Running)
			}
			if !strings.Contains(out.String(), `"error":`) {
				t.Errorf("server.jsonl has no error line:\n%.500s", out.String())
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		s, err := scrape.New(scrape.Config{Targets: []string{url}, Interval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := s.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if v := s.Summary(); v.Failures == 0 || v.Failures != v.Scrapes || v.Targets[0].Family != "unknown" {
			t.Errorf("refused target: %+v", v)
		}
	})
}

// TestScraper_UnknownServerCapped: an unknown server keeps its gauges and
// counters only, at most MaxUnknownSeries series a scrape, and a line stays
// under MaxLine even with huge label values.
func TestScraper_UnknownServerCapped(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 500 {
		fmt.Fprintf(&b, "# TYPE my_gauge_%03d gauge\nmy_gauge_%03d{l=\"%s\"} %d\n", i, i, strings.Repeat("v", 2000), i)
	}
	b.WriteString("# TYPE my_hist histogram\nmy_hist_bucket{le=\"+Inf\"} 1\nmy_hist_sum 1\nmy_hist_count 1\n")
	p := &pages{body: []byte(b.String())}
	srv := httptest.NewServer(p)
	defer srv.Close()
	_, lines := runWindow(t, []string{srv.URL}, func() {})
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	fams := lines[1]["families"].(map[string]any)
	if len(fams) > scrape.MaxUnknownSeries || len(fams) == 0 {
		t.Errorf("%d families kept, want 1..%d", len(fams), scrape.MaxUnknownSeries)
	}
	if _, ok := fams["my_hist"]; ok {
		t.Error("an unknown server's histogram was kept")
	}
	if lines[1]["truncated"] != true {
		t.Error("a line over MaxLine is not marked truncated")
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	p := &pages{body: readFile(t, "vllm_start.txt")}
	srv := httptest.NewServer(p)
	defer srv.Close()
	kind, n, err := scrape.Probe(context.Background(), nil, srv.URL+"/metrics")
	if err != nil || kind != scrape.KindVLLM || n != 17 {
		t.Errorf("Probe = %q, %d, %v; want vllm, 17, nil", kind, n, err)
	}
	p.set(nil, 404)
	if _, _, err := scrape.Probe(context.Background(), nil, srv.URL+"/metrics"); err == nil {
		t.Error("Probe of a 404 succeeded")
	}
	if _, err := scrape.Fetch(context.Background(), http.DefaultClient, srv.URL, 10); err == nil || errors.Is(err, scrape.ErrTooLarge) {
		t.Errorf("Fetch of a 404: %v", err)
	}
}

// TestScraper_LlamaCppFixture reads two pages of a real llama-server 0.7.0
// (--metrics), before and after a 12-request run: its prompt counter
// excludes the tokens reused from the cache, so the server's prompt tokens
// are processed + cached (842 + 46 = 888, what the client counted) and the
// prefix-cache hit rate cached ÷ that; it exports no KV-cache gauge.
func TestScraper_LlamaCppFixture(t *testing.T) {
	t.Parallel()
	p := &pages{body: readFile(t, "llamacpp_start.txt")}
	srv := httptest.NewServer(p)
	defer srv.Close()
	v, _ := runWindow(t, []string{srv.URL + "/metrics"}, func() { p.set(readFile(t, "llamacpp_end.txt"), 200) })
	if v.Targets[0].Family != "llamacpp" {
		t.Errorf("family %q", v.Targets[0].Family)
	}
	if v.PromptTokens == nil || v.PromptTokens.Server != 888 || v.GenerationTokens == nil || v.GenerationTokens.Server != 192 {
		t.Errorf("prompt %+v generation %+v, want 888 and 192", v.PromptTokens, v.GenerationTokens)
	}
	if v.PrefixHitRate == nil || math.Abs(*v.PrefixHitRate-46.0/888) > 1e-12 {
		t.Errorf("hit rate %v, want 46/888", v.PrefixHitRate)
	}
	if v.Running == nil || v.Waiting == nil || v.KVCache != nil {
		t.Errorf("running %+v waiting %+v KV %+v: want the request gauges and no KV cache", v.Running, v.Waiting, v.KVCache)
	}
}

// TestScraper_DCGMHeldAtEnds: the exporter fails the window's closing
// scrape while the server answers it: its GPUs are held at their last
// reading to the window's end, so the energy still covers the window.
func TestScraper_DCGMHeldAtEnds(t *testing.T) {
	t.Parallel()
	server := &pages{body: readFile(t, "vllm_start.txt")}
	dcgm := &pages{body: dcgmPage(2, 300)}
	s1, s2 := httptest.NewServer(server), httptest.NewServer(dcgm)
	defer s1.Close()
	defer s2.Close()
	v, _ := runWindow(t, []string{s1.URL + "/metrics", s2.URL + "/metrics"}, func() {
		time.Sleep(100 * time.Millisecond)
		dcgm.set(nil, http.StatusServiceUnavailable)
	})
	if v.Failures != 1 || v.WindowS < 0.1 {
		t.Fatalf("failures %d, window %v s; want 1 failure over ≥ 0.1 s", v.Failures, v.WindowS)
	}
	if want := 600 * v.WindowS; v.EnergyJ == nil || math.Abs(*v.EnergyJ-want) > 1e-9 {
		t.Errorf("energy %v J, want %v (held to the window's end)", v.EnergyJ, want)
	}
}
