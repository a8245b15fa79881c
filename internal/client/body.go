package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/inferbench/inferbench/internal/jsonw"
)

// Request is one prompt to send.
type Request struct {
	Prompt string
	System string // chat only: a system message before the prompt, when not empty
	// TokenIDs, when not nil, is sent as the prompt of a completions request
	// instead of Prompt. Chat requests ignore it.
	TokenIDs  []int32
	MaxTokens int // 0 means Config.MaxTokens
	// History, chat only, is the earlier turns of a conversation, already
	// encoded: JSON message objects separated by commas, without brackets
	// (`{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}`).
	// It goes between the system message and the prompt. A conversation
	// keeps these bytes and appends each turn to them, so that building turn
	// k costs a copy of the history, not a re-encoding of every message.
	History []byte
}

// bodyTemplate is the part of every request body that New computes once.
type bodyTemplate struct {
	chat        bool
	model       []byte // `{"model":"..."` (JSON-escaped)
	tail        []byte // temperature, stream, stream_options and ExtraBody members
	maxTokens   int
	skipMaxToks bool // ExtraBody has "max_tokens"
}

func newBodyTemplate(c *Config) (*bodyTemplate, error) {
	t := &bodyTemplate{chat: c.API == APIChat, maxTokens: c.MaxTokens}
	over := func(k string) bool { _, ok := c.ExtraBody[k]; return ok }
	for _, k := range []string{"model", "messages", "prompt"} {
		if over(k) {
			return nil, fmt.Errorf("client: extra_body key %q: the client sets it", k)
		}
	}
	t.model = jsonw.AppendString(append(t.model, `{"model":`...), c.Model)
	t.skipMaxToks = over("max_tokens")
	tail := []byte{}
	if c.Temperature != nil && !over("temperature") {
		v := *c.Temperature
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("client: temperature %v: not a finite number", v)
		}
		tail = strconv.AppendFloat(append(tail, `,"temperature":`...), v, 'g', -1, 64)
	}
	if !over("stream") {
		tail = strconv.AppendBool(append(tail, `,"stream":`...), c.Streaming)
	}
	if c.Streaming && c.IncludeUsage && !over("stream_options") {
		tail = append(tail, `,"stream_options":{"include_usage":true}`...)
	}
	keys := make([]string, 0, len(c.ExtraBody))
	for k := range c.ExtraBody {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v, err := json.Marshal(c.ExtraBody[k])
		if err != nil {
			return nil, fmt.Errorf("client: extra_body[%q]: %w", k, err)
		}
		tail = jsonw.AppendString(append(tail, ','), k)
		tail = append(append(tail, ':'), v...)
	}
	t.tail = append(tail, '}')
	return t, nil
}

// append appends the JSON body of r to dst.
func (t *bodyTemplate) append(dst []byte, r *Request) []byte {
	dst = append(dst, t.model...)
	if t.chat {
		dst = append(dst, `,"messages":[`...)
		if r.System != "" {
			dst = jsonw.AppendString(append(dst, `{"role":"system","content":`...), r.System)
			dst = append(dst, "},"...)
		}
		if len(r.History) > 0 {
			dst = append(append(dst, r.History...), ',')
		}
		dst = jsonw.AppendString(append(dst, `{"role":"user","content":`...), r.Prompt)
		dst = append(dst, "}]"...)
	} else {
		dst = append(dst, `,"prompt":`...)
		if r.TokenIDs != nil {
			dst = append(dst, '[')
			for i, id := range r.TokenIDs {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = strconv.AppendInt(dst, int64(id), 10)
			}
			dst = append(dst, ']')
		} else {
			dst = jsonw.AppendString(dst, r.Prompt)
		}
	}
	if !t.skipMaxToks {
		n := r.MaxTokens
		if n <= 0 {
			n = t.maxTokens
		}
		dst = strconv.AppendInt(append(dst, `,"max_tokens":`...), int64(n), 10)
	}
	return append(dst, t.tail...)
}

// body is a pooled request body. The transport closes it, possibly from
// another goroutine and possibly while its write loop still reads it, so Read
// and Close share a mutex and the buffer returns to the pool only on Close.
type body struct {
	mu     sync.Mutex
	buf    []byte
	off    int
	closed bool
}

var bodyPool = sync.Pool{New: func() any { return &body{buf: make([]byte, 0, 4096)} }}

var errBodyClosed = errors.New("client: request body closed")

func (b *body) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBodyClosed
	}
	if b.off >= len(b.buf) {
		return 0, io.EOF
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	return n, nil
}

// WriteTo lets the transport copy the body with one write.
func (b *body) WriteTo(w io.Writer) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errBodyClosed
	}
	n, err := w.Write(b.buf[b.off:])
	b.off += n
	return int64(n), err
}

func (b *body) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	// Keep large prompts' buffers out of the pool.
	if cap(b.buf) <= 1<<20 {
		bodyPool.Put(&body{buf: b.buf[:0]})
	}
	return nil
}

// AppendMessage appends one chat message to an encoded history (see
// [Request.History]), with the separating comma when dst is not empty.
func AppendMessage(dst []byte, role, content string) []byte {
	if len(dst) > 0 {
		dst = append(dst, ',')
	}
	dst = jsonw.AppendString(append(dst, `{"role":`...), role)
	dst = jsonw.AppendString(append(dst, `,"content":`...), content)
	return append(dst, '}')
}
