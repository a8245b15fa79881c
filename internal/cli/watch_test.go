package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
)

// fakeRun produces the snapshots of a session laid out as the aggregator lays
// out its own: every step completes 7 more samples.
type fakeRun struct {
	mu   sync.Mutex
	reg  *metrics.Registry
	c    map[string]*metrics.Counter
	ttft *metrics.Series
	osl  *metrics.Series
	n    int64
}

func newFakeRun(t *testing.T) *fakeRun {
	t.Helper()
	r := &fakeRun{reg: metrics.NewRegistry(), c: map[string]*metrics.Counter{}}
	for _, n := range []string{metrics.TotalIssued, metrics.TotalCompleted, metrics.TotalFailed,
		metrics.TrackedIssued, metrics.TrackedCompleted, metrics.TrackedFailed,
		metrics.TrackedDuration, metrics.TotalDuration} {
		var err error
		if r.c[n], err = r.reg.NewCounter(n, false); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if r.ttft, err = r.reg.NewSeries(metrics.SeriesTTFT, metrics.SeriesOpts{Low: metrics.TimeLow, High: metrics.TimeHigh}); err != nil {
		t.Fatal(err)
	}
	if r.osl, err = r.reg.NewSeries(metrics.SeriesOSL, metrics.SeriesOpts{Low: metrics.TokenLow, High: metrics.TokenHigh}); err != nil {
		t.Fatal(err)
	}
	return r
}

// next advances the run by one publish interval and snapshots it in state st.
func (r *fakeRun) next(st metrics.State) metrics.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range 7 {
		r.n++
		r.ttft.Record(10_000_000 + r.n*10_000)
		r.osl.Record(30 + r.n%20)
	}
	for _, n := range []string{metrics.TotalIssued, metrics.TrackedIssued} {
		r.c[n].Add(9)
	}
	for _, n := range []string{metrics.TotalCompleted, metrics.TrackedCompleted} {
		r.c[n].Add(7)
	}
	for _, n := range []string{metrics.TrackedDuration, metrics.TotalDuration} {
		r.c[n].Add(50_000_000)
	}
	return r.reg.Snapshot(st, 0, r.n)
}

func (r *fakeRun) completed() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.c[metrics.TrackedCompleted].Int()
}

// publisher binds a real snapshot publisher, as bench.New does.
func publisher(t *testing.T, addr string) *bus.ZMQPublisher[metrics.Snapshot] {
	t.Helper()
	pub, err := bus.NewZMQPublisher[metrics.Snapshot](addr, metrics.SnapshotCodec{}, bus.SnapshotPublisherOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	return pub
}

// liveFrames publishes a live frame every 50 ms until the returned stop is
// called.
func liveFrames(t *testing.T, pub *bus.ZMQPublisher[metrics.Snapshot], r *fakeRun) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		// Bounded: at most 20 s of frames whatever the test does.
		for range 400 {
			if err := pub.Publish(r.next(metrics.StateLive)); err != nil {
				t.Errorf("publish: %v", err)
				return
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { close(done); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// waitOutput polls the child's stdout until it matches re.
func waitOutput(t *testing.T, c *child, re string, d time.Duration) {
	t.Helper()
	rx := regexp.MustCompile(re)
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if rx.MatchString(c.stdout.String()) {
			return
		}
	}
	t.Fatalf("no %q in watch's output within %v\nstdout:\n%s\nstderr:\n%s", re, d, c.stdout.String(), c.stderr.String())
}

// TestWatch_Plain runs `inferbench watch --no-tui` as a child process against
// a real ZeroMQ snapshot publisher in the test: started before the publisher,
// started mid-run, across a publisher restart, and with the terminal frame
// missed (the final snapshot file stands in).
func TestWatch_Plain(t *testing.T) {
	t.Parallel()
	for _, tc := range []string{"late publisher", "mid-run", "publisher restart", "terminal frame missed"} {
		t.Run(tc, func(t *testing.T) {
			t.Parallel()
			dir := shortDir(t)
			addr := "ipc://" + filepath.Join(dir, rundir.SocketFile)
			run := newFakeRun(t)
			watchArgs := []string{"watch", "--no-tui", "--every", "0", "--publish-interval", "50ms", "--gone-after", "6"}
			var c *child
			var pub *bus.ZMQPublisher[metrics.Snapshot]
			switch tc {
			case "late publisher", "publisher restart":
				c = startInferbench(t, append(watchArgs, addr)...)
				waitOutput(t, c, "waiting for the first snapshot", 10*time.Second)
				time.Sleep(200 * time.Millisecond) // nothing to connect to for a while
				pub = publisher(t, addr)
			case "mid-run", "terminal frame missed":
				pub = publisher(t, addr)
				stop := liveFrames(t, pub, run)
				time.Sleep(300 * time.Millisecond)
				target := addr
				if tc == "terminal frame missed" {
					target = dir // the run directory: watch derives the socket
				}
				c = startInferbench(t, append(watchArgs, target)...)
				stop()
			}
			stop := liveFrames(t, pub, run)
			waitOutput(t, c, `\[live `, 15*time.Second)
			stop()
			switch tc {
			case "publisher restart":
				// The first publisher goes away mid-run; a new one binds the
				// same address and finishes the run.
				pub.Close()
				time.Sleep(500 * time.Millisecond)
				pub = publisher(t, addr)
				seen := run.completed()
				stop := liveFrames(t, pub, run)
				// Frames published before watch reconnected are lost (PUB
				// drops them): any count past the first publisher's will do.
				waitFor(t, "a frame of the new publisher", 15*time.Second, func() bool {
					for _, m := range progressCompletedRx.FindAllStringSubmatch(c.stdout.String(), -1) {
						if n, _ := strconv.ParseInt(m[1], 10, 64); n > seen {
							return true
						}
					}
					return false
				})
				stop()
			case "terminal frame missed":
				final := run.next(metrics.StateComplete)
				data, err := final.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(rundir.Metrics(dir), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(rundir.Final(dir), data, 0o644); err != nil {
					t.Fatal(err)
				}
				pub.Close() // the terminal frame is never published
			}
			var want int64
			if tc != "terminal frame missed" {
				final := run.next(metrics.StateComplete)
				want = final.CounterInt(metrics.TrackedCompleted)
				if err := pub.Publish(final); err != nil {
					t.Fatal(err)
				}
			} else {
				want = run.completed()
			}
			if code := c.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("watch exited %d\nstdout:\n%s\nstderr:\n%s", code, c.stdout.String(), c.stderr.String())
			}
			out := c.stdout.String()
			for _, s := range []string{"[complete ", fmt.Sprintf("completed %d,", want), "inferbench: run ended: complete"} {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			missed := strings.Contains(c.stderr.String(), "terminal frame was missed")
			if missed != (tc == "terminal frame missed") {
				t.Errorf("stderr says missed=%v:\n%s", missed, c.stderr.String())
			}
		})
	}
}

func TestWatch_BadAddr(t *testing.T) {
	t.Parallel()
	// A missing directory is a run to come (watch may start first); a
	// regular file is not a run directory.
	file := filepath.Join(shortDir(t), "nope")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runInferbench(t, "watch", file)
	if code != 2 || !strings.Contains(stderr, "nope") {
		t.Fatalf("watch of a regular file: exit %d, stderr %q", code, stderr)
	}
}

// watchPane is a tmux pane running `inferbench watch ARGS`; the pane stays
// after watch exits so its last frame and exit code can be read.
type watchPane struct {
	t          *testing.T
	sock, name string
}

func startWatchPane(t *testing.T, sock, name, args string) *watchPane {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	shell := fmt.Sprintf("env %s=1 TERM=xterm-256color %s watch %s; echo WATCH-EXIT=$?; sleep 60", envMain, self, args)
	tmux(t, sock, "new-session", "-d", "-x", "120", "-y", "40", "-s", name, shell)
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", sock, "kill-server").Run() })
	return &watchPane{t: t, sock: sock, name: name}
}

// wait returns the screen once it matches re.
func (p *watchPane) wait(re string, d time.Duration) string {
	p.t.Helper()
	rx := regexp.MustCompile(re)
	var screen string
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if screen = tmux(p.t, p.sock, "capture-pane", "-p", "-t", p.name); rx.MatchString(screen) {
			return screen
		}
	}
	p.t.Fatalf("screen never showed %q:\n%s", re, screen)
	return ""
}

var completedRx = regexp.MustCompile(`completed (\d+) `)

// progressCompletedRx reads the completed count off a progress line.
var progressCompletedRx = regexp.MustCompile(`\] completed (\d+)\b`)

// completedOn reads the completed count off a dashboard screen.
func completedOn(t *testing.T, screen string) int {
	t.Helper()
	m := completedRx.FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no completed count on screen:\n%s", screen)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// tmux runs one tmux command on the test's own server.
func tmux(t *testing.T, sock string, args ...string) string {
	t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestWatch_TUI runs the dashboard in a real terminal (tmux) against a real
// publisher: it waits, shows numbers that change, switches series on tab and
// ends on the final state.
func TestWatch_TUI(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("SKIPPING the terminal test: tmux is not installed (apt install tmux)")
	}
	dir := shortDir(t)
	addr := "ipc://" + filepath.Join(dir, rundir.SocketFile)
	sock := filepath.Join(dir, "tmux.sock")
	pane := startWatchPane(t, sock, "ibt", "--publish-interval 50ms "+addr)
	waitScreen := func(re string) string { t.Helper(); return pane.wait(re, 15*time.Second) }
	waitScreen("waiting for the first snapshot")

	run := newFakeRun(t)
	pub := publisher(t, addr)
	stop := liveFrames(t, pub, run)
	first := completedOn(t, waitScreen(`LIVE · elapsed`))
	time.Sleep(400 * time.Millisecond)
	second := completedOn(t, waitScreen(`LIVE · elapsed`))
	if second <= first {
		t.Fatalf("numbers did not change between captures: %d then %d", first, second)
	}
	waitScreen(`histogram · TTFT`)
	tmux(t, sock, "send-keys", "-t", "ibt", "Tab")
	waitScreen(`histogram · OSL`)
	stop()

	final := run.next(metrics.StateComplete)
	if err := pub.Publish(final); err != nil {
		t.Fatal(err)
	}
	screen := waitScreen(`WATCH-EXIT=\d+`)
	t.Logf("final screen:\n%s", screen)
	for _, s := range []string{"COMPLETE", "WATCH-EXIT=0", "run complete: final snapshot",
		fmt.Sprintf("completed %d ", final.CounterInt(metrics.TrackedCompleted))} {
		if !strings.Contains(screen, s) {
			t.Errorf("final screen lacks %q:\n%s", s, screen)
		}
	}
}

// TestWatch_RealBenchmark drives `inferbench watch` in tmux against a real
// benchmark (a child process against the mock server), started before the
// run: the numbers change between captures and the screen ends on the
// final state.
func TestWatch_RealBenchmark(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("SKIPPING the terminal test: tmux is not installed (apt install tmux)")
	}
	url := startMock(t, mockserver.Config{TTFT: 10 * time.Millisecond, TPOT: 2 * time.Millisecond, OutputTokens: 20})
	dir := shortDir(t)
	runDir := filepath.Join(dir, "run")
	sock := filepath.Join(dir, "tmux.sock")
	pane := startWatchPane(t, sock, "ibr", runDir)
	waitScreen := func(re string) string { t.Helper(); return pane.wait(re, 30*time.Second) }
	waitScreen("waiting")

	bench := startInferbench(t, "benchmark", "online", "--endpoint", url, "--model", "mock-model", "--synthetic", "400",
		"--target-qps", "80", "--report-dir", runDir, "--no-tui", "--publish-interval", "100ms")
	first := completedOn(t, waitScreen(`LIVE · elapsed`))
	time.Sleep(time.Second)
	second := completedOn(t, waitScreen(`LIVE · elapsed`))
	if second <= first {
		t.Errorf("numbers did not change between captures: %d then %d", first, second)
	}
	screen := waitScreen(`WATCH-EXIT=\d+`)
	if !strings.Contains(screen, "COMPLETE") || !strings.Contains(screen, "WATCH-EXIT=0") || !strings.Contains(screen, "400") {
		t.Errorf("final screen lacks the complete state of 400 samples:\n%s", screen)
	}
	if code := bench.wait(t, 30*time.Second); code != 0 {
		t.Errorf("benchmark exit %d:\n%s", code, bench.stderr.String())
	}
}
