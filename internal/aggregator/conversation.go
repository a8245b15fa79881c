package aggregator

import (
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
)

// maxOpenConversations bounds the conversations followed at once (first
// turn tracked, last turn not yet completed). A load generator has at most
// its active conversations open; past the bound (a hostile or broken
// stream) new conversations are counted as started but not followed.
const maxOpenConversations = 1 << 20

// convMetrics are the multi-turn metrics, registered at the first
// conversation turn so that single-turn snapshots do not carry them.
type convMetrics struct {
	started, completed, failed *metrics.Counter
	latency                    *metrics.Series
	ttft                       [metrics.MaxTurnSeries + 1]*metrics.Series // by turn, the last for every later turn
	open                       map[string]int64                           // conversation → its first turn's issue time
	overflowWarned             bool
}

// convIssued notes a tracked turn's conversation in its row and starts
// following the conversation at its first turn.
func (a *Aggregator) convIssued(rw *row, r *event.Record) {
	c := &a.conv
	if c.open == nil {
		c.open = make(map[string]int64)
		c.started = a.convCounter(metrics.TrackedConversationsStarted)
		c.completed = a.convCounter(metrics.TrackedConversationsCompleted)
		c.failed = a.convCounter(metrics.TrackedConversationsFailed)
		if d, err := describe(metrics.SeriesConversationLatency, metrics.KindSeries); err == nil {
			o := d.SeriesOpts()
			o.SigFigs, o.Buckets = a.cfg.SigFigs, a.cfg.Buckets
			var err error
			if c.latency, err = a.reg.NewSeries(metrics.SeriesConversationLatency, o); err != nil {
				a.log.Error("cannot register the conversation latency", "err", err)
			}
		}
	}
	rw.conv, rw.turn, rw.lastTurn = r.ConversationID, r.Turn, r.LastTurn
	if r.Turn != 1 {
		return
	}
	add(c.started, 1)
	if _, dup := c.open[r.ConversationID]; dup {
		a.log.Warn("conversation started twice; following the first", "conversation_id", r.ConversationID)
		return
	}
	if len(c.open) >= maxOpenConversations {
		if !c.overflowWarned {
			c.overflowWarned = true
			a.log.Warn("too many open conversations; the later ones are counted as started only", "limit", maxOpenConversations)
		}
		return
	}
	c.open[r.ConversationID] = rw.issued
}

// convEnded handles the completion of a conversation turn: a failed turn
// ends its conversation as failed, the last turn's success completes it.
func (a *Aggregator) convEnded(rw *row, ts int64) {
	c := &a.conv
	start, ok := c.open[rw.conv]
	if !ok || !rw.failed && !rw.lastTurn {
		return
	}
	delete(c.open, rw.conv)
	if rw.failed {
		add(c.failed, 1)
		return
	}
	add(c.completed, 1)
	if c.latency != nil {
		c.latency.Record(ts - start)
	}
}

// turnTTFT records the TTFT of a turn in its turn's series.
func (a *Aggregator) turnTTFT(turn int32, ttft int64) {
	i := min(int(turn), metrics.MaxTurnSeries+1) - 1
	s := a.conv.ttft[i]
	if s == nil {
		name := metrics.TTFTByTurn(i + 1)
		d, err := describe(name, metrics.KindSeries)
		if err != nil {
			a.log.Error("cannot register a TTFT-by-turn series", "err", err)
			return
		}
		o := d.SeriesOpts()
		o.SigFigs, o.Buckets = a.cfg.SigFigs, a.cfg.Buckets
		if s, err = a.reg.NewSeries(name, o); err != nil {
			a.log.Error("cannot register a TTFT-by-turn series", "series", name, "err", err)
			return
		}
		a.conv.ttft[i] = s
	}
	s.Record(ttft)
}

func (a *Aggregator) convCounter(name string) *metrics.Counter {
	c, err := a.reg.NewCounter(name, false)
	if err != nil {
		a.log.Error("cannot register a conversation counter", "counter", name, "err", err)
	}
	return c
}

func add(c *metrics.Counter, n int64) {
	if c != nil {
		c.Add(n)
	}
}
