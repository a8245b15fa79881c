package fleet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
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
		if s.TokenIDs == nil {
			b = msgp.AppendNil(b)
		} else {
			b = msgp.AppendArrayHeader(b, uint32(len(s.TokenIDs)))
			for _, id := range s.TokenIDs {
				b = msgp.AppendInt32(b, id)
			}
		}
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

// The event batch header: kind, worker index (uint32), sequence (uint64),
// all big-endian; then a msgpack array of 2·n elements, each record
// followed by its index slot: a chunk record's compact array, or a
// record's payload (bin, event.AppendRecord's map) followed by its dataset
// index (PromptData.Index, which the record's wire form does not carry; 0
// for other records) or, for an issued record, [index, sample number,
// prompt omitted] (see appendEvent and refTable). A worker sends a frame
// when it reaches eventBatchBytes or maxBatchRecords, or eventLinger
// after its first record.
const eventHeader = 1 + 4 + 8

func appendEventHeader(b []byte, index uint32, seq uint64) []byte {
	b = append(b, kindEvents)
	b = binary.BigEndian.AppendUint32(b, index)
	return binary.BigEndian.AppendUint64(b, seq)
}

// maxRefs bounds the reference numbers of a worker's samples in flight
// (beyond it a worker sends chunk records with their uuid).
const maxRefs = 1 << 22

// refTable numbers a worker's samples in flight, so that their chunk
// records (16 of the 18 records of a 16-token request) carry a small
// number instead of the 36-byte uuid: a third of the bytes to send,
// encrypt and decrypt, and no uuid hashing at the coordinator. A number
// is given at the sample's issued record (which carries it) and freed at
// its complete record, then reused; the coordinator reads the records in
// order, so it always knows which sample a number stands for.
//
// The table also holds the worker's dataset: an issued record whose prompt
// is its dataset sample's travels without the prompt's text and token ids
// (the coordinator keeps the samples it sent in the worker's job, and
// takes the prompt from there).
type refTable struct {
	ids     map[string]uint32
	free    []uint32
	next    uint32
	samples []dataset.Sample
}

func newRefTable() *refTable { return &refTable{ids: make(map[string]uint32, 256)} }

// appendEvent appends one record of a batch (the array header is written
// by the caller once the count is known); t (nil: none) numbers the
// samples in flight. Chunk records (recv_first, recv_non_first: the bulk
// of a streamed run) take a compact form, an array [type, timestamp_ns,
// ref] (or [type, timestamp_ns, sample_uuid] for a sample without a
// number), that the coordinator reads without decoding a record map and
// without allocating; their index slot is 0. Other records are their
// payload (bin, event.AppendRecord's map) and an index slot: the dataset
// index, or for an issued record given a number, [index, ref, omitted],
// omitted true when the payload left out the prompt's text and token ids
// because they are dataset sample index-1's.
func appendEvent(b []byte, r *event.Record, t *refTable) []byte {
	if (r.Type == event.SampleRecvFirst || r.Type == event.SampleRecvNonFirst) && r.Data == nil &&
		r.ConversationID == "" && r.Turn == 0 && !r.LastTurn {
		b = msgp.AppendArrayHeader(b, 3)
		b = msgp.AppendUint8(b, uint8(r.Type))
		b = msgp.AppendInt64(b, r.TimestampNS)
		if ref, ok := t.lookup(r.SampleUUID); ok {
			b = msgp.AppendUint32(b, ref)
		} else {
			b = msgp.AppendString(b, r.SampleUUID)
		}
		return msgp.AppendInt(b, 0)
	}
	idx := 0
	p, _ := r.Data.(*event.PromptData)
	if p != nil {
		idx = p.Index
	}
	omit := r.Type == event.SampleIssued && t.fromDataset(r, p)
	// bin32 header, patched once the payload's length is known.
	at := len(b)
	b = append(b, 0xc6, 0, 0, 0, 0)
	if omit {
		rr, pp := *r, *p
		pp.Text, pp.TokenIDs = "", nil
		rr.Data = &pp
		b = event.AppendRecord(b, &rr)
	} else {
		b = event.AppendRecord(b, r)
	}
	binary.BigEndian.PutUint32(b[at+1:], uint32(len(b)-at-5))
	switch r.Type {
	case event.SampleIssued:
		if ref, ok := t.give(r.SampleUUID); ok {
			b = msgp.AppendArrayHeader(b, 3)
			b = msgp.AppendInt(b, idx)
			b = msgp.AppendUint32(b, ref)
			return msgp.AppendBool(b, omit)
		}
	case event.SampleComplete:
		t.release(r.SampleUUID)
	}
	return msgp.AppendInt(b, idx)
}

// fromDataset reports whether an issued record's prompt is its dataset
// sample's, text and token ids (a single-turn sample: a conversation's
// turn carries its own message).
func (t *refTable) fromDataset(r *event.Record, p *event.PromptData) bool {
	if t == nil || p == nil || p.Index < 1 || p.Index > len(t.samples) || r.ConversationID != "" || r.Turn != 0 || r.SampleUUID == "" {
		return false
	}
	s := &t.samples[p.Index-1]
	return p.Text == s.Prompt && len(p.TokenIDs) == len(s.TokenIDs) && (p.TokenIDs == nil) == (s.TokenIDs == nil) &&
		(len(p.TokenIDs) == 0 || &p.TokenIDs[0] == &s.TokenIDs[0])
}

// lookup returns a sample's number.
func (t *refTable) lookup(id string) (uint32, bool) {
	if t == nil {
		return 0, false
	}
	ref, ok := t.ids[id]
	return ref, ok
}

// give numbers a sample (false: no table, no uuid, or out of numbers).
func (t *refTable) give(id string) (uint32, bool) {
	if t == nil || id == "" {
		return 0, false
	}
	if ref, ok := t.ids[id]; ok {
		return ref, true
	}
	var ref uint32
	if n := len(t.free); n > 0 {
		ref = t.free[n-1]
		t.free = t.free[:n-1]
	} else if t.next < maxRefs {
		ref = t.next
		t.next++
	} else {
		return 0, false
	}
	t.ids[id] = ref
	return ref, true
}

// release frees a completed sample's number.
func (t *refTable) release(id string) {
	if t == nil {
		return
	}
	if ref, ok := t.ids[id]; ok {
		delete(t.ids, id)
		t.free = append(t.free, ref)
	}
}

// readEventHeader parses the header of an event batch.
func readEventHeader(f []byte) (index uint32, seq uint64, body []byte, err error) {
	if len(f) < eventHeader || f[0] != kindEvents {
		return 0, 0, nil, errShort
	}
	return binary.BigEndian.Uint32(f[1:]), binary.BigEndian.Uint64(f[5:]), f[eventHeader:], nil
}

// decodeEvents appends the records of an event batch body to dst, and to
// refs each record's sample number plus one (0: none; see refTable): a
// chunk record given by number has no SampleUUID yet, the caller fills
// it in. intern (nil: none) turns a compact record's uuid bytes into its
// string, so a sample in flight reuses the string of its issued record.
// samples is the worker's job dataset, where an issued record that
// omitted its prompt takes it back from.
func decodeEvents(dst []event.Record, refs []uint32, body []byte, intern func([]byte) string, samples []dataset.Sample) ([]event.Record, []uint32, error) {
	n, p, err := msgp.ReadArrayHeaderBytes(body)
	if err != nil {
		return dst, refs, err
	}
	if n%2 != 0 || uint64(n)*3 > uint64(len(p)) || n/2 > maxBatchRecords {
		return dst, refs, errShort
	}
	for range n / 2 {
		if msgp.NextType(p) == msgp.ArrayType {
			var r event.Record
			var ref uint32
			if r, ref, p, err = readChunk(p, intern); err != nil {
				return dst, refs, err
			}
			if p, err = msgp.Skip(p); err != nil { // the index slot
				return dst, refs, err
			}
			dst = append(dst, r)
			refs = append(refs, ref)
			continue
		}
		var payload []byte
		if payload, p, err = msgp.ReadBytesZC(p); err != nil {
			return dst, refs, err
		}
		var idx int
		var ref uint32
		omitted := false
		if msgp.NextType(p) == msgp.ArrayType {
			var k uint32
			if k, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
				return dst, refs, err
			}
			if k != 3 {
				return dst, refs, errShort
			}
			if idx, p, err = msgp.ReadIntBytes(p); err != nil {
				return dst, refs, err
			}
			if ref, p, err = readRef(p); err != nil {
				return dst, refs, err
			}
			if omitted, p, err = msgp.ReadBoolBytes(p); err != nil {
				return dst, refs, err
			}
		} else if idx, p, err = msgp.ReadIntBytes(p); err != nil {
			return dst, refs, err
		}
		r, err := event.DecodeRecord(payload)
		if err != nil {
			return dst, refs, err
		}
		if ref != 0 && (r.Type != event.SampleIssued || r.SampleUUID == "") {
			return dst, refs, fmt.Errorf("fleet: a sample number on a record of type %d", r.Type)
		}
		pd, _ := r.Data.(*event.PromptData)
		if pd != nil && idx > 0 {
			pd.Index = idx
		}
		if omitted {
			if pd == nil || idx < 1 || idx > len(samples) {
				return dst, refs, fmt.Errorf("fleet: an issued record omits the prompt of dataset sample %d of %d", idx, len(samples))
			}
			pd.Text, pd.TokenIDs = samples[idx-1].Prompt, samples[idx-1].TokenIDs
		}
		dst = append(dst, r)
		refs = append(refs, ref)
	}
	return dst, refs, nil
}

// readRef reads a sample number, returning it plus one.
func readRef(p []byte) (uint32, []byte, error) {
	ref, p, err := msgp.ReadUint32Bytes(p)
	if err == nil && ref >= maxRefs {
		err = fmt.Errorf("fleet: sample number %d exceeds %d", ref, maxRefs)
	}
	return ref + 1, p, err
}

func appendInt(b []byte, v int64) []byte     { return msgp.AppendInt64(b, v) }
func appendUint(b []byte, v uint64) []byte   { return msgp.AppendUint64(b, v) }
func appendBool(b []byte, v bool) []byte     { return msgp.AppendBool(b, v) }
func appendString(b []byte, s string) []byte { return msgp.AppendString(b, s) }
func appendBin(b []byte, p []byte) []byte    { return msgp.AppendBytes(b, p) }

func putUint32(b []byte, v uint32) { binary.BigEndian.PutUint32(b, v) }

// readChunk reads the compact form of a chunk record: its sample number
// plus one, or (0) its uuid.
func readChunk(p []byte, intern func([]byte) string) (event.Record, uint32, []byte, error) {
	var r event.Record
	n, p, err := msgp.ReadArrayHeaderBytes(p)
	if err != nil {
		return r, 0, p, err
	}
	if n != 3 {
		return r, 0, p, errShort
	}
	var t uint8
	if t, p, err = msgp.ReadUint8Bytes(p); err != nil {
		return r, 0, p, err
	}
	r.Type = event.Type(t)
	if r.Type != event.SampleRecvFirst && r.Type != event.SampleRecvNonFirst {
		return r, 0, p, fmt.Errorf("fleet: compact record of type %d", t)
	}
	if r.TimestampNS, p, err = msgp.ReadInt64Bytes(p); err != nil {
		return r, 0, p, err
	}
	if msgp.NextType(p) == msgp.UintType || msgp.NextType(p) == msgp.IntType {
		var ref uint32
		ref, p, err = readRef(p)
		return r, ref, p, err
	}
	var id []byte
	if id, p, err = msgp.ReadStringZC(p); err != nil {
		return r, 0, p, err
	}
	if intern != nil {
		r.SampleUUID = intern(id)
	} else {
		r.SampleUUID = string(id)
	}
	return r, 0, p, nil
}
