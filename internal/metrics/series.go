package metrics

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// SeriesOpts configures a series. The zero value is an integer series over the
// nanosecond range with the default grid, precision and bucket count.
type SeriesOpts struct {
	Float bool // float64 values (e.g. TPOT); otherwise int64
	// Low and High bound the HDR view; values outside are clamped into it for
	// that view only (rollups and raw values keep them). Low 0 means 1; High 0
	// means TimeHigh. High must be at least 2×Low.
	Low, High   int64
	SigFigs     int       // HDR significant figures, 1..5; 0 means DefaultSigFigs
	Buckets     int       // histogram buckets; 0 means DefaultBuckets
	Percentiles []float64 // must contain 50; nil means DefaultPercentiles
	// EarlyStopping computes MLPerf's early-stopping estimates of the
	// percentiles ≥ 50 in the terminal snapshot (tail-latency series).
	EarlyStopping bool
	// ZeroOK records 0 in the HDR view as it is, without the clamp warning,
	// for an integer series where 0 is an ordinary value (queue_wait_ns: no
	// wait).
	ZeroOK bool
}

// Series records values into exact rollups, an HDR histogram and a raw list.
// It is not safe for concurrent use.
type Series struct {
	name    string
	isFloat bool
	count   int64

	iTotal     int128
	iSumSq     uint128
	iMin, iMax int64
	iRaw       chunked[int64]

	fTotal, fSumSq float64
	fMin, fMax     float64
	fRaw           chunked[float64]

	sorted bool // raw values are sorted (set by an exact stat, cleared by Record)

	// Spilling (nil when raw values stay in memory): full chunks go to the
	// registry's writer; see spill.go.
	sp      *seriesSpill
	spillTo *spiller
	src     keySource // set by RecomputeRaw: the raw values are in a file

	// counts is the HDR histogram of the values (clamped into [low, high]):
	// hdrhistogram-go's layout, kept here so that a live snapshot reads only
	// the buckets in use (livehist.go); hdrView builds the library's view.
	counts      *liveCounts
	sigFigs     int
	live        *liveCache // the last live statistics (nil: none yet)
	low, high   int64
	zeroOK      bool
	clampWarned bool
	reg         *Registry

	percentiles []float64
	keys        []string
	buckets     int
	es          bool
}

func newSeries(name string, o SeriesOpts, reg *Registry) (*Series, error) {
	if o.Low <= 0 {
		o.Low = 1
	}
	if o.High == 0 {
		o.High = TimeHigh
	}
	if o.High < 2*o.Low {
		return nil, fmt.Errorf("metrics: series %q: HDR high (%d) must be >= 2 * low (%d)", name, o.High, o.Low)
	}
	if o.SigFigs == 0 {
		o.SigFigs = DefaultSigFigs
	}
	if o.SigFigs < 1 || o.SigFigs > 5 {
		return nil, fmt.Errorf("metrics: series %q: HDR significant figures %d not in 1..5", name, o.SigFigs)
	}
	if o.Buckets == 0 {
		o.Buckets = DefaultBuckets
	}
	if o.Buckets < 1 {
		return nil, fmt.Errorf("metrics: series %q: bucket count %d must be positive", name, o.Buckets)
	}
	if o.Percentiles == nil {
		o.Percentiles = DefaultPercentiles
	}
	if !slices.Contains(o.Percentiles, 50) {
		return nil, fmt.Errorf("metrics: series %q: percentile grid %v must contain 50", name, o.Percentiles)
	}
	keys := make([]string, len(o.Percentiles))
	for i, p := range o.Percentiles {
		if p < 0 || p > 100 {
			return nil, fmt.Errorf("metrics: series %q: percentile %v not in 0..100", name, p)
		}
		keys[i] = PercentileKey(p)
	}
	return &Series{
		name:        name,
		isFloat:     o.Float,
		counts:      newLiveCounts(o.Low, o.High, o.SigFigs),
		sigFigs:     o.SigFigs,
		low:         o.Low,
		high:        o.High,
		zeroOK:      o.ZeroOK && !o.Float,
		reg:         reg,
		percentiles: slices.Clone(o.Percentiles),
		keys:        keys,
		buckets:     o.Buckets,
		es:          o.EarlyStopping,
		sorted:      true,
	}, nil
}

// PercentileKey formats a grid entry as the wire key: Python's str(float),
// e.g. 99.9 → "99.9", 50 → "50.0".
func PercentileKey(p float64) string {
	s := strconv.FormatFloat(p, 'f', -1, 64)
	if p == math.Trunc(p) {
		s += ".0"
	}
	return s
}

// Name returns the series name.
func (s *Series) Name() string { return s.name }

// Count returns the number of recorded values.
func (s *Series) Count() int64 { return s.count }

// Record adds v (a float series records float64(v)).
func (s *Series) Record(v int64) {
	if s.isFloat {
		s.RecordFloat(float64(v))
		return
	}
	if s.count == 0 || v < s.iMin {
		s.iMin = v
	}
	if s.count == 0 || v > s.iMax {
		s.iMax = v
	}
	s.count++
	s.iTotal.add(v)
	s.iSumSq.addSquare(v)
	s.iRaw.add(v)
	s.sorted = false
	s.recordHDR(v, (v < s.low && !(v == 0 && s.zeroOK)) || v > s.high, float64(v))
}

// RecordFloat adds v (an integer series records v truncated toward zero).
func (s *Series) RecordFloat(v float64) {
	if !s.isFloat {
		s.Record(int64(v))
		return
	}
	if s.count == 0 || v < s.fMin {
		s.fMin = v
	}
	if s.count == 0 || v > s.fMax {
		s.fMax = v
	}
	s.count++
	s.fTotal += v
	s.fSumSq += v * v
	s.fRaw.add(v)
	s.sorted = false
	// Clamp before converting: int64(v) of ±Inf or |v| ≥ 2⁶³ is not
	// defined, and the exact selection relies on out-of-range values landing
	// in the HDR's end buckets.
	switch {
	case v >= float64(s.low) && v <= float64(s.high):
		s.recordHDR(int64(v), false, v)
	case v > float64(s.high):
		s.recordHDR(s.high, true, v)
	default: // below low, or NaN
		s.recordHDR(s.low, true, v)
	}
}

// recordFloatHDR is RecordFloat's HDR step alone (RecordFloat keeps its own
// copy inline: it is the hot path).
func (s *Series) recordFloatHDR(v float64) {
	// Clamp before converting: int64(v) of ±Inf or |v| ≥ 2⁶³ is not
	// defined, and the exact selection relies on out-of-range values landing
	// in the HDR's end buckets.
	switch {
	case v >= float64(s.low) && v <= float64(s.high):
		s.recordHDR(int64(v), false, v)
	case v > float64(s.high):
		s.recordHDR(s.high, true, v)
	default: // below low, or NaN
		s.recordHDR(s.low, true, v)
	}
}

func (s *Series) recordHDR(iv int64, out bool, orig float64) {
	if out {
		if !s.clampWarned {
			s.clampWarned = true
			s.reg.logger().Warn("value outside the HDR range clamped for live percentiles (exact values are kept)",
				"series", s.name, "value", orig, "low", s.low, "high", s.high)
		}
		iv = min(max(iv, s.low), s.high)
	}
	s.counts.add(iv)
}

// hdrView returns an HDR histogram of the values recorded so far (a copy).
func (s *Series) hdrView() *hdrhistogram.Histogram {
	return hdrhistogram.Import(&hdrhistogram.Snapshot{
		LowestTrackableValue:  s.low,
		HighestTrackableValue: s.high,
		SignificantFigures:    int64(s.sigFigs),
		Counts:                s.counts.counts,
	})
}

// Clamped reports whether a value was clamped into the HDR range.
func (s *Series) Clamped() bool { return s.clampWarned }

func (s *Series) stat(exact bool) Metric {
	if !exact {
		if m, ok := s.cachedLive(); ok {
			return m
		}
		m := s.statUncached(false)
		s.cacheLive(m)
		return m
	}
	return s.statUncached(true)
}

func (s *Series) statUncached(exact bool) Metric {
	m := Metric{Kind: KindSeries, Name: s.name, Count: s.count}
	m.Percentiles = make([]Percentile, len(s.percentiles))
	for i, k := range s.keys {
		m.Percentiles[i].Key = k
	}
	if s.count == 0 {
		zero := Int(0)
		if s.isFloat {
			zero = Float(0)
		}
		m.Total, m.Min, m.Max, m.SumSq = zero, zero, zero, zero
		m.Histogram = []Bucket{}
		return m
	}
	if s.isFloat {
		m.Total, m.SumSq = Float(s.fTotal), Float(s.fSumSq)
		m.Min, m.Max = Float(s.fMin), Float(s.fMax)
	} else {
		m.Total, m.SumSq = s.iTotal.num(), s.iSumSq.num()
		m.Min, m.Max = Int(s.iMin), Int(s.iMax)
	}
	edges := LogEdges(m.Min.Float64(), m.Max.Float64(), s.buckets)
	m.Histogram = make([]Bucket, s.buckets)
	for i := range m.Histogram {
		m.Histogram[i].Lo, m.Histogram[i].Hi = edges[i], edges[i+1]
	}
	switch {
	case !exact:
		s.hdrStat(&m, edges)
	case s.sp == nil && s.src == nil:
		s.exactStat(&m, edges)
	case s.sp != nil && s.lostValues():
		s.hdrStat(&m, edges)
		m.Approximate = true
	default:
		src := s.src
		if src == nil {
			src = s.spillSource()
		}
		if err := s.exactFrom(&m, edges, src); err != nil {
			s.reg.logger().Warn("exact percentiles failed; reporting the HDR estimates (approximate)",
				"series", s.name, "err", err)
			for i := range m.Histogram {
				m.Histogram[i].Count = 0
			}
			s.hdrStat(&m, edges)
			m.Approximate = true
		}
	}
	return m
}

func (s *Series) hdrStat(m *Metric, edges []float64) {
	s.counts.percentiles(s.percentiles, m.Percentiles)
	s.counts.fill(m.Histogram, edges)
}

func (s *Series) exactStat(m *Metric, edges []float64) {
	n := int(s.count)
	iRaw, fRaw := s.iRaw.flat(), s.fRaw.flat()
	if !s.sorted {
		slices.Sort(iRaw)
		slices.Sort(fRaw)
		s.sorted = true
	}
	at := func(i int) float64 {
		if s.isFloat {
			return fRaw[i]
		}
		return float64(iRaw[i])
	}
	ranks, bounds := s.finalRanks()
	vals := make([]float64, len(ranks))
	for i, r := range ranks {
		vals[i] = at(int(r))
	}
	s.applyRanks(m, bounds, vals)
	// One sweep over the sorted values: bucket i holds [edge_i, edge_i+1), the
	// last one is closed, and values outside the edges are clipped in (as
	// numpy.histogram after clip).
	last := len(edges) - 2
	b := 0
	for i := 0; i < n; i++ {
		v := at(i)
		for b < last && v >= edges[b+1] {
			b++
		}
		m.Histogram[b].Count++
	}
}

// lowerIndex is numpy's percentile(method="lower") index: ⌊(n−1)·q⌋ with
// q = p/100, computed in the same order so that the same entry is chosen.
func lowerIndex(n int, p float64) int {
	idx := int(math.Floor(float64(n-1) * (p / 100)))
	return min(max(idx, 0), n-1)
}

// LogEdges returns n+1 log-spaced edges over [max(lo,1), max(hi, 10·lo)].
func LogEdges(minV, maxV float64, n int) []float64 {
	lo := math.Max(minV, 1)
	hi := math.Max(maxV, 10*lo)
	edges := make([]float64, n+1)
	l0, l1 := math.Log(lo), math.Log(hi)
	for i := range edges {
		edges[i] = math.Exp(l0 + float64(i)*(l1-l0)/float64(n))
	}
	edges[0], edges[n] = lo, hi
	return edges
}

// chunkSize is the number of raw values per storage chunk. Chunks avoid the
// copy that growing one slice costs on every doubling (it dominated Record).
const chunkSize = 1 << 15

// chunked stores raw values in fixed-size chunks.
type chunked[T int64 | float64] struct {
	full [][]T
	cur  []T
	// roll, when set (spilling), takes a full chunk away and returns an
	// empty one: only the current chunk stays in memory.
	roll func(full []T) []T
}

func (c *chunked[T]) add(v T) {
	if len(c.cur) == cap(c.cur) {
		c.next()
	}
	c.cur = append(c.cur, v)
}

// next is the cold path of add (once per chunk): kept out of line so that
// add stays small enough to inline into Record.
//
//go:noinline
func (c *chunked[T]) next() {
	if c.roll != nil {
		c.cur = c.roll(c.cur)
		return
	}
	if c.cur != nil {
		c.full = append(c.full, c.cur)
	}
	c.cur = make([]T, 0, chunkSize)
}

// flat returns all values in one slice, merging the chunks into it once.
func (c *chunked[T]) flat() []T {
	if len(c.full) == 0 {
		return c.cur
	}
	n := len(c.cur)
	for _, ch := range c.full {
		n += len(ch)
	}
	all := make([]T, 0, n)
	for _, ch := range c.full {
		all = append(all, ch...)
	}
	all = append(all, c.cur...)
	c.full, c.cur = nil, all
	return all
}

// finalRanks lists the 0-based ranks a terminal snapshot selects: each grid
// percentile's, then the confidence bounds' and early-stopping estimates'
// that exist (see boundRanks). applyRanks takes the values at these ranks,
// in this order: whichever way the values are selected (sorted in memory,
// or from spilled raw values), bounds are just more ranks to select.
func (s *Series) finalRanks() ([]int64, []ranks) {
	n := int(s.count)
	ranks := make([]int64, 0, 4*len(s.percentiles))
	for _, p := range s.percentiles {
		ranks = append(ranks, int64(lowerIndex(n, p)))
	}
	bounds := s.boundRanks()
	for _, r := range bounds {
		for _, k := range [3]int64{r.lo, r.hi, r.es} {
			if k >= 0 {
				ranks = append(ranks, k)
			}
		}
	}
	return ranks, bounds
}

// applyRanks sets m's percentiles and bounds from vals, the values at the
// ranks finalRanks returned with bounds.
func (s *Series) applyRanks(m *Metric, bounds []ranks, vals []float64) {
	for i := range s.percentiles {
		m.Percentiles[i].Value = vals[i]
	}
	next := len(s.percentiles)
	take := func(rank int64) float64 {
		if rank < 0 {
			return math.NaN()
		}
		v := vals[next]
		next++
		return v
	}
	for i, r := range bounds {
		pc := &m.Percentiles[i]
		pc.Lo = take(r.lo)
		pc.Hi = take(r.hi)
		pc.ES = take(r.es)
	}
	m.Bounds = true
}

// ranks are the 0-based ranks of one percentile's confidence interval and
// early-stopping estimate; -1 where the values are too few.
type ranks struct{ lo, hi, es int64 }

// boundRanks returns the ranks to select, beside the percentiles', for the
// terminal snapshot: more order statistics of the same sorted values.
func (s *Series) boundRanks() []ranks {
	out := make([]ranks, len(s.percentiles))
	for i, p := range s.percentiles {
		out[i].lo, out[i].hi = CIRanks(s.count, p, CIConfidence)
		out[i].es = -1
		if s.es && p >= 50 {
			out[i].es = ESRank(s.count, p, ESConfidence)
		}
	}
	return out
}
