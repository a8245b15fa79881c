package aggregator

import "github.com/inferbench/inferbench/internal/event"

// Input length of the turns of a multi-turn conversation, with a tokenizer.
// A turn's prompt is the whole history plus its new message, but its
// sample.issued record carries only the new message. The history is what
// the earlier turns' records hold, so the count stays linear: turn k's ISL
// is turn k−1's ISL plus the tokens of turn k−1's reply and of turn k's
// message. As for a single-turn sample, the tokens of the message contents
// are counted; the system prompt and the chat template's tokens are not.
//
// The counts run on the token workers, possibly out of order: every turn's
// job counts its own part (the previous reply and the new message) and the
// running sums are recorded in turn order as the parts arrive.
//
// With Config.RecordedHistory, or on records marked RecordedHistory (so an
// aggregator fed only the events knows it too), the history carries the
// dataset's replies, which the records do not hold: later turns' ISL then
// comes from the server's usage, as without a tokenizer.

// turnISL is the state of one followed conversation.
type turnISL struct {
	id      string
	reply   string          // the previous turn's reply, set when it completed
	sum     int64           // the ISL of turn next−1
	issued  int32           // the last turn submitted
	next    int32           // the turn whose part the sum waits for
	parts   map[int32]int64 // counted parts of later turns, waiting for next
	pending int             // jobs submitted and not counted yet
	ended   bool            // no later turn will come
}

// turnISLIssued submits the ISL count of a tracked turn; false when the
// conversation is not followed (ISL then comes from usage).
func (a *Aggregator) turnISLIssued(r *event.Record, text string) bool {
	if a.cfg.RecordedHistory || r.RecordedHistory || r.Turn < 1 {
		return false
	}
	c := a.turnISLs[r.ConversationID]
	if r.Turn == 1 {
		if c != nil || len(a.turnISLs) >= maxOpenConversations {
			return false // started twice, or too many open
		}
		if a.turnISLs == nil {
			a.turnISLs = make(map[string]*turnISL)
		}
		c = &turnISL{id: r.ConversationID, next: 1}
		a.turnISLs[r.ConversationID] = c
	}
	if c == nil || c.ended || r.Turn != c.issued+1 {
		return false
	}
	c.issued = r.Turn
	c.pending++
	a.tokens.submit(tokenJob{kind: jobTurnISL, text: text, text2: c.reply, conv: c, turn: r.Turn})
	c.reply = ""
	return true
}

// turnISLCompleted keeps a succeeded turn's reply for the next turn's count
// and stops following the conversation after its last or a failed turn.
func (a *Aggregator) turnISLCompleted(rw *row, out *event.Output) {
	c := a.turnISLs[rw.conv]
	if c == nil {
		return
	}
	if rw.failed || rw.lastTurn {
		c.ended = true
		if c.pending == 0 {
			delete(a.turnISLs, c.id)
		}
		return
	}
	if out != nil {
		c.reply = out.Text
	}
}

// turnISLCounted records a counted part (called by a token worker under the
// aggregator's lock) and every ISL it completes.
func (a *Aggregator) turnISLCounted(c *turnISL, turn int32, n int64) {
	c.pending--
	if c.parts == nil {
		c.parts = make(map[int32]int64)
	}
	// n+1 keeps a part of 0 tokens distinct from a missing one.
	c.parts[turn] = n + 1
	for {
		p, ok := c.parts[c.next]
		if !ok {
			break
		}
		delete(c.parts, c.next)
		c.sum += p - 1
		a.isl.Record(c.sum)
		c.next++
	}
	if c.ended && c.pending == 0 {
		delete(a.turnISLs, c.id)
	}
}
