package fleet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/dataset"
)

// The wire: every ZeroMQ message between a worker and the coordinator is one
// frame (after the ROUTER's routing id): a kind byte, then a msgpack array
// of the message's fields, positional. A reader takes the fields it knows
// and ignores any after them, so a message may grow at the end. Event
// batches (kindEvents) are the exception: a fixed binary header, then a
// msgpack array of record payloads (see appendEventHeader).
//
// Everything read is hostile: msgp checks every string and bin length
// against the bytes that remain, and every array count is checked the same
// way before anything is allocated for it. ZeroMQ's maximum message size
// bounds a frame (MaxControlFrame, MaxJobFrame, MaxEventFrame).

// protocolVersion is the fleet's wire protocol, sent in a worker's
// registration; the coordinator refuses any other, so hosts running
// different inferbench versions fail at once with a clear message instead
// of misreading each other's frames. Change it with any message or record
// form (2: the compact issued, complete and chunks forms).
const protocolVersion = "2"

// The message kinds.
const (
	kindRegister  byte = 'R' // w→c control: name, pid, host, version
	kindRefuse    byte = 'X' // c→w: reason, retry (bool)
	kindWelcome   byte = 'W' // c→w: index, token, heartbeat period
	kindHello     byte = 'E' // w→c event socket: index, token
	kindJob       byte = 'J' // c→w: spec (JSON), samples
	kindReady     byte = 'Y' // w→c: error ("" when the job is accepted)
	kindStart     byte = 'S' // c→w: start time on the worker's clock
	kindWarm      byte = 'M' // w→c: last event sequence of the warmup
	kindTrack     byte = 'T' // c→w: tracked-phase start on the worker's clock
	kindDone      byte = 'D' // w→c: last sequence, issued, completed, failed, stopped
	kindStop      byte = 'P' // c→w: abort (bool)
	kindRelease   byte = 'Z' // c→w: the run is over
	kindHeartbeat byte = 'H' // both ways
	kindPing      byte = 'G' // c→w: t1 (coordinator clock)
	kindPong      byte = 'O' // w→c: t1, t2, t3 (t2, t3 on the worker's clock)
	kindEvents    byte = 'V' // w→c event socket: header + records
)

// Frame bounds (ZeroMQ's maximum message size on each socket).
const (
	// MaxEventFrame bounds one event batch (and every frame the
	// coordinator reads); a worker cuts its batches well below it.
	MaxEventFrame = 64 << 20
	// MaxJobFrame bounds what a worker reads: the job carries the dataset.
	MaxJobFrame = 1 << 30
	// eventBatchBytes is where a worker cuts an event batch.
	eventBatchBytes = 1 << 20
	// maxBatchRecords bounds the records of one batch (a worker cuts
	// there too), so a frame of tiny records cannot make the coordinator
	// allocate many times its size.
	maxBatchRecords = 1 << 16
	// maxJobSamples bounds the samples of a job, for the same reason.
	maxJobSamples = 1 << 24
)

var errShort = errors.New("fleet: malformed message")

// msg builds a message: kind, then an array of n fields.
func msg(kind byte, n uint32) []byte {
	b := make([]byte, 1, 64)
	b[0] = kind
	return msgp.AppendArrayHeader(b, n)
}

// reader reads a message's fields in order; the first error sticks and
// later reads return zero values.
type reader struct {
	p   []byte
	n   uint32 // fields left
	err error
}

// open starts reading the fields of a message body (after the kind byte).
func open(body []byte) *reader {
	n, rest, err := msgp.ReadArrayHeaderBytes(body)
	if err == nil && uint64(n) > uint64(len(rest)) {
		err = errShort
	}
	return &reader{p: rest, n: n, err: err}
}

// take reports whether a next field exists and no error happened.
func (r *reader) take() bool {
	if r.err != nil || r.n == 0 {
		if r.err == nil {
			r.err = errShort
		}
		return false
	}
	r.n--
	return true
}

func (r *reader) int() int64 {
	if !r.take() {
		return 0
	}
	v, rest, err := msgp.ReadInt64Bytes(r.p)
	r.p, r.err = rest, err
	return v
}

func (r *reader) uint() uint64 {
	if !r.take() {
		return 0
	}
	v, rest, err := msgp.ReadUint64Bytes(r.p)
	r.p, r.err = rest, err
	return v
}

func (r *reader) bool() bool {
	if !r.take() {
		return false
	}
	v, rest, err := msgp.ReadBoolBytes(r.p)
	r.p, r.err = rest, err
	return v
}

// str reads a string of at most max bytes.
func (r *reader) str(max int) string {
	if !r.take() {
		return ""
	}
	v, rest, err := msgp.ReadStringZC(r.p)
	if err == nil && len(v) > max {
		err = fmt.Errorf("fleet: a string of %d bytes exceeds %d", len(v), max)
	}
	r.p, r.err = rest, err
	return string(v)
}

// Limits of the strings of control messages.
const (
	maxName   = 256
	maxReason = 4096
)

// register is what a worker says first.
type register struct {
	Name, Host, Version string
	PID                 int64
}

func (m *register) encode() []byte {
	b := msg(kindRegister, 4)
	b = msgp.AppendString(b, m.Name)
	b = msgp.AppendInt64(b, m.PID)
	b = msgp.AppendString(b, m.Host)
	return msgp.AppendString(b, m.Version)
}

func decodeRegister(body []byte) (register, error) {
	r := open(body)
	m := register{Name: r.str(maxName), PID: r.int(), Host: r.str(maxName), Version: r.str(maxName)}
	return m, r.err
}

// encodeSamples appends the dataset: an array of [prompt, system,
// token_ids, max_tokens, expected].
func appendSamples(b []byte, ss []dataset.Sample) []byte {
	b = msgp.AppendArrayHeader(b, uint32(len(ss)))
	for i := range ss {
		s := &ss[i]
		b = msgp.AppendArrayHeader(b, 5)
		b = msgp.AppendString(b, s.Prompt)
		b = msgp.AppendString(b, s.System)
		b = appendTokenIDs(b, s.TokenIDs)
		b = msgp.AppendInt(b, s.MaxTokens)
		b = msgp.AppendString(b, s.Expected)
	}
	return b
}

// readSamples reads what appendSamples wrote.
func readSamples(p []byte) ([]dataset.Sample, []byte, error) {
	n, p, err := msgp.ReadArrayHeaderBytes(p)
	if err != nil {
		return nil, p, err
	}
	if uint64(n)*6 > uint64(len(p)) || n > maxJobSamples {
		return nil, p, errShort
	}
	out := make([]dataset.Sample, n)
	for i := range out {
		var f uint32
		if f, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
			return nil, p, err
		}
		if f < 5 {
			return nil, p, errShort
		}
		s := &out[i]
		if s.Prompt, p, err = msgp.ReadStringBytes(p); err != nil {
			return nil, p, err
		}
		if s.System, p, err = msgp.ReadStringBytes(p); err != nil {
			return nil, p, err
		}
		if msgp.IsNil(p) {
			p = p[1:]
		} else {
			var k uint32
			if k, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
				return nil, p, err
			}
			if uint64(k) > uint64(len(p)) {
				return nil, p, errShort
			}
			s.TokenIDs = make([]int32, k)
			for j := range s.TokenIDs {
				if s.TokenIDs[j], p, err = msgp.ReadInt32Bytes(p); err != nil {
					return nil, p, err
				}
			}
		}
		if s.MaxTokens, p, err = msgp.ReadIntBytes(p); err != nil {
			return nil, p, err
		}
		if s.Expected, p, err = msgp.ReadStringBytes(p); err != nil {
			return nil, p, err
		}
		for range f - 5 {
			if p, err = msgp.Skip(p); err != nil {
				return nil, p, err
			}
		}
	}
	return out, p, nil
}

// appendConversations appends a multi-turn dataset's conversations: nil
// without any, else an array of [id, system, turns], each turn [user,
// reply, delay_ns, has_delay].
func appendConversations(b []byte, cs []dataset.Conversation) []byte {
	if cs == nil {
		return msgp.AppendNil(b)
	}
	b = msgp.AppendArrayHeader(b, uint32(len(cs)))
	for i := range cs {
		c := &cs[i]
		b = msgp.AppendArrayHeader(b, 3)
		b = msgp.AppendString(b, c.ID)
		b = msgp.AppendString(b, c.System)
		b = msgp.AppendArrayHeader(b, uint32(len(c.Turns)))
		for _, t := range c.Turns {
			b = msgp.AppendArrayHeader(b, 4)
			b = msgp.AppendString(b, t.User)
			b = msgp.AppendString(b, t.Reply)
			b = msgp.AppendInt64(b, int64(t.Delay))
			b = msgp.AppendBool(b, t.HasDelay)
		}
	}
	return b
}

// readConversations reads what appendConversations wrote; counts are
// checked against the bytes that remain (and the dataset's own bounds)
// before anything is allocated.
func readConversations(p []byte) ([]dataset.Conversation, []byte, error) {
	if msgp.IsNil(p) {
		return nil, p[1:], nil
	}
	n, p, err := msgp.ReadArrayHeaderBytes(p)
	if err != nil {
		return nil, p, err
	}
	if uint64(n)*4 > uint64(len(p)) || n > maxJobSamples {
		return nil, p, errShort
	}
	out := make([]dataset.Conversation, n)
	for i := range out {
		c := &out[i]
		var f, k uint32
		if f, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
			return nil, p, err
		}
		if f != 3 {
			return nil, p, errShort
		}
		if c.ID, p, err = msgp.ReadStringBytes(p); err != nil {
			return nil, p, err
		}
		if c.System, p, err = msgp.ReadStringBytes(p); err != nil {
			return nil, p, err
		}
		if k, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
			return nil, p, err
		}
		if uint64(k)*5 > uint64(len(p)) || k > dataset.MaxConversationTurns {
			return nil, p, errShort
		}
		if k > 0 {
			c.Turns = make([]dataset.ConvTurn, k)
		}
		for j := range c.Turns {
			t := &c.Turns[j]
			if f, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
				return nil, p, err
			}
			if f != 4 {
				return nil, p, errShort
			}
			if t.User, p, err = msgp.ReadStringBytes(p); err != nil {
				return nil, p, err
			}
			if t.Reply, p, err = msgp.ReadStringBytes(p); err != nil {
				return nil, p, err
			}
			var d int64
			if d, p, err = msgp.ReadInt64Bytes(p); err != nil {
				return nil, p, err
			}
			t.Delay = time.Duration(d)
			if t.HasDelay, p, err = msgp.ReadBoolBytes(p); err != nil {
				return nil, p, err
			}
		}
	}
	return out, p, nil
}

func appendInt(b []byte, v int64) []byte     { return msgp.AppendInt64(b, v) }
func appendUint(b []byte, v uint64) []byte   { return msgp.AppendUint64(b, v) }
func appendBool(b []byte, v bool) []byte     { return msgp.AppendBool(b, v) }
func appendString(b []byte, s string) []byte { return msgp.AppendString(b, s) }
func appendBin(b []byte, p []byte) []byte    { return msgp.AppendBytes(b, p) }

func putUint32(b []byte, v uint32) { binary.BigEndian.PutUint32(b, v) }

// appendTokenIDs appends token ids as an array of int32, or nil for none
// (a prompt sent as text).
func appendTokenIDs(b []byte, ids []int32) []byte {
	if ids == nil {
		return msgp.AppendNil(b)
	}
	b = msgp.AppendArrayHeader(b, uint32(len(ids)))
	for _, id := range ids {
		b = msgp.AppendInt32(b, id)
	}
	return b
}
