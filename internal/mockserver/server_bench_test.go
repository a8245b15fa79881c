package mockserver_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// benchServe starts cfg on a loopback listener for the benchmark's lifetime
// and returns its base URL and a keep-alive client.
func benchServe(b *testing.B, cfg mockserver.Config) (string, *http.Client) {
	b.Helper()
	srv, err := mockserver.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx, ln); close(done) }()
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, DisableCompression: true}
	b.Cleanup(func() { tr.CloseIdleConnections(); cancel(); <-done })
	return "http://" + ln.Addr().String(), &http.Client{Transport: tr}
}

// runLoopback issues b.N POSTs from parallel keep-alive clients and reports
// req/s. The client shares the CPU with the server, so the figure is a
// lower bound of the server's own rate.
func runLoopback(b *testing.B, url string, c *http.Client, body []byte) {
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	begin := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "req/s")
}

var (
	benchChat       = []byte(`{"model":"m","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Explain the difference between a process and a thread in two sentences."}],"max_tokens":16}`)
	benchChatStream = []byte(`{"model":"m","messages":[{"role":"user","content":"Explain the difference between a process and a thread in two sentences."}],"max_tokens":16,"stream":true,"stream_options":{"include_usage":true}}`)
	benchComplIDs   = []byte(`{"model":"m","prompt":[128000,849,21435,279,6811,1990,264,1920,323,264,4617,304,1403,23719,13],"max_tokens":16,"stream":true}`)
)

func BenchmarkServeNonStreaming(b *testing.B) {
	url, c := benchServe(b, mockserver.Config{})
	runLoopback(b, url+"/v1/chat/completions", c, benchChat)
}

// BenchmarkServeStreaming streams 16 one-token chunks plus the finish and
// usage events per request.
func BenchmarkServeStreaming(b *testing.B) {
	url, c := benchServe(b, mockserver.Config{})
	runLoopback(b, url+"/v1/chat/completions", c, benchChatStream)
}

// discardWriter is a minimal http.ResponseWriter and http.Flusher that
// keeps nothing, so the handler benchmark measures only the handler.
type discardWriter struct {
	h      http.Header
	n      int
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Flush()                      {}

// BenchmarkHandler runs the handler without a network, to show its own
// cost and allocations per request.
func BenchmarkHandler(b *testing.B) {
	cases := []struct {
		name, path string
		body       []byte
	}{
		{"chat", "/v1/chat/completions", benchChat},
		{"chat-stream", "/v1/chat/completions", benchChatStream},
		{"completions-stream-ids", "/v1/completions", benchComplIDs},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			srv, err := mockserver.New(mockserver.Config{})
			if err != nil {
				b.Fatal(err)
			}
			h := srv.Handler()
			rd := bytes.NewReader(tc.body)
			req, err := http.NewRequest(http.MethodPost, "http://mock"+tc.path, rd)
			if err != nil {
				b.Fatal(err)
			}
			req.Body = io.NopCloser(rd)
			w := &discardWriter{h: make(http.Header)}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rd.Reset(tc.body)
				clear(w.h)
				w.n = 0
				w.status = 0
				h.ServeHTTP(w, req)
			}
			if w.status != 0 && w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
			b.ReportMetric(float64(w.n), "last-bytes")
		})
	}
}
