package tui

import (
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/metrics"
)

// TestView_FleetTable: a fleet run's snapshot shows one row per worker,
// lost ones marked; other runs show no fleet table.
func TestView_FleetTable(t *testing.T) {
	m := Model{width: 100, height: 40, have: true, snap: metrics.Snapshot{State: metrics.StateLive, Fleet: []metrics.FleetWorker{
		{Name: "alpha", Issued: 12, Completed: 10, InFlight: 2, QPS: 5},
		{Name: "beta", Issued: 3, Completed: 3, Lost: true},
	}}}
	v := m.View()
	for _, want := range []string{"worker", "alpha", "beta", "LOST"} {
		if !strings.Contains(v, want) {
			t.Errorf("view has no %q:\n%s", want, v)
		}
	}
	m.snap.Fleet = nil
	if v := m.View(); strings.Contains(v, "in flight ") && strings.Contains(v, "late p99") {
		t.Errorf("a single-host view shows a fleet table:\n%s", v)
	}
}
