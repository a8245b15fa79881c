package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
)

// fleet draws the per-worker table of a fleet run's snapshot and returns
// how many lines it wrote (none outside fleet runs).
func (m Model) fleet(b *strings.Builder) int {
	if len(m.snap.Fleet) == 0 {
		return 0
	}
	b.WriteString(styleHead.Render(FleetHeader()))
	b.WriteString("\n")
	for _, line := range FleetLines(m.snap.Fleet) {
		b.WriteString(line)
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return len(m.snap.Fleet) + 2
}

// FleetHeader is the header line of a fleet table.
func FleetHeader() string {
	return fmt.Sprintf("%-16s %9s %9s %7s %9s %9s %10s", "worker", "issued", "completed", "failed", "in flight", "QPS", "late p99")
}

// FleetLines renders one line per worker of a fleet table (the dashboard's
// and the plain progress output's).
func FleetLines(ws []metrics.FleetWorker) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		name := w.Name
		if len(name) > 16 {
			name = name[:15] + "…"
		}
		line := fmt.Sprintf("%-16s %9d %9d %7d %9d %9.1f %10s", name, w.Issued, w.Completed, w.Failed, w.InFlight, w.QPS,
			time.Duration(w.LatenessP99NS).Round(time.Microsecond))
		if w.Lost {
			line += " " + styleWarn.Render("LOST")
		}
		out[i] = line
	}
	return out
}
