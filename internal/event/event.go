// Package event defines the records that flow from the load generator to the
// aggregator and the event log: [Record], its [Type]s with their topic strings,
// the payloads ([PromptData], [Output], [ErrorData]) and the msgpack wire codec
// ([Codec]) that is compatible with the Python tool (MLCommons endpoints).
//
// Topics are "category.value" strings:
//
//	session.started  session.ended  session.stop_loadgen (the load generator
//	    was stopped before its schedule finished: the run ends interrupted)
//	session.start_performance_tracking  session.stop_performance_tracking
//	sample.issued  sample.recv_first  sample.recv_non_first  sample.complete
//	error.generic  error.client  error.loadgen  error.session
//
// A ZeroMQ frame is the topic NUL-padded to [TopicSize] bytes followed by the
// msgpack record. A batch frame has topic "batch" and carries a msgpack array
// of record payloads.
//
// The record is a msgpack map, in the layout of the Python tool's current
// version:
//
//	event_type       the topic string
//	timestamp_ns     int
//	sample_uuid      string ("" for session records)
//	conversation_id  string ("" when unused)
//	turn             int or nil
//	data             nil or a tagged array (below)
//	finish_reason    string, on sample.complete when the server sent one
//	worker_id        int (the Python tool's; read and ignored)
//	scheduled_ns     int, on sample.issued: inferbench's intended issue time
//	usage            map {prompt_tokens, completion_tokens[, reasoning_tokens]}:
//	                 inferbench's copy of the server's usage
//	released_ns      int, on sample.issued under a concurrency cap: when the
//	                 scheduler released the sample to wait for a free slot
//
// data is one of
//
//	["PromptData", text, token_ids, messages, tools, chat_template_kwargs, chat_template, tool_choice]
//	["TextModelOutput", output, reasoning, nil]   a streamed field is [first chunk, the rest]
//	["ErrorData", error_type, error_message]
//
// scheduled_ns, released_ns and usage are inferbench's extensions. They are keys of the
// record map, which the Python decoder ignores, and never positional elements
// of a payload array: those arrays grow at the end as the Python tool evolves.
// [DecodeRecord] also reads the seed-era layout (four keys; scheduled_ns as
// PromptData's fourth element, usage and finish_reason as TextModelOutput's
// fourth and fifth), and skips every key and element it does not know.
package event

import (
	"fmt"
	_ "unsafe" // for go:linkname to runtime.nanotime
)

// Type is the kind of an event record. The zero value is invalid.
type Type uint8

// The event types, grouped by category.
const (
	Invalid Type = iota
	SessionStarted
	SessionEnded
	SessionStopLoadgen
	SessionStartTracking
	SessionStopTracking
	SampleIssued
	SampleRecvFirst
	SampleRecvNonFirst
	SampleComplete
	ErrorGeneric
	ErrorClient
	ErrorLoadgen
	ErrorSession
	numTypes
)

// Category groups event types: session control, per-sample progress, errors.
type Category uint8

// The categories of [Type].
const (
	CategoryInvalid Category = iota
	CategorySession
	CategorySample
	CategoryError
)

var topics = [numTypes]string{
	Invalid:              "",
	SessionStarted:       "session.started",
	SessionEnded:         "session.ended",
	SessionStopLoadgen:   "session.stop_loadgen",
	SessionStartTracking: "session.start_performance_tracking",
	SessionStopTracking:  "session.stop_performance_tracking",
	SampleIssued:         "sample.issued",
	SampleRecvFirst:      "sample.recv_first",
	SampleRecvNonFirst:   "sample.recv_non_first",
	SampleComplete:       "sample.complete",
	ErrorGeneric:         "error.generic",
	ErrorClient:          "error.client",
	ErrorLoadgen:         "error.loadgen",
	ErrorSession:         "error.session",
}

var byTopic = func() map[string]Type {
	m := make(map[string]Type, numTypes)
	for t := SessionStarted; t < numTypes; t++ {
		m[topics[t]] = t
	}
	return m
}()

// Topic returns the "category.value" topic string of t, or "" for an invalid type.
func (t Type) Topic() string {
	if t >= numTypes {
		return ""
	}
	return topics[t]
}

// String returns the topic string.
func (t Type) String() string {
	if s := t.Topic(); s != "" {
		return s
	}
	return fmt.Sprintf("event.Type(%d)", uint8(t))
}

// Category returns the category of t.
func (t Type) Category() Category {
	switch {
	case t >= SessionStarted && t <= SessionStopTracking:
		return CategorySession
	case t >= SampleIssued && t <= SampleComplete:
		return CategorySample
	case t >= ErrorGeneric && t <= ErrorSession:
		return CategoryError
	}
	return CategoryInvalid
}

// IsError reports whether t is in the error category.
func (t Type) IsError() bool { return t.Category() == CategoryError }

// ParseTopic returns the Type whose topic string is s.
func ParseTopic(s string) (Type, error) {
	if t, ok := byTopic[s]; ok {
		return t, nil
	}
	return Invalid, fmt.Errorf("event: unknown event type %q", s)
}

// Data is the payload of a record: *[PromptData], *[Output] or *[ErrorData].
type Data interface{ isData() }

// PromptData is the payload of sample.issued: the prompt text and/or its token ids.
type PromptData struct {
	Text     string
	TokenIDs []int32 // nil when the prompt was sent as text
	// ScheduledNS is when the scheduler meant to issue the sample (0 when the
	// schedule has no intended times, e.g. offline); the record's timestamp
	// minus it is the scheduler's lateness.
	ScheduledNS int64
	// Index is 1 + the prompt's index in the dataset, so that a per-request
	// record can reference the prompt instead of repeating it; 0 means
	// unknown (the wire format does not carry it).
	Index int
	// ReleasedNS is when a concurrency cap (--max-concurrency) released the
	// sample to wait for a free slot, on the record's clock; 0 when no cap
	// applies. Then ScheduledNS → ReleasedNS is the scheduler's lateness and
	// ReleasedNS → the record's timestamp (the send) the queue wait.
	ReleasedNS int64
}

// Usage is the token usage reported by the server, when it reports one.
type Usage struct {
	PromptTokens     int64
	CompletionTokens int64
	ReasoningTokens  int64
}

// Output is the payload of sample.complete: the generated text and what the
// server said about it.
type Output struct {
	Text      string // the content, all chunks joined
	Reasoning string // the reasoning content, all chunks joined
	// Streamed is true when the response arrived as SSE chunks; FirstChunkLen is
	// then the byte length of the first chunk, which lies in Reasoning when
	// Reasoning is non-empty and in Text otherwise (TPOT counts the tokens after it).
	Streamed bool
	// Retries is how many times the client sent the request again, on a new
	// connection, because the server closed a reused connection before
	// answering (the server may have read the first copy). Not in the Python
	// tool's payload. (int32: it fits in Streamed's padding, so an Output
	// stays in its allocation size class.)
	Retries       int32
	FirstChunkLen int
	Usage         *Usage // nil when the server sent none
	FinishReason  string
}

// AfterFirstChunk returns the text generated after the first streamed chunk
// (reasoning then content), or "" for a response that was not streamed.
func (o *Output) AfterFirstChunk() string {
	if !o.Streamed {
		return ""
	}
	if o.Reasoning != "" {
		return o.Reasoning[min(o.FirstChunkLen, len(o.Reasoning)):] + o.Text
	}
	return o.Text[min(o.FirstChunkLen, len(o.Text)):]
}

// All returns the reasoning followed by the content: the text whose tokens are
// the output sequence length.
func (o *Output) All() string {
	if o.Reasoning == "" {
		return o.Text
	}
	return o.Reasoning + o.Text
}

// ErrorData is the payload of error.* records.
type ErrorData struct {
	Type    string // the error class, e.g. "http_status", "timeout"
	Message string
}

// Error returns "type: message".
func (e *ErrorData) Error() string {
	if e.Message == "" {
		return e.Type
	}
	return e.Type + ": " + e.Message
}

func (*PromptData) isData() {}
func (*Output) isData()     {}
func (*ErrorData) isData()  {}

// Record is one event. Timestamps come from [Now]: one monotonic clock per
// host, so records from several processes on one machine are comparable.
type Record struct {
	Type        Type
	TimestampNS int64
	SampleUUID  string
	Data        Data // nil when the event carries none
	// ConversationID and Turn place a sample in a multi-turn conversation:
	// the load generator sets them on sample.issued ("" and 0 for a
	// single-turn sample). Turn is 1-based. On the wire they are the Python
	// tool's conversation_id and turn keys.
	ConversationID string
	Turn           int32
	// LastTurn marks the issued record of a conversation's final turn, so
	// that a consumer knows the conversation is complete when that turn
	// completes (the wire's last_turn key, an inferbench extension).
	LastTurn bool
	// RecordedHistory marks the issued record of a turn whose prompt
	// carries the dataset's recorded replies as its history, not the
	// server's (--history recorded): no record holds those replies, so a
	// consumer cannot count the turn's whole prompt from the records (the
	// wire's recorded_history key, an inferbench extension).
	RecordedHistory bool
}

//go:linkname nanotime runtime.nanotime
func nanotime() int64

// Now returns the monotonic clock in nanoseconds (CLOCK_MONOTONIC on Linux,
// the clock Python's time.monotonic_ns reads). It costs a vDSO call, no syscall.
func Now() int64 { return nanotime() }
