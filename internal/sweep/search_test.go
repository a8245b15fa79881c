package sweep_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/sweep"
	"github.com/inferbench/inferbench/internal/verdict"
)

// kneeServer models a server by the rate it achieves in each kind of run
// and the knee: a run at a rate up to the knee meets the targets, one
// above it misses them.
type kneeServer struct {
	sync, offline, knee float64
	// goodput: the share of good requests at or below the knee and above it.
	goodBelow, goodAbove float64
	// boundKnee, when > 0: above it the SLO fails at its confidence bound
	// (the point estimate still passes up to the knee).
	boundKnee float64
	// failedAbove: failed requests of 100 above the knee.
	failedAbove int64
	// offlineMisses makes the offline run miss whatever its rate.
	offlineMisses bool
}

// kneeRunner is one run against a kneeServer; stop, when set, is called
// during the run (a Ctrl-C) and makes it end interrupted.
type kneeRunner struct {
	cfg  config.Run
	srv  *kneeServer
	stop func()
}

func (f *kneeRunner) Preflight(context.Context) error { return nil }
func (f *kneeRunner) Open() error                     { return os.MkdirAll(f.cfg.ReportDir, 0o755) }
func (f *kneeRunner) Stop() bool                      { return true }
func (f *kneeRunner) Abort()                          {}
func (f *kneeRunner) Close() error                    { return nil }
func (f *kneeRunner) Dir() string                     { return f.cfg.ReportDir }
func (f *kneeRunner) Run(context.Context) (*bench.Outcome, error) {
	var qps float64
	switch loadgen.Mode(f.cfg.Load.Mode) {
	case loadgen.ModeConcurrency:
		qps = f.srv.sync
	case loadgen.ModeOffline:
		qps = f.srv.offline
	default:
		qps = f.cfg.Load.TargetQPS
	}
	state := metrics.StateComplete
	if f.stop != nil {
		f.stop()
		state = metrics.StateInterrupted
	}
	below := qps <= f.srv.knee && !(f.srv.offlineMisses && loadgen.Mode(f.cfg.Load.Mode) == loadgen.ModeOffline)
	atBound := f.srv.boundKnee == 0 || qps <= f.srv.boundKnee
	check := verdict.Check{Threshold: verdict.Threshold{Expr: "latency:p99<=1s"}, Pass: below, PassAtBound: &atBound}
	rep := &report.Report{QPS: report.Value(qps), Completed: 100, Succeeded: 100,
		Verdict: &verdict.Result{Pass: below, Checks: []verdict.Check{check}}}
	good := f.srv.goodBelow
	if !below {
		good = f.srv.goodAbove
		rep.Failed, rep.Succeeded = f.srv.failedAbove, 100-f.srv.failedAbove
	}
	if f.cfg.Goodput != "" {
		rep.Verdict.Checks, rep.Verdict.Pass = nil, true
		rep.Goodput = &verdict.GoodputStats{Ratio: verdict.Value(good), Completed: 100}
	}
	return &bench.Outcome{Dir: f.cfg.ReportDir, Final: metrics.Snapshot{State: state}, Report: rep}, nil
}

// searchConfig is a search against srv with an SLO (or, with goodput, only
// a goodput rule); stopAt (from 1), when > 0, interrupts that point.
func searchConfig(t *testing.T, srv *kneeServer, sc sweep.Search, goodput bool, stopAt int) (sweep.Config, *sweep.Sweep) {
	t.Helper()
	base := baseConfig()
	if goodput {
		base.Goodput = "latency<=1s"
	} else {
		base.SLO = []string{"latency:p99<=1s"}
	}
	var sw *sweep.Sweep
	n := 0
	c := sweep.Config{Base: base, Kind: sweep.KindSearch, Dir: t.TempDir(), MaxErrorRate: sweep.DefaultMaxErrorRate, Search: &sc,
		NewRunner: func(cfg config.Run) (sweep.Runner, error) {
			n++
			r := &kneeRunner{cfg: cfg, srv: srv}
			if n == stopAt {
				r.stop = func() { sw.Stop() }
			}
			return r, nil
		}}
	sw, err := sweep.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return c, sw
}

func defaultSearch() sweep.Search {
	return sweep.Search{Precision: sweep.DefaultPrecision, MinGoodput: sweep.DefaultMinGoodput, MaxIterations: sweep.DefaultMaxIterations}
}

// readResult reads sweep.json back.
func readResult(t *testing.T, dir string) *sweep.Result {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, sweep.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var res sweep.Result
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	return &res
}

// TestSearch_Converges: between a synchronous and an offline bracket, the
// bisection ends with a bracket within the precision holding the knee, and
// the found rate is within the precision below it; every point is
// recorded with its phase and whether it met the targets.
func TestSearch_Converges(t *testing.T) {
	tests := []struct {
		name                string
		sync, offline, knee float64
		precision           float64
	}{
		{"knee near the ceiling", 20, 100, 97, 0.05},
		{"knee mid-bracket", 20, 100, 50, 0.05},
		{"knee just above sync", 20, 100, 20.5, 0.05},
		{"wide bracket", 1, 1000, 3, 0.05},
		{"fine precision", 20, 100, 61, 0.01},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := defaultSearch()
			sc.Precision = tc.precision
			c, sw := searchConfig(t, &kneeServer{sync: tc.sync, offline: tc.offline, knee: tc.knee}, sc, false, 0)
			res, err := sw.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			s := res.Search
			if res.Stopped != sweep.ReasonDone || !s.Converged || float64(s.Width) > tc.precision {
				t.Fatalf("stopped %q (%s), converged %v, width %v", res.Stopped, res.StoppedDetail, s.Converged, s.Width)
			}
			if f := float64(s.Found); !(f <= tc.knee && f >= tc.knee/(1+tc.precision)) {
				t.Errorf("found %v, want within %v below the knee %v", f, tc.precision, tc.knee)
			}
			if !(float64(s.Low) <= tc.knee && float64(s.High) > tc.knee) {
				t.Errorf("bracket [%v, %v] does not hold the knee %v", s.Low, s.High, tc.knee)
			}
			if len(res.Points) != 2+s.Iterations || s.Iterations > sc.MaxIterations {
				t.Errorf("%d points for %d iterations", len(res.Points), s.Iterations)
			}
			for i, p := range res.Points {
				phase := sweep.PhaseBisect
				switch i {
				case 0:
					phase = sweep.PhaseSync
				case 1:
					phase = sweep.PhaseOffline
				}
				wantMeets := "no"
				if float64(p.QPS) <= tc.knee {
					wantMeets = "yes"
				}
				if p.Phase != phase || p.Meets != wantMeets || (wantMeets == "no") == (p.Why == "") {
					t.Errorf("point %d: phase %q meets %q (%s), want %q %q", i+1, p.Phase, p.Meets, p.Why, phase, wantMeets)
				}
				if _, err := os.Stat(filepath.Join(c.Dir, p.Dir)); err != nil {
					t.Errorf("point %d: %v", i+1, err)
				}
			}
			if res.Points[0].Dir != "point-01-sync" || res.Points[1].Dir != "point-02-offline" || !strings.HasPrefix(res.Points[2].Dir, "point-03-rate-") {
				t.Errorf("dirs %q %q %q", res.Points[0].Dir, res.Points[1].Dir, res.Points[2].Dir)
			}
			if fp := res.Points[s.FoundPoint-1]; fp.Meets != "yes" || (fp.Phase == sweep.PhaseBisect && fp.Target != float64(s.Found)) {
				t.Errorf("found point %d: %+v", s.FoundPoint, fp)
			}
			onDisk := readResult(t, c.Dir)
			if onDisk.Kind != sweep.KindSearch || onDisk.Search == nil || onDisk.Search.Found != s.Found || len(onDisk.Points) != len(res.Points) {
				t.Errorf("sweep.json: %+v", onDisk)
			}
			csv, err := os.ReadFile(filepath.Join(c.Dir, sweep.CSVFile))
			if err != nil || !strings.Contains(string(csv), ",bracket-sync,yes\n") || strings.Count(string(csv), "\n") != len(res.Points)+1 {
				t.Errorf("sweep.csv (%v):\n%s", err, csv)
			}
		})
	}
}

// TestSearch_Ends covers the other ends of a search: the ceiling meets the
// targets, even the synchronous run misses them, the bound on bisection
// points, and a collapsed bracket.
func TestSearch_Ends(t *testing.T) {
	tests := []struct {
		name       string
		srv        kneeServer
		precision  float64
		maxIter    int
		want       string
		points     int
		found      float64 // NaN: none
		converged  bool
		highIsNull bool
	}{
		{"ceiling meets", kneeServer{sync: 20, offline: 100, knee: 500}, 0.05, 12, sweep.ReasonDone, 2, 100, true, true},
		{"sync misses", kneeServer{sync: 20, offline: 100, knee: 10}, 0.05, 12, sweep.ReasonNoRate, 1, math.NaN(), false, true},
		{"bounded", kneeServer{sync: 20, offline: 100, knee: 97}, 0.001, 3, sweep.ReasonMaxIterations, 5, -1, false, false},
		{"ceiling below sync", kneeServer{sync: 20, offline: 15, knee: 50, offlineMisses: true}, 0.05, 12, sweep.ReasonDone, 2, 20, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := defaultSearch()
			sc.Precision, sc.MaxIterations = tc.precision, tc.maxIter
			srv := tc.srv
			c, sw := searchConfig(t, &srv, sc, false, 0)
			res, err := sw.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			s := res.Search
			if res.Stopped != tc.want || len(res.Points) != tc.points || s.Converged != tc.converged {
				t.Fatalf("stopped %q (%s) after %d points, converged %v; want %q after %d", res.Stopped, res.StoppedDetail, len(res.Points), s.Converged, tc.want, tc.points)
			}
			switch {
			case math.IsNaN(tc.found):
				if s.Found.Valid() {
					t.Errorf("found %v, want none", s.Found)
				}
			case tc.found > 0:
				if float64(s.Found) != tc.found {
					t.Errorf("found %v, want %v", s.Found, tc.found)
				}
			default:
				if f := float64(s.Found); !(f > 20 && f <= srv.knee) || res.Points[s.FoundPoint-1].Meets != "yes" {
					t.Errorf("found %v at point %d", f, s.FoundPoint)
				}
			}
			if s.High.Valid() == tc.highIsNull {
				t.Errorf("bracket high %v", s.High)
			}
			onDisk := readResult(t, c.Dir)
			if onDisk.Stopped != tc.want || onDisk.Search == nil || onDisk.StoppedDetail == "" {
				t.Errorf("sweep.json: stopped %q (%s), search %+v", onDisk.Stopped, onDisk.StoppedDetail, onDisk.Search)
			}
		})
	}
}

// TestSearch_Rules: what meets the targets with a goodput rule alone (the
// share of good requests against the minimum), with judging at the
// confidence bound, and with the error rate.
func TestSearch_Rules(t *testing.T) {
	tests := []struct {
		name      string
		srv       kneeServer
		goodput   bool
		minGood   float64
		atBound   bool
		want      string
		knee      float64 // the found rate is within the precision below it
		whyPrefix string  // of a missed point
	}{
		{"goodput above the minimum below the knee", kneeServer{sync: 20, offline: 100, knee: 70, goodBelow: 0.96, goodAbove: 0.9}, true, 0.95, false, sweep.ReasonDone, 70, "goodput 90% of requests, below 95%"},
		{"goodput never enough", kneeServer{sync: 20, offline: 100, knee: 70, goodBelow: 0.96, goodAbove: 0.9}, true, 0.97, false, sweep.ReasonNoRate, 0, "goodput 96% of requests, below 97%"},
		{"at the point estimate", kneeServer{sync: 20, offline: 100, knee: 70, boundKnee: 50}, false, 0.95, false, sweep.ReasonDone, 70, "latency:p99<=1s fails"},
		{"at the bound", kneeServer{sync: 20, offline: 100, knee: 70, boundKnee: 50}, false, 0.95, true, sweep.ReasonDone, 50, "latency:p99<=1s fails at its 95% confidence bound"},
		{"error rate", kneeServer{sync: 20, offline: 100, knee: 70, goodBelow: 1, goodAbove: 1, failedAbove: 6}, true, 0.95, false, sweep.ReasonDone, 70, "error rate 6% above 5%"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := defaultSearch()
			sc.MinGoodput, sc.AtBound = tc.minGood, tc.atBound
			_, sw := searchConfig(t, &tc.srv, sc, tc.goodput, 0)
			res, err := sw.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if res.Stopped != tc.want {
				t.Fatalf("stopped %q (%s), want %q", res.Stopped, res.StoppedDetail, tc.want)
			}
			if tc.knee > 0 {
				if f := float64(res.Search.Found); !(f <= tc.knee && f >= tc.knee/(1+sc.Precision)) {
					t.Errorf("found %v, want within %v below %v", f, sc.Precision, tc.knee)
				}
			}
			var whys []string
			for _, p := range res.Points {
				if p.Meets == "no" {
					whys = append(whys, p.Why)
				}
			}
			if !slices.ContainsFunc(whys, func(w string) bool { return strings.HasPrefix(w, tc.whyPrefix) }) {
				t.Errorf("missed points say %q, want one saying %q", whys, tc.whyPrefix)
			}
			if tc.goodput && res.Search.MinGoodput != tc.minGood {
				t.Errorf("min goodput %v recorded", res.Search.MinGoodput)
			}
		})
	}
}

// TestSearch_Interrupted: a Stop during the third point ends the search;
// the points so far and the bracket so far stay in sweep.json.
func TestSearch_Interrupted(t *testing.T) {
	c, sw := searchConfig(t, &kneeServer{sync: 20, offline: 100, knee: 70}, defaultSearch(), false, 3)
	res, err := sw.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped != sweep.ReasonInterrupted || len(res.Points) != 3 || res.Points[2].State != string(metrics.StateInterrupted) {
		t.Fatalf("stopped %q after %d points", res.Stopped, len(res.Points))
	}
	onDisk := readResult(t, c.Dir)
	if onDisk.Stopped != sweep.ReasonInterrupted || len(onDisk.Points) != 3 || onDisk.Search.Low != 20 || onDisk.Search.High != 100 {
		t.Errorf("sweep.json: stopped %q, %d points, search %+v", onDisk.Stopped, len(onDisk.Points), onDisk.Search)
	}
	if m, _ := filepath.Glob(filepath.Join(c.Dir, "point-04-*")); len(m) > 0 {
		t.Errorf("a fourth point ran: %v", m)
	}
}

// TestSearch_Refused: a search without a target or with bad bounds is
// refused before any run.
func TestSearch_Refused(t *testing.T) {
	tests := []struct {
		name   string
		search sweep.Search
		target bool
		want   string
	}{
		{"no target", defaultSearch(), false, "needs a target"},
		{"precision zero", sweep.Search{Precision: 0, MinGoodput: 0.95, MaxIterations: 12}, true, "precision 0"},
		{"precision one", sweep.Search{Precision: 1, MinGoodput: 0.95, MaxIterations: 12}, true, "precision 1"},
		{"precision NaN", sweep.Search{Precision: math.NaN(), MinGoodput: 0.95, MaxIterations: 12}, true, "precision NaN"},
		{"min goodput zero", sweep.Search{Precision: 0.05, MinGoodput: 0, MaxIterations: 12}, true, "minimum goodput 0"},
		{"min goodput above one", sweep.Search{Precision: 0.05, MinGoodput: 1.5, MaxIterations: 12}, true, "minimum goodput 1.5"},
		{"no iterations", sweep.Search{Precision: 0.05, MinGoodput: 0.95, MaxIterations: 0}, true, "max iterations 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := baseConfig()
			if tc.target {
				base.SLO = []string{"ttft:p99<=1s"}
			}
			s := tc.search
			_, err := sweep.New(sweep.Config{Base: base, Kind: sweep.KindSearch, Dir: t.TempDir(), Search: &s,
				NewRunner: func(config.Run) (sweep.Runner, error) { t.Fatal("a run started"); return nil, nil }})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

// TestSearch_CeilingPoint: when every bisection point met the targets, a
// last open-loop point runs at the offline ceiling; if it meets them it is
// the answer, else the found rate stays within the precision below it.
func TestSearch_CeilingPoint(t *testing.T) {
	tests := []struct {
		name      string
		srv       kneeServer
		meets     string
		wantFound func(f float64) bool
	}{
		{"the ceiling is sustained", kneeServer{sync: 20, offline: 100, knee: 150, offlineMisses: true}, "yes",
			func(f float64) bool { return f == 100 }},
		{"the ceiling is not", kneeServer{sync: 20, offline: 100, knee: 99.95}, "no",
			func(f float64) bool { return f >= 100/(1+sweep.DefaultPrecision) && f < 99.95 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, sw := searchConfig(t, &tc.srv, defaultSearch(), false, 0)
			res, err := sw.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			s, last := res.Search, res.Points[len(res.Points)-1]
			if res.Stopped != sweep.ReasonDone || !s.Converged || !tc.wantFound(float64(s.Found)) {
				t.Fatalf("stopped %q (%s), search %+v", res.Stopped, res.StoppedDetail, s)
			}
			if last.Phase != sweep.PhaseBisect || last.Target != 100 || last.Meets != tc.meets || s.High != 100 {
				t.Errorf("last point %+v, bracket high %v", last, s.High)
			}
			for _, p := range res.Points[2 : len(res.Points)-1] {
				if p.Meets != "yes" {
					t.Errorf("bisection point %d missed: %+v", p.Index, p)
				}
			}
		})
	}
}
