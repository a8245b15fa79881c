package fleet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
)

// fakeWorker is the wire side of a worker without a load generator: it
// registers, then sends pre-encoded event batches as fast as the
// coordinator takes them.
type fakeWorker struct {
	ctl, ev *zmq.Socket
	index   uint32
}

func newFakeWorker(b testing.TB, zctx *zmq.Context, addr, name string) *fakeWorker {
	b.Helper()
	w := &fakeWorker{}
	var err error
	for _, s := range []**zmq.Socket{&w.ctl, &w.ev} {
		if *s, err = zctx.NewSocket(zmq.DEALER); err != nil {
			b.Fatal(err)
		}
		_ = (*s).SetLinger(0)
		_ = (*s).SetRcvtimeo(5 * time.Second)
		if err := (*s).Connect(addr); err != nil {
			b.Fatal(err)
		}
	}
	reg := register{Name: name, PID: 1, Host: "bench", Version: protocolVersion}
	if _, err := w.ctl.SendBytes(reg.encode(), 0); err != nil {
		b.Fatal(err)
	}
	for {
		f, err := w.ctl.RecvBytes(0)
		if err != nil {
			b.Fatal(err)
		}
		if f[0] == kindWelcome {
			r := open(f[1:])
			idx, token := r.int(), r.uint()
			w.index = uint32(idx)
			hello := appendUint(appendInt(msg(kindHello, 2), idx), token)
			if _, err := w.ev.SendBytes(hello, 0); err != nil {
				b.Fatal(err)
			}
			return w
		}
	}
}

// requestEvents is the event stream of one streamed request of chunks
// chunks: issued, first, chunks−1 later chunks, complete.
func requestEvents(uuid string, t0 int64, chunks int) []event.Record {
	out := []event.Record{{Type: event.SampleIssued, TimestampNS: t0, SampleUUID: uuid, Data: &event.PromptData{Text: "hello there", Index: 3}}}
	for i := range chunks {
		typ := event.SampleRecvNonFirst
		if i == 0 {
			typ = event.SampleRecvFirst
		}
		out = append(out, event.Record{Type: typ, TimestampNS: t0 + int64(i+1)*1000, SampleUUID: uuid})
	}
	return append(out, event.Record{Type: event.SampleComplete, TimestampNS: t0 + int64(chunks+1)*1000, SampleUUID: uuid,
		Data: &event.Output{Text: "a b c d e f g h i j", Streamed: true, FirstChunkLen: 2, Usage: &event.Usage{PromptTokens: 3, CompletionTokens: int64(chunks)}, FinishReason: "stop"}})
}

// BenchmarkCoordinator_Ingest measures the coordinator's event ingest:
// 4 workers over loopback TCP send batches of 1100 events (100 streamed
// requests of 10 chunks each), the coordinator checks sequences, decodes,
// shifts clocks and publishes on the run's bus; the consumer is a bus
// reader that counts ("bus") or the run's aggregator ("aggregator"). Zero
// loss is checked. events/s is the ingest rate; cpu-ns/req the process's
// CPU time (user+system, the fake workers' sends included, so an upper
// bound) per completed request.
func BenchmarkCoordinator_Ingest(b *testing.B) {
	for _, consumer := range []string{"bus", "aggregator"} {
		b.Run(consumer, func(b *testing.B) { benchIngest(b, consumer) })
	}
}

func benchIngest(b *testing.B, consumer string) {
	const workers, reqsPerFrame, chunks = 4, 100, 10
	const evPerReq = chunks + 2
	const evPerFrame = reqsPerFrame * evPerReq
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := Listen(Options{Listen: "tcp://127.0.0.1:0", Size: workers, Timeout: time.Minute, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	zctx, err := zmq.NewContext()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = zctx.Term() }()
	fw := make([]*fakeWorker, workers)
	for i := range fw {
		fw[i] = newFakeWorker(b, zctx, c.Endpoint(), fmt.Sprintf("w%d", i))
		defer func() { _ = fw[i].ctl.Close(); _ = fw[i].ev.Close() }()
	}
	if err := c.Wait(context.Background(), 10*time.Second); err != nil {
		b.Fatal(err)
	}
	// Frames: each worker's 100 requests, with its own uuids.
	frames := make([][]byte, workers)
	for i, w := range fw {
		var recs []event.Record
		for q := range reqsPerFrame {
			recs = append(recs, requestEvents(fmt.Sprintf("%016x%016x", i+1, q), event.Now(), chunks)...)
		}
		f := appendEventHeader(nil, w.index, 0)
		at := len(f)
		f = append(f, 0xdd, 0, 0, 0, 0)
		refs := newRefTable()
		for j := range recs {
			f = appendEvent(f, &recs[j], refs)
		}
		putUint32(f[at+1:], uint32(2*len(recs)))
		frames[i] = f
	}
	perWorker := max(1, (b.N+workers*evPerFrame-1)/(workers*evPerFrame))
	total := int64(perWorker * workers * evPerFrame)

	events := bus.NewInProc[event.Record](0)
	sub := events.Subscribe()
	c.mu.Lock()
	c.running = true
	r := &Run{c: c, pub: events, peers: append([]*peer(nil), c.peers...), stop: make(chan struct{})}
	c.mu.Unlock()
	var agg *aggregator.Aggregator
	if consumer == "aggregator" {
		if agg, err = aggregator.New(aggregator.Config{Streaming: true, Logger: log}, nil); err != nil {
			b.Fatal(err)
		}
		t0 := event.Now()
		agg.Process([]event.Record{{Type: event.SessionStarted, TimestampNS: t0}, {Type: event.SessionStartTracking, TimestampNS: t0}})
	}
	var got int64
	consumed := make(chan struct{})
	go func() {
		defer close(consumed)
		for got < total {
			batch, err := sub.Next(context.Background())
			if err != nil {
				return
			}
			if agg != nil {
				agg.Process(batch)
			}
			got += int64(len(batch))
		}
	}()
	var ingest sync.WaitGroup
	for _, p := range r.peers {
		ingest.Go(func() { r.ingest(p) })
	}
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	start := time.Now()
	var send sync.WaitGroup
	for i, w := range fw {
		send.Go(func() {
			f := append([]byte(nil), frames[i]...)
			for s := range perWorker {
				putSeq(f, uint64(s+1))
				if _, err := w.ev.SendBytes(f, 0); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	send.Wait()
	<-consumed
	el := time.Since(start)
	b.StopTimer()
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	for _, p := range r.peers {
		c.do(func() { c.closeIngest(p) })
	}
	ingest.Wait()
	if got != total {
		b.Fatalf("consumed %d events of %d", got, total)
	}
	for _, p := range r.peers {
		if g := p.gaps.Load(); g != 0 || p.badFrames.Load() != 0 {
			b.Fatalf("worker %s: %d gaps, %d bad frames", p.name, g, p.badFrames.Load())
		}
	}
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	reqs := total / evPerReq
	b.ReportMetric(float64(total)/el.Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(reqs), "cpu-ns/req")
	b.ReportMetric(0, "ns/op")
}

// putSeq sets the sequence number of an event batch frame.
func putSeq(f []byte, seq uint64) {
	for i := range 8 {
		f[5+i] = byte(seq >> (56 - 8*i))
	}
}
