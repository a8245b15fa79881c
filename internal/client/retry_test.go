package client_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/client"
)

// TestClient_Do_retryClosedConn has the server read the second request on a
// kept-alive connection and close it without answering (as a server that
// closes idle connections at will may do just after the request arrived).
// With RetryClosedConn the request is sent again on a new connection, the
// server sees it twice, and the Output counts the resend; without it the
// request fails as connection_reset and is sent once.
func TestClient_Do_retryClosedConn(t *testing.T) {
	tests := []struct {
		name        string
		retry       bool
		reset       bool // close with RST instead of FIN
		wantErr     client.Class
		wantRetries int32
		wantSeen    int64 // requests the server read
	}{
		{"on, FIN", true, false, "", 1, 3},
		{"on, RST", true, true, "", 1, 3},
		{"off, FIN", false, false, client.ClassConnectionReset, 0, 2},
		{"off, RST", false, true, client.ClassConnectionReset, 0, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var seen atomic.Int64
			endpoint, st := rawServer(t, func(conn net.Conn, req *http.Request, n int) bool {
				seen.Add(1)
				if n == 1 { // the second request on a connection: close unanswered
					if tc.reset {
						conn.(*net.TCPConn).SetLinger(0)
					}
					return false
				}
				io.WriteString(conn, httpHead(200, "Content-Type: application/json", fmt.Sprintf("Content-Length: %d", len(okJSON)))+okJSON)
				return true
			})
			c := newClient(t, endpoint, func(c *client.Config) { c.RetryClosedConn = tc.retry })
			if out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil); err != nil || out.Retries != 0 {
				t.Fatalf("first request: %+v, %v", out, err)
			}
			out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
			t.Logf("second request: %v", err)
			if tc.wantErr == "" {
				if err != nil || out.Text != "ok" {
					t.Fatalf("second request = %+v, %v; want ok", out, err)
				}
			} else {
				checkClass(t, err, tc.wantErr)
			}
			if out == nil || out.Retries != tc.wantRetries {
				t.Errorf("Output = %+v, want Retries %d", out, tc.wantRetries)
			}
			// Let the server finish reading whatever was sent.
			deadline := time.Now().Add(2 * time.Second)
			for seen.Load() < tc.wantSeen && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := seen.Load(); got != tc.wantSeen {
				t.Errorf("server read %d requests, want %d", got, tc.wantSeen)
			}
			wantConns := int64(1)
			if tc.retry {
				wantConns = 2 // the resend's
			}
			if got := st.conns.Load(); got != wantConns {
				t.Errorf("server accepted %d connections, want %d", got, wantConns)
			}
		})
	}
}
