package bench

import (
	"fmt"
	"time"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/verdict"
)

// VerdictSpec is what the run's verdict checks, from the slo, goodput,
// max_lateness and strict_load keys: errors name the key and the bad value.
// The load-delivered check always runs; its target rate is the online
// modes' target_qps.
func VerdictSpec(cfg *config.Run) (verdict.Spec, error) {
	var spec verdict.Spec
	for i, e := range cfg.SLO {
		s, err := verdict.ParseSLO(e)
		if err != nil {
			return spec, fmt.Errorf("slo[%d]: %w", i, err)
		}
		spec.SLOs = append(spec.SLOs, s)
	}
	if cfg.Goodput != "" {
		g, err := verdict.ParseGoodput(cfg.Goodput)
		if err != nil {
			return spec, fmt.Errorf("goodput: %w", err)
		}
		spec.Goodput = &g
	}
	lc := &verdict.LoadCheck{MaxLateness: float64(cfg.MaxLateness), Strict: cfg.StrictLoad}
	switch loadgen.Mode(cfg.Load.Mode) {
	case loadgen.ModePoisson, loadgen.ModeConstant:
		lc.TargetQPS = cfg.Load.TargetQPS
		if cfg.Load.RampUp > 0 || cfg.Load.Stages != "" {
			lc.TargetQPS = shapedMeanRate(LoadgenConfig(cfg.Load))
		}
		if cfg.Dataset.MultiTurn {
			// The rate starts conversations, while the issue rate counts
			// their turns: only the lateness is checked.
			lc.TargetQPS = 0
		}
	}
	spec.Load = lc
	return spec, nil
}

// shapedMeanRate is the issue rate a ramped or staged schedule expects on
// average over the run (its cumulative rate over the run's span), which is
// what the achieved rate is compared with; 0 (no rate check, lateness is
// still checked) when the span is not known before the run.
func shapedMeanRate(l loadgen.Config) float64 {
	span := l.Duration.Seconds()
	if span == 0 && l.NumSamples > 0 {
		if s, ok := loadgen.ExpectedSpan(l, l.NumSamples); ok {
			return float64(l.NumSamples) / s
		}
	}
	if len(l.Stages) > 0 {
		total := 0.0
		for _, st := range l.Stages {
			total += st.Duration.Seconds()
		}
		if span == 0 || span > total {
			span = total // issuing ends after the last stage
		}
	}
	if span == 0 {
		return 0
	}
	return loadgen.ExpectedArrivals(l, time.Duration(span*1e9)) / span
}

// Verdict judges a run's snapshot by its configuration.
func Verdict(cfg *config.Run, s *metrics.Snapshot) (*verdict.Result, error) {
	spec, err := VerdictSpec(cfg)
	if err != nil {
		return nil, err
	}
	return verdict.Evaluate(s, spec), nil
}

// goodputBounds is the aggregator's form of a goodput rule (nil: none).
func goodputBounds(g *verdict.Goodput) *aggregator.GoodputBounds {
	if g == nil {
		return nil
	}
	return &aggregator.GoodputBounds{TTFT: int64(g.TTFT), Latency: int64(g.Latency), TPOT: g.TPOT}
}
