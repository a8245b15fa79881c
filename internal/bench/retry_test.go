package bench_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
)

// closingServer answers the first request on every connection (after
// delay) and closes the connection unanswered after reading the second, as
// a server closing kept-alive connections at will may. It returns the
// endpoint and the count of requests it read.
func closingServer(t *testing.T, delay time.Duration) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var seen atomic.Int64
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	const body = `{"choices":[{"index":0,"message":{"content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}`
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				br := bufio.NewReader(conn)
				for n := 0; ; n++ {
					conn.SetReadDeadline(time.Now().Add(5 * time.Second))
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					seen.Add(1)
					if n == 1 {
						return // read, never answered
					}
					time.Sleep(delay)
					fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &seen
}

// TestRun_RetriedRequests runs sequential requests against a server that
// closes every kept-alive connection after reading its second request. With
// the retry on, each such request is resent on a new connection and counted
// in retried_requests: in live snapshots, the final snapshot, the report
// and result_summary.json. With it off, those requests fail instead.
func TestRun_RetriedRequests(t *testing.T) {
	const n = 12
	tests := []struct {
		name        string
		retry       bool
		wantRetried int64
		wantFailed  int64
		wantSeen    int64
	}{
		// Request 1 opens a connection; every later one meets a close and
		// is resent on a new connection.
		{"on", true, n - 1, 0, 2*n - 1},
		// Every second request meets the close and fails.
		{"off", false, 0, n / 2, n},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, seen := closingServer(t, 15*time.Millisecond)
			cfg := baseConfig(t, url)
			cfg.Endpoint.Streaming = false
			cfg.Endpoint.RetryClosedConn = tc.retry
			// The server counts every request it reads: no /metrics probe.
			cfg.Metrics.ServerMetrics = []string{config.ServerMetricsOff}
			cfg.Load.Mode = string(loadgen.ModeConcurrency)
			cfg.Load.Concurrency = 1
			var liveMax atomic.Int64
			out := run(t, cfg, synthetic(t, n), func(r *bench.Runner) {
				r.OnSnapshot = func(s metrics.Snapshot) {
					if s.State == metrics.StateLive {
						if v := s.CounterInt("retried_requests"); v > liveMax.Load() {
							liveMax.Store(v)
						}
					}
				}
			})
			if got := out.Final.CounterInt("retried_requests"); got != tc.wantRetried {
				t.Errorf("final snapshot: retried_requests = %d, want %d", got, tc.wantRetried)
			}
			if _, ok := out.Final.Find("retried_requests"); !ok {
				t.Error("final snapshot has no retried_requests counter")
			}
			if tc.wantRetried > 0 && liveMax.Load() == 0 {
				t.Error("no live snapshot showed a retried request")
			}
			rep := out.Report
			if rep.RetriedRequests == nil || *rep.RetriedRequests != tc.wantRetried {
				t.Errorf("report RetriedRequests = %v, want %d", rep.RetriedRequests, tc.wantRetried)
			}
			if rep.Completed != n || rep.Failed != tc.wantFailed || rep.Errors["connection_reset"] != tc.wantFailed {
				t.Errorf("completed %d failed %d errors %v, want %d completed, %d connection_reset", rep.Completed, rep.Failed, rep.Errors, n, tc.wantFailed)
			}
			if got := seen.Load(); got != tc.wantSeen {
				t.Errorf("server read %d requests, want %d", got, tc.wantSeen)
			}
			summary, err := os.ReadFile(filepath.Join(out.Dir, rundir.SummaryFile))
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf(`"retried_requests": %d`, tc.wantRetried); !strings.Contains(string(summary), want) {
				t.Errorf("%s lacks %s", rundir.SummaryFile, want)
			}
			requests, err := os.ReadFile(filepath.Join(out.Dir, rundir.RequestsFile))
			if err != nil {
				t.Fatal(err)
			}
			if got := int64(strings.Count(string(requests), `"rt":1`)); got != tc.wantRetried {
				t.Errorf("%s: %d requests with \"rt\":1, want %d", rundir.RequestsFile, got, tc.wantRetried)
			}
			// A report rebuilt from the request log counts them too.
			rb, err := eventlog.Rebuild(out.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := rb.Snapshot.CounterInt("retried_requests"); got != tc.wantRetried {
				t.Errorf("rebuilt snapshot: retried_requests = %d, want %d", got, tc.wantRetried)
			}
			text, err := os.ReadFile(filepath.Join(out.Dir, rundir.TextFile))
			if err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprintf("Retried requests: %d ", tc.wantRetried); !strings.Contains(string(text), want) {
				t.Errorf("%s lacks %q", rundir.TextFile, want)
			}
		})
	}
}
