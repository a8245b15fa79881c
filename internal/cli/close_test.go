package cli_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/rundir"
)

// TestBenchmark_UnreachableReleasesSocket checks that a run that fails its
// preflight still closes the runner: the snapshot socket's file is gone.
func TestBenchmark_UnreachableReleasesSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	dir := filepath.Join(shortDir(t), "run")
	code, _, stderr := runInferbench(t, "benchmark", "offline", "--endpoint", url, "--synthetic", "3", "--report-dir", dir, "--no-tui")
	if code != 1 || !strings.Contains(stderr, "unreachable") {
		t.Errorf("exit %d, stderr:\n%s\nwant 1 and the endpoint unreachable", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, rundir.SocketFile)); !os.IsNotExist(err) {
		t.Errorf("metrics.sock left behind (%v)", err)
	}
}
