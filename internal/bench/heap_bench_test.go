package bench_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/loadgen"
)

// instantDoer answers at once with a fixed output and usage.
type instantDoer struct{ streamed bool }

func (d instantDoer) Do(_ context.Context, _ *client.Request, obs client.Observer) (*event.Output, error) {
	if d.streamed {
		obs.OnChunk(event.Now(), true)
		obs.OnChunk(event.Now(), false)
	}
	return &event.Output{Text: "one two three four", Streamed: d.streamed, FirstChunkLen: 3,
		Usage: &event.Usage{PromptTokens: 16, CompletionTokens: 4}, FinishReason: "stop"}, nil
}

// BenchmarkHeapPerSample runs 1M samples through the load generator, the
// in-process bus and the aggregator (an instant fake server) and reports the
// heap that remains per completed sample once the run is over and collected:
// what a long run costs in memory.
func BenchmarkHeapPerSample(b *testing.B) {
	for _, streamed := range []bool{false, true} {
		name := "non-streaming"
		if streamed {
			name = "streaming"
		}
		b.Run(name, func(b *testing.B) {
			const n = 1_000_000
			for i := 0; i < b.N; i++ {
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)

				events := bus.NewInProc[event.Record](0)
				sub := events.Subscribe()
				agg, err := aggregator.New(aggregator.Config{Streaming: streamed, Logger: quiet()}, nil)
				if err != nil {
					b.Fatal(err)
				}
				s, err := loadgen.New(loadgen.Config{Mode: loadgen.ModeOffline, NumSamples: n, MaxInFlight: 256},
					synthetic(b, 1000), instantDoer{streamed}, events)
				if err != nil {
					b.Fatal(err)
				}
				done := make(chan struct{})
				go func() { defer close(done); _, _ = agg.Run(context.Background(), sub) }()
				res, err := s.Run(context.Background())
				if err != nil || res.Completed != n {
					b.Fatalf("%v: %d completed", err, res.Completed)
				}
				_ = events.Close()
				<-done

				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/sample")
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "samples/s")
				runtime.KeepAlive(agg)
			}
		})
	}
}
