package html_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/inferbench/inferbench/internal/atomicfile"
	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/report/html"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/sweep"
	"github.com/inferbench/inferbench/internal/timeseries"
)

// bigRun writes a run directory like one of n samples at 300 requests/s:
// the final snapshot of every series (n values each, chunk gaps 10 per
// request), a time series of one line per 250 ms, and config.yaml from
// testdata/run1 (its SLOs and goodput rule).
func bigRun(b *testing.B, n int) (string, metrics.Snapshot, config.Run) {
	b.Helper()
	dir := b.TempDir()
	if err := os.MkdirAll(rundir.Metrics(dir), 0o755); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(rundir.Config(filepath.Join("testdata", "run1")))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	reg := metrics.NewRegistry()
	durNS := int64(n) * 1e9 / 300
	for name, v := range map[string]int64{metrics.TotalIssued: int64(n), metrics.TotalCompleted: int64(n), metrics.TrackedIssued: int64(n),
		metrics.TrackedCompleted: int64(n), metrics.TrackedFailed: int64(n / 100), metrics.ErrorCounterPrefix + "timeout": int64(n / 100),
		metrics.TrackedDuration: durNS, metrics.TotalDuration: durNS, metrics.TrackedIssueDuration: durNS, metrics.TrackedGood: int64(n * 9 / 10)} {
		c, err := reg.NewCounter(name, false)
		if err != nil {
			b.Fatal(err)
		}
		c.Set(v)
	}
	for _, name := range []string{metrics.SeriesTTFT, metrics.SeriesTPOT, metrics.SeriesChunkDelta, metrics.SeriesLatency,
		metrics.SeriesISL, metrics.SeriesOSL, metrics.SeriesLateness} {
		d, _ := metrics.Lookup(name)
		opts := d.SeriesOpts()
		opts.EarlyStopping = name == metrics.SeriesTTFT || name == metrics.SeriesTPOT || name == metrics.SeriesLatency
		s, err := reg.NewSeries(name, opts)
		if err != nil {
			b.Fatal(err)
		}
		count := n
		if name == metrics.SeriesChunkDelta {
			count = 10 * n
		}
		for range count {
			v := rng.ExpFloat64()
			switch d.Unit {
			case metrics.UnitTokens:
				s.Record(1 + int64(v*200))
			default:
				if opts.Float {
					s.RecordFloat(1e6 + v*4e6)
				} else {
					s.Record(1e6 + int64(v*3e7))
				}
			}
		}
	}
	snap := reg.Snapshot(metrics.StateComplete, 0, durNS)
	data, err := json.Marshal(snap)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(rundir.Final(dir), data, 0o644); err != nil {
		b.Fatal(err)
	}
	live := reg.Snapshot(metrics.StateLive, 0, durNS)
	f, err := os.Create(rundir.Timeseries(dir))
	if err != nil {
		b.Fatal(err)
	}
	var line []byte
	for i := int64(0); i < durNS/250e6; i++ {
		live.TimestampNS = i * 250e6
		line = timeseries.AppendLine(line[:0], &live, &live)
		if _, err := f.Write(line); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return dir, snap, cfg
}

// BenchmarkReport_1MSamples is the report of a run of one million samples
// (ten million chunk gaps, a 55-minute time series), from its final snapshot
// to its files: the text and JSON reports and report.html, written as a
// run's end writes them. Target: under 1 s, report.html under 5 MB.
func BenchmarkReport_1MSamples(b *testing.B) {
	dir, snap, cfg := bigRun(b, 1_000_000)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep := report.Build(&snap)
		rep.Run = bench.ReportRun(&cfg)
		v, err := bench.Verdict(&cfg, &snap)
		if err != nil {
			b.Fatal(err)
		}
		rep.SetVerdict(v)
		if err := rep.WriteFiles(dir); err != nil {
			b.Fatal(err)
		}
		if err := html.WriteRunDir(dir, rep, &cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	st, err := os.Stat(rundir.HTML(dir))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(st.Size()), "html-bytes")
	if st.Size() > 5<<20 {
		b.Fatalf("report.html is %d bytes, more than 5 MB", st.Size())
	}
}

// BenchmarkSweepReport_20Points is the sweep page of 20 points, from
// sweep.json to report.html. Target: under 2 s.
func BenchmarkSweepReport_20Points(b *testing.B) {
	dir := b.TempDir()
	res := sweep.Result{Kind: sweep.KindRate, Mode: "poisson", Stopped: sweep.ReasonDone, MaxErrorRate: 0.05}
	for i := range 20 {
		target := float64(5 * (i + 1))
		qps := min(target, 60)
		lat := 20 + 1000/(1+max(65-target, 0.1))
		res.Requested = append(res.Requested, target)
		res.Points = append(res.Points, sweep.Point{Index: i + 1, Dir: "point-" + strconv.Itoa(i+1), State: "complete", Target: target,
			Achieved: report.Value(qps), QPS: report.Value(qps), TPS: report.Value(qps * 100), Goodput: report.Value(qps * 0.9),
			TTFTP50: report.Value(lat / 2), TTFTP90: report.Value(lat * 0.8), TTFTP99: report.Value(lat), TPOTP50: 5, TPOTP90: 6, TPOTP99: 7,
			LatencyP50: report.Value(lat * 5), LatencyP90: report.Value(lat * 6), LatencyP99: report.Value(lat * 7), SLO: "pass"})
	}
	data, err := json.Marshal(res)
	if err != nil {
		b.Fatal(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, sweep.JSONFile), data, 0o644); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := html.WriteSweepDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}
