package loadgen_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/loadgen"
)

// BenchmarkPoissonLateness issues 10k requests at 10k QPS (Poisson) to an
// instant fake server and reports the scheduler's lateness (actual −
// intended issue time): p50, p99 and max in microseconds.
func BenchmarkPoissonLateness(b *testing.B) {
	benchLateness(b, loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 10_000})
}

// BenchmarkGammaLateness is BenchmarkPoissonLateness with gamma
// inter-arrivals of shape 0.25 (bursty: many near-zero gaps) and 4.
func BenchmarkGammaLateness(b *testing.B) {
	for _, k := range []float64{0.25, 4} {
		b.Run(fmt.Sprint("K=", k), func(b *testing.B) {
			benchLateness(b, loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 10_000, Burstiness: k})
		})
	}
}

// BenchmarkRampLateness ramps to 10k QPS over the first half second.
func BenchmarkRampLateness(b *testing.B) {
	benchLateness(b, loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 10_000, RampUp: 500 * time.Millisecond})
}

// BenchmarkCappedLateness is BenchmarkPoissonLateness under a concurrency
// cap of 64 (never reached by the instant server): the cap's cost on the
// scheduler. Lateness is release − intended there.
func BenchmarkCappedLateness(b *testing.B) {
	benchLateness(b, loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 10_000, MaxConcurrency: 64})
}

func benchLateness(b *testing.B, cfg loadgen.Config) {
	const n = 10_000
	var all []int64
	for i := 0; i < b.N; i++ {
		c := cfg
		c.NumSamples, c.Seed = n, uint64(i+1)
		all = appendLateness(b, c, dataset3(100), all)
	}
	reportLateness(b, all)
}

// appendLateness runs one session against an instant fake server and
// appends every issued request's lateness (issue, or release under a
// concurrency cap, minus intended time) to all.
func appendLateness(b *testing.B, cfg loadgen.Config, ds *dataset.Dataset, all []int64) []int64 {
	bb := bus.NewInProc[event.Record](0)
	sub := bb.Subscribe()
	s, err := loadgen.New(cfg, ds, &fakeDoer{}, bb)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			batch, err := sub.Next(context.Background())
			if err != nil {
				return
			}
			for _, r := range batch {
				if p, ok := r.Data.(*event.PromptData); ok && r.Type == event.SampleIssued {
					issued := r.TimestampNS
					if p.ReleasedNS != 0 {
						issued = p.ReleasedNS
					}
					all = append(all, issued-p.ScheduledNS)
				}
			}
		}
	}()
	if _, err := s.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	_ = bb.Close()
	<-done
	return all
}

// reportLateness reports the p50, p99 and max of all in microseconds.
func reportLateness(b *testing.B, all []int64) {
	slices.Sort(all)
	q := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / 1e3 }
	b.ReportMetric(q(0.5), "p50-us")
	b.ReportMetric(q(0.99), "p99-us")
	b.ReportMetric(float64(all[len(all)-1])/1e3, "max-us")
}
