package metrics

import (
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// TestLiveCounts_MatchDistribution checks the mirror against the HDR
// histogram it mirrors, for each geometry the series can have: every
// bucket Distribution reports with a count has that count at the mirror's
// index of its lowest value, the mirror's lowest value of that index is the
// bucket's, and the mirror holds nothing else.
func TestLiveCounts_MatchDistribution(t *testing.T) {
	for _, g := range []struct{ low, high int64 }{
		{1, TimeHigh}, {1, TokenHigh}, {1000, TimeHigh}, {3, 100}, {1 << 20, 1 << 40},
	} {
		for sig := 1; sig <= 5; sig++ {
			t.Run(fmt.Sprintf("low=%d/high=%d/sig=%d", g.low, g.high, sig), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(g.low), uint64(sig)))
				h := hdrhistogram.New(g.low, g.high, sig)
				c := newLiveCounts(g.low, g.high, sig)
				lg0, lg1 := math.Log(float64(g.low)), math.Log(float64(g.high))
				vals := []int64{g.low, g.high, g.high - 1}
				for range 20_000 {
					vals = append(vals, int64(math.Exp(lg0+rng.Float64()*(lg1-lg0))))
				}
				for _, v := range vals {
					v = min(max(v, g.low), g.high)
					if err := h.RecordValue(v); err != nil {
						t.Fatal(err)
					}
					c.add(v)
				}
				seen := 0
				for _, bar := range h.Distribution() {
					if bar.Count == 0 {
						continue
					}
					i := c.index(bar.From)
					if c.counts[i] != bar.Count || c.from(i) != bar.From {
						t.Fatalf("bucket [%d, %d]: mirror index %d holds %d from %d; HDR %d",
							bar.From, bar.To, i, c.counts[i], c.from(i), bar.Count)
					}
					seen++
				}
				nonzero := 0
				for _, n := range c.counts {
					if n != 0 {
						nonzero++
					}
				}
				if nonzero != seen {
					t.Fatalf("mirror has %d non-empty buckets, HDR %d", nonzero, seen)
				}
			})
		}
	}
}

// refLive is the live statistics computed the straightforward way (as
// before the mirror): HDR percentiles, and every HDR bucket from
// Distribution placed by bisection into the log-spaced histogram.
func refLive(s *Series) (pct []float64, hist []int64) {
	pct = make([]float64, len(s.percentiles))
	if s.count == 0 {
		return pct, nil
	}
	for i, v := range s.hdr.ValueAtPercentilesSlice(s.percentiles) {
		pct[i] = float64(v)
	}
	var lo, hi float64
	if s.isFloat {
		lo, hi = s.fMin, s.fMax
	} else {
		lo, hi = float64(s.iMin), float64(s.iMax)
	}
	edges := LogEdges(lo, hi, s.buckets)
	hist = make([]int64, s.buckets)
	for _, bar := range s.hdr.Distribution() {
		if bar.Count == 0 {
			continue
		}
		v := min(max(float64(bar.From), edges[0]), edges[len(edges)-1])
		i, _ := slices.BinarySearchFunc(edges, v, func(e, t float64) int {
			if e <= t {
				return -1
			}
			return 1
		})
		hist[min(max(i-1, 0), len(edges)-2)] += bar.Count
	}
	return pct, hist
}

// TestSnapshot_LiveMatchesReference: on randomized registries (integer and
// float series of various ranges, precisions and bucket counts; values in,
// below and above the HDR range, zero, negative, NaN and ±Inf), every live
// snapshot — taken between rounds of recording, some rounds recording
// nothing into some series (the cached statistics) — has the percentiles and
// histogram of the reference computation. Changing a returned snapshot does not change the next.
func TestSnapshot_LiveMatchesReference(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			r := NewRegistry()
			r.Logger = slog.New(slog.DiscardHandler)
			var series []*Series
			for j := range 1 + rng.IntN(6) {
				o := SeriesOpts{
					Float:   rng.IntN(2) == 0,
					SigFigs: 1 + rng.IntN(4),
					Buckets: 1 + rng.IntN(40),
					ZeroOK:  rng.IntN(3) == 0,
				}
				if rng.IntN(2) == 0 {
					o.Low = 1 + rng.Int64N(1000)
					o.High = o.Low * (2 + rng.Int64N(1_000_000))
				}
				s, err := r.NewSeries(fmt.Sprint("s", j), o)
				if err != nil {
					t.Fatal(err)
				}
				series = append(series, s)
			}
			specials := []float64{0, -5, math.NaN(), math.Inf(1), math.Inf(-1), 1e19, -1e19}
			for round := range 8 {
				for _, s := range series {
					if rng.IntN(3) == 0 {
						continue // idle this round
					}
					for range rng.IntN(3000) {
						switch {
						case rng.IntN(50) == 0:
							v := specials[rng.IntN(len(specials))]
							if s.isFloat {
								s.RecordFloat(v)
							} else if !math.IsNaN(v) && !math.IsInf(v, 0) && math.Abs(v) < 1e18 {
								s.Record(int64(v))
							}
						case s.isFloat:
							s.RecordFloat(math.Exp(rng.Float64() * 30))
						default:
							s.Record(int64(math.Exp(rng.Float64() * 30)))
						}
					}
				}
				snap := r.Snapshot(StateLive, 0, int64(round))
				for i, s := range series {
					m := snap.Metrics[i]
					pct, hist := refLive(s)
					for k, p := range m.Percentiles {
						if p.Value != pct[k] && !(math.IsNaN(p.Value) && math.IsNaN(pct[k])) {
							t.Fatalf("round %d %s p%s = %v, reference %v", round, s.name, p.Key, p.Value, pct[k])
						}
					}
					if len(m.Histogram) != len(hist) {
						t.Fatalf("round %d %s: %d buckets, reference %d", round, s.name, len(m.Histogram), len(hist))
					}
					for k, b := range m.Histogram {
						if b.Count != hist[k] {
							t.Fatalf("round %d %s bucket %d [%v, %v) = %d, reference %d",
								round, s.name, k, b.Lo, b.Hi, b.Count, hist[k])
						}
					}
					if m.Count != s.count {
						t.Fatalf("round %d %s count %d, want %d", round, s.name, m.Count, s.count)
					}
					// A consumer scribbling on the snapshot must not reach
					// the cache.
					for k := range m.Histogram {
						m.Histogram[k].Count = -1
					}
					for k := range m.Percentiles {
						m.Percentiles[k].Value = -1
					}
				}
			}
		})
	}
}
