package bench_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
)

// TestRunDir_RefusalNamesHolder: a benchmark refused a directory that an
// aggregator (bench.LockDir, what `inferbench aggregate --out` takes) holds
// is told which command and pid hold it, at New and at Open; the reverse
// too. The note goes with the lock: a released directory has none and is
// accepted.
func TestRunDir_RefusalNamesHolder(t *testing.T) {
	defer bench.SetHolder("")
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4})
	cfg := baseConfig(t, url)
	pid := fmt.Sprint(os.Getpid())

	// An aggregator holds the directory; a benchmark is refused, whether
	// it got past New (the check) before or not.
	late, err := bench.New(cfg, synthetic(t, 2), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	bench.SetHolder("inferbench aggregate")
	release, err := bench.LockDir(cfg.ReportDir)
	if err != nil {
		t.Fatal(err)
	}
	bench.SetHolder("inferbench benchmark concurrency")
	want := "is in use by a running `inferbench aggregate` (pid " + pid + "); choose another --report-dir"
	if _, err := bench.New(cfg, synthetic(t, 2), nil, quiet()); !errors.Is(err, bench.ErrDirInUse) || !strings.Contains(err.Error(), want) ||
		!strings.Contains(err.Error(), cfg.ReportDir) {
		t.Errorf("New while an aggregator holds the directory: %v\nwant ErrDirInUse naming %s and saying %q", err, cfg.ReportDir, want)
	}
	if err := late.Open(); !errors.Is(err, bench.ErrDirInUse) || !strings.Contains(err.Error(), want) {
		t.Errorf("Open while an aggregator holds the directory: %v, want %q", err, want)
	}
	release()
	if _, err := os.Lstat(rundir.Holder(cfg.ReportDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("holder note after release: %v, want none", err)
	}

	// A benchmark holds it; an aggregator, and another benchmark that got
	// past New before it, are refused.
	first, err := bench.New(cfg, synthetic(t, 2), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	second, err := bench.New(cfg, synthetic(t, 2), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := first.Open(); err != nil {
		t.Fatal(err)
	}
	bench.SetHolder("inferbench aggregate")
	if _, err := bench.LockDir(cfg.ReportDir); !errors.Is(err, bench.ErrDirInUse) ||
		!strings.Contains(err.Error(), "is in use by a running `inferbench benchmark concurrency` (pid "+pid+")") {
		t.Errorf("LockDir while a benchmark holds the directory: %v, want ErrDirInUse naming the benchmark", err)
	}
	want = "is in use by a running `inferbench benchmark concurrency` (pid " + pid + "); choose another --report-dir"
	if err := second.Open(); !errors.Is(err, bench.ErrDirInUse) || !strings.Contains(err.Error(), want) {
		t.Errorf("second Open: %v, want %q", err, want)
	}
	if _, err := first.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(rundir.Holder(cfg.ReportDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("holder note after the run: %v, want none", err)
	}
	release, err = bench.LockDir(cfg.ReportDir)
	if err != nil {
		t.Fatalf("LockDir after the run ended: %v", err)
	}
	release()
}

// TestRunDir_HolderNoteIsAHint: whatever the note says, the flock decides,
// and a note that is missing, stale, garbage, huge, not a file or naming an
// odd command gives the generic refusal, promptly, instead of a wrong name,
// a hang (a FIFO) or a huge allocation.
func TestRunDir_HolderNoteIsAHint(t *testing.T) {
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := dead.Process.Pid
	note := func(s string) func(string) error {
		return func(p string) error { return os.WriteFile(p, []byte(s), 0o644) }
	}
	for _, tc := range []struct {
		name  string
		write func(path string) error
	}{
		{"missing", func(string) error { return nil }},
		{"empty", note("")},
		{"garbage", note("\x00\xff{{not json")},
		{"cut short", note(`{"command":"inferbench aggregate","pi`)},
		{"dead pid", note(fmt.Sprintf(`{"command":"inferbench aggregate","pid":%d}`, deadPID))},
		{"no pid", note(`{"command":"inferbench aggregate"}`)},
		{"control characters", note(fmt.Sprintf(`{"command":"inferbench\naggregate","pid":%d}`, os.Getpid()))},
		{"backquote", note(fmt.Sprintf("{\"command\":\"a`b\",\"pid\":%d}", os.Getpid()))},
		{"long command", note(fmt.Sprintf(`{"command":%q,"pid":%d}`, strings.Repeat("x", 300), os.Getpid()))},
		{"huge", func(p string) error {
			f, err := os.Create(p)
			if err != nil {
				return err
			}
			defer f.Close()
			return f.Truncate(1 << 40) // sparse: 1 TiB to a naive reader
		}},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
		{"device", func(p string) error { return os.Symlink("/dev/zero", p) }},
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := shortDir(t)
			if err := tc.write(rundir.Holder(dir)); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				t.Fatal(err)
			}
			_, err = bench.LockDir(dir)
			if !errors.Is(err, bench.ErrDirInUse) || !strings.Contains(err.Error(), dir+" is locked by another running process") {
				t.Errorf("LockDir with the note %s: %v, want the generic ErrDirInUse", tc.name, err)
			}
		})
	}
	// A note of a live process in a directory nobody locks names nobody:
	// the directory is free.
	dir := shortDir(t)
	if err := note(fmt.Sprintf(`{"command":"inferbench aggregate","pid":%d}`, os.Getpid()))(rundir.Holder(dir)); err != nil {
		t.Fatal(err)
	}
	release, err := bench.LockDir(dir)
	if err != nil {
		t.Fatalf("LockDir over a note without a lock: %v", err)
	}
	release()
}
