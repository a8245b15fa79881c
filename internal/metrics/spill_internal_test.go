package metrics

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

type intGen struct {
	name string
	gen  func(r *rand.Rand) int64
}

var intGens = []intGen{
	{"uniform", func(r *rand.Rand) int64 { return r.Int64N(1_000_000_000) }},
	{"lognormal", func(r *rand.Rand) int64 { return int64(15e6 * math.Exp(0.8*r.NormFloat64())) }},
	{"heavy", func(r *rand.Rand) int64 { // Pareto, alpha 1.1
		return int64(min(1e5/math.Pow(1-r.Float64(), 1/1.1), 9e18))
	}},
	{"ties", func(r *rand.Rand) int64 { return int64(r.IntN(5))*1000 + 1 }},
	{"equal", func(*rand.Rand) int64 { return 42 }},
	{"extremes", func(r *rand.Rand) int64 {
		ex := []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, 2, TimeHigh, TimeHigh + 1, math.MaxInt64 - 1, math.MaxInt64}
		if r.IntN(3) == 0 {
			return int64(r.Uint64())
		}
		return ex[r.IntN(len(ex))]
	}},
	{"out-of-range", func(r *rand.Rand) int64 { // below low, in range, above high
		switch r.IntN(4) {
		case 0:
			return -r.Int64N(1000)
		case 1:
			return TimeHigh + r.Int64N(1e15)
		}
		return 1 + r.Int64N(5000)
	}},
}

type floatGen struct {
	name string
	gen  func(r *rand.Rand) float64
}

var floatGens = []floatGen{
	{"uniform", func(r *rand.Rand) float64 { return r.Float64() * 1e7 }},
	{"lognormal", func(r *rand.Rand) float64 { return 5e6 * math.Exp(r.NormFloat64()) }},
	{"specials", func(r *rand.Rand) float64 {
		ex := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 0.5, 1, 1.5,
			-3.25, 1e300, -1e300, 5e-324, float64(TimeHigh), float64(TimeHigh) + 0.5, 9.3e18}
		if r.IntN(3) == 0 {
			return r.NormFloat64() * 1e6
		}
		return ex[r.IntN(len(ex))]
	}},
	{"ties", func(r *rand.Rand) float64 { return float64(r.IntN(4)) + 0.25 }},
}

// spillPair records the same values into a registry that keeps them in
// memory (the full-sort reference) and one that spills every block.
func spillPair(t testing.TB, float bool, block int) (ref, sp *Registry, refS, spS *Series) {
	ref, sp = NewRegistry(), NewRegistry()
	ref.Logger = slog.New(slog.DiscardHandler)
	sp.Logger = ref.Logger
	o := SeriesOpts{Float: float}
	var err error
	if refS, err = ref.NewSeries("x", o); err != nil {
		t.Fatal(err)
	}
	if err := sp.EnableSpill(SpillConfig{Dir: filepath.Join(t.TempDir(), "raw"), BlockSize: block}); err != nil {
		t.Fatal(err)
	}
	if spS, err = sp.NewSeries("x", o); err != nil {
		t.Fatal(err)
	}
	return ref, sp, refS, spS
}

func sameFloat(a, b float64) bool { return a == b || (a != a && b != b) }

// compareExact checks every percentile and histogram bucket of the spilled
// series' terminal snapshot against the full-sort reference.
func compareExact(t testing.TB, ref, sp *Registry) {
	t.Helper()
	want := ref.Snapshot(StateComplete, 0, 1).Metrics[0]
	got := sp.Snapshot(StateComplete, 0, 1).Metrics[0]
	if got.Approximate {
		t.Fatalf("spilled series marked approximate")
	}
	if got.Count != want.Count || got.Min.String() != want.Min.String() || got.Max.String() != want.Max.String() {
		t.Fatalf("rollups: got count %d min %v max %v, want %d %v %v", got.Count, got.Min, got.Max, want.Count, want.Min, want.Max)
	}
	for i := range want.Percentiles {
		if !sameFloat(got.Percentiles[i].Value, want.Percentiles[i].Value) {
			t.Fatalf("p%s: got %v, want %v", want.Percentiles[i].Key, got.Percentiles[i].Value, want.Percentiles[i].Value)
		}
	}
	if len(got.Histogram) != len(want.Histogram) {
		t.Fatalf("histogram of %d buckets, want %d", len(got.Histogram), len(want.Histogram))
	}
	for i := range want.Histogram {
		if got.Histogram[i] != want.Histogram[i] && !(sameFloat(got.Histogram[i].Lo, want.Histogram[i].Lo) &&
			sameFloat(got.Histogram[i].Hi, want.Histogram[i].Hi) && got.Histogram[i].Count == want.Histogram[i].Count) {
			t.Fatalf("bucket %d: got %+v, want %+v", i, got.Histogram[i], want.Histogram[i])
		}
	}
}

// TestSpill_exactMatchesFullSort is the property: for many distributions and
// sizes, with spilling forced at small blocks (and, in a second round, with a
// tiny candidate budget so every range is narrowed over several passes),
// every percentile and histogram bucket equals the full sort's.
func TestSpill_exactMatchesFullSort(t *testing.T) {
	// 1 M and 10 M values: BenchmarkSpill_exact10M (too slow under -race).
	sizes := []int{1, 2, 3, 10, 101, 1000, 10_000, 100_000}
	if testing.Short() {
		sizes = sizes[:len(sizes)-1]
	}
	for _, budget := range []int{maxCandidates, 16} {
		old := maxCandidates
		maxCandidates = budget
		for _, n := range sizes {
			if budget < 100 && n > 10_000 {
				continue
			}
			blocks := []int{5, 257}
			if n <= 101 {
				blocks = []int{1, 7}
			} else if n <= 1000 {
				blocks = []int{7, 64}
			} else if n >= 100_000 {
				blocks = []int{4093}
			}
			for _, block := range blocks {
				for gi, g := range intGens {
					t.Run(fmt.Sprintf("int/%s/n=%d/block=%d/budget=%d", g.name, n, block, budget), func(t *testing.T) {
						r := rand.New(rand.NewPCG(uint64(n), uint64(gi)))
						ref, sp, a, b := spillPair(t, false, block)
						for range n {
							v := g.gen(r)
							a.Record(v)
							b.Record(v)
						}
						if st := b.SpillStats(); st.Values != int64((n-1)/block*block) || st.Err != nil {
							t.Fatalf("spilled %d values (err %v), want %d", st.Values, st.Err, (n-1)/block*block)
						}
						compareExact(t, ref, sp)
						if err := sp.CloseSpill(true); err != nil {
							t.Fatal(err)
						}
					})
				}
				for gi, g := range floatGens {
					t.Run(fmt.Sprintf("float/%s/n=%d/block=%d/budget=%d", g.name, n, block, budget), func(t *testing.T) {
						r := rand.New(rand.NewPCG(uint64(n), 100+uint64(gi)))
						ref, sp, a, b := spillPair(t, true, block)
						for range n {
							v := g.gen(r)
							a.RecordFloat(v)
							b.RecordFloat(v)
						}
						if st := b.SpillStats(); st.Values != int64((n-1)/block*block) || st.Err != nil {
							t.Fatalf("spilled %d values (err %v), want %d", st.Values, st.Err, (n-1)/block*block)
						}
						compareExact(t, ref, sp)
						if err := sp.CloseSpill(true); err != nil {
							t.Fatal(err)
						}
					})
				}
			}
		}
		maxCandidates = old
	}
}

func TestKeys_orderAsFullSort(t *testing.T) {
	fs := []float64{math.NaN(), math.Inf(-1), -1e300, -1, -5e-324, 0, 5e-324, 1, 1e300, math.Inf(1)}
	for i := 1; i < len(fs); i++ {
		if floatKey(fs[i-1]) >= floatKey(fs[i]) {
			t.Errorf("key(%v) >= key(%v)", fs[i-1], fs[i])
		}
	}
	for _, f := range fs {
		if !sameFloat(keyFloat(floatKey(f)), f) {
			t.Errorf("round trip of %v: %v", f, keyFloat(floatKey(f)))
		}
	}
	if floatKey(math.Copysign(0, -1)) != floatKey(0) {
		t.Error("-0 and +0 differ")
	}
	is := []int64{math.MinInt64, -1, 0, 1, math.MaxInt64}
	for i := 1; i < len(is); i++ {
		if intKey(is[i-1]) >= intKey(is[i]) || keyInt(intKey(is[i])) != is[i] {
			t.Errorf("int key order or round trip broken at %d", is[i])
		}
	}
}

func TestRadixSort(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 2, 63, 64, 65, 1000, 50_000} {
		for _, mask := range []uint64{0, 0xff, 0xffff_ffff, math.MaxUint64, 0xff00_0000_0000_00ff} {
			keys := make([]uint64, n)
			for i := range keys {
				keys[i] = r.Uint64()&mask | 1<<40
			}
			want := slices.Clone(keys)
			slices.Sort(want)
			radixSort(keys, nil)
			if !slices.Equal(keys, want) {
				t.Fatalf("n=%d mask=%x: not sorted", n, mask)
			}
		}
	}
}

// failAfter fails every write after the first n bytes, as a disk that fills up.
type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return len(p), nil
	}
	w := f.n
	f.n = 0
	return w, f.err
}

func (f *failAfter) Close() error { return nil }

// TestSpill_writeErrorMarksApproximate: spilling fails mid-run (an injected
// ENOSPC after some blocks, and the real /dev/full); the series keeps
// recording, the terminal snapshot has exact rollups and HDR percentiles
// marked approximate in both encodings.
func TestSpill_writeErrorMarksApproximate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		create func(string) (io.WriteCloser, error)
	}{
		{"enospc-after-3-blocks", func(string) (io.WriteCloser, error) {
			return &failAfter{n: 8 + 3*2000, err: errors.New("no space left on device")}, nil
		}},
		{"dev-full", func(string) (io.WriteCloser, error) { return os.OpenFile("/dev/full", os.O_WRONLY, 0) }},
		{"unwritable", func(p string) (io.WriteCloser, error) {
			return nil, &os.PathError{Op: "open", Path: p, Err: os.ErrPermission}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := NewRegistry()
			sp := NewRegistry()
			sp.Logger = slog.New(slog.DiscardHandler)
			if err := sp.EnableSpill(SpillConfig{Dir: t.TempDir(), BlockSize: 1000, Create: tc.create}); err != nil {
				t.Fatal(err)
			}
			a, _ := ref.NewSeries("x", SeriesOpts{})
			b, _ := sp.NewSeries("x", SeriesOpts{})
			r := rand.New(rand.NewPCG(1, 1))
			for range 50_000 {
				v := 1_000_000 + r.Int64N(5_000_000)
				a.Record(v)
				b.Record(v)
			}
			st := b.SpillStats()
			if st.Err == nil {
				t.Fatal("spilling did not fail")
			}
			want := ref.Snapshot(StateComplete, 0, 1).Metrics[0]
			snap := sp.Snapshot(StateComplete, 0, 1)
			got := snap.Metrics[0]
			if !got.Approximate {
				t.Fatal("percentiles not marked approximate")
			}
			if got.Count != 50_000 || got.Min != want.Min || got.Max != want.Max || got.Total.String() != want.Total.String() {
				t.Fatalf("rollups lost: %+v vs %+v", got, want)
			}
			for i, p := range want.Percentiles {
				if d := math.Abs(got.Percentiles[i].Value-p.Value) / p.Value; d > 0.001 {
					t.Errorf("p%s: %v vs exact %v: off by %.4f%%", p.Key, got.Percentiles[i].Value, p.Value, d*100)
				}
			}
			var n int64
			for _, h := range got.Histogram {
				n += h.Count
			}
			if n != 50_000 {
				t.Errorf("histogram holds %d values", n)
			}
			wire, err := DecodeSnapshot(AppendSnapshot(nil, &snap))
			if err != nil || !wire.Metrics[0].Approximate {
				t.Errorf("msgpack lost the approximate mark (err %v)", err)
			}
			js, err := ParseJSON(snap.AppendJSON(nil))
			if err != nil || !js.Metrics[0].Approximate {
				t.Errorf("JSON lost the approximate mark (err %v)", err)
			}
			if err := sp.CloseSpill(true); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}

// TestSelectExact_wrongGuesses: the selection corrects guesses that do not
// hold their rank (too low, too high, empty, everything), so exactness never
// depends on the HDR view.
func TestSelectExact_wrongGuesses(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	old := maxCandidates
	maxCandidates = 8
	defer func() { maxCandidates = old }()
	for _, n := range []int{1, 5, 100, 5000} {
		keys := make([]uint64, n)
		for i := range keys {
			keys[i] = intKey(r.Int64N(1000) * r.Int64N(1000))
		}
		sorted := slices.Clone(keys)
		slices.Sort(sorted)
		src := func(yield func([]uint64)) error {
			for i := 0; i < n; i += 97 {
				b := slices.Clone(keys[i:min(i+97, n)])
				slices.Sort(b)
				yield(b)
			}
			return nil
		}
		var ranks []int64
		var start []keyRange
		for _, g := range []keyRange{{0, 0}, {math.MaxUint64, math.MaxUint64}, {intKey(10), intKey(20)},
			{0, math.MaxUint64}, {sorted[n/2], sorted[n/2]}, {intKey(999_000), math.MaxUint64}} {
			for _, rk := range []int64{0, int64(n / 3), int64(n - 1)} {
				ranks = append(ranks, rk)
				start = append(start, g)
			}
		}
		got, err := selectExact(src, int64(n), ranks, start, keyIntF, nil, nil)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		for i, rk := range ranks {
			if got[i] != sorted[rk] {
				t.Fatalf("n=%d rank %d from guess %+v: got %d, want %d", n, rk, start[i], keyInt(got[i]), keyInt(sorted[rk]))
			}
		}
	}
}

// TestRecomputeRaw: files kept at close hold every value (the in-memory tail
// too); recomputing from them gives the terminal snapshot's numbers, also for
// a new percentile grid, and a torn last block (a killed run) is reported and
// skipped.
func TestRecomputeRaw(t *testing.T) {
	for _, float := range []bool{false, true} {
		t.Run(fmt.Sprint("float=", float), func(t *testing.T) {
			dir := t.TempDir()
			sp := NewRegistry()
			sp.Logger = slog.New(slog.DiscardHandler)
			if err := sp.EnableSpill(SpillConfig{Dir: dir, BlockSize: 1000}); err != nil {
				t.Fatal(err)
			}
			grid := NewRegistry()
			grid.Logger = sp.Logger
			s, _ := sp.NewSeries("chunk_delta_ns", SeriesOpts{Float: float})
			g, _ := grid.NewSeries("g", SeriesOpts{Float: float, Percentiles: []float64{99.99, 50, 0.5}})
			r := rand.New(rand.NewPCG(3, 3))
			const n = 12_345
			for range n {
				v := 1e6 * math.Exp(r.NormFloat64())
				s.RecordFloat(v)
				g.RecordFloat(v)
			}
			want := sp.Snapshot(StateComplete, 0, 1).Metrics[0]
			if err := sp.CloseSpill(false); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, RawFileName("chunk_delta_ns"))
			got, info, err := RecomputeRaw(path, "chunk_delta_ns", nil, 0)
			if err != nil || info.Torn != nil || info.Values != n || info.Float != float {
				t.Fatalf("recompute: %v, %+v", err, info)
			}
			if got.Count != want.Count || got.Min.String() != want.Min.String() || got.Max.String() != want.Max.String() {
				t.Fatalf("rollups %v %v %v, want %v %v %v", got.Count, got.Min, got.Max, want.Count, want.Min, want.Max)
			}
			if !float && (got.Total.String() != want.Total.String() || got.SumSq.String() != want.SumSq.String()) {
				t.Fatalf("integer sums differ: %v %v vs %v %v", got.Total, got.SumSq, want.Total, want.SumSq)
			}
			if !samePercentiles(got.Percentiles, want.Percentiles) || !slices.Equal(got.Histogram, want.Histogram) {
				t.Fatalf("percentiles or histogram differ:\n%v\n%v", got.Percentiles, want.Percentiles)
			}
			// A new grid.
			gw := grid.Snapshot(StateComplete, 0, 1).Metrics[0]
			got2, _, err := RecomputeRaw(path, "x", []float64{99.99, 0.5}, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"99.99", "50.0", "0.5"} {
				a, _ := got2.Percentile(k)
				b, _ := gw.Percentile(k)
				if a != b {
					t.Errorf("p%s: %v, want %v", k, a, b)
				}
			}
			// Torn: cut the last block.
			st, _ := os.Stat(path)
			if err := os.Truncate(path, st.Size()-5); err != nil {
				t.Fatal(err)
			}
			_, info, err = RecomputeRaw(path, "x", nil, 0)
			if err != nil || info.Torn == nil || info.Values != n/1000*1000 {
				t.Fatalf("torn file: %v, %+v", err, info)
			}
		})
	}
}

// FuzzRawReader: any file content is read without panicking or allocating
// beyond the file's size; what it yields is sorted.
func FuzzRawReader(f *testing.F) {
	good := append([]byte(rawHeader[0]), appendBlock(nil, []uint64{1, 5, 5, 900})...)
	f.Add(good)
	f.Add(append(good, good[8:]...))
	f.Add([]byte(rawHeader[1] + "\xff\xff\xff\xff\x0f\x01\x00\x00\x00\x00"))
	f.Add([]byte("IBRAW1i\n\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "x.bin")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_ = readRawFile(path, func(keys []uint64) {
			if !slices.IsSorted(keys) {
				t.Fatalf("unsorted block %v", keys)
			}
			if len(keys) > len(data) {
				t.Fatalf("%d keys from %d bytes", len(keys), len(data))
			}
		})
	})
}

// TestSpill_fileNameCollision: two series whose names map to one file name
// get distinct files.
func TestSpill_fileNameCollision(t *testing.T) {
	ref, sp, a, b := spillPair(t, false, 3)
	a2, _ := ref.NewSeries("a/b", SeriesOpts{})
	b2, _ := sp.NewSeries("a/b", SeriesOpts{})
	a3, _ := ref.NewSeries("a_b", SeriesOpts{})
	b3, _ := sp.NewSeries("a_b", SeriesOpts{})
	for i := range int64(100) {
		a.Record(i)
		b.Record(i)
		a2.Record(i * 7)
		b2.Record(i * 7)
		a3.Record(-i)
		b3.Record(-i)
	}
	if b2.SpillStats().Path == b3.SpillStats().Path {
		t.Fatalf("both series spill to %s", b2.SpillStats().Path)
	}
	want := ref.Snapshot(StateComplete, 0, 1)
	got := sp.Snapshot(StateComplete, 0, 1)
	for i := range want.Metrics {
		if !samePercentiles(want.Metrics[i].Percentiles, got.Metrics[i].Percentiles) {
			t.Errorf("%s: %v, want %v", want.Metrics[i].Name, got.Metrics[i].Percentiles, want.Metrics[i].Percentiles)
		}
	}
}

// TestSnapshot_approximateWire: the approximate mark travels as an 11th
// series field after a nil 10th (the Python tool's optional
// early_stopping_percentiles); a Python frame with a 10th field (a map or nil)
// and no 11th decodes as exact.
func TestSnapshot_approximateWire(t *testing.T) {
	m := Metric{Kind: KindSeries, Name: "x", Count: 1, Total: Int(1), Min: Int(1), Max: Int(1), SumSq: Int(1),
		Percentiles: []Percentile{{Key: "50.0", Value: 1}}, Histogram: []Bucket{{1, 10, 1}}, Approximate: true}
	snap := Snapshot{State: StateComplete, Metrics: []Metric{m}}
	wire := AppendSnapshot(nil, &snap)
	got, err := DecodeSnapshot(wire)
	if err != nil || !got.Metrics[0].Approximate {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	// The Python tool at HEAD: 10 fields, the 10th a map or nil.
	for _, tenth := range [][]byte{msgp.AppendNil(nil), msgp.AppendFloat64(msgp.AppendString(msgp.AppendMapHeader(nil, 1), "99.0"), 5)} {
		b := msgp.AppendArrayHeader(nil, 5)
		b = msgp.AppendUint64(b, 1)
		b = msgp.AppendInt64(b, 2)
		b = msgp.AppendString(b, "complete")
		b = msgp.AppendInt64(b, 0)
		b = msgp.AppendArrayHeader(b, 1)
		b = msgp.AppendArrayHeader(b, 10)
		b = msgp.AppendString(b, "series")
		b = msgp.AppendString(b, "x")
		for range 5 {
			b = msgp.AppendInt64(b, 1)
		}
		b = msgp.AppendMapHeader(b, 0)
		b = msgp.AppendArrayHeader(b, 0)
		b = append(b, tenth...)
		got, err := DecodeSnapshot(b)
		if err != nil || got.Metrics[0].Approximate || got.Metrics[0].Count != 1 {
			t.Errorf("python frame with 10 fields: %v %+v", err, got)
		}
	}
}

// samePercentiles compares percentile rows, bounds included, a NaN equal to a
// NaN.
func samePercentiles(a, b []Percentile) bool {
	same := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	return slices.EqualFunc(a, b, func(p, q Percentile) bool {
		return p.Key == q.Key && same(p.Value, q.Value) && same(p.Lo, q.Lo) && same(p.Hi, q.Hi) && same(p.ES, q.ES)
	})
}
