package client_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/client"
)

// rawServer accepts connections on 127.0.0.1 and calls serve for each
// request read from them, with the request's number on its connection
// (from 0). serve writes the raw response and reports whether to keep the
// connection open. It returns the endpoint and its counters.
func rawServer(t *testing.T, serve func(conn net.Conn, req *http.Request, n int) bool) (string, *rawStats) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	st := &rawStats{}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			st.conns.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				br := bufio.NewReader(conn)
				for n := 0; ; n++ {
					conn.SetReadDeadline(time.Now().Add(5 * time.Second))
					req, err := http.ReadRequest(br)
					if err == io.EOF {
						st.clientClosed.Add(1)
					}
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if !serve(conn, req, n) {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), st
}

// rawStats counts what a rawServer saw.
type rawStats struct {
	conns        atomic.Int64 // connections accepted
	clientClosed atomic.Int64 // connections the client closed between requests
}

const okJSON = `{"choices":[{"index":0,"message":{"content":"ok"},"finish_reason":"stop"}]}`

func TestH1_responseFraming(t *testing.T) {
	long := strings.Repeat("x", 40<<10) // larger than the connection's read buffer
	longJSON := `{"choices":[{"message":{"content":"` + long + `"},"finish_reason":"stop"}]}`
	sse := chunk(`{"content":"a"}`) + chunk(`{"content":"b"}`) + finishStop + done
	chunked := func(parts ...string) string {
		var b strings.Builder
		for _, p := range parts {
			b.WriteString(rawChunk(p))
		}
		return b.String()
	}
	tests := []struct {
		name     string
		resp     string
		stream   bool
		want     string // output text
		wantConn int64  // connections used by two requests
	}{
		{
			name:     "content-length",
			resp:     httpHead(200, "Content-Type: application/json", fmt.Sprintf("Content-Length: %d", len(okJSON))) + okJSON,
			want:     "ok",
			wantConn: 1,
		},
		{
			name:     "content-length larger than the read buffer",
			resp:     httpHead(200, "Content-Type: application/json", fmt.Sprintf("content-length: %d", len(longJSON))) + longJSON,
			want:     long,
			wantConn: 1,
		},
		{
			name: "chunked with extensions, upper-case hex and trailers",
			resp: httpHead(200, "Content-Type: application/json", "Transfer-Encoding: chunked") +
				"A;ext=1\r\n" + okJSON[:10] + "\r\n" +
				fmt.Sprintf("%X;name=\"v\"\r\n%s\r\n", len(okJSON)-10, okJSON[10:]) +
				"0;last\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n",
			want:     "ok",
			wantConn: 1,
		},
		{
			name:     "chunked SSE, one byte per chunk",
			resp:     httpHead(200, "Content-Type: text/event-stream", "Transfer-Encoding: chunked") + chunked(strings.Split(sse, "")...) + "0\r\n\r\n",
			stream:   true,
			want:     "ab",
			wantConn: 1,
		},
		{
			name:     "SSE with content-length",
			resp:     httpHead(200, "Content-Type: text/event-stream; charset=utf-8", fmt.Sprintf("Content-Length: %d", len(sse))) + sse,
			stream:   true,
			want:     "ab",
			wantConn: 1,
		},
		{
			name:     "interim 100 Continue, unknown headers",
			resp:     "HTTP/1.1 100 Continue\r\n\r\n" + httpHead(200, "X-Request-Id: 7", "Content-Type: application/json", fmt.Sprintf("Content-Length: %d", len(okJSON))) + okJSON,
			want:     "ok",
			wantConn: 1,
		},
		{
			name:     "connection: close",
			resp:     httpHead(200, "Content-Type: application/json", "Connection: close", fmt.Sprintf("Content-Length: %d", len(okJSON))) + okJSON,
			want:     "ok",
			wantConn: 2,
		},
		{
			name:     "no length: body ends at close",
			resp:     httpHead(200, "Content-Type: application/json") + okJSON,
			want:     "ok",
			wantConn: 2,
		},
		{
			// As net/http: continuation lines join the value with a space.
			name: "obs-fold joins lines: connection close",
			resp: httpHead(200, "Content-Type: application/json", "X-A: b\r\n  folded", "Connection: keep-alive,\r\n\tclose",
				fmt.Sprintf("Content-Length: %d", len(okJSON))) + okJSON,
			want:     "ok",
			wantConn: 2,
		},
		{
			// As net/http: "Content-Length " is another header.
			name:     "space before colon: no length, body ends at close",
			resp:     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length : 2\r\n\r\n" + okJSON,
			want:     "ok",
			wantConn: 2,
		},
		{
			name:     "HTTP/1.0 without keep-alive",
			resp:     strings.Replace(httpHead(200, "Content-Type: application/json", fmt.Sprintf("Content-Length: %d", len(okJSON))), "HTTP/1.1", "HTTP/1.0", 1) + okJSON,
			want:     "ok",
			wantConn: 2,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			endpoint, conns := rawServer(t, func(conn net.Conn, req *http.Request, n int) bool {
				// Write in two pieces so that parsing must cross reads.
				half := len(tc.resp) / 2
				io.WriteString(conn, tc.resp[:half])
				time.Sleep(time.Millisecond)
				io.WriteString(conn, tc.resp[half:])
				return !strings.Contains(tc.name, "close") && !strings.Contains(tc.name, "HTTP/1.0")
			})
			c := newClient(t, endpoint, func(c *client.Config) { c.Streaming = tc.stream })
			for i := range 2 {
				out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if out.Text != tc.want {
					t.Fatalf("request %d: text %.40q (%d bytes), want %.40q (%d bytes)", i, out.Text, len(out.Text), tc.want, len(tc.want))
				}
			}
			if got := conns.conns.Load(); got != tc.wantConn {
				t.Errorf("two requests used %d connections, want %d", got, tc.wantConn)
			}
		})
	}
}

// httpHead returns a status line and header lines, ended by the blank line.
func httpHead(status int, headers ...string) string {
	return fmt.Sprintf("HTTP/1.1 %d %s\r\n", status, http.StatusText(status)) + strings.Join(append(headers, ""), "\r\n") + "\r\n"
}

func TestH1_malformedResponses(t *testing.T) {
	tests := []struct {
		name       string
		resp       string
		wantStatus int
	}{
		{"garbage status line", "HTP/1.1 200 OK\r\n\r\n", 0},
		{"status not a number", "HTTP/1.1 2x0 OK\r\n\r\n", 0},
		{"status 101", "HTTP/1.1 101 Switching Protocols\r\n\r\n", 0},
		{"header without colon", "HTTP/1.1 200 OK\r\nContent-Type application/json\r\n\r\n", 200},
		{"obs-fold on the first header line", "HTTP/1.1 200 OK\r\n  X-A: b\r\nContent-Length: 2\r\n\r\n{}", 200},
		{"control character in a header value", "HTTP/1.1 200 OK\r\nX-A: b\x01c\r\nContent-Length: 2\r\n\r\n{}", 200},
		{"same content-length spelled twice differently", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 02\r\n\r\n{}", 200},
		{"space before a chunk extension", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2 ;x\r\n{}\r\n0\r\n\r\n", 200},
		{"chunk size line ended by a bare LF", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\n{}\r\n0\r\n\r\n", 200},
		{"chunk data ended by a bare LF", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\n0\r\n\r\n", 200},
		{"bad content-length", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", 200},
		{"conflicting content-length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{} ", 200},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 200},
		{"chunk longer than its size", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{}\r\n0\r\n\r\n", 200},
		{"header line longer than the buffer", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 20<<10) + "\r\n\r\n", 200},
		{"headers over 64 KiB in total", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-Many: "+strings.Repeat("b", 1000)+"\r\n", 70) + "\r\n", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			endpoint, _ := rawServer(t, func(conn net.Conn, req *http.Request, n int) bool {
				io.WriteString(conn, tc.resp)
				time.Sleep(20 * time.Millisecond) // let the client read it before the close
				return false
			})
			c := newClient(t, endpoint, nil)
			out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
			t.Logf("error: %v", err)
			checkClass(t, err, client.ClassMalformed)
			if e := err.(*client.Error); e.Status != tc.wantStatus {
				t.Errorf("Status = %d, want %d", e.Status, tc.wantStatus)
			}
			if out == nil {
				t.Error("nil Output")
			}
		})
	}
}

func TestH1_poolLimit(t *testing.T) {
	const limit, requests = 3, 24
	var mu sync.Mutex
	open, maxOpen := 0, 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okJSON)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open++
			maxOpen = max(maxOpen, open)
		case http.StateClosed, http.StateHijacked:
			open--
		}
	}
	srv.Start()
	defer srv.Close()
	c := newClient(t, srv.URL, func(c *client.Config) { c.MaxConnections = limit })
	var wg sync.WaitGroup
	errs := make(chan error, requests)
	for range requests {
		wg.Go(func() {
			if _, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Do: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if maxOpen != limit {
		t.Errorf("server saw at most %d connections open at once, want %d (the limit, reached)", maxOpen, limit)
	}
}

// TestH1_idleTimeout checks that a connection idle longer than IdleTimeout
// is closed by the client instead of reused.
func TestH1_idleTimeout(t *testing.T) {
	endpoint, st := rawServer(t, func(conn net.Conn, req *http.Request, n int) bool {
		io.WriteString(conn, httpHead(200, "Content-Type: application/json", fmt.Sprintf("Content-Length: %d", len(okJSON)))+okJSON)
		return true
	})
	c := newClient(t, endpoint, func(c *client.Config) { c.IdleTimeout = 30 * time.Millisecond })
	for i := range 3 {
		if _, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if i == 0 {
			time.Sleep(60 * time.Millisecond)
		}
	}
	if got := st.conns.Load(); got != 2 {
		t.Errorf("used %d connections, want 2 (a new one after 60ms idle with a 30ms idle timeout, then reuse)", got)
	}
	deadline := time.Now().Add(2 * time.Second)
	for st.clientClosed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st.clientClosed.Load() != 1 {
		t.Errorf("the client closed %d connections, want 1 (the expired one)", st.clientClosed.Load())
	}
}

// TestH1_waiters holds the only connection, queues three requests, cancels
// the middle one, and checks the others are served in their order.
func TestH1_waiters(t *testing.T) {
	release := make(chan struct{})
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Messages []struct{ Content string } `json:"messages"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		prompt := body.Messages[0].Content
		got <- prompt
		if prompt == "A" {
			<-release
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okJSON)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, func(c *client.Config) { c.MaxConnections = 1 })
	results := make(map[string]chan error)
	send := func(ctx context.Context, prompt string) {
		ch := make(chan error, 1)
		results[prompt] = ch
		go func() {
			_, err := c.Do(ctx, &client.Request{Prompt: prompt}, nil)
			ch <- err
		}()
	}
	waitFor := func(n int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for client.Waiters(c) != n {
			if time.Now().After(deadline) {
				t.Fatalf("waiters = %d, want %d", client.Waiters(c), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	send(context.Background(), "A")
	if p := <-got; p != "A" {
		t.Fatalf("server got %q first", p)
	}
	send(context.Background(), "B")
	waitFor(1)
	ctxC, cancelC := context.WithCancel(context.Background())
	send(ctxC, "C")
	waitFor(2)
	send(context.Background(), "D")
	waitFor(3)
	cancelC()
	select {
	case err := <-results["C"]:
		checkClass(t, err, client.ClassCanceled)
	case <-time.After(2 * time.Second):
		t.Fatal("a canceled waiter did not return")
	}
	waitFor(2)
	close(release)
	for _, p := range []string{"A", "B", "D"} {
		if err := <-results[p]; err != nil {
			t.Errorf("request %s: %v", p, err)
		}
	}
	close(got)
	var order []string
	for p := range got {
		order = append(order, p)
	}
	if strings.Join(order, "") != "BD" {
		t.Errorf("after A the server got %v, want [B D]", order)
	}
}

// TestH1_serverClosedIdle has the server close each connection after one
// response, while the client's connection sits idle in the pool; the next
// request must succeed on a new connection.
func TestH1_serverClosedIdle(t *testing.T) {
	tests := []struct {
		name    string
		reset   bool          // close with RST instead of FIN
		idle    time.Duration // the client's pause between requests
		retries int32         // the second request's Output.Retries
	}{
		// Idle past StaleCheckAfter: the peek before reuse sees the FIN;
		// nothing was sent on the closed connection, so nothing is resent.
		{"FIN, found by the peek before reuse", false, client.StaleCheckAfter + 30*time.Millisecond, 0},
		// Reused at once, without a peek: the write fails and is sent again.
		{"RST, write fails and is retried", true, 10 * time.Millisecond, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			endpoint, st := rawServer(t, func(conn net.Conn, req *http.Request, n int) bool {
				io.WriteString(conn, httpHead(200, "Content-Type: application/json", fmt.Sprintf("Content-Length: %d", len(okJSON)))+okJSON)
				if tc.reset {
					conn.(*net.TCPConn).SetLinger(0)
				}
				return false
			})
			c := newClient(t, endpoint, nil)
			for i := range 2 {
				out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
				if err != nil || out.Text != "ok" {
					t.Fatalf("request %d: %v, %v", i, out, err)
				}
				if want := int32(i) * tc.retries; out.Retries != want {
					t.Errorf("request %d: Retries = %d, want %d", i, out.Retries, want)
				}
				time.Sleep(tc.idle)
			}
			if got := st.conns.Load(); got != 2 {
				t.Errorf("used %d connections, want 2", got)
			}
		})
	}
}

// TestH1_keepAlive sends sequential requests, one after an idle pause longer
// than both the read timeout (so the connection's last deadline has passed)
// and StaleCheckAfter (so it is peeked at): all must share one connection.
func TestH1_keepAlive(t *testing.T) {
	endpoint, st := rawServer(t, func(conn net.Conn, req *http.Request, n int) bool {
		io.WriteString(conn, httpHead(200, "Content-Type: application/json", fmt.Sprintf("Content-Length: %d", len(okJSON)))+okJSON)
		return true
	})
	const readTimeout = 50 * time.Millisecond
	c := newClient(t, endpoint, func(c *client.Config) { c.ReadTimeout = readTimeout })
	for i := range 5 {
		if _, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if i == 2 {
			time.Sleep(max(2*readTimeout, client.StaleCheckAfter) + 20*time.Millisecond)
		}
	}
	if got := st.conns.Load(); got != 1 {
		t.Errorf("5 sequential requests used %d connections, want 1", got)
	}
}
