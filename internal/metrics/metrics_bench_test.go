package metrics_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/metrics"
)

// BenchmarkSeries_Record is the cost of recording one value into all three
// views (rollups, HDR, raw); the -spill variants hand full blocks to the
// background writer (whose own CPU time is not counted: it runs off the hot
// path, on another core when there is one).
func BenchmarkSeries_Record(b *testing.B) {
	for _, kind := range []string{"int", "float", "int-spill", "float-spill"} {
		b.Run(kind, func(b *testing.B) {
			r := metrics.NewRegistry()
			if strings.HasSuffix(kind, "-spill") {
				if err := r.EnableSpill(metrics.SpillConfig{Dir: b.TempDir()}); err != nil {
					b.Fatal(err)
				}
				defer r.CloseSpill(true)
			}
			s, _ := r.NewSeries("x", metrics.SeriesOpts{Float: strings.HasPrefix(kind, "float")})
			rng := rand.New(rand.NewPCG(1, 2))
			vals := make([]int64, 4096)
			for i := range vals {
				vals[i] = 1_000_000 + rng.Int64N(1_000_000_000)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if strings.HasPrefix(kind, "float") {
					s.RecordFloat(float64(vals[i&4095]))
				} else {
					s.Record(vals[i&4095])
				}
			}
		})
	}
}

// BenchmarkRegistry_Snapshot builds live (HDR) and final (exact) snapshots of
// six series holding n samples each.
func BenchmarkRegistry_Snapshot(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		for _, state := range []metrics.State{metrics.StateLive, metrics.StateComplete} {
			b.Run(fmt.Sprintf("%s/n=%d", state, n), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(3, 4))
				r := metrics.NewRegistry()
				var series []*metrics.Series
				for i := range 6 {
					s, _ := r.NewSeries(fmt.Sprint("s", i), metrics.SeriesOpts{Float: i == 5})
					series = append(series, s)
				}
				fill := func() {
					for _, s := range series {
						for range n {
							s.Record(1000 + rng.Int64N(10_000_000_000))
						}
					}
				}
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					r = metrics.NewRegistry()
					series = series[:0]
					for j := range 6 {
						s, _ := r.NewSeries(fmt.Sprint("s", j), metrics.SeriesOpts{Float: j == 5})
						series = append(series, s)
					}
					fill()
					b.StartTimer()
					snap := r.Snapshot(state, 0, 1)
					if len(snap.Metrics) != 6 {
						b.Fatal("missing metrics")
					}
				}
			})
		}
	}
}
