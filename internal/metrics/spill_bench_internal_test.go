package metrics

import (
	"math"
	"math/rand/v2"
	"testing"
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
