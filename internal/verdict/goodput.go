package verdict

import (
	"fmt"
	"strings"

	"github.com/inferbench/inferbench/internal/metrics"
)

// Goodput is a per-request rule (vLLM's and DistServe's goodput): a request
// is good when it succeeded and each of its TTFT, TPOT and latency is at most
// its bound. A zero bound means "not bounded". Bounds are nanoseconds.
type Goodput struct {
	TTFT    float64 `json:"ttft_ns,omitempty"`
	TPOT    float64 `json:"tpot_ns,omitempty"`
	Latency float64 `json:"latency_ns,omitempty"`
	Expr    string  `json:"expr"`
}

// ParseGoodput parses `ttft<=200ms,tpot<=50ms,latency<=5s` (any non-empty
// subset, any order); each bound is `NAME<=DURATION`.
func ParseGoodput(expr string) (Goodput, error) {
	g := Goodput{Expr: strings.TrimSpace(expr)}
	fail := func(format string, args ...any) (Goodput, error) {
		return Goodput{}, fmt.Errorf("bad goodput rule %q: %s", expr, fmt.Sprintf(format, args...))
	}
	if g.Expr == "" {
		return fail("want e.g. ttft<=200ms,tpot<=50ms,latency<=5s")
	}
	for _, part := range strings.Split(strings.ReplaceAll(g.Expr, " ", ""), ",") {
		name, val, ok := strings.Cut(part, "<=")
		if !ok {
			return fail("bound %q: want NAME<=DURATION with NAME ttft, tpot or latency", part)
		}
		v, err := parseValue(val, UnitNS)
		if err != nil {
			return fail("%s: %v", name, err)
		}
		if v <= 0 {
			return fail("%s: bound %s must be positive", name, val)
		}
		var dst *float64
		switch SeriesName(strings.ToLower(name)) {
		case metrics.SeriesTTFT:
			dst = &g.TTFT
		case metrics.SeriesTPOT:
			dst = &g.TPOT
		case metrics.SeriesLatency:
			dst = &g.Latency
		default:
			return fail("unknown bound %q (want ttft, tpot or latency)", name)
		}
		if *dst != 0 {
			return fail("%s is bounded twice", name)
		}
		*dst = v
	}
	return g, nil
}

// UnmarshalText parses a goodput rule (flags and YAML share ParseGoodput).
func (g *Goodput) UnmarshalText(b []byte) error {
	v, err := ParseGoodput(string(b))
	if err != nil {
		return err
	}
	*g = v
	return nil
}

// MarshalText writes the rule as given.
func (g Goodput) MarshalText() ([]byte, error) { return []byte(g.Expr), nil }

// String returns the rule.
func (g Goodput) String() string { return g.Expr }

// Good reports whether one successful request with these measurements is
// good; a NaN measurement (TPOT of a one-token answer) meets its bound.
func (g Goodput) Good(ttftNS, tpotNS, latencyNS float64) bool {
	return within(ttftNS, g.TTFT) && within(tpotNS, g.TPOT) && within(latencyNS, g.Latency)
}

func within(v, bound float64) bool { return bound == 0 || !(v > bound) }
