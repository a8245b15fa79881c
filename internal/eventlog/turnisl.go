package eventlog

import "github.com/inferbench/inferbench/internal/event"

// maxTurnConversations bounds the conversations whose ISL the log follows
// at once, as the aggregator bounds its open conversations.
const maxTurnConversations = 1 << 20

// turnState follows a conversation's ISL with a tokenizer, as the
// aggregator does (aggregator/turnisl.go): turn k's ISL is turn k−1's plus
// the tokens of turn k−1's reply and of turn k's message.
type turnState struct {
	isl    int64
	reply  string // the previous turn's reply, set when it completed
	issued int32  // the last turn counted
}

// turnISL returns the ISL of a tracked turn, or −1 when the conversation is
// not followed (recorded history, a turn out of order, too many open).
func (t *table) turnISL(r *event.Record, text string) int64 {
	if t.recordedHistory || r.RecordedHistory || r.Turn < 1 {
		return -1
	}
	c := t.turns[r.ConversationID]
	if r.Turn == 1 {
		if c != nil || len(t.turns) >= maxTurnConversations {
			return -1
		}
		if t.turns == nil {
			t.turns = make(map[string]*turnState)
		}
		c = &turnState{}
		t.turns[r.ConversationID] = c
	}
	if c == nil || r.Turn != c.issued+1 {
		return -1
	}
	n := int64(t.tok.Count(text))
	if c.reply != "" {
		n += int64(t.tok.Count(c.reply))
	}
	c.isl += n
	c.issued, c.reply = r.Turn, ""
	return c.isl
}

// turnCompleted keeps a succeeded turn's reply for the next turn's count and
// forgets the conversation after its last or a failed turn.
func (t *table) turnCompleted(st *reqState, out *event.Output) {
	c := t.turns[st.conv]
	if c == nil {
		return
	}
	if st.failed || st.lastTurn {
		delete(t.turns, st.conv)
		return
	}
	if out != nil {
		c.reply = out.Text
	}
}
