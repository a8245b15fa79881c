package html

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inferbench/inferbench/internal/compare"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
)

// CDFSeries are the series a run comparison overlays, one chart each.
var CDFSeries = []string{metrics.SeriesTTFT, metrics.SeriesTPOT, metrics.SeriesLatency, metrics.SeriesChunkDelta, metrics.SeriesISL, metrics.SeriesOSL}

// runName is the column name of run i, as compare's text table names it.
func runName(i int) string {
	if i < 26 {
		return string(rune('A' + i))
	}
	return "R" + strconv.Itoa(i+1)
}

// RenderCompare returns the page of a run comparison: the delta table with
// its significance marks and regressions, and each series' CDFs overlaid.
// runs are the compared runs, in the order of res.
func RenderCompare(res *compare.Result, runs []compare.Run) []byte {
	p := newPage("inferbench comparison", strconv.Itoa(len(res.Runs))+" runs against "+labelAt(res.Runs, 0))
	p.section("runs", "Runs", "Every later run is compared with run A, the baseline.")
	var kv [][2]string
	for i, l := range res.Runs {
		f := ""
		if i < len(res.Files) && res.Files[i] != l {
			f = " (" + res.Files[i] + ")"
		}
		kv = append(kv, [2]string{runName(i), l + f})
	}
	p.kv(kv)
	if len(res.Bounds) > 0 {
		if res.Pass {
			p.raw(`<p><span class="verdict pass">NO REGRESSION</span></p>`)
			p.para("", "No run is worse than A beyond "+strings.Join(res.Bounds, ", ")+".")
		} else {
			p.raw(`<p><span class="verdict fail">REGRESSION</span></p>`)
			var ws []string
			for _, g := range res.Regressions {
				ws = append(ws, fmt.Sprintf("%s: %s is %s worse than %s (%s against %s; allowed %s)", g.Bound, g.Run,
					pctText(math.Abs(float64(g.RelDelta))), labelAt(res.Runs, 0), fmtNum(float64(g.Value)), fmtNum(float64(g.Baseline)), pctText(g.Limit)))
			}
			p.warnings(ws)
		}
	}
	p.end()

	p.section("deltas", "Differences",
		"Δ is each run's value minus A's, Δ% relative to A. \"significant\" marks a percentile whose 95% confidence intervals in the two runs do not overlap: "+
			"the change is larger than sampling noise. Red: worse than A; green: better. Rates carry no interval and are never marked.")
	head := []string{"metric", "unit", "A"}
	for i := 1; i < len(res.Runs); i++ {
		n := runName(i)
		head = append(head, n, "Δ "+n, "Δ% "+n, "")
	}
	var rows [][]cell
	for _, row := range res.Rows {
		if len(row.Cells) == 0 {
			continue
		}
		base := row.Cells[0]
		r := []cell{txt(row.Name), txt(row.Unit), ciCell(base)}
		for _, x := range row.Cells[1:] {
			worse := x.Delta.Valid() && ((row.HigherIsWorse && x.Delta > 0) || (!row.HigherIsWorse && x.Delta < 0))
			mark := cls("", "")
			if x.Significant {
				mark = cls("significant", "pass")
				if worse {
					mark.Class = "fail"
				}
			}
			r = append(r, ciCell(x), cn(float64(x.Delta)), cell{Text: relText(x.RelDelta), Class: "num", Sort: sortKey(float64(x.RelDelta))}, mark)
		}
		rows = append(rows, r)
	}
	p.table(head, rows, true)
	p.para("dim", "* "+res.Rule+". Hover a value for its 95% confidence interval.")
	p.end()

	p.section("cdfs", "Distributions overlaid", "The share of requests at or below each value, one curve per run: a curve to the right is slower.")
	var charts []*chart
	reps := make([]*report.Report, len(runs))
	for i := range runs {
		if runs[i].Snap != nil {
			reps[i] = report.Build(runs[i].Snap)
		}
	}
	for _, name := range CDFSeries {
		d, _ := metrics.Lookup(name)
		ch := &chart{Title: d.Title, XLabel: d.Title + " (" + d.DisplayUnit + ")", YLabel: "% at or below", YFrom0: true}
		for i, rep := range reps {
			if rep == nil {
				continue
			}
			for k := range rep.Sections {
				if rep.Sections[k].Name == name {
					all, _ := cdfPoints(&rep.Sections[k])
					ch.Curves = append(ch.Curves, curve{Name: runName(i) + " " + labelAt(res.Runs, i), Pts: all, Color: i, Dash: i > 0 && i%2 == 0})
				}
			}
		}
		if len(ch.Curves) > 0 {
			charts = append(charts, ch)
		}
	}
	if len(charts) == 0 {
		p.para("empty", "No run has samples to plot.")
	}
	p.grid(charts...)
	p.end()
	glossary(p)
	return p.finish(footer(report.Version, "", time.Time{}))
}

func labelAt(ls []string, i int) string {
	if i < len(ls) {
		return ls[i]
	}
	return ""
}

func ciCell(x compare.Cell) cell {
	out := cn(float64(x.Value))
	if x.CILow.Valid() && x.CIHigh.Valid() {
		out.Title = "95% CI [" + fmtNum(float64(x.CILow)) + ", " + fmtNum(float64(x.CIHigh)) + "]"
	}
	return out
}

func relText(v compare.Value) string {
	f := float64(v)
	switch {
	case math.IsInf(f, 1):
		return "+inf%"
	case math.IsInf(f, -1):
		return "-inf%"
	case math.IsNaN(f):
		return "N/A"
	}
	return fmt.Sprintf("%+.1f%%", 100*f)
}

// RenderCompareSweeps returns the page of a sweep comparison: each sweep's
// curves overlaid, and a table of their knees and best throughput.
// labels name the sweeps (the paths given).
func RenderCompareSweeps(sweeps []*Sweep, labels []string) []byte {
	p := newPage("inferbench sweep comparison", strconv.Itoa(len(sweeps))+" sweeps")
	p.section("sweeps", "Sweeps", "Each sweep's knee is chosen by the rule of its own page (the highest load meeting every SLO, else the point of maximum curvature of TTFT p99).")
	var rows [][]cell
	all := make([][]SweepPoint, len(sweeps))
	for i, s := range sweeps {
		all[i] = SortedPoints(s)
		if s.Knee == nil {
			s.Knee = FindKnee(all[i])
		}
		maxQPS := math.NaN()
		for _, pt := range all[i] {
			if finite(pt.QPS.F()) && !(pt.QPS.F() <= maxQPS) {
				maxQPS = pt.QPS.F()
			}
		}
		kt, kq, kttft := math.NaN(), math.NaN(), math.NaN()
		if k := s.Knee; k != nil {
			kp := all[i][k.Index]
			kt, kq, kttft = kp.Target, kp.QPS.F(), kp.TTFTP99.F()
		}
		rows = append(rows, []cell{txt(runName(i)), txt(labelAt(labels, i)), txt(s.Kind), cn(float64(len(s.Points))), cn(maxQPS), cn(kt), cn(kq), cn(kttft)})
	}
	p.table([]string{"", "sweep", "kind", "points", "max QPS", "knee load", "knee QPS", "knee TTFT p99 (ms)"}, rows, true)
	p.end()

	p.section("curves", "Curves overlaid", "One colour per sweep; dots are its points.")
	qps := func(p SweepPoint) float64 { return p.QPS.F() }
	target := func(p SweepPoint) float64 { return p.Target }
	mk := func(title, xl, yl string, x, y func(SweepPoint) float64) *chart {
		ch := &chart{Title: title, XLabel: xl, YLabel: yl, YFrom0: true}
		for i := range sweeps {
			ch.Curves = append(ch.Curves, curve{Name: runName(i) + " " + labelAt(labels, i), Color: i, Markers: true, Pts: pointsOf(all[i], x, y)})
		}
		return ch
	}
	p.grid(
		mk("TTFT p99 against achieved QPS", "achieved requests/s", "TTFT p99 (ms)", qps, func(p SweepPoint) float64 { return p.TTFTP99.F() }),
		mk("TPOT p99 against achieved QPS", "achieved requests/s", "TPOT p99 (ms)", qps, func(p SweepPoint) float64 { return p.TPOTP99.F() }),
		mk("Latency p99 against achieved QPS", "achieved requests/s", "latency p99 (ms)", qps, func(p SweepPoint) float64 { return p.LatencyP99.F() }),
		mk("TTFT p50 against achieved QPS", "achieved requests/s", "TTFT p50 (ms)", qps, func(p SweepPoint) float64 { return p.TTFTP50.F() }),
		mk("Achieved QPS against offered load", "offered load", "achieved requests/s", target, qps),
	)
	if slices.ContainsFunc(sweeps, func(s *Sweep) bool {
		return slices.ContainsFunc(s.Points, func(p SweepPoint) bool { return finite(p.Goodput.F()) })
	}) {
		p.grid(mk("Goodput against offered load", "offered load", "good requests/s", target, func(p SweepPoint) float64 { return p.Goodput.F() }))
	}
	p.end()
	glossary(p)
	return p.finish(footer(report.Version, "", time.Time{}))
}
