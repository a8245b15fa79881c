package report

import (
	"bufio"
	"fmt"
	"math"
	"strings"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/verdict"
)

// earlyStoppingSeries are the series whose early-stopping estimates the
// report shows, as the Python tool does.
var earlyStoppingSeries = map[string]bool{metrics.SeriesTTFT: true, metrics.SeriesTPOT: true, metrics.SeriesLatency: true}

// LoadNotDelivered starts the warning of a run whose load was not delivered.
const LoadNotDelivered = "load not delivered"

// SetVerdict attaches a run's verdict: the goodput numbers, the SLO table,
// and warnings for an undelivered load and for SLO percentiles with too few
// samples to bound.
func (r *Report) SetVerdict(v *verdict.Result) {
	r.Verdict = v
	if v == nil {
		return
	}
	r.Goodput = v.Goodput
	if l := v.Load; l != nil && !l.Delivered {
		r.Warnings = append(r.Warnings, LoadNotDelivered+": "+strings.Join(l.Reasons, "; "))
	}
	r.Warnings = append(r.Warnings, v.Warnings...)
}

func (r *Report) writeVerdict(w *bufio.Writer) {
	v := r.Verdict
	if g := r.Goodput; g != nil {
		fmt.Fprintf(w, "Goodput (%s): %d of %d completed samples good (%s), %s req/s, %s good tokens/s\n",
			g.Rule, g.Good, g.Completed, pct(g.Ratio.F()), Value(g.PerSecond).text(""), Value(g.GoodTPS).text(""))
	}
	if v == nil {
		return
	}
	if l := v.Load; l != nil {
		state := "delivered"
		if !l.Delivered {
			state = "NOT DELIVERED (" + strings.Join(l.Reasons, "; ") + ")"
		}
		fmt.Fprintf(w, "Load: %s; issue rate %s req/s", state, Value(l.AchievedQPS).text(""))
		if l.TargetQPS > 0 {
			fmt.Fprintf(w, " of %.6g target", l.TargetQPS)
		}
		if l.LatenessP99.Valid() {
			fmt.Fprintf(w, ", scheduler lateness p99 %s", durText(l.LatenessP99.F()))
		}
		fmt.Fprintln(w)
	}
	if len(v.Checks) == 0 {
		return
	}
	fmt.Fprintln(w, "SLOs:")
	for _, c := range v.Checks {
		verdictWord := "FAIL"
		if c.Pass {
			verdictWord = "pass"
		}
		fmt.Fprintf(w, "  %-4s %-24s measured %s, margin %s", verdictWord, c.Expr, sloText(c.Measured.F(), c.Unit), marginText(c))
		if c.PassAtBound != nil {
			at := "holds"
			end := c.CIHigh
			if c.Op == verdict.OpGT || c.Op == verdict.OpGE {
				end = c.CILow
			}
			switch {
			case !end.Valid():
				at = "cannot be judged (too few samples)"
			case !*c.PassAtBound:
				at = "does not hold"
			}
			fmt.Fprintf(w, "; 95%% CI [%s, %s]: %s at the bound", sloText(c.CILow.F(), c.Unit), sloText(c.CIHigh.F(), c.Unit), at)
		}
		if c.Note != "" {
			fmt.Fprintf(w, " (%s)", c.Note)
		}
		fmt.Fprintln(w)
	}
	if v.Pass {
		fmt.Fprintln(w, "Verdict: pass")
	} else {
		fmt.Fprintln(w, "Verdict: FAIL")
	}
}

func pct(f float64) string {
	if math.IsNaN(f) {
		return "N/A"
	}
	return fmt.Sprintf("%.1f%%", 100*f)
}

// durText shows nanoseconds in ms (µs below 0.1 ms).
func durText(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "N/A"
	case math.Abs(ns) < 1e5:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.2f ms", ns/1e6)
}

func sloText(v float64, u verdict.Unit) string {
	switch {
	case math.IsNaN(v):
		return "N/A"
	case u == verdict.UnitNS:
		return durText(v)
	case u == verdict.UnitRatio:
		return pct(v)
	}
	return fmt.Sprintf("%.4g", v)
}

func marginText(c verdict.Check) string {
	if !c.Margin.Valid() {
		return "N/A"
	}
	s := sloText(c.Margin.F(), c.Unit)
	if c.MarginRatio.Valid() {
		s += fmt.Sprintf(" (%+.1f%%)", 100*c.MarginRatio.F())
	}
	return s
}
