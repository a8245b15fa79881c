// Package sweep runs a series of whole benchmark runs ("points") at rising
// load — target rates (online) or concurrencies (closed loop) — each as a
// normal run directory under one sweep directory, and tabulates them in
// sweep.json and sweep.csv, rewritten atomically after every point so that
// an interrupted sweep keeps every finished point. It drives the runs
// through bench only (never the client or the aggregator directly), and
// stops early once the server is saturated.
//
// A search sweep ([KindSearch], see search.go) chooses its points itself:
// it brackets the highest rate meeting the run's targets between a
// synchronous and an offline run, then bisects on rate.
package sweep

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/inferbench/inferbench/internal/atomicfile"
	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
)

// Kind is what a sweep varies.
type Kind string

// The kinds of sweep.
const (
	// KindRate varies the online target rate (--rates).
	KindRate Kind = "rate"
	// KindConcurrency varies the closed-loop concurrency (--concurrencies).
	KindConcurrency Kind = "concurrency"
	// KindSearch searches the highest rate meeting every target (--search).
	KindSearch Kind = "search"
)

// File names in the sweep directory.
const (
	JSONFile = "sweep.json"
	CSVFile  = "sweep.csv"
)

// SaturationRatio is the share of the target rate below which a rate point
// counts as not delivered; two such points in a row end the sweep.
const SaturationRatio = 0.9

// DefaultMaxErrorRate is the error rate above which a point ends the sweep.
const DefaultMaxErrorRate = 0.05

// Stop reasons recorded in sweep.json.
const (
	ReasonDone        = "done"
	ReasonSaturated   = "saturated"
	ReasonErrorRate   = "error_rate"
	ReasonInterrupted = "interrupted"
	ReasonRunFailed   = "run_failed"
)

// Runner is the part of bench.Runner a sweep drives; NewRunner builds one
// per point.
type Runner interface {
	Preflight(ctx context.Context) error
	Open() error
	Run(ctx context.Context) (*bench.Outcome, error)
	Stop() bool
	Abort()
	Close() error
	Dir() string
}

// Config is a sweep.
type Config struct {
	// Base is the configuration of every point; its load mode, target rate
	// or concurrency, and report directory are set per point.
	Base config.Run
	Kind Kind
	// Loads are the points' target rates (requests/s) or concurrencies.
	Loads []float64
	// Dir is the sweep directory; point N's run goes to Dir/point-NN-KIND-LOAD.
	Dir string
	// MaxErrorRate ends the sweep after a point whose failed share of
	// completed requests is above it.
	MaxErrorRate float64
	// NewRunner builds the runner of one point's configuration.
	NewRunner func(cfg config.Run) (Runner, error)
	// OnPoint, if set, is called after each point is recorded.
	OnPoint func(p Point)
	// OnStart, if set, is called when a point's run directory is open.
	OnStart func(index int, cfg config.Run, dir string)
	// Search configures a KindSearch sweep (which has no Loads).
	Search *Search
	// AfterWrite, if set, is called each time sweep.json has been written
	// (the CLI rewrites the sweep's report.html from it); its error is the
	// write's.
	AfterWrite func() error
}

// Point is one row of the sweep.
type Point struct {
	Index int    `json:"index"` // from 1
	Dir   string `json:"dir"`   // the run directory, relative to the sweep directory
	State string `json:"state"` // the run's final state: complete or interrupted
	// Target is the target rate (requests/s) or concurrency.
	Target float64 `json:"target"`
	// Achieved is the achieved load: QPS for a rate point, the mean
	// requests in flight (QPS × mean latency, Little's law) for a
	// concurrency point.
	Achieved  report.Value `json:"achieved"`
	Completed int64        `json:"n_samples_completed"`
	Failed    int64        `json:"n_samples_failed"`
	ErrorRate float64      `json:"error_rate"`
	QPS       report.Value `json:"qps"`
	TPS       report.Value `json:"tps"`
	Goodput   report.Value `json:"goodput"` // null without --goodput
	// Latencies in milliseconds.
	TTFTP50    report.Value `json:"ttft_p50_ms"`
	TTFTP90    report.Value `json:"ttft_p90_ms"`
	TTFTP99    report.Value `json:"ttft_p99_ms"`
	TPOTP50    report.Value `json:"tpot_p50_ms"`
	TPOTP90    report.Value `json:"tpot_p90_ms"`
	TPOTP99    report.Value `json:"tpot_p99_ms"`
	LatencyP50 report.Value `json:"latency_p50_ms"`
	LatencyP90 report.Value `json:"latency_p90_ms"`
	LatencyP99 report.Value `json:"latency_p99_ms"`
	// SLO is "pass" or "fail" with --slo, else empty.
	SLO string `json:"slo,omitempty"`
	// Phase, Meets and Why are set on a search's points: the phase (see
	// the Phase constants), whether the point met every target ("yes" or
	// "no"), and why not.
	Phase string `json:"phase,omitempty"`
	Meets string `json:"meets,omitempty"`
	Why   string `json:"why,omitempty"`
}

// Result is the content of sweep.json.
type Result struct {
	Kind         Kind      `json:"kind"`
	Mode         string    `json:"mode"` // the load generator's mode of every point
	Requested    []float64 `json:"requested"`
	MaxErrorRate float64   `json:"max_error_rate"`
	Points       []Point   `json:"points"`
	// Stopped is why the sweep ended (ReasonDone when every point ran);
	// StoppedDetail says it in words.
	Stopped       string `json:"stopped"`
	StoppedDetail string `json:"stopped_detail,omitempty"`
	StartedAt     string `json:"started_at"`
	// Search is the outcome of a search sweep.
	Search *SearchResult `json:"search,omitempty"`
}

// SLOFailed reports whether a point failed its --slo.
func (r *Result) SLOFailed() bool {
	for _, p := range r.Points {
		if p.SLO == "fail" {
			return true
		}
	}
	return false
}

// Sweep runs the points of a Config one after another.
type Sweep struct {
	cfg Config

	mu      sync.Mutex
	cur     Runner
	stopped bool
}

// New checks c and returns its sweep; every point's configuration is
// validated here, so that a bad point is refused before any run.
func New(c Config) (*Sweep, error) {
	if c.Kind != KindRate && c.Kind != KindConcurrency && c.Kind != KindSearch {
		return nil, fmt.Errorf("sweep: unknown kind %q", c.Kind)
	}
	if c.Kind == KindSearch {
		return newSearch(c)
	}
	if len(c.Loads) == 0 {
		return nil, errors.New("sweep: no points")
	}
	if c.NewRunner == nil {
		return nil, errors.New("sweep: no NewRunner")
	}
	if c.MaxErrorRate < 0 || c.MaxErrorRate > 1 || math.IsNaN(c.MaxErrorRate) {
		return nil, fmt.Errorf("max error rate %v: want a share in [0, 1]", c.MaxErrorRate)
	}
	s := &Sweep{cfg: c}
	for i := range c.Loads {
		cfg := s.pointConfig(i)
		if err := bench.Validate(&cfg); err != nil {
			return nil, fmt.Errorf("point %d (%s %v): %w", i+1, c.Kind, c.Loads[i], err)
		}
	}
	return s, nil
}

// pointName is point i's run directory name, e.g. point-01-rate-2.
func (s *Sweep) pointName(i int) string {
	return fmt.Sprintf("point-%02d-%s-%s", i+1, s.cfg.Kind, strconv.FormatFloat(s.cfg.Loads[i], 'g', -1, 64))
}

// pointConfig is point i's configuration.
func (s *Sweep) pointConfig(i int) config.Run {
	cfg := s.cfg.Base
	load := s.cfg.Loads[i]
	switch s.cfg.Kind {
	case KindRate:
		if m := loadgen.Mode(cfg.Load.Mode); m != loadgen.ModeConstant {
			cfg.Load.Mode = string(loadgen.ModePoisson)
		}
		cfg.Load.TargetQPS = load
	case KindConcurrency:
		cfg.Load.Mode = string(loadgen.ModeConcurrency)
		cfg.Load.Concurrency = int(load)
	}
	cfg.ReportDir = filepath.Join(s.cfg.Dir, s.pointName(i))
	return cfg
}

// Stop ends the current point gracefully and runs no further point; it
// returns true the first time. A second Stop aborts the current point.
func (s *Sweep) Stop() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !s.stopped
	s.stopped = true
	if s.cur != nil {
		if first {
			s.cur.Stop()
		} else {
			s.cur.Abort()
		}
	}
	return first
}

// Abort aborts the current point and runs no further point.
func (s *Sweep) Abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	if s.cur != nil {
		s.cur.Abort()
	}
}

func (s *Sweep) isStopped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopped
}

// Run runs the points until the last, saturation, a too-high error rate, a
// failed run or Stop, writing sweep.json and sweep.csv after every point.
// The result is non-nil whenever any point was recorded; the error is that
// of a run that could not produce its results, or of writing the files.
func (s *Sweep) Run(ctx context.Context) (*Result, error) {
	if s.cfg.Kind == KindSearch {
		return s.runSearch(ctx)
	}
	res := &Result{
		Kind: s.cfg.Kind, Mode: s.pointConfig(0).Load.Mode, Requested: s.cfg.Loads,
		MaxErrorRate: s.cfg.MaxErrorRate, Points: []Point{}, Stopped: ReasonDone,
		StartedAt: time.Now().UTC().Format(time.RFC3339),
	}
	short := 0 // consecutive rate points below SaturationRatio of their target
	for i := range s.cfg.Loads {
		if s.isStopped() || ctx.Err() != nil {
			res.Stopped, res.StoppedDetail = ReasonInterrupted, "stopped before point "+strconv.Itoa(i+1)
			break
		}
		p, err := s.runPoint(ctx, i)
		if p != nil {
			res.Points = append(res.Points, *p)
		}
		if err != nil {
			res.Stopped = ReasonRunFailed
			res.StoppedDetail = fmt.Sprintf("point %d: %v", i+1, err)
			if werr := s.write(res); werr != nil {
				return res, errors.Join(err, werr)
			}
			return res, fmt.Errorf("point %d (%s): %w", i+1, s.pointName(i), err)
		}
		if s.cfg.OnPoint != nil {
			s.cfg.OnPoint(*p)
		}
		switch {
		case p.State == string(metrics.StateInterrupted) || s.isStopped():
			res.Stopped, res.StoppedDetail = ReasonInterrupted, fmt.Sprintf("interrupted during point %d", i+1)
		case p.ErrorRate > s.cfg.MaxErrorRate:
			res.Stopped = ReasonErrorRate
			res.StoppedDetail = fmt.Sprintf("point %d: error rate %.3f above %.3f", i+1, p.ErrorRate, s.cfg.MaxErrorRate)
		case s.cfg.Kind == KindRate:
			if !p.Achieved.Valid() || float64(p.Achieved) < SaturationRatio*p.Target {
				short++
			} else {
				short = 0
			}
			if short >= 2 {
				res.Stopped = ReasonSaturated
				res.StoppedDetail = fmt.Sprintf("points %d and %d achieved under %.0f%% of their target rate", i, i+1, SaturationRatio*100)
			}
		}
		if err := s.write(res); err != nil {
			return res, err
		}
		if res.Stopped != ReasonDone {
			break
		}
	}
	if res.Stopped == ReasonInterrupted && len(res.Points) == 0 {
		if err := s.write(res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// runPoint runs point i; the point is nil when its run produced no results.
func (s *Sweep) runPoint(ctx context.Context, i int) (*Point, error) {
	p, _, err := s.runProbe(ctx, i, s.pointConfig(i), s.pointName(i), s.cfg.Loads[i], s.cfg.Kind)
	return p, err
}

// runProbe runs the point of index i (from 0) with configuration cfg, whose
// run directory is Dir/name, tabulated as a point of kind at load; the
// point and the outcome are nil when its run produced no results.
func (s *Sweep) runProbe(ctx context.Context, i int, cfg config.Run, name string, load float64, kind Kind) (*Point, *bench.Outcome, error) {
	r, err := s.cfg.NewRunner(cfg)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = r.Close() }()
	if err := r.Preflight(ctx); err != nil {
		return nil, nil, err
	}
	if err := r.Open(); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	s.cur = r
	if s.stopped {
		r.Stop()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cur = nil
		s.mu.Unlock()
	}()
	if s.cfg.OnStart != nil {
		s.cfg.OnStart(i, cfg, r.Dir())
	}
	out, err := r.Run(ctx)
	if out == nil {
		if err == nil {
			err = errors.New("the run produced no results")
		}
		return nil, nil, err
	}
	p := pointOf(out, kind, load, i)
	p.Dir = name
	if len(cfg.SLO) > 0 {
		p.SLO = "pass"
		if v := out.Report.Verdict; v != nil && !v.Pass {
			p.SLO = "fail"
		}
	}
	return &p, out, err
}

// pointOf tabulates a finished run.
func pointOf(out *bench.Outcome, kind Kind, load float64, i int) Point {
	rep := out.Report
	p := Point{
		Index: i + 1, State: string(out.Final.State), Target: load,
		Completed: rep.Completed, Failed: rep.Failed,
		QPS: rep.QPS, TPS: rep.TPS, Goodput: report.Value(math.NaN()),
	}
	if rep.Completed > 0 {
		p.ErrorRate = float64(rep.Failed) / float64(rep.Completed)
	}
	if rep.Goodput != nil {
		p.Goodput = report.Value(rep.Goodput.PerSecond)
	}
	pct := func(series, key string) report.Value {
		m, ok := out.Final.Find(series)
		if !ok || m.Count == 0 {
			return report.Value(math.NaN())
		}
		v, ok := m.Percentile(key)
		if !ok {
			return report.Value(math.NaN())
		}
		return report.Value(v / 1e6)
	}
	p.TTFTP50, p.TTFTP90, p.TTFTP99 = pct(metrics.SeriesTTFT, "50"), pct(metrics.SeriesTTFT, "90"), pct(metrics.SeriesTTFT, "99")
	p.TPOTP50, p.TPOTP90, p.TPOTP99 = pct(metrics.SeriesTPOT, "50"), pct(metrics.SeriesTPOT, "90"), pct(metrics.SeriesTPOT, "99")
	p.LatencyP50, p.LatencyP90, p.LatencyP99 = pct(metrics.SeriesLatency, "50"), pct(metrics.SeriesLatency, "90"), pct(metrics.SeriesLatency, "99")
	switch kind {
	case KindRate:
		p.Achieved = rep.QPS
	case KindConcurrency:
		p.Achieved = report.Value(math.NaN())
		if m, ok := out.Final.Find(metrics.SeriesLatency); ok && m.Count > 0 && rep.QPS.Valid() {
			p.Achieved = report.Value(float64(rep.QPS) * m.Total.Float64() / float64(m.Count) / 1e9)
		}
	}
	return p
}

// write rewrites sweep.json and sweep.csv atomically.
func (s *Sweep) write(res *Result) error {
	j, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.cfg.Dir, JSONFile), append(j, '\n'), 0o644); err != nil {
		return fmt.Errorf("sweep %s: %w", s.cfg.Dir, err)
	}
	c, err := CSV(res)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(s.cfg.Dir, CSVFile), c, 0o644); err != nil {
		return fmt.Errorf("sweep %s: %w", s.cfg.Dir, err)
	}
	if s.cfg.AfterWrite != nil {
		return s.cfg.AfterWrite()
	}
	return nil
}

// CSVHeader is the first row of sweep.csv.
var CSVHeader = []string{"index", "dir", "state", "target", "achieved", metrics.QPSName, metrics.TPSName, metrics.GoodputName,
	"ttft_p50_ms", "ttft_p90_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p90_ms", "tpot_p99_ms",
	"latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "n_samples_completed", "n_samples_failed", "error_rate", "slo",
	"phase", "meets"}

// CSV is sweep.csv: a header and one row per point; a missing number is
// an empty cell.
func CSV(res *Result) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(CSVHeader); err != nil {
		return nil, err
	}
	num := func(v report.Value) string {
		if !v.Valid() {
			return ""
		}
		return strconv.FormatFloat(float64(v), 'g', 6, 64)
	}
	for _, p := range res.Points {
		row := []string{strconv.Itoa(p.Index), p.Dir, p.State, strconv.FormatFloat(p.Target, 'g', -1, 64),
			num(p.Achieved), num(p.QPS), num(p.TPS), num(p.Goodput),
			num(p.TTFTP50), num(p.TTFTP90), num(p.TTFTP99), num(p.TPOTP50), num(p.TPOTP90), num(p.TPOTP99),
			num(p.LatencyP50), num(p.LatencyP90), num(p.LatencyP99),
			strconv.FormatInt(p.Completed, 10), strconv.FormatInt(p.Failed, 10),
			strconv.FormatFloat(p.ErrorRate, 'g', 6, 64), p.SLO, p.Phase, p.Meets}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}
