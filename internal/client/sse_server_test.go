package client_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/client"
)

// TestClient_Do_bareCRStream streams SSE events whose lines end in a bare CR
// (valid SSE) from a real server, on both transports. The server sends the
// second chunk only once the client has reported the first, so the first
// chunk must be dispatched when it arrives, not when a later LF or the end
// of the stream does.
func TestClient_Do_bareCRStream(t *testing.T) {
	cr := func(s string) string { return strings.ReplaceAll(s, "\n", "\r") }
	for _, tr := range []string{"h1", "net_http"} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			seen := make(chan struct{})
			waited := make(chan bool, 1)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, cr(chunk(`{"content":"Hel"}`)))
				w.(http.Flusher).Flush()
				select {
				case <-seen:
					waited <- true
				case <-time.After(3 * time.Second):
					waited <- false
				}
				io.WriteString(w, cr(chunk(`{"content":"lo"}`)+finishStop+done))
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, func(c *client.Config) { c.Streaming = true })
			if tr == "net_http" {
				client.UseNetHTTP(c)
			}
			obs := &signalObserver{first: seen}
			out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, obs)
			if err != nil || out.Text != "Hello" || out.FinishReason != "stop" || out.FirstChunkLen != 3 {
				t.Fatalf("Do = %+v, %v; want Hello, stop", out, err)
			}
			if obs.n != 2 {
				t.Errorf("observed %d chunks, want 2", obs.n)
			}
			if !<-waited {
				t.Error("the first chunk was not reported before the second was sent: a bare CR did not end its line")
			}
		})
	}
}

// signalObserver closes first when the first chunk is reported.
type signalObserver struct {
	first chan struct{}
	n     int
}

func (o *signalObserver) OnChunk(_ int64, first bool) {
	o.n++
	if first {
		close(o.first)
	}
}
