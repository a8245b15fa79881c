package html

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// pt is one point of a curve, in data units.
type pt struct{ X, Y float64 }

// curve is one line of a chart.
type curve struct {
	Name    string
	Pts     []pt
	Color   int  // index into the palette
	Dash    bool // dashed (e.g. p50 under a solid p99)
	Markers bool // a dot on every point (sweep points)
	Step    bool // a step function
	NoLine  bool // markers only
	// Tips label the markers' hover titles (same length as Pts, or nil).
	Tips []string
}

// ref is a reference line across the chart: an SLO threshold (horizontal)
// or the knee (vertical).
type ref struct {
	At    float64
	Label string
	Warn  bool // drawn red (a threshold) rather than grey
}

// bar is one histogram bucket [Lo, Hi) with its count.
type bar struct {
	Lo, Hi float64
	N      int64
}

// chart is an inline SVG chart: curves, histogram bars, reference lines.
type chart struct {
	Title, XLabel, YLabel string
	LogX, LogY            bool
	Curves                []curve
	Bars                  []bar
	HRefs, VRefs          []ref
	// YFrom0 starts the y axis at 0 (rates, counts).
	YFrom0 bool
	// XMin/XMax, when set (XMax > XMin), fix the x range.
	XMin, XMax float64
	// Diagonal draws y = x (achieved against target load).
	Diagonal bool
}

// The chart's geometry, in viewBox units.
const (
	chartW  = 640
	chartH  = 300
	padL    = 64
	padR    = 16
	padT    = 28
	padB    = 44
	plotW   = chartW - padL - padR
	plotH   = chartH - padT - padB
	nPalete = 8
)

// scale maps data to plot coordinates, linear or log10.
type scale struct {
	lo, hi   float64
	log      bool
	from, to float64 // pixel range
}

func (s scale) f(v float64) float64 {
	a, b, x := s.lo, s.hi, v
	if s.log {
		a, b, x = math.Log10(a), math.Log10(b), math.Log10(math.Max(v, s.lo))
	}
	if b == a {
		return (s.from + s.to) / 2
	}
	return s.from + (x-a)/(b-a)*(s.to-s.from)
}

// ok reports whether v can be drawn on the scale.
func (s scale) ok(v float64) bool { return finite(v) && (!s.log || v > 0) }

// ticks returns the axis ticks of the scale.
func (s scale) ticks() []float64 {
	if s.log {
		var t []float64
		lo, hi := math.Floor(math.Log10(s.lo)), math.Ceil(math.Log10(s.hi))
		decades := hi - lo
		for e := lo; e <= hi; e++ {
			for _, m := range []float64{1, 2, 5} {
				if decades > 3 && m != 1 {
					continue
				}
				v := m * math.Pow(10, e)
				if v >= s.lo*(1-1e-9) && v <= s.hi*(1+1e-9) {
					t = append(t, v)
				}
			}
		}
		if len(t) >= 3 {
			return t
		}
		// Within about a decade, plain steps read better.
		var in []float64
		for _, v := range linTicks(s.lo, s.hi) {
			if v >= s.lo && v > 0 {
				in = append(in, v)
			}
		}
		return in
	}
	return linTicks(s.lo, s.hi)
}

// linTicks returns 1-2-5 ticks covering [lo, hi], about five of them.
func linTicks(lo, hi float64) []float64 {
	if !(hi > lo) {
		return []float64{lo}
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var t []float64
	for v := math.Ceil(lo/step-1e-9) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		t = append(t, v)
		if len(t) > 20 {
			break
		}
	}
	return t
}

// niceMax rounds up to a 1-2-5 step, so the top tick closes the axis.
func niceMax(v float64) float64 {
	if !(v > 0) {
		return 1
	}
	t := linTicks(0, v)
	last := t[len(t)-1]
	if last < v {
		last += t[1] - t[0]
	}
	return last
}

// extent is the range of the chart's data on one axis.
func (c *chart) extent(x bool, log bool) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	add := func(v float64) {
		if math.IsNaN(v) || math.IsInf(v, 0) || (log && v <= 0) {
			return
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	for _, cv := range c.Curves {
		for _, p := range cv.Pts {
			if x {
				add(p.X)
			} else {
				add(p.Y)
			}
		}
	}
	for _, b := range c.Bars {
		if x {
			add(b.Lo)
			add(b.Hi)
		} else {
			add(float64(b.N))
		}
	}
	refs := c.HRefs
	if x {
		refs = c.VRefs
	}
	for _, r := range refs {
		add(r.At)
	}
	return lo, hi, lo <= hi
}

// axis builds the scale of one axis.
func (c *chart) axis(x bool) (scale, bool) {
	log := c.LogY
	from, to := float64(padT+plotH), float64(padT)
	if x {
		log, from, to = c.LogX, float64(padL), float64(padL+plotW)
	}
	lo, hi, ok := c.extent(x, log)
	if !ok {
		return scale{}, false
	}
	if x && c.XMax > c.XMin {
		lo, hi = c.XMin, c.XMax
	}
	switch {
	case log:
		if hi == lo {
			lo, hi = lo/2, hi*2
		}
	case c.YFrom0 && !x || (x && c.Diagonal):
		lo = math.Min(lo, 0)
		hi = niceMax(hi)
	default:
		if hi == lo {
			d := math.Max(math.Abs(lo)*0.1, 1)
			lo, hi = lo-d, hi+d
		} else {
			pad := (hi - lo) * 0.04
			lo, hi = lo-pad, hi+pad
		}
	}
	if !x && c.Diagonal {
		lo = math.Min(lo, 0)
		hi = niceMax(hi)
	}
	return scale{lo: lo, hi: hi, log: log, from: from, to: to}, true
}

// palette holds the curve colours; CSS variables keep them in one place.
func color(i int) string { return "var(--c" + strconv.Itoa(((i%nPalete)+nPalete)%nPalete) + ")" }

// render writes the chart as an <svg> element.
// id names the chart's clip path, unique in its page.
func (c *chart) render(b *strings.Builder, id int) {
	b.WriteString(`<figure class="chart"><figcaption>`)
	b.WriteString(esc(c.Title))
	b.WriteString(`</figcaption>`)
	sx, okx := c.axis(true)
	sy, oky := c.axis(false)
	if !okx || !oky {
		b.WriteString(`<p class="empty">no data</p></figure>`)
		return
	}
	b.WriteString(`<svg viewBox="0 0 640 300" role="img" aria-label="`)
	b.WriteString(esc(c.Title))
	b.WriteString(`">`)
	// Grid and axes.
	b.WriteString(`<g class="grid">`)
	for _, t := range sy.ticks() {
		y := sy.f(t)
		if y < padT-0.5 || y > padT+plotH+0.5 {
			continue
		}
		line(b, padL, y, padL+plotW, y, "")
		text(b, padL-6, y+4, "end", fmtNum(t))
	}
	for _, t := range sx.ticks() {
		x := sx.f(t)
		if x < padL-0.5 || x > padL+plotW+0.5 {
			continue
		}
		line(b, x, padT, x, padT+plotH, "")
		text(b, x, padT+plotH+16, "middle", fmtNum(t))
	}
	b.WriteString(`</g><rect class="frame" x="64" y="28" width="560" height="228"/>`)
	text(b, padL+plotW/2, chartH-6, "middle", c.XLabel)
	b.WriteString(`<text class="ylabel" transform="translate(14 `)
	b.WriteString(f1(padT + plotH/2))
	b.WriteString(`) rotate(-90)" text-anchor="middle">`)
	b.WriteString(esc(c.YLabel))
	b.WriteString(`</text>`)
	// Clip everything drawn to the plot area (a fragment reference: the
	// file refers to nothing outside itself).
	cid := "k" + strconv.Itoa(id)
	b.WriteString(`<clipPath id="` + cid + `"><rect x="64" y="28" width="560" height="228"/></clipPath><g clip-path="url(#` + cid + `)">`)
	if c.Diagonal {
		hi := math.Min(sx.hi, sy.hi)
		b.WriteString(`<line class="diag" x1="` + f1(sx.f(0)) + `" y1="` + f1(sy.f(0)) + `" x2="` + f1(sx.f(hi)) + `" y2="` + f1(sy.f(hi)) + `"><title>achieved = target</title></line>`)
	}
	for _, br := range c.Bars {
		x0, x1 := sx.f(br.Lo), sx.f(br.Hi)
		y := sy.f(float64(br.N))
		base := sy.f(math.Max(sy.lo, 0))
		if sy.log {
			base = padT + plotH
		}
		if br.N == 0 || x1-x0 <= 0 {
			continue
		}
		b.WriteString(`<rect class="bar" x="` + f1(x0) + `" y="` + f1(y) + `" width="` + f1(math.Max(x1-x0-0.5, 0.5)) + `" height="` + f1(math.Max(base-y, 0)) + `"><title>`)
		b.WriteString(esc("[" + fmtNum(br.Lo) + ", " + fmtNum(br.Hi) + "): " + strconv.FormatInt(br.N, 10)))
		b.WriteString(`</title></rect>`)
	}
	for _, r := range c.HRefs {
		y := sy.f(r.At)
		cls := "ref"
		if r.Warn {
			cls = "ref warn"
		}
		b.WriteString(`<line class="` + cls + `" x1="64" x2="624" y1="` + f1(y) + `" y2="` + f1(y) + `"/>`)
		text(b, padL+plotW-4, y-4, "end", r.Label)
	}
	for _, r := range c.VRefs {
		x := sx.f(r.At)
		cls := "ref"
		if r.Warn {
			cls = "ref warn"
		}
		b.WriteString(`<line class="` + cls + `" y1="28" y2="256" x1="` + f1(x) + `" x2="` + f1(x) + `"/>`)
		text(b, x+4, padT+12, "start", r.Label)
	}
	for _, cv := range c.Curves {
		if len(cv.Pts) == 0 {
			continue
		}
		if !cv.NoLine {
			c.path(b, cv, sx, sy)
		}
		c.markers(b, cv, sx, sy)
	}
	b.WriteString(`</g></svg>`)
	c.legend(b)
	b.WriteString(`</figure>`)
}

func (c *chart) path(b *strings.Builder, cv curve, sx, sy scale) {
	b.WriteString(`<path class="curve`)
	if cv.Dash {
		b.WriteString(` dash`)
	}
	b.WriteString(`" stroke="` + color(cv.Color) + `" d="`)
	first := true
	for _, p := range cv.Pts {
		if !sx.ok(p.X) || !sy.ok(p.Y) {
			first = true
			continue
		}
		x, y := sx.f(p.X), sy.f(p.Y)
		switch {
		case first:
			b.WriteString("M" + f1(x) + " " + f1(y))
		case cv.Step:
			b.WriteString("H" + f1(x) + "V" + f1(y))
		default:
			b.WriteString("L" + f1(x) + " " + f1(y))
		}
		first = false
	}
	b.WriteString(`"><title>`)
	b.WriteString(esc(cv.Name))
	b.WriteString(`</title></path>`)
}

func (c *chart) markers(b *strings.Builder, cv curve, sx, sy scale) {
	if !cv.Markers {
		return
	}
	for i, p := range cv.Pts {
		if !sx.ok(p.X) || !sy.ok(p.Y) {
			continue
		}
		b.WriteString(`<circle r="3.5" fill="` + color(cv.Color) + `" cx="` + f1(sx.f(p.X)) + `" cy="` + f1(sy.f(p.Y)) + `"><title>`)
		tip := cv.Name + ": " + fmtNum(p.X) + ", " + fmtNum(p.Y)
		if i < len(cv.Tips) && cv.Tips[i] != "" {
			tip = cv.Tips[i]
		}
		b.WriteString(esc(tip))
		b.WriteString(`</title></circle>`)
	}
}

func (c *chart) legend(b *strings.Builder) {
	// The legend is HTML: it wraps, and screen readers read it.
	if len(c.Curves) > 1 || (len(c.Curves) == 1 && c.Curves[0].Name != "") {
		b.WriteString(`<div class="legend">`)
		for _, cv := range c.Curves {
			if len(cv.Pts) == 0 {
				continue
			}
			cls := "sw"
			if cv.Dash {
				cls = "sw dash"
			}
			b.WriteString(`<span><i class="` + cls + `" style="border-color:` + color(cv.Color) + `"></i>` + esc(cv.Name) + `</span>`)
		}
		b.WriteString(`</div>`)
	}
}

func line(b *strings.Builder, x1, y1, x2, y2 float64, cls string) {
	b.WriteString(`<line`)
	if cls != "" {
		b.WriteString(` class="` + cls + `"`)
	}
	b.WriteString(` x1="` + f1(x1) + `" y1="` + f1(y1) + `" x2="` + f1(x2) + `" y2="` + f1(y2) + `"/>`)
}

func text(b *strings.Builder, x, y float64, anchor, s string) {
	b.WriteString(`<text x="` + f1(x) + `" y="` + f1(y) + `" text-anchor="` + anchor + `">`)
	b.WriteString(esc(s))
	b.WriteString(`</text>`)
}

// f1 writes a coordinate with one decimal: enough at this size, and short.
func f1(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// downsample keeps at most n points of a curve sorted by X, choosing in
// each of n−2 equal-count buckets the point that spans the largest triangle
// with the previous kept point and the next bucket's mean (the
// largest-triangle-three-buckets rule), so peaks survive.
func downsample(p []pt, n int) []pt {
	if n < 3 || len(p) <= n {
		return p
	}
	out := make([]pt, 0, n)
	out = append(out, p[0])
	size := float64(len(p)-2) / float64(n-2)
	a := 0
	for i := 0; i < n-2; i++ {
		lo := int(float64(i)*size) + 1
		hi := min(int(float64(i+1)*size)+1, len(p)-1)
		nlo, nhi := hi, min(int(float64(i+2)*size)+1, len(p))
		if i == n-3 {
			nlo, nhi = len(p)-1, len(p)
		}
		var mx, my float64
		cnt := 0
		for _, q := range p[nlo:nhi] {
			if finite(q.Y) {
				mx += q.X
				my += q.Y
				cnt++
			}
		}
		if cnt > 0 {
			mx, my = mx/float64(cnt), my/float64(cnt)
		} else {
			mx, my = p[nhi-1].X, p[a].Y
		}
		best, bestArea := lo, -1.0
		for j := lo; j < hi; j++ {
			q := p[j]
			if !finite(q.Y) {
				continue
			}
			area := math.Abs((p[a].X-mx)*(q.Y-p[a].Y) - (p[a].X-q.X)*(my-p[a].Y))
			if area > bestArea {
				best, bestArea = j, area
			}
		}
		out = append(out, p[best])
		a = best
	}
	return append(out, p[len(p)-1])
}

// sortX sorts points by X in place and returns them (time series come
// sorted: then it only checks).
func sortX(p []pt) []pt {
	byX := func(a, b pt) int {
		switch {
		case a.X < b.X:
			return -1
		case a.X > b.X:
			return 1
		}
		return 0
	}
	if !slices.IsSortedFunc(p, byX) {
		slices.SortStableFunc(p, byX)
	}
	return p
}
