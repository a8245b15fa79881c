package cli_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/zcurve"
)

var fleetAddrRE = regexp.MustCompile(`workers on (tcp://[0-9.]+:[0-9]+)`)

// fleetAddr waits for the coordinator to say where it listens.
func fleetAddr(t *testing.T, c *child) string {
	t.Helper()
	var addr string
	waitFor(t, "the coordinator to listen", 30*time.Second, func() bool {
		m := fleetAddrRE.FindStringSubmatch(c.stderr.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	})
	return addr
}

// joinFleet starts n workers, named w0, w1…, with args for the
// coordinator coord and waits until it says the fleet is ready.
func joinFleet(t *testing.T, coord *child, n int, args ...string) []*child {
	t.Helper()
	addr := fleetAddr(t, coord)
	var workers []*child
	for i := range n {
		workers = append(workers, startInferbench(t, append([]string{"worker", "--coordinator", addr, "--name", fmt.Sprintf("w%d", i)}, args...)...))
	}
	waitFor(t, "the fleet to start", 30*time.Second, func() bool { return strings.Contains(coord.stderr.String(), "fleet ready") })
	return workers
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// readFinalSnapshot reads a run directory's final snapshot.
func readFinalSnapshot(t testing.TB, dir string) metrics.Snapshot {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "metrics", "final_snapshot.json"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := metrics.ParseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	return *snap
}

// TestFleet_BadInput: one line, exit code 2.
func TestFleet_BadInput(t *testing.T) {
	closed := "tcp://" + freePort(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"fleet size 0", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--synthetic", "4",
			"--fleet-size", "0", "--fleet-listen", "tcp://127.0.0.1:0"}, "--fleet-size 0"},
		{"no listen", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--synthetic", "4",
			"--fleet-size", "2"}, "--fleet-listen"},
		{"not loopback without keys", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--synthetic", "4",
			"--fleet-size", "2", "--fleet-listen", "tcp://192.0.2.7:7000"}, "CURVE keys required: see inferbench keygen"},
		{"bad on-loss", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--synthetic", "4",
			"--fleet-size", "2", "--fleet-listen", "tcp://127.0.0.1:0", "--fleet-on-loss", "maybe"}, "--fleet-on-loss"},
		{"worker without coordinator", []string{"worker"}, "--coordinator is required"},
		{"unreachable coordinator", []string{"worker", "--coordinator", closed, "--fleet-timeout", "300ms", "--name", "w"}, "coordinator unreachable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runInferbench(t, tc.args...)
			if code != 2 {
				t.Errorf("exit code %d, want 2\nstderr:\n%s", code, stderr)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q: want one line with %q", stderr, tc.want)
			}
		})
	}
}

// TestFleet_KillWorker: a worker killed with SIGKILL mid-run is declared
// lost after --fleet-timeout; its in-flight samples count failed
// (worker_lost), every issued sample is accounted for, and the report names
// the worker. With --fleet-on-loss continue the run goes on with the
// others; with abort it stops (interrupted).
func TestFleet_KillWorker(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		state metrics.State
		code  int
	}{
		{"continue", []string{"--fleet-on-loss", "continue"}, metrics.StateComplete, 0},
		// The load was not delivered: the verdict fails with --strict-load.
		{"continue/strict-load", []string{"--fleet-on-loss", "continue", "--strict-load"}, metrics.StateComplete, 3},
		{"abort", []string{"--fleet-on-loss", "abort"}, metrics.StateInterrupted, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := startMock(t, mockserver.Config{TTFT: 20 * time.Millisecond, TPOT: 5 * time.Millisecond, OutputTokens: 40})
			dir := filepath.Join(shortDir(t), "run")
			coord := startInferbench(t, slices.Concat([]string{"benchmark", "concurrency", "--endpoint", url, "--model", "mock-model",
				"--synthetic", "50", "--concurrency", "6", "--num-samples", "150", "--report-dir", dir, "--no-tui",
				"--fleet-size", "3", "--fleet-listen", "tcp://127.0.0.1:0", "--fleet-timeout", "1s"}, tc.args)...)
			workers := joinFleet(t, coord, 3, "--once", "--fleet-timeout", "5s")
			time.Sleep(700 * time.Millisecond)
			if err := workers[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			code := coord.wait(t, 60*time.Second)
			if code != tc.code {
				t.Fatalf("coordinator exit code %d, want %d\nstderr:\n%s", code, tc.code, coord.stderr.String())
			}
			for _, i := range []int{0, 2} {
				if c := workers[i].wait(t, 20*time.Second); c != 0 {
					t.Errorf("worker w%d exit code %d\n%s", i, c, workers[i].stderr.String())
				}
			}
			snap := readFinalSnapshot(t, dir)
			if snap.State != tc.state {
				t.Errorf("state %s, want %s", snap.State, tc.state)
			}
			issued, completed, failed := snap.CounterInt(metrics.TrackedIssued), snap.CounterInt(metrics.TrackedCompleted), snap.CounterInt(metrics.TrackedFailed)
			lost := snap.CounterInt(metrics.ErrorCounterPrefix + "worker_lost")
			if issued != completed || lost == 0 || failed < lost {
				t.Errorf("issued %d, completed %d, failed %d, worker_lost %d: want issued = completed and worker_lost > 0", issued, completed, failed, lost)
			}
			// The loss itself is in the stream too, once.
			if n := snap.CounterInt(metrics.OtherErrorCounterPrefix + metrics.ClassWorkerLost); n != 1 {
				t.Errorf("other_errors.worker_lost %d, want 1", n)
			}
			if issued >= 150 {
				t.Errorf("issued %d: the lost worker's share cannot all have been delivered", issued)
			}
			report, err := os.ReadFile(filepath.Join(dir, "report.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(report), "worker w1 was lost") || !strings.Contains(string(report), "load not delivered") {
				t.Errorf("report does not name the lost worker:\n%s", report)
			}
		})
	}
}

// TestFleet_WorkerInterrupted: a worker stopped on its own (Ctrl-C) hands
// in what it did; the run completes with the rest, but its load was not
// delivered: the stream says so (other_errors.worker_stopped) and
// --strict-load fails the run (exit 3).
func TestFleet_WorkerInterrupted(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 20 * time.Millisecond, TPOT: 5 * time.Millisecond, OutputTokens: 40})
	dir := filepath.Join(shortDir(t), "run")
	coord := startInferbench(t, "benchmark", "concurrency", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "50", "--concurrency", "4", "--num-samples", "120", "--report-dir", dir, "--no-tui",
		"--fleet-size", "2", "--fleet-listen", "tcp://127.0.0.1:0", "--strict-load")
	workers := joinFleet(t, coord, 2, "--once")
	time.Sleep(700 * time.Millisecond)
	if err := workers[1].cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := coord.wait(t, 60*time.Second); code != 3 {
		t.Fatalf("coordinator exit code %d, want 3 (load not delivered)\nstderr:\n%s", code, coord.stderr.String())
	}
	for i, w := range workers {
		if c := w.wait(t, 20*time.Second); c != 0 {
			t.Errorf("worker w%d exit code %d\n%s", i, c, w.stderr.String())
		}
	}
	snap := readFinalSnapshot(t, dir)
	if n := snap.CounterInt(metrics.OtherErrorCounterPrefix + metrics.ClassWorkerStopped); n != 1 {
		t.Errorf("other_errors.worker_stopped %d, want 1", n)
	}
	issued, completed := snap.CounterInt(metrics.TrackedIssued), snap.CounterInt(metrics.TrackedCompleted)
	if issued != completed || issued >= 120 {
		t.Errorf("issued %d, completed %d: want every issued sample completed, and fewer than 120 issued", issued, completed)
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(report), "worker w1 stopped before its share was issued") {
		t.Errorf("report does not name the stopped worker:\n%s", report)
	}
}

// TestFleet_KillCoordinator: workers whose coordinator dies stop issuing
// and exit non-zero within --fleet-timeout.
func TestFleet_KillCoordinator(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 20 * time.Millisecond, TPOT: 5 * time.Millisecond, OutputTokens: 40})
	dir := filepath.Join(shortDir(t), "run")
	coord := startInferbench(t, "benchmark", "concurrency", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "50", "--concurrency", "4", "--duration", "60s", "--report-dir", dir, "--no-tui",
		"--fleet-size", "2", "--fleet-listen", "tcp://127.0.0.1:0")
	workers := joinFleet(t, coord, 2, "--fleet-timeout", "1s")
	time.Sleep(500 * time.Millisecond)
	if err := coord.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i, w := range workers {
		// 1 s of silence, plus the grace of a loaded machine.
		if code := w.wait(t, 10*time.Second); code != 1 {
			t.Errorf("worker %d exit code %d, want 1\n%s", i, code, w.stderr.String())
		}
		if msg := w.stderr.String(); !strings.Contains(msg, "coordinator lost") {
			t.Errorf("worker %d stderr %q: want it to say the coordinator was lost", i, msg)
		}
	}
}

// TestFleet_Interrupt: Ctrl-C at the coordinator stops the whole fleet
// gracefully: the run ends interrupted with every issued sample accounted
// for, and the workers exit 0.
func TestFleet_Interrupt(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 20 * time.Millisecond, TPOT: 2 * time.Millisecond, OutputTokens: 20})
	dir := filepath.Join(shortDir(t), "run")
	coord := startInferbench(t, "benchmark", "online", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "50", "--target-qps", "100", "--duration", "60s", "--report-dir", dir, "--no-tui",
		"--fleet-size", "2", "--fleet-listen", "tcp://127.0.0.1:0")
	workers := joinFleet(t, coord, 2, "--once")
	time.Sleep(800 * time.Millisecond)
	if err := coord.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := coord.wait(t, 30*time.Second); code != 1 {
		t.Errorf("coordinator exit code %d, want 1 (interrupted)\n%s", code, coord.stderr.String())
	}
	for i, w := range workers {
		if code := w.wait(t, 20*time.Second); code != 0 {
			t.Errorf("worker %d exit code %d\n%s", i, code, w.stderr.String())
		}
	}
	snap := readFinalSnapshot(t, dir)
	if snap.State != metrics.StateInterrupted {
		t.Errorf("state %s, want interrupted", snap.State)
	}
	if i, c := snap.CounterInt(metrics.TrackedIssued), snap.CounterInt(metrics.TrackedCompleted); i == 0 || i != c {
		t.Errorf("issued %d, completed %d", i, c)
	}
}

// TestFleet_Scale32: 32 worker processes on loopback join within 2 s of the
// coordinator's start and run a short offline benchmark; the merged counts
// are exact.
func TestFleet_Scale32(t *testing.T) {
	if testing.Short() {
		t.Skip("32 processes; -short")
	}
	url := startMock(t, mockserver.Config{OutputTokens: 4})
	dir := filepath.Join(shortDir(t), "run")
	addr := "tcp://" + freePort(t)
	const n = 32
	var workers []*child
	for i := range n {
		workers = append(workers, startInferbench(t, "worker", "--coordinator", addr, "--name", fmt.Sprintf("w%02d", i), "--once", "--fleet-timeout", "60s"))
	}
	// The workers wait for the coordinator; it gives them 2 s to join.
	code, stdout, stderr := runInferbench(t, "benchmark", "offline", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "64", "--num-samples", "640", "--warmup", "32", "--max-in-flight", "64", "--report-dir", dir, "--no-tui",
		"--fleet-size", fmt.Sprint(n), "--fleet-listen", addr, "--fleet-wait", "2s", "--fleet-timeout", "30s")
	if code != 0 {
		t.Fatalf("coordinator exit code %d\nstderr:\n%s\nstdout:\n%s", code, stderr, stdout)
	}
	snap := readFinalSnapshot(t, dir)
	for name, want := range map[string]int64{metrics.TrackedIssued: 640, metrics.TrackedCompleted: 640, metrics.TrackedFailed: 0, metrics.TotalIssued: 672} {
		if got := snap.CounterInt(name); got != want {
			t.Errorf("%s %d, want exactly %d", name, got, want)
		}
	}
	for i, w := range workers {
		if code := w.wait(t, 30*time.Second); code != 0 {
			t.Errorf("worker %d exit code %d\n%s", i, code, w.stderr.String())
		}
	}
}

// curveKeys writes a coordinator key directory allowing the named workers
// and one key directory per worker (plus a stranger the coordinator does
// not know); it returns the directories by name ("coordinator", names...,
// "stranger").
func curveKeys(t *testing.T, names ...string) map[string]string {
	t.Helper()
	root := t.TempDir()
	dirs := map[string]string{}
	coord, err := zcurve.Generate()
	if err != nil {
		t.Fatal(err)
	}
	dirs["coordinator"] = filepath.Join(root, "coordinator")
	if err := zcurve.WriteKeyPair(dirs["coordinator"], coord, false); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dirs["coordinator"], "allowed"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range append(names, "stranger") {
		kp, err := zcurve.Generate()
		if err != nil {
			t.Fatal(err)
		}
		dirs[name] = filepath.Join(root, name)
		if err := zcurve.WriteKeyPair(dirs[name], kp, false); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirs[name], "coordinator.public"), []byte(coord.Public+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if name != "stranger" {
			if err := os.WriteFile(filepath.Join(dirs["coordinator"], "allowed", name+".public"), []byte(kp.Public+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dirs
}

// TestFleet_Curve: with --fleet-keys both channels use CURVE: allowed
// workers run the benchmark; a worker whose key is not allowed gets no
// answer (exit 2) and the coordinator logs the refusal; a key file that is
// not a key is a one-line usage error.
func TestFleet_Curve(t *testing.T) {
	url := startMock(t, mockserver.Config{OutputTokens: 4})
	keys := curveKeys(t, "w0", "w1")
	dir := filepath.Join(shortDir(t), "run")
	addr := "tcp://" + freePort(t)
	coord := startInferbench(t, "benchmark", "offline", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "20", "--num-samples", "60", "--report-dir", dir, "--no-tui",
		"--fleet-size", "2", "--fleet-listen", addr, "--fleet-keys", keys["coordinator"])
	fleetAddr(t, coord)
	code, _, stderr := runInferbench(t, "worker", "--coordinator", addr, "--name", "intruder", "--once",
		"--fleet-timeout", "1s", "--fleet-keys", keys["stranger"])
	if code != 2 || !strings.Contains(stderr, "allowed/") {
		t.Errorf("worker with an unknown key: exit %d, stderr %q; want 2 and a hint about the allow-list", code, stderr)
	}
	var workers []*child
	for _, name := range []string{"w0", "w1"} {
		workers = append(workers, startInferbench(t, "worker", "--coordinator", addr, "--name", name, "--once", "--fleet-keys", keys[name]))
	}
	if code := coord.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("coordinator exit code %d\n%s", code, coord.stderr.String())
	}
	if !strings.Contains(coord.stderr.String(), "zcurve: refused a peer") {
		t.Errorf("the coordinator did not log the refused worker:\n%s", coord.stderr.String())
	}
	for i, w := range workers {
		if code := w.wait(t, 20*time.Second); code != 0 {
			t.Errorf("worker %d exit code %d\n%s", i, code, w.stderr.String())
		}
	}
	if got := readFinalSnapshot(t, dir).CounterInt(metrics.TrackedCompleted); got != 60 {
		t.Errorf("completed %d, want 60", got)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "key.secret"), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"worker", "--coordinator", addr, "--fleet-keys", bad},
		{"benchmark", "offline", "--endpoint", url, "--model", "m", "--synthetic", "4", "--fleet-size", "1", "--fleet-listen", "tcp://127.0.0.1:0", "--fleet-keys", bad},
	} {
		code, _, stderr := runInferbench(t, args...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "key.secret") {
			t.Errorf("%s with a bad key file: exit %d, stderr %q; want 2 and one line naming the file", args[0], code, stderr)
		}
	}
}

// TestFleet_WaitTimeout: a fleet that does not fill within --fleet-wait is
// a failed run (exit 1) that says how many joined, and leaves no run
// directory behind.
func TestFleet_WaitTimeout(t *testing.T) {
	url := startMock(t, mockserver.Config{OutputTokens: 4})
	dir := filepath.Join(shortDir(t), "run")
	code, _, stderr := runInferbench(t, "benchmark", "offline", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "8", "--report-dir", dir, "--no-tui",
		"--fleet-size", "2", "--fleet-listen", "tcp://127.0.0.1:0", "--fleet-wait", "300ms")
	if code != 1 || !strings.Contains(stderr, "0 of 2 workers joined") || !strings.Contains(stderr, "2 missing") {
		t.Errorf("exit code %d, stderr %q: want 1 and how many are missing", code, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("run directory left behind: %v", err)
	}
}

// TestFleet_CannotSplit: a load that cannot be divided over the fleet is a
// usage error before any worker is waited for.
func TestFleet_CannotSplit(t *testing.T) {
	url := startMock(t, mockserver.Config{OutputTokens: 4})
	dir := filepath.Join(shortDir(t), "run")
	code, _, stderr := runInferbench(t, "benchmark", "concurrency", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "8", "--concurrency", "2", "--report-dir", dir, "--no-tui",
		"--fleet-size", "3", "--fleet-listen", "tcp://127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "concurrency 2 is less than the fleet size 3") || strings.Contains(stderr, "waiting") {
		t.Errorf("exit code %d, stderr %q: want 2 before waiting for workers", code, stderr)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("run directory left behind: %v", err)
	}
}
