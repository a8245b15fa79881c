package mockserver_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// With max_concurrent_requests 2 and a 100 ms answer, six requests sent at
// once finish in three waves: the k-th answer cannot come before
// (k/2 + 1) × 100 ms, because the queue holds the others back.
func TestServer_MaxConcurrentQueues(t *testing.T) {
	const ttft = 100 * time.Millisecond
	_, base := start(t, mockserver.Config{TTFT: ttft, OutputTokens: 1, MaxConcurrent: 2})
	c := newClient(t, 10*time.Second)
	const n = 6
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	begin := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Post(base+"/v1/completions", "application/json", strings.NewReader(`{"prompt":"hi","max_tokens":1}`))
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
			lat[i] = time.Since(begin)
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	for k, l := range lat {
		if floor := time.Duration(k/2+1) * ttft; l < floor-5*time.Millisecond {
			t.Errorf("answer %d after %v, before %v: more than 2 requests were served at once (%v)", k, l, floor, lat)
		}
	}
}

// A slow share of requests gets the slow TTFT; the draw is per request and
// seeded.
func TestServer_SlowRate(t *testing.T) {
	_, base := start(t, mockserver.Config{SlowRate: 0.3, SlowTTFT: 30 * time.Millisecond, OutputTokens: 1, Seed: 7})
	c := newClient(t, 10*time.Second)
	const n = 200
	slow := 0
	for range n {
		begin := time.Now()
		resp := post(t, c, base+"/v1/completions", `{"prompt":"hi","max_tokens":1}`)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if time.Since(begin) >= 30*time.Millisecond {
			slow++
		}
	}
	if share := float64(slow) / n; share < 0.2 || share > 0.4 {
		t.Errorf("%d of %d requests slow, want about 30%%", slow, n)
	}
	if _, err := mockserver.New(mockserver.Config{SlowRate: 1.5}); err == nil {
		t.Error("slow_rate 1.5 accepted")
	}
	if _, err := mockserver.New(mockserver.Config{MaxConcurrent: -1}); err == nil {
		t.Error("max_concurrent_requests -1 accepted")
	}
}
