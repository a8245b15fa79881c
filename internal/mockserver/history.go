package mockserver

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"
)

// History checking (Config.CheckHistory) verifies what a multi-turn client
// sends: every assistant message of a chat request must be, verbatim, the
// reply this server sent to exactly the messages before it, and the request
// must arrive after that reply was complete. The server keeps, for every
// chat reply, the hash of the messages it answered with the reply text and
// the time just before its last byte was written; a request's assistant
// message i is looked up by the hash of messages 0..i−1. So a reply out of
// order, edited, from another conversation, invented, or sent before the
// reply was received is a violation.

// maxHistoryReplies bounds the replies remembered; later ones are not
// remembered (and a request that refers to one counts as a violation, so
// the bound cannot hide a problem).
const maxHistoryReplies = 1 << 20

// maxHistoryExamples bounds the violation messages kept.
const maxHistoryExamples = 20

// HistoryStats is what the history check found (see Config.CheckHistory).
type HistoryStats struct {
	// Requests is the chat requests checked; Messages the assistant
	// messages among them that were verified.
	Requests, Messages uint64
	// Violations counts the assistant messages that were not the reply sent
	// for their history, or whose reply was not complete when the request
	// arrived, and the requests that could not be parsed.
	Violations uint64
	// Examples holds the first violations, one line each.
	Examples []string
}

type sentReply struct {
	text string
	end  time.Time // just before the reply's last byte was written; zero while it is being sent
}

type historyCheck struct {
	mu sync.Mutex
	// sent holds every reply sent for a history: the same history can be
	// answered more than once (a conversation run twice at once).
	sent     map[[sha256.Size]byte][]sentReply
	nSent    int
	examples []string

	requests, messages, violations atomic.Uint64
}

func newHistoryCheck() *historyCheck {
	return &historyCheck{sent: make(map[[sha256.Size]byte][]sentReply)}
}

// historyRequest is the slow-path decoding of a checked request.
type historyRequest struct {
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
}

// writeMessage adds one message to a history hash, length-prefixed so that
// no two histories hash alike by shifting text between fields.
func writeMessage(h hash.Hash, role, text string) {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(role)))
	h.Write(n[:])
	h.Write([]byte(role))
	binary.LittleEndian.PutUint64(n[:], uint64(len(text)))
	h.Write(n[:])
	h.Write([]byte(text))
}

// verify checks the request's assistant messages and returns the hash of
// all its messages: the key its own reply is remembered under.
func (c *historyCheck) verify(body []byte, arrival time.Time, seq uint64) [sha256.Size]byte {
	var key [sha256.Size]byte
	c.requests.Add(1)
	var req historyRequest
	if err := json.Unmarshal(body, &req); err != nil {
		c.violation("request %d: cannot read messages: %v", seq, err)
		return key
	}
	h := sha256.New()
	for i, m := range req.Messages {
		text, err := rawText(m.Content)
		if err != nil {
			c.violation("request %d: message %d: %v", seq, i, err)
			return key
		}
		if m.Role == "assistant" {
			c.messages.Add(1)
			var k [sha256.Size]byte
			h.Sum(k[:0])
			if msg := c.check(k, text, arrival); msg != "" {
				c.violation("request %d: message %d: %s", seq, i, msg)
			}
		}
		writeMessage(h, m.Role, text)
	}
	h.Sum(key[:0])
	return key
}

// check returns what is wrong with text as the reply to the history k for a
// request that arrived at arrival, or "" when a reply sent for that history
// is text and was complete before arrival.
func (c *historyCheck) check(k [sha256.Size]byte, text string, arrival time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	rs := c.sent[k]
	if len(rs) == 0 {
		return "no reply was sent for the history before it (out of order, edited or invented)"
	}
	msg := fmt.Sprintf("differs from the reply sent (%d bytes sent, %d received)", len(rs[0].text), len(text))
	for _, r := range rs {
		switch {
		case r.text != text:
		case r.end.IsZero():
			msg = "the request arrived before that reply was complete (it was still being sent)"
		case !arrival.After(r.end):
			msg = fmt.Sprintf("the request arrived %v before that reply was complete", r.end.Sub(arrival))
		default:
			return ""
		}
	}
	return msg
}

// sending notes the reply about to be sent for the history key, not yet
// complete; remember completes it just before its last byte is written.
func (c *historyCheck) sending(key [sha256.Size]byte, text string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nSent >= maxHistoryReplies {
		return -1
	}
	c.nSent++
	c.sent[key] = append(c.sent[key], sentReply{text: text})
	return len(c.sent[key]) - 1
}

func (c *historyCheck) remember(key [sha256.Size]byte, i int) {
	end := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if rs := c.sent[key]; i >= 0 && i < len(rs) {
		rs[i].end = end
	}
}

func (c *historyCheck) violation(format string, args ...any) {
	c.violations.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.examples) < maxHistoryExamples {
		c.examples = append(c.examples, fmt.Sprintf(format, args...))
	}
}

func (c *historyCheck) stats() HistoryStats {
	c.mu.Lock()
	ex := append([]string(nil), c.examples...)
	c.mu.Unlock()
	return HistoryStats{Requests: c.requests.Load(), Messages: c.messages.Load(), Violations: c.violations.Load(), Examples: ex}
}

// History returns what the history check found; ok is false when the
// server does not check history.
func (s *Server) History() (HistoryStats, bool) {
	if s.hist == nil {
		return HistoryStats{}, false
	}
	return s.hist.stats(), true
}

// replyText is the content the job will send: its answer's first j.content
// tokens, taken in chunks as the handlers take them.
func replyText(j *job, tpc int) string {
	src := j.answer // a copy: the handler takes from the original
	var b strings.Builder
	for left := j.content; left > 0; left -= tpc {
		b.WriteString(src.take(min(tpc, left)))
	}
	return b.String()
}

// checkHistory verifies a chat request's history and prepares its reply to
// be remembered; it runs before the handler takes any token.
func (s *Server) checkHistory(j *job, body []byte) {
	j.histKey, j.histOn = s.hist.verify(body, j.arrival, j.seq), true
	j.histIdx = s.hist.sending(j.histKey, replyText(j, s.cfg.TokensPerChunk))
}

// rememberReply notes a checked job's reply, just before its last byte.
func (s *Server) rememberReply(j *job) {
	if j.histOn {
		s.hist.remember(j.histKey, j.histIdx)
	}
}
