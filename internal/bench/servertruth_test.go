package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// serverTruth is what the mock server actually did for one request, timed
// on the same monotonic clock as the client (test and server share the
// process): when the request reached the handler, and when each write of
// the stream was handed to the connection.
type serverTruth struct {
	arrival time.Time
	// flushes are the times just before each explicit flush (a chunk
	// leaves before the server sleeps for the next token, and the last
	// one with the finish chunk and [DONE]); end is when the handler
	// returned, before net/http ends the chunked body.
	flushes []time.Time
	end     time.Time
}

// first is the server's time from arrival to the flush of the first chunk
// (chunks due together under load leave in one write: the first flush
// holds the first chunk).
func (s *serverTruth) first() time.Duration { return s.at(0) }

// last is the server's time from arrival to the flush of the last chunk,
// which leaves with the finish chunk and [DONE] in the last flush.
func (s *serverTruth) last() time.Duration { return s.at(len(s.flushes) - 1) }

// at is the time from arrival to flush i, or to the handler's end when
// nothing was flushed explicitly.
func (s *serverTruth) at(i int) time.Duration {
	if len(s.flushes) == 0 {
		return s.end.Sub(s.arrival)
	}
	return s.flushes[i].Sub(s.arrival)
}

// truthRecorder wraps a mock server's handler and records a serverTruth
// per prompt. Every timestamp is taken before the bytes it describes can
// reach the client, so a correct client always measures at least the
// server's interval: client ≥ server holds exactly, whatever the load.
type truthRecorder struct {
	next http.Handler
	mu   sync.Mutex
	byP  map[string]*serverTruth
	dups int
}

func (tr *truthRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrival := time.Now()
	if r.Method != http.MethodPost {
		// The probe's /v1/models and the scraper's /metrics carry no prompt.
		tr.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req struct {
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
		Prompt string `json:"prompt"`
	}
	_ = json.Unmarshal(body, &req)
	prompt := req.Prompt
	if n := len(req.Messages); n > 0 {
		prompt = req.Messages[n-1].Content
	}
	st := &serverTruth{arrival: arrival}
	tr.next.ServeHTTP(&flushRecorder{ResponseWriter: w, st: st}, r)
	st.end = time.Now()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if _, ok := tr.byP[prompt]; ok {
		tr.dups++
	}
	tr.byP[prompt] = st
}

// flushRecorder is a ResponseWriter that notes the time of every flush.
type flushRecorder struct {
	http.ResponseWriter
	st *serverTruth
}

func (f *flushRecorder) Flush() {
	f.st.flushes = append(f.st.flushes, time.Now())
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (f *flushRecorder) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// startRecordedMock serves cfg on a loopback port through a truthRecorder
// until the test ends.
func startRecordedMock(t *testing.T, cfg mockserver.Config) (string, *truthRecorder) {
	t.Helper()
	srv, err := mockserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tr := &truthRecorder{next: srv.Handler(), byP: map[string]*serverTruth{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: tr, ReadHeaderTimeout: time.Minute}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		<-done
	})
	return "http://" + ln.Addr().String(), tr
}
