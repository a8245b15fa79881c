package cli_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// TestFleet_ReplayCLI: `benchmark replay --trace … --fleet-size 3` with
// three `inferbench worker` processes replays the trace once: every
// request of it issued exactly once (by index, in requests.jsonl), each
// with the recorded output_length as max_tokens (the server generates it:
// OSL is the usage count), and the report says so. A replay whose cap
// cannot be split is still refused before any worker is waited for.
func TestFleet_ReplayCLI(t *testing.T) {
	const limit = 60
	rows := readMooncake(t, mooncakeTrace)[:limit]
	url := startMock(t, mockserver.Config{TTFT: time.Millisecond})
	dir := filepath.Join(shortDir(t), "run")
	addr := "tcp://" + freePort(t)
	var workers []*child
	for i := range 3 {
		workers = append(workers, startInferbench(t, "worker", "--coordinator", addr, "--name", fmt.Sprintf("w%d", i), "--once", "--fleet-timeout", "60s"))
	}
	code, stdout, stderr := runInferbench(t, "benchmark", "replay", "--endpoint", url, "--trace", mooncakeTrace,
		"--trace-limit", fmt.Sprint(limit), "--trace-speedup", "10", "--no-tui", "--report-dir", dir,
		"--extra-body", `{"ignore_eos": true}`, "--fleet-size", "3", "--fleet-listen", addr, "--fleet-timeout", "30s")
	if code != 0 {
		t.Fatalf("coordinator exit code %d\nstderr:\n%s\nstdout:\n%s", code, stderr, stdout)
	}
	if !strings.Contains(stdout, fmt.Sprintf("Total samples issued: %d", limit)) || !strings.Contains(stdout, "fleet run: 3 workers") {
		t.Errorf("report:\n%s", stdout)
	}
	reqs := readRequests(t, filepath.Join(dir, "requests.jsonl"))
	seen := make([]bool, limit)
	for _, r := range reqs {
		if *r.Idx < 0 || *r.Idx >= limit || seen[*r.Idx] {
			t.Fatalf("request line idx %d: want each of 0..%d once", *r.Idx, limit-1)
		}
		seen[*r.Idx] = true
		if r.OSL != rows[*r.Idx].OutputLength {
			t.Errorf("request %d: OSL %d, want the recorded output_length %d", *r.Idx, r.OSL, rows[*r.Idx].OutputLength)
		}
	}
	if len(reqs) != limit {
		t.Errorf("%d request lines, want %d", len(reqs), limit)
	}
	for i, w := range workers {
		if code := w.wait(t, 30*time.Second); code != 0 {
			t.Errorf("worker %d exit code %d\n%s", i, code, w.stderr.String())
		}
	}

	code, _, stderr = runInferbench(t, "benchmark", "replay", "--endpoint", url, "--trace", mooncakeTrace,
		"--max-concurrency", "2", "--no-tui", "--report-dir", filepath.Join(shortDir(t), "run2"),
		"--fleet-size", "3", "--fleet-listen", "tcp://127.0.0.1:0")
	if code != 2 || !strings.Contains(stderr, "max_concurrency 2 is less than the fleet size 3") || strings.Contains(stderr, "waiting") {
		t.Errorf("exit code %d, stderr %q: want 2 before waiting for workers", code, stderr)
	}
}
