package metrics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkSpill_encodeBlock is the writer's cost per value of one block of
// realistic chunk gaps (log-normal around 15 ms, ns resolution): keys, radix
// sort, delta varints.
func BenchmarkSpill_encodeBlock(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]int64, DefaultSpillBlock)
	for i := range vals {
		vals[i] = int64(15e6 * math.Exp(0.4*r.NormFloat64()))
	}
	keys := make([]uint64, len(vals))
	var scratch []uint64
	var frame []byte
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, v := range vals {
			keys[j] = intKey(v)
		}
		scratch = radixSort(keys, scratch)
		frame = appendBlock(frame[:0], keys)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vals)), "ns/value")
	b.ReportMetric(float64(len(frame))/float64(len(vals)), "B/value")
}

// rssBytes is this process's resident set size (Linux; 0 elsewhere).
func rssBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkSpill_100M ingests 100 M realistic chunk gaps (log-normal around
// 15 ms, σ 0.4, ns resolution) into one spilling series and reports the RSS
// after 1 M, 10 M and 100 M values (flat: one block per series in memory),
// the time of the exact final percentiles and histogram, and the bytes on
// disk per value. -benchtime 1x; b.N > 1 repeats it.
func BenchmarkSpill_100M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		r := NewRegistry()
		if err := r.EnableSpill(SpillConfig{Dir: b.TempDir()}); err != nil {
			b.Fatal(err)
		}
		s, _ := r.NewSeries("chunk_delta_ns", SeriesOpts{})
		rng := rand.New(rand.NewPCG(1, 2))
		// A table of gaps keeps the generator out of the ingest cost.
		vals := make([]int64, 1<<20)
		for j := range vals {
			vals[j] = int64(15e6 * math.Exp(0.4*rng.NormFloat64()))
		}
		runtime.GC()
		t0 := time.Now()
		for n := 1; n <= 100_000_000; n++ {
			// Vary the table between rounds so blocks are not repeats.
			s.Record(vals[n&(1<<20-1)] + int64(n>>20))
			switch n {
			case 1_000_000, 10_000_000, 100_000_000:
				b.ReportMetric(float64(rssBytes())/(1<<20), fmt.Sprintf("RSS-MB@%dM", n/1_000_000))
			}
		}
		ingest := time.Since(t0)
		t1 := time.Now()
		snap := r.Snapshot(StateComplete, 0, 1)
		final := time.Since(t1)
		st := s.SpillStats()
		if snap.Metrics[0].Approximate || snap.Metrics[0].Count != 100_000_000 {
			b.Fatalf("final snapshot: approximate %v, count %d", snap.Metrics[0].Approximate, snap.Metrics[0].Count)
		}
		b.ReportMetric(float64(ingest.Nanoseconds())/1e8, "ingest-ns/value")
		b.ReportMetric(final.Seconds(), "final-s")
		b.ReportMetric(float64(st.Bytes)/float64(st.Values), "disk-B/value")
		b.ReportMetric(float64(rssBytes())/(1<<20), "RSS-MB@final")
		if err := r.CloseSpill(true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpill_exact10M is the property test's 10 M case (too slow for the
// race-enabled test run): 10 M values of each distribution recorded into a
// spilling series (blocks of 4096) and an in-memory one; every percentile and
// histogram bucket must equal the full sort's, or the benchmark fails.
func BenchmarkSpill_exact10M(b *testing.B) {
	const n = 10_000_000
	for i := 0; i < b.N; i++ {
		for gi, g := range intGens {
			r := rand.New(rand.NewPCG(n, uint64(gi)))
			ref, sp, x, y := spillPair(b, false, 4096)
			for range n {
				v := g.gen(r)
				x.Record(v)
				y.Record(v)
			}
			compareExact(b, ref, sp)
			_ = sp.CloseSpill(true)
		}
		for gi, g := range floatGens {
			r := rand.New(rand.NewPCG(n, 100+uint64(gi)))
			ref, sp, x, y := spillPair(b, true, 4096)
			for range n {
				v := g.gen(r)
				x.RecordFloat(v)
				y.RecordFloat(v)
			}
			compareExact(b, ref, sp)
			_ = sp.CloseSpill(true)
		}
	}
	b.ReportMetric(float64(len(intGens)+len(floatGens)), "distributions-equal")
}
