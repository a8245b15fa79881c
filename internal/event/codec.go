package event

import (
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/msgpskip"
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

// OnDecodeError drops a malformed payload: a frame that does not decode is
// not a sample and must not be counted as a failed one. The subscriber counts
// and logs it as a bad frame.
func (Codec) OnDecodeError([]byte, error) (Record, bool) { return Record{}, false }

// The keys of the record map. The first six are the Python tool's: it writes
// conversation_id ("" when unused) and turn (nil) on every record, and
// finish_reason and worker_id only when set. scheduled_ns, usage and
// retries are inferbench's extensions. Extensions are extra keys of the record map, which
// the Python decoder ignores, and never positional elements of its payload
// arrays: those grow at the end as the Python tool evolves, so a positional
// extension would be read as its next field.
const (
	keyEventType      = "event_type"
	keyTimestamp      = "timestamp_ns"
	keySampleUUID     = "sample_uuid"
	keyConversationID = "conversation_id"
	keyTurn           = "turn"
	keyData           = "data"
	keyFinishReason   = "finish_reason"
	keyScheduledNS    = "scheduled_ns"
	keyUsage          = "usage"
	keyRetries        = "retries"     // Output.Retries, when not 0
	keyReleasedNS     = "released_ns" // PromptData.ReleasedNS, when not 0
	keyLastTurn       = "last_turn"   // Record.LastTurn, when true
	// Record.RecordedHistory, when true.
	keyRecordedHistory = "recorded_history"
)

// The array lengths, tag included, of the Python tool's current payloads:
// PromptData is [tag, text, token_ids, messages, tools, chat_template_kwargs,
// chat_template, tool_choice] and TextModelOutput [tag, output, reasoning, …]
// with one more field inferbench never sets.
const (
	promptFields = 8
	outputFields = 4
)

// AppendRecord appends the msgpack map form of r to b, in the current layout
// of the Python tool, with inferbench's extensions as extra keys.
func AppendRecord(b []byte, r *Record) []byte {
	var sched, released int64
	var usage *Usage
	var finish string
	var retries int32
	switch d := r.Data.(type) {
	case *PromptData:
		if d != nil {
			sched, released = d.ScheduledNS, d.ReleasedNS
		}
	case *Output:
		if d != nil {
			usage, finish, retries = d.Usage, d.FinishReason, d.Retries
		}
	}
	n := uint32(6)
	if finish != "" {
		n++
	}
	if sched != 0 {
		n++
	}
	if usage != nil {
		n++
	}
	if retries != 0 {
		n++
	}
	if released != 0 {
		n++
	}
	if r.LastTurn {
		n++
	}
	if r.RecordedHistory {
		n++
	}
	b = msgp.AppendMapHeader(b, n)
	b = msgp.AppendString(b, keyEventType)
	b = msgp.AppendString(b, r.Type.Topic())
	b = msgp.AppendString(b, keyTimestamp)
	b = msgp.AppendInt64(b, r.TimestampNS)
	b = msgp.AppendString(b, keySampleUUID)
	b = msgp.AppendString(b, r.SampleUUID)
	b = msgp.AppendString(b, keyConversationID)
	b = msgp.AppendString(b, r.ConversationID)
	b = msgp.AppendString(b, keyTurn)
	if r.Turn != 0 {
		b = msgp.AppendInt32(b, r.Turn)
	} else {
		b = msgp.AppendNil(b)
	}
	b = msgp.AppendString(b, keyData)
	b = appendData(b, r.Data)
	if finish != "" {
		b = msgp.AppendString(b, keyFinishReason)
		b = msgp.AppendString(b, finish)
	}
	if sched != 0 {
		b = msgp.AppendString(b, keyScheduledNS)
		b = msgp.AppendInt64(b, sched)
	}
	if usage != nil {
		b = msgp.AppendString(b, keyUsage)
		b = appendUsage(b, usage)
	}
	if retries != 0 {
		b = msgp.AppendString(b, keyRetries)
		b = msgp.AppendInt32(b, retries)
	}
	if released != 0 {
		b = msgp.AppendString(b, keyReleasedNS)
		b = msgp.AppendInt64(b, released)
	}
	if r.LastTurn {
		b = msgp.AppendString(b, keyLastTurn)
		b = msgp.AppendBool(b, true)
	}
	if r.RecordedHistory {
		b = msgp.AppendString(b, keyRecordedHistory)
		b = msgp.AppendBool(b, true)
	}
	return b
}

func appendData(b []byte, d Data) []byte {
	switch d := d.(type) {
	case *PromptData:
		if d == nil {
			return msgp.AppendNil(b)
		}
		b = msgp.AppendArrayHeader(b, promptFields)
		b = msgp.AppendString(b, tagPrompt)
		if d.Text == "" && d.TokenIDs != nil {
			b = msgp.AppendNil(b)
		} else {
			b = msgp.AppendString(b, d.Text)
		}
		if d.TokenIDs == nil {
			b = msgp.AppendNil(b)
		} else {
			b = msgp.AppendArrayHeader(b, uint32(len(d.TokenIDs)))
			for _, id := range d.TokenIDs {
				b = msgp.AppendInt32(b, id)
			}
		}
		for range promptFields - 3 {
			b = msgp.AppendNil(b)
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

// appendOutput writes ["TextModelOutput", output, reasoning, nil]: a streamed
// field is the pair (first chunk, the rest), as the Python tool sends it.
func appendOutput(b []byte, o *Output) []byte {
	b = msgp.AppendArrayHeader(b, outputFields)
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
	switch {
	case o.Reasoning == "":
		b = msgp.AppendNil(b)
	case o.Streamed:
		b = streamedField(b, o.Reasoning)
	default:
		b = msgp.AppendString(b, o.Reasoning)
	}
	return msgp.AppendNil(b)
}

func appendUsage(b []byte, u *Usage) []byte {
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
	return b
}

// DecodeRecord parses the msgpack map form of a record in any layout the
// Python tool or inferbench has written: the seed-era one (four keys;
// inferbench's scheduled_ns, usage and finish_reason as trailing payload
// elements) and the current one (more keys; extensions as keys). Unknown keys
// and payload elements are skipped; a missing event_type is an error.
//
// Every length read from p is checked against the bytes that remain before
// anything is allocated for it, so a frame cannot make the decoder allocate
// more than a small multiple of its own size.
func DecodeRecord(p []byte) (Record, error) {
	var r Record
	n, p, err := msgp.ReadMapHeaderBytes(p)
	if err != nil {
		return r, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	if uint64(n)*2 > uint64(len(p)) {
		return r, fmt.Errorf("%w: map of %d entries in %d bytes", ErrDecode, n, len(p))
	}
	var (
		ou                 *outputUsage // the decoded output, when data is one
		finish             []byte
		hasFinish          bool
		sched, released    int64
		hasSched, hasUsage bool
		usage              Usage
		retries            int32
	)
	for i := uint32(0); i < n; i++ {
		var key []byte
		key, p, err = readKey(p)
		if err != nil {
			return r, fmt.Errorf("%w: key: %v", ErrDecode, err)
		}
		switch string(key) {
		case keyEventType:
			var s []byte
			s, p, err = readKey(p)
			if err == nil {
				if r.Type = topicType(s); r.Type == Invalid {
					err = fmt.Errorf("unknown event type %q", s)
				}
			}
		case keyTimestamp:
			r.TimestampNS, p, err = msgp.ReadInt64Bytes(p)
		case keySampleUUID:
			if msgp.IsNil(p) {
				p, err = msgp.ReadNilBytes(p)
			} else {
				r.SampleUUID, p, err = msgp.ReadStringBytes(p)
			}
		case keyData:
			r.Data, ou, p, err = decodeData(p)
		case keyConversationID:
			if msgp.NextType(p) == msgp.StrType {
				r.ConversationID, p, err = msgp.ReadStringBytes(p)
			} else {
				p, err = msgpskip.Skip(p)
			}
		case keyTurn:
			if t := msgp.NextType(p); t == msgp.IntType || t == msgp.UintType {
				r.Turn, p, err = msgp.ReadInt32Bytes(p)
			} else {
				p, err = msgpskip.Skip(p)
			}
		case keyLastTurn:
			if msgp.NextType(p) == msgp.BoolType {
				r.LastTurn, p, err = msgp.ReadBoolBytes(p)
			} else {
				p, err = msgpskip.Skip(p)
			}
		case keyRecordedHistory:
			if msgp.NextType(p) == msgp.BoolType {
				r.RecordedHistory, p, err = msgp.ReadBoolBytes(p)
			} else {
				p, err = msgpskip.Skip(p)
			}
		// The optional keys below are skipped when their type is not the
		// expected one, so that a future key of the same name with another
		// meaning cannot make every record undecodable.
		case keyFinishReason:
			if msgp.NextType(p) == msgp.StrType {
				finish, p, err = msgp.ReadStringZC(p)
				hasFinish = true
			} else {
				p, err = msgpskip.Skip(p)
			}
		case keyScheduledNS:
			if t := msgp.NextType(p); t == msgp.IntType || t == msgp.UintType {
				sched, p, err = msgp.ReadInt64Bytes(p)
				hasSched = true
			} else {
				p, err = msgpskip.Skip(p)
			}
		case keyReleasedNS:
			if t := msgp.NextType(p); t == msgp.IntType || t == msgp.UintType {
				released, p, err = msgp.ReadInt64Bytes(p)
			} else {
				p, err = msgpskip.Skip(p)
			}
		case keyRetries:
			if t := msgp.NextType(p); t == msgp.IntType || t == msgp.UintType {
				retries, p, err = msgp.ReadInt32Bytes(p)
			} else {
				p, err = msgpskip.Skip(p)
			}
		case keyUsage:
			if msgp.NextType(p) == msgp.MapType {
				p, err = readUsage(p, &usage)
				hasUsage = true
			} else {
				p, err = msgpskip.Skip(p)
			}
		default:
			p, err = msgpskip.Skip(p)
		}
		if err != nil {
			return r, fmt.Errorf("%w: %s: %v", ErrDecode, key, err)
		}
	}
	if r.Type == Invalid {
		return r, fmt.Errorf("%w: no event_type", ErrDecode)
	}
	if ou != nil {
		if hasUsage {
			ou.u = usage
			ou.o.Usage = &ou.u
		}
		if hasFinish {
			ou.o.FinishReason = FinishReason(finish)
		}
		ou.o.Retries = retries
	}
	if hasSched || released != 0 {
		if pd, ok := r.Data.(*PromptData); ok {
			if hasSched {
				pd.ScheduledNS = sched
			}
			pd.ReleasedNS = released
		} else if r.Data == nil {
			r.Data = &PromptData{ScheduledNS: sched, ReleasedNS: released}
		}
	}
	return r, nil
}

// decodeData reads a tagged payload array. For an output it also returns the
// allocation that holds it, so the record's usage can join it.
func decodeData(p []byte) (Data, *outputUsage, []byte, error) {
	if msgp.IsNil(p) {
		p, err := msgp.ReadNilBytes(p)
		return nil, nil, p, err
	}
	n, p, err := msgp.ReadArrayHeaderBytes(p)
	if err != nil {
		return nil, nil, p, err
	}
	if n == 0 {
		return nil, nil, p, errors.New("empty payload array")
	}
	if uint64(n) > uint64(len(p)) {
		return nil, nil, p, fmt.Errorf("payload array of %d elements in %d bytes", n, len(p))
	}
	tag, p, err := readKey(p)
	if err != nil {
		return nil, nil, p, err
	}
	rest := n - 1
	field := func(i uint32) bool { return i < rest }
	switch string(tag) {
	case tagPrompt:
		d := &PromptData{}
		if field(0) {
			if d.Text, p, err = readOptString(p); err != nil {
				return nil, nil, p, err
			}
		}
		if field(1) && !msgp.IsNil(p) {
			var m uint32
			if m, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
				return nil, nil, p, err
			}
			// Every id takes at least one byte.
			if uint64(m) > uint64(len(p)) {
				return nil, nil, p, fmt.Errorf("token_ids of %d elements in %d bytes", m, len(p))
			}
			d.TokenIDs = make([]int32, m)
			for j := range d.TokenIDs {
				if d.TokenIDs[j], p, err = msgp.ReadInt32Bytes(p); err != nil {
					return nil, nil, p, err
				}
			}
		} else if field(1) {
			p, _ = msgp.ReadNilBytes(p)
		}
		// Third field: the Python tool's messages (nil or an array), or the
		// seed-era inferbench scheduled_ns (an integer).
		if field(2) {
			if t := msgp.NextType(p); t == msgp.IntType || t == msgp.UintType {
				d.ScheduledNS, p, err = msgp.ReadInt64Bytes(p)
			} else {
				p, err = msgpskip.Skip(p)
			}
			if err != nil {
				return nil, nil, p, err
			}
		}
		p, err = skipN(p, rest, 3)
		return d, nil, p, err
	case tagOutput:
		// The output and its usage share one allocation.
		ou := &outputUsage{}
		o := &ou.o
		var first int
		var streamed bool
		if field(0) {
			if o.Text, first, streamed, p, err = readStreamedField(p); err != nil {
				return nil, nil, p, err
			}
			if streamed {
				o.Streamed, o.FirstChunkLen = true, first
			}
		}
		if field(1) {
			var rs bool
			if o.Reasoning, first, rs, p, err = readStreamedField(p); err != nil {
				return nil, nil, p, err
			}
			if rs && o.Reasoning != "" {
				o.Streamed, o.FirstChunkLen = true, first
			}
		}
		// Third and fourth fields: the seed-era inferbench usage (a map) and
		// finish_reason (a string); anything else is a field of the Python
		// tool's that inferbench does not read.
		if field(2) {
			if msgp.NextType(p) == msgp.MapType {
				if p, err = readUsage(p, &ou.u); err == nil {
					o.Usage = &ou.u
				}
			} else {
				p, err = msgpskip.Skip(p)
			}
			if err != nil {
				return nil, nil, p, err
			}
		}
		if field(3) {
			var fr []byte
			if msgp.NextType(p) == msgp.StrType {
				if fr, p, err = msgp.ReadStringZC(p); err == nil {
					o.FinishReason = FinishReason(fr)
				}
			} else {
				p, err = msgpskip.Skip(p)
			}
			if err != nil {
				return nil, nil, p, err
			}
		}
		p, err = skipN(p, rest, 4)
		return o, ou, p, err
	case tagError:
		d := &ErrorData{}
		if field(0) {
			if d.Type, p, err = readOptString(p); err != nil {
				return nil, nil, p, err
			}
		}
		if field(1) {
			if d.Message, p, err = readOptString(p); err != nil {
				return nil, nil, p, err
			}
		}
		p, err = skipN(p, rest, 2)
		return d, nil, p, err
	}
	return nil, nil, p, fmt.Errorf("unknown payload tag %q", tag)
}

// readKey reads a string without copying it, with a fast path for the short
// strings (fixstr) that map keys, payload tags and most topics are.
func readKey(p []byte) ([]byte, []byte, error) {
	if len(p) > 0 && p[0]&0xe0 == 0xa0 {
		n := 1 + int(p[0]&0x1f)
		if len(p) < n {
			return nil, p, msgp.ErrShortBytes
		}
		return p[1:n], p[n:], nil
	}
	return msgp.ReadMapKeyZC(p)
}

// skipN skips the fields of an array payload past the ones this version knows.
func skipN(p []byte, have, known uint32) ([]byte, error) {
	var err error
	for i := known; i < have; i++ {
		if p, err = msgpskip.Skip(p); err != nil {
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
	if uint64(n) > uint64(len(p)) {
		return "", 0, false, p, fmt.Errorf("array of %d chunks in %d bytes", n, len(p))
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

// readUsage reads a usage map into u; unknown keys are skipped.
func readUsage(p []byte, u *Usage) ([]byte, error) {
	n, p, err := msgp.ReadMapHeaderBytes(p)
	if err != nil {
		return p, err
	}
	if uint64(n)*2 > uint64(len(p)) {
		return p, fmt.Errorf("usage map of %d entries in %d bytes", n, len(p))
	}
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
		if t := msgp.NextType(p); dst == nil || t != msgp.IntType && t != msgp.UintType {
			p, err = msgpskip.Skip(p)
		} else {
			*dst, p, err = msgp.ReadInt64Bytes(p)
		}
		if err != nil {
			return p, err
		}
	}
	return p, nil
}

// FinishReason returns a finish reason's string, the common ones without
// allocating (decoders of other forms share it).
func FinishReason(b []byte) string {
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
