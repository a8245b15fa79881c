package html_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/compare"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/report/html"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/sweep"
	"github.com/inferbench/inferbench/internal/timeseries"
)

// loadRun builds a run page's input from a run directory of testdata, as
// the benchmark and `report --html` do.
func loadRun(t testing.TB, dir string) html.Run {
	t.Helper()
	snap, file, err := report.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	rep := report.Build(snap)
	rep.Source = file
	cfg, err := config.Load(rundir.Config(dir))
	if err != nil {
		t.Fatal(err)
	}
	rep.Run = bench.ReportRun(&cfg)
	v, err := bench.Verdict(&cfg, snap)
	if err != nil {
		t.Fatal(err)
	}
	rep.SetVerdict(v)
	return html.Run{Report: rep, Config: &cfg, Dir: dir, TimeseriesFile: rundir.Timeseries(dir)}
}

func mustSelfContained(t *testing.T, page []byte) {
	t.Helper()
	if err := html.CheckSelfContained(page); err != nil {
		t.Fatal(err)
	}
	// The issue's own check, literally.
	if bytes.Contains(page, []byte("http://")) || bytes.Contains(page, []byte("https://")) {
		t.Fatal("the page contains http:// or https://")
	}
}

// TestRenderRun_Content renders a real run (testdata/run1: 400 requests,
// SLOs, a goodput rule, an undelivered load) with a hostile endpoint and
// model, and checks every part of the page is there and the user strings
// are shown as escaped text.
func TestRenderRun_Content(t *testing.T) {
	in := loadRun(t, filepath.Join("testdata", "run1"))
	in.Config.Endpoint.Endpoint = `https://evil.example/x"><script>alert(1)</script><img src=http://a/b>`
	in.Config.Endpoint.Model = "m</title><link href=//x>"
	page := html.RenderRun(in)
	mustSelfContained(t, page)
	s := string(page)
	for _, want := range []string{
		`https&#58;//evil.example/x&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=http&#58;//a/b&gt;`,
		`m&lt;/title&gt;&lt;link href=//x&gt;`,
		`id="run"`, `id="summary"`, `id="slo"`, `id="distributions"`, `id="time"`, `id="errors"`,
		"online, Poisson arrivals at 50 requests/s", "synthetic&#58; 400 prompts", "from the server&#39;s usage report",
		"load not delivered", "ttft&#58;p99&lt;=200ms", "tpot&#58;p50&lt;=4ms", "does not hold", "FAIL",
		"goodput, requests/s", "= 400 succeeded + 0 failed", "95% CI low", "early stopping",
		"Throughput", "Requests in flight", "TTFT over time", "Scheduler lateness",
		"Input sequence lengths", "Output sequence lengths", "Inter-chunk latency",
		html.StatusAttr + `="loading"`, "No request failed.",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if n := strings.Count(s, "<svg"); n < 20 {
		t.Errorf("%d charts, want at least 20 (2 per series, 8 over time)", n)
	}
}

// TestRenderRun_Graceful renders runs that lack pieces: each page still
// renders, stays self-contained and says what is missing.
func TestRenderRun_Graceful(t *testing.T) {
	counters := func(kv ...any) *metrics.Snapshot {
		r := metrics.NewRegistry()
		for i := 0; i < len(kv); i += 2 {
			c, err := r.NewCounter(kv[i].(string), false)
			if err != nil {
				t.Fatal(err)
			}
			c.Set(int64(kv[i+1].(int)))
		}
		s := r.Snapshot(metrics.StateComplete, 0, 1)
		return &s
	}
	full := loadRun(t, filepath.Join("testdata", "run1"))
	cases := []struct {
		name string
		in   html.Run
		want []string
	}{
		{"nil report", html.Run{}, []string{"No samples were recorded", "no time series"}},
		{"zero samples", html.Run{Report: report.Build(counters())}, []string{"No samples were recorded", "No SLOs were given", "N/A"}},
		{"all failed", html.Run{Report: report.Build(counters(metrics.TrackedIssued, 5, metrics.TrackedCompleted, 5, metrics.TrackedFailed, 5,
			metrics.TrackedDuration, 1_000_000_000, metrics.ErrorCounterPrefix+"timeout", 3, metrics.ErrorCounterPrefix+"http_500", 2))},
			[]string{"100%", "= 0 succeeded + 5 failed", ">timeout<", ">http_500<", "60%"}},
		{"no time series", html.Run{Report: full.Report, Config: full.Config, TimeseriesNote: "This run has no time series (gone)."},
			[]string{"This run has no time series (gone).", "TTFT&#58; histogram"}},
		{"time series file missing", html.Run{Report: full.Report, TimeseriesFile: filepath.Join(t.TempDir(), "timeseries.jsonl")},
			[]string{"timeseries.jsonl does not exist"}},
		{"conversations", html.Run{Report: &report.Report{State: "complete", Conversations: &report.Conversations{Started: 10, Completed: 8, Failed: 1, Unfinished: 1,
			TTFTByTurn: []report.TurnLatency{{Turn: "1", Count: 10, P50: 20, P90: 30, P99: 40}, {Turn: "2", Count: 9, P50: 25, P90: 35, P99: 45}, {Turn: "17+", Count: 2, P50: 90, P90: 95, P99: 99}}}}},
			[]string{"TTFT by turn", ">17+<", "cut short by the run&#39;s end", `href="#conversations"`}},
		{"interrupted", html.Run{Report: report.Build(&metrics.Snapshot{State: metrics.StateInterrupted})}, []string{"run was interrupted"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page := html.RenderRun(tc.in)
			mustSelfContained(t, page)
			for _, w := range tc.want {
				if !strings.Contains(string(page), w) {
					t.Errorf("the page lacks %q", w)
				}
			}
		})
	}
}

// TestRenderRun_LongTimeseries: a long time series (20 times more lines
// than a curve may have points), read from its file line by line, is
// downsampled, so the page stays small.
func TestRenderRun_LongTimeseries(t *testing.T) {
	in := loadRun(t, filepath.Join("testdata", "run1"))
	src, _, err := timeseries.Read(in.TimeseriesFile)
	if err != nil {
		t.Fatal(err)
	}
	var long []byte
	for i := 0; i < 20*html.MaxTimePoints; i++ {
		l := src[i%len(src)]
		e := float64(i) / 4
		l.ElapsedS = &e
		l.TNS = int64(i+1) * 250e6
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		long = append(append(long, b...), '\n')
	}
	in.TimeseriesFile = filepath.Join(t.TempDir(), "timeseries.jsonl")
	if err := os.WriteFile(in.TimeseriesFile, long, 0o644); err != nil {
		t.Fatal(err)
	}
	page := html.RenderRun(in)
	mustSelfContained(t, page)
	if len(page) > 2<<20 {
		t.Errorf("page of a long run is %d bytes, want under 2 MiB", len(page))
	}
	if !strings.Contains(string(page), ">5000<") {
		t.Error("the time axis does not reach the run's end (5000 s)")
	}
	// Every over-time curve holds at most MaxTimePoints points.
	for _, d := range strings.Split(string(page), ` d="`)[1:] {
		d = d[:strings.IndexByte(d, '"')]
		if n := strings.Count(d, "L") + 1; n > html.MaxTimePoints {
			t.Fatalf("a curve of %d points, more than %d", n, html.MaxTimePoints)
		}
	}
}

// TestCheckSelfContained proves the check catches each way out of the page.
func TestCheckSelfContained(t *testing.T) {
	good := html.RenderRun(html.Run{})
	if err := html.CheckSelfContained(good); err != nil {
		t.Fatalf("a plain page fails: %v", err)
	}
	for _, bad := range []string{
		`<p>see HTTPS://example.com</p>`,
		`<img src="x.png">`,
		`<script src="app.js"></script>`,
		`<link rel="stylesheet" href="a.css">`,
		`<a href="//example.com/x">x</a>`,
		`<a href="javascript:alert(1)">x</a>`,
		`<a href="&#104;ttp&#58;//x">x</a>`,
		`<div style="background:url(x.png)"></div>`,
		`<style>@import "x.css";</style>`,
		`<svg><use xlink:href="sprite.svg#a"/></svg>`,
		`<iframe></iframe>`,
	} {
		page := bytes.Replace(good, []byte("</main>"), []byte(bad+"</main>"), 1)
		if err := html.CheckSelfContained(page); err == nil {
			t.Errorf("%s passes the check", bad)
		}
	}
	for _, ok := range []string{`<a href="#run">up</a>`, `<a href="point-01/report.html">p</a>`, `<g clip-path="url(#k1)"></g>`, `<p>http&#58;//127.0.0.1</p>`} {
		page := bytes.Replace(good, []byte("</main>"), []byte(ok+"</main>"), 1)
		if err := html.CheckSelfContained(page); err != nil {
			t.Errorf("%s fails the check: %v", ok, err)
		}
	}
}

func pt(target, qps, ttft99 float64, slo string) html.SweepPoint {
	var p html.SweepPoint
	b, _ := json.Marshal(map[string]any{"target": target, "qps": qps, "achieved": qps, "ttft_p99_ms": ttft99, "latency_p99_ms": ttft99 * 3, "slo": slo})
	if err := json.Unmarshal(b, &p); err != nil {
		panic(err)
	}
	return p
}

// TestFindKnee checks both rules: with SLO verdicts the highest passing
// load; without, the bend of the tail-latency curve.
func TestFindKnee(t *testing.T) {
	cases := []struct {
		name string
		ps   []html.SweepPoint
		want int // -1: none
	}{
		{"highest passing", []html.SweepPoint{pt(1, 1, 10, "pass"), pt(2, 2, 11, "pass"), pt(4, 3.9, 30, "pass"), pt(8, 5, 400, "fail")}, 2},
		{"a fail below a pass", []html.SweepPoint{pt(1, 1, 10, "pass"), pt(2, 2, 90, "fail"), pt(4, 3.9, 30, "pass")}, 2},
		{"none passes", []html.SweepPoint{pt(1, 1, 10, "fail"), pt(2, 2, 11, "fail")}, -1},
		{"hockey stick", []html.SweepPoint{pt(1, 1, 10, ""), pt(2, 2, 10.5, ""), pt(4, 4, 11, ""), pt(8, 7.8, 14, ""), pt(16, 9, 200, ""), pt(32, 9.2, 900, "")}, 3},
		{"two points", []html.SweepPoint{pt(1, 1, 10, ""), pt(2, 2, 50, "")}, -1},
		{"flat", []html.SweepPoint{pt(1, 1, 10, ""), pt(2, 2, 10, ""), pt(4, 4, 10, "")}, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := html.FindKnee(tc.ps)
			got := -1
			if k != nil {
				got = k.Index
			}
			if got != tc.want {
				t.Errorf("knee %d, want %d (%+v)", got, tc.want, k)
			}
		})
	}
}

// TestRenderSweep renders a real sweep (testdata/sweep: five rate points,
// an SLO, saturation) and checks its parts.
func TestRenderSweep(t *testing.T) {
	s, err := html.LoadSweep(filepath.Join("testdata", "sweep"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.SLOs) != 1 || s.SLOs[0].Expr != "ttft:p99<=100ms" {
		t.Fatalf("SLOs %+v, want ttft:p99<=100ms from the first point's config.yaml", s.SLOs)
	}
	page := html.RenderSweep(s)
	mustSelfContained(t, page)
	str := string(page)
	for _, want := range []string{"Knee&#58; point 3 (target 100)", "the highest achieved load that met every SLO",
		"SLO ttft&#58;p99&lt;=100ms", "TTFT p50 and p99 against achieved QPS", "TPOT p50 and p99 against achieved QPS",
		"Achieved against target load", "Throughput against offered load", "3 (knee)", "server was saturated", `<a href="point-05-rate-200/report.html">point-05-rate-200</a>`} {
		if !strings.Contains(str, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestRenderSweep_Empty: a sweep interrupted before its first point still
// gets a page that says so.
func TestRenderSweep_Empty(t *testing.T) {
	page := html.RenderSweep(&html.Sweep{Kind: "rate", Stopped: "interrupted", StoppedDetail: "stopped before point 1"})
	mustSelfContained(t, page)
	for _, want := range []string{"The sweep has no finished point.", "No knee", "interrupted (stopped before point 1)"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// TestLoadSweep_ReadsSweepPackageFile holds the page's reading of
// sweep.json to what package sweep writes: every field arrives.
func TestLoadSweep_ReadsSweepPackageFile(t *testing.T) {
	res := sweep.Result{Kind: sweep.KindConcurrency, Mode: "concurrency", Requested: []float64{1, 4}, MaxErrorRate: 0.05, Stopped: sweep.ReasonDone,
		Points: []sweep.Point{{Index: 1, Dir: "point-01", State: "complete", Target: 4, Achieved: 3.5, Completed: 10, Failed: 1, ErrorRate: 0.1,
			QPS: 7, TPS: 70, Goodput: report.NA, TTFTP50: 1, TTFTP90: 2, TTFTP99: 3, TPOTP50: 4, TPOTP90: 5, TPOTP99: 6,
			LatencyP50: 7, LatencyP90: 8, LatencyP99: 9, SLO: "pass"}}}
	dir := t.TempDir()
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sweep.JSONFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if !html.IsSweepDir(dir) {
		t.Fatal("IsSweepDir is false")
	}
	s, err := html.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Points[0]
	got := fmt.Sprint(s.Kind, s.Mode, s.Requested, s.MaxErrorRate, s.Stopped, p.Index, p.Dir, p.State, p.Target, p.Achieved, p.Completed, p.Failed,
		p.ErrorRate, p.QPS, p.TPS, math.IsNaN(p.Goodput.F()), p.TTFTP50, p.TTFTP90, p.TTFTP99, p.TPOTP50, p.TPOTP90, p.TPOTP99,
		p.LatencyP50, p.LatencyP90, p.LatencyP99, p.SLO)
	want := "concurrencyconcurrency[1 4]0.05done1point-01complete43.51010.1770true123456789pass"
	if strings.ReplaceAll(got, " ", "") != strings.ReplaceAll(want, " ", "") {
		t.Errorf("read %s\nwant %s", got, want)
	}
	if err := html.WriteSweepDir(dir); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, rundir.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	mustSelfContained(t, page)
}

// TestRenderSweep_Search renders a --search sweep as package sweep writes
// it: the found rate is the knee, the bracket runs stay off the
// offered-load charts, and the table says which points met the targets.
func TestRenderSweep_Search(t *testing.T) {
	pt := func(i int, phase string, target, qps, ttft float64, meets, why string) sweep.Point {
		return sweep.Point{Index: i, Dir: fmt.Sprintf("point-%02d", i), State: "complete", Target: target, Achieved: report.Value(qps),
			QPS: report.Value(qps), TPS: report.Value(qps * 10), Goodput: report.NA, TTFTP50: report.Value(ttft / 2), TTFTP90: report.Value(ttft),
			TTFTP99: report.Value(ttft), TPOTP50: 5, TPOTP90: 5, TPOTP99: 6, LatencyP50: 50, LatencyP90: 60, LatencyP99: 70,
			SLO: map[string]string{"yes": "pass", "no": "fail"}[meets], Phase: phase, Meets: meets, Why: why}
	}
	res := sweep.Result{Kind: sweep.KindSearch, Mode: "poisson", Requested: []float64{}, MaxErrorRate: 0.05, Stopped: sweep.ReasonDone,
		Points: []sweep.Point{
			pt(1, sweep.PhaseSync, 0, 9, 20, "yes", ""),
			pt(2, sweep.PhaseOffline, 0, 90, 900, "no", "ttft:p99<=100ms failed"),
			pt(3, sweep.PhaseBisect, 49.5, 49, 60, "yes", ""),
			pt(4, sweep.PhaseBisect, 69.75, 68, 300, "no", "ttft:p99<=100ms failed"),
		},
		Search: &sweep.SearchResult{Precision: 0.05, Mode: "poisson", Found: 49.5, FoundPoint: 3, Low: 49.5, High: 69.75, Width: 0.41, Iterations: 2}}
	dir := t.TempDir()
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, sweep.JSONFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := html.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	page := html.RenderSweep(s)
	mustSelfContained(t, page)
	str := string(page)
	for _, want := range []string{"Knee&#58; point 3 (target 49.5)", "the rate --search found", "highest rate meeting every target&#58; 49.5 requests/s (point 3)",
		"not converged", ">meets targets<", ">sync<", ">offline<", "ttft&#58;p99&lt;=100ms failed"} {
		if !strings.Contains(str, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// The offered-load charts hold the two bisection points only.
	i := strings.Index(str, "Goodput and throughput against offered load")
	if i < 0 {
		i = strings.Index(str, "Throughput against offered load")
	}
	j := strings.Index(str[i:], "</figure>")
	if n := strings.Count(str[i:i+j], "<circle"); n != 2 {
		t.Errorf("%d points on the offered-load chart, want the 2 bisection points", n)
	}
}

// TestRenderCompare compares two real runs whose TTFT differs by ~19%.
func TestRenderCompare(t *testing.T) {
	var runs []compare.Run
	for _, d := range []string{"run1", "run2"} {
		r, err := compare.Load(filepath.Join("testdata", d))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	b, err := compare.ParseBound("ttft:p50:10%")
	if err != nil {
		t.Fatal(err)
	}
	res, err := compare.Compare(runs, []compare.Bound{b})
	if err != nil {
		t.Fatal(err)
	}
	page := html.RenderCompare(res, runs)
	mustSelfContained(t, page)
	s := string(page)
	for _, want := range []string{"REGRESSION", "ttft&#58;p50&#58;10%", `class="fail">significant`, "ttft p99", "Distributions overlaid", "A testdata/run1", "B testdata/run2"} {
		if !strings.Contains(s, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if n := strings.Count(s, "<svg"); n != len(html.CDFSeries) {
		t.Errorf("%d CDF charts, want %d", n, len(html.CDFSeries))
	}
	// A run against itself: nothing significant.
	same, err := compare.Compare([]compare.Run{runs[0], runs[0]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(html.RenderCompare(same, []compare.Run{runs[0], runs[0]})); strings.Contains(s, ">significant<") {
		t.Error("a run against itself shows a significant delta")
	}
}

// TestRenderCompareSweeps overlays a sweep with itself.
func TestRenderCompareSweeps(t *testing.T) {
	var ss []*html.Sweep
	for range 2 {
		s, err := html.LoadSweep(filepath.Join("testdata", "sweep"))
		if err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	page := html.RenderCompareSweeps(ss, []string{"a", "b"})
	mustSelfContained(t, page)
	for _, want := range []string{"TTFT p99 against achieved QPS", "A a", "B b", "knee QPS"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}
