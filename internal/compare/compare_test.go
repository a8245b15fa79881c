package compare_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/compare"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
)

// writeRun writes a run directory whose final snapshot comes from a real
// registry: n successful requests with a TTFT around ttftMS (±10 %), a
// fixed TPOT and latency, over 10 s.
func writeRun(t *testing.T, ttftMS float64, n int, good ...int64) string {
	t.Helper()
	reg := metrics.NewRegistry()
	counter := func(name string, v int64) {
		c, err := reg.NewCounter(name, false)
		if err != nil {
			t.Fatal(err)
		}
		c.Set(v)
	}
	counter("tracked_samples_issued", int64(n))
	counter("tracked_samples_completed", int64(n))
	counter("tracked_samples_failed", 0)
	counter("tracked_duration_ns", 10e9)
	for _, g := range good {
		counter("tracked_samples_good", g)
	}
	series := func(name string) *metrics.Series {
		d, _ := metrics.Lookup(name)
		s, err := reg.NewSeries(name, d.SeriesOpts())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ttft, lat, osl := series("ttft_ns"), series("sample_latency_ns"), series("osl")
	rng := rand.New(rand.NewPCG(1, 2))
	for range n {
		ttft.Record(int64(ttftMS * 1e6 * (0.9 + 0.2*rng.Float64())))
		lat.Record(int64(200e6 * (0.9 + 0.2*rng.Float64())))
		osl.Record(100)
	}
	snap := reg.Snapshot(metrics.StateComplete, 0, 1)
	dir := t.TempDir()
	if err := os.MkdirAll(rundir.Metrics(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rundir.Final(dir), snap.AppendJSON(nil), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func load(t *testing.T, paths ...string) []compare.Run {
	t.Helper()
	var runs []compare.Run
	for _, p := range paths {
		r, err := compare.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	return runs
}

func row(t *testing.T, res *compare.Result, name string) compare.Row {
	t.Helper()
	for _, r := range res.Rows {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no row %q", name)
	return compare.Row{}
}

func bounds(t *testing.T, exprs ...string) []compare.Bound {
	t.Helper()
	var bs []compare.Bound
	for _, e := range exprs {
		b, err := compare.ParseBound(e)
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	return bs
}

func TestCompareSelfNoSignificantDelta(t *testing.T) {
	a := writeRun(t, 20, 2000)
	res, err := compare.Compare(load(t, a, rundir.Final(a)), bounds(t, "ttft:p50:10%", "qps:5%", "latency:p99:1%"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pass || len(res.Regressions) != 0 {
		t.Fatalf("self comparison failed: %+v", res.Regressions)
	}
	for _, r := range res.Rows {
		c := r.Cells[1]
		if c.Significant {
			t.Errorf("%s: significant delta against itself", r.Name)
		}
		if c.Delta.Valid() && c.Delta != 0 {
			t.Errorf("%s: delta %v against itself", r.Name, c.Delta)
		}
	}
	ttft := row(t, res, "ttft p50").Cells[0]
	if !ttft.CILow.Valid() || !(ttft.CILow <= ttft.Value && ttft.Value <= ttft.CIHigh) {
		t.Fatalf("ttft p50 %v has no sound CI [%v, %v]", ttft.Value, ttft.CILow, ttft.CIHigh)
	}
}

func TestCompareSlowerTTFTFlaggedAndRegresses(t *testing.T) {
	a, b := writeRun(t, 20, 2000), writeRun(t, 24, 2000)
	res, err := compare.Compare(load(t, a, b), bounds(t, "ttft:p50:10%"))
	if err != nil {
		t.Fatal(err)
	}
	c := row(t, res, "ttft p50").Cells[1]
	if !c.Significant {
		t.Fatalf("ttft p50 delta not significant: %+v", c)
	}
	if rel := float64(c.RelDelta); rel < 0.18 || rel > 0.22 {
		t.Fatalf("ttft p50 relative delta %.3f, want ≈ 0.20", rel)
	}
	if s := row(t, res, "latency p50").Cells[1]; s.Significant {
		t.Errorf("latency p50 flagged though both runs draw it alike: %+v", s)
	}
	if res.Pass || len(res.Regressions) != 1 || res.Regressions[0].Run != b {
		t.Fatalf("want one regression of %s, got pass=%v %+v", b, res.Pass, res.Regressions)
	}
	// A 25 % allowance holds; the baseline against a faster run holds too.
	if res, _ := compare.Compare(load(t, a, b), bounds(t, "ttft:p50:25%")); !res.Pass {
		t.Errorf("ttft:p50:25%% broken by a 20%% slowdown")
	}
	if res, _ := compare.Compare(load(t, b, a), bounds(t, "ttft:p50:10%")); !res.Pass {
		t.Errorf("a faster run counted as a regression")
	}
	var text, js bytes.Buffer
	if err := res.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "REGRESSION ttft:p50:10%") || !strings.Contains(text.String(), "*") {
		t.Errorf("text lacks the regression or the significance mark:\n%s", text.String())
	}
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Pass bool `json:"pass"`
		Rows []struct {
			Name string `json:"name"`
			Runs []struct {
				Significant bool `json:"significant"`
			} `json:"runs"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Pass {
		t.Fatalf("JSON: %v pass=%v\n%s", err, back.Pass, js.String())
	}
}

func TestParseBound(t *testing.T) {
	for _, tc := range []struct {
		expr, metric, stat string
		limit              float64
		bad                string
	}{
		{expr: "ttft:p50:10%", metric: "ttft_ns", stat: "p50", limit: 0.1},
		{expr: "itl:p99:5", metric: "chunk_delta_ns", stat: "p99", limit: 0.05},
		{expr: "latency:median:0%", metric: "sample_latency_ns", stat: "p50"},
		{expr: "qps:5%", metric: "qps", limit: 0.05},
		{expr: "bogus:p50:10%", bad: "unknown metric"},
		{expr: "ttft:p42:10%", bad: "not on the snapshot's grid"},
		{expr: "ttft:p50", bad: "RATE:PCT"},
		{expr: "ttft:p50:ten", bad: "percentage"},
		{expr: "ttft:p50:-5%", bad: "percentage"},
		{expr: "ttft", bad: "want METRIC:STAT:PCT"},
	} {
		b, err := compare.ParseBound(tc.expr)
		if tc.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tc.bad) || strings.Contains(err.Error(), "\n") {
				t.Errorf("%s: error %v, want one line with %q", tc.expr, err, tc.bad)
			}
			continue
		}
		if err != nil || b.Metric != tc.metric || b.Stat != tc.stat || b.Limit != tc.limit {
			t.Errorf("%s: %+v %v", tc.expr, b, err)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	if _, err := compare.Load(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("no error for a missing run")
	}
}

func TestCompareGoodputRowOnlyWhenCounted(t *testing.T) {
	plain := writeRun(t, 20, 100)
	res, err := compare.Compare(load(t, plain, plain), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rows {
		if r.Name == "goodput" {
			t.Fatal("goodput row without a goodput counter")
		}
	}
	a, b := writeRun(t, 20, 100, 80), writeRun(t, 20, 100, 60)
	res, err = compare.Compare(load(t, a, b), bounds(t, "goodput:10%"))
	if err != nil {
		t.Fatal(err)
	}
	g := row(t, res, "goodput").Cells
	if g[0].Value != 8 || g[1].Value != 6 || g[1].RelDelta != -0.25 {
		t.Fatalf("goodput cells %+v, want 8/s and 6/s (-25%%)", g)
	}
	if res.Pass || len(res.Regressions) != 1 {
		t.Fatalf("a 25%% lower goodput passed goodput:10%%: %+v", res.Regressions)
	}
}
