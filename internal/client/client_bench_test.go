package client_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/client"
)

// BenchmarkSSEParse reads, decodes and timestamps a recorded 1000-chunk
// llama-server chat stream held in memory.
func BenchmarkSSEParse(b *testing.B) {
	const chunks = 1000
	stream, text := llamaStream(chunks)
	r := strings.NewReader(stream)
	var obs counter
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r.Reset(stream)
		out, err := client.ReadStream(r, &obs)
		if err != nil || len(out.Text) != len(text) {
			b.Fatalf("ReadStream: %v, %d bytes of text, want %d", err, len(out.Text), len(text))
		}
	}
	b.ReportMetric(float64(b.N)*chunks/b.Elapsed().Seconds(), "chunks/s")
}

// cannedServer serves every HTTP/1.1 request on 127.0.0.1 with response,
// allocating nothing per request, so allocs/op count the client alone.
func cannedServer(b *testing.B, response string) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte(response)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serveCanned(conn, resp)
		}
	}()
	return "http://" + ln.Addr().String()
}

func serveCanned(conn net.Conn, resp []byte) {
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 16<<10)
	for {
		length := 0
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			const cl = "content-length:"
			if len(line) > len(cl) && strings.EqualFold(string(line[:len(cl)]), cl) {
				for _, c := range bytes.TrimSpace(line[len(cl):]) {
					length = length*10 + int(c-'0')
				}
			}
		}
		if _, err := br.Discard(length); err != nil {
			return
		}
		if _, err := conn.Write(resp); err != nil {
			return
		}
	}
}

func httpResponse(contentType, body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", contentType, len(body), body)
}

// BenchmarkDoNonStreaming measures a whole request and response over
// loopback keep-alive, one at a time: the client's per-request overhead.
// The sub-benchmarks compare the client's own HTTP/1.1 transport with
// net/http, which it replaced for http:// endpoints.
func BenchmarkDoNonStreaming(b *testing.B) {
	body := `{"id":"cmpl-1","object":"chat.completion","created":1732000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox jumps over the lazy dog."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":10,"total_tokens":22}}`
	addr := cannedServer(b, httpResponse("application/json", body))
	req := &client.Request{Prompt: "Write one sentence about a fox and a dog, please."}
	forEachTransport(b, addr, false, func(b *testing.B, c *client.Client) {
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := c.Do(ctx, req, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

// BenchmarkDoStreaming is BenchmarkDoNonStreaming with a 100-chunk SSE response.
func BenchmarkDoStreaming(b *testing.B) {
	stream, _ := llamaStream(100)
	addr := cannedServer(b, httpResponse("text/event-stream", stream))
	req := &client.Request{Prompt: "Write about a fox."}
	forEachTransport(b, addr, true, func(b *testing.B, c *client.Client) {
		ctx := context.Background()
		var obs counter
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, err := c.Do(ctx, req, &obs); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

// BenchmarkDoParallel is BenchmarkDoNonStreaming with 64 requests in flight
// over 64 connections, as in scripts/compare-speed.sh: it adds the pool's
// contention and waiting to the per-request cost.
func BenchmarkDoParallel(b *testing.B) {
	body := `{"id":"cmpl-1","object":"chat.completion","created":1732000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox jumps over the lazy dog."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":10,"total_tokens":22}}`
	addr := cannedServer(b, httpResponse("application/json", body))
	req := &client.Request{Prompt: "Write one sentence about a fox and a dog, please."}
	forEachTransport(b, addr, false, func(b *testing.B, c *client.Client) {
		ctx := context.Background()
		b.SetParallelism(32) // 64 goroutines on 2 CPUs
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Do(ctx, req, nil); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

// forEachTransport runs fn as sub-benchmarks with a Client for addr on the
// h1 transport and on net/http.
func forEachTransport(b *testing.B, addr string, streaming bool, fn func(*testing.B, *client.Client)) {
	for _, tr := range []string{"h1", "net_http"} {
		b.Run("transport="+tr, func(b *testing.B) {
			cfg := client.DefaultConfig()
			cfg.Endpoint = addr
			cfg.Model = "m"
			cfg.Streaming = streaming
			cfg.MaxConnections = 64
			c, err := client.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if tr == "net_http" {
				client.UseNetHTTP(c)
			}
			fn(b, c)
		})
	}
}
