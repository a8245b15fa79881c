package metrics

import (
	"errors"
	"io"
	"log/slog"
	"slices"
)

// RawInfo describes a raw file read by [RecomputeRaw].
type RawInfo struct {
	Float  bool
	Values int64 // values read (the complete blocks)
	Blocks int64
	// Torn is set when the file ends in a torn or corrupt block (a run
	// killed mid-write): the values before it were used, the rest ignored.
	Torn error
}

// RecomputeRaw rebuilds a series metric named name from the raw file at path
// (written by a spilling registry): count, total, min, max and sum of squares
// from the values, exact percentiles over grid ps (nil means
// DefaultPercentiles; 50 is added when missing) and a histogram of buckets
// log-spaced buckets (0 means DefaultBuckets). It reads the file twice: once
// for the rollups and the HDR view, then for the exact selection.
func RecomputeRaw(path, name string, ps []float64, buckets int) (Metric, RawInfo, error) {
	var info RawInfo
	rr, err := openRaw(path)
	if err != nil {
		return Metric{}, info, err
	}
	info.Float = rr.isFloat
	if ps == nil {
		ps = DefaultPercentiles
	}
	if !slices.Contains(ps, 50) {
		ps = append(slices.Clone(ps), 50)
	}
	reg := NewRegistry()
	reg.Logger = slog.New(slog.DiscardHandler)
	s, err := newSeries(name, SeriesOpts{Float: rr.isFloat, Percentiles: ps, Buckets: buckets}, reg)
	if err != nil {
		rr.Close()
		return Metric{}, info, err
	}
	for {
		keys, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			info.Torn = err
			break
		}
		info.Blocks++
		info.Values += int64(len(keys))
		for _, k := range keys {
			if s.isFloat {
				s.addFloatView(keyFloat(k))
			} else {
				s.addIntView(keyInt(k))
			}
		}
	}
	rr.Close()
	blocks := info.Blocks
	s.src = func(yield func([]uint64)) error {
		rr, err := openRaw(path)
		if err != nil {
			return err
		}
		defer rr.Close()
		for range blocks {
			keys, err := rr.next()
			if err != nil {
				return errors.Join(errors.New("raw file changed while read"), err)
			}
			yield(keys)
		}
		return nil
	}
	m := s.stat(true)
	if m.Approximate {
		return m, info, errors.New("metrics: exact percentiles from the raw values failed (see the log)")
	}
	return m, info, nil
}

// addIntView records v into the rollups and the HDR view only (the raw values
// are in a file already).
func (s *Series) addIntView(v int64) {
	if s.count == 0 || v < s.iMin {
		s.iMin = v
	}
	if s.count == 0 || v > s.iMax {
		s.iMax = v
	}
	s.count++
	s.iTotal.add(v)
	s.iSumSq.addSquare(v)
	s.recordHDR(v, v < s.low || v > s.high, float64(v))
}

func (s *Series) addFloatView(v float64) {
	if s.count == 0 || v < s.fMin {
		s.fMin = v
	}
	if s.count == 0 || v > s.fMax {
		s.fMax = v
	}
	s.count++
	s.fTotal += v
	s.fSumSq += v * v
	s.recordFloatHDR(v)
}
