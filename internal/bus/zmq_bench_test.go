package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
)

// BenchmarkZMQEvents publishes sample events over ipc in batches to a
// subscriber goroutine that decodes them, and reports delivered events/s.
// Every event is counted at both ends; any loss fails the benchmark.
func BenchmarkZMQEvents(b *testing.B) {
	for _, tc := range []struct {
		name  string
		batch int
		codec bus.Codec[event.Record]
	}{
		{"batch=100", 100, event.Codec{}},
		{"batch=1000", 1000, event.Codec{}},
		// The transport alone: the subscriber does not decode payloads.
		{"batch=1000/nodecode", 1000, skipCodec{}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			addr := ipcAddr(b, "bench.sock")
			opts := bus.EventPublisherOptions()
			opts.BatchSize = tc.batch
			pub, err := bus.NewZMQPublisher[event.Record](addr, event.Codec{}, opts)
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			sub, err := bus.NewZMQSubscriber[event.Record](addr, tc.codec, bus.ZMQSubOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := pub.WaitSubscribers(ctx, 1); err != nil {
				b.Fatal(err)
			}
			recs := sampleRecords(4096)
			received := make(chan int)
			go func() {
				n := 0
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				for n < b.N {
					items, err := sub.Next(ctx)
					if err != nil {
						break
					}
					n += len(items)
				}
				received <- n
			}()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			published := 0
			for i := range b.N {
				if err := pub.Publish(recs[i%len(recs)]); err != nil {
					b.Fatal(err)
				}
				published++
			}
			if err := pub.Flush(); err != nil {
				b.Fatal(err)
			}
			got := <-received
			elapsed := time.Since(start)
			b.StopTimer()
			if got != published {
				b.Fatalf("published %d events, received %d", published, got)
			}
			b.ReportMetric(float64(got)/elapsed.Seconds(), "events/s")
		})
	}
}

// BenchmarkInProc publishes records to one in-process subscriber goroutine
// and reports delivered events/s.
func BenchmarkInProc(b *testing.B) {
	recs := sampleRecords(4096)
	bs := bus.NewInProc[event.Record](0)
	sub := bs.Subscribe()
	received := make(chan int)
	go func() {
		n := 0
		for {
			items, err := sub.Next(context.Background())
			if err != nil {
				break
			}
			n += len(items)
		}
		received <- n
	}()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if err := bs.Publish(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
	_ = bs.Close()
	got := <-received
	elapsed := time.Since(start)
	b.StopTimer()
	if got != b.N {
		b.Fatalf("published %d, received %d", b.N, got)
	}
	b.ReportMetric(float64(got)/elapsed.Seconds(), "events/s")
}

// skipCodec encodes like event.Codec but decodes nothing, to measure the
// transport without the cost of building records.
type skipCodec struct{ event.Codec }

func (skipCodec) Decode([]byte) (event.Record, error) { return event.Record{}, nil }
