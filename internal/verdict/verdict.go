// Package verdict decides whether a run met its targets, from a metrics
// snapshot alone (it never reads the aggregator's internals, so a report
// rebuilt from final_snapshot.json gives the same verdict):
//
//   - [SLO]: thresholds such as ttft:p99<=200ms or error_rate<=1%, checked
//     against the final snapshot with measured value, margin, pass/fail and,
//     for a percentile, whether it holds at its 95 % confidence bound too;
//   - [Goodput]: the per-request rule the aggregator is given to count good
//     requests (tracked_samples_good);
//   - [LoadCheck]: whether the scheduler delivered the requested load.
//
// [Evaluate] returns a [Result], whose JSON form is the "verdict" object of
// result_summary.json. A failed SLO (or, with --strict-load, an undelivered
// load) makes the CLI exit with code 3.
package verdict

import (
	"fmt"
	"math"
	"strconv"

	"github.com/inferbench/inferbench/internal/metrics"
)

// Constants of the load-delivered check.
const (
	latenessKey         = "99.0"
	deliveredShare      = 0.95
	defaultMaxLatenessN = 1e6 // 1 ms
)

// Check is one SLO evaluated on a snapshot.
type Check struct {
	Threshold
	// Measured is the value the snapshot holds (NaN: no data), in Unit.
	Measured Value `json:"measured"`
	// Margin is how far Measured is inside the bound (negative: outside),
	// in Unit; MarginRatio is Margin ÷ |Value|.
	Margin      Value `json:"margin"`
	MarginRatio Value `json:"margin_ratio"`
	Pass        bool  `json:"pass"`
	// For a percentile: the 95 % confidence interval of the order
	// statistics (NaN: too few samples) and whether the SLO holds at the
	// conservative end of it (the upper bound for <, <=; the lower for >, >=).
	CILow          Value  `json:"ci95_low,omitempty"`
	CIHigh         Value  `json:"ci95_high,omitempty"`
	PassAtBound    *bool  `json:"pass_at_bound,omitempty"`
	Count          int64  `json:"count,omitempty"` // samples of the series
	Note           string `json:"note,omitempty"`
	hasPercentileB bool
}

// Load is the load-delivered check's outcome.
type Load struct {
	Delivered bool `json:"delivered"`
	// TargetQPS is the requested issue rate (0: not an open-loop run, only
	// the lateness is checked); AchievedQPS the tracked issue rate.
	TargetQPS   float64  `json:"target_qps,omitempty"`
	AchievedQPS Value    `json:"achieved_issue_qps"`
	LatenessP99 Value    `json:"lateness_p99_ns"`
	MaxLateness float64  `json:"max_lateness_ns"`
	Reasons     []string `json:"reasons,omitempty"`
	Strict      bool     `json:"strict"`
}

// GoodputStats are the goodput numbers of a run with a goodput rule.
type GoodputStats struct {
	Rule      string `json:"rule"`
	Good      int64  `json:"n_samples_good"`
	Ratio     Value  `json:"ratio"`     // good ÷ completed (tracked)
	PerSecond Value  `json:"goodput"`   // good requests per second
	GoodTPS   Value  `json:"good_tps"`  // output tokens of good requests per second
	Completed int64  `json:"completed"` // tracked completions, failed included
}

// Result is the verdict of a run.
type Result struct {
	Checks  []Check       `json:"slo,omitempty"`
	Goodput *GoodputStats `json:"goodput,omitempty"`
	Load    *Load         `json:"load,omitempty"`
	// Pass is false when an SLO failed, or the load was not delivered and
	// the check is strict.
	Pass     bool     `json:"pass"`
	Warnings []string `json:"warnings,omitempty"`
}

// LoadCheck is the load-delivered check: a run whose tracked issue rate is
// below 95 % of TargetQPS (when > 0), or whose scheduler lateness p99 exceeds
// MaxLateness (0: 1 ms), did not deliver its load. Strict makes that fail
// the verdict.
type LoadCheck struct {
	TargetQPS   float64
	MaxLateness float64 // nanoseconds
	Strict      bool
}

// Spec is everything a verdict is asked about.
type Spec struct {
	SLOs    []SLO
	Goodput *Goodput   // nil: no goodput rule
	Load    *LoadCheck // nil: no load check
}

// Evaluate judges the snapshot s by spec. SLOs on a series the snapshot
// lacks, or on goodput without a rule, fail with a note.
func Evaluate(s *metrics.Snapshot, spec Spec) *Result {
	r := &Result{Pass: true}
	if spec.Goodput != nil {
		r.Goodput = goodputStats(s, spec.Goodput)
	}
	for _, slo := range spec.SLOs {
		c := check(s, slo)
		if !c.Pass {
			r.Pass = false
		}
		if c.hasPercentileB && (!c.CILow.Valid() || !c.CIHigh.Valid()) {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: %d samples are too few for a 95%% confidence bound on %s", slo.Expr, c.Count, slo.Stat))
		}
		r.Checks = append(r.Checks, c)
	}
	if spec.Load != nil {
		r.Load = spec.Load.evaluate(s)
		if !r.Load.Delivered && r.Load.Strict {
			r.Pass = false
		}
	}
	return r
}

func durationSecs(s *metrics.Snapshot) float64 {
	if d := s.CounterInt(metrics.TrackedDuration); d > 0 {
		return float64(d) / 1e9
	}
	return math.NaN()
}

func goodputStats(s *metrics.Snapshot, g *Goodput) *GoodputStats {
	secs := durationSecs(s)
	st := &GoodputStats{Rule: g.Expr, Good: s.CounterInt(metrics.TrackedGood), Completed: s.CounterInt(metrics.TrackedCompleted)}
	st.Ratio = Value(ratio(float64(st.Good), float64(st.Completed)))
	st.PerSecond = Value(float64(st.Good) / secs)
	st.GoodTPS = Value(float64(s.CounterInt(metrics.TrackedGoodTokens)) / secs)
	return st
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return math.NaN()
	}
	return a / b
}

// RateValue returns a run-level rate of the snapshot (see the rates an SLO
// accepts); NaN when the snapshot cannot tell.
func RateValue(s *metrics.Snapshot, name string) float64 {
	secs := durationSecs(s)
	completed, failed := s.CounterInt(metrics.TrackedCompleted), s.CounterInt(metrics.TrackedFailed)
	switch name {
	case metrics.QPSName:
		return float64(completed-failed) / secs
	case metrics.TPSName:
		if m, ok := s.Find(metrics.SeriesOSL); ok && m.Kind == metrics.KindSeries {
			return m.Total.Float64() / secs
		}
		return math.NaN()
	case "error_rate":
		return ratio(float64(failed), float64(completed))
	case metrics.GoodputName, metrics.GoodTPSName, "goodput_ratio":
		if _, ok := s.Find(metrics.TrackedGood); !ok {
			return math.NaN()
		}
		switch name {
		case metrics.GoodputName:
			return float64(s.CounterInt(metrics.TrackedGood)) / secs
		case metrics.GoodTPSName:
			return float64(s.CounterInt(metrics.TrackedGoodTokens)) / secs
		}
		return ratio(float64(s.CounterInt(metrics.TrackedGood)), float64(completed))
	}
	return math.NaN()
}

func check(s *metrics.Snapshot, slo SLO) Check {
	nan := Value(math.NaN())
	c := Check{Threshold: slo.Threshold, Measured: nan, Margin: nan, MarginRatio: nan, CILow: nan, CIHigh: nan}
	if slo.Rate {
		c.Measured = Value(RateValue(s, slo.Metric))
		if !c.Measured.Valid() && (slo.Metric == metrics.GoodputName || slo.Metric == metrics.GoodTPSName || slo.Metric == "goodput_ratio") {
			c.Note = "no goodput counted: give a --goodput rule"
		}
	} else {
		m, ok := s.Find(slo.Series)
		switch {
		case !ok || m.Kind != metrics.KindSeries:
			c.Note = "the run recorded no " + slo.Series + " series"
		case m.Count == 0:
			c.Note = "no samples"
		default:
			c.Count = m.Count
			c.Measured = Value(statValue(m, slo))
			if slo.Pct > 0 {
				c.hasPercentileB = true
				if p, ok := findPercentile(m, slo.Pct); ok && m.Bounds {
					c.CILow, c.CIHigh = Value(p.Lo), Value(p.Hi)
					end := p.Hi
					if !slo.Op.upper() {
						end = p.Lo
					}
					at := !math.IsNaN(end) && slo.Op.holds(end, slo.Value)
					c.PassAtBound = &at
				} else {
					c.hasPercentileB = false // a live snapshot: no bounds to judge
				}
			}
		}
	}
	if !c.Measured.Valid() {
		if c.Note == "" {
			c.Note = "no data"
		}
		return c
	}
	c.Pass = slo.Op.holds(c.Measured.F(), slo.Value)
	if slo.Op.upper() {
		c.Margin = Value(slo.Value) - c.Measured
	} else {
		c.Margin = c.Measured - Value(slo.Value)
	}
	if slo.Value != 0 {
		c.MarginRatio = c.Margin / Value(math.Abs(slo.Value))
	}
	return c
}

func findPercentile(m *metrics.Metric, p float64) (metrics.Percentile, bool) {
	key := metrics.PercentileKey(p)
	for _, q := range m.Percentiles {
		if q.Key == key {
			return q, true
		}
	}
	return metrics.Percentile{}, false
}

func statValue(m *metrics.Metric, slo SLO) float64 {
	switch slo.Stat {
	case "min":
		return m.Min.Float64()
	case "max":
		return m.Max.Float64()
	case "avg":
		return m.Total.Float64() / float64(m.Count)
	}
	if p, ok := findPercentile(m, slo.Pct); ok {
		return p.Value
	}
	return math.NaN()
}

func (lc LoadCheck) evaluate(s *metrics.Snapshot) *Load {
	l := &Load{Delivered: true, TargetQPS: lc.TargetQPS, MaxLateness: lc.MaxLateness, Strict: lc.Strict,
		AchievedQPS: Value(math.NaN()), LatenessP99: Value(math.NaN())}
	if l.MaxLateness <= 0 {
		l.MaxLateness = defaultMaxLatenessN
	}
	if span := s.CounterInt(metrics.TrackedIssueDuration); span > 0 {
		l.AchievedQPS = Value(float64(s.CounterInt(metrics.TrackedIssued)) / (float64(span) / 1e9))
	}
	if lc.TargetQPS > 0 && !(l.AchievedQPS.F() >= deliveredShare*lc.TargetQPS) {
		l.Delivered = false
		l.Reasons = append(l.Reasons, fmt.Sprintf("issue rate %s req/s is below %.0f%% of the target %s req/s",
			fmtFloat(l.AchievedQPS.F()), 100*deliveredShare, fmtFloat(lc.TargetQPS)))
	}
	// A fleet worker lost, or stopped on its own: its share was not issued.
	if n := s.CounterInt(metrics.OtherErrorCounterPrefix + metrics.ClassWorkerLost); n > 0 || s.CounterInt(metrics.ErrorCounterPrefix+metrics.ClassWorkerLost) > 0 {
		l.Delivered = false
		l.Reasons = append(l.Reasons, fmt.Sprintf("%s fleet worker(s) lost, %d requests in flight with them (%s): their share of the load stopped",
			countOrSome(n), s.CounterInt(metrics.ErrorCounterPrefix+metrics.ClassWorkerLost), metrics.ClassWorkerLost))
	}
	if n := s.CounterInt(metrics.OtherErrorCounterPrefix + metrics.ClassWorkerStopped); n > 0 {
		l.Delivered = false
		l.Reasons = append(l.Reasons, fmt.Sprintf("%d fleet worker(s) stopped before their share was issued (%s)", n, metrics.ClassWorkerStopped))
	}
	if m, ok := s.Find(metrics.SeriesLateness); ok && m.Kind == metrics.KindSeries && m.Count > 0 {
		if v, ok := m.Percentile(latenessKey); ok {
			l.LatenessP99 = Value(v)
			if v > l.MaxLateness {
				l.Delivered = false
				l.Reasons = append(l.Reasons, fmt.Sprintf("scheduler lateness p99 %s ms is above %s ms",
					fmtFloat(v/1e6), fmtFloat(l.MaxLateness/1e6)))
			}
		}
	}
	return l
}

// countOrSome is n, or "some" when a snapshot counted the loss only by
// its samples (written before losses had a record of their own).
func countOrSome(n int64) string {
	if n > 0 {
		return strconv.FormatInt(n, 10)
	}
	return "some"
}

func fmtFloat(f float64) string {
	if math.IsNaN(f) {
		return "N/A"
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}

// Value is a number that may be missing (NaN); JSON writes a missing one as
// null.
type Value float64

// F returns v as a float64.
func (v Value) F() float64 { return float64(v) }

// Valid reports whether v holds a number.
func (v Value) Valid() bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// MarshalJSON writes null for a missing value.
func (v Value) MarshalJSON() ([]byte, error) {
	if !v.Valid() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(v), 'g', -1, 64), nil
}
