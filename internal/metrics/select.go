package metrics

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sort"
)

// Exact order statistics without holding every value: the HDR view says in
// which key range each requested rank lies; one pass over the sorted blocks
// (spilled files and the in-memory tail) counts the values below each range
// and collects the ones inside it; sorting those gives the ranks exactly. The
// counts come from the data, not from the HDR, so a range that turns out not
// to hold its rank (or to hold too many values to collect) is corrected or
// narrowed in another pass. The exact histogram is built in the first pass.

// maxCandidates bounds the values collected per range (8 bytes each); a
// fuller range is narrowed by another pass instead.
var maxCandidates = 1 << 19

// splitBits: a narrowing pass counts 2^splitBits sub-ranges.
const splitBits = 10

// maxPasses bounds the passes (each narrowing one divides a range by
// 2^splitBits, so 64-bit keys need at most 7 after a correction or two).
const maxPasses = 16

// keySource yields sorted key blocks; a block is valid during the call only.
type keySource func(yield func(sorted []uint64)) error

type keyRange struct{ lo, hi uint64 }

type selTarget struct {
	rank int64
	r    keyRange
	done bool
	key  uint64
}

type selRange struct {
	r             keyRange
	below, inside int64
	minK, maxK    uint64
	cand          []uint64
	over          bool
	splits        []uint64 // refining: sub-range upper bounds (inclusive)
	splitN        []int64
}

// selectExact returns the keys at ranks (0-based, each in [0, n)) of the
// values src yields, starting from the guesses in start, and, when hist is
// non-nil, adds each value to the histogram bucket its value(key) falls in
// (edges as in LogEdges; values outside are clipped in).
func selectExact(src keySource, n int64, ranks []int64, start []keyRange,
	value func(uint64) float64, edges []float64, hist []Bucket) ([]uint64, error) {
	targets := make([]selTarget, len(ranks))
	for i, rk := range ranks {
		if rk < 0 || rk >= n {
			return nil, fmt.Errorf("metrics: rank %d outside [0, %d)", rk, n)
		}
		targets[i] = selTarget{rank: rk, r: start[i]}
	}
	refine := map[keyRange]bool{}
	first := true
	for pass := 0; ; pass++ {
		// One range per distinct guess.
		byRange := map[keyRange]*selRange{}
		var ranges []*selRange
		for i := range targets {
			t := &targets[i]
			if t.done {
				continue
			}
			if _, ok := byRange[t.r]; !ok {
				sr := &selRange{r: t.r, minK: math.MaxUint64}
				if refine[t.r] {
					sr.over = true // counting sub-ranges instead
					sr.splits = splitRange(t.r)
					sr.splitN = make([]int64, len(sr.splits))
				}
				byRange[t.r] = sr
				ranges = append(ranges, sr)
			}
		}
		if len(ranges) == 0 && !first {
			break
		}
		if pass >= maxPasses {
			return nil, errors.New("metrics: exact percentiles did not converge")
		}
		var total int64
		err := src(func(keys []uint64) {
			total += int64(len(keys))
			if first && hist != nil {
				addHistogram(keys, value, edges, hist)
			}
			for _, sr := range ranges {
				sr.scan(keys)
			}
		})
		if err != nil {
			return nil, err
		}
		if total != n {
			return nil, fmt.Errorf("metrics: raw values hold %d values, the series counted %d", total, n)
		}
		first = false
		refine = map[keyRange]bool{}
		for i := range targets {
			t := &targets[i]
			if t.done {
				continue
			}
			sr := byRange[t.r]
			switch {
			case t.rank < sr.below:
				// The guess was too high: everything below it (the
				// next pass collects, or narrows to what it saw).
				t.r = keyRange{0, sr.r.lo - 1}
			case t.rank >= sr.below+sr.inside:
				t.r = keyRange{sr.r.hi + 1, math.MaxUint64}
			case sr.minK == sr.maxK:
				t.done, t.key = true, sr.minK
			case !sr.over:
				if !slices.IsSorted(sr.cand) {
					slices.Sort(sr.cand)
				}
				t.done, t.key = true, sr.cand[t.rank-sr.below]
			case sr.splits != nil:
				// Narrow to the sub-range holding the rank.
				at := sr.below
				lo := sr.r.lo
				for j, hi := range sr.splits {
					if t.rank < at+sr.splitN[j] {
						t.r = keyRange{lo, hi}
						if sr.splitN[j] > int64(maxCandidates) {
							refine[t.r] = true
						}
						break
					}
					at += sr.splitN[j]
					lo = hi + 1
				}
			default:
				// Too many to collect: count sub-ranges of the values seen.
				t.r = keyRange{sr.minK, sr.maxK}
				refine[t.r] = true
			}
		}
	}
	keys := make([]uint64, len(targets))
	for i := range targets {
		keys[i] = targets[i].key
	}
	return keys, nil
}

// scan folds one sorted block into the range's counts.
func (sr *selRange) scan(keys []uint64) {
	i := sort.Search(len(keys), func(j int) bool { return keys[j] >= sr.r.lo })
	j := i + sort.Search(len(keys)-i, func(j int) bool { return keys[i+j] > sr.r.hi })
	sr.below += int64(i)
	if j == i {
		return
	}
	in := keys[i:j]
	sr.inside += int64(len(in))
	sr.minK = min(sr.minK, in[0])
	sr.maxK = max(sr.maxK, in[len(in)-1])
	if sr.splits != nil {
		k := 0
		for s, hi := range sr.splits {
			e := k + sort.Search(len(in)-k, func(m int) bool { return in[k+m] > hi })
			sr.splitN[s] += int64(e - k)
			k = e
			if k == len(in) {
				break
			}
		}
		return
	}
	if sr.over {
		return
	}
	if len(sr.cand)+len(in) > maxCandidates {
		sr.over, sr.cand = true, nil
		return
	}
	sr.cand = append(sr.cand, in...)
}

// splitRange divides r into at most 2^splitBits sub-ranges; it returns their
// inclusive upper bounds.
func splitRange(r keyRange) []uint64 {
	width := r.hi - r.lo // +1 may overflow
	shift := 0
	if l := bits.Len64(width); l > splitBits {
		shift = l - splitBits
	}
	var ups []uint64
	for lo := r.lo; ; {
		hi := lo + (1<<shift - 1)
		if hi < lo || hi >= r.hi { // overflow or the end
			ups = append(ups, r.hi)
			break
		}
		ups = append(ups, hi)
		lo = hi + 1
	}
	return ups
}

// addHistogram adds a sorted block to the histogram: bucket b holds
// [edges[b], edges[b+1]), the last one is closed, values outside are clipped
// in (NaN, first in key order, goes to bucket 0 as in a full sort's sweep).
func addHistogram(keys []uint64, value func(uint64) float64, edges []float64, hist []Bucket) {
	prev := 0
	last := len(hist) - 1
	for b := 0; b < last; b++ {
		e := edges[b+1]
		at := prev + sort.Search(len(keys)-prev, func(m int) bool { return value(keys[prev+m]) >= e })
		hist[b].Count += int64(at - prev)
		prev = at
	}
	hist[last].Count += int64(len(keys) - prev)
}

// hdrRanges returns, for each rank, the key range of the HDR bucket that
// holds it. The buckets holding the HDR's low and high ends are open-ended:
// values outside [low, high] were clamped into them.
func (s *Series) hdrRanges(ranks []int64) []keyRange {
	out := make([]keyRange, len(ranks))
	for i := range out {
		out[i] = keyRange{0, math.MaxUint64}
	}
	hdr := s.hdrView()
	if hdr.TotalCount() != s.count {
		return out
	}
	order := make([]int, len(ranks))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return int(ranks[a] - ranks[b]) })
	cum := int64(0)
	k := 0
	for _, bar := range hdr.Distribution() {
		for k < len(order) && ranks[order[k]] < cum+bar.Count {
			out[order[k]] = s.barKeys(bar.From, bar.To)
			k++
		}
		cum += bar.Count
		if k == len(order) {
			break
		}
	}
	return out
}

// barKeys maps an HDR bucket [from, to] (recorded values) to the keys of the
// raw values recorded into it.
func (s *Series) barKeys(from, to int64) keyRange {
	r := keyRange{0, math.MaxUint64}
	if s.isFloat {
		// Floats in range are recorded truncated: [from, to+1).
		if from > s.low {
			r.lo = floatKey(float64(from))
		}
		if to < s.high {
			r.hi = floatKey(float64(to+1)) - 1
		}
		return r
	}
	if from > s.low {
		r.lo = intKey(from)
	}
	if to < s.high {
		r.hi = intKey(to)
	}
	return r
}

// exactFrom computes the exact percentiles (with their bounds) and histogram
// of m from the sorted key blocks of src.
func (s *Series) exactFrom(m *Metric, edges []float64, src keySource) error {
	// The confidence bounds and early-stopping estimates are more ranks to
	// select beside the percentiles'.
	ranks, bounds := s.finalRanks()
	value := keyIntF
	if s.isFloat {
		value = keyFloat
	}
	hist := make([]Bucket, len(m.Histogram))
	keys, err := selectExact(src, s.count, ranks, s.hdrRanges(ranks), value, edges, hist)
	if err != nil {
		return err
	}
	vals := make([]float64, len(keys))
	for i, k := range keys {
		vals[i] = value(k)
	}
	s.applyRanks(m, bounds, vals)
	for i := range hist {
		m.Histogram[i].Count = hist[i].Count
	}
	return nil
}

// spillSource yields the blocks of the series' raw file, then its in-memory
// tail, sorted.
func (s *Series) spillSource() keySource {
	return func(yield func([]uint64)) error {
		if s.sp.blocks > 0 {
			if err := readRawFile(s.sp.path, yield); err != nil {
				return err
			}
		}
		var tail []uint64
		if s.isFloat {
			tail = make([]uint64, len(s.fRaw.cur))
			for i, v := range s.fRaw.cur {
				tail[i] = floatKey(v)
			}
		} else {
			tail = make([]uint64, len(s.iRaw.cur))
			for i, v := range s.iRaw.cur {
				tail[i] = intKey(v)
			}
		}
		if len(tail) > 0 {
			radixSort(tail, nil)
			yield(tail)
		}
		return nil
	}
}

// readRawFile yields every block of the raw file at path.
func readRawFile(path string, yield func([]uint64)) error {
	rr, err := openRaw(path)
	if err != nil {
		return err
	}
	defer rr.Close()
	for {
		keys, err := rr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		yield(keys)
	}
}
