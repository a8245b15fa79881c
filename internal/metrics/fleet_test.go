package metrics_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inferbench/inferbench/internal/metrics"
)

// TestSnapshot_FleetRoundTrip: the fleet section survives the wire; a
// snapshot without one keeps the 5-element form; a hostile count is refused.
func TestSnapshot_FleetRoundTrip(t *testing.T) {
	s := metrics.Snapshot{Counter: 3, TimestampNS: 9, State: metrics.StateLive, Fleet: []metrics.FleetWorker{
		{Name: "w0", Issued: 10, Completed: 8, Failed: 1, InFlight: 2, QPS: 4.5, LatenessP99NS: 1200},
		{Name: "w1", Lost: true},
	}}
	got, err := metrics.DecodeSnapshot(metrics.AppendSnapshot(nil, &s))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.Fleet, got.Fleet); diff != "" {
		t.Errorf("fleet section (-sent +got):\n%s", diff)
	}
	plain := metrics.AppendSnapshot(nil, &metrics.Snapshot{State: metrics.StateLive})
	if plain[0] != 0x95 {
		t.Errorf("a snapshot without a fleet starts %#x, want a 5-element array", plain[0])
	}
	bad := metrics.AppendSnapshot(nil, &metrics.Snapshot{State: metrics.StateLive})
	bad[0] = 0x96
	bad = append(bad, 0xdd, 0xff, 0xff, 0xff, 0xff)
	if _, err := metrics.DecodeSnapshot(bad); err == nil {
		t.Error("a fleet section claiming 4G workers decoded")
	}
}
