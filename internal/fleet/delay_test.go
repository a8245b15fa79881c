package fleet_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/fleet"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
)

// delayProxy forwards TCP connections to target, delaying every byte by d
// in each direction (a long link; the kernel's tc netem is not available).
func delayProxy(t *testing.T, target string, d time.Duration) string {
	t.Helper()
	addr, _ := tcpProxy(t, target, func(wg *sync.WaitGroup, dst, src net.Conn) {
		type chunk struct {
			due time.Time
			b   []byte
		}
		q := make(chan chunk, 4096)
		wg.Go(func() {
			defer close(q)
			for {
				buf := make([]byte, 64<<10)
				n, err := src.Read(buf)
				if n > 0 {
					q <- chunk{time.Now().Add(d), buf[:n]}
				}
				if err != nil {
					return
				}
			}
		})
		wg.Go(func() {
			for c := range q {
				time.Sleep(time.Until(c.due))
				if _, err := dst.Write(c.b); err != nil {
					break
				}
			}
			dst.Close()
			for range q {
			}
		})
	})
	return addr
}

// tcpProxy forwards TCP connections to target, each direction copied by
// pipe on goroutines of wg; cut closes every connection it holds (new ones
// are forwarded again). The test's cleanup closes everything and waits.
func tcpProxy(t *testing.T, target string, pipe func(wg *sync.WaitGroup, dst, src net.Conn)) (addr string, cut func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, in, out)
			mu.Unlock()
			pipe(&wg, out, in)
			pipe(&wg, in, out)
		}
	})
	return ln.Addr().String(), func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		conns = nil
		mu.Unlock()
	}
}

// TestFleet_DelayedLink: one of three workers reaches the coordinator
// through a link delaying 30 ms each way. Its clock offset is still
// estimated within 2 ms (one host, one clock: the true offset is 0), and
// the merged latencies are those of a fleet without the delay (every
// duration is measured on its worker).
func TestFleet_DelayedLink(t *testing.T) {
	if testing.Short() {
		t.Skip("two fleet runs; -short")
	}
	url := startMock(t, mockserver.Config{TTFT: 80 * time.Millisecond, TPOT: 5 * time.Millisecond, OutputTokens: 10})
	mk := func() config.Run {
		return runConfig(t, url, func(c *config.Run) {
			c.Load.Mode = "concurrency"
			c.Load.Concurrency = 6
			c.Load.NumSamples = 90
			c.EventLog = "off"
		})
	}
	run := func(delayed bool) (*bench.Outcome, []fleet.WorkerStats) {
		c, err := fleet.Listen(fleet.Options{Listen: "tcp://127.0.0.1:0", Size: 3, Timeout: 5 * time.Second, Logger: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		addrs := []string{c.Endpoint(), c.Endpoint(), c.Endpoint()}
		if delayed {
			addrs[2] = "tcp://" + delayProxy(t, strings.TrimPrefix(c.Endpoint(), "tcp://"), 30*time.Millisecond)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		defer wg.Wait()
		for i, a := range addrs {
			wg.Go(func() {
				if err := fleet.RunWorker(ctx, fleet.WorkerOptions{Coordinator: a, Name: []string{"near0", "near1", "far"}[i], Once: true, Timeout: 5 * time.Second, Logger: quietLog()}); err != nil {
					t.Errorf("worker %d: %v", i, err)
				}
			})
		}
		if err := c.Wait(ctx, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		var fr *fleet.Run
		out := runBench(t, mk(), func(r *bench.Runner) {
			r.NewSource = func(pub bus.Publisher[event.Record]) (bench.Source, error) {
				var err error
				fr, err = c.Source(r.Config(), r.Dataset(), pub)
				return fr, err
			}
		})
		return out, fr.Stats()
	}
	plain, _ := run(false)
	far, stats := run(true)
	for _, s := range stats {
		if s.ClockOffset < -2*time.Millisecond || s.ClockOffset > 2*time.Millisecond {
			t.Errorf("worker %s: clock offset %v (±%v), want within 2 ms of 0", s.Name, s.ClockOffset, s.ClockUncertainty)
		}
	}
	if u := stats[2].ClockUncertainty; u < 25*time.Millisecond {
		t.Errorf("the far worker's offset uncertainty %v: the 30 ms link did not apply", u)
	}
	for _, o := range []*bench.Outcome{plain, far} {
		if got := o.Final.CounterInt(metrics.TrackedCompleted); got != 90 {
			t.Errorf("completed %d, want 90", got)
		}
	}
	for _, name := range []string{metrics.SeriesTTFT, metrics.SeriesLatency} {
		a, b := p50(t, &plain.Final, name), p50(t, &far.Final, name)
		// 25 % or 30 ms: the machine's load (and the race detector) moves
		// both runs by milliseconds.
		if d := b - a; (d > 0.25*a || d < -0.25*a) && (d > 30e6 || d < -30e6) {
			t.Errorf("%s p50 %.2f ms without the delay, %.2f ms with it", name, a/1e6, b/1e6)
		}
	}
}

// cutProxy forwards TCP connections to target until cut closes every
// connection it holds (a network blip); new connections are forwarded
// again.
func cutProxy(t *testing.T, target string) (addr string, cut func()) {
	t.Helper()
	return tcpProxy(t, target, func(wg *sync.WaitGroup, dst, src net.Conn) {
		wg.Go(func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := src.Read(buf)
				if n > 0 {
					if _, werr := dst.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			src.Close()
			dst.Close()
		})
	})
}

// TestFleet_Reconnect: a worker whose TCP connections to the coordinator
// are cut mid-run reconnects under the same socket names and finishes the
// run; if batches were lost in the cut the report says so (a sequence
// gap), and nothing is lost silently.
func TestFleet_Reconnect(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 5 * time.Millisecond, TPOT: time.Millisecond, OutputTokens: 10})
	c, err := fleet.Listen(fleet.Options{Listen: "tcp://127.0.0.1:0", Size: 2, Timeout: 5 * time.Second, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr, cut := cutProxy(t, strings.TrimPrefix(c.Endpoint(), "tcp://"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	for i, a := range []string{c.Endpoint(), "tcp://" + addr} {
		wg.Go(func() {
			if err := fleet.RunWorker(ctx, fleet.WorkerOptions{Coordinator: a, Name: fmt.Sprintf("w%d", i), Once: true, Timeout: 5 * time.Second, Logger: quietLog()}); err != nil {
				t.Errorf("worker %d: %v", i, err)
			}
		})
	}
	if err := c.Wait(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	cfg := runConfig(t, url, func(c *config.Run) {
		c.Load.Mode = "concurrency"
		c.Load.Concurrency = 4
		c.Load.NumSamples = 400
		c.EventLog = "off"
	})
	var once sync.Once
	out := runBench(t, cfg, func(r *bench.Runner) {
		r.NewSource = func(pub bus.Publisher[event.Record]) (bench.Source, error) {
			return c.Source(r.Config(), r.Dataset(), pub)
		}
		r.OnSnapshot = func(s metrics.Snapshot) {
			if s.CounterInt(metrics.TrackedCompleted) > 50 {
				once.Do(cut)
			}
		}
	})
	var gapNote bool
	for _, w := range out.Report.Warnings {
		if strings.Contains(w, "sequence gap") {
			gapNote = true
		}
		if strings.Contains(w, "into the run") {
			t.Errorf("a reconnecting worker was declared lost: %s", w)
		}
	}
	issued, completed := out.Final.CounterInt(metrics.TrackedIssued), out.Final.CounterInt(metrics.TrackedCompleted)
	if issued != completed {
		t.Errorf("issued %d, completed %d: a sample whose completion was lost must count failed", issued, completed)
	}
	if n := out.Final.CounterInt(metrics.ErrorCounterPrefix + fleet.ClassEventsLost); n > 0 && !gapNote {
		t.Errorf("%d samples counted %s without a sequence gap in the report", n, fleet.ClassEventsLost)
	}
	t.Logf("issued %d completed %d gap reported %v", issued, completed, gapNote)
}
