package cli_test

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
)

// TestWatch_DeadRun watches a run directory whose run died: config.yaml, a
// stale metrics.sock nobody listens on, no final snapshot, no run holding
// the directory. watch says so and exits 1 instead of waiting forever.
func TestWatch_DeadRun(t *testing.T) {
	t.Parallel()
	dir := shortDir(t)
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("report_dir: "+dir+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, "metrics.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // the file stays: a stale socket, as a killed run leaves it
	start := time.Now()
	c := startInferbench(t, "watch", "--no-tui", "--publish-interval", "50ms", "--gone-after", "4", dir)
	code := c.wait(t, 20*time.Second)
	stderr := c.stderr.String()
	if code != 1 || !strings.Contains(stderr, "not running") || !strings.Contains(stderr, dir) {
		t.Errorf("watch of a dead run: exit %d after %v, stderr:\n%s\nwant exit 1 saying the run in %s is not running", code, time.Since(start), stderr, dir)
	}
}

// pyRun produces snapshots laid out as the Python tool's live ones: no
// tracked duration (absent, or 0 until the end), optionally a total
// duration, every step 50 ms later by the snapshot's clock with 7 more
// completions and 280 more output tokens.
type pyRun struct {
	reg   *metrics.Registry
	c     map[string]*metrics.Counter
	osl   *metrics.Series
	ts    int64
	total bool
}

func newPyRun(t *testing.T, counters ...string) *pyRun {
	t.Helper()
	r := &pyRun{reg: metrics.NewRegistry(), c: map[string]*metrics.Counter{}, ts: 1_000_000_000_000}
	for _, n := range counters {
		var err error
		if r.c[n], err = r.reg.NewCounter(n, false); err != nil {
			t.Fatal(err)
		}
	}
	_, r.total = r.c[metrics.TotalDuration]
	var err error
	if r.osl, err = r.reg.NewSeries(metrics.SeriesOSL, metrics.SeriesOpts{Low: metrics.TokenLow, High: metrics.TokenHigh}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *pyRun) next() metrics.Snapshot {
	r.ts += 50_000_000
	for range 7 {
		r.osl.Record(40)
	}
	r.c[metrics.TrackedIssued].Add(9)
	r.c[metrics.TrackedCompleted].Add(7)
	if r.total {
		r.c[metrics.TotalDuration].Add(50_000_000)
	}
	return r.reg.Snapshot(metrics.StateLive, 0, r.ts)
}

var progressRx = regexp.MustCompile(`\[live +([0-9.]+)s\] completed (\d+), in flight \d+, failed 0, ([0-9.]+) req/s, ([0-9.]+) tok/s`)

// TestWatch_NoTrackedDuration attaches watch to snapshots without a tracked
// duration (the Python tool's live frames): elapsed time and rates come from
// consecutive frames, not 0.0 s and 0.0 req/s.
func TestWatch_NoTrackedDuration(t *testing.T) {
	t.Parallel()
	for name, counters := range map[string][]string{
		"python layout": {metrics.TrackedIssued, metrics.TrackedCompleted, metrics.TrackedFailed,
			metrics.TrackedDuration, metrics.TotalDuration},
		"no duration counters": {metrics.TrackedIssued, metrics.TrackedCompleted, metrics.TrackedFailed},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			addr := "ipc://" + filepath.Join(shortDir(t), "metrics.sock")
			pub := publisher(t, addr)
			c := startInferbench(t, "watch", "--no-tui", "--every", "0", "--publish-interval", "50ms", addr)
			waitOutput(t, c, "waiting for the first snapshot", 10*time.Second)
			run := newPyRun(t, counters...)
			// Publish until watch printed a few frames; the rates need two.
			deadline := time.Now().Add(15 * time.Second)
			for len(progressRx.FindAllString(c.stdout.String(), -1)) < 4 {
				if time.Now().After(deadline) {
					t.Fatalf("no progress lines:\n%s\n%s", c.stdout.String(), c.stderr.String())
				}
				if err := pub.Publish(run.next()); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			lines := progressRx.FindAllStringSubmatch(c.stdout.String(), -1)
			for _, m := range lines[1:] {
				elapsed, _ := strconv.ParseFloat(m[1], 64)
				qps, _ := strconv.ParseFloat(m[3], 64)
				tps, _ := strconv.ParseFloat(m[4], 64)
				// 7 completions and 280 tokens per 50 ms of snapshot clock.
				if elapsed <= 0 || qps != 140 || tps != 5600 {
					t.Errorf("line %q: elapsed %v s, %v req/s, %v tok/s; want elapsed > 0, 140 req/s, 5600 tok/s", m[0], elapsed, qps, tps)
				}
			}
		})
	}
}
