package tui

import (
	"fmt"
	"math"
	"strings"
)

// server draws the server's own gauges when the run scrapes its metrics
// (the snapshot carries them) and reports whether it did: requests running
// and waiting on the server, its KV-cache use and, with a GPU exporter,
// GPU utilisation and power.
func (m Model) server(b *strings.Builder) bool {
	g := m.snap.Server
	if g == nil {
		return false
	}
	num := func(v float64, format string) string {
		if math.IsNaN(v) {
			return "–"
		}
		return fmt.Sprintf(format, v)
	}
	fmt.Fprintf(b, "Server   running %s  waiting %s  KV cache %s",
		num(g.Running, "%.0f"), num(g.Waiting, "%.0f"), num(100*g.KVCache, "%.1f%%"))
	if !math.IsNaN(g.GPUUtil) || !math.IsNaN(g.PowerW) {
		fmt.Fprintf(b, "  GPU %s %s", num(g.GPUUtil, "%.0f%%"), num(g.PowerW, "%.0f W"))
	}
	if g.Failures > 0 {
		fmt.Fprintf(b, "  (%d scrapes failed)", g.Failures)
	}
	b.WriteString("\n")
	return true
}
