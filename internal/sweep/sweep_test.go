package sweep_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/sweep"
)

// fakeRunner is a run that achieves a set QPS and error count.
type fakeRunner struct {
	cfg    config.Run
	qps    float64
	failed int64
	err    error
}

func (f *fakeRunner) Preflight(context.Context) error { return nil }
func (f *fakeRunner) Open() error                     { return os.MkdirAll(f.cfg.ReportDir, 0o755) }
func (f *fakeRunner) Stop() bool                      { return true }
func (f *fakeRunner) Abort()                          {}
func (f *fakeRunner) Close() error                    { return nil }
func (f *fakeRunner) Dir() string                     { return f.cfg.ReportDir }
func (f *fakeRunner) Run(context.Context) (*bench.Outcome, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &bench.Outcome{
		Dir:    f.cfg.ReportDir,
		Final:  metrics.Snapshot{State: metrics.StateComplete},
		Report: &report.Report{QPS: report.Value(f.qps), Completed: 100, Failed: f.failed, Succeeded: 100 - f.failed},
	}, nil
}

func baseConfig() config.Run {
	c := config.Default()
	c.Endpoint.Endpoint = "http://127.0.0.1:1"
	c.Dataset.Synthetic = &config.Synthetic{N: 10, Input: "8", Output: "8", Seed: 1}
	return c
}

// TestStopRules checks when a sweep ends: every point run, two rate points
// in a row under 90 % of their target (one alone does not stop it), an
// error rate above the bound, or a failed run.
func TestStopRules(t *testing.T) {
	tests := []struct {
		name     string
		kind     sweep.Kind
		loads    []float64
		achieved []float64 // QPS by point
		failed   []int64   // failures of 100 by point
		runErr   int       // point (from 1) whose run fails; 0 none
		want     string
		points   int
	}{
		{"all delivered", sweep.KindRate, []float64{1, 2, 4}, []float64{1, 2, 4}, nil, 0, sweep.ReasonDone, 3},
		{"one short point does not stop", sweep.KindRate, []float64{1, 2, 4}, []float64{1, 1.5, 4}, nil, 0, sweep.ReasonDone, 3},
		{"two short points stop", sweep.KindRate, []float64{1, 2, 4, 8}, []float64{1, 1.7, 3.5, 8}, nil, 0, sweep.ReasonSaturated, 3},
		{"short points apart do not stop", sweep.KindRate, []float64{1, 2, 4, 8}, []float64{0.5, 2, 3, 8}, nil, 0, sweep.ReasonDone, 4},
		{"error rate", sweep.KindRate, []float64{1, 2, 4}, []float64{1, 2, 4}, []int64{0, 6, 0}, 0, sweep.ReasonErrorRate, 2},
		{"error rate at the bound goes on", sweep.KindConcurrency, []float64{1, 2}, []float64{1, 2}, []int64{5, 5}, 0, sweep.ReasonDone, 2},
		{"concurrency ignores the rate", sweep.KindConcurrency, []float64{1, 4, 16}, []float64{1, 1, 1}, nil, 0, sweep.ReasonDone, 3},
		{"failed run", sweep.KindRate, []float64{1, 2, 4}, []float64{1, 2, 4}, nil, 2, sweep.ReasonRunFailed, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			i := 0
			s, err := sweep.New(sweep.Config{
				Base: baseConfig(), Kind: tc.kind, Loads: tc.loads, Dir: dir, MaxErrorRate: sweep.DefaultMaxErrorRate,
				NewRunner: func(cfg config.Run) (sweep.Runner, error) {
					f := &fakeRunner{cfg: cfg, qps: tc.achieved[i]}
					if tc.failed != nil {
						f.failed = tc.failed[i]
					}
					if tc.runErr == i+1 {
						f.err = errors.New("boom")
					}
					i++
					return f, nil
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := s.Run(context.Background())
			if (err != nil) != (tc.runErr != 0) {
				t.Fatalf("error %v", err)
			}
			if res.Stopped != tc.want || len(res.Points) != tc.points {
				t.Fatalf("stopped %q (%s) after %d points, want %q after %d", res.Stopped, res.StoppedDetail, len(res.Points), tc.want, tc.points)
			}
			data, err := os.ReadFile(filepath.Join(dir, sweep.JSONFile))
			if err != nil {
				t.Fatal(err)
			}
			var onDisk sweep.Result
			if err := json.Unmarshal(data, &onDisk); err != nil || onDisk.Stopped != tc.want || len(onDisk.Points) != tc.points {
				t.Errorf("sweep.json: %v, stopped %q, %d points", err, onDisk.Stopped, len(onDisk.Points))
			}
			csv, err := os.ReadFile(filepath.Join(dir, sweep.CSVFile))
			if err != nil || strings.Count(string(csv), "\n") != tc.points+1 {
				t.Errorf("sweep.csv (%v):\n%s", err, csv)
			}
		})
	}
}

// TestNewRefusesBadPoint checks that a point the benchmark would refuse is
// refused before any run, naming the point.
func TestNewRefusesBadPoint(t *testing.T) {
	_, err := sweep.New(sweep.Config{
		Base: baseConfig(), Kind: sweep.KindConcurrency, Loads: []float64{1, 0}, Dir: t.TempDir(),
		NewRunner: func(config.Run) (sweep.Runner, error) { t.Fatal("a run started"); return nil, nil },
	})
	if err == nil || !strings.Contains(err.Error(), "point 2") {
		t.Errorf("error %v, want one naming point 2", err)
	}
}
