package cli_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAggregate_lock: an aggregator holds its --out directory's lock as a
// benchmark does: a second aggregate into the same directory is refused
// (exit 2, one line) while the first runs, and accepted once it ended.
func TestAggregate_lock(t *testing.T) {
	dir := shortDir(t)
	out := filepath.Join(dir, "run")
	start := func(sock string) *child {
		c := startInferbench(t, "aggregate", "--events", "ipc://"+filepath.Join(dir, sock), "--out", out)
		waitFor(t, "the aggregator to start", 20*time.Second, func() bool {
			return strings.Contains(c.stderr.String(), "snapshots on")
		})
		return c
	}
	first := start("a.sock")
	code, _, stderr := runInferbench(t, "aggregate", "--events", "ipc://"+filepath.Join(dir, "b.sock"), "--out", out,
		"--metrics", "ipc://"+filepath.Join(dir, "b-metrics.sock"))
	if line := strings.TrimSpace(stderr); code != 2 || !strings.Contains(line, "in use") || !strings.Contains(line, out) || strings.Contains(line, "\n") {
		t.Errorf("second aggregate: exit %d, stderr %q; want 2 and one line saying %s is in use", code, stderr, out)
	}
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	first.wait(t, 20*time.Second)
	again := start("c.sock") // the lock went with the first process
	if err := again.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	again.wait(t, 20*time.Second)
}
