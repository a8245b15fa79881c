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

// refRecord records v into h as a series records it into its HDR view:
// clamped into [low, high] (0 kept when ZeroOK; a float truncated, NaN
// taken as low).
func refRecord(h *hdrhistogram.Histogram, s *Series, v float64) {
	var iv int64
	switch {
	case !s.isFloat && v == 0 && s.zeroOK:
		iv = 0
	case v >= float64(s.low) && v <= float64(s.high):
		iv = int64(v)
	case v > float64(s.high):
		iv = s.high
	default:
		iv = s.low
	}
	if err := h.RecordValue(iv); err != nil {
		panic(err)
	}
}

// refLive is the live statistics computed the straightforward way (as
// before liveCounts), from h, an hdrhistogram of the series' values: its
// percentiles, and every bucket from its Distribution placed by bisection
// into the log-spaced histogram.
func refLive(s *Series, h *hdrhistogram.Histogram) (pct []float64, hist []int64) {
	pct = make([]float64, len(s.percentiles))
	if s.count == 0 {
		return pct, nil
	}
	for i, v := range h.ValueAtPercentilesSlice(s.percentiles) {
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
	for _, bar := range h.Distribution() {
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
			ref := map[*Series]*hdrhistogram.Histogram{}
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
				ref[s] = hdrhistogram.New(s.low, s.high, s.sigFigs)
			}
			specials := []float64{0, -5, math.NaN(), math.Inf(1), math.Inf(-1), 1e19, -1e19}
			for round := range 8 {
				for _, s := range series {
					if rng.IntN(3) == 0 {
						continue // idle this round
					}
					for range rng.IntN(3000) {
						v := math.Exp(rng.Float64() * 30)
						if rng.IntN(50) == 0 {
							v = specials[rng.IntN(len(specials))]
						}
						switch {
						case s.isFloat:
							s.RecordFloat(v)
						case math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e18:
							continue
						default:
							v = math.Trunc(v)
							s.Record(int64(v))
						}
						refRecord(ref[s], s, v)
					}
				}
				snap := r.Snapshot(StateLive, 0, int64(round))
				for i, s := range series {
					m := snap.Metrics[i]
					pct, hist := refLive(s, ref[s])
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

// TestSnapshot_LiveValueOnAnEdge: a bucket whose lowest value is exactly an
// interior histogram edge belongs to the bucket above the edge (bisect
// right), as in the exact histogram.
func TestSnapshot_LiveValueOnAnEdge(t *testing.T) {
	for n := 2; n <= 40; n++ {
		for hi := int64(10); hi <= 5000; hi++ {
			edges := LogEdges(1, float64(hi), n)
			for b, e := range edges[1 : len(edges)-1] {
				if e != math.Trunc(e) {
					continue
				}
				r := NewRegistry()
				s, err := r.NewSeries("x", SeriesOpts{Buckets: n})
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range []int64{1, int64(e), hi} {
					s.Record(v)
				}
				m := r.Snapshot(StateLive, 0, 1).Metrics[0]
				want := make([]int64, n) // 1 is in the first bucket, hi in the last
				want[0]++
				want[b+1]++
				want[n-1]++
				got := make([]int64, n)
				for k, h := range m.Histogram {
					got[k] = h.Count
				}
				if !slices.Equal(got, want) {
					t.Fatalf("value %v on edge %d of %v: histogram %+v", e, b+1, edges, m.Histogram)
				}
				return
			}
		}
	}
	t.Fatal("no log-spaced edge is an integer: the test needs another search")
}
