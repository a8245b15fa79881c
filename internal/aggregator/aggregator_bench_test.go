package aggregator_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/event"
)

// BenchmarkAggregator_Ingest folds issued + recv_first + complete per sample
// (with a usage payload, so OSL and TPOT fire) in batches of 1024 records, on
// one goroutine. events/s is the figure of merit on a quiet machine;
// cpu-ns/event (the process's user + sys CPU time per event, GC included)
// is the one to compare on a shared, loaded machine, where wall time counts
// the time the benchmark waited for a core.
//
// goodput=on adds a goodput rule: the cost of deciding, per completion,
// whether the sample is good; `benchstat -col /goodput` compares the two
// (run -count 1 in a loop to interleave them under the same load).
func BenchmarkAggregator_Ingest(b *testing.B) {
	b.Run("goodput=off", func(b *testing.B) {
		benchIngest(b, aggregator.Config{Streaming: true})
	})
	b.Run("goodput=on", func(b *testing.B) {
		benchIngest(b, aggregator.Config{Streaming: true,
			Goodput: &aggregator.GoodputBounds{TTFT: 2000, Latency: 10_000, TPOT: 2000}})
	})
}

func benchIngest(b *testing.B, cfg aggregator.Config) {
	const samples = 1 << 16
	uuids := make([]string, samples)
	for i := range uuids {
		uuids[i] = fmt.Sprintf("%032x", i*2654435761)
	}
	out := &event.Output{Text: "some generated words here", Streamed: true, FirstChunkLen: 4,
		Usage: &event.Usage{PromptTokens: 100, CompletionTokens: 5}}
	events := make([]event.Record, 0, 3*samples)
	ts := int64(1_000_000)
	for i := range samples {
		events = append(events,
			event.Record{Type: event.SampleIssued, TimestampNS: ts, SampleUUID: uuids[i]},
			event.Record{Type: event.SampleRecvFirst, TimestampNS: ts + 1000, SampleUUID: uuids[i]},
			event.Record{Type: event.SampleComplete, TimestampNS: ts + 5000, SampleUUID: uuids[i], Data: out})
		ts += 10
	}
	cfg.Logger = slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	a, err := aggregator.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	a.Process([]event.Record{{Type: event.SessionStarted, TimestampNS: 1}, {Type: event.SessionStartTracking, TimestampNS: 1}})
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	n := 0
	for i := 0; i < b.N; i++ {
		j := (i * 1024) % len(events)
		end := min(j+1024, len(events))
		a.Process(events[j:end])
		n += end - j
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/event")
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// cpuTime is the process's user + sys CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
