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
func BenchmarkDoNonStreaming(b *testing.B) {
	body := `{"id":"cmpl-1","object":"chat.completion","created":1732000000,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox jumps over the lazy dog."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":10,"total_tokens":22}}`
	addr := cannedServer(b, httpResponse("application/json", body))
	cfg := client.DefaultConfig()
	cfg.Endpoint = addr
	cfg.Model = "m"
	c, err := client.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := &client.Request{Prompt: "Write one sentence about a fox and a dog, please."}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Do(ctx, req, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkDoStreaming is BenchmarkDoNonStreaming with a 100-chunk SSE response.
func BenchmarkDoStreaming(b *testing.B) {
	stream, _ := llamaStream(100)
	addr := cannedServer(b, httpResponse("text/event-stream", stream))
	cfg := client.DefaultConfig()
	cfg.Endpoint = addr
	cfg.Model = "m"
	cfg.Streaming = true
	c, err := client.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := &client.Request{Prompt: "Write about a fox."}
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
}
