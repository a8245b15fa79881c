package metrics_test

import (
	"bytes"
	"errors"
	"runtime"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/metrics"
)

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// snapshotHead is a snapshot's fixed fields, up to the metrics array.
func snapshotHead() []byte {
	b := msgp.AppendArrayHeader(nil, 5)
	b = msgp.AppendUint64(b, 1)
	b = msgp.AppendInt64(b, 2)
	b = msgp.AppendString(b, "live")
	return msgp.AppendInt64(b, 0)
}

// seriesHead is one series metric up to its percentile map.
func seriesHead(b []byte) []byte {
	b = msgp.AppendArrayHeader(b, 9)
	b = msgp.AppendString(b, "series")
	b = msgp.AppendString(b, "ttft_ns")
	for range 5 {
		b = msgp.AppendInt64(b, 1)
	}
	return b
}

// hostileSnapshots are frames whose lengths claim far more than they hold.
func hostileSnapshots() map[string][]byte {
	out := map[string][]byte{}
	// 0xffffffff metrics in a frame of a few dozen bytes.
	out["metrics 0xffffffff"] = append(snapshotHead(), 0xdd, 0xff, 0xff, 0xff, 0xff, 0x93, 0xa7)
	// Just past what the remaining bytes could hold: one counter fits in 11.
	counter := msgp.AppendArrayHeader(nil, 3)
	counter = msgp.AppendString(counter, "counter")
	counter = msgp.AppendString(counter, "")
	counter = msgp.AppendInt64(counter, 0)
	b := msgp.AppendArrayHeader(snapshotHead(), 4)
	for range 3 {
		b = append(b, counter...)
	}
	out["metrics one past"] = b
	// A metric of 0xffffffff fields.
	out["metric fields 0xffffffff"] = append(msgp.AppendArrayHeader(snapshotHead(), 1), 0xdd, 0xff, 0xff, 0xff, 0xff, 0xa7)
	// 0xffffffff percentiles and 0xffffffff buckets.
	b = seriesHead(msgp.AppendArrayHeader(snapshotHead(), 1))
	out["percentiles 0xffffffff"] = append(b, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa4)
	b = msgp.AppendMapHeader(b, 0)
	out["buckets 0xffffffff"] = append(b, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x92)
	// A string claiming 0xffffffff bytes.
	b = msgp.AppendArrayHeader(nil, 5)
	b = msgp.AppendUint64(b, 1)
	b = msgp.AppendInt64(b, 2)
	out["state string 0xffffffff"] = append(b, 0xdb, 0xff, 0xff, 0xff, 0xff, 'l')
	// A counter whose trailing (skipped) field is nested 1000 deep.
	b = msgp.AppendArrayHeader(snapshotHead(), 1)
	b = msgp.AppendArrayHeader(b, 4)
	b = msgp.AppendString(b, "counter")
	b = msgp.AppendString(b, "c")
	b = msgp.AppendInt64(b, 0)
	for range 1000 {
		b = append(b, 0x91)
	}
	out["nested 1000 deep"] = append(b, 0xc0)
	return out
}

// TestDecodeSnapshot_HostileLengths decodes frames whose lengths claim up to
// 0xffffffff elements (the 50-byte frame that once killed watch with "out of
// memory") and checks that each is an error and allocates under 64 KiB.
func TestDecodeSnapshot_HostileLengths(t *testing.T) {
	for name, frame := range hostileSnapshots() {
		t.Run(name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = metrics.DecodeSnapshot(frame) })
			if !errors.Is(err, metrics.ErrSnapshot) {
				t.Errorf("error %v, want ErrSnapshot", err)
			}
			if n > 64<<10 {
				t.Errorf("a %d-byte frame allocated %d bytes", len(frame), n)
			}
		})
	}
}

// FuzzDecodeSnapshot checks that no frame makes the decoder panic or allocate
// more than a small multiple of the frame's size, and that whatever decodes
// re-encodes to itself.
func FuzzDecodeSnapshot(f *testing.F) {
	for _, st := range []metrics.State{metrics.StateLive, metrics.StateComplete} {
		snap := smallSnapshot(st)
		f.Add(metrics.AppendSnapshot(nil, &snap))
	}
	for _, frame := range hostileSnapshots() {
		f.Add(frame)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var s metrics.Snapshot
		var err error
		if n := allocated(func() { s, err = metrics.DecodeSnapshot(p) }); n > 32*uint64(len(p))+64<<10 {
			t.Fatalf("a %d-byte frame allocated %d bytes", len(p), n)
		}
		if err != nil {
			return
		}
		// Re-encoding is a fixed point: compared as bytes, since a
		// reflective diff per input would make fuzzing crawl.
		b := metrics.AppendSnapshot(nil, &s)
		again, err := metrics.DecodeSnapshot(b)
		if err != nil {
			t.Fatalf("re-encoded snapshot does not decode: %v", err)
		}
		if !bytes.Equal(b, metrics.AppendSnapshot(nil, &again)) {
			t.Fatal("re-encoding the decoded snapshot changed it")
		}
	})
}

// smallSnapshot is a snapshot with a counter and a short series, as a seed.
func smallSnapshot(st metrics.State) metrics.Snapshot {
	return metrics.Snapshot{Counter: 3, TimestampNS: 4, State: st, Metrics: []metrics.Metric{
		{Kind: metrics.KindCounter, Name: "total_samples_issued", Value: metrics.Int(7)},
		{Kind: metrics.KindSeries, Name: "ttft_ns", Count: 2, Total: metrics.Int(30), Min: metrics.Int(10),
			Max: metrics.Int(20), SumSq: metrics.Int(500),
			Percentiles: []metrics.Percentile{{Key: "99.0", Value: 20}, {Key: "50.0", Value: 10}},
			Histogram:   []metrics.Bucket{{Lo: 10, Hi: 15, Count: 1}, {Lo: 15, Hi: 20, Count: 1}}},
	}}
}
