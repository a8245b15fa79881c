package eventlog_test

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
)

// BenchmarkLog_request250 measures the log's cost per streamed request of
// 250 chunks (issue, 250 recv records, complete), per mode: the compact
// record must stay cheap whatever the stream length.
func BenchmarkLog_request250(b *testing.B) {
	const chunks = 250
	prompt := string(make([]byte, 600))
	text := string(make([]byte, 1000))
	for _, mode := range []eventlog.Mode{eventlog.ModeCompact, eventlog.ModeFull} {
		b.Run(string(mode), func(b *testing.B) {
			l, err := eventlog.Open(eventlog.Options{Dir: b.TempDir(), Mode: mode, Streaming: true})
			if err != nil {
				b.Fatal(err)
			}
			recs := make([]event.Record, 0, chunks+2)
			ts := int64(1)
			_ = l.Write(&event.Record{Type: event.SessionStarted, TimestampNS: ts})
			_ = l.Write(&event.Record{Type: event.SessionStartTracking, TimestampNS: ts})
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := range b.N {
				id := fmt.Sprintf("%032x", i)
				recs = recs[:0]
				recs = append(recs, event.Record{Type: event.SampleIssued, TimestampNS: ts, SampleUUID: id,
					Data: &event.PromptData{Text: prompt, ScheduledNS: ts, Index: i%1000 + 1}})
				for c := range chunks {
					typ := event.SampleRecvNonFirst
					if c == 0 {
						typ = event.SampleRecvFirst
					}
					ts += 1000
					recs = append(recs, event.Record{Type: typ, TimestampNS: ts, SampleUUID: id})
				}
				recs = append(recs, event.Record{Type: event.SampleComplete, TimestampNS: ts, SampleUUID: id,
					Data: &event.Output{Text: text, Streamed: true, FirstChunkLen: 4, Usage: &event.Usage{PromptTokens: 128, CompletionTokens: chunks}, FinishReason: "length"}})
				for j := range recs {
					if err := l.Write(&recs[j]); err != nil {
						b.Fatal(err)
					}
				}
			}
			// CPU time, unlike wall time, holds on a machine busy with
			// other work.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			b.StopTimer()
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// cpuTime returns the user+system CPU time of this process in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
