package mockserver_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

const (
	chatStream    = `{"messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`
	chatNonStream = `{"messages":[{"role":"user","content":"hi"}]}`
)

// doRaw posts body and returns the response or the transport error.
func doRaw(c *http.Client, url, body string) (*http.Response, error) {
	return c.Post(url, "application/json", strings.NewReader(body))
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

func TestServer_Faults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rates  mockserver.FaultRates
		kind   mockserver.Fault
		body   string
		check  func(t *testing.T, resp *http.Response, err error, begin time.Time)
		client time.Duration
	}{
		{"429", mockserver.FaultRates{HTTP429: 1}, mockserver.FaultHTTP429, chatStream,
			func(t *testing.T, resp *http.Response, err error, _ time.Time) {
				if err != nil || resp.StatusCode != http.StatusTooManyRequests {
					t.Fatalf("resp %v err %v, want 429", resp, err)
				}
				b, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(b), `"code":429`) {
					t.Errorf("body %s", b)
				}
			}, 0},
		{"500", mockserver.FaultRates{HTTP500: 1}, mockserver.FaultHTTP500, chatNonStream,
			func(t *testing.T, resp *http.Response, err error, _ time.Time) {
				if err != nil || resp.StatusCode != http.StatusInternalServerError {
					t.Fatalf("resp %v err %v, want 500", resp, err)
				}
			}, 0},
		{"reset non-streaming", mockserver.FaultRates{Reset: 1}, mockserver.FaultReset, chatNonStream,
			func(t *testing.T, resp *http.Response, err error, _ time.Time) {
				if !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("err = %v, want ECONNRESET", err)
				}
			}, 0},
		{"reset mid-stream", mockserver.FaultRates{Reset: 1}, mockserver.FaultReset, chatStream,
			func(t *testing.T, resp *http.Response, err error, begin time.Time) {
				if err != nil {
					t.Fatalf("headers should arrive before the reset: %v", err)
				}
				res := readStream(t, resp.Body, begin)
				if !errors.Is(res.err, syscall.ECONNRESET) || res.done {
					t.Errorf("read err %v done %v, want ECONNRESET and no [DONE]", res.err, res.done)
				}
				if len(res.chunks) != 4 {
					t.Errorf("got %d chunks before the reset, want 4 (half of 8)", len(res.chunks))
				}
			}, 0},
		{"truncated stream", mockserver.FaultRates{Truncate: 1}, mockserver.FaultTruncate, chatStream,
			func(t *testing.T, resp *http.Response, err error, begin time.Time) {
				if err != nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("resp %v err %v", resp, err)
				}
				res := readStream(t, resp.Body, begin)
				if res.done || len(res.finishReasons()) != 0 || len(res.chunks) != 4 {
					t.Errorf("done %v finish %q chunks %d, want no [DONE], no finish_reason, 4 chunks", res.done, res.finishReasons(), len(res.chunks))
				}
				if !resp.Close {
					t.Errorf("truncated stream should close the connection")
				}
			}, 0},
		{"truncated body", mockserver.FaultRates{Truncate: 1}, mockserver.FaultTruncate, chatNonStream,
			func(t *testing.T, resp *http.Response, err error, _ time.Time) {
				if err != nil {
					t.Fatal(err)
				}
				_, rerr := io.ReadAll(resp.Body)
				if !errors.Is(rerr, io.ErrUnexpectedEOF) {
					t.Errorf("read err = %v, want unexpected EOF", rerr)
				}
			}, 0},
		{"malformed chunk", mockserver.FaultRates{Malformed: 1}, mockserver.FaultMalformed, chatStream,
			func(t *testing.T, resp *http.Response, err error, begin time.Time) {
				if err != nil {
					t.Fatal(err)
				}
				res := readStream(t, resp.Body, begin)
				if len(res.malformed) != 1 || res.malformed[0] != "{not json" {
					t.Errorf("malformed lines %q, want [\"{not json\"]", res.malformed)
				}
				if !res.done || len(strings.Fields(res.content())) != 8 {
					t.Errorf("stream should otherwise complete: done %v content %q", res.done, res.content())
				}
			}, 0},
		{"malformed body", mockserver.FaultRates{Malformed: 1}, mockserver.FaultMalformed, chatNonStream,
			func(t *testing.T, resp *http.Response, err error, _ time.Time) {
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				if string(b) != "{not json" {
					t.Errorf("body %q", b)
				}
			}, 0},
		{"stalled stream", mockserver.FaultRates{Stall: 1}, mockserver.FaultStall, chatStream,
			func(t *testing.T, resp *http.Response, err error, begin time.Time) {
				if err != nil {
					t.Fatalf("headers should arrive before the stall: %v", err)
				}
				res := readStream(t, resp.Body, begin)
				if !isTimeout(res.err) || len(res.chunks) != 4 || res.done {
					t.Errorf("err %v chunks %d done %v, want a client timeout after 4 chunks", res.err, len(res.chunks), res.done)
				}
			}, 300 * time.Millisecond},
		{"stalled body", mockserver.FaultRates{Stall: 1}, mockserver.FaultStall, chatNonStream,
			func(t *testing.T, resp *http.Response, err error, begin time.Time) {
				if !isTimeout(err) {
					t.Fatalf("err = %v, want a client timeout", err)
				}
				if el := time.Since(begin); el < 250*time.Millisecond {
					t.Errorf("gave up after %v, before the 300ms timeout", el)
				}
			}, 300 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, base := start(t, mockserver.Config{OutputTokens: 8, Faults: tc.rates})
			c := newClient(t, max(tc.client, 5*time.Second))
			if tc.client > 0 {
				c.Timeout = tc.client
			}
			begin := time.Now()
			resp, err := doRaw(c, base+"/v1/chat/completions", tc.body)
			if resp != nil {
				defer resp.Body.Close()
			}
			tc.check(t, resp, err, begin)
			st := srv.Stats()
			if st.Faults[tc.kind] != 1 || st.TotalFaults() != 1 || st.Requests != 1 {
				t.Errorf("stats %+v, want one %v fault", st, tc.kind)
			}
		})
	}
}

// TestServer_FaultsDeterministic checks that a seed fixes which requests
// fail, and that the rates are honoured.
func TestServer_FaultsDeterministic(t *testing.T) {
	t.Parallel()
	cfg := mockserver.Config{OutputTokens: 2, Seed: 42, Faults: mockserver.FaultRates{HTTP429: 0.2, HTTP500: 0.2}}
	const n = 200
	statuses := func(cfg mockserver.Config) []int {
		srv, base := start(t, cfg)
		c := newClient(t, 5*time.Second)
		out := make([]int, n)
		for i := range out {
			resp, err := doRaw(c, base+"/v1/completions", `{"prompt":"p"}`)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			out[i] = resp.StatusCode
		}
		st := srv.Stats()
		if got := st.Faults[mockserver.FaultHTTP429] + st.Faults[mockserver.FaultHTTP500]; got != st.TotalFaults() {
			t.Errorf("unexpected fault kinds: %+v", st)
		}
		return out
	}
	a, b := statuses(cfg), statuses(cfg)
	count := map[int]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("request %d: status %d vs %d with the same seed", i, a[i], b[i])
		}
		count[a[i]]++
	}
	// Expected 40 of each; ±20 is beyond 4 standard deviations.
	for _, code := range []int{429, 500} {
		if count[code] < 20 || count[code] > 60 {
			t.Errorf("status %d: %d of %d, want about 40", code, count[code], n)
		}
	}
	cfg.Seed = 43
	if c := statuses(cfg); slices.Equal(a, c) {
		t.Errorf("seeds 42 and 43 gave identical fault sequences")
	}
}
