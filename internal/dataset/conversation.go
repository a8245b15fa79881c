package dataset

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-json"
)

// Bounds of a conversation dataset: a row beyond them is an error, never a
// large allocation.
const (
	// MaxConversationTurns bounds the user turns of one conversation.
	MaxConversationTurns = 1024
	// MaxTurnDelay bounds a think time a dataset gives (delay_ms).
	MaxTurnDelay = time.Hour
	// maxConversationID bounds a conversation_id, in bytes.
	maxConversationID = 256
)

// ConvTurn is one user turn of a conversation, with the reply the dataset
// recorded for it.
type ConvTurn struct {
	User string
	// Reply is the recorded assistant reply ("" when the dataset has none:
	// the last turn of most conversations).
	Reply string
	// Delay is the dataset's think time before this turn is sent (after the
	// previous turn completed), when HasDelay; the first turn's is unused.
	Delay    time.Duration
	HasDelay bool
}

// Conversation is one multi-turn session: an optional system message, then
// user turns each answered before the next is sent.
type Conversation struct {
	ID     string // the row's conversation_id or id, else its line or record number
	System string
	Turns  []ConvTurn
}

// convRow is one row of any of the three conversation layouts.
type convRow struct {
	ConversationID json.RawMessage `json:"conversation_id"`
	ID             json.RawMessage `json:"id"`
	Conversations  json.RawMessage `json:"conversations"` // ShareGPT: null in some dumps
	Messages       []convMsg       `json:"messages"`      // OpenAI chat
	Turns          []convMsg       `json:"turns"`         // inferbench's simple layout
}

// convMsg is one message: ShareGPT's from/value or OpenAI's role/content,
// with an optional think time in milliseconds.
type convMsg struct {
	From    string          `json:"from"`
	Value   string          `json:"value"`
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	DelayMS *float64        `json:"delay_ms"`
}

// LoadConversations reads a multi-turn dataset: JSONL (one conversation per
// line) or a JSON array of conversations, each row in one of three layouts:
//
//	ShareGPT  {"id": …, "conversations": [{"from": "human", "value": …}, {"from": "gpt", …}, …]}
//	OpenAI    {"messages": [{"role": "system"|"user"|"assistant", "content": …}, …]}
//	simple    {"conversation_id": …, "turns": [{"role", "content"[, "delay_ms"]}, …]}
//
// A system message before the first user message is the conversation's
// system prompt; each user message starts a turn and the assistant message
// after it is that turn's recorded reply (consecutive messages of one role
// are joined by a newline; assistant messages before the first user
// message are left out and counted). delay_ms on a user message is the
// think time before it. A row without a user message, with an unknown
// role, an empty user message, more than [MaxConversationTurns] turns or a
// bad delay is an error naming the file and line (JSONL) or record (JSON);
// except that ShareGPT rows without a usable human turn or with an unknown
// speaker, which real dumps contain, are skipped and counted in Skipped.
// opts.Limit keeps the first Limit conversations; opts.Format may be "",
// "jsonl", "json" or "sharegpt".
//
// The dataset's Conversations hold the conversations, and its Samples one
// sample per conversation (its first turn), so that code that counts or
// describes samples sees the conversations.
func LoadConversations(path string, opts Options) (*Dataset, error) {
	if opts.Limit < 0 {
		return nil, newError(path, "", 0, ErrConfig, nil, "limit %d is negative", opts.Limit)
	}
	format, err := resolveFormat(path, opts.Format)
	if err != nil {
		return nil, err
	}
	if format != FormatJSONL && format != FormatJSON && format != FormatShareGPT {
		return nil, newError(path, "", 0, ErrFormat, nil, "a multi-turn dataset is JSON or JSONL, not %s", format)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, openError(path, err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	cs := &Dataset{Name: filepath.Base(path)}
	add := func(unit string, n int, raw []byte) error {
		var row convRow
		if err := json.Unmarshal(raw, &row); err != nil {
			return jsonError(path, unit, n, err)
		}
		c, dropped, err := row.conversation(strconv.Itoa(n))
		if err != nil {
			if err.skippable && row.Turns == nil && row.Messages == nil {
				cs.Skipped++
				return nil
			}
			return newError(path, unit, n, ErrValue, nil, "%s", err.msg)
		}
		cs.DroppedLeading += dropped
		cs.Turns += len(c.Turns)
		cs.Conversations = append(cs.Conversations, c)
		cs.Samples = append(cs.Samples, Sample{Prompt: c.Turns[0].User, System: c.System, Expected: c.Turns[0].Reply})
		return nil
	}
	if firstNonSpace(data) == '[' {
		var rows []json.RawMessage
		if err := json.Unmarshal(data, &rows); err != nil {
			return nil, locateJSONError(path, data, err, func(b []byte) error { var r convRow; return json.Unmarshal(b, &r) })
		}
		for i, raw := range rows {
			if limitReached(opts, len(cs.Conversations)) {
				break
			}
			if firstNonSpace(raw) != '{' {
				return nil, newError(path, "record", i+1, ErrSyntax, nil, "want a JSON object, got %s", describeJSON(raw))
			}
			if err := add("record", i+1, raw); err != nil {
				return nil, err
			}
		}
	} else {
		for lineNo, line := range jsonLines(data) {
			if limitReached(opts, len(cs.Conversations)) {
				break
			}
			if line[0] != '{' {
				return nil, newError(path, "line", lineNo, ErrSyntax, nil, "want a JSON object, got %s", describeJSON(line))
			}
			if err := add("line", lineNo, line); err != nil {
				return nil, err
			}
		}
	}
	if len(cs.Conversations) == 0 {
		if cs.Skipped > 0 {
			return nil, newError(path, "", 0, ErrEmpty, nil, "no conversations (%d ShareGPT conversations without a usable human turn skipped)", cs.Skipped)
		}
		return nil, newError(path, "", 0, ErrEmpty, nil, "no conversations")
	}
	return cs, nil
}

// rowError is a problem of one row; the caller adds the position.
// skippable marks a problem real ShareGPT dumps have (a conversation
// without a usable human turn, an unknown speaker): such ShareGPT rows are
// skipped and counted, as the single-turn loader does, while the other
// layouts, written for benchmarking, are held to the rule.
type rowError struct {
	msg       string
	skippable bool
}

func rowErrorf(format string, args ...any) *rowError {
	return &rowError{msg: fmt.Sprintf(format, args...)}
}

// conversation normalizes a row; pos names it when it carries no id.
func (r *convRow) conversation(pos string) (Conversation, int, *rowError) {
	var c Conversation
	msgs, key := r.Turns, "turns"
	switch {
	case r.Turns != nil:
	case r.Messages != nil:
		msgs, key = r.Messages, "messages"
	case r.Conversations != nil:
		key = "conversations"
		if err := json.Unmarshal(r.Conversations, &msgs); err != nil {
			return c, 0, rowErrorf("conversations: want a list of messages: %v", err)
		}
	default:
		return c, 0, rowErrorf(`no "turns", "messages" or "conversations" list`)
	}
	id, err := rowID(r.ConversationID, r.ID)
	if err != nil {
		return c, 0, err
	}
	if id == "" {
		id = pos
	}
	c.ID = id
	dropped := 0
	hasReply := false // the last turn has an assistant message
	for i := range msgs {
		m := &msgs[i]
		text, err := m.text()
		if err != nil {
			return c, 0, rowErrorf("%s[%d]: %s", key, i, err.msg)
		}
		switch role := m.role(); {
		case role == "system":
			if len(c.Turns) > 0 {
				return c, 0, rowErrorf("%s[%d]: a system message after the first user message", key, i)
			}
			c.System = join(c.System, text)
		case role == "human" || role == "user":
			if strings.TrimSpace(text) == "" {
				e := rowErrorf("%s[%d]: empty user message", key, i)
				e.skippable = true
				return c, 0, e
			}
			var delay time.Duration
			if m.DelayMS != nil {
				ms := *m.DelayMS
				if !(ms >= 0) || math.IsInf(ms, 0) || ms > float64(MaxTurnDelay/time.Millisecond) {
					return c, 0, rowErrorf("%s[%d]: delay_ms %v: want 0 to %d", key, i, ms, MaxTurnDelay/time.Millisecond)
				}
				delay = time.Duration(ms * float64(time.Millisecond))
			}
			if n := len(c.Turns); n > 0 && !hasReply {
				t := &c.Turns[n-1]
				t.User = join(t.User, text)
				if m.DelayMS != nil && !t.HasDelay {
					t.Delay, t.HasDelay = delay, true
				}
				continue
			}
			if len(c.Turns) == MaxConversationTurns {
				return c, 0, rowErrorf("more than %d user turns", MaxConversationTurns)
			}
			c.Turns = append(c.Turns, ConvTurn{User: text, Delay: delay, HasDelay: m.DelayMS != nil})
			hasReply = false
		case isAssistant(role):
			if len(c.Turns) == 0 {
				dropped++
				continue
			}
			t := &c.Turns[len(c.Turns)-1]
			t.Reply = join(t.Reply, text)
			hasReply = true
		default:
			e := rowErrorf("%s[%d]: role %s: want system, user/human or assistant/gpt", key, i, quoteShort(role))
			e.skippable = true
			return c, 0, e
		}
	}
	if len(c.Turns) == 0 {
		e := rowErrorf("conversation %s has no user turn", quoteShort(c.ID))
		e.skippable = true
		return c, 0, e
	}
	return c, dropped, nil
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "\n" + b
}

func (m *convMsg) role() string {
	if m.From != "" {
		return strings.ToLower(m.From)
	}
	return strings.ToLower(m.Role)
}

// text returns the message text: ShareGPT's value, or a content that is a
// string, null or an array of {"type":"text","text":…} parts.
func (m *convMsg) text() (string, *rowError) {
	if m.Value != "" {
		return m.Value, nil
	}
	raw := bytes.TrimSpace(m.Content)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", rowErrorf("content: %v", err)
		}
		return s, nil
	case '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(raw, &parts); err != nil {
			return "", rowErrorf("content: want a string or a list of text parts")
		}
		var sb strings.Builder
		for _, p := range parts {
			if p.Type == "text" || p.Type == "" {
				sb.WriteString(p.Text)
			}
		}
		return sb.String(), nil
	}
	return "", rowErrorf("content: want a string, got %s", describeJSON(raw))
}

// rowID returns the row's conversation_id, else its id ("" when neither):
// a string or an integer.
func rowID(raws ...json.RawMessage) (string, *rowError) {
	for _, raw := range raws {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			continue
		}
		var id string
		if raw[0] == '"' {
			if err := json.Unmarshal(raw, &id); err != nil {
				return "", rowErrorf("conversation_id: %v", err)
			}
		} else if _, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
			id = string(raw)
		} else {
			return "", rowErrorf("conversation_id: want a string or an integer, got %s", describeJSON(raw))
		}
		if len(id) > maxConversationID {
			return "", rowErrorf("conversation_id of %d bytes (at most %d)", len(id), maxConversationID)
		}
		return id, nil
	}
	return "", nil
}
