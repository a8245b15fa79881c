package verdict_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/verdict"
)

func TestParseSLO(t *testing.T) {
	tests := []struct {
		expr   string
		metric string
		stat   string
		op     verdict.Op
		value  float64
		unit   verdict.Unit
	}{
		{"ttft:p99<=200ms", "ttft_ns", "p99", verdict.OpLE, 200e6, verdict.UnitNS},
		{"tpot:p50<=30ms", "tpot_ns", "median", verdict.OpLE, 30e6, verdict.UnitNS},
		{"latency:avg<2s", "sample_latency_ns", "avg", verdict.OpLT, 2e9, verdict.UnitNS},
		{"chunk_gap:p99.9<=100ms", "chunk_delta_ns", "p99.9", verdict.OpLE, 100e6, verdict.UnitNS},
		{"lateness:p99<=1ms", "issue_lateness_ns", "p99", verdict.OpLE, 1e6, verdict.UnitNS},
		{"osl:min>=16", "osl", "min", verdict.OpGE, 16, verdict.UnitTokens},
		{"ttft_ns:max<1s", "ttft_ns", "max", verdict.OpLT, 1e9, verdict.UnitNS},
		{"error_rate<=1%", "error_rate", "", verdict.OpLE, 0.01, verdict.UnitRatio},
		{"error_rate<=0.05", "error_rate", "", verdict.OpLE, 0.05, verdict.UnitRatio},
		{" qps >= 20 ", "qps", "", verdict.OpGE, 20, verdict.UnitPerSec},
		{"tps>5000", "tps", "", verdict.OpGT, 5000, verdict.UnitPerSec},
	}
	for _, tc := range tests {
		s, err := verdict.ParseSLO(tc.expr)
		if err != nil {
			t.Errorf("%q: %v", tc.expr, err)
			continue
		}
		if s.Metric != tc.metric || s.Stat != tc.stat || s.Op != tc.op || math.Abs(s.Value-tc.value) > 1e-9*tc.value || s.Unit != tc.unit {
			t.Errorf("%q parsed as %+v", tc.expr, s.Threshold)
		}
	}
	var s verdict.SLO
	if err := s.UnmarshalText([]byte("ttft:p90<=1s")); err != nil || s.Stat != "p90" || s.String() != "ttft:p90<=1s" {
		t.Errorf("UnmarshalText: %v %+v", err, s)
	}
	for _, bad := range []string{"", "ttft", "ttft:p99", "ttft:p99<=", "ttft:p99<=200", "ttft:p98<=1s", "ttft:q99<=1s",
		"foo:p99<=1s", "ttft<=1s", "qps>=fast", "nope>=1", "error_rate<=x%", "qps>=NaN"} {
		_, err := verdict.ParseSLO(bad)
		if !errors.Is(err, verdict.ErrSLO) || !strings.Contains(err.Error(), `"`+bad+`"`) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want a one-line ErrSLO naming it", bad, err)
		}
	}
}

func TestParseGoodput(t *testing.T) {
	g, err := verdict.ParseGoodput("ttft<=200ms, tpot<=50ms,latency<=5s")
	if err != nil || g.TTFT != 200e6 || g.TPOT != 50e6 || g.Latency != 5e9 {
		t.Fatalf("%+v %v", g, err)
	}
	if !g.Good(100e6, math.NaN(), 1e9) || g.Good(100e6, 60e6, 1e9) || g.Good(300e6, 1, 1) {
		t.Error("Good disagrees with the bounds")
	}
	for _, bad := range []string{"", "ttft<200ms", "ttft<=0s", "ttft<=1s,ttft<=2s", "isl<=3s", "ttft<=fast"} {
		if _, err := verdict.ParseGoodput(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// snapshot builds a terminal snapshot: 1000 successful samples whose TTFT
// is 1..1000 ms, 10 failed, a 10 s run, goodput counters and lateness.
func snapshot(t *testing.T) *metrics.Snapshot {
	t.Helper()
	reg := metrics.NewRegistry()
	counters := map[string]int64{
		"tracked_samples_issued": 1010, "tracked_samples_completed": 1010, "tracked_samples_failed": 10,
		"tracked_duration_ns": 10e9, "tracked_issue_duration_ns": 10e9,
		metrics.TrackedGood: 808, metrics.TrackedGoodTokens: 8080,
	}
	for _, name := range []string{"tracked_samples_issued", "tracked_samples_completed", "tracked_samples_failed",
		"tracked_duration_ns", "tracked_issue_duration_ns", metrics.TrackedGood, metrics.TrackedGoodTokens} {
		c, err := reg.NewCounter(name, false)
		if err != nil {
			t.Fatal(err)
		}
		c.Set(counters[name])
	}
	ttft, _ := reg.NewSeries("ttft_ns", metrics.SeriesOpts{})
	osl, _ := reg.NewSeries("osl", metrics.SeriesOpts{Low: metrics.TokenLow, High: metrics.TokenHigh})
	late, _ := reg.NewSeries("issue_lateness_ns", metrics.SeriesOpts{})
	for i := int64(1); i <= 1000; i++ {
		ttft.Record(i * 1e6)
		osl.Record(10)
		late.Record(i * 2000) // p99 1.98 ms
	}
	s := reg.Snapshot(metrics.StateComplete, 0, 1)
	return &s
}

func TestEvaluate(t *testing.T) {
	s := snapshot(t)
	slos, err := verdict.ParseSLOs([]string{"ttft:p99<=995ms", "ttft:p99<=991ms", "ttft:p50<2s", "ttft:avg<=500ms",
		"qps>=100", "tps>=900", "error_rate<=1%", "goodput>=80", "goodput_ratio>=0.8", "tpot:p50<=1s"})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := verdict.ParseGoodput("ttft<=800ms")
	r := verdict.Evaluate(s, verdict.Spec{SLOs: slos, Goodput: &g, Load: &verdict.LoadCheck{TargetQPS: 110}})
	want := []struct {
		pass, atBound bool
		measured      float64
	}{
		{true, false, 990e6}, // p99 990 ms; its 95 % upper bound is above 995 ms
		{true, false, 990e6},
		{true, true, 500e6},
		{false, false, 500.5e6},
		{true, false, 100},
		{true, false, 1000},
		{true, false, 10.0 / 1010},
		{true, false, 80.8},
		{true, false, 0.8},
		{false, false, math.NaN()}, // no tpot series
	}
	for i, c := range r.Checks {
		w := want[i]
		same := c.Measured.F() == w.measured || math.IsNaN(w.measured) && !c.Measured.Valid() || math.Abs(c.Measured.F()-w.measured) < 1e-9
		if c.Pass != w.pass || !same {
			t.Errorf("%s: pass %v measured %v, want %v %v (%s)", c.Expr, c.Pass, c.Measured, w.pass, w.measured, c.Note)
		}
		if c.PassAtBound != nil && *c.PassAtBound != w.atBound {
			t.Errorf("%s: at the bound %v, want %v (CI %v..%v)", c.Expr, *c.PassAtBound, w.atBound, c.CILow, c.CIHigh)
		}
		if strings.HasPrefix(c.Expr, "ttft:p") && c.PassAtBound == nil {
			t.Errorf("%s: no verdict at the bound", c.Expr)
		}
	}
	if m := r.Checks[0].Margin.F(); math.Abs(m-5e6) > 1 {
		t.Errorf("margin %v, want 5 ms", m)
	}
	if r.Pass {
		t.Error("verdict passed with failed SLOs")
	}
	if r.Goodput == nil || r.Goodput.Good != 808 || math.Abs(r.Goodput.Ratio.F()-0.8) > 1e-12 || r.Goodput.GoodTPS.F() != 808 {
		t.Errorf("goodput %+v", r.Goodput)
	}
	// Issue rate 101 of 110 target (91.8 %) and lateness p99 1.98 ms > 1 ms.
	if l := r.Load; l == nil || l.Delivered || len(l.Reasons) != 2 {
		t.Errorf("load %+v: want not delivered for two reasons", l)
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("JSON form: %v", err)
	}
	if !strings.Contains(string(data), `"stat":"p99"`) || !strings.Contains(string(data), `"measured":null`) {
		t.Errorf("JSON form %s", data)
	}
	// Lenient bounds and a strict load check that passes.
	r = verdict.Evaluate(s, verdict.Spec{Load: &verdict.LoadCheck{TargetQPS: 100, MaxLateness: 5e6, Strict: true}})
	if !r.Pass || !r.Load.Delivered {
		t.Errorf("load %+v, pass %v: want delivered", r.Load, r.Pass)
	}
	r = verdict.Evaluate(s, verdict.Spec{Load: &verdict.LoadCheck{TargetQPS: 200, Strict: true}})
	if r.Pass {
		t.Error("strict load check passed an undelivered load")
	}
}

// TestEvaluate_WorkerLost: a fleet run that lost a worker (with requests
// in flight or none), or whose worker stopped on its own, did not deliver
// its load, whatever the mode (a closed loop has no target rate).
func TestEvaluate_WorkerLost(t *testing.T) {
	for _, tc := range []struct {
		name     string
		counters map[string]int64
		reason   string // "": delivered
	}{
		{"none", nil, ""},
		{"lost with requests in flight", map[string]int64{metrics.OtherErrorCounterPrefix + metrics.ClassWorkerLost: 1, metrics.ErrorCounterPrefix + metrics.ClassWorkerLost: 3},
			"1 fleet worker(s) lost, 3 requests in flight with them (worker_lost)"},
		{"lost with nothing in flight", map[string]int64{metrics.OtherErrorCounterPrefix + metrics.ClassWorkerLost: 2},
			"2 fleet worker(s) lost, 0 requests in flight with them"},
		{"an older snapshot: only the samples", map[string]int64{metrics.ErrorCounterPrefix + metrics.ClassWorkerLost: 3},
			"some fleet worker(s) lost, 3 requests"},
		{"stopped early", map[string]int64{metrics.OtherErrorCounterPrefix + metrics.ClassWorkerStopped: 1},
			"1 fleet worker(s) stopped before their share was issued (worker_stopped)"},
	} {
		reg := metrics.NewRegistry()
		for name, v := range tc.counters {
			c, err := reg.NewCounter(name, false)
			if err != nil {
				t.Fatal(err)
			}
			c.Set(v)
		}
		s := reg.Snapshot(metrics.StateComplete, 0, 1)
		r := verdict.Evaluate(&s, verdict.Spec{Load: &verdict.LoadCheck{Strict: true}})
		delivered := tc.reason == ""
		if r.Load.Delivered != delivered || r.Pass != delivered {
			t.Errorf("%s: delivered %v, pass %v", tc.name, r.Load.Delivered, r.Pass)
		}
		if !delivered && (len(r.Load.Reasons) != 1 || !strings.Contains(r.Load.Reasons[0], tc.reason)) {
			t.Errorf("%s: reasons %q, want one containing %q", tc.name, r.Load.Reasons, tc.reason)
		}
	}
}

// The names the verdict reads are the aggregator's (a test-only import: the
// package itself reads snapshots only).
func TestNamesMatchAggregator(t *testing.T) {
	for _, p := range [][2]string{
		{metrics.TrackedGood, metrics.TrackedGood}, {metrics.TrackedGoodTokens, metrics.TrackedGoodTokens},
		{metrics.TrackedIssueDuration, metrics.TrackedIssueDuration},
		{verdict.SeriesName("ttft"), metrics.SeriesTTFT}, {verdict.SeriesName("tpot"), metrics.SeriesTPOT},
		{verdict.SeriesName("latency"), metrics.SeriesLatency}, {verdict.SeriesName("chunk_gap"), metrics.SeriesChunkDelta},
		{verdict.SeriesName("lateness"), metrics.SeriesLateness}, {verdict.SeriesName("isl"), metrics.SeriesISL},
		{verdict.SeriesName("osl"), metrics.SeriesOSL}, {verdict.SeriesName("failed_latency"), metrics.SeriesFailedLatency},
		{verdict.SeriesName("osl_usage"), metrics.SeriesOSLUsage},
	} {
		if p[0] != p[1] {
			t.Errorf("verdict reads %q, the aggregator writes %q", p[0], p[1])
		}
	}
}
