package verdict

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
)

// Op is a comparison of an SLO.
type Op string

// The comparisons.
const (
	OpLT Op = "<"
	OpLE Op = "<="
	OpGT Op = ">"
	OpGE Op = ">="
)

// holds reports whether measured op bound.
func (o Op) holds(measured, bound float64) bool {
	switch o {
	case OpLT:
		return measured < bound
	case OpLE:
		return measured <= bound
	case OpGT:
		return measured > bound
	case OpGE:
		return measured >= bound
	}
	return false
}

// upper reports whether the SLO bounds the value from above (< or <=).
func (o Op) upper() bool { return o == OpLT || o == OpLE }

// Unit is the unit of an SLO's value: the native unit of what it measures.
type Unit string

// The units.
const (
	UnitNS     Unit = "ns"     // durations, in nanoseconds
	UnitTokens Unit = "tokens" // token counts
	UnitRatio  Unit = "ratio"  // fractions (error_rate): 0.01 is 1 %
	UnitPerSec Unit = "1/s"    // rates: requests or tokens per second
)

// Series aliases: the short names an SLO or a goodput rule may use for a
// series of the snapshot. A series' full name is accepted too.
var seriesAliases = map[string]string{
	"ttft":                 metrics.SeriesTTFT,
	"tpot":                 metrics.SeriesTPOT,
	"latency":              metrics.SeriesLatency,
	"e2e":                  metrics.SeriesLatency,
	"failed_latency":       metrics.SeriesFailedLatency,
	"chunk_gap":            metrics.SeriesChunkDelta,
	"itl":                  metrics.SeriesChunkDelta,
	metrics.SeriesISL:      metrics.SeriesISL,
	metrics.SeriesOSL:      metrics.SeriesOSL,
	metrics.SeriesOSLUsage: metrics.SeriesOSLUsage,
	"lateness":             metrics.SeriesLateness,
}

// Rates are the run-level values an SLO may bound without a statistic.
var rates = map[string]Unit{
	metrics.QPSName:     UnitPerSec, // successful completions per second
	metrics.TPSName:     UnitPerSec, // output tokens per second
	"error_rate":        UnitRatio,  // failed ÷ completed
	metrics.GoodputName: UnitPerSec, // good requests per second (needs --goodput)
	metrics.GoodTPSName: UnitPerSec, // output tokens of good requests per second
	"goodput_ratio":     UnitRatio,  // good ÷ completed
}

// SeriesName resolves a metric name or alias to its series name, or "" when
// it names no series inferbench records.
func SeriesName(name string) string {
	if s, ok := seriesAliases[name]; ok {
		return s
	}
	for _, s := range seriesAliases {
		if s == name {
			return s
		}
	}
	return ""
}

func seriesUnit(series string) Unit {
	if strings.HasSuffix(series, "_ns") {
		return UnitNS
	}
	return UnitTokens
}

// SLO is one threshold: `METRIC:STAT OP VALUE` on a series (ttft:p99<=200ms)
// or `RATE OP VALUE` on a run-level rate (qps>=20, error_rate<=1%). Build one
// with [ParseSLO] or UnmarshalText; its text form is the expression.
type SLO struct{ Threshold }

// Threshold is the parsed content of an SLO (plain data, so that a [Check]
// embeds it without taking on the SLO's text form). Value is in the native
// unit: nanoseconds, tokens, a ratio, per second.
type Threshold struct {
	Expr   string  `json:"expr"`             // as written
	Metric string  `json:"metric"`           // the series name (ttft_ns) or the rate (qps)
	Stat   string  `json:"stat,omitempty"`   // min, max, avg, median or pN; "" for a rate
	Pct    float64 `json:"-"`                // N of pN (50 for median)
	Op     Op      `json:"op"`               // <, <=, >, >=
	Value  float64 `json:"value"`            // the bound, in Unit
	Unit   Unit    `json:"unit"`             // ns, tokens, ratio, 1/s
	Rate   bool    `json:"rate,omitempty"`   // a run-level rate, not a series
	Series string  `json:"series,omitempty"` // same as Metric for a series
}

// ErrSLO wraps every parse error of an SLO expression.
var ErrSLO = errors.New("bad SLO")

// ParseSLO parses an SLO expression; errors name it and say what was expected.
func ParseSLO(expr string) (SLO, error) {
	var s SLO
	s.Expr = strings.TrimSpace(expr)
	fail := func(format string, args ...any) (SLO, error) {
		return SLO{}, fmt.Errorf("%w %q: %s", ErrSLO, expr, fmt.Sprintf(format, args...))
	}
	e := strings.ReplaceAll(s.Expr, " ", "")
	i := strings.IndexAny(e, "<>")
	if i <= 0 {
		return fail("want METRIC:STAT<=VALUE (e.g. ttft:p99<=200ms) or RATE>=VALUE (e.g. qps>=20)")
	}
	lhs, rest := e[:i], e[i:]
	switch {
	case strings.HasPrefix(rest, "<="):
		s.Op, rest = OpLE, rest[2:]
	case strings.HasPrefix(rest, ">="):
		s.Op, rest = OpGE, rest[2:]
	case strings.HasPrefix(rest, "<"):
		s.Op, rest = OpLT, rest[1:]
	default:
		s.Op, rest = OpGT, rest[1:]
	}
	if rest == "" {
		return fail("missing value after %s", s.Op)
	}
	name, stat, hasStat := strings.Cut(lhs, ":")
	name = strings.ToLower(name)
	if !hasStat {
		u, ok := rates[name]
		if !ok {
			if SeriesName(name) != "" {
				return fail("series %s needs a statistic, e.g. %s:p99 (min, max, avg, median, pN)", name, name)
			}
			return fail("unknown metric %q (want one of %s, or METRIC:STAT with METRIC one of %s)", name, rateNames(), seriesNames())
		}
		s.Metric, s.Unit, s.Rate = name, u, true
	} else {
		series := SeriesName(name)
		if series == "" {
			return fail("unknown metric %q (want one of %s)", name, seriesNames())
		}
		s.Metric, s.Series, s.Unit = series, series, seriesUnit(series)
		var err error
		if s.Stat, s.Pct, err = ParseStat(strings.ToLower(stat)); err != nil {
			return fail("%v", err)
		}
	}
	v, err := parseValue(rest, s.Unit)
	if err != nil {
		return fail("%v", err)
	}
	s.Value = v
	return s, nil
}

// ErrOffGrid is returned (wrapped) by [ParseStat] for a percentile that is
// not on the default grid.
var ErrOffGrid = errors.New("percentile not on the grid")

// ParseStat reads min, max, avg (mean), median or pN and returns the
// statistic's name and, for a percentile, its value; N must be on the
// default percentile grid, since the final snapshot is exact only there.
func ParseStat(stat string) (string, float64, error) {
	switch stat {
	case "min", "max", "avg":
		return stat, 0, nil
	case "mean":
		return "avg", 0, nil
	case "median", "p50":
		return "median", 50, nil
	}
	if n, ok := strings.CutPrefix(stat, "p"); ok {
		p, err := strconv.ParseFloat(n, 64)
		if err == nil && slices.Contains(metrics.DefaultPercentiles, p) {
			return "p" + strconv.FormatFloat(p, 'f', -1, 64), p, nil
		}
		grid := make([]string, len(metrics.DefaultPercentiles))
		for i, g := range metrics.DefaultPercentiles {
			grid[i] = "p" + strconv.FormatFloat(g, 'f', -1, 64)
		}
		return "", 0, fmt.Errorf("percentile %s is not on the grid (%s): %w", stat, strings.Join(grid, " "), ErrOffGrid)
	}
	return "", 0, fmt.Errorf("unknown statistic %q (want min, max, avg, median or pN)", stat)
}

// parseValue reads a bound in unit u: a Go duration for nanosecond series,
// a number or a percentage for ratios, a plain number otherwise.
func parseValue(v string, u Unit) (float64, error) {
	switch u {
	case UnitNS:
		d, err := time.ParseDuration(v)
		if err != nil {
			return 0, fmt.Errorf("value %q: want a duration like 200ms or 1.5s", v)
		}
		return float64(d), nil
	case UnitRatio:
		if p, ok := strings.CutSuffix(v, "%"); ok {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return 0, fmt.Errorf("value %q: want a percentage like 1%% or a fraction like 0.01", v)
			}
			return f / 100, nil
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("value %q: want a number", v)
	}
	return f, nil
}

func rateNames() string { return strings.Join(slices.Sorted(maps.Keys(rates)), ", ") }

func seriesNames() string { return strings.Join(slices.Sorted(maps.Keys(seriesAliases)), ", ") }

// UnmarshalText parses an SLO expression, so that flags and YAML share
// [ParseSLO].
func (s *SLO) UnmarshalText(b []byte) error {
	v, err := ParseSLO(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText writes the expression as given.
func (s SLO) MarshalText() ([]byte, error) { return []byte(s.Expr), nil }

// String returns the expression.
func (s SLO) String() string { return s.Expr }

// ParseSLOs parses a list of expressions; the error names the first bad one.
func ParseSLOs(exprs []string) ([]SLO, error) {
	out := make([]SLO, 0, len(exprs))
	for _, e := range exprs {
		s, err := ParseSLO(e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
