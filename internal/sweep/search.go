package sweep

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
)

// The phases of a search's points (the phase column of sweep.csv).
const (
	// PhaseSync is the synchronous run (one request at a time): its
	// achieved QPS is the lower end of the bracket.
	PhaseSync = "bracket-sync"
	// PhaseOffline is the offline run (as fast as possible): its achieved
	// QPS is the upper end of the bracket, the server's ceiling.
	PhaseOffline = "bracket-offline"
	// PhaseBisect is an open-loop run at a rate inside the bracket.
	PhaseBisect = "bisect"
)

// Defaults of a [Search].
const (
	DefaultPrecision     = 0.05
	DefaultMinGoodput    = 0.95
	DefaultMaxIterations = 12
)

// Stop reasons of a search recorded in sweep.json, besides ReasonDone (the
// bracket is within the precision, or the offline run met every target),
// ReasonInterrupted and ReasonRunFailed.
const (
	// ReasonNoRate: even the synchronous run missed a target.
	ReasonNoRate = "no_rate_meets"
	// ReasonMaxIterations: the bisection ran its bound of points before the
	// bracket was within the precision; the found rate meets every target
	// but is less precise than asked.
	ReasonMaxIterations = "max_iterations"
)

// Search configures a search sweep: the highest rate that still meets every
// target of the base configuration (its SLOs and its goodput rule).
//
// A point meets the targets when its run completed, every SLO passes at
// the point estimate (with AtBound, a percentile SLO must also pass at its
// 95 % confidence bound), the load was delivered if --strict-load asks it
// (the verdict's pass), with a goodput rule at least MinGoodput of its
// requests were good, its error rate is at most the sweep's MaxErrorRate,
// and at least one request succeeded.
type Search struct {
	// Precision ends the bisection once (high − low) ÷ low is at most it;
	// in (0, 1).
	Precision float64
	// MinGoodput is the share of good requests a point needs when the base
	// configuration has a goodput rule; in (0, 1].
	MinGoodput float64
	// AtBound judges percentile SLOs at their conservative confidence bound
	// too, not only at the point estimate.
	AtBound bool
	// MaxIterations bounds the bisection points (the two bracket points
	// aside); at least 1.
	MaxIterations int
}

// SearchResult is the outcome of a search in sweep.json. Rates are
// requests/s; a null one is unknown.
type SearchResult struct {
	Precision     float64 `json:"precision"`
	MinGoodput    float64 `json:"min_goodput,omitempty"` // with a goodput rule
	AtBound       bool    `json:"at_confidence_bound"`
	MaxIterations int     `json:"max_iterations"`
	// Mode is the arrival law of the bisection points.
	Mode string `json:"mode"`
	// Found is the highest rate that met every target (null: none did) and
	// FoundPoint the index of its point.
	Found      report.Value `json:"found_rate"`
	FoundPoint int          `json:"found_point,omitempty"`
	// Low is the highest rate known to meet the targets, High the lowest
	// known not to (null when the offline ceiling met them); Width is
	// (High − Low) ÷ Low.
	Low   report.Value `json:"bracket_low"`
	High  report.Value `json:"bracket_high"`
	Width report.Value `json:"bracket_width"`
	// Iterations counts the bisection points run.
	Iterations int `json:"iterations"`
	// Converged is true when the bracket ended within Precision (or the
	// ceiling met the targets).
	Converged bool `json:"converged"`
}

// newSearch checks a KindSearch configuration: a target to meet, the
// search's bounds, and every kind of point the search may run.
func newSearch(c Config) (*Sweep, error) {
	sc := c.Search
	switch {
	case sc == nil:
		return nil, errors.New("sweep: a search needs its Search configuration")
	case len(c.Base.SLO) == 0 && c.Base.Goodput == "":
		return nil, errors.New("a search needs a target to meet: give an SLO or a goodput rule")
	case !(sc.Precision > 0 && sc.Precision < 1):
		return nil, fmt.Errorf("search precision %v: want a share in (0, 1), e.g. 0.05", sc.Precision)
	case !(sc.MinGoodput > 0 && sc.MinGoodput <= 1):
		return nil, fmt.Errorf("search minimum goodput %v: want a share in (0, 1]", sc.MinGoodput)
	case sc.MaxIterations < 1:
		return nil, fmt.Errorf("search max iterations %d: want at least 1", sc.MaxIterations)
	case c.NewRunner == nil:
		return nil, errors.New("sweep: no NewRunner")
	case c.MaxErrorRate < 0 || c.MaxErrorRate > 1 || math.IsNaN(c.MaxErrorRate):
		return nil, fmt.Errorf("max error rate %v: want a share in [0, 1]", c.MaxErrorRate)
	}
	s := &Sweep{cfg: c}
	for i, phase := range []string{PhaseSync, PhaseOffline, PhaseBisect} {
		cfg, _ := s.probeConfig(i, phase, 1)
		if err := bench.Validate(&cfg); err != nil {
			return nil, fmt.Errorf("search %s point: %w", phase, err)
		}
	}
	return s, nil
}

// searchMode is the arrival law of the bisection points: the base
// configuration's when it is constant, else Poisson.
func (s *Sweep) searchMode() loadgen.Mode {
	if loadgen.Mode(s.cfg.Base.Load.Mode) == loadgen.ModeConstant {
		return loadgen.ModeConstant
	}
	return loadgen.ModePoisson
}

// probeConfig is the configuration and run directory name of the search
// point of index i (from 0) in phase, at rate for a bisection point.
func (s *Sweep) probeConfig(i int, phase string, rate float64) (config.Run, string) {
	cfg := s.cfg.Base
	var name string
	switch phase {
	case PhaseSync, PhaseOffline:
		// The rate's shaping applies to open-loop points only.
		cfg.Load.TargetQPS, cfg.Load.Burstiness, cfg.Load.RampUp = 0, 0, 0
		if phase == PhaseSync {
			cfg.Load.Mode, cfg.Load.Concurrency, name = string(loadgen.ModeConcurrency), 1, "sync"
		} else {
			cfg.Load.Mode, name = string(loadgen.ModeOffline), "offline"
		}
	default:
		cfg.Load.Mode, cfg.Load.TargetQPS = string(s.searchMode()), rate
		name = "rate-" + strconv.FormatFloat(rate, 'g', -1, 64)
	}
	name = fmt.Sprintf("point-%02d-%s", i+1, name)
	cfg.ReportDir = filepath.Join(s.cfg.Dir, name)
	return cfg, name
}

// midRate is the next bisection rate: the geometric mean of the bracket
// (which halves its ratio, so that a wide bracket, e.g. 1 to 1000
// requests/s, takes as few points as a narrow one), rounded to four
// significant digits when that keeps it strictly inside.
func midRate(lo, hi float64) float64 {
	m := math.Sqrt(lo * hi)
	if r, err := strconv.ParseFloat(strconv.FormatFloat(m, 'g', 4, 64), 64); err == nil && r > lo && r < hi {
		return r
	}
	return m
}

// ceilingRate is the rate of the open-loop point at the top of the
// bracket: hi rounded down to four significant digits when that stays
// above lo.
func ceilingRate(lo, hi float64) float64 {
	if hi <= 0 {
		return hi
	}
	scale := math.Pow(10, 3-math.Floor(math.Log10(hi)))
	if r := math.Floor(hi*scale) / scale; r > lo && r <= hi {
		return r
	}
	return hi
}

// meets judges a search point by the rules of [Search]; why says which
// targets it missed.
func (s *Sweep) meets(p *Point, out *bench.Outcome) (ok bool, why string) {
	var miss []string
	if p.State != string(metrics.StateComplete) {
		miss = append(miss, "the run did not complete")
	}
	rep := out.Report
	if v := rep.Verdict; v != nil {
		for _, c := range v.Checks {
			switch {
			case !c.Pass:
				miss = append(miss, c.Expr+" fails")
			case s.cfg.Search.AtBound && c.PassAtBound != nil && !*c.PassAtBound:
				miss = append(miss, c.Expr+" fails at its 95% confidence bound")
			}
		}
		if l := v.Load; l != nil && l.Strict && !l.Delivered {
			miss = append(miss, report.LoadNotDelivered+" (--strict-load)")
		}
	} else if len(s.cfg.Base.SLO) > 0 {
		miss = append(miss, "the run has no verdict")
	}
	if s.cfg.Base.Goodput != "" {
		ratio := math.NaN()
		if g := rep.Goodput; g != nil {
			ratio = g.Ratio.F()
		}
		if !(ratio >= s.cfg.Search.MinGoodput) {
			miss = append(miss, fmt.Sprintf("goodput %s of requests, below %s", share(ratio), share(s.cfg.Search.MinGoodput)))
		}
	}
	if p.ErrorRate > s.cfg.MaxErrorRate {
		miss = append(miss, fmt.Sprintf("error rate %s above %s", share(p.ErrorRate), share(s.cfg.MaxErrorRate)))
	}
	if !p.QPS.Valid() || p.QPS <= 0 {
		miss = append(miss, "no request succeeded")
	}
	return len(miss) == 0, strings.Join(miss, "; ")
}

// share writes a share as a percentage.
func share(f float64) string {
	if math.IsNaN(f) {
		return "N/A"
	}
	return strconv.FormatFloat(100*f, 'g', 4, 64) + "%"
}

// rate writes a rate in requests/s.
func rate(f float64) string { return strconv.FormatFloat(f, 'g', 4, 64) + " requests/s" }

// runSearch brackets the highest rate meeting every target between a
// synchronous run (the lower end: if it misses a target, no rate meets
// them) and an offline run (the upper end: if it meets them, its rate is
// the answer), then bisects on the open-loop rate until the bracket is
// within the precision or the bound on points is reached. When every
// open-loop point met the targets, a last one runs at the top of the
// bracket, the offline rate. sweep.json is rewritten after every point
// with the bracket so far.
func (s *Sweep) runSearch(ctx context.Context) (*Result, error) {
	sc := s.cfg.Search
	nan := report.Value(math.NaN())
	sr := &SearchResult{Precision: sc.Precision, AtBound: sc.AtBound, MaxIterations: sc.MaxIterations,
		Mode: string(s.searchMode()), Found: nan, Low: nan, High: nan, Width: nan}
	if s.cfg.Base.Goodput != "" {
		sr.MinGoodput = sc.MinGoodput
	}
	res := &Result{
		Kind: KindSearch, Mode: sr.Mode, Requested: []float64{}, MaxErrorRate: s.cfg.MaxErrorRate,
		Points: []Point{}, Stopped: ReasonDone, StartedAt: time.Now().UTC().Format(time.RFC3339), Search: sr,
	}
	// step runs and records one point; end is true when the search is over
	// (res.Stopped says why, the files are written).
	step := func(phase string, r float64) (p *Point, end bool, err error) {
		i := len(res.Points)
		if s.isStopped() || ctx.Err() != nil {
			res.Stopped, res.StoppedDetail = ReasonInterrupted, "stopped before point "+strconv.Itoa(i+1)
			return nil, true, s.write(res)
		}
		cfg, name := s.probeConfig(i, phase, r)
		p, out, err := s.runProbe(ctx, i, cfg, name, r, KindRate)
		if p != nil {
			p.Phase = phase
			ok, why := s.meets(p, out)
			p.Meets, p.Why = "no", why
			if ok {
				p.Meets = "yes"
			}
			res.Points = append(res.Points, *p)
		}
		if err != nil {
			res.Stopped, res.StoppedDetail = ReasonRunFailed, fmt.Sprintf("point %d: %v", i+1, err)
			if werr := s.write(res); werr != nil {
				return nil, true, errors.Join(err, werr)
			}
			return nil, true, fmt.Errorf("point %d (%s): %w", i+1, name, err)
		}
		if s.cfg.OnPoint != nil {
			s.cfg.OnPoint(*p)
		}
		if p.State == string(metrics.StateInterrupted) || s.isStopped() {
			res.Stopped, res.StoppedDetail = ReasonInterrupted, fmt.Sprintf("interrupted during point %d", i+1)
			return nil, true, s.write(res)
		}
		return p, false, nil
	}
	found := func(p *Point, r float64) {
		sr.Found, sr.FoundPoint, sr.Low = report.Value(r), p.Index, report.Value(r)
	}
	width := func() {
		sr.Width = (sr.High - sr.Low) / sr.Low
		sr.Converged = sr.Width.Valid() && float64(sr.Width) <= sc.Precision
	}

	p, end, err := step(PhaseSync, 0)
	if end {
		return res, err
	}
	if p.Meets != "yes" {
		res.Stopped = ReasonNoRate
		res.StoppedDetail = "even the synchronous run (one request at a time) misses: " + p.Why
		return res, s.write(res)
	}
	found(p, float64(p.QPS))
	if err := s.write(res); err != nil {
		return res, err
	}

	if p, end, err = step(PhaseOffline, 0); end {
		return res, err
	}
	if p.Meets == "yes" {
		found(p, math.Max(float64(p.QPS), float64(sr.Low)))
		sr.Width, sr.Converged = 0, true
		res.StoppedDetail = "the offline run (as fast as possible) meets every target: its rate is the ceiling"
		return res, s.write(res)
	}
	sr.High = p.QPS
	if !sr.High.Valid() || sr.High <= sr.Low {
		// The ceiling is no higher than the synchronous rate: the bracket
		// is closed (or cannot be drawn) and the synchronous rate is all
		// that is known to meet the targets.
		sr.High = sr.Low
		res.StoppedDetail = "the offline run achieved no higher rate than the synchronous one"
	}
	width()
	if err := s.write(res); err != nil {
		return res, err
	}

	missed := false // an open-loop point missed the targets
	for !sr.Converged {
		if sr.Iterations == sc.MaxIterations {
			res.Stopped = ReasonMaxIterations
			res.StoppedDetail = fmt.Sprintf("%d bisection points left the bracket %s wide (precision %s)",
				sr.Iterations, share(float64(sr.Width)), share(sc.Precision))
			return res, s.write(res)
		}
		r := midRate(float64(sr.Low), float64(sr.High))
		if p, end, err = step(PhaseBisect, r); end {
			return res, err
		}
		sr.Iterations++
		if p.Meets == "yes" {
			found(p, r)
		} else {
			sr.High, missed = report.Value(r), true
		}
		width()
		if err := s.write(res); err != nil {
			return res, err
		}
	}
	// Every open-loop point met the targets: the top of the bracket is
	// still the offline run's QPS, measured in another mode. An open-loop
	// point at that rate settles whether the server sustains its ceiling
	// (then it is the answer) or not (then it is the open-loop top).
	if !missed && sr.High > sr.Low && sr.Iterations < sc.MaxIterations {
		r := ceilingRate(float64(sr.Low), float64(sr.High))
		if p, end, err = step(PhaseBisect, r); end {
			return res, err
		}
		sr.Iterations++
		if p.Meets == "yes" {
			found(p, r)
			res.StoppedDetail = "the open-loop point at the offline ceiling, " + rate(r) + ", meets every target"
		} else {
			sr.High = report.Value(r)
		}
		width()
	}
	if res.StoppedDetail == "" {
		res.StoppedDetail = fmt.Sprintf("the bracket %s to %s is within %s", rate(float64(sr.Low)), rate(float64(sr.High)), share(sc.Precision))
	}
	return res, s.write(res)
}
