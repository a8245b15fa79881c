package scrape

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// page200 is a vLLM-like /metrics page of 200 families: 150 gauges and
// counters and 50 histograms of 12 buckets, each with a model label; 20 of
// them are families of the table.
func page200() string {
	var b strings.Builder
	lab := `model_name="meta-llama/Llama-3.1-8B-Instruct",engine="0"`
	table := []string{"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
		"vllm:prefix_cache_hits_total", "vllm:prefix_cache_queries_total", "vllm:prompt_tokens_total", "vllm:generation_tokens_total"}
	for i := range 150 {
		name := fmt.Sprintf("vllm:extra_gauge_%03d", i)
		if i < len(table) {
			name = table[i]
		}
		fmt.Fprintf(&b, "# HELP %s Some help text for this family.\n# TYPE %s gauge\n%s{%s} %d.5\n", name, name, name, lab, i)
	}
	hists := []string{"vllm:time_to_first_token_seconds", "vllm:inter_token_latency_seconds", "vllm:e2e_request_latency_seconds"}
	for i := range 50 {
		name := fmt.Sprintf("vllm:extra_hist_%03d", i)
		if i < len(hists) {
			name = hists[i]
		}
		fmt.Fprintf(&b, "# HELP %s Histogram help.\n# TYPE %s histogram\n", name, name)
		for j, le := range []string{"0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "1.0", "+Inf"} {
			fmt.Fprintf(&b, "%s_bucket{le=\"%s\",%s} %d.0\n", name, le, lab, 100*j)
		}
		fmt.Fprintf(&b, "%s_count{%s} 1100.0\n%s_sum{%s} 93.25\n", name, lab, name, lab)
	}
	return b.String()
}

// cpuTime is the process's user+system CPU time: the machine running the
// benchmarks is shared, so wall time per op overstates the cost; the CPU
// time per op (reported as cpu-ns/op) is what the scraper takes from the
// client.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScrape is one scrape of a 200-family /metrics page (vLLM names,
// 10 of them in the table, 3 of those histograms): "parse-all" parses the
// whole page with expfmt, "filter+parse" cuts it to the table's families
// first (what the scraper does for a known server), and "scrape-*" is the
// scraper's whole work over loopback HTTP: GET, filter, parse, reduce, fold
// into the window, write the server.jsonl line. The scraper does one per
// target per publish interval (4/s at 250 ms): ticks, plus two window ends
// per run. cpu-ns/op counts the server's side too in "scrape-*" (it runs in
// this process) unless INFERBENCH_SCRAPE_URL names one outside.
func BenchmarkScrape(b *testing.B) {
	page := page200()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte(page))
	}))
	defer srv.Close()
	body := []byte(page)
	cpu := func(b *testing.B, f func()) {
		b.ReportAllocs()
		c0 := cpuTime()
		for b.Loop() {
			f()
		}
		b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
	}
	b.Run("parse-all", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		cpu(b, func() {
			if _, err := Parse(body); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("filter+parse", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		var dst []byte
		cpu(b, func() {
			dst = prefilter(dst, body, true)
			if _, err := Parse(dst); err != nil {
				b.Fatal(err)
			}
		})
	})
	// The scraper's own rounds, without Run's timer: a window end (the
	// opening and closing scrapes, histograms included) and a tick inside
	// the window (gauges and counters: the histograms are left out).
	// INFERBENCH_SCRAPE_URL points the scrape benchmarks at a server in
	// another process (serving the same page), so that cpu-ns/op is the
	// scraper's alone.
	url := srv.URL
	if u := os.Getenv("INFERBENCH_SCRAPE_URL"); u != "" {
		url = u
	}
	newScraper := func(b *testing.B) *Scraper {
		s, err := New(Config{Targets: []string{url}, Interval: time.Hour, Out: discard{}})
		if err != nil {
			b.Fatal(err)
		}
		s.begin = time.Now()
		return s
	}
	ctx := context.Background()
	b.Run("scrape-window-end", func(b *testing.B) {
		s := newScraper(b)
		i := 0
		cpu(b, func() {
			s.scrapeAll(ctx, []window{opening, closing}[i%2])
			i++
		})
	})
	b.Run("scrape-tick", func(b *testing.B) {
		s := newScraper(b)
		s.scrapeAll(ctx, opening)
		cpu(b, func() { s.scrapeAll(ctx, inside) })
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
