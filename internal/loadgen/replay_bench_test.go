package loadgen_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/loadgen"
)

// BenchmarkReplayLateness replays a 10k-request trace recorded at 10k QPS
// (Poisson times) to an instant fake server and reports the scheduler's
// lateness like BenchmarkPoissonLateness, which it is to be read beside.
// "ns" keeps the recorded times exact; "ms" rounds them to milliseconds as
// Mooncake traces are, so about ten requests share each instant.
func BenchmarkReplayLateness(b *testing.B) {
	const n = 10_000
	for _, res := range []time.Duration{1, time.Millisecond} {
		name := "ns"
		if res == time.Millisecond {
			name = "ms"
		}
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(7, 11))
			arr := make([]time.Duration, n)
			t := 0.0
			for i := range arr {
				t += rng.ExpFloat64() / 10_000
				arr[i] = time.Duration(math.Round(t*1e9/float64(res))) * res
			}
			ds := &dataset.Dataset{}
			for i := range n {
				ds.Samples = append(ds.Samples, dataset.Sample{Prompt: fmt.Sprint("p", i)})
			}
			replayLateness(b, loadgen.Config{Mode: loadgen.ModeReplay, Arrivals: arr}, ds)
		})
	}
}

func replayLateness(b *testing.B, cfg loadgen.Config, ds *dataset.Dataset) {
	var all []int64
	for i := 0; i < b.N; i++ {
		all = appendLateness(b, cfg, ds, all)
	}
	reportLateness(b, all)
}
