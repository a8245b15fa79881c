package bench

import (
	"testing"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
)

// batchRecorder records how records arrive: one call per batch or record.
type batchRecorder struct {
	calls []int // records per call; -1 for a Publish
	recs  []event.Record
}

func (b *batchRecorder) Publish(r event.Record) error {
	b.calls = append(b.calls, -1)
	b.recs = append(b.recs, r)
	return nil
}
func (b *batchRecorder) PublishBatch(rs []event.Record) error {
	b.calls = append(b.calls, len(rs))
	b.recs = append(b.recs, rs...)
	return nil
}
func (b *batchRecorder) Flush() error { return nil }
func (b *batchRecorder) Close() error { return nil }

// plainRecorder takes records one at a time only.
type plainRecorder struct{ recs []event.Record }

func (p *plainRecorder) Publish(r event.Record) error { p.recs = append(p.recs, r); return nil }
func (p *plainRecorder) Flush() error                 { return nil }
func (p *plainRecorder) Close() error                 { return nil }

// TestWindowTap_PublishBatch: a batch without window ends reaches a
// batching publisher in one call (the fleet coordinator's ingest path), in
// order; a publisher without batches gets the records one by one.
func TestWindowTap_PublishBatch(t *testing.T) {
	recs := []event.Record{
		{Type: event.SampleIssued, TimestampNS: 1, SampleUUID: "a"},
		{Type: event.SampleRecvFirst, TimestampNS: 2, SampleUUID: "a"},
		{Type: event.SampleComplete, TimestampNS: 3, SampleUUID: "a"},
	}
	b := &batchRecorder{}
	var _ bus.Publisher[event.Record] = b
	if err := (windowTap{Publisher: b}).PublishBatch(recs); err != nil {
		t.Fatal(err)
	}
	if len(b.calls) != 1 || b.calls[0] != 3 || len(b.recs) != 3 || b.recs[2].TimestampNS != 3 {
		t.Fatalf("batching publisher: calls %v, records %+v", b.calls, b.recs)
	}
	p := &plainRecorder{}
	if err := (windowTap{Publisher: p}).PublishBatch(recs); err != nil {
		t.Fatal(err)
	}
	if len(p.recs) != 3 || p.recs[1].Type != event.SampleRecvFirst {
		t.Fatalf("plain publisher: records %+v", p.recs)
	}
}
