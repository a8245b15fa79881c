package cli_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// TestBenchmark_RunDirExclusive runs two real inferbench processes on one run
// directory: the second is refused at once (exit 2, one line naming the
// directory) and the first is unharmed; once the first ended, a new run
// there is refused unless --overwrite.
func TestBenchmark_RunDirExclusive(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 5 * time.Millisecond, OutputTokens: 4})
	dir := filepath.Join(shortDir(t), "run")
	args := []string{"benchmark", "online", "--endpoint", url, "--model", "mock-model", "--synthetic", "100000",
		"--target-qps", "50", "--report-dir", dir, "--no-tui"}
	first := startInferbench(t, args...)
	waitFor(t, "the first run to start", 20*time.Second, func() bool { return strings.Contains(first.stderr.String(), "run directory") })

	code, _, stderr := runInferbench(t, args...)
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); code != 2 || len(lines) != 1 || !strings.Contains(stderr, dir) {
		t.Errorf("second run on the directory: exit %d, stderr:\n%s\nwant exit 2 and one line naming %s", code, stderr, dir)
	}
	select {
	case <-first.done:
		t.Fatalf("the first run ended when the second started (exit %d):\n%s", first.code, first.stderr.String())
	default:
	}
	if err := first.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := first.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("first run: exit %d, want 1 (interrupted)\n%s", code, first.stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "metrics.sock")); !os.IsNotExist(err) {
		t.Errorf("metrics.sock after an interrupted run: %v, want it removed", err)
	}

	short := []string{"benchmark", "offline", "--endpoint", url, "--model", "mock-model", "--synthetic", "3", "--report-dir", dir, "--no-tui"}
	code, _, stderr = runInferbench(t, short...)
	if code != 2 || !strings.Contains(stderr, dir) || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("run over a finished run: exit %d, stderr:\n%s\nwant exit 2 naming the directory and --overwrite", code, stderr)
	}
	code, _, stderr = runInferbench(t, append(short, "--overwrite")...)
	if code != 0 {
		t.Errorf("--overwrite: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "metrics.sock")); !os.IsNotExist(err) {
		t.Errorf("metrics.sock after a complete run: %v, want it removed", err)
	}
}

// TestBenchmark_FailedStartLeavesNothing checks that a start that fails
// (unreachable endpoint, bad temperature, busy Prometheus port, a rate that
// never issues, no model to pick) creates no run directory.
func TestBenchmark_FailedStartLeavesNothing(t *testing.T) {
	url := startMock(t, mockserver.Config{OutputTokens: 4})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	twoModels := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"object":"list","data":[{"id":"alpha"},{"id":"beta"}]}`))
	}))
	defer twoModels.Close()

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unreachable endpoint", []string{"offline", "--endpoint", "http://" + closed, "--model", "m"}, 1, closed},
		{"temperature NaN", []string{"offline", "--endpoint", url, "--model", "m", "--temperature", "NaN"}, 2, "temperature"},
		{"busy prometheus port", []string{"offline", "--endpoint", url, "--model", "m", "--prometheus-addr", busy.Addr().String()}, 2, "--prometheus-addr"},
		{"prometheus linger without an address", []string{"offline", "--endpoint", url, "--model", "m", "--prometheus-linger", "5s"}, 2, "prometheus_linger: needs"},
		{"negative prometheus linger", []string{"offline", "--endpoint", url, "--model", "m", "--prometheus-addr", "127.0.0.1:0", "--prometheus-linger", "-1s"}, 2, "prometheus_linger -1s"},
		{"rate below the floor", []string{"online", "--endpoint", url, "--model", "m", "--target-qps", "0.01", "--duration", "5s"}, 2, "target_qps"},
		{"several models, none given", []string{"offline", "--endpoint", twoModels.URL}, 2, "alpha, beta"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent := shortDir(t)
			dir := filepath.Join(parent, "run")
			args := append([]string{"benchmark"}, tc.args...)
			args = append(args, "--synthetic", "3", "--report-dir", dir, "--no-tui")
			code, _, stderr := runInferbench(t, args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) || len(strings.Split(strings.TrimSpace(stderr), "\n")) != 1 {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and one line naming %q", code, stderr, tc.code, tc.want)
			}
			if left, _ := os.ReadDir(parent); len(left) != 0 {
				t.Errorf("the failed start left %v", names(left))
			}
		})
	}
}

func names(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestBenchmark_ProbedModel checks that without --model the server's only
// model is used, and said so.
func TestBenchmark_ProbedModel(t *testing.T) {
	url := startMock(t, mockserver.Config{OutputTokens: 4})
	code, stdout, stderr := runInferbench(t, "benchmark", "offline", "--endpoint", url, "--synthetic", "3",
		"--report-dir", filepath.Join(shortDir(t), "run"), "--no-tui")
	if code != 0 || !strings.Contains(stderr, `using "`+mockserver.DefaultModel+`"`) || !strings.Contains(stdout, "model "+mockserver.DefaultModel) {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
