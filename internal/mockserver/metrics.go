package mockserver

import (
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// serverMetrics is the server's own Prometheus metrics, served at GET
// /metrics under vLLM's names so that a benchmark's server view can be
// tried against the mock: requests running (generating) and waiting (in the
// MaxConcurrent queue), prompt and generation token counters, and
// histograms of the time to first token (from arrival, queue included) and
// of the end-to-end latency. Everything is from the server's real state.
type serverMetrics struct {
	reg              *prometheus.Registry
	handler          http.Handler
	running, waiting atomic.Int64
	promptTokens     prometheus.Counter
	genTokens        prometheus.Counter
	ttft, e2e        prometheus.Histogram
}

// vLLM's TTFT buckets, in seconds.
var ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80}

// vLLM's end-to-end latency buckets, in seconds.
var e2eBuckets = []float64{0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120}

func newServerMetrics(model string) *serverMetrics {
	m := &serverMetrics{reg: prometheus.NewRegistry()}
	labels := prometheus.Labels{"model_name": model}
	gauge := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(v.Load()) })
	}
	m.promptTokens = prometheus.NewCounter(prometheus.CounterOpts{Name: "vllm:prompt_tokens_total", Help: "Number of prefill tokens processed.", ConstLabels: labels})
	m.genTokens = prometheus.NewCounter(prometheus.CounterOpts{Name: "vllm:generation_tokens_total", Help: "Number of generation tokens processed.", ConstLabels: labels})
	m.ttft = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vllm:time_to_first_token_seconds", Help: "Histogram of time to first token in seconds.", ConstLabels: labels, Buckets: ttftBuckets})
	m.e2e = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vllm:e2e_request_latency_seconds", Help: "Histogram of e2e request latency in seconds.", ConstLabels: labels, Buckets: e2eBuckets})
	m.reg.MustRegister(
		gauge("vllm:num_requests_running", "Number of requests in model execution batches.", &m.running),
		gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", &m.waiting),
		m.promptTokens, m.genTokens, m.ttft, m.e2e,
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// firstToken records a request's time to first token.
func (m *serverMetrics) firstToken(received time.Time) {
	m.ttft.Observe(time.Since(received).Seconds())
}

// done records a request that completed with its tokens.
func (m *serverMetrics) done(received time.Time, prompt, generated int) {
	m.promptTokens.Add(float64(prompt))
	m.genTokens.Add(float64(generated))
	m.e2e.Observe(time.Since(received).Seconds())
}
