package fleet

import (
	"fmt"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/loadgen"
)

// Check reports whether the run cfg over ds can run on a fleet of n
// workers, before any worker is waited for: the load must split (see
// [Split]). A multi-turn dataset's sample order deals whole conversations.
func Check(cfg config.Run, ds *dataset.Dataset, n int) error {
	_, err := Split(bench.LoadgenConfig(cfg.Load), ds.Len(), n)
	return err
}

// Part is one worker's share of a run's load.
type Part struct {
	Load loadgen.Config
	// Idle is true when the share holds no request (fewer samples than
	// workers): the worker joins the run's phases and issues nothing.
	Idle bool
}

// Split divides the load of one run among n workers so that the union of
// their requests is the run one process would make (datasetLen is the
// dataset's size, for the one-pass default):
//
//   - the sample order: one global seeded order; worker i takes positions
//     i, i+n, … (warmup first), so the warmup and tracked counts are split
//     exactly, the remainder spread over the first workers;
//   - poisson at rate R: n independent Poisson streams at R/n, seeded
//     differently (their superposition is Poisson at R); stages and ramps
//     scale the same way;
//   - constant at rate R: R/n each, worker i delayed by its first
//     position's offset k/R, so the merged spacing is 1/R;
//   - replay: the trace's requests dealt round-robin, worker i taking
//     requests i, i+n, … in replay order, each at its own trace time
//     (loadgen's Share on a replay); a count limit takes the trace's first
//     requests, a max_concurrency cap is split as a rate's;
//   - concurrency C and offline max-in-flight M: C/n (M/n) each, the
//     remainder spread; each needs at least one per worker. So are the
//     levels of concurrency stages (a ramp keeps its duration, to C/n) and
//     an open-loop schedule's max_concurrency cap.
//
// A time limit (duration, min_duration) applies to every worker as it is.
func Split(load loadgen.Config, datasetLen, n int) ([]Part, error) {
	if n < 1 {
		return nil, fmt.Errorf("fleet size %d: must be at least 1", n)
	}
	warm := load.WarmupSamples
	total := load.NumSamples
	if total == 0 && load.Duration == 0 && load.MinDuration == 0 {
		total = datasetLen
	}
	switch load.Mode {
	case loadgen.ModePoisson, loadgen.ModeConstant, loadgen.ModeReplay:
		if c := load.MaxConcurrency; c > 0 && c < n {
			return nil, fmt.Errorf("max_concurrency %d is less than the fleet size %d: each worker needs at least one", c, n)
		}
	case loadgen.ModeConcurrency:
		for i, st := range load.Stages {
			if int(st.QPS) < n {
				return nil, fmt.Errorf("stages[%d]: concurrency %v is less than the fleet size %d: each worker needs at least one", i, st.QPS, n)
			}
		}
		if len(load.Stages) == 0 && load.Concurrency < n {
			return nil, fmt.Errorf("concurrency %d is less than the fleet size %d: each worker needs at least one", load.Concurrency, n)
		}
	case loadgen.ModeOffline:
		m := load.MaxInFlight
		if m == 0 {
			m = loadgen.DefaultMaxInFlight
		}
		if m < n {
			return nil, fmt.Errorf("max_in_flight %d is less than the fleet size %d: each worker needs at least one", m, n)
		}
		load.MaxInFlight = m
	default:
		// A schedule this function does not know how to divide would run
		// whole on every worker: N times the load asked for.
		return nil, fmt.Errorf("mode %q: a fleet run cannot split it yet (offline, poisson, constant, concurrency and replay can)", load.Mode)
	}
	parts := make([]Part, n)
	for i := range parts {
		c := load
		c.Share = &loadgen.Share{Index: i, Of: n}
		c.WarmupSamples = countMod(warm, i, n)
		if total > 0 {
			c.NumSamples = countMod(warm+total, i, n) - c.WarmupSamples
			if load.Mode == loadgen.ModeReplay {
				// A replay's warmup draws from the sample order, its
				// tracked phase from the trace's first positions.
				c.NumSamples = countMod(total, i, n)
			}
			parts[i].Idle = c.NumSamples == 0 && c.WarmupSamples == 0
		}
		c.Stages = nil
		for _, st := range load.Stages {
			q := st.QPS / float64(n) // a rate
			if load.Mode == loadgen.ModeConcurrency {
				// A concurrency stage's "QPS" is its worker count:
				// whole shares, the remainder spread.
				w := int(st.QPS)
				q = float64(w/n + b2i(i < w%n))
			}
			c.Stages = append(c.Stages, loadgen.Stage{QPS: q, Duration: st.Duration})
		}
		if load.MaxConcurrency > 0 {
			c.MaxConcurrency = load.MaxConcurrency/n + b2i(i < load.MaxConcurrency%n)
		}
		switch load.Mode {
		case loadgen.ModePoisson:
			c.TargetQPS = load.TargetQPS / float64(n)
			// Independent streams: distinct seeds (worker 0 keeps the
			// run's, so a fleet of one is the single-host run).
			c.Seed = load.Seed + uint64(i)*0x9e3779b97f4a7c15
		case loadgen.ModeConstant:
			c.TargetQPS = load.TargetQPS / float64(n)
			if load.RampUp == 0 && len(load.Stages) == 0 && load.TargetQPS > 0 {
				// Worker i's first tracked position is the k-th of the
				// phase, k = (i − warm) mod n.
				k := ((i-warm)%n + n) % n
				c.Share.Phase = time.Duration(float64(k) / load.TargetQPS * 1e9)
			}
		case loadgen.ModeConcurrency:
			c.Concurrency = load.Concurrency/n + b2i(i < load.Concurrency%n)
		case loadgen.ModeOffline:
			c.MaxInFlight = load.MaxInFlight/n + b2i(i < load.MaxInFlight%n)
		}
		parts[i].Load = c
	}
	return parts, nil
}

// countMod is how many positions p in [0, end) have p mod n = i.
func countMod(end, i, n int) int {
	if end <= i {
		return 0
	}
	return (end - i + n - 1) / n
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
