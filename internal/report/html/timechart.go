package html

import (
	"math"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/timeseries"
)

// keepPoints bounds the points a decimator holds: a day-long run's time
// series (345 600 lines) is read line by line into at most this many points
// per curve, then downsampled to MaxTimePoints.
const keepPoints = 8 * MaxTimePoints

// decimator keeps a curve of unknown length in bounded memory: raw points
// until it holds keepPoints, then for each group of k consecutive points only
// the lowest and the highest (so peaks and dips survive), k doubling each
// time the points fill up again. Points must arrive in x order.
type decimator struct {
	pts    []pt
	k, n   int // points per group (1: raw), points in the open group
	lo, hi pt
}

func (d *decimator) add(p pt) {
	if !finite(p.X) || !finite(p.Y) {
		return
	}
	if d.k <= 1 {
		d.pts = append(d.pts, p)
		if len(d.pts) > keepPoints {
			d.compress()
		}
		return
	}
	if d.n == 0 {
		d.lo, d.hi = p, p
	} else if p.Y < d.lo.Y {
		d.lo = p
	} else if p.Y > d.hi.Y {
		d.hi = p
	}
	if d.n++; d.n == d.k {
		d.flush()
	}
}

// flush closes the open group.
func (d *decimator) flush() {
	if d.n == 0 {
		return
	}
	a, b := d.lo, d.hi
	if b.X < a.X {
		a, b = b, a
	}
	d.pts = append(d.pts, a)
	if b != a {
		d.pts = append(d.pts, b)
	}
	d.n = 0
	if len(d.pts) > keepPoints {
		d.compress()
	}
}

// compress halves the points: of every four, the lowest and the highest.
func (d *decimator) compress() {
	out := d.pts[:0]
	for i := 0; i < len(d.pts); i += 4 {
		g := d.pts[i:min(i+4, len(d.pts))]
		lo, hi := g[0], g[0]
		for _, q := range g[1:] {
			if q.Y < lo.Y {
				lo = q
			}
			if q.Y > hi.Y {
				hi = q
			}
		}
		if hi.X < lo.X {
			lo, hi = hi, lo
		}
		out = append(out, lo)
		if hi != lo {
			out = append(out, hi)
		}
	}
	d.pts = out
	if d.k <= 1 {
		d.k = 4
	} else {
		d.k *= 2
	}
}

// points returns the curve, downsampled to MaxTimePoints.
func (d *decimator) points() []pt {
	d.flush()
	return downsample(sortX(d.pts), MaxTimePoints)
}

// The curves of the over-time charts.
const (
	cIntervalQPS = iota
	cQPS
	cGoodput
	cIntervalTPS
	cTPS
	cInFlight
	cFailures
	cSeries // then 3 per timeseries.Series entry: p50, p90, p99
)

// timeCurves folds a time series, line by line, into its charts' curves.
type timeCurves struct {
	c          []decimator
	lines      int
	first      bool
	elapsed    bool // the first line had elapsed_s: lines without it are gaps
	t0NS       int64
	prevT      float64
	prevFailed int64
	lastFailed int64
}

func newTimeCurves() *timeCurves {
	return &timeCurves{c: make([]decimator, cSeries+3*len(timeseries.Series)), first: true}
}

func (tc *timeCurves) add(l *timeseries.Line) {
	if tc.first {
		tc.first, tc.elapsed, tc.t0NS = false, l.ElapsedS != nil, l.TNS
		tc.prevT = math.NaN()
	}
	tc.lines++
	t := float64(l.TNS-tc.t0NS) / 1e9
	switch {
	case l.ElapsedS != nil:
		t = *l.ElapsedS
	case tc.elapsed:
		t = math.NaN()
	}
	opt := func(i int, v *float64) {
		if v != nil {
			tc.c[i].add(pt{t, *v})
		}
	}
	opt(cIntervalQPS, l.IntervalQPS)
	opt(cQPS, l.QPS)
	opt(cGoodput, l.Goodput)
	opt(cIntervalTPS, l.IntervalTPS)
	opt(cTPS, l.TPS)
	tc.c[cInFlight].add(pt{t, float64(l.InFlight)})
	if t > tc.prevT {
		tc.c[cFailures].add(pt{t, float64(l.Failed-tc.prevFailed) / (t - tc.prevT)})
	}
	if finite(t) {
		tc.prevT, tc.prevFailed = t, l.Failed
	}
	tc.lastFailed = l.Failed
	for s, sr := range timeseries.Series {
		v, ok := l.P[sr.Short]
		if !ok {
			continue
		}
		d, _ := metrics.Lookup(sr.Name)
		scale := d.DisplayScale
		if scale == 0 {
			scale = 1
		}
		for k := range v {
			if v[k] != nil {
				tc.c[cSeries+3*s+k].add(pt{t, *v[k] * scale})
			}
		}
	}
}

// charts returns the over-time charts.
func (tc *timeCurves) charts(goodput bool) []*chart {
	const x = "seconds since start"
	thr := &chart{Title: "Throughput", XLabel: x, YLabel: "requests/s", YFrom0: true, Curves: []curve{
		{Name: "per interval", Pts: tc.c[cIntervalQPS].points()},
		{Name: "since start", Dash: true, Color: 7, Pts: tc.c[cQPS].points()},
	}}
	if goodput {
		thr.Curves = append(thr.Curves, curve{Name: "goodput since start", Dash: true, Color: 2, Pts: tc.c[cGoodput].points()})
	}
	tps := &chart{Title: "Output token throughput", XLabel: x, YLabel: "tokens/s", YFrom0: true, Curves: []curve{
		{Name: "per interval", Color: 3, Pts: tc.c[cIntervalTPS].points()},
		{Name: "since start", Dash: true, Color: 7, Pts: tc.c[cTPS].points()},
	}}
	inflight := &chart{Title: "Requests in flight", XLabel: x, YLabel: "requests", YFrom0: true,
		Curves: []curve{{Name: "in flight", Color: 5, Pts: tc.c[cInFlight].points()}}}
	charts := []*chart{thr, tps, inflight}
	if tc.lastFailed > 0 {
		charts = append(charts, &chart{Title: "Failures over time", XLabel: x, YLabel: "failed requests/s", YFrom0: true,
			Curves: []curve{{Name: "failed per interval", Color: 1, Pts: tc.c[cFailures].points()}}})
	}
	for s, sr := range timeseries.Series {
		d, _ := metrics.Lookup(sr.Name)
		ch := &chart{Title: d.Title + " over time", XLabel: x, YLabel: d.Label + " (" + d.DisplayUnit + ")", YFrom0: true}
		for k, name := range []string{"p50", "p90", "p99"} {
			if pts := tc.c[cSeries+3*s+k].points(); len(pts) > 0 {
				ch.Curves = append(ch.Curves, curve{Name: name, Pts: pts, Color: []int{0, 4, 1}[k], Dash: k == 0})
			}
		}
		if len(ch.Curves) > 0 {
			charts = append(charts, ch)
		}
	}
	return charts
}
