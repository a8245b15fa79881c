package loadgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Stage is one step of a piecewise-constant rate: QPS for Duration.
type Stage struct {
	QPS      float64       `yaml:"qps"`
	Duration time.Duration `yaml:"duration"`
}

// ParseStages parses "QPS:DURATION,QPS:DURATION,…" (e.g. "10:30s,20:30s").
func ParseStages(s string) ([]Stage, error) {
	var out []Stage
	for i, part := range strings.Split(s, ",") {
		q, d, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, fmt.Errorf("stage %d %q: want QPS:DURATION, e.g. 10:30s", i+1, part)
		}
		qps, err := strconv.ParseFloat(q, 64)
		if err != nil || !(qps > 0) || math.IsInf(qps, 0) {
			return nil, fmt.Errorf("stage %d %q: the rate must be a positive number", i+1, part)
		}
		dur, err := time.ParseDuration(d)
		if err != nil || dur <= 0 {
			return nil, fmt.Errorf("stage %d %q: the duration must be positive, e.g. 30s", i+1, part)
		}
		out = append(out, Stage{QPS: qps, Duration: dur})
	}
	return out, nil
}

// Schedule yields the intended issue times of an open-loop run, as offsets
// from the start of the phase. It is a value: the same configuration and
// seed give the same times, so tests and the scheduler share it.
//
// Times are drawn in operational time (a process of unit mean rate: gamma
// increments of shape K and mean 1, exponential when K = 1, or constant 1),
// then mapped through the inverse of the cumulative rate Λ(t) = ∫₀ᵗ rate.
// With a constant rate that is a plain scaling; a linear ramp or stages make
// the arrivals inhomogeneous without thinning, and the intended times stay
// exact.
type Schedule struct {
	rng      *rand.Rand
	shape    float64 // gamma shape; 0 for constant spacing
	u        float64 // operational time reached
	first    bool
	rate     float64
	ramp     float64   // seconds
	stages   []Stage   // when set, rate and ramp are unused
	stageCum []float64 // Λ at the end of each stage
}

// NewSchedule returns the schedule of cfg (a poisson or constant mode).
func NewSchedule(cfg Config) *Schedule {
	s := &Schedule{
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		first: true,
		rate:  cfg.TargetQPS,
		ramp:  cfg.RampUp.Seconds(),
	}
	if cfg.Mode == ModePoisson {
		s.shape = 1
		if cfg.Burstiness > 0 {
			s.shape = cfg.Burstiness
		}
	}
	if len(cfg.Stages) > 0 {
		s.stages = cfg.Stages
		cum := 0.0
		for _, st := range cfg.Stages {
			cum += st.QPS * st.Duration.Seconds()
			s.stageCum = append(s.stageCum, cum)
		}
	}
	return s
}

// Next returns the next intended time in nanoseconds after the phase start,
// or false when the schedule ends (past the last stage).
func (s *Schedule) Next() (float64, bool) {
	switch {
	case s.shape == 1:
		s.u += s.rng.ExpFloat64()
	case s.shape > 0:
		s.u += gamma(s.rng, s.shape) / s.shape
	case s.first && s.ramp == 0 && s.stages == nil:
		// A constant rate issues its first request at once.
	default:
		s.u++
	}
	s.first = false
	t, ok := s.invLambda(s.u)
	return t * 1e9, ok
}

// invLambda maps operational time u to seconds: the t with Λ(t) = u.
func (s *Schedule) invLambda(u float64) (float64, bool) {
	if s.stages != nil {
		start, prev := 0.0, 0.0
		for i, st := range s.stages {
			if u <= s.stageCum[i] {
				return start + (u-prev)/st.QPS, true
			}
			start += st.Duration.Seconds()
			prev = s.stageCum[i]
		}
		return 0, false
	}
	// Linear ramp: rate(t) = R·t/T for t < T, so Λ(t) = R·t²/(2T).
	if s.ramp > 0 {
		if top := s.rate * s.ramp / 2; u < top {
			return math.Sqrt(2 * s.ramp * u / s.rate), true
		} else {
			return s.ramp + (u-top)/s.rate, true
		}
	}
	return u / s.rate, true
}

// gamma draws from the gamma distribution of shape k and scale 1
// (Marsaglia and Tsang, "A simple method for generating gamma variables",
// 2000). For k < 1 it draws shape k+1 and multiplies by U^(1/k).
func gamma(rng *rand.Rand, k float64) float64 {
	boost := 1.0
	if k < 1 {
		// U in (0, 1]: avoids U^(1/k) = 0 turning into a zero gap forever.
		boost = math.Pow(1-rng.Float64(), 1/k)
		k++
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := 1 - rng.Float64() // (0, 1]
		x2 := x * x
		if u < 1-0.0331*x2*x2 || math.Log(u) < 0.5*x2+d*(1-v+math.Log(v)) {
			return d * v * boost
		}
	}
}

// ExpectedArrivals is how many arrivals cfg's schedule expects in its first
// d: the cumulative rate Λ(d). Callers use it to reject a shaped rate that
// would issue nothing within a run's time limit.
func ExpectedArrivals(cfg Config, d time.Duration) float64 {
	t := d.Seconds()
	if len(cfg.Stages) > 0 {
		sum, start := 0.0, 0.0
		for _, st := range cfg.Stages {
			span := min(st.Duration.Seconds(), max(t-start, 0))
			sum += st.QPS * span
			start += st.Duration.Seconds()
		}
		return sum
	}
	if T := cfg.RampUp.Seconds(); T > 0 {
		if t < T {
			return cfg.TargetQPS * t * t / (2 * T)
		}
		return cfg.TargetQPS*T/2 + cfg.TargetQPS*(t-T)
	}
	return cfg.TargetQPS * t
}

// ExpectedSpan is when cfg's schedule expects its n-th arrival (Λ⁻¹(n)), in
// seconds; false when stages end first.
func ExpectedSpan(cfg Config, n int) (float64, bool) {
	return NewSchedule(cfg).invLambda(float64(n))
}
