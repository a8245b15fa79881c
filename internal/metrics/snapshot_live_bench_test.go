package metrics_test

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
)

// streamedRun builds the registry a streamed benchmark's aggregator has (its
// series with their dictionary options; counters do not matter here) and
// fills it with ~1M values: 4000 requests of 250 chunks each, so that
// chunk_delta_ns holds most of them. add records the values of n more
// requests (what arrives between two live snapshots).
func streamedRun(tb testing.TB) (r *metrics.Registry, add func(n int)) {
	r = metrics.NewRegistry()
	s := map[string]*metrics.Series{}
	for _, name := range []string{metrics.SeriesTTFT, metrics.SeriesLatency, metrics.SeriesFailedLatency,
		metrics.SeriesChunkDelta, metrics.SeriesTPOT, metrics.SeriesISL, metrics.SeriesOSL, metrics.SeriesLateness} {
		d, ok := metrics.Lookup(name)
		if !ok {
			tb.Fatalf("%s not in the dictionary", name)
		}
		o := d.SeriesOpts()
		ser, err := r.NewSeries(name, o)
		if err != nil {
			tb.Fatal(err)
		}
		s[name] = ser
	}
	rng := rand.New(rand.NewPCG(5, 6))
	add = func(n int) {
		for range n {
			ttft := 20e6 + rng.ExpFloat64()*30e6
			gaps := int64(0)
			for range 250 {
				g := int64(2e6 + rng.ExpFloat64()*8e6)
				gaps += g
				s[metrics.SeriesChunkDelta].Record(g)
			}
			s[metrics.SeriesTTFT].Record(int64(ttft))
			s[metrics.SeriesLatency].Record(int64(ttft) + gaps)
			s[metrics.SeriesTPOT].RecordFloat(float64(gaps) / 249)
			s[metrics.SeriesISL].Record(50 + rng.Int64N(2000))
			s[metrics.SeriesOSL].Record(250)
			s[metrics.SeriesLateness].Record(int64(1e3 + rng.ExpFloat64()*50e3))
		}
	}
	add(4000)
	return r, add
}

// BenchmarkRegistry_SnapshotLive is one live snapshot of a streamed run's
// registry (~1M values). changed: 64 requests' values arrive between two
// snapshots (every series but failed_sample_latency_ns changes), as at a
// 100 ms publish interval under load; idle: nothing arrives. cpu-ns/op is the
// process's user + sys CPU per snapshot (GC included): compare it on a
// shared machine, where wall time includes waiting for a core.
func BenchmarkRegistry_SnapshotLive(b *testing.B) {
	for _, mode := range []string{"changed", "idle"} {
		b.Run(mode, func(b *testing.B) {
			r, add := streamedRun(b)
			r.Snapshot(metrics.StateLive, 0, 1)
			b.ReportAllocs()
			b.ResetTimer()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				if mode == "changed" {
					b.StopTimer()
					add(64)
					b.StartTimer()
				}
				cpu0 := cpuTime()
				snap := r.Snapshot(metrics.StateLive, 0, int64(i))
				cpu += cpuTime() - cpu0
				if len(snap.Metrics) != 8 {
					b.Fatal("missing metrics")
				}
			}
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the process's user + sys CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
