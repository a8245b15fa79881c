// Package compare sets the final snapshots of several runs side by side:
// the key figures of each (QPS, TPS, goodput when counted, error rate and
// the p50/p90/p99 of TTFT, TPOT, latency and chunk gap), their absolute
// and relative deltas against the first run (the baseline), and whether
// each percentile's delta is significant.
//
// Significance rule: a percentile's delta is significant when the two
// runs' 95 % confidence intervals (the distribution-free bounds a terminal
// snapshot carries, "percentile_ci95") do not overlap. That is the
// conservative rule: it never flags a difference that resampling noise of
// either run alone could explain. Rates (QPS, TPS, goodput, error rate)
// carry no interval, so their deltas are never marked.
//
// A [Bound] (--fail-on-regression ttft:p50:10%) turns a delta into a
// regression when a later run is worse than the baseline by more than the
// given share: higher for latencies, token counts and the error rate, lower
// for QPS, TPS and goodput. The package reads snapshots only (never the
// aggregator), so it compares runs from any version that wrote one.
package compare

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/verdict"
)

// Value is a number that may be missing (NaN, JSON null).
type Value = report.Value

// Run is one run to compare: a label (the path given) and its snapshot.
type Run struct {
	Label string
	File  string // the final_snapshot.json read
	Snap  *metrics.Snapshot
}

// Load reads the final snapshot of a run directory or a
// final_snapshot.json path.
func Load(path string) (Run, error) {
	s, file, err := report.Load(path)
	if err != nil {
		return Run{}, err
	}
	return Run{Label: path, File: file, Snap: s}, nil
}

// Cell is one run's figure in a row. For every run but the baseline, Delta
// is the value minus the baseline's and RelDelta that over |baseline| (NaN
// when either is missing, ±Inf from a zero baseline).
type Cell struct {
	Value    Value `json:"value"`
	CILow    Value `json:"ci95_low"`
	CIHigh   Value `json:"ci95_high"`
	Delta    Value `json:"delta"`
	RelDelta Value `json:"rel_delta"`
	// Significant: the confidence intervals of this run and the baseline
	// do not overlap (percentiles only).
	Significant bool `json:"significant"`
}

// Row is one figure of every run.
type Row struct {
	Name   string `json:"name"`           // e.g. "ttft p99", metrics.QPSName
	Metric string `json:"metric"`         // series name (ttft_ns) or rate (qps)
	Stat   string `json:"stat,omitempty"` // p50, avg…; "" for a rate
	Unit   string `json:"unit"`           // the display unit (ms, req/s, ratio)
	// HigherIsWorse is the direction of a regression.
	HigherIsWorse bool   `json:"higher_is_worse"`
	Cells         []Cell `json:"runs"`
	scale         float64
	pct           float64
	rate          bool
}

// Regression is a bound a later run broke.
type Regression struct {
	Bound    string  `json:"bound"`
	Run      string  `json:"run"`
	Baseline Value   `json:"baseline"`
	Value    Value   `json:"value"`
	RelDelta Value   `json:"rel_delta"`
	Limit    float64 `json:"limit"`
}

// Result is the comparison: every run's figures, the regressions found,
// and Pass (no bound broken).
type Result struct {
	Runs        []string     `json:"runs"`
	Files       []string     `json:"files"`
	Rule        string       `json:"significance_rule"`
	Rows        []Row        `json:"rows"`
	Bounds      []string     `json:"fail_on_regression,omitempty"`
	Regressions []Regression `json:"regressions,omitempty"`
	Pass        bool         `json:"pass"`
}

// Rule is the significance rule, as the JSON form states it.
const Rule = "95% confidence intervals of the percentile do not overlap"

// Bound is one --fail-on-regression: METRIC:STAT:PCT for a series
// (ttft:p50:10%) or RATE:PCT for a run-level rate (qps:5%).
type Bound struct {
	Expr   string
	Metric string  // series name or rate
	Stat   string  // "" for a rate
	Pct    float64 // percentile of Stat (0: min, max or avg)
	Limit  float64 // the allowed worsening, a fraction (0.1 for 10%)
	rate   bool
}

// ErrBound wraps every parse error of a Bound.
var ErrBound = errors.New("bad --fail-on-regression")

// rateNames are the run-level rates a bound or a row may name, with
// whether a higher value is worse.
var rateNames = map[string]bool{
	metrics.QPSName: false, metrics.TPSName: false, metrics.GoodputName: false, metrics.GoodTPSName: false, "goodput_ratio": false,
	"error_rate": true,
}

// ParseBound parses METRIC:STAT:PCT or RATE:PCT; the metric names and
// aliases are the ones of an SLO (internal/verdict).
func ParseBound(expr string) (Bound, error) {
	fail := func(format string, args ...any) (Bound, error) {
		return Bound{}, fmt.Errorf("%w %q: %s", ErrBound, expr, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(strings.TrimSpace(expr), ":")
	b := Bound{Expr: strings.TrimSpace(expr)}
	var pct string
	switch len(parts) {
	case 2:
		if _, ok := rateNames[parts[0]]; !ok {
			return fail("want METRIC:STAT:PCT (ttft:p50:10%%) or RATE:PCT with a rate of %s", rateList())
		}
		b.Metric, b.rate, pct = parts[0], true, parts[1]
	case 3:
		b.Metric = verdict.SeriesName(parts[0])
		if b.Metric == "" {
			return fail("unknown metric %q (want a series such as ttft, tpot, latency, chunk_gap, isl, osl)", parts[0])
		}
		st, p, err := parseStat(parts[1])
		if err != nil {
			return fail("%v", err)
		}
		b.Stat, b.Pct, pct = st, p, parts[2]
	default:
		return fail("want METRIC:STAT:PCT (ttft:p50:10%%) or RATE:PCT (qps:5%%)")
	}
	num := strings.TrimSuffix(pct, "%")
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return fail("allowed worsening %q: want a non-negative percentage like 10%%", pct)
	}
	b.Limit = v / 100
	return b, nil
}

func rateList() string { return strings.Join(slices.Sorted(maps.Keys(rateNames)), ", ") }

// parseStat reads a statistic as verdict does; the median is named p50, as
// in the table.
func parseStat(stat string) (string, float64, error) {
	name, p, err := verdict.ParseStat(stat)
	switch {
	case errors.Is(err, verdict.ErrOffGrid):
		return "", 0, fmt.Errorf("percentile %s is not on the snapshot's grid", stat)
	case err != nil:
		return "", 0, err
	case name == "median":
		return "p50", 50, nil
	}
	return name, p, nil
}

// The series of the table and their percentiles.
var (
	tableSeries = []string{metrics.SeriesTTFT, metrics.SeriesTPOT, metrics.SeriesLatency, metrics.SeriesChunkDelta}
	tablePcts   = []float64{50, 90, 99}
	shortNames  = map[string]string{metrics.SeriesTTFT: "ttft", metrics.SeriesTPOT: "tpot", metrics.SeriesLatency: "latency", metrics.SeriesChunkDelta: "chunk_gap"}
)

// Compare compares runs[1:] with runs[0] and checks the bounds. It needs at
// least two runs.
func Compare(runs []Run, bounds []Bound) (*Result, error) {
	if len(runs) < 2 {
		return nil, errors.New("compare: need at least two runs")
	}
	res := &Result{Rule: Rule, Pass: true}
	for _, r := range runs {
		res.Runs = append(res.Runs, r.Label)
		res.Files = append(res.Files, r.File)
	}
	for _, name := range []string{metrics.QPSName, metrics.TPSName, metrics.GoodputName, "error_rate"} {
		row := rateRow(name)
		if name == metrics.GoodputName && !anyHas(runs, metrics.TrackedGood) {
			continue
		}
		res.Rows = append(res.Rows, fill(row, runs))
	}
	for _, series := range tableSeries {
		for _, p := range tablePcts {
			res.Rows = append(res.Rows, fill(seriesRow(series, "p"+strconv.FormatFloat(p, 'f', -1, 64), p), runs))
		}
	}
	for _, b := range bounds {
		res.Bounds = append(res.Bounds, b.Expr)
		row := findRow(res.Rows, b)
		if row == nil {
			var r Row
			if b.rate {
				r = rateRow(b.Metric)
			} else {
				r = seriesRow(b.Metric, b.Stat, b.Pct)
			}
			filled := fill(r, runs)
			row = &filled
		}
		base := row.Cells[0]
		for i, c := range row.Cells[1:] {
			worse := c.RelDelta
			if !row.HigherIsWorse {
				worse = -worse
			}
			if !base.Value.Valid() || !c.Value.Valid() || !(float64(worse) > b.Limit) {
				continue
			}
			res.Pass = false
			res.Regressions = append(res.Regressions, Regression{Bound: b.Expr, Run: runs[i+1].Label,
				Baseline: base.Value, Value: c.Value, RelDelta: c.RelDelta, Limit: b.Limit})
		}
	}
	return res, nil
}

func anyHas(runs []Run, counter string) bool {
	for _, r := range runs {
		if _, ok := r.Snap.Find(counter); ok {
			return true
		}
	}
	return false
}

func findRow(rows []Row, b Bound) *Row {
	for i := range rows {
		if rows[i].Metric == b.Metric && rows[i].Stat == b.Stat {
			return &rows[i]
		}
	}
	return nil
}

func rateRow(name string) Row {
	unit, scale := "ratio", 1.0
	if d, ok := metrics.Lookup(name); ok {
		unit = string(d.Unit)
	}
	if name == "error_rate" {
		unit, scale = "%", 100
	}
	return Row{Name: name, Metric: name, Unit: unit, HigherIsWorse: rateNames[name], scale: scale, rate: true}
}

func seriesRow(series, stat string, pct float64) Row {
	unit, scale := "", 1.0
	if d, ok := metrics.Lookup(series); ok && d.DisplayScale != 0 {
		unit, scale = d.DisplayUnit, d.DisplayScale
	}
	short := shortNames[series]
	if short == "" {
		short = series
	}
	return Row{Name: short + " " + stat, Metric: series, Stat: stat, Unit: unit, HigherIsWorse: true, scale: scale, pct: pct}
}

// fill computes the row's cells from the runs' snapshots.
func fill(row Row, runs []Run) Row {
	nan := report.NA
	row.Cells = make([]Cell, len(runs))
	for i, r := range runs {
		c := Cell{Value: nan, CILow: nan, CIHigh: nan, Delta: nan, RelDelta: nan}
		if row.rate {
			c.Value = Value(verdict.RateValue(r.Snap, row.Metric) * row.scale)
		} else if m, ok := r.Snap.Find(row.Metric); ok && m.Kind == metrics.KindSeries && m.Count > 0 {
			c.Value, c.CILow, c.CIHigh = seriesStat(m, row)
		}
		row.Cells[i] = c
	}
	base := row.Cells[0]
	for i := 1; i < len(row.Cells); i++ {
		c := &row.Cells[i]
		if !base.Value.Valid() || !c.Value.Valid() {
			continue
		}
		c.Delta = c.Value - base.Value
		switch {
		case base.Value != 0:
			c.RelDelta = c.Delta / Value(math.Abs(float64(base.Value)))
		case c.Delta == 0:
			c.RelDelta = 0
		default:
			c.RelDelta = Value(math.Inf(int(math.Copysign(1, float64(c.Delta)))))
		}
		c.Significant = base.CILow.Valid() && base.CIHigh.Valid() && c.CILow.Valid() && c.CIHigh.Valid() &&
			(c.CILow > base.CIHigh || c.CIHigh < base.CILow)
	}
	return row
}

// seriesStat is the row's statistic of m and, for a percentile of a
// terminal snapshot, its 95 % confidence interval, in display units.
func seriesStat(m *metrics.Metric, row Row) (v, lo, hi Value) {
	sc := func(f float64) Value { return Value(f * row.scale) }
	lo, hi = report.NA, report.NA
	switch row.Stat {
	case "min":
		return sc(m.Min.Float64()), lo, hi
	case "max":
		return sc(m.Max.Float64()), lo, hi
	case "avg":
		return sc(m.Total.Float64() / float64(m.Count)), lo, hi
	}
	key := metrics.PercentileKey(row.pct)
	for _, p := range m.Percentiles {
		if p.Key != key {
			continue
		}
		if m.Bounds {
			lo, hi = sc(p.Lo), sc(p.Hi)
		}
		return sc(p.Value), lo, hi
	}
	return report.NA, lo, hi
}
