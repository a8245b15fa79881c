package cli_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
)

// logCounts is what the full event log (events.jsonl.zst) holds, counted the way the aggregator
// counts: sample records and the error records attributed to a sample.
type logCounts struct {
	issued, completed, failed int64
	classes                   map[string]int64 // error class → count, errors with a sample only
}

// readFullLog returns the decompressed content of an events.jsonl.zst, as
// far as its whole frames go.
func readFullLog(path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		return nil
	}
	defer dec.Close()
	out, _ := dec.DecodeAll(data, nil)
	return out
}

func countEventLog(t *testing.T, path string) logCounts {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	c := logCounts{classes: map[string]int64{}}
	sc := bufio.NewScanner(bytes.NewReader(readFullLog(path)))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for n := 1; sc.Scan(); n++ {
		var r struct {
			Type string `json:"event_type"`
			UUID string `json:"sample_uuid"`
			Data struct {
				ErrorType string `json:"error_type"`
			} `json:"data"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s line %d: %v", path, n, err)
		}
		switch {
		case r.Type == "sample.issued":
			c.issued++
		case r.Type == "sample.complete":
			c.completed++
		case strings.HasPrefix(r.Type, "error.") && r.UUID != "":
			c.failed++
			c.classes[r.Data.ErrorType]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// stopDriver stops a running benchmark the way a user does.
type stopDriver func(t *testing.T, r *stopRun)

// stopRun is a benchmark child, started either as a plain process (signals)
// or in a tmux terminal (the dashboard's keys).
type stopRun struct {
	dir  string
	proc *child // plain runs
	// tmux runs
	sock, pane string
}

func (r *stopRun) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := r.proc.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// stopped waits until the run printed that it took the first stop.
func (r *stopRun) stopped(t *testing.T) {
	t.Helper()
	waitFor(t, "the first stop to be taken", 10*time.Second, func() bool { return strings.Contains(r.proc.stderr.String(), "stopping") })
}

func (r *stopRun) key(t *testing.T, k string) {
	t.Helper()
	tmux(t, r.sock, "send-keys", "-t", r.pane, k)
}

// TestBenchmark_StopAccounting stops a real benchmark child process in every
// way a user can (one or two SIGINTs, SIGTERM, the grace period running out,
// q once or twice in the dashboard) while requests are in flight, and checks
// that nothing is lost: the final snapshot counts every issued request as
// completed (the cancelled ones as failed, with their class), and its
// counters equal what the event log holds.
func TestBenchmark_StopAccounting(t *testing.T) {
	slow := mockserver.Config{TTFT: 30 * time.Second, OutputTokens: 5}
	quick := mockserver.Config{TTFT: 700 * time.Millisecond, OutputTokens: 5}
	tests := []struct {
		name   string
		server mockserver.Config
		grace  time.Duration
		tui    bool
		stop   stopDriver
		// cancelled: every in-flight request is cancelled (class canceled);
		// otherwise they all finish within the grace period.
		cancelled bool
	}{
		{"one SIGINT: in-flight requests finish", quick, 20 * time.Second, false, func(t *testing.T, r *stopRun) {
			r.signal(t, syscall.SIGINT)
		}, false},
		{"two SIGINTs: in-flight requests cancelled", slow, 20 * time.Second, false, func(t *testing.T, r *stopRun) {
			r.signal(t, syscall.SIGINT)
			r.stopped(t)
			time.Sleep(300 * time.Millisecond)
			r.signal(t, syscall.SIGINT)
		}, true},
		{"SIGTERM: in-flight requests finish", quick, 20 * time.Second, false, func(t *testing.T, r *stopRun) {
			r.signal(t, syscall.SIGTERM)
		}, false},
		{"SIGTERM then SIGINT: cancelled", slow, 20 * time.Second, false, func(t *testing.T, r *stopRun) {
			r.signal(t, syscall.SIGTERM)
			r.stopped(t)
			r.signal(t, syscall.SIGINT)
		}, true},
		{"grace period expires", slow, 300 * time.Millisecond, false, func(t *testing.T, r *stopRun) {
			r.signal(t, syscall.SIGINT)
		}, true},
		{"q in the dashboard: in-flight requests finish", quick, 20 * time.Second, true, func(t *testing.T, r *stopRun) {
			r.key(t, "q")
		}, false},
		{"q twice in the dashboard: cancelled", slow, 20 * time.Second, true, func(t *testing.T, r *stopRun) {
			r.key(t, "q")
			time.Sleep(500 * time.Millisecond)
			r.key(t, "q")
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.tui {
				if _, err := exec.LookPath("tmux"); err != nil {
					t.Skip("SKIPPING the terminal case: tmux is not installed (apt install tmux)")
				}
			}
			url := startMock(t, tc.server)
			base := shortDir(t)
			r := &stopRun{dir: filepath.Join(base, "run")}
			args := []string{"benchmark", "online", "--endpoint", url, "--model", "mock-model",
				"--synthetic", "1000", "--target-qps", "40", "--report-dir", r.dir,
				"--grace-period", tc.grace.String(), "--publish-interval", "50ms", "--event-log", "full"}
			var exited func() bool
			if tc.tui {
				self, err := os.Executable()
				if err != nil {
					t.Fatal(err)
				}
				r.sock, r.pane = filepath.Join(base, "tmux.sock"), "ibs"
				shell := fmt.Sprintf("env %s=1 TERM=xterm-256color %s %s; echo BENCH-EXIT=$?; sleep 60",
					envMain, self, strings.Join(args, " "))
				tmux(t, r.sock, "new-session", "-d", "-x", "120", "-y", "40", "-s", r.pane, shell)
				t.Cleanup(func() { _ = exec.Command("tmux", "-S", r.sock, "kill-server").Run() })
				exited = func() bool {
					return strings.Contains(tmux(t, r.sock, "capture-pane", "-p", "-t", r.pane), "BENCH-EXIT=")
				}
			} else {
				r.proc = startInferbench(t, append(args, "--no-tui")...)
				exited = func() bool {
					select {
					case <-r.proc.done:
						return true
					default:
						return false
					}
				}
			}
			events := filepath.Join(r.dir, "events.jsonl.zst")
			// Stop once a few requests are in flight (none has completed:
			// the first answer takes at least 700 ms).
			waitFor(t, "requests to be issued", 20*time.Second, func() bool {
				data := readFullLog(events)
				return strings.Count(string(data), `"sample.issued"`) >= 8
			})
			tc.stop(t, r)
			waitFor(t, "the run to end", 30*time.Second, exited)
			if r.proc != nil && r.proc.code != 1 {
				t.Errorf("exit code %d, want 1 (interrupted)\nstderr:\n%s", r.proc.code, r.proc.stderr.String())
			}
			if r.proc == nil {
				if screen := tmux(t, r.sock, "capture-pane", "-p", "-t", r.pane); !strings.Contains(screen, "BENCH-EXIT=1") {
					t.Errorf("want exit code 1 (interrupted):\n%s", screen)
				}
			}

			data, err := os.ReadFile(filepath.Join(r.dir, "metrics", "final_snapshot.json"))
			if err != nil {
				t.Fatal(err)
			}
			snap, err := metrics.ParseJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			log := countEventLog(t, events)
			c := func(name string) int64 { return snap.CounterInt(name) }
			t.Logf("event log: issued %d completed %d failed %d %v", log.issued, log.completed, log.failed, log.classes)
			if snap.State != metrics.StateInterrupted {
				t.Errorf("state %s, want interrupted", snap.State)
			}
			if log.issued < 8 || log.completed != log.issued {
				t.Errorf("event log: issued %d, completed %d: every issued request must complete", log.issued, log.completed)
			}
			for _, n := range []struct {
				name string
				want int64
			}{
				{metrics.TotalIssued, log.issued}, {metrics.TotalCompleted, log.completed}, {metrics.TotalFailed, log.failed},
				{metrics.TrackedIssued, log.issued}, {metrics.TrackedCompleted, log.completed}, {metrics.TrackedFailed, log.failed},
			} {
				if got := c(n.name); got != n.want {
					t.Errorf("final snapshot %s = %d, event log says %d", n.name, got, n.want)
				}
			}
			for class, n := range log.classes {
				if got := c(metrics.ErrorCounterPrefix + class); got != n {
					t.Errorf("final snapshot %s%s = %d, event log says %d", metrics.ErrorCounterPrefix, class, got, n)
				}
			}
			if tc.cancelled {
				if log.failed != log.issued || log.classes["canceled"] != log.issued {
					t.Errorf("%d issued, %d failed %v: want every in-flight request cancelled", log.issued, log.failed, log.classes)
				}
			} else if log.failed != 0 {
				t.Errorf("%d failed %v: in-flight requests should finish in the grace period", log.failed, log.classes)
			}
		})
	}
}
