package report

import (
	"bufio"
	"fmt"

	"github.com/inferbench/inferbench/internal/metrics"
)

// Conversations summarizes a multi-turn run: the conversation counters
// and TTFT by turn number (turns past metrics.MaxTurnSeries share the
// last row, "17+"). The conversation latency has its own section.
type Conversations struct {
	Started   int64 `json:"started"`
	Completed int64 `json:"completed"`
	Failed    int64 `json:"failed"`
	// Unfinished were cut short by the end of the run (a stop or the
	// duration), neither completed nor failed.
	Unfinished int64         `json:"unfinished"`
	TTFTByTurn []TurnLatency `json:"ttft_by_turn,omitempty"`
}

// TurnLatency is the TTFT of one turn number, in milliseconds.
type TurnLatency struct {
	Turn  string `json:"turn"` // "1" … "16", "17+"
	Count int64  `json:"count"`
	P50   Value  `json:"p50_ms"`
	P90   Value  `json:"p90_ms"`
	P99   Value  `json:"p99_ms"`
}

// buildConversations fills r.Conversations when the snapshot has
// conversation metrics.
func (r *Report) buildConversations(s *metrics.Snapshot) {
	if _, ok := s.Find(metrics.TrackedConversationsStarted); !ok {
		return
	}
	c := &Conversations{
		Started:   s.CounterInt(metrics.TrackedConversationsStarted),
		Completed: s.CounterInt(metrics.TrackedConversationsCompleted),
		Failed:    s.CounterInt(metrics.TrackedConversationsFailed),
	}
	c.Unfinished = max(c.Started-c.Completed-c.Failed, 0)
	for k := 1; k <= metrics.MaxTurnSeries+1; k++ {
		name := metrics.TTFTByTurn(k)
		m, ok := s.Find(name)
		if !ok || m.Kind != metrics.KindSeries || m.Count == 0 {
			continue
		}
		d, _ := metrics.Lookup(name)
		label, _ := metrics.TurnLabel(name)
		p := func(key string) Value {
			if v, ok := m.Percentile(key); ok {
				return Value(v * d.DisplayScale)
			}
			return NA
		}
		c.TTFTByTurn = append(c.TTFTByTurn, TurnLatency{Turn: label, Count: m.Count, P50: p("50.0"), P90: p("90.0"), P99: p("99.0")})
	}
	r.Conversations = c
}

// writeConversations writes the conversation lines of the summary.
func (r *Report) writeConversations(w *bufio.Writer) {
	c := r.Conversations
	if c == nil {
		return
	}
	fmt.Fprintf(w, "Conversations: started %d, completed %d, failed %d (a failed turn ends its conversation), unfinished %d\n",
		c.Started, c.Completed, c.Failed, c.Unfinished)
	if len(c.TTFTByTurn) == 0 {
		return
	}
	fmt.Fprintln(w, "TTFT by turn (ms):")
	fmt.Fprintf(w, "  %5s %8s %10s %10s %10s\n", "turn", "count", "p50", "p90", "p99")
	for _, t := range c.TTFTByTurn {
		fmt.Fprintf(w, "  %5s %8d %10s %10s %10s\n", t.Turn, t.Count, t.P50.short3(), t.P90.short3(), t.P99.short3())
	}
}

// short3 formats a millisecond value with three decimals, or N/A.
func (v Value) short3() string {
	if !v.Valid() {
		return "N/A"
	}
	return fmt.Sprintf("%.3f", float64(v))
}
