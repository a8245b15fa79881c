package cli_test

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/sweep"
)

func readSweep(t *testing.T, dir string) (*sweep.Result, [][]string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, sweep.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var res sweep.Result
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatalf("%s: %v", sweep.JSONFile, err)
	}
	f, err := os.Open(filepath.Join(dir, sweep.CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", sweep.CSVFile, err)
	}
	return &res, rows
}

// TestSweep_Rates runs a three-point rate sweep against the mock server:
// three run directories, and sweep.json/csv with one row per point whose
// target is the rate asked and whose QPS is near it.
func TestSweep_Rates(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 2 * time.Millisecond, OutputTokens: 4})
	dir := filepath.Join(shortDir(t), "sweep")
	code, stdout, stderr := runInferbench(t, "sweep", "--endpoint", url, "--model", "mock-model",
		"--rates", "10,20,40", "--arrival", "constant", "--synthetic", "20", "--output-len", "4",
		"--report-dir", dir, "--no-tui", "--slo", "ttft:p99 < 10s")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	res, rows := readSweep(t, dir)
	if res.Stopped != sweep.ReasonDone || len(res.Points) != 3 {
		t.Fatalf("stopped %q after %d points, want done after 3", res.Stopped, len(res.Points))
	}
	if len(rows) != 4 || strings.Join(rows[0], ",") != strings.Join(sweep.CSVHeader, ",") {
		t.Fatalf("sweep.csv has %d rows (want header + 3), header %v", len(rows), rows[0])
	}
	for i, want := range []float64{10, 20, 40} {
		p := res.Points[i]
		if p.Target != want {
			t.Errorf("point %d target %v, want %v", i+1, p.Target, want)
		}
		if _, err := os.Stat(filepath.Join(dir, p.Dir, "result_summary.json")); err != nil {
			t.Errorf("point %d: %v", i+1, err)
		}
		if q := float64(p.QPS); !(q > 0.8*want && q < 1.5*want) {
			t.Errorf("point %d: QPS %v at target %v", i+1, q, want)
		}
		if p.Completed != 20 || p.Failed != 0 || p.SLO != "pass" || !p.TTFTP50.Valid() || !p.LatencyP99.Valid() {
			t.Errorf("point %d: %+v", i+1, p)
		}
	}
	for i, name := range []string{"point-01-rate-10", "point-02-rate-20", "point-03-rate-40"} {
		if rows[i+1][1] != name || rows[i+1][3] != strings.TrimPrefix(name, name[:len("point-01-rate-")]) {
			t.Errorf("csv row %d: %v", i+1, rows[i+1])
		}
	}
	// A second sweep into the same directory is refused without --overwrite.
	code, _, stderr = runInferbench(t, "sweep", "--endpoint", url, "--rates", "1", "--synthetic", "2", "--report-dir", dir)
	if code != 2 || !strings.Contains(stderr, "--overwrite") {
		t.Errorf("second sweep into %s: exit %d\n%s", dir, code, stderr)
	}
}

// TestSweep_Saturation sweeps rising rates against a server that generates
// one request at a time: past its capacity the achieved rate falls short,
// and the sweep stops after two such points, saying why.
func TestSweep_Saturation(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 50 * time.Millisecond, OutputTokens: 2, MaxConcurrent: 1})
	dir := filepath.Join(shortDir(t), "sweep")
	code, stdout, stderr := runInferbench(t, "sweep", "--endpoint", url, "--model", "mock-model",
		"--rates", "5,80,160,320,640", "--arrival", "constant", "--synthetic", "15", "--output-len", "2",
		"--report-dir", dir, "--no-tui")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	res, rows := readSweep(t, dir)
	if res.Stopped != sweep.ReasonSaturated || len(res.Points) != 3 || len(rows) != 4 {
		t.Fatalf("stopped %q (%s) after %d points (%d csv rows), want saturated after 3", res.Stopped, res.StoppedDetail, len(res.Points), len(rows))
	}
	if !strings.Contains(stderr, "saturated") {
		t.Errorf("stderr does not say why the sweep stopped:\n%s", stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "point-04-rate-320")); err == nil {
		t.Errorf("point 4 ran after saturation")
	}
}

// TestSweep_ConcurrencyErrorRate sweeps concurrencies against a server
// failing a third of its requests: the first point's error rate ends it.
func TestSweep_ConcurrencyErrorRate(t *testing.T) {
	url := startMock(t, mockserver.Config{OutputTokens: 2, Faults: mockserver.FaultRates{HTTP500: 0.3}})
	dir := filepath.Join(shortDir(t), "sweep")
	code, stdout, stderr := runInferbench(t, "sweep", "--endpoint", url, "--model", "mock-model",
		"--concurrencies", "1,2,4", "--synthetic", "30", "--output-len", "2", "--report-dir", dir, "--no-tui")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	res, _ := readSweep(t, dir)
	if res.Stopped != sweep.ReasonErrorRate || len(res.Points) != 1 || res.Points[0].ErrorRate <= 0.05 {
		t.Fatalf("stopped %q after %d points: %+v", res.Stopped, len(res.Points), res.Points)
	}
	if res.Mode != "concurrency" || res.Points[0].Dir != "point-01-concurrency-1" {
		t.Errorf("mode %q, dir %q", res.Mode, res.Points[0].Dir)
	}
}

// TestSweep_SLOFailed: a point failing its --slo gives exit code 3, and the
// slo column says fail.
func TestSweep_SLOFailed(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 20 * time.Millisecond, OutputTokens: 2})
	dir := filepath.Join(shortDir(t), "sweep")
	code, stdout, stderr := runInferbench(t, "sweep", "--endpoint", url, "--model", "mock-model",
		"--concurrencies", "1,2", "--synthetic", "6", "--output-len", "2", "--report-dir", dir, "--no-tui",
		"--slo", "ttft:p50 < 1ms")
	if code != 3 {
		t.Fatalf("exit %d, want 3\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	res, rows := readSweep(t, dir)
	if len(res.Points) != 2 || res.Points[0].SLO != "fail" || rows[1][len(rows[1])-1] != "fail" {
		t.Errorf("points %+v, rows %v", res.Points, rows)
	}
}

// TestSweep_Usage: bad sweep flags are refused with exit code 2 before any
// run, and leave no directory behind.
func TestSweep_Usage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"neither", nil, "exactly one of --rates"},
		{"both", []string{"--rates", "1", "--concurrencies", "2"}, "exactly one of --rates"},
		{"zero rate", []string{"--rates", "1,0"}, "must be positive"},
		{"negative rate", []string{"--rates", "-1"}, "must be positive"},
		{"not a number", []string{"--rates", "1,x"}, "not a number"},
		{"fractional concurrency", []string{"--concurrencies", "1.5"}, "whole number"},
		{"target-qps", []string{"--rates", "1", "--target-qps", "3"}, "set per point"},
		{"prometheus", []string{"--rates", "1", "--prometheus-addr", "127.0.0.1:0"}, "--prometheus-addr"},
		{"stages", []string{"--rates", "1", "--stages", "10:1s"}, "--stages"},
		{"max-error-rate", []string{"--rates", "1", "--max-error-rate", "2"}, "--max-error-rate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(shortDir(t), "sweep")
			args := append([]string{"sweep", "--endpoint", "http://127.0.0.1:1", "--synthetic", "2", "--report-dir", dir}, tc.args...)
			code, _, stderr := runInferbench(t, args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, want 2 with %q on one line:\n%s", code, tc.want, stderr)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("%s was created", dir)
			}
		})
	}
}

// TestSweep_CtrlC interrupts a sweep (a real SIGINT to a child process)
// during its second point: the first point stays in sweep.json, the second
// is recorded as interrupted, no third runs, and the exit code is 1.
func TestSweep_CtrlC(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 5 * time.Millisecond, OutputTokens: 2})
	dir := filepath.Join(shortDir(t), "sweep")
	c := startInferbench(t, "sweep", "--endpoint", url, "--model", "mock-model",
		"--rates", "20,20,20", "--arrival", "constant", "--synthetic", "100", "--output-len", "2",
		"--report-dir", dir, "--no-tui", "--grace-period", "5s")
	waitFor(t, "the second point to start", 30*time.Second, func() bool { return strings.Contains(c.stderr.String(), "sweep point 2/3") })
	if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t, 30*time.Second); code != 1 {
		t.Errorf("exit %d, want 1\nstderr:\n%s", code, c.stderr.String())
	}
	res, rows := readSweep(t, dir)
	if res.Stopped != sweep.ReasonInterrupted || len(res.Points) != 2 || len(rows) != 3 {
		t.Fatalf("stopped %q after %d points (%d csv rows), want interrupted after 2", res.Stopped, len(res.Points), len(rows))
	}
	if p := res.Points[0]; p.State != "complete" || p.Completed != 100 {
		t.Errorf("point 1: %+v", p)
	}
	if p := res.Points[1]; p.State != "interrupted" || p.Completed >= 100 {
		t.Errorf("point 2: %+v", p)
	}
	if _, err := os.Stat(filepath.Join(dir, "point-03-rate-20")); err == nil {
		t.Errorf("point 3 ran after Ctrl-C")
	}
}
