package metrics_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/metrics"
)

// TestSnapshot_FleetRoundTrip: the fleet section survives the wire; a
// snapshot without one keeps the 5-element form; a hostile count is refused.
func TestSnapshot_FleetRoundTrip(t *testing.T) {
	s := metrics.Snapshot{Counter: 3, TimestampNS: 9, State: metrics.StateLive, Fleet: []metrics.FleetWorker{
		{Name: "w0", Issued: 10, Completed: 8, Failed: 1, InFlight: 2, QPS: 4.5, LatenessP99NS: 1200,
			ClockOffsetNS: -2_500_000, ClockUncertaintyNS: 30_000},
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

// TestSnapshot_FleetEightFields: a worker of the 8-field form (before the
// clock fields) decodes with no clock estimate, and one with more fields
// than 10 decodes with the extra ones skipped.
func TestSnapshot_FleetEightFields(t *testing.T) {
	for _, tc := range []struct {
		fields   uint32
		wantUnc  int64
		trailing bool
	}{{8, 0, false}, {10, 7, false}, {11, 7, true}} {
		b := metrics.AppendSnapshot(nil, &metrics.Snapshot{State: metrics.StateLive})
		b[0] = 0x96 // a sixth element follows: the fleet section
		b = msgp.AppendArrayHeader(b, 1)
		b = msgp.AppendArrayHeader(b, tc.fields)
		b = msgp.AppendString(b, "w0")
		for _, v := range []int64{5, 4, 1, 1} {
			b = msgp.AppendInt64(b, v)
		}
		b = msgp.AppendFloat64(b, 2.5)
		b = msgp.AppendInt64(b, 900)
		b = msgp.AppendBool(b, false)
		if tc.fields >= 10 {
			b = msgp.AppendInt64(b, -3)
			b = msgp.AppendInt64(b, 7)
		}
		if tc.trailing {
			b = msgp.AppendString(b, "a later field")
		}
		got, err := metrics.DecodeSnapshot(b)
		if err != nil {
			t.Fatalf("%d fields: %v", tc.fields, err)
		}
		want := metrics.FleetWorker{Name: "w0", Issued: 5, Completed: 4, Failed: 1, InFlight: 1, QPS: 2.5, LatenessP99NS: 900}
		if tc.fields >= 10 {
			want.ClockOffsetNS, want.ClockUncertaintyNS = -3, tc.wantUnc
		}
		if len(got.Fleet) != 1 || got.Fleet[0] != want {
			t.Errorf("%d fields: fleet %+v, want [%+v]", tc.fields, got.Fleet, want)
		}
	}
}
