package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
)

// TestLock_RefusalNamesHolder runs real processes on one run directory: a
// benchmark refused a directory that a running `inferbench aggregate --out`
// holds is told so, with the aggregator's pid, and the reverse; each refusal
// is one line, exit 2, naming the flag to change.
func TestLock_RefusalNamesHolder(t *testing.T) {
	url := startMock(t, mockserver.Config{OutputTokens: 4, TTFT: 20 * time.Millisecond})
	dir := shortDir(t)
	run := filepath.Join(dir, "run")
	oneLine := func(t *testing.T, what string, code int, stderr, want string) {
		t.Helper()
		line := strings.TrimSpace(stderr)
		t.Logf("%s: %s", what, line)
		if code != 2 || !strings.Contains(line, want) || !strings.Contains(line, run) || strings.Contains(line, "\n") {
			t.Errorf("%s: exit %d, stderr %q\nwant 2 and one line naming %s and saying %q", what, code, stderr, run, want)
		}
	}
	holds := func() bool { _, err := os.Stat(rundir.Holder(run)); return err == nil }

	t.Run("aggregate holds", func(t *testing.T) {
		agg := startInferbench(t, "aggregate", "--events", "ipc://"+filepath.Join(dir, "ev.sock"), "--out", run)
		waitFor(t, "the aggregator to start", 20*time.Second, func() bool { return strings.Contains(agg.stderr.String(), "snapshots on") })
		waitFor(t, "the aggregator's lock note", 5*time.Second, holds)
		code, _, stderr := runInferbench(t, "benchmark", "concurrency", "--endpoint", url, "--model", "mock-model",
			"--synthetic", "4", "--concurrency", "1", "--report-dir", run, "--no-tui")
		oneLine(t, "benchmark into the aggregator's directory", code, stderr,
			fmt.Sprintf("is in use by a running `inferbench aggregate` (pid %d); choose another --report-dir", agg.cmd.Process.Pid))
		if err := agg.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		agg.wait(t, 20*time.Second)
	})

	t.Run("benchmark holds", func(t *testing.T) {
		// Long enough to be running while the aggregator tries; killed at the end.
		b := startInferbench(t, "benchmark", "concurrency", "--endpoint", url, "--model", "mock-model",
			"--synthetic", "100000", "--concurrency", "1", "--report-dir", run, "--overwrite", "--no-tui")
		waitFor(t, "the benchmark's lock note", 20*time.Second, holds)
		code, _, stderr := runInferbench(t, "aggregate", "--events", "ipc://"+filepath.Join(dir, "ev2.sock"), "--out", run,
			"--metrics", "ipc://"+filepath.Join(dir, "m2.sock"))
		oneLine(t, "aggregate into the benchmark's directory", code, stderr,
			fmt.Sprintf("is in use by a running `inferbench benchmark concurrency` (pid %d); choose another --out", b.cmd.Process.Pid))
		// Nor does `report --write` or `--html` write into it meanwhile.
		for _, flag := range []string{"--write", "--html"} {
			code, _, stderr = runInferbench(t, "report", run, flag)
			oneLine(t, "report "+flag+" into the benchmark's directory", code, stderr,
				fmt.Sprintf("is in use by a running `inferbench benchmark concurrency` (pid %d); wait until it ends", b.cmd.Process.Pid))
		}
		if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		b.wait(t, 30*time.Second)
		if _, err := os.Stat(rundir.Holder(run)); !os.IsNotExist(err) {
			t.Errorf("lock note after the benchmark ended: %v, want none", err)
		}
		// Once it ended, the report writes.
		if code, _, stderr := runInferbench(t, "report", run, "--write"); code != 0 {
			t.Errorf("report --write after the run: exit %d\n%s", code, stderr)
		}
	})
}
