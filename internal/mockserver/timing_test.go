package mockserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// within reports whether got is in [want-lo, want+hi]: the server may not be
// early (the client clock starts before the request arrives), and a loaded
// machine makes it late, so the upper tolerance is wider.
func within(got, want time.Duration, lo, hi float64) bool {
	return got >= want-time.Duration(lo*float64(want)) && got <= want+time.Duration(hi*float64(want))+5*time.Millisecond
}

// The timing tests are not parallel: Go runs them before any parallel test
// of the package, so they do not compete with each other for the CPU.

// warm opens the keep-alive connection so the timed request does not pay
// for the dial.
func warm(t *testing.T, c *http.Client, base string) {
	t.Helper()
	resp, err := c.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// attempts is how many times a timing measurement may be repeated: a
// starved CPU can only make one measurement late, while a wrong schedule
// fails every attempt.
const attempts = 3

// retryTiming runs measure until it reports no problem, at most attempts
// times, and fails with the last attempt's problems.
func retryTiming(t *testing.T, measure func() []string) {
	t.Helper()
	var problems []string
	for i := range attempts {
		if problems = measure(); len(problems) == 0 {
			return
		}
		t.Logf("attempt %d: %s", i+1, strings.Join(problems, "; "))
	}
	t.Errorf("timing off in %d attempts: %s", attempts, strings.Join(problems, "; "))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestServer_StreamTiming(t *testing.T) {
	const (
		ttft   = 50 * time.Millisecond
		tpot   = 20 * time.Millisecond
		tokens = 12
	)
	tests := []struct {
		name   string
		jitter float64
		tpc    int
	}{
		{"exact", 0, 1},
		{"jitter 0.1", 0.1, 1},
		{"3 tokens per chunk", 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, base := start(t, mockserver.Config{TTFT: ttft, TPOT: tpot, OutputTokens: tokens, Jitter: tc.jitter, TokensPerChunk: tc.tpc})
			c := newClient(t, 5*time.Second)
			warm(t, c, base)
			nContent := tokens / tc.tpc
			retryTiming(t, func() []string {
				begin := time.Now()
				resp := post(t, c, base+"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"stream":true}`)
				res := readStream(t, resp.Body, begin)
				if len(res.at) != nContent+1 || !res.done {
					t.Fatalf("got %d chunks (done %v), want %d", len(res.at), res.done, nContent+1)
				}
				var problems []string
				// The first chunk goes out when its last token is due.
				wantFirst := ttft + time.Duration(tc.tpc-1)*tpot
				if !within(res.at[0], wantFirst, 0.05+tc.jitter, 0.2+tc.jitter) {
					problems = append(problems, fmt.Sprintf("first chunk at %v, want %v ±20%%", res.at[0], wantFirst))
				}
				gaps := make([]time.Duration, nContent-1)
				for i := range gaps {
					gaps[i] = res.at[i+1] - res.at[i]
				}
				wantGap := time.Duration(tc.tpc) * tpot
				if g := median(gaps); !within(g, wantGap, 0.2+tc.jitter, 0.2+tc.jitter) {
					problems = append(problems, fmt.Sprintf("median chunk gap %v, want %v ±20%%", g, wantGap))
				}
				if end, want := res.at[nContent], ttft+(tokens-1)*tpot; !within(end, want, 0.05, 0.2) {
					problems = append(problems, fmt.Sprintf("final chunk at %v, want %v ±20%%", end, want))
				}
				return problems
			})
		})
	}
}

func TestServer_NonStreamingTiming(t *testing.T) {
	const ttft, tpot, tokens = 40 * time.Millisecond, 20 * time.Millisecond, 5
	_, base := start(t, mockserver.Config{TTFT: ttft, TPOT: tpot, OutputTokens: tokens})
	c := newClient(t, 5*time.Second)
	warm(t, c, base)
	retryTiming(t, func() []string {
		begin := time.Now()
		resp := post(t, c, base+"/v1/completions", `{"prompt":"p"}`)
		_, _ = io.Copy(io.Discard, resp.Body)
		if got, want := time.Since(begin), ttft+(tokens-1)*tpot; !within(got, want, 0.05, 0.2) {
			return []string{fmt.Sprintf("response after %v, want %v ±20%%", got, want)}
		}
		return nil
	})
}

// TestServer_Shutdown checks that Serve lets a running stream finish,
// releases a stalled request and refuses new connections.
func TestServer_Shutdown(t *testing.T) {
	t.Parallel()
	srv, err := mockserver.New(mockserver.Config{TPOT: 20 * time.Millisecond, OutputTokens: 10, Faults: mockserver.FaultRates{Stall: 0.5}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	c := newClient(t, 5*time.Second)

	const n = 4
	// Requests go out one after another so the seeded draw decides which
	// stalls (seed 1 stalls some but not all).
	results := make(chan streamResult, n)
	begin := time.Now()
	for range n {
		resp, err := doRaw(c, base+"/v1/chat/completions", chatStream)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer resp.Body.Close()
			results <- readStream(t, resp.Body, begin)
		}()
	}
	time.Sleep(60 * time.Millisecond)
	cancel()
	var done, released uint64
	for range n {
		r := <-results
		if r.done {
			done++
		} else {
			released++
		}
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	stalls := srv.Stats().Faults[mockserver.FaultStall]
	if stalls == 0 || stalls == n || done != n-stalls || released != stalls {
		t.Errorf("completed %d, released %d, stalled %d of %d: want every normal stream finished, every stalled one released, and both kinds", done, released, stalls, n)
	}
	if el := time.Since(begin); el > 2*time.Second {
		t.Errorf("shutdown took %v, stalled request was not released", el)
	}
	_, err = doRaw(c, base+"/health", "")
	var ne *net.OpError
	if err == nil || !errors.As(err, &ne) {
		t.Errorf("request after shutdown: err %v, want a dial error", err)
	}
}
