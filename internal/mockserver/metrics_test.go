package mockserver_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// TestServer_Metrics: /metrics exports the server's real state under vLLM's
// names: with one slot and three slow requests, one runs and two wait; once
// done, the token counters and the TTFT histogram count them.
func TestServer_Metrics(t *testing.T) {
	t.Parallel()
	_, base := start(t, mockserver.Config{TTFT: 300 * time.Millisecond, OutputTokens: 4, MaxConcurrent: 1})
	gather := func() map[string]float64 {
		t.Helper()
		resp, err := http.Get(base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
		if err != nil {
			t.Fatalf("parse /metrics: %v\n%s", err, body)
		}
		out := map[string]float64{}
		for name, mf := range fams {
			for _, m := range mf.Metric {
				switch {
				case m.Gauge != nil:
					out[name] = m.Gauge.GetValue()
				case m.Counter != nil:
					out[name] = m.Counter.GetValue()
				case m.Histogram != nil:
					out[name] = float64(m.Histogram.GetSampleCount())
				}
			}
		}
		return out
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			body := `{"model":"m","prompt":"one two three","max_tokens":4,"stream":true}`
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/v1/completions", strings.NewReader(body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	var m map[string]float64
	for {
		m = gather()
		if m["vllm:num_requests_running"] == 1 && m["vllm:num_requests_waiting"] == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never saw 1 running and 2 waiting: %v", m)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	m = gather()
	want := map[string]float64{
		"vllm:num_requests_running":        0,
		"vllm:num_requests_waiting":        0,
		"vllm:generation_tokens_total":     12,
		"vllm:time_to_first_token_seconds": 3,
		"vllm:e2e_request_latency_seconds": 3,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if m["vllm:prompt_tokens_total"] <= 0 {
		t.Errorf("vllm:prompt_tokens_total = %v, want > 0", m["vllm:prompt_tokens_total"])
	}
}
