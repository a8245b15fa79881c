package metrics

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// The early-stopping figures the Python tool and MLPerf LoadGen publish.
func TestESRank_loadgenFigures(t *testing.T) {
	for _, tc := range []struct {
		t    int64
		p    float64
		want int64
	}{{0, 99, 459}, {0, 90, 44}, {1, 99, 661}} {
		if got := esMinPassing(tc.t, tc.p/100, ESConfidence); got != tc.want {
			t.Errorf("h(t=%d, p%g) = %d, want %d", tc.t, tc.p, got, tc.want)
		}
	}
	for _, tc := range []struct {
		p    float64
		want int64
	}{{50, 11}, {90, 64}, {95, 130}, {99, 662}, {99.9, 6636}} {
		if got := ESMinSamples(tc.p, ESConfidence); got != tc.want {
			t.Errorf("ESMinSamples(p%g) = %d, want %d", tc.p, got, tc.want)
		}
	}
	if r := ESRank(10000, 99, ESConfidence); r != 10000-77 {
		t.Errorf("ESRank(10000, p99) = %d, want %d (77 discarded)", r, 10000-77)
	}
	// By the rule n ≥ h(t) + t with exact binomial sums: h(173) = 1872 at
	// p90 (odds 0.00991 ≤ 0.01, at 1871 0.01010), so 2048 values discard 173.
	if r := ESRank(2048, 90, ESConfidence); r != 2048-173 {
		t.Errorf("ESRank(2048, p90) = %d, want %d (173 discarded)", r, 2048-173)
	}
	if r := ESRank(661, 99, ESConfidence); r != -1 {
		t.Errorf("ESRank(661, p99) = %d, want -1 (below the minimum)", r)
	}
	if r := ESRank(662, 99, ESConfidence); r != 661 {
		t.Errorf("ESRank(662, p99) = %d, want 661", r)
	}
}

func TestCIRanks_known(t *testing.T) {
	// The textbook 95 % interval of the median of 100 values: X(40), X(61)
	// (1-based).
	if lo, hi := CIRanks(100, 50, CIConfidence); lo != 39 || hi != 60 {
		t.Errorf("CIRanks(100, p50) = %d, %d; want 39, 60", lo, hi)
	}
	// p99.9 of 300 values has no upper bound.
	if _, hi := CIRanks(300, 99.9, CIConfidence); hi != -1 {
		t.Errorf("CIRanks(300, p99.9) upper = %d, want -1", hi)
	}
	if lo, _ := CIRanks(300, 0.1, CIConfidence); lo != -1 {
		t.Errorf("CIRanks(300, p0.1) lower = %d, want -1", lo)
	}
	// The binomial CDF against a direct sum.
	n, q := int64(50), 0.3
	sum := 0.0
	for k := int64(0); k < n; k++ {
		lc, _ := math.Lgamma(float64(n + 1))
		lk, _ := math.Lgamma(float64(k + 1))
		lnk, _ := math.Lgamma(float64(n - k + 1))
		sum += math.Exp(lc - lk - lnk + float64(k)*math.Log(q) + float64(n-k)*math.Log(1-q))
		if got := binomCDF(n, q, k); math.Abs(got-sum) > 1e-9 {
			t.Fatalf("binomCDF(%d, %g, %d) = %g, want %g", n, q, k, got, sum)
		}
	}
}

// For a known distribution the 95 % interval covers the true percentile in
// at least 93 % of 1000 seeded trials, for p50, p90 and p99.
func TestCIRanks_coverage(t *testing.T) {
	const trials, n = 1000, 1000
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range []float64{50, 90, 99} {
		truth := -math.Log(1 - p/100) // exponential(1) quantile
		lo, hi := CIRanks(n, p, CIConfidence)
		if lo < 0 || hi < 0 {
			t.Fatalf("p%g of %d values: no interval", p, n)
		}
		covered := 0
		vals := make([]float64, n)
		for range trials {
			for i := range vals {
				vals[i] = rng.ExpFloat64()
			}
			slices.Sort(vals)
			if vals[lo] <= truth && truth <= vals[hi] {
				covered++
			}
		}
		t.Logf("p%g: ranks [%d, %d], coverage %d/%d", p, lo, hi, covered, trials)
		if covered < 930 {
			t.Errorf("p%g: the interval covered the true percentile in %d of %d trials, want ≥ 930", p, covered, trials)
		}
	}
}

// A terminal snapshot carries each percentile's interval and early-stopping
// estimate as the values at their ranks; the JSON form keeps them.
func TestSnapshot_bounds(t *testing.T) {
	reg := NewRegistry()
	s, err := reg.NewSeries("lat_ns", SeriesOpts{EarlyStopping: true})
	if err != nil {
		t.Fatal(err)
	}
	const n = 10000
	for i := n; i >= 1; i-- {
		s.Record(int64(i) * 10)
	}
	live := reg.Snapshot(StateLive, 0, 1)
	if live.Metrics[0].Bounds {
		t.Error("live snapshot has bounds")
	}
	final := reg.Snapshot(StateComplete, 0, 2)
	m := &final.Metrics[0]
	if !m.Bounds {
		t.Fatal("terminal snapshot has no bounds")
	}
	for _, p := range m.Percentiles {
		pct, _ := strconvParse(p.Key)
		lo, hi := CIRanks(n, pct, CIConfidence)
		if want := float64(lo+1) * 10; p.Lo != want {
			t.Errorf("p%s: CI low %v, want %v", p.Key, p.Lo, want)
		}
		if want := float64(hi+1) * 10; p.Hi != want {
			t.Errorf("p%s: CI high %v, want %v", p.Key, p.Hi, want)
		}
		if !(p.Lo <= p.Value && p.Value <= p.Hi) {
			t.Errorf("p%s: %v outside its interval [%v, %v]", p.Key, p.Value, p.Lo, p.Hi)
		}
		if pct < 50 {
			if !math.IsNaN(p.ES) {
				t.Errorf("p%s: early-stopping estimate %v below p50", p.Key, p.ES)
			}
			continue
		}
		if want := float64(ESRank(n, pct, ESConfidence)+1) * 10; pct < 99.9 && p.ES != want {
			t.Errorf("p%s: early-stopping %v, want %v", p.Key, p.ES, want)
		}
	}
	if v, _ := m.Percentile("99.0"); v != 99000 {
		t.Errorf("p99 = %v", v)
	}
	back, err := ParseJSON(final.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	bm := &back.Metrics[0]
	if !bm.Bounds {
		t.Fatal("JSON round trip lost the bounds")
	}
	for i, p := range bm.Percentiles {
		w := m.Percentiles[i]
		same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
		if p.Key != w.Key || !same(p.Lo, w.Lo) || !same(p.Hi, w.Hi) || !same(p.ES, w.ES) {
			t.Errorf("round trip %+v, want %+v", p, w)
		}
	}
}

func strconvParse(k string) (float64, error) { return strconv.ParseFloat(k, 64) }

// BenchmarkBoundRanks is the finalization cost of the bounds of one series
// of a million values: the CI and early-stopping ranks of the whole grid.
func BenchmarkBoundRanks(b *testing.B) {
	s := &Series{count: 1_000_000, percentiles: DefaultPercentiles, es: true}
	for b.Loop() {
		s.boundRanks()
	}
}

// A terminal frame with bounds cut at every length fails to decode without a
// panic, and the whole frame re-encodes to itself.
func TestSnapshot_boundsWireHostile(t *testing.T) {
	reg := NewRegistry()
	s, _ := reg.NewSeries("lat_ns", SeriesOpts{EarlyStopping: true})
	for i := int64(1); i <= 700; i++ {
		s.Record(i)
	}
	snap := reg.Snapshot(StateComplete, 0, 1)
	wire := AppendSnapshot(nil, &snap)
	for n := range len(wire) {
		if _, err := DecodeSnapshot(wire[:n]); err == nil {
			t.Fatalf("a frame cut to %d of %d bytes decoded", n, len(wire))
		}
	}
	got, err := DecodeSnapshot(wire)
	if err != nil || !got.Metrics[0].Bounds {
		t.Fatalf("decode: %v, bounds %v", err, got.Metrics[0].Bounds)
	}
	if again := AppendSnapshot(nil, &got); string(again) != string(wire) {
		t.Error("re-encoding changed the frame")
	}
	if es := got.Metrics[0].Percentiles[1]; es.Key != "99.0" || es.ES != 700 || !(es.Lo <= es.Value) {
		t.Errorf("p99 row %+v: want the early-stopping estimate 700 (700 values, 662 needed)", es)
	}
}
