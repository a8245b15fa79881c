package html

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/inferbench/inferbench/internal/report"
)

// conversationsSection writes a multi-turn run's conversations: how many
// started, completed, failed or were cut short, and TTFT by turn number
// (a growing history slows the prefill of later turns, unless the server
// caches the prefix).
func conversationsSection(p *page, r *report.Report) {
	c := r.Conversations
	if c == nil {
		return
	}
	p.section("conversations", "Conversations",
		"A multi-turn run sends each conversation's turns in order, every turn carrying the history so far. "+
			"TTFT by turn shows whether later turns, with longer prompts, wait longer for their first token.")
	p.cards([]card{
		{Label: "conversations started", Value: strconv.FormatInt(c.Started, 10)},
		{Label: "completed", Value: strconv.FormatInt(c.Completed, 10)},
		{Label: "failed", Value: strconv.FormatInt(c.Failed, 10), Bad: c.Failed > 0},
		{Label: "cut short by the run's end", Value: strconv.FormatInt(c.Unfinished, 10)},
	})
	if len(c.TTFTByTurn) == 0 {
		p.end()
		return
	}
	ch := &chart{Title: "TTFT by turn", XLabel: "turn", YLabel: "TTFT (ms)", YFrom0: true}
	var p50, p90, p99 []pt
	var rows [][]cell
	for i, t := range c.TTFTByTurn {
		// "17+" and the like: the open last bucket sits one past the others.
		x := float64(i + 1)
		if n, err := strconv.Atoi(strings.TrimSuffix(t.Turn, "+")); err == nil {
			x = float64(n)
		}
		p50 = append(p50, pt{x, float64(t.P50)})
		p90 = append(p90, pt{x, float64(t.P90)})
		p99 = append(p99, pt{x, float64(t.P99)})
		rows = append(rows, []cell{txt(t.Turn), cn(float64(t.Count)), cn(float64(t.P50)), cn(float64(t.P90)), cn(float64(t.P99))})
	}
	tip := func(k string, ps []pt) []string {
		out := make([]string, len(ps))
		for i, q := range ps {
			out[i] = fmt.Sprintf("turn %s: TTFT %s %s ms", c.TTFTByTurn[i].Turn, k, fmtNum(q.Y))
		}
		return out
	}
	ch.Curves = []curve{
		{Name: "p50", Dash: true, Markers: true, Pts: p50, Tips: tip("p50", p50)},
		{Name: "p90", Color: 4, Markers: true, Pts: p90, Tips: tip("p90", p90)},
		{Name: "p99", Color: 1, Markers: true, Pts: p99, Tips: tip("p99", p99)},
	}
	p.grid(ch)
	p.table([]string{"turn", "requests", "TTFT p50 (ms)", "TTFT p90 (ms)", "TTFT p99 (ms)"}, rows, true)
	p.end()
}
