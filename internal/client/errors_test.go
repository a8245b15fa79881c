package client_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/client"
)

// resetConn hijacks the request's connection, writes raw, and closes it with
// SO_LINGER 0 so the kernel sends a RST.
func resetConn(t *testing.T, w http.ResponseWriter, raw string) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	if raw != "" {
		buf.WriteString(raw)
		buf.Flush()
		time.Sleep(20 * time.Millisecond) // let the client read it before the RST
	}
	nc := conn
	if tc, ok := conn.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if err := nc.(*net.TCPConn).SetLinger(0); err != nil {
		t.Errorf("SetLinger: %v", err)
	}
	conn.Close()
}

const sseHeader = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"

// rawChunk frames s as one HTTP/1.1 chunk.
func rawChunk(s string) string { return fmt.Sprintf("%x\r\n%s\r\n", len(s), s) }

func TestClient_Do_errorClasses(t *testing.T) {
	firstChunk := chunk(`{"content":"partial"}`)
	tests := []struct {
		name       string
		handler    func(t *testing.T, w http.ResponseWriter, r *http.Request)
		edit       func(*client.Config)
		ctxTimeout time.Duration // cancels the caller's context
		want       client.Class
		wantStatus int
		wantText   string
		textPrefix bool // wantText is a prefix of the text
		wantBody   func(t *testing.T, body string)
		maxTime    time.Duration
	}{
		{
			name: "stall after the first chunk: read timeout",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, firstChunk)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			},
			edit:       func(c *client.Config) { c.ReadTimeout = 300 * time.Millisecond },
			want:       client.ClassTimeout,
			wantStatus: 200,
			wantText:   "partial",
			maxTime:    2 * time.Second,
		},
		{
			name: "stall before the headers: read timeout",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				// Returning would send an empty 200; once the client has
				// given up, hold that back so it cannot race the client's
				// own timeout (seen with net/http over TLS).
				<-r.Context().Done()
				time.Sleep(500 * time.Millisecond)
			},
			edit:    func(c *client.Config) { c.ReadTimeout = 300 * time.Millisecond },
			want:    client.ClassTimeout,
			maxTime: 2 * time.Second,
		},
		{
			name: "trickling stream: total timeout",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				for {
					io.WriteString(w, chunk(`{"content":"x"}`))
					w.(http.Flusher).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			},
			edit:       func(c *client.Config) { c.ReadTimeout = 2 * time.Second; c.TotalTimeout = 500 * time.Millisecond },
			want:       client.ClassTimeout,
			wantStatus: 200,
			wantText:   "x",
			textPrefix: true,
			maxTime:    1800 * time.Millisecond,
		},
		{
			name: "caller cancels",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, firstChunk)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			},
			ctxTimeout: 400 * time.Millisecond, // room for a TLS handshake under -race
			want:       client.ClassCanceled,
			wantStatus: 200,
			wantText:   "partial",
			maxTime:    2 * time.Second,
		},
		{
			name: "RST before the response",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				resetConn(t, w, "")
			},
			want: client.ClassConnectionReset,
		},
		{
			name: "RST in the middle of a stream",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				resetConn(t, w, sseHeader+rawChunk(firstChunk))
			},
			want:       client.ClassConnectionReset,
			wantStatus: 200,
			wantText:   "partial",
		},
		{
			name: "EOF in the middle of a chunked body",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				conn, buf, _ := w.(http.Hijacker).Hijack()
				buf.WriteString(sseHeader + rawChunk(firstChunk) + "40\r\ndata: {")
				buf.Flush()
				conn.Close()
			},
			want:       client.ClassConnectionReset,
			wantStatus: 200,
			wantText:   "partial",
		},
		{
			name: "500 with a long body",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				http.Error(w, `{"error":"model overloaded"}`+strings.Repeat(".", 2000), http.StatusInternalServerError)
			},
			want:       client.ClassHTTPStatus,
			wantStatus: 500,
			wantBody: func(t *testing.T, body string) {
				if len(body) != 512 || !strings.HasPrefix(body, `{"error":"model overloaded"}`) {
					t.Errorf("Body = %d bytes %.40q..., want the first 512 bytes", len(body), body)
				}
			},
		},
		{
			name: "malformed chunk",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, firstChunk+"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]\n\n"+done)
			},
			want:       client.ClassMalformed,
			wantStatus: 200,
			wantText:   "partial",
			wantBody: func(t *testing.T, body string) {
				if !strings.HasPrefix(body, `{"choices"`) {
					t.Errorf("Body = %q, want the offending chunk", body)
				}
			},
		},
		{
			name: "malformed non-streaming body",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `<html>bad gateway</html>`)
			},
			want:       client.ClassMalformed,
			wantStatus: 200,
		},
		{
			name: "error object in a 200 body",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, `{"error":{"message":"context length exceeded","code":400}}`)
			},
			want:       client.ClassServerError,
			wantStatus: 200,
		},
		{
			name: "error object in a stream",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, firstChunk+`data: {"error":{"message":"boom"}}`+"\n\n")
			},
			want:       client.ClassServerError,
			wantStatus: 200,
			wantText:   "partial",
		},
		{
			name: "200 stream without finish_reason or [DONE] (ollama)",
			handler: func(t *testing.T, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, firstChunk)
			},
			want:       client.ClassTruncated,
			wantStatus: 200,
			wantText:   "partial",
		},
	}
	for _, tc := range tests {
		for _, tr := range transports {
			t.Run(tr+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				srv := startServer(t, tr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					// Read the body first: only then does the server notice a closed
					// connection and cancel r.Context().
					io.Copy(io.Discard, r.Body)
					tc.handler(t, w, r)
				}))
				c := clientFor(t, tr, srv, func(c *client.Config) {
					c.Streaming = true
					if tc.edit != nil {
						tc.edit(c)
					}
				})
				ctx := context.Background()
				if tc.ctxTimeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
					defer cancel()
				}
				start := time.Now()
				out, err := c.Do(ctx, &client.Request{Prompt: "p"}, nil)
				elapsed := time.Since(start)
				t.Logf("error: %v", err)
				checkClass(t, err, tc.want)
				var e *client.Error
				errors.As(err, &e)
				if e.Status != tc.wantStatus {
					t.Errorf("Status = %d, want %d (%v)", e.Status, tc.wantStatus, err)
				}
				if out == nil || out.Text != tc.wantText && !(tc.textPrefix && strings.HasPrefix(out.Text, tc.wantText)) {
					t.Errorf("partial output = %+v, want text %q", out, tc.wantText)
				}
				if tc.wantBody != nil {
					tc.wantBody(t, e.Body)
				}
				if tc.maxTime > 0 && elapsed > tc.maxTime {
					t.Errorf("Do took %v, want under %v", elapsed, tc.maxTime)
				}
			})
		}
	}
}

func TestClient_Do_connectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens on addr now
	for _, tr := range []string{"h1", "net_http", "https"} {
		t.Run(tr, func(t *testing.T) {
			scheme := "http://"
			if tr == "https" {
				scheme = "https://"
			}
			c := newClient(t, scheme+addr, nil)
			if tr == "net_http" {
				client.UseNetHTTP(c)
			}
			start := time.Now()
			out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
			checkClass(t, err, client.ClassConnectRefused)
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("error %v does not wrap ECONNREFUSED", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("refused connect took %v", d)
			}
			if out == nil {
				t.Error("nil Output on error")
			}
		})
	}
}

// TestClient_Do_connectTimeout connects to a listener whose accept queue is
// full: Linux drops the SYN, so the connect hangs until ConnectTimeout.
func TestClient_Do_connectTimeout(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the accept queue; it is never accepted from.
	for range 3 {
		if conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			defer conn.Close()
		}
	}
	for _, tr := range []string{"h1", "net_http"} {
		t.Run(tr, func(t *testing.T) {
			c := newClient(t, "http://"+addr, func(c *client.Config) { c.ConnectTimeout = 200 * time.Millisecond })
			if tr == "net_http" {
				client.UseNetHTTP(c)
			}
			start := time.Now()
			_, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
			checkClass(t, err, client.ClassConnectTimeout)
			if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
				t.Errorf("connect timeout after %v, want about 200ms", d)
			}
		})
	}
}

// TestClient_Do_serverClosedIdle makes the server close a kept-alive
// connection after reading the second request, without answering, and do
// the same on the connection of the one retry: the request fails as
// connection_reset after exactly one retry, which its Output counts.
func TestClient_Do_serverClosedIdle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		defer conn.Close()
		br := bufio.NewReader(conn)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		body := `{"choices":[{"message":{"content":"one"},"finish_reason":"stop"}]}`
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		// Read the second request, then close without answering.
		if _, err := http.ReadRequest(br); err == nil {
			conn.(*net.TCPConn).CloseWrite()
		}
		// The retry arrives on a new connection: close that one unanswered too.
		conn2, err := ln.Accept()
		if err != nil {
			return
		}
		conns.Add(1)
		defer conn2.Close()
		if _, err := http.ReadRequest(bufio.NewReader(conn2)); err == nil {
			conn2.(*net.TCPConn).CloseWrite()
		}
		time.Sleep(50 * time.Millisecond)
	}()
	c := newClient(t, "http://"+ln.Addr().String(), nil)
	if out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil); err != nil || out.Text != "one" {
		t.Fatalf("first Do = %v, %v", out, err)
	}
	out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
	t.Logf("error: %v", err)
	checkClass(t, err, client.ClassConnectionReset)
	if out == nil || out.Retries != 1 {
		t.Errorf("Output = %+v, want Retries 1: the resend is counted", out)
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2: the request is retried once", n)
	}
}

// TestClient_Do_serverClosesAfterEachResponse is llama-server's behaviour:
// it announces keep-alive but closes the connection a moment after each
// response, so a request sent at once on the reused connection meets the
// close. Every request must still succeed.
func TestClient_Do_serverClosesAfterEachResponse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				body := `{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}`
				fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				// Wait for the next request to be on its way, then close.
				_, _ = br.Peek(1)
			}()
		}
	}()
	c := newClient(t, "http://"+ln.Addr().String(), nil)
	for i := range 20 {
		if out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil); err != nil || out.Text != "ok" {
			t.Fatalf("request %d: %v, %v", i, out, err)
		}
	}
}
