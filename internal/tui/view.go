package tui

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/NimbleMarkets/ntcharts/canvas"
	"github.com/NimbleMarkets/ntcharts/sparkline"
	"github.com/charmbracelet/bubbles/progress"
	"github.com/charmbracelet/lipgloss"

	"github.com/inferbench/inferbench/internal/metrics"
)

// minWidth is the narrowest layout; a smaller terminal wraps lines.
const minWidth = 60

// latenessWarn is the scheduler lateness p99 above which the dashboard warns
// that the load generator, not the server, may be limiting the run.
const latenessWarn = 5 * time.Millisecond

var (
	styleTitle = lipgloss.NewStyle().Bold(true)
	styleDim   = lipgloss.NewStyle().Faint(true)
	styleHead  = lipgloss.NewStyle().Bold(true).Underline(true)
	styleWarn  = lipgloss.NewStyle().Foreground(lipgloss.Color("3"))
	styleBar   = lipgloss.NewStyle().Foreground(lipgloss.Color("4"))
	styleState = map[metrics.State]lipgloss.Style{
		metrics.StateInitialize:  lipgloss.NewStyle().Bold(true),
		metrics.StateLive:        lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("2")),
		metrics.StateDraining:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("3")),
		metrics.StateComplete:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("6")),
		metrics.StateInterrupted: lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("1")),
	}
)

// tableRows are the series of the percentile table, in order; their labels
// come from the metric dictionary.
var tableRows = selectable

// View renders one frame at the model's width and height.
func (m Model) View() string {
	var b strings.Builder
	b.Grow(m.width * m.height)
	w := max(m.width, minWidth)
	m.header(&b, w)
	if !m.have {
		b.WriteString("\n")
		b.WriteString("waiting for the first snapshot…")
		if m.note != "" {
			b.WriteString(" " + m.note)
		}
		b.WriteString("\n\n")
		b.WriteString(styleDim.Render(m.help()))
		b.WriteString("\n")
		return b.String()
	}
	m.progressLine(&b, w)
	m.counts(&b)
	m.rates(&b)
	b.WriteString("\n")
	m.table(&b)
	b.WriteString("\n")
	used := 16 + m.fleet(&b) // lines written so far plus the histogram title, warnings and help
	if m.goodput(&b) {
		used++
	}
	if m.server(&b) {
		used++
	}
	m.histogram(&b, w, max(m.height-used-len(tableRows), 4))
	m.warnings(&b)
	b.WriteString(styleDim.Render(m.help()))
	b.WriteString("\n")
	return b.String()
}

func (m Model) header(b *strings.Builder, w int) {
	left := styleTitle.Render("inferbench")
	if m.opts.Title != "" {
		left += " · " + m.opts.Title
	}
	right := "connecting"
	if m.have {
		st := m.snap.State
		style, ok := styleState[st]
		if !ok {
			style = styleTitle
		}
		elapsed := time.Duration(m.snap.CounterInt(metrics.TotalDuration))
		if elapsed <= 0 {
			elapsed = m.rv.Elapsed // no total duration: what the frames tell
		}
		right = fmt.Sprintf("%s · elapsed %s · frame %d",
			style.Render(strings.ToUpper(string(st))), fmtElapsed(elapsed), m.snap.Counter)
	}
	pad := w - lipgloss.Width(left) - lipgloss.Width(right)
	b.WriteString(left)
	b.WriteString(strings.Repeat(" ", max(pad, 1)))
	b.WriteString(right)
	b.WriteString("\n")
}

func (m Model) progressLine(b *strings.Builder, w int) {
	done := m.snap.CounterInt(metrics.TrackedCompleted)
	dur := m.rv.Elapsed
	var frac float64
	var text string
	switch {
	case m.opts.Target > 0:
		frac = float64(done) / float64(m.opts.Target)
		text = fmt.Sprintf("%d/%d samples", done, m.opts.Target)
		if done > 0 && dur > 0 && done < int64(m.opts.Target) && !m.snap.State.Terminal() {
			eta := time.Duration(float64(int64(m.opts.Target)-done) * float64(dur) / float64(done))
			text += "  ETA " + fmtElapsed(eta)
		}
	case m.opts.Duration > 0:
		frac = float64(dur) / float64(m.opts.Duration)
		text = fmt.Sprintf("%s of %s", fmtElapsed(dur), fmtElapsed(m.opts.Duration))
		if dur < m.opts.Duration && !m.snap.State.Terminal() {
			text += "  ETA " + fmtElapsed(m.opts.Duration-dur)
		}
	default:
		fmt.Fprintf(b, "progress   %d samples completed (no sample or duration target)\n", done)
		return
	}
	frac = math.Max(0, math.Min(1, frac))
	text = fmt.Sprintf(" %5.1f%%  %s", 100*frac, text)
	const prefix = "progress   "
	bar := progress.New(progress.WithWidth(max(w-len(prefix)-lipgloss.Width(text), 10)), progress.WithoutPercentage(),
		progress.WithSolidFill("4"), progress.WithColorProfile(lipgloss.ColorProfile()))
	b.WriteString(prefix + bar.ViewAs(frac) + text + "\n")
}

func (m Model) counts(b *strings.Builder) {
	s := &m.snap
	fmt.Fprintf(b, "samples    issued %d   completed %d   failed %d   in flight %d",
		s.CounterInt(metrics.TrackedIssued), s.CounterInt(metrics.TrackedCompleted),
		s.CounterInt(metrics.TrackedFailed), metrics.InFlight(s))
	// Resends after the server closed a reused connection: shown once
	// there are any, since they hint at a keep-alive mismatch.
	if n := s.CounterInt(metrics.RetriedRequests); n > 0 {
		fmt.Fprintf(b, "   retried %d", n)
	}
	b.WriteByte('\n')
}

// rates draws QPS and TPS: the run's value so far, then a sparkline of the
// per-interval rate over the whole run.
func (m Model) rates(b *strings.Builder) {
	qps, tps := m.rv.QPS, m.rv.TPS
	for _, r := range []struct {
		name string
		v    float64
		sp   sparkView
	}{{metrics.QPSName, qps, m.qpsView}, {metrics.TPSName, tps, m.tpsView}} {
		d, _ := metrics.Lookup(r.name)
		head := fmt.Sprintf("%-4s %10.1f %s", d.Label, r.v, d.Unit)
		sub := fmt.Sprintf("     peak %8.1f", r.sp.peak)
		fmt.Fprintf(b, "%s %s\n", padRight(head, sparkLabelW), r.sp.lines[0])
		fmt.Fprintf(b, "%s %s\n", padRight(styleDim.Render(sub), sparkLabelW), r.sp.lines[1])
	}
}

// goodput draws the goodput line of a run with a goodput rule (the
// snapshot has its counter) and reports whether it did.
func (m Model) goodput(b *strings.Builder) bool {
	s := &m.snap
	rate, goodTPS, ok := metrics.Goodput(s)
	if !ok {
		return false
	}
	if math.IsNaN(rate) {
		rate, goodTPS = 0, 0
	}
	good := s.CounterInt(metrics.TrackedGood)
	share := 0.0
	if c := s.CounterInt(metrics.TrackedCompleted); c > 0 {
		share = 100 * float64(good) / float64(c)
	}
	fmt.Fprintf(b, "Goodput %7.1f req/s  %5.1f%% of completed  %10.1f good tok/s\n", rate, share, goodTPS)
	return true
}

// sparkLabelW is the width of the QPS and TPS labels left of the sparklines.
const sparkLabelW = 26

// sparkView is a drawn sparkline: two lines and the peak they scale to.
type sparkView struct {
	lines [2]string
	peak  float64
}

// redrawSparks draws the QPS and TPS sparklines for the current width. It
// runs in Update (on a snapshot or a resize), not in View: the chart canvas
// allocates a styled cell per position, which would cost a third of a frame.
func (m *Model) redrawSparks() {
	sw := max(max(m.width, minWidth)-sparkLabelW-1, 10)
	m.qpsView = drawSpark(m.qps.columns(sw), sw)
	m.tpsView = drawSpark(m.tps.columns(sw), sw)
}

func drawSpark(cols []float64, w int) sparkView {
	var v sparkView
	for _, x := range cols {
		v.peak = math.Max(v.peak, x)
	}
	lines := strings.SplitN(spark(cols, w, 2, v.peak), "\n", 2)
	copy(v.lines[:], lines)
	return v
}

// spark draws vals as a w×h column sparkline scaled to peak.
func spark(vals []float64, w, h int, peak float64) string {
	if peak <= 0 {
		peak = 1
	}
	sl := sparkline.New(w, h, sparkline.WithMaxValue(peak))
	sl.PushAll(vals)
	sl.DrawColumnsOnly()
	// The canvas's View renders every cell through lipgloss (about half a
	// frame's budget); reading the runes and styling each line once is cheap.
	var b strings.Builder
	line := make([]rune, w)
	for y := range h {
		for x := range w {
			r := sl.Canvas.Cell(canvas.Point{X: x, Y: y}).Rune
			if r == 0 {
				r = ' '
			}
			line[x] = r
		}
		if y > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(styleBar.Render(string(line)))
	}
	return b.String()
}

func (m Model) table(b *strings.Builder) {
	fmt.Fprintf(b, "%s\n", styleHead.Render(fmt.Sprintf("%-16s %9s %10s %10s %10s %10s", "series", "count", "p50", "p90", "p99", "max")))
	for _, name := range tableRows {
		x, ok := m.snap.Find(name)
		if !ok || x.Kind != metrics.KindSeries || (name == metrics.SeriesFailedLatency && x.Count == 0) {
			continue
		}
		f := fmtValue(name)
		p50, _ := x.Percentile("50")
		p90, _ := x.Percentile("90")
		p99, _ := x.Percentile("99")
		mx := x.Max.Float64()
		if x.Count == 0 {
			p50, p90, p99, mx = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		}
		fmt.Fprintf(b, "%-16s %9d %10s %10s %10s %10s\n", metrics.Label(name), x.Count, f(p50), f(p90), f(p99), f(mx))
	}
}

// histogram draws the selected series' buckets as horizontal bars, merging
// neighbours when there are more buckets than rows. Every row is built from
// the buckets' own (lo, hi, count), so frames whose edges moved render right.
func (m Model) histogram(b *strings.Builder, w, rows int) {
	name := m.selectedName()
	x, ok := m.snap.Find(name)
	title := fmt.Sprintf("histogram · %s", metrics.Label(name))
	if !ok || x.Kind != metrics.KindSeries {
		fmt.Fprintf(b, "%s\n  (no series to show)\n", styleHead.Render(title))
		return
	}
	fmt.Fprintf(b, "%s  %s\n", styleHead.Render(title), styleDim.Render(fmt.Sprintf("n=%d · tab/←/→ to switch", x.Count)))
	bk := x.Histogram
	for len(bk) > 0 && bk[0].Count == 0 {
		bk = bk[1:]
	}
	for len(bk) > 0 && bk[len(bk)-1].Count == 0 {
		bk = bk[:len(bk)-1]
	}
	if len(bk) == 0 {
		b.WriteString("  (no values yet)\n")
		return
	}
	per := (len(bk) + rows - 1) / rows
	merged := make([]metrics.Bucket, 0, rows)
	for i := 0; i < len(bk); i += per {
		g := bk[i:min(i+per, len(bk))]
		mb := metrics.Bucket{Lo: g[0].Lo, Hi: g[len(g)-1].Hi}
		for _, c := range g {
			mb.Count += c.Count
		}
		merged = append(merged, mb)
	}
	var peak int64
	for _, c := range merged {
		peak = max(peak, c.Count)
	}
	f := fmtValue(name)
	const labelW = 24
	barW := max(w-labelW-12, 10)
	for i, c := range merged {
		closeBr := ")"
		if i == len(merged)-1 {
			closeBr = "]"
		}
		lbl := fmt.Sprintf("[%9s, %9s%s", f(c.Lo), f(c.Hi), closeBr)
		fmt.Fprintf(b, "%-*s %s %9d\n", labelW, lbl, styleBar.Render(bar(float64(c.Count)/float64(peak), barW)), c.Count)
	}
}

// eighths are the partial block characters, 1/8 to 7/8 wide.
var eighths = []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}

// bar is a horizontal bar frac of w cells long, padded to w.
func bar(frac float64, w int) string {
	n := int(math.Round(math.Max(0, math.Min(1, frac)) * float64(w) * 8))
	full, part := n/8, n%8
	s := strings.Repeat("█", full) + eighths[part]
	cells := full
	if part > 0 {
		cells++
	}
	return s + strings.Repeat(" ", w-cells)
}

func (m Model) warnings(b *strings.Builder) {
	s := &m.snap
	var ws []string
	if m.stale > 0 {
		ws = append(ws, fmt.Sprintf("no snapshot for %s: publisher gone or restarting?", m.stale))
	}
	if s.NPendingTasks > 0 {
		if s.State == metrics.StateComplete {
			ws = append(ws, fmt.Sprintf("incomplete drain: %d token counts never finished", s.NPendingTasks))
		} else {
			ws = append(ws, fmt.Sprintf("%d token counts pending", s.NPendingTasks))
		}
	}
	type class struct {
		name string
		n    int64
	}
	var errs []class
	for i := range s.Metrics {
		x := &s.Metrics[i]
		if x.Kind == metrics.KindCounter && strings.HasPrefix(x.Name, metrics.ErrorCounterPrefix) {
			if n, _ := x.Value.Int64(); n > 0 {
				errs = append(errs, class{strings.TrimPrefix(x.Name, metrics.ErrorCounterPrefix), n})
			}
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b class) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.name, b.name)) })
		parts := make([]string, len(errs))
		for i, e := range errs {
			parts[i] = fmt.Sprintf("%s %d", e.name, e.n)
		}
		ws = append(ws, "errors: "+strings.Join(parts, " · "))
	}
	if x, ok := s.Find(metrics.SeriesLateness); ok && x.Count > 0 {
		if p99, ok := x.Percentile("99"); ok && p99 > float64(latenessWarn) {
			ws = append(ws, fmt.Sprintf("scheduler lateness p99 %s: the load generator may be the bottleneck", fmtNS(p99)))
		}
	}
	for _, w := range ws {
		b.WriteString(styleWarn.Render("! "+w) + "\n")
	}
}

func (m Model) help() string {
	keys := "tab/←/→ series"
	switch {
	case m.final:
		msg := "run " + string(m.snap.State) + ": final snapshot"
		if m.snap.State == metrics.StateComplete && m.snap.NPendingTasks > 0 {
			msg = "run complete with an incomplete drain: final snapshot"
		}
		return msg
	case m.closed:
		return "snapshot stream closed before the run ended"
	case m.quit && m.opts.Embedded:
		return "left the dashboard; the run goes on"
	case m.quit:
		return "detached; the run goes on"
	case m.aborting:
		return "stopping now: finalizing with what was recorded"
	case m.stopping && m.opts.OnAbort != nil:
		return "stopping: no new requests, waiting for in-flight ones · q again to stop now"
	case m.stopping:
		return "stopping: no new requests, waiting for in-flight ones · q again to leave the dashboard"
	case m.opts.Embedded:
		return keys + " · q stop the run"
	}
	return keys + " · q quit"
}

// fmtValue returns the formatter of a series' values: durations for
// nanosecond series, plain numbers (tokens) otherwise.
func fmtValue(name string) func(float64) string {
	if d, _ := metrics.Lookup(name); d.Unit == metrics.UnitNanoseconds {
		return fmtNS
	}
	return fmtCount
}

// fmtNS formats nanoseconds with a unit that keeps 3 significant figures.
func fmtNS(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "–"
	case a < 1e3:
		return fmt.Sprintf("%.0fns", v)
	case a < 1e6:
		return fmt.Sprintf("%.1fµs", v/1e3)
	case a < 1e9:
		return fmt.Sprintf("%.2fms", v/1e6)
	}
	return fmt.Sprintf("%.3fs", v/1e9)
}

func fmtCount(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// fmtElapsed formats a duration to a tenth of a second under a minute and to
// the second above.
func fmtElapsed(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return d.Round(time.Second).String()
}

// padRight pads s with spaces to w terminal cells.
func padRight(s string, w int) string {
	return s + strings.Repeat(" ", max(w-lipgloss.Width(s), 0))
}
