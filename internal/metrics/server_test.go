package metrics_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/metrics"
)

// The server gauges ride as the snapshot's optional seventh element: a
// snapshot without them keeps the five-element form of the Python tool, one
// with them round-trips through msgpack and the dict form (NaN as nil/null),
// and a decoder skips keys it does not know.
func TestSnapshot_ServerGauges(t *testing.T) {
	base := metrics.Snapshot{Counter: 3, TimestampNS: 99, State: metrics.StateLive,
		Metrics: []metrics.Metric{{Kind: metrics.KindCounter, Name: metrics.TrackedIssued, Value: metrics.Int(7)}}}
	b := metrics.AppendSnapshot(nil, &base)
	if n, _, err := msgp.ReadArrayHeaderBytes(b); err != nil || n != 5 {
		t.Fatalf("without server gauges: %d elements (%v), want 5", n, err)
	}
	with := base
	g := metrics.NewServerGauges()
	g.Running, g.Waiting, g.KVCache, g.Failures = 4, 2, 0.25, 3
	with.Server = g
	b = metrics.AppendSnapshot(nil, &with)
	if n, _, _ := msgp.ReadArrayHeaderBytes(b); n != 7 {
		t.Fatalf("with server gauges: %d elements, want 7 (a nil fleet section first)", n)
	}
	got, err := metrics.DecodeSnapshot(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(with, got, cmpopts.EquateNaNs(), cmpopts.IgnoreUnexported(metrics.Num{})); d != "" {
		t.Errorf("msgpack round trip (-want +got):\n%s", d)
	}
	if !math.IsNaN(got.Server.GPUUtil) || got.Server.Running != 4 || got.Server.Failures != 3 {
		t.Errorf("decoded gauges %+v", *got.Server)
	}
	parsed, err := metrics.ParseJSON(with.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(g, parsed.Server, cmpopts.EquateNaNs()); d != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", d)
	}

	// A newer producer's extra key is skipped; a hostile map is refused.
	p := msgp.AppendArrayHeader(nil, 7)
	p = msgp.AppendUint64(p, 1)
	p = msgp.AppendInt64(p, 2)
	p = msgp.AppendString(p, "live")
	p = msgp.AppendInt64(p, 0)
	p = msgp.AppendArrayHeader(p, 0)
	p = msgp.AppendNil(p) // no fleet section
	ok := msgp.AppendMapHeader(p, 2)
	ok = msgp.AppendString(ok, "future_gauge")
	ok = msgp.AppendArrayHeader(ok, 1)
	ok = msgp.AppendString(ok, "x")
	ok = msgp.AppendString(ok, "waiting")
	ok = msgp.AppendFloat64(ok, 5)
	s, err := metrics.DecodeSnapshot(ok)
	if err != nil || s.Server == nil || s.Server.Waiting != 5 || !math.IsNaN(s.Server.Running) {
		t.Errorf("unknown key: %+v, %v", s.Server, err)
	}
	bad := msgp.AppendMapHeader(p, 1<<30)
	if _, err := metrics.DecodeSnapshot(bad); err == nil {
		t.Error("a map header of 2^30 keys was accepted")
	}
}

// A fleet run that scrapes the server carries both trailing elements, in
// order; either one decodes alone.
func TestSnapshot_FleetAndServer(t *testing.T) {
	g := metrics.NewServerGauges()
	g.Running = 2
	for _, s := range []metrics.Snapshot{
		{State: metrics.StateLive, Fleet: []metrics.FleetWorker{{Name: "w1", Issued: 3}}, Server: g},
		{State: metrics.StateLive, Fleet: []metrics.FleetWorker{{Name: "w1", Issued: 3}}},
		{State: metrics.StateLive, Server: g},
	} {
		got, err := metrics.DecodeSnapshot(metrics.AppendSnapshot(nil, &s))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(s, got, cmpopts.EquateNaNs(), cmpopts.EquateEmpty()); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
}
