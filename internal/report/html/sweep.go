package html

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/verdict"
)

// SweepFile is the name of a sweep directory's table (internal/sweep's
// JSONFile). The page reads the file, not package sweep: sweep drives bench,
// which writes every run's page with this package.
const SweepFile = "sweep.json"

// Number is a number of sweep.json that may be null (NaN).
type Number float64

// UnmarshalJSON reads null as NaN.
func (n *Number) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = Number(math.NaN())
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Number(f)
	return nil
}

// F returns the number.
func (n Number) F() float64 { return float64(n) }

// SweepPoint is one point of sweep.json, as the page reads it.
type SweepPoint struct {
	Index      int     `json:"index"`
	Dir        string  `json:"dir"`
	State      string  `json:"state"`
	Target     float64 `json:"target"`
	Achieved   Number  `json:"achieved"`
	Completed  int64   `json:"n_samples_completed"`
	Failed     int64   `json:"n_samples_failed"`
	ErrorRate  Number  `json:"error_rate"`
	QPS        Number  `json:"qps"`
	TPS        Number  `json:"tps"`
	Goodput    Number  `json:"goodput"`
	TTFTP50    Number  `json:"ttft_p50_ms"`
	TTFTP90    Number  `json:"ttft_p90_ms"`
	TTFTP99    Number  `json:"ttft_p99_ms"`
	TPOTP50    Number  `json:"tpot_p50_ms"`
	TPOTP90    Number  `json:"tpot_p90_ms"`
	TPOTP99    Number  `json:"tpot_p99_ms"`
	LatencyP50 Number  `json:"latency_p50_ms"`
	LatencyP90 Number  `json:"latency_p90_ms"`
	LatencyP99 Number  `json:"latency_p99_ms"`
	SLO        string  `json:"slo"`
	// Phase, Meets and Why are a search's: bracket-sync, bracket-offline
	// or bisect; whether the point met every target ("yes", "no"); why not.
	Phase string `json:"phase"`
	Meets string `json:"meets"`
	Why   string `json:"why"`
}

// bracket reports whether a search point is a bracket run (synchronous or
// offline), whose target load means nothing.
func (p SweepPoint) bracket() bool { return strings.HasPrefix(p.Phase, "bracket") }

// SweepSearch is the outcome of a search sweep (--search), as the page
// reads it.
type SweepSearch struct {
	Precision  float64 `json:"precision"`
	AtBound    bool    `json:"at_confidence_bound"`
	Found      Number  `json:"found_rate"`
	FoundPoint int     `json:"found_point"`
	Low        Number  `json:"bracket_low"`
	High       Number  `json:"bracket_high"`
	Width      Number  `json:"bracket_width"`
	Iterations int     `json:"iterations"`
	Converged  bool    `json:"converged"`
}

// Sweep is a sweep directory's content, as the page reads it.
type Sweep struct {
	Kind          string       `json:"kind"`
	Mode          string       `json:"mode"`
	Requested     []float64    `json:"requested"`
	MaxErrorRate  float64      `json:"max_error_rate"`
	Points        []SweepPoint `json:"points"`
	Stopped       string       `json:"stopped"`
	StoppedDetail string       `json:"stopped_detail"`
	StartedAt     string       `json:"started_at"`
	Search        *SweepSearch `json:"search"`

	// Dir is the sweep directory; SLOs and Goodput are the targets of its
	// points (from the first point's config.yaml).
	Dir     string        `json:"-"`
	SLOs    []verdict.SLO `json:"-"`
	Goodput string        `json:"-"`
	Config  *config.Run   `json:"-"`
	Knee    *Knee         `json:"-"`
}

// IsSweepDir reports whether dir holds a sweep (its sweep.json).
func IsSweepDir(dir string) bool { return fileExists(filepath.Join(dir, SweepFile)) }

// maxSweepFile bounds the size of a sweep.json the page reads.
const maxSweepFile = 64 << 20

// LoadSweep reads a sweep directory: sweep.json, and the targets of its
// first point's config.yaml.
func LoadSweep(dir string) (*Sweep, error) {
	path := filepath.Join(dir, SweepFile)
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", dir, err)
	}
	if st.Size() > maxSweepFile {
		return nil, fmt.Errorf("sweep %s: %s is %d bytes, more than the %d a sweep table can hold", dir, path, st.Size(), maxSweepFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sweep %s: %w", dir, err)
	}
	var s Sweep
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("sweep %s: %s is not a sweep table: %v", dir, path, err)
	}
	s.Dir = dir
	for _, p := range s.Points {
		if p.Dir == "" || strings.Contains(p.Dir, "..") {
			continue
		}
		cfg, err := config.Load(rundir.Config(filepath.Join(dir, filepath.Clean(p.Dir))))
		if err != nil {
			continue
		}
		s.Config = &cfg
		s.Goodput = cfg.Goodput
		for _, e := range cfg.SLO {
			if slo, err := verdict.ParseSLO(e); err == nil {
				s.SLOs = append(s.SLOs, slo)
			}
		}
		break
	}
	return &s, nil
}

// WriteSweepDir writes report.html into a sweep directory from its
// sweep.json.
func WriteSweepDir(dir string) error {
	s, err := LoadSweep(dir)
	if err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, rundir.HTMLFile), RenderSweep(s))
}

// Knee is the point a sweep page marks; see the package doc for the rule.
type Knee struct {
	Index int    // into the points sorted by target load
	Rule  string // how it was chosen, in words
}

// SortedPoints returns the points in order of target load (a search
// visits them out of order); a Knee's Index is into this order.
// A search's points are in order of achieved QPS instead: its bracket runs
// have no target.
func SortedPoints(s *Sweep) []SweepPoint {
	ps := slices.Clone(s.Points)
	key := func(p SweepPoint) float64 { return p.Target }
	if s.Search != nil {
		key = func(p SweepPoint) float64 { return p.QPS.F() }
	}
	slices.SortStableFunc(ps, func(a, b SweepPoint) int {
		switch ka, kb := key(a), key(b); {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	return ps
}

// FindKnee picks the knee of points sorted by target load: with SLO
// verdicts (or a search's "meets"), the point of highest achieved QPS that
// met every target; without,
// the point of maximum curvature of tail latency (TTFT p99, else latency
// p99) against achieved QPS — the point farthest below the chord from the
// first point to the last, both axes scaled to [0, 1]. Nil when no point
// qualifies (no point met the SLOs, or fewer than three points).
func FindKnee(ps []SweepPoint) *Knee {
	judged := false
	best := -1
	for i, p := range ps {
		verdict, pass := p.SLO, p.SLO == "pass"
		if p.Meets != "" {
			verdict, pass = p.Meets, p.Meets == "yes"
		}
		if verdict == "" {
			continue
		}
		judged = true
		if pass && finite(p.QPS.F()) && (best < 0 || p.QPS.F() > ps[best].QPS.F()) {
			best = i
		}
	}
	if judged {
		if best < 0 {
			return nil
		}
		return &Knee{Index: best, Rule: "the highest achieved load that met every SLO"}
	}
	y := func(p SweepPoint) float64 { return p.TTFTP99.F() }
	name := "TTFT p99"
	if !slices.ContainsFunc(ps, func(p SweepPoint) bool { return finite(p.TTFTP99.F()) }) {
		y, name = func(p SweepPoint) float64 { return p.LatencyP99.F() }, "latency p99"
	}
	var pts []pt
	var idx []int
	for i, p := range ps {
		if finite(p.QPS.F()) && finite(y(p)) {
			pts = append(pts, pt{p.QPS.F(), y(p)})
			idx = append(idx, i)
		}
	}
	if len(pts) < 3 {
		return nil
	}
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, q := range pts {
		x0, x1 = math.Min(x0, q.X), math.Max(x1, q.X)
		y0, y1 = math.Min(y0, q.Y), math.Max(y1, q.Y)
	}
	if x1 == x0 || y1 == y0 {
		return nil
	}
	n := func(q pt) pt { return pt{(q.X - x0) / (x1 - x0), (q.Y - y0) / (y1 - y0)} }
	a, b := n(pts[0]), n(pts[len(pts)-1])
	bestD, at := 0.0, -1
	for i := 1; i < len(pts)-1; i++ {
		q := n(pts[i])
		// Signed distance below the chord a→b (a convex rise bends below it).
		d := ((b.X-a.X)*(q.Y-a.Y) - (b.Y-a.Y)*(q.X-a.X)) / math.Hypot(b.X-a.X, b.Y-a.Y)
		if -d > bestD {
			bestD, at = -d, i
		}
	}
	if at < 0 {
		return nil
	}
	return &Knee{Index: idx[at], Rule: "the point of maximum curvature of " + name + " against achieved QPS (no SLOs were given)"}
}

// RenderSweep returns a sweep's page.
func RenderSweep(s *Sweep) []byte {
	ps := SortedPoints(s)
	if s.Knee == nil && s.Search != nil && s.Search.FoundPoint > 0 {
		if i := slices.IndexFunc(ps, func(p SweepPoint) bool { return p.Index == s.Search.FoundPoint }); i >= 0 {
			s.Knee = &Knee{Index: i, Rule: "the rate --search found: the highest meeting every target"}
		}
	}
	if s.Knee == nil {
		s.Knee = FindKnee(ps)
	}
	// The offered-load charts leave out a search's bracket runs.
	offeredPts := slices.DeleteFunc(slices.Clone(ps), SweepPoint.bracket)
	p := newPage("inferbench sweep report", s.Dir)
	offered := "target rate (requests/s)"
	if s.Kind == "concurrency" {
		offered = "concurrency (requests in flight)"
	}
	p.section("sweep", "What was swept", "One benchmark run per load point against the same endpoint and dataset; each point is a normal run directory with its own report.")
	kv := [][2]string{{"Kind", s.Kind + " sweep (" + s.Mode + ")"}}
	if cfg := s.Config; cfg != nil {
		kv = append(kv, [2]string{"Endpoint", cfg.Endpoint.Endpoint}, [2]string{"Model", cfg.Endpoint.Model},
			[2]string{"Dataset", datasetText(cfg.Dataset)})
	}
	var req []string
	for _, r := range s.Requested {
		req = append(req, fmtNum(r))
	}
	if len(req) > 0 {
		kv = append(kv, [2]string{"Requested points", strings.Join(req, ", ") + " (" + offered + ")"})
	}
	if sr := s.Search; sr != nil {
		found := "no rate met every target"
		if finite(sr.Found.F()) {
			found = fmtNum(sr.Found.F()) + " requests/s (point " + strconv.Itoa(sr.FoundPoint) + ")"
		}
		conv := "converged"
		if !sr.Converged {
			conv = "not converged"
		}
		kv = append(kv, [2]string{"Search", fmt.Sprintf("highest rate meeting every target: %s; bracket [%s, %s] requests/s, width %s (precision %s), %d bisection points, %s",
			found, fmtNum(sr.Low.F()), fmtNum(sr.High.F()), pctText(sr.Width.F()), pctText(sr.Precision), sr.Iterations, conv)})
	}
	kv = append(kv, [2]string{"Points run", strconv.Itoa(len(s.Points))},
		[2]string{"Ended", stoppedText(s)}, [2]string{"Started", s.StartedAt})
	if len(s.SLOs) > 0 {
		var e []string
		for _, slo := range s.SLOs {
			e = append(e, slo.Expr)
		}
		kv = append(kv, [2]string{"SLOs", strings.Join(e, ", ")})
	}
	if s.Goodput != "" {
		kv = append(kv, [2]string{"Goodput rule", s.Goodput})
	}
	p.kv(kv)
	kneeText := "No knee: fewer than three points with latencies, or no point met every SLO."
	if k := s.Knee; k != nil {
		kp := ps[k.Index]
		kneeText = fmt.Sprintf("Knee: point %d (%s %s), achieving %s requests/s with TTFT p99 %s ms and TPOT p99 %s ms; chosen as %s.",
			kp.Index, offeredShort(s.Kind), fmtNum(kp.Target), fmtNum(kp.QPS.F()), fmtNum(kp.TTFTP99.F()), fmtNum(kp.TPOTP99.F()), k.Rule)
		if kp.bracket() {
			kneeText = fmt.Sprintf("Knee: point %d (the %s run), achieving %s requests/s with TTFT p99 %s ms and TPOT p99 %s ms; chosen as %s.",
				kp.Index, kp.Phase, fmtNum(kp.QPS.F()), fmtNum(kp.TTFTP99.F()), fmtNum(kp.TPOTP99.F()), k.Rule)
		}
	}
	p.para("", kneeText)
	p.end()

	p.section("curves", "Latency against throughput",
		"Each dot is one point of the sweep (hover for its numbers). Latency rises with load; past the knee it climbs steeply while throughput stops growing. "+
			"Dashed red lines are the SLO thresholds; the grey vertical line marks the knee.")
	if len(ps) == 0 {
		p.para("empty", "The sweep has no finished point.")
	} else {
		kneeQPS, kneeTarget := []ref(nil), []ref(nil)
		if k := s.Knee; k != nil {
			kneeQPS = []ref{{At: ps[k.Index].QPS.F(), Label: "knee"}}
			if !ps[k.Index].bracket() {
				kneeTarget = []ref{{At: ps[k.Index].Target, Label: "knee"}}
			}
		}
		qps := func(p SweepPoint) float64 { return p.QPS.F() }
		lat := func(title, series string, p50, p99 func(SweepPoint) float64) *chart {
			ch := &chart{Title: title + " p50 and p99 against achieved QPS", XLabel: "achieved requests/s", YLabel: title + " (ms)", YFrom0: true, VRefs: kneeQPS,
				Curves: []curve{
					{Name: title + " p50", Dash: true, Markers: true, Pts: pointsOf(ps, qps, p50), Tips: tipsOf(ps, s.Kind)},
					{Name: title + " p99", Color: 1, Markers: true, Pts: pointsOf(ps, qps, p99), Tips: tipsOf(ps, s.Kind)},
				}}
			ch.HRefs = sloRefs(s.SLOs, series, 1e-6)
			// A saturated point (an offline ceiling) can sit orders of
			// magnitude above the rest: a log axis keeps both readable.
			if spread(ch) > 30 {
				ch.LogY, ch.YFrom0 = true, false
				ch.YLabel += ", log scale"
			}
			return ch
		}
		p.grid(
			lat("TTFT", metrics.SeriesTTFT, func(p SweepPoint) float64 { return p.TTFTP50.F() }, func(p SweepPoint) float64 { return p.TTFTP99.F() }),
			lat("TPOT", metrics.SeriesTPOT, func(p SweepPoint) float64 { return p.TPOTP50.F() }, func(p SweepPoint) float64 { return p.TPOTP99.F() }),
			lat("Latency", metrics.SeriesLatency, func(p SweepPoint) float64 { return p.LatencyP50.F() }, func(p SweepPoint) float64 { return p.LatencyP99.F() }),
		)
		target := func(p SweepPoint) float64 { return p.Target }
		good := &chart{Title: "Goodput and throughput against offered load", XLabel: offered, YLabel: "requests/s", YFrom0: true, VRefs: kneeTarget,
			Curves: []curve{{Name: "QPS (successful)", Markers: true, Pts: pointsOf(offeredPts, target, qps), Tips: tipsOf(offeredPts, s.Kind)}}}
		if slices.ContainsFunc(ps, func(p SweepPoint) bool { return finite(p.Goodput.F()) }) {
			good.Curves = append(good.Curves, curve{Name: metrics.GoodputName, Color: 2, Markers: true, Pts: pointsOf(offeredPts, target, func(p SweepPoint) float64 { return p.Goodput.F() }), Tips: tipsOf(offeredPts, s.Kind)})
		} else {
			good.Title = "Throughput against offered load (no goodput rule given)"
		}
		good.HRefs = append(sloRefs(s.SLOs, metrics.GoodputName, 1), sloRefs(s.SLOs, metrics.QPSName, 1)...)
		ach := &chart{Title: "Achieved against target load", XLabel: offered, YLabel: "achieved requests/s", Diagonal: true, VRefs: kneeTarget,
			Curves: []curve{{Name: "achieved", Color: 3, Markers: true, Pts: pointsOf(offeredPts, target, func(p SweepPoint) float64 { return p.Achieved.F() }), Tips: tipsOf(offeredPts, s.Kind)}}}
		if s.Kind == "concurrency" {
			ach.YLabel = "achieved mean in flight (QPS × mean latency)"
		}
		errs := &chart{Title: "Error rate against offered load", XLabel: offered, YLabel: "failed share of completed (%)", YFrom0: true,
			Curves: []curve{{Name: "error rate", Color: 1, Markers: true, Pts: pointsOf(offeredPts, target, func(p SweepPoint) float64 { return 100 * p.ErrorRate.F() })}}}
		if s.MaxErrorRate > 0 {
			errs.HRefs = []ref{{At: 100 * s.MaxErrorRate, Label: "--max-error-rate", Warn: true}}
		}
		p.grid(good, ach, errs)
	}
	p.end()

	p.section("points", "Points", "Latencies in milliseconds. Click a heading to sort.")
	var rows [][]cell
	for i, pt := range ps {
		slo := cls(pt.SLO, "")
		switch pt.SLO {
		case "pass":
			slo.Class = "pass"
		case "fail":
			slo.Class = "fail"
		}
		idx := txt(strconv.Itoa(pt.Index))
		if s.Knee != nil && s.Knee.Index == i {
			idx = cell{Text: strconv.Itoa(pt.Index) + " (knee)", Sort: strconv.Itoa(pt.Index), Class: "pass"}
		}
		target := cn(pt.Target)
		if pt.bracket() {
			target = cls(strings.TrimPrefix(pt.Phase, "bracket-"), "dim")
		}
		row := []cell{idx, target, cn(pt.Achieved.F()), cn(pt.QPS.F()), cn(pt.TPS.F()), cn(pt.Goodput.F()),
			cn(pt.TTFTP50.F()), cn(pt.TTFTP99.F()), cn(pt.TPOTP50.F()), cn(pt.TPOTP99.F()), cn(pt.LatencyP50.F()), cn(pt.LatencyP99.F()),
			cell{Text: pctText(pt.ErrorRate.F()), Class: "num", Sort: sortKey(pt.ErrorRate.F())}, slo}
		if s.Search != nil {
			meets := cell{Text: pt.Meets, Title: pt.Why, Class: "fail"}
			if pt.Meets == "yes" {
				meets.Class = "pass"
			}
			row = append(row, txt(pt.Phase), meets, cls(pt.Why, "dim"))
		}
		rows = append(rows, append(row, txt(pt.State), cell{Text: pt.Dir, Href: pt.Dir + "/" + rundir.HTMLFile}))
	}
	head := []string{"point", "target", "achieved", "QPS", "TPS", metrics.GoodputName, "TTFT p50", "TTFT p99", "TPOT p50", "TPOT p99",
		"latency p50", "latency p99", "errors", "SLO"}
	if s.Search != nil {
		head = append(head, "phase", "meets targets", "why not")
	}
	p.table(append(head, "state", "run directory"), rows, true)
	p.para("dim", "Each point's own report is report.html in its run directory (the links open it).")
	p.end()
	glossary(p)
	return p.finish(footer(report.Version, filepath.Join(s.Dir, SweepFile), time.Time{}))
}

func offeredShort(kind string) string {
	if kind == "concurrency" {
		return "concurrency"
	}
	return "target"
}

func stoppedText(s *Sweep) string {
	t := s.Stopped
	switch s.Stopped {
	case "done":
		t = "every requested point ran"
		if s.Search != nil {
			t = "the search ended"
		}
	case "saturated":
		t = "stopped early: the server was saturated"
	case "error_rate":
		t = "stopped early: the error rate exceeded " + pctText(s.MaxErrorRate)
	case "interrupted":
		t = "interrupted"
	case "no_rate_meets":
		t = "search ended: even the synchronous run missed a target"
	case "max_iterations":
		t = "search ended after its most bisection points, before the bracket was within the precision"
	}
	if s.StoppedDetail != "" {
		t += " (" + s.StoppedDetail + ")"
	}
	return t
}

func pointsOf(ps []SweepPoint, x, y func(SweepPoint) float64) []pt {
	out := make([]pt, len(ps))
	for i, p := range ps {
		out[i] = pt{x(p), y(p)}
	}
	return out
}

func tipsOf(ps []SweepPoint, kind string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = fmt.Sprintf("point %d, %s %s: %s req/s achieved, TTFT p99 %s ms, TPOT p99 %s ms, errors %s",
			p.Index, offeredShort(kind), fmtNum(p.Target), fmtNum(p.QPS.F()), fmtNum(p.TTFTP99.F()), fmtNum(p.TPOTP99.F()), pctText(p.ErrorRate.F()))
	}
	return out
}

// sloRefs are the threshold lines of the SLOs on metric (a series or a
// rate), scaled to the chart's unit.
func sloRefs(slos []verdict.SLO, metric string, scale float64) []ref {
	var out []ref
	for _, s := range slos {
		if s.Metric == metric {
			out = append(out, ref{At: s.Value * scale, Label: "SLO " + s.Expr, Warn: true})
		}
	}
	return out
}

// spread is the ratio of the largest to the smallest positive y of a
// chart's curves (1 without two such values).
func spread(c *chart) float64 {
	lo, hi := math.Inf(1), 0.0
	for _, cv := range c.Curves {
		for _, p := range cv.Pts {
			if finite(p.Y) && p.Y > 0 {
				lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
			}
		}
	}
	if hi == 0 || math.IsInf(lo, 1) {
		return 1
	}
	return hi / lo
}
