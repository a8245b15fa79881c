package report

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/inferbench/inferbench/internal/metrics"
)

// writeServer writes the "Server view" section: the server's own metrics
// over the tracking window beside the client's numbers (see
// metrics.ServerView); nothing when the run scraped none.
func (r *Report) writeServer(w *bufio.Writer) {
	v := r.Server
	if v == nil {
		return
	}
	fmt.Fprintln(w, "------------------- Server view -------------------")
	targets := make([]string, 0, len(v.Targets))
	for _, t := range v.Targets {
		targets = append(targets, fmt.Sprintf("%s (%s)", t.URL, t.Family))
	}
	fmt.Fprintf(w, "Scraped: %s\n", strings.Join(targets, ", "))
	fmt.Fprintf(w, "Scrapes: %d, failed %d; tracked window %.2f s\n", v.Scrapes, v.Failures, v.WindowS)
	gauge := func(name string, g *metrics.GaugeStat, scale float64, unit string) {
		if g != nil {
			fmt.Fprintf(w, "%-26s mean %8.2f%s  max %8.2f%s\n", name+":", g.Mean*scale, unit, g.Max*scale, unit)
		}
	}
	gauge("Requests running", v.Running, 1, "")
	gauge("Requests waiting", v.Waiting, 1, "")
	gauge("KV-cache use", v.KVCache, 100, " %")
	if v.PrefixHitRate != nil {
		fmt.Fprintf(w, "%-26s %.2f %%\n", "Prefix-cache hit rate:", 100**v.PrefixHitRate)
	}
	tokens := func(name string, t *metrics.TokenCount) {
		if t == nil {
			return
		}
		fmt.Fprintf(w, "%-26s server %.0f", name+":", t.Server)
		if t.Client != nil {
			fmt.Fprintf(w, "  client %.0f", *t.Client)
		}
		fmt.Fprintln(w)
	}
	tokens("Prompt tokens", v.PromptTokens)
	tokens("Generation tokens", v.GenerationTokens)
	ms := func(p *float64) string {
		if p == nil {
			return "     N/A"
		}
		return fmt.Sprintf("%8.2f", *p*1e3)
	}
	lat := func(name string, l *metrics.LatencyCompare) {
		if l == nil {
			return
		}
		fmt.Fprintf(w, "%-26s server p50 %s p99 %s ms (%.0f obs.)  client p50 %s p99 %s ms\n",
			name+":", ms(l.ServerP50), ms(l.ServerP99), l.Count, ms(l.ClientP50), ms(l.ClientP99))
	}
	lat("TTFT", v.TTFT)
	lat("TPOT (server: per token)", v.TPOT)
	lat("E2E latency", v.Latency)
	for _, g := range v.GPUs {
		fmt.Fprintf(w, "GPU %s:", g.GPU)
		if g.UtilPct != nil {
			fmt.Fprintf(w, " util mean %.1f %% max %.1f %%;", g.UtilPct.Mean, g.UtilPct.Max)
		}
		if g.MemMiB != nil {
			fmt.Fprintf(w, " memory mean %.0f MiB max %.0f MiB;", g.MemMiB.Mean, g.MemMiB.Max)
		}
		if g.PowerW != nil {
			fmt.Fprintf(w, " power mean %.1f W max %.1f W;", g.PowerW.Mean, g.PowerW.Max)
		}
		if g.EnergyJ != nil {
			fmt.Fprintf(w, " energy %.1f J", *g.EnergyJ)
		}
		fmt.Fprintln(w)
	}
	if v.EnergyJ != nil {
		fmt.Fprintf(w, "%-26s %.1f J", "GPU energy:", *v.EnergyJ)
		if v.EnergyPerTokenJ != nil {
			fmt.Fprintf(w, "; energy per output token %.4f J/token", *v.EnergyPerTokenJ)
		}
		fmt.Fprintln(w)
	}
	if v.LastError != "" {
		fmt.Fprintf(w, "Last scrape error: %s\n", v.LastError)
	}
	fmt.Fprintln(w)
}
