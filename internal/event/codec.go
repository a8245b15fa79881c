package event

import (
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// TopicSize is the size of the NUL-padded topic that starts every ZeroMQ frame:
// the smallest multiple of 8 that holds the longest topic.
const TopicSize = 40

// BatchTopic is the topic of a frame that carries several record payloads.
const BatchTopic = "batch"

// Payload tags, as the Python tool's msgspec structs name them.
const (
	tagPrompt = "PromptData"
	tagOutput = "TextModelOutput"
	tagError  = "ErrorData"
)

// ErrDecode wraps every failure to decode a record payload.
var ErrDecode = errors.New("event: malformed record")

// Codec encodes records to msgpack maps and back. Its zero value is ready to
// use and it is safe for concurrent use. It satisfies bus.Codec[Record].
type Codec struct{}

// Encode appends the msgpack form of r to dst and returns r's topic and the
// payload.
func (Codec) Encode(dst []byte, r *Record) (string, []byte, error) {
	if r.Type == Invalid || r.Type >= numTypes {
		return "", dst, fmt.Errorf("event: cannot encode record of type %d", r.Type)
	}
	return r.Type.Topic(), AppendRecord(dst, r), nil
}

// Decode parses one msgpack record.
func (Codec) Decode(payload []byte) (Record, error) { return DecodeRecord(payload) }

// OnDecodeError turns a malformed payload into an error.generic record without
// a sample uuid, so the failure is counted instead of silently lost.
func (Codec) OnDecodeError(payload []byte, err error) (Record, bool) {
	return Record{
		Type:        ErrorGeneric,
		TimestampNS: Now(),
		Data:        &ErrorData{Type: "DecodeError", Message: err.Error()},
	}, true
}

// AppendRecord appends the msgpack map form of r to b.
func AppendRecord(b []byte, r *Record) []byte {
	b = msgp.AppendMapHeader(b, 4)
	b = msgp.AppendString(b, "event_type")
	b = msgp.AppendString(b, r.Type.Topic())
	b = msgp.AppendString(b, "timestamp_ns")
	b = msgp.AppendInt64(b, r.TimestampNS)
	b = msgp.AppendString(b, "sample_uuid")
	b = msgp.AppendString(b, r.SampleUUID)
	b = msgp.AppendString(b, "data")
	return appendData(b, r.Data)
}

func appendData(b []byte, d Data) []byte {
	switch d := d.(type) {
	case *PromptData:
		if d == nil {
			return msgp.AppendNil(b)
		}
		// Trailing fields that hold their default are omitted, as msgspec does;
		// scheduled_ns is an extension after the Python tool's two fields.
		n := uint32(2)
		switch {
		case d.ScheduledNS != 0:
			n = 4
		case d.TokenIDs != nil:
			n = 3
		}
		b = msgp.AppendArrayHeader(b, n)
		b = msgp.AppendString(b, tagPrompt)
		if d.Text == "" && d.TokenIDs != nil {
			b = msgp.AppendNil(b)
		} else {
			b = msgp.AppendString(b, d.Text)
		}
		if n >= 3 {
			if d.TokenIDs == nil {
				b = msgp.AppendNil(b)
			} else {
				b = msgp.AppendArrayHeader(b, uint32(len(d.TokenIDs)))
				for _, id := range d.TokenIDs {
					b = msgp.AppendInt32(b, id)
				}
			}
		}
		if n >= 4 {
			b = msgp.AppendInt64(b, d.ScheduledNS)
		}
		return b
	case *Output:
		if d == nil {
			return msgp.AppendNil(b)
		}
		return appendOutput(b, d)
	case *ErrorData:
		if d == nil {
			return msgp.AppendNil(b)
		}
		b = msgp.AppendArrayHeader(b, 3)
		b = msgp.AppendString(b, tagError)
		b = msgp.AppendString(b, d.Type)
		return msgp.AppendString(b, d.Message)
	}
	return msgp.AppendNil(b)
}

// appendOutput writes ["TextModelOutput", output, reasoning, usage, finish_reason].
// The first two fields are the Python tool's: a streamed field is the pair
// (first chunk, the rest). usage and finish_reason are trailing extensions,
// omitted when empty.
func appendOutput(b []byte, o *Output) []byte {
	n := uint32(2)
	switch {
	case o.FinishReason != "":
		n = 5
	case o.Usage != nil:
		n = 4
	case o.Reasoning != "":
		n = 3
	}
	b = msgp.AppendArrayHeader(b, n)
	b = msgp.AppendString(b, tagOutput)
	streamedField := func(b []byte, s string) []byte {
		k := min(o.FirstChunkLen, len(s))
		b = msgp.AppendArrayHeader(b, 2)
		b = msgp.AppendString(b, s[:k])
		return msgp.AppendString(b, s[k:])
	}
	if o.Streamed && o.Reasoning == "" {
		b = streamedField(b, o.Text)
	} else {
		b = msgp.AppendString(b, o.Text)
	}
	if n >= 3 {
		switch {
		case o.Reasoning == "":
			b = msgp.AppendNil(b)
		case o.Streamed:
			b = streamedField(b, o.Reasoning)
		default:
			b = msgp.AppendString(b, o.Reasoning)
		}
	}
	if n >= 4 {
		if o.Usage == nil {
			b = msgp.AppendNil(b)
		} else {
			u := o.Usage
			m := uint32(2)
			if u.ReasoningTokens > 0 {
				m = 3
			}
			b = msgp.AppendMapHeader(b, m)
			b = msgp.AppendString(b, "prompt_tokens")
			b = msgp.AppendInt64(b, u.PromptTokens)
			b = msgp.AppendString(b, "completion_tokens")
			b = msgp.AppendInt64(b, u.CompletionTokens)
			if m == 3 {
				b = msgp.AppendString(b, "reasoning_tokens")
				b = msgp.AppendInt64(b, u.ReasoningTokens)
			}
		}
	}
	if n >= 5 {
		b = msgp.AppendString(b, o.FinishReason)
	}
	return b
}

// DecodeRecord parses the msgpack map form of a record. Unknown keys are
// skipped; a missing event_type is an error.
func DecodeRecord(p []byte) (Record, error) {
	var r Record
	n, p, err := msgp.ReadMapHeaderBytes(p)
	if err != nil {
		return r, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	for i := uint32(0); i < n; i++ {
		var key []byte
		key, p, err = msgp.ReadMapKeyZC(p)
		if err != nil {
			return r, fmt.Errorf("%w: key: %v", ErrDecode, err)
		}
		switch string(key) {
		case "event_type":
			var s []byte
			s, p, err = msgp.ReadStringZC(p)
			if err == nil {
				if r.Type = topicType(s); r.Type == Invalid {
					err = fmt.Errorf("unknown event type %q", s)
				}
			}
		case "timestamp_ns":
			r.TimestampNS, p, err = msgp.ReadInt64Bytes(p)
		case "sample_uuid":
			if msgp.IsNil(p) {
				p, err = msgp.ReadNilBytes(p)
			} else {
				r.SampleUUID, p, err = msgp.ReadStringBytes(p)
			}
		case "data":
			r.Data, p, err = decodeData(p)
		default:
			p, err = msgp.Skip(p)
		}
		if err != nil {
			return r, fmt.Errorf("%w: %s: %v", ErrDecode, key, err)
		}
	}
	if r.Type == Invalid {
		return r, fmt.Errorf("%w: no event_type", ErrDecode)
	}
	return r, nil
}

func decodeData(p []byte) (Data, []byte, error) {
	if msgp.IsNil(p) {
		p, err := msgp.ReadNilBytes(p)
		return nil, p, err
	}
	n, p, err := msgp.ReadArrayHeaderBytes(p)
	if err != nil {
		return nil, p, err
	}
	if n == 0 {
		return nil, p, errors.New("empty payload array")
	}
	tag, p, err := msgp.ReadStringZC(p)
	if err != nil {
		return nil, p, err
	}
	rest := n - 1
	field := func(i uint32) bool { return i < rest }
	switch string(tag) {
	case tagPrompt:
		d := &PromptData{}
		if field(0) {
			if d.Text, p, err = readOptString(p); err != nil {
				return nil, p, err
			}
		}
		if field(1) && !msgp.IsNil(p) {
			var m uint32
			if m, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
				return nil, p, err
			}
			d.TokenIDs = make([]int32, m)
			for j := range d.TokenIDs {
				if d.TokenIDs[j], p, err = msgp.ReadInt32Bytes(p); err != nil {
					return nil, p, err
				}
			}
		} else if field(1) {
			p, _ = msgp.ReadNilBytes(p)
		}
		if field(2) {
			if d.ScheduledNS, p, err = msgp.ReadInt64Bytes(p); err != nil {
				return nil, p, err
			}
		}
		p, err = skipN(p, rest, 3)
		return d, p, err
	case tagOutput:
		// The output and its usage share one allocation.
		ou := &outputUsage{}
		o := &ou.o
		var first int
		var streamed bool
		if field(0) {
			if o.Text, first, streamed, p, err = readStreamedField(p); err != nil {
				return nil, p, err
			}
			if streamed {
				o.Streamed, o.FirstChunkLen = true, first
			}
		}
		if field(1) {
			var rs bool
			if o.Reasoning, first, rs, p, err = readStreamedField(p); err != nil {
				return nil, p, err
			}
			if rs && o.Reasoning != "" {
				o.Streamed, o.FirstChunkLen = true, first
			}
		}
		if field(2) {
			if p, err = readUsage(p, ou); err != nil {
				return nil, p, err
			}
		}
		if field(3) {
			var fr []byte
			if msgp.IsNil(p) {
				p, err = msgp.ReadNilBytes(p)
			} else if fr, p, err = msgp.ReadStringZC(p); err == nil {
				o.FinishReason = finishReason(fr)
			}
			if err != nil {
				return nil, p, err
			}
		}
		p, err = skipN(p, rest, 4)
		return o, p, err
	case tagError:
		d := &ErrorData{}
		if field(0) {
			if d.Type, p, err = readOptString(p); err != nil {
				return nil, p, err
			}
		}
		if field(1) {
			if d.Message, p, err = readOptString(p); err != nil {
				return nil, p, err
			}
		}
		p, err = skipN(p, rest, 2)
		return d, p, err
	}
	return nil, p, fmt.Errorf("unknown payload tag %q", tag)
}

// skipN skips the fields of an array payload past the ones this version knows.
func skipN(p []byte, have, known uint32) ([]byte, error) {
	var err error
	for i := known; i < have; i++ {
		if p, err = msgp.Skip(p); err != nil {
			return p, err
		}
	}
	return p, nil
}

func readOptString(p []byte) (string, []byte, error) {
	if msgp.IsNil(p) {
		p, err := msgp.ReadNilBytes(p)
		return "", p, err
	}
	return msgp.ReadStringBytes(p)
}

// readStreamedField reads a string, nil, or an array of strings (streamed
// chunks: the first, then the rest), returning the joined text and the length
// of the first part.
func readStreamedField(p []byte) (s string, first int, streamed bool, _ []byte, err error) {
	if msgp.IsNil(p) {
		p, err = msgp.ReadNilBytes(p)
		return "", 0, false, p, err
	}
	if msgp.NextType(p) == msgp.StrType {
		s, p, err = msgp.ReadStringBytes(p)
		return s, 0, false, p, err
	}
	n, p, err := msgp.ReadArrayHeaderBytes(p)
	if err != nil {
		return "", 0, false, p, err
	}
	var parts [2][]byte
	var rest []byte // parts beyond the second, joined (rare)
	for i := uint32(0); i < n; i++ {
		var part []byte
		if part, p, err = msgp.ReadStringZC(p); err != nil {
			return "", 0, false, p, err
		}
		if i < 2 {
			parts[i] = part
		} else {
			rest = append(rest, part...)
		}
	}
	// One allocation: the conversions inside a concatenation are not copied.
	return string(parts[0]) + string(parts[1]) + string(rest), len(parts[0]), true, p, nil
}

// outputUsage holds a decoded output and its usage in one allocation.
type outputUsage struct {
	o Output
	u Usage
}

// readUsage reads the usage map into ou's usage and points the output at it.
func readUsage(p []byte, ou *outputUsage) ([]byte, error) {
	if msgp.IsNil(p) {
		return msgp.ReadNilBytes(p)
	}
	n, p, err := msgp.ReadMapHeaderBytes(p)
	if err != nil {
		return p, err
	}
	u := &ou.u
	for i := uint32(0); i < n; i++ {
		var key []byte
		if key, p, err = msgp.ReadMapKeyZC(p); err != nil {
			return p, err
		}
		var dst *int64
		switch string(key) {
		case "prompt_tokens":
			dst = &u.PromptTokens
		case "completion_tokens":
			dst = &u.CompletionTokens
		case "reasoning_tokens":
			dst = &u.ReasoningTokens
		}
		if dst == nil || msgp.IsNil(p) {
			p, err = msgp.Skip(p)
		} else {
			*dst, p, err = msgp.ReadInt64Bytes(p)
		}
		if err != nil {
			return p, err
		}
	}
	ou.o.Usage = u
	return p, nil
}

// finishReason returns the common finish reasons without allocating.
func finishReason(b []byte) string {
	switch string(b) {
	case "stop":
		return "stop"
	case "length":
		return "length"
	case "":
		return ""
	}
	return string(b)
}

// PadTopic returns topic NUL-padded to [TopicSize] bytes; a longer topic is
// truncated (no defined topic is longer).
func PadTopic(topic string) [TopicSize]byte {
	var t [TopicSize]byte
	copy(t[:], topic)
	return t
}

// topicType maps a topic to its Type without allocating (Invalid when unknown).
func topicType(b []byte) Type {
	switch string(b) {
	case "session.started":
		return SessionStarted
	case "session.ended":
		return SessionEnded
	case "session.stop_loadgen":
		return SessionStopLoadgen
	case "session.start_performance_tracking":
		return SessionStartTracking
	case "session.stop_performance_tracking":
		return SessionStopTracking
	case "sample.issued":
		return SampleIssued
	case "sample.recv_first":
		return SampleRecvFirst
	case "sample.recv_non_first":
		return SampleRecvNonFirst
	case "sample.complete":
		return SampleComplete
	case "error.generic":
		return ErrorGeneric
	case "error.client":
		return ErrorClient
	case "error.loadgen":
		return ErrorLoadgen
	case "error.session":
		return ErrorSession
	}
	return Invalid
}
