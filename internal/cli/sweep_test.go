package cli_test

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
		// 20 requests: QPS (completions over the run, its tail included)
		// reads low when a busy machine stretches the tail.
		if q := float64(p.QPS); !(q > 0.6*want && q < 1.5*want) {
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
	if len(res.Points) != 2 || res.Points[0].SLO != "fail" || rows[1][slices.Index(rows[0], "slo")] != "fail" {
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
		{"prometheus linger", []string{"--rates", "1", "--prometheus-linger", "5s"}, "--prometheus-addr is not supported"},
		{"stages", []string{"--rates", "1", "--stages", "10:1s"}, "--stages"},
		{"max-error-rate", []string{"--rates", "1", "--max-error-rate", "2"}, "--max-error-rate"},
		{"search without a target", []string{"--search"}, "--search needs a target"},
		{"search with rates", []string{"--search", "--rates", "1", "--slo", "ttft:p99<1s"}, "without --rates or --concurrencies"},
		{"search with concurrencies", []string{"--search", "--concurrencies", "1", "--slo", "ttft:p99<1s"}, "without --rates or --concurrencies"},
		{"search precision zero", []string{"--search", "--slo", "ttft:p99<1s", "--search-precision", "0"}, "--search-precision 0"},
		{"search precision one", []string{"--search", "--slo", "ttft:p99<1s", "--search-precision", "1"}, "--search-precision 1"},
		{"search precision negative", []string{"--search", "--slo", "ttft:p99<1s", "--search-precision", "-0.1"}, "--search-precision -0.1"},
		{"search min goodput", []string{"--search", "--goodput", "ttft<=1s", "--search-min-goodput", "0"}, "--search-min-goodput 0"},
		{"search max iterations", []string{"--search", "--slo", "ttft:p99<1s", "--search-max-iterations", "0"}, "--search-max-iterations 0"},
		{"search flag without search", []string{"--rates", "1", "--search-precision", "0.1"}, "--search-precision applies to --search only"},
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

// interruptSweep sends the sweep c (writing to dir) a real SIGINT once its
// stderr contains marker (what names the wait) and wants exit code 1 and a
// sweep.json that stopped interrupted after 2 points (csv header and 2 rows).
func interruptSweep(t *testing.T, c *child, dir, what, marker string) *sweep.Result {
	t.Helper()
	waitFor(t, what, 30*time.Second, func() bool { return strings.Contains(c.stderr.String(), marker) })
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
	return res
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
	res := interruptSweep(t, c, dir, "the second point to start", "sweep point 2/3")
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

// TestSweepSearch_FindsCapacity searches against a mock server of known
// capacity: it generates N = 20 requests at once (the others wait in its
// FIFO queue), each taking the service time S = 400 ms, so below
// N / S = 50 requests/s a constant-rate request never waits and above it
// the queue grows without bound (a D/D/c queue: a sharp knee at the
// capacity, which the offline point measures as the top of the bracket).
// With an SLO of 1.5 S on latency p90 (robust to a request or two slowed
// by a busy machine), the found rate is within the default search
// precision (5 %) of the capacity, N divided by the service time as the
// synchronous point measures it (S plus the mock's and the client's own
// overhead, under 1 %). The search itself runs at 2 % precision, because
// the offline ceiling comes out a little under the capacity on a busy
// machine (the overhead of each wave of N requests).
func TestSweepSearch_FindsCapacity(t *testing.T) {
	const (
		slots     = 20
		service   = 400 * time.Millisecond
		precision = 0.02
		tolerance = sweep.DefaultPrecision
	)
	url := startMock(t, mockserver.Config{TTFT: service, OutputTokens: 1, MaxConcurrent: slots})
	dir := filepath.Join(shortDir(t), "sweep")
	// Every point issues for 1.5 s, so that a busy machine's stall of a
	// request or two neither fails the p90 nor lowers the offline ceiling
	// much; the offline point keeps 2 N requests in flight, so that each
	// waits a whole service time in the queue.
	code, stdout, stderr := runInferbench(t, "sweep", "--endpoint", url, "--model", "mock-model",
		"--search", "--arrival", "constant", "--synthetic", "20", "--output-len", "1",
		"--duration", "1500ms", "--max-in-flight", strconv.Itoa(2*slots),
		"--slo", "latency:p90<=600ms", "--search-precision", strconv.FormatFloat(precision, 'g', -1, 64), "--report-dir", dir, "--no-tui")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	res, rows := readSweep(t, dir)
	s := res.Search
	if res.Kind != sweep.KindSearch || s == nil || res.Stopped != sweep.ReasonDone || !s.Converged {
		t.Fatalf("kind %q, stopped %q (%s), search %+v", res.Kind, res.Stopped, res.StoppedDetail, s)
	}
	sync := res.Points[0]
	if sync.Phase != sweep.PhaseSync || res.Points[1].Phase != sweep.PhaseOffline || res.Points[1].Meets != "no" {
		t.Fatalf("bracket points %+v %+v", sync, res.Points[1])
	}
	capacity := slots / (float64(sync.LatencyP50) / 1e3)
	found := float64(s.Found)
	t.Logf("capacity %.2f requests/s (nominal %.0f), found %.2f in [%.2f, %.2f] after %d points",
		capacity, slots/service.Seconds(), found, float64(s.Low), float64(s.High), len(res.Points))
	if math.Abs(found-capacity)/capacity > tolerance || float64(s.Width) > precision {
		t.Errorf("found %.2f requests/s (bracket %.1f%% wide), want within %.0f%% of the capacity %.2f\n%s", found, 100*float64(s.Width), 100*tolerance, capacity, stdout)
	}
	if !strings.Contains(stdout, "search: highest rate meeting every target: ") {
		t.Errorf("stdout does not give the answer:\n%s", stdout)
	}
	phase, meets := slices.Index(rows[0], "phase"), slices.Index(rows[0], "meets")
	if len(rows) != len(res.Points)+1 || rows[1][phase] != sweep.PhaseSync || rows[1][meets] != "yes" || rows[len(rows)-1][phase] != sweep.PhaseBisect {
		t.Errorf("sweep.csv rows %v", rows)
	}
	for _, p := range res.Points {
		if _, err := os.Stat(filepath.Join(dir, p.Dir, "result_summary.json")); err != nil {
			t.Errorf("point %d: %v", p.Index, err)
		}
	}
}

// TestSweepSearch_NoRateMeets: when even the synchronous point misses the
// SLO, the search ends after it with exit code 3 and a one-line reason.
func TestSweepSearch_NoRateMeets(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 20 * time.Millisecond, OutputTokens: 1})
	dir := filepath.Join(shortDir(t), "sweep")
	code, stdout, stderr := runInferbench(t, "sweep", "--endpoint", url, "--model", "mock-model",
		"--search", "--synthetic", "5", "--output-len", "1", "--slo", "latency:p99<=5ms", "--report-dir", dir, "--no-tui")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 3 || !strings.Contains(lines[len(lines)-1], "no rate meets the targets") || !strings.Contains(lines[len(lines)-1], "latency:p99<=5ms fails") {
		t.Fatalf("exit %d, want 3 with the reason on the last line\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	res, _ := readSweep(t, dir)
	if res.Stopped != sweep.ReasonNoRate || len(res.Points) != 1 || res.Search.Found != 0 || res.Points[0].Meets != "no" {
		t.Errorf("stopped %q after %d points, search %+v", res.Stopped, len(res.Points), res.Search)
	}
	if _, err := os.Stat(filepath.Join(dir, "point-02-offline")); err == nil {
		t.Error("the offline point ran")
	}
}

// TestSweepSearch_CtrlC interrupts a search (a real SIGINT to a child
// process) during its offline point: exit 1, and sweep.json keeps the
// synchronous point, the interrupted one and the bracket's lower end.
func TestSweepSearch_CtrlC(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 20 * time.Millisecond, OutputTokens: 2, MaxConcurrent: 1})
	dir := filepath.Join(shortDir(t), "sweep")
	c := startInferbench(t, "sweep", "--endpoint", url, "--model", "mock-model", "--search",
		"--synthetic", "10", "--output-len", "2", "--slo", "latency:p99<=1s", "--num-samples", "60",
		"--report-dir", dir, "--no-tui", "--grace-period", "5s")
	res := interruptSweep(t, c, dir, "the offline point to start", "search point 2:")
	if p := res.Points[0]; p.Phase != sweep.PhaseSync || p.Meets != "yes" || float64(res.Search.Low) != float64(p.QPS) {
		t.Errorf("point 1 %+v, search %+v", p, res.Search)
	}
	if p := res.Points[1]; p.Phase != sweep.PhaseOffline || p.State != "interrupted" {
		t.Errorf("point 2: %+v", p)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "point-03-*")); len(m) > 0 {
		t.Errorf("a bisection point ran after Ctrl-C: %v", m)
	}
}
