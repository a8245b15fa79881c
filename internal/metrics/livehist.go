package metrics

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// liveCounts are a series' HDR bucket counts, kept here rather than in an
// hdrhistogram.Histogram so that a live snapshot reads only the buckets
// between the lowest and the highest one recorded, straight from the array:
// hdrhistogram-go exposes its counts only through Distribution (a Bar per
// bucket from 0 to the highest, allocated on every call: 2.6 ms per
// snapshot of a streamed run) or a full copy. The layout is the library's
// (the same geometry, the same flat index), so that the bucket a value lands
// in and the bucket's lowest value are the ones Distribution reports
// (TestLiveCounts_MatchDistribution), percentiles are its
// ValueAtPercentilesSlice's, and [Series.hdrView] imports the counts as they
// are.
type liveCounts struct {
	counts   []int64
	total    int64
	lo, hi   int   // lowest and highest index recorded; lo > hi when none
	unitMag  uint  // log2 of the lowest discernible value
	halfMag  uint  // log2 of half the sub-bucket count
	mask     int64 // the sub-bucket mask shifted by unitMag
	halfSize int   // half the sub-bucket count
}

// newLiveCounts builds the geometry hdrhistogram.New(low, high, sigFigs)
// has: sub-buckets of single-unit resolution up to 2·10^sigFigs (rounded up
// to a power of two), the unit being the power of two at or below low.
func newLiveCounts(low, high int64, sigFigs int) *liveCounts {
	subMag := int(math.Ceil(math.Log2(2 * math.Pow10(sigFigs))))
	halfMag := max(subMag, 1) - 1
	unitMag := max(int(math.Floor(math.Log2(float64(low)))), 0)
	c := &liveCounts{
		unitMag:  uint(unitMag),
		halfMag:  uint(halfMag),
		mask:     int64(1<<(halfMag+1)-1) << unitMag,
		halfSize: 1 << halfMag,
		lo:       math.MaxInt,
		hi:       -1,
	}
	c.counts = make([]int64, c.index(high)+1)
	return c
}

// index returns the flat bucket index of v ≥ 0.
func (c *liveCounts) index(v int64) int {
	bucket := 64 - bits.LeadingZeros64(uint64(v|c.mask)) - int(c.unitMag) - int(c.halfMag) - 1
	sub := int(v >> (uint(bucket) + c.unitMag))
	return (bucket+1)<<c.halfMag + sub - c.halfSize
}

// from returns the lowest value of the bucket at flat index i.
func (c *liveCounts) from(i int) int64 {
	bucket, sub := 0, i
	if i >= 2*c.halfSize {
		bucket = i>>c.halfMag - 1
		sub = i&(c.halfSize-1) + c.halfSize
	}
	return int64(sub) << (uint(bucket) + c.unitMag)
}

// add counts v, which is within the HDR range (recordHDR clamps it).
func (c *liveCounts) add(v int64) {
	i := c.index(v)
	c.counts[i]++
	c.total++
	if i < c.lo {
		c.lo = i
	}
	if i > c.hi {
		c.hi = i
	}
}

// bucketSize returns the width of the bucket at flat index i.
func (c *liveCounts) bucketSize(i int) int64 {
	bucket := 0
	if i >= 2*c.halfSize {
		bucket = i>>c.halfMag - 1
	}
	return 1 << (uint(bucket) + c.unitMag)
}

// percentiles sets out[k].Value to the value at percentile ps[k] as
// hdrhistogram's ValueAtPercentilesSlice has it: the rank ⌊p/100·n + ½⌋
// clamped into [1, n], the first bucket whose cumulative count reaches it,
// and that bucket's highest value (its lowest for p ≤ 0). One pass over the
// buckets in use serves every percentile.
func (c *liveCounts) percentiles(ps []float64, out []Percentile) {
	if c.total == 0 {
		for k := range out {
			out[k].Value = 0
		}
		return
	}
	targets := make([]int64, len(ps))
	order := make([]int, len(ps))
	for k, p := range ps {
		order[k] = k
		rank := (min(p, 100)/100)*float64(c.total) + 0.5
		switch {
		case !(rank >= 1):
			targets[k] = 1
		case rank >= float64(c.total):
			targets[k] = c.total
		default:
			targets[k] = int64(rank)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(targets[a], targets[b]) })
	next := 0
	var cum int64
	for i := c.lo; i <= c.hi && next < len(order); i++ {
		cum += c.counts[i]
		for next < len(order) && cum >= targets[order[next]] {
			k := order[next]
			v := c.from(i)
			if !(ps[k] <= 0) { // as the library: NaN is not ≤ 0
				v += c.bucketSize(i) - 1
			}
			out[k].Value = float64(v)
			next++
		}
	}
}

// fill adds the counts to the histogram whose buckets have these edges,
// as numpy.histogram of the buckets' lowest values clipped into the edges.
// The buckets are visited in increasing value order, so the histogram
// bucket only moves forward: one pass, no search.
func (c *liveCounts) fill(hist []Bucket, edges []float64) {
	lo, hi := edges[0], edges[len(edges)-1]
	last := len(edges) - 2
	b := 0
	for i := c.lo; i <= c.hi; i++ {
		n := c.counts[i]
		if n == 0 {
			continue
		}
		v := min(max(float64(c.from(i)), lo), hi)
		for b < last && v >= edges[b+1] {
			b++
		}
		hist[b].Count += n
	}
}

// liveCache is a series' last live statistics and the count they are of: a
// series that recorded nothing since gets them again without a recount.
type liveCache struct {
	count int64
	m     Metric
}

// cachedLive returns a copy of the cached live statistics when they are
// still current.
func (s *Series) cachedLive() (Metric, bool) {
	if s.live == nil || s.live.count != s.count {
		return Metric{}, false
	}
	m := s.live.m
	m.Percentiles = slices.Clone(m.Percentiles)
	m.Histogram = slices.Clone(m.Histogram)
	return m, true
}

// cacheLive keeps a copy of m, the live statistics at the current count.
func (s *Series) cacheLive(m Metric) {
	m.Percentiles = slices.Clone(m.Percentiles)
	m.Histogram = slices.Clone(m.Histogram)
	s.live = &liveCache{count: s.count, m: m}
}
