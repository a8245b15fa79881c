package bench_test

import (
	"context"
	"errors"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
)

// TestRunDir_Exclusive runs two real Runners on one directory: while the
// first holds it the second is refused (at New, and at Open when both got
// past New), a finished run is refused without Overwrite, and Overwrite
// replaces it.
func TestRunDir_Exclusive(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4})
	cfg := baseConfig(t, url)
	cfg.ReportDir = filepath.Join(cfg.ReportDir, "run")

	first, err := bench.New(cfg, synthetic(t, 5), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	second, err := bench.New(cfg, synthetic(t, 5), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := first.Open(); err != nil {
		t.Fatal(err)
	}
	if err := second.Open(); !errors.Is(err, bench.ErrDirInUse) || !strings.Contains(err.Error(), cfg.ReportDir) {
		t.Errorf("second Open while the first holds the directory: %v, want ErrDirInUse naming it", err)
	}
	if _, err := bench.New(cfg, synthetic(t, 5), nil, quiet()); !errors.Is(err, bench.ErrDirInUse) {
		t.Errorf("New while the first holds the directory: %v, want ErrDirInUse", err)
	}
	if !bench.DirInUse(cfg.ReportDir) {
		t.Error("DirInUse is false while a run holds the directory")
	}
	out, err := first.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if bench.DirInUse(cfg.ReportDir) {
		t.Error("DirInUse is still true after the run ended")
	}

	// The failed Open of the second runner removed nothing of the first.
	if _, err := os.Stat(filepath.Join(out.Dir, "metrics", "final_snapshot.json")); err != nil {
		t.Fatalf("the first run's results: %v", err)
	}
	if _, err := bench.New(cfg, synthetic(t, 5), nil, quiet()); !errors.Is(err, bench.ErrDirHoldsRun) || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("New over a finished run: %v, want ErrDirHoldsRun suggesting --overwrite", err)
	}

	before, err := os.ReadFile(filepath.Join(out.Dir, "metrics", "final_snapshot.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Overwrite = true
	third, err := bench.New(cfg, synthetic(t, 3), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	out3, err := third.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(filepath.Join(out3.Dir, "metrics", "final_snapshot.json"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := metrics.ParseJSON(after)
	if err != nil || string(before) == string(after) || snap.CounterInt("tracked_samples_completed") != 3 {
		t.Errorf("--overwrite did not replace the run: completed %d (%v)", snap.CounterInt("tracked_samples_completed"), err)
	}
	resolved, err := config.Load(filepath.Join(out3.Dir, rundir.ConfigFile))
	if err != nil || resolved.Overwrite {
		t.Errorf("config.yaml: overwrite %v (%v): a replayed config must not overwrite on its own", resolved.Overwrite, err)
	}
}

// TestRunDir_FailedStartLeavesNothing checks every way a start can fail
// before the run: none leaves the run directory, a file in it or a socket.
func TestRunDir_FailedStartLeavesNothing(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()

	tests := []struct {
		name   string
		change func(*config.Run)
		want   error // nil: any error
	}{
		{"unreachable endpoint", func(c *config.Run) { c.Endpoint.Endpoint = closed }, bench.ErrUnreachable},
		{"temperature NaN", func(c *config.Run) { nan := math.NaN(); c.Endpoint.Temperature = &nan }, nil},
		{"busy metrics address", func(c *config.Run) { c.Metrics.Addr = "tcp://" + busy.Addr().String() }, nil},
		{"rate that never issues", func(c *config.Run) {
			c.Load.Mode, c.Load.TargetQPS, c.Load.Duration = string(loadgen.ModePoisson), 0.01, 10*time.Second
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t, url)
			parent := cfg.ReportDir
			cfg.ReportDir = filepath.Join(parent, "deep", "run")
			tc.change(&cfg)
			err := start(t, cfg)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("start: %v, want an error (%v)", err, tc.want)
			}
			if left, _ := os.ReadDir(parent); len(left) != 0 {
				t.Errorf("a failed start (%v) left %v in %s", err, names(left), parent)
			}
		})
	}
}

// start does what `inferbench benchmark` does before the run: New,
// Preflight, Open; it closes the Runner when a step fails.
func start(t *testing.T, cfg config.Run) error {
	r, err := bench.New(cfg, synthetic(t, 5), nil, quiet())
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.Preflight(context.Background()); err != nil {
		return err
	}
	return r.Open()
}

func names(es []os.DirEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestRunDir_SocketRemoved checks that metrics.sock is gone after a normal
// end, a stopped run, a run that failed, and a start that failed after Open.
func TestRunDir_SocketRemoved(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4, TPOT: 5 * time.Millisecond})
	for _, tc := range []string{"complete", "stopped", "run failed", "closed before the run"} {
		t.Run(tc, func(t *testing.T) {
			cfg := baseConfig(t, url)
			r, err := bench.New(cfg, synthetic(t, 200), nil, quiet())
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Open(); err != nil {
				t.Fatal(err)
			}
			sock := filepath.Join(cfg.ReportDir, rundir.SocketFile)
			if _, err := os.Stat(sock); err != nil {
				t.Fatalf("no socket while open: %v", err)
			}
			switch tc {
			case "complete":
				_, err = r.Run(context.Background())
			case "stopped":
				r.Stop()
				_, err = r.Run(context.Background())
			case "run failed":
				// The event log cannot be created: a directory is in its way.
				if err := os.Mkdir(filepath.Join(cfg.ReportDir, rundir.RequestsFile), 0o755); err != nil {
					t.Fatal(err)
				}
				if _, err = r.Run(context.Background()); err == nil {
					t.Fatal("run with no event log succeeded")
				}
				err = nil
			case "closed before the run":
				err = r.Close()
				if _, serr := os.Stat(filepath.Join(cfg.ReportDir, rundir.ConfigFile)); serr == nil {
					t.Error("config.yaml left by a start that never ran")
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("metrics.sock after %s: %v, want it removed", tc, err)
			}
			if bench.DirInUse(cfg.ReportDir) {
				t.Errorf("the directory is still locked after %s", tc)
			}
		})
	}
}

// TestRunDir_LongPath runs in a directory whose path is too long for a unix
// socket: the socket goes to a temporary directory, which is gone after the
// run.
func TestRunDir_LongPath(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4})
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	cfg := baseConfig(t, url)
	cfg.ReportDir = filepath.Join(cfg.ReportDir, strings.Repeat("d", 60), strings.Repeat("e", 60))
	r, err := bench.New(cfg, synthetic(t, 3), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Open(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.MetricsAddr(), "ipc://"+tmp) {
		t.Fatalf("socket at %s, want under TMPDIR %s", r.MetricsAddr(), tmp)
	}
	if _, err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the run left %v in TMPDIR", names(left))
	}
}

// TestCheckSchedule checks the floor of the target rate.
func TestCheckSchedule(t *testing.T) {
	tests := []struct {
		name string
		load loadgen.Config
		n    int
		want string // "" = accepted
	}{
		{"first arrival beyond duration", loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 0.05, Duration: 10 * time.Second}, 10, "beyond the duration"},
		{"one expected arrival", loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 0.1, Duration: 10 * time.Second}, 10, ""},
		{"constant too slow", loadgen.Config{Mode: loadgen.ModeConstant, TargetQPS: 0.001, Duration: time.Minute}, 10, "beyond the duration"},
		{"dataset pass beyond a day", loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 0.01}, 1000, "longer than 24h"},
		{"num_samples beyond a day", loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 1, NumSamples: 100_000}, 10, "100000 samples"},
		{"absurd rate", loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 1e-300}, 10, "years"},
		{"min duration alone bounds the run", loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 0.01, MinDuration: 200 * time.Second}, 1_000_000, ""},
		{"min duration alone too short", loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 0.01, MinDuration: 10 * time.Second}, 10, "--min-duration"},
		{"a day exactly", loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 1, NumSamples: 86_400}, 10, ""},
		{"offline ignores the rate", loadgen.Config{Mode: loadgen.ModeOffline, TargetQPS: 1e-9}, 10, ""},
		// A ramp delays the first arrival: Λ(5 s) = 1·25/(2·60) ≈ 0.2.
		{"ramp too long for the duration", loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 1, RampUp: time.Minute, Duration: 5 * time.Second}, 10, "ramp_up 1m0s"},
		{"ramp within the duration", loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 1, RampUp: 10 * time.Second, Duration: 5 * time.Second}, 10, ""},
		{"ramp pass beyond a day", loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 1, RampUp: time.Hour, NumSamples: 86_000}, 10, "longer than 24h"},
		{"stages end the run", loadgen.Config{Mode: loadgen.ModePoisson, Stages: []loadgen.Stage{{QPS: 1, Duration: time.Second}}}, 1_000_000, ""},
	}
	for _, tc := range tests {
		err := bench.CheckSchedule(tc.load, tc.n)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want accepted", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "load.target_qps")):
			t.Errorf("%s: %v, want an error naming target_qps and %q", tc.name, err, tc.want)
		}
	}
}

// TestPreflight_Model checks the model probe when no model is given: the
// server's only model is used; none or several is ErrNoModel naming them.
func TestPreflight_Model(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4})
	cfg := baseConfig(t, url)
	cfg.Endpoint.Model = ""
	r, err := bench.New(cfg, synthetic(t, 2), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Preflight(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.ProbedModel() != mockserver.DefaultModel {
		t.Errorf("probed model %q, want %q", r.ProbedModel(), mockserver.DefaultModel)
	}
	out, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if out.Report.Failed != 0 || out.Report.Completed != 2 {
		t.Errorf("completed %d failed %d with the probed model", out.Report.Completed, out.Report.Failed)
	}
	resolved, err := config.Load(filepath.Join(out.Dir, rundir.ConfigFile))
	if err != nil || resolved.Endpoint.Model != mockserver.DefaultModel {
		t.Errorf("config.yaml model %q (%v), want the probed one", resolved.Endpoint.Model, err)
	}
}

// TestRunDir_ProbeDoesNotBlockAStart holds the shared lock a DirInUse probe
// takes (watch checking whether a run is alive) while a run claims the
// directory: the run waits the probe out instead of being refused.
func TestRunDir_ProbeDoesNotBlockAStart(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4})
	cfg := baseConfig(t, url)
	r, err := bench.New(cfg, synthetic(t, 2), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := os.Open(cfg.ReportDir)
	if err != nil {
		t.Fatal(err)
	}
	fd := int(f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		time.Sleep(30 * time.Millisecond)
		_ = syscall.Flock(fd, syscall.LOCK_UN)
	}()
	err = r.Open()
	<-probed
	f.Close()
	if err != nil {
		t.Fatalf("Open during a probe: %v", err)
	}
}

// TestRunDir_DefaultNamesDiffer starts two runs in the same second with the
// default run directory (reports/<date>-<time>): each gets its own.
func TestRunDir_DefaultNamesDiffer(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4})
	t.Chdir(shortDir(t))
	cfg := baseConfig(t, url)
	cfg.ReportDir = ""
	// Both chose their name before either created it.
	var runners []*bench.Runner
	for range 2 {
		r, err := bench.New(cfg, synthetic(t, 1), nil, quiet())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		runners = append(runners, r)
	}
	var dirs []string
	for _, r := range runners {
		if err := r.Open(); err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, r.Dir())
	}
	// When both names came from the same second the second gets a suffix;
	// when the clock ticked between them they differ anyway.
	if dirs[0] == dirs[1] {
		t.Errorf("run directories %q and %q: want two distinct ones", dirs[0], dirs[1])
	}
	if len(dirs[1]) > len(dirs[0]) && !strings.HasPrefix(dirs[1], dirs[0]) {
		t.Errorf("run directory %q: want %q with a suffix", dirs[1], dirs[0])
	}
}
