package event_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/event"
)

func TestCodec_RoundTrip(t *testing.T) {
	uuid := "0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		name string
		rec  event.Record
	}{
		{"no data", event.Record{Type: event.SessionStarted, TimestampNS: 1}},
		{"no uuid", event.Record{Type: event.SessionStopTracking, TimestampNS: -5}},
		{"prompt text", event.Record{Type: event.SampleIssued, TimestampNS: 2, SampleUUID: uuid,
			Data: &event.PromptData{Text: "héllo ✓"}}},
		{"prompt empty text", event.Record{Type: event.SampleIssued, SampleUUID: uuid, Data: &event.PromptData{}}},
		{"conversation turn", event.Record{Type: event.SampleIssued, TimestampNS: 3, SampleUUID: uuid,
			Data: &event.PromptData{Text: "and then?"}, ConversationID: "conv-7", Turn: 3}},
		{"conversation last turn", event.Record{Type: event.SampleIssued, TimestampNS: 3, SampleUUID: uuid,
			Data: &event.PromptData{Text: "bye"}, ConversationID: "conv-7", Turn: 4, LastTurn: true}},
		{"conversation recorded history", event.Record{Type: event.SampleIssued, TimestampNS: 3, SampleUUID: uuid,
			Data: &event.PromptData{Text: "bye"}, ConversationID: "conv-7", Turn: 2, LastTurn: true, RecordedHistory: true}},
		{"prompt token ids", event.Record{Type: event.SampleIssued, SampleUUID: uuid,
			Data: &event.PromptData{TokenIDs: []int32{0, 1, -1, 1 << 30, 128000}}}},
		{"prompt text and ids", event.Record{Type: event.SampleIssued, SampleUUID: uuid,
			Data: &event.PromptData{Text: "hi", TokenIDs: []int32{}}}},
		{"prompt capped", event.Record{Type: event.SampleIssued, TimestampNS: 30, SampleUUID: uuid,
			Data: &event.PromptData{Text: "hi", ScheduledNS: 10, ReleasedNS: 20}}},
		{"output plain", event.Record{Type: event.SampleComplete, SampleUUID: uuid, Data: &event.Output{Text: "done"}}},
		{"output streamed", event.Record{Type: event.SampleComplete, SampleUUID: uuid,
			Data: &event.Output{Text: "Hello world", Streamed: true, FirstChunkLen: 5}}},
		{"output streamed reasoning", event.Record{Type: event.SampleComplete, SampleUUID: uuid,
			Data: &event.Output{Text: "42", Reasoning: "think", Streamed: true, FirstChunkLen: 2}}},
		{"output plain reasoning", event.Record{Type: event.SampleComplete, SampleUUID: uuid,
			Data: &event.Output{Text: "42", Reasoning: "think"}}},
		{"output usage", event.Record{Type: event.SampleComplete, SampleUUID: uuid,
			Data: &event.Output{Text: "x", Usage: &event.Usage{PromptTokens: 10, CompletionTokens: 1}}}},
		{"output reasoning usage", event.Record{Type: event.SampleComplete, SampleUUID: uuid,
			Data: &event.Output{Text: "x", Usage: &event.Usage{PromptTokens: 10, CompletionTokens: 9, ReasoningTokens: 8}}}},
		{"output all", event.Record{Type: event.SampleComplete, SampleUUID: uuid,
			Data: &event.Output{Text: "abc", Reasoning: "r", Streamed: true, FirstChunkLen: 1,
				Usage: &event.Usage{PromptTokens: 1, CompletionTokens: 2, ReasoningTokens: 3}, FinishReason: "stop"}}},
		{"output finish only", event.Record{Type: event.SampleComplete, SampleUUID: uuid,
			Data: &event.Output{Text: "abc", FinishReason: "length"}}},
		{"output retried", event.Record{Type: event.SampleComplete, SampleUUID: uuid,
			Data: &event.Output{Text: "abc", Retries: 1}}},
		{"error", event.Record{Type: event.ErrorClient, SampleUUID: uuid,
			Data: &event.ErrorData{Type: "http_status", Message: "503"}}},
		{"error no uuid", event.Record{Type: event.ErrorSession, Data: &event.ErrorData{Type: "t"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c event.Codec
			topic, b, err := c.Encode([]byte("prefix"), &tc.rec)
			if err != nil {
				t.Fatal(err)
			}
			if topic != tc.rec.Type.Topic() || len(topic) > event.TopicSize {
				t.Fatalf("topic %q for %v", topic, tc.rec.Type)
			}
			if string(b[:6]) != "prefix" {
				t.Fatalf("Encode did not append to dst: %q", b[:6])
			}
			got, err := c.Decode(b[6:])
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.rec, got); diff != "" {
				t.Fatalf("round trip (-sent +decoded):\n%s", diff)
			}
		})
	}
}

// dataFields returns the number of elements of the record's data array.
func dataFields(t *testing.T, b []byte) int {
	t.Helper()
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		var key []byte
		if key, b, err = msgp.ReadMapKeyZC(b); err != nil {
			t.Fatal(err)
		}
		if string(key) == "data" {
			m, _, err := msgp.ReadArrayHeaderBytes(b)
			if err != nil {
				t.Fatal(err)
			}
			return int(m)
		}
		if b, err = msgp.Skip(b); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("no data key")
	return 0
}

// recordKeys returns the keys of an encoded record map, in order.
func recordKeys(t *testing.T, b []byte) []string {
	t.Helper()
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for range n {
		var key []byte
		if key, b, err = msgp.ReadMapKeyZC(b); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, string(key))
		if b, err = msgp.Skip(b); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// TestCodec_CurrentLayout checks the encoder against the Python tool's current
// layout: fixed-length payload arrays, and inferbench's extensions as extra
// record keys after the Python tool's own.
func TestCodec_CurrentLayout(t *testing.T) {
	base := []string{"event_type", "timestamp_ns", "sample_uuid", "conversation_id", "turn", "data"}
	for _, tc := range []struct {
		name  string
		data  event.Data
		want  int // data array length, tag included
		extra []string
	}{
		{"prompt text", &event.PromptData{Text: "a"}, 8, nil},
		{"prompt ids", &event.PromptData{TokenIDs: []int32{1}}, 8, nil},
		{"prompt scheduled", &event.PromptData{Text: "a", ScheduledNS: 5}, 8, []string{"scheduled_ns"}},
		{"prompt capped", &event.PromptData{Text: "a", ScheduledNS: 5, ReleasedNS: 7}, 8, []string{"scheduled_ns", "released_ns"}},
		{"output text", &event.Output{Text: "a"}, 4, nil},
		{"output reasoning", &event.Output{Text: "a", Reasoning: "r"}, 4, nil},
		{"output usage", &event.Output{Text: "a", Usage: &event.Usage{}}, 4, []string{"usage"}},
		{"output finish", &event.Output{Text: "a", FinishReason: "stop"}, 4, []string{"finish_reason"}},
		{"output all", &event.Output{Text: "a", FinishReason: "length", Usage: &event.Usage{}}, 4,
			[]string{"finish_reason", "usage"}},
		{"output retried", &event.Output{Text: "a", Retries: 1}, 4, []string{"retries"}},
		{"error", &event.ErrorData{Type: "t"}, 3, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := event.Record{Type: event.SampleComplete, Data: tc.data}
			b := event.AppendRecord(nil, &r)
			if got := dataFields(t, b); got != tc.want {
				t.Fatalf("data array of %d elements, want %d", got, tc.want)
			}
			if diff := cmp.Diff(append(base[:len(base):len(base)], tc.extra...), recordKeys(t, b)); diff != "" {
				t.Fatalf("record keys (-want +got):\n%s", diff)
			}
		})
	}
}

// seedRecord builds a record in the seed-era layout inferbench wrote before
// the Python tool's current version: four keys, extensions as trailing
// payload elements.
func seedRecord(eventType string, data func([]byte) []byte) []byte {
	b := msgp.AppendMapHeader(nil, 4)
	b = msgp.AppendString(b, "event_type")
	b = msgp.AppendString(b, eventType)
	b = msgp.AppendString(b, "timestamp_ns")
	b = msgp.AppendInt64(b, 9)
	b = msgp.AppendString(b, "sample_uuid")
	b = msgp.AppendString(b, "u")
	b = msgp.AppendString(b, "data")
	return data(b)
}

func TestDecodeRecord_SeedLayout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		want    event.Record
	}{
		{"prompt with scheduled_ns", seedRecord("sample.issued", func(b []byte) []byte {
			b = msgp.AppendArrayHeader(b, 4)
			b = msgp.AppendString(b, "PromptData")
			b = msgp.AppendString(b, "hi")
			b = msgp.AppendNil(b)
			return msgp.AppendInt64(b, 1234)
		}), event.Record{Type: event.SampleIssued, TimestampNS: 9, SampleUUID: "u",
			Data: &event.PromptData{Text: "hi", ScheduledNS: 1234}}},
		{"prompt with ids", seedRecord("sample.issued", func(b []byte) []byte {
			b = msgp.AppendArrayHeader(b, 3)
			b = msgp.AppendString(b, "PromptData")
			b = msgp.AppendNil(b)
			b = msgp.AppendArrayHeader(b, 2)
			b = msgp.AppendInt(b, 7)
			return msgp.AppendInt(b, 8)
		}), event.Record{Type: event.SampleIssued, TimestampNS: 9, SampleUUID: "u",
			Data: &event.PromptData{TokenIDs: []int32{7, 8}}}},
		{"output with usage and finish reason", seedRecord("sample.complete", func(b []byte) []byte {
			b = msgp.AppendArrayHeader(b, 5)
			b = msgp.AppendString(b, "TextModelOutput")
			b = msgp.AppendArrayHeader(b, 2)
			b = msgp.AppendString(b, "a")
			b = msgp.AppendString(b, "bc")
			b = msgp.AppendNil(b)
			b = msgp.AppendMapHeader(b, 2)
			b = msgp.AppendString(b, "prompt_tokens")
			b = msgp.AppendInt(b, 3)
			b = msgp.AppendString(b, "completion_tokens")
			b = msgp.AppendInt(b, 2)
			return msgp.AppendString(b, "length")
		}), event.Record{Type: event.SampleComplete, TimestampNS: 9, SampleUUID: "u",
			Data: &event.Output{Text: "abc", Streamed: true, FirstChunkLen: 1,
				Usage: &event.Usage{PromptTokens: 3, CompletionTokens: 2}, FinishReason: "length"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := event.DecodeRecord(tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeRecord_PythonLayout decodes records as the Python tool's current
// version writes them (map keys conversation_id, turn, finish_reason,
// worker_id; an 8-element PromptData whose fourth element is messages).
func TestDecodeRecord_PythonLayout(t *testing.T) {
	head := func(eventType string, extra int) []byte {
		b := msgp.AppendMapHeader(nil, uint32(6+extra))
		b = msgp.AppendString(b, "event_type")
		b = msgp.AppendString(b, eventType)
		b = msgp.AppendString(b, "timestamp_ns")
		b = msgp.AppendInt64(b, 11)
		b = msgp.AppendString(b, "sample_uuid")
		b = msgp.AppendString(b, "u")
		b = msgp.AppendString(b, "conversation_id")
		b = msgp.AppendString(b, "c1")
		b = msgp.AppendString(b, "turn")
		return msgp.AppendInt(b, 2)
	}
	issued := head("sample.issued", 0)
	issued = msgp.AppendString(issued, "data")
	issued = msgp.AppendArrayHeader(issued, 8)
	issued = msgp.AppendString(issued, "PromptData")
	issued = msgp.AppendString(issued, "hello")
	issued = msgp.AppendNil(issued)
	// messages: a list of maps where inferbench's seed put scheduled_ns.
	issued = msgp.AppendArrayHeader(issued, 1)
	issued = msgp.AppendMapHeader(issued, 2)
	issued = msgp.AppendString(issued, "role")
	issued = msgp.AppendString(issued, "user")
	issued = msgp.AppendString(issued, "content")
	issued = msgp.AppendString(issued, "hello")
	for range 4 {
		issued = msgp.AppendNil(issued)
	}
	complete := head("sample.complete", 2)
	complete = msgp.AppendString(complete, "data")
	complete = msgp.AppendArrayHeader(complete, 4)
	complete = msgp.AppendString(complete, "TextModelOutput")
	complete = msgp.AppendArrayHeader(complete, 2)
	complete = msgp.AppendString(complete, "x")
	complete = msgp.AppendString(complete, "yz")
	complete = msgp.AppendNil(complete)
	complete = msgp.AppendNil(complete)
	complete = msgp.AppendString(complete, "finish_reason")
	complete = msgp.AppendString(complete, "tool_calls")
	complete = msgp.AppendString(complete, "worker_id")
	complete = msgp.AppendInt(complete, 3)
	for _, tc := range []struct {
		name    string
		payload []byte
		want    event.Record
	}{
		{"issued with messages", issued, event.Record{Type: event.SampleIssued, TimestampNS: 11, SampleUUID: "u",
			Data: &event.PromptData{Text: "hello"}, ConversationID: "c1", Turn: 2}},
		{"complete with finish_reason key", complete, event.Record{Type: event.SampleComplete, TimestampNS: 11, SampleUUID: "u",
			Data: &event.Output{Text: "xyz", Streamed: true, FirstChunkLen: 1, FinishReason: "tool_calls"}, ConversationID: "c1", Turn: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := event.DecodeRecord(tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// record builds a record map by hand, as another implementation would.
func record(eventType string, data func([]byte) []byte, extra ...string) []byte {
	b := msgp.AppendMapHeader(nil, uint32(4+len(extra)))
	b = msgp.AppendString(b, "event_type")
	b = msgp.AppendString(b, eventType)
	b = msgp.AppendString(b, "timestamp_ns")
	b = msgp.AppendInt64(b, 7)
	b = msgp.AppendString(b, "sample_uuid")
	b = msgp.AppendNil(b)
	for _, k := range extra {
		b = msgp.AppendString(b, k)
		b = msgp.AppendArrayHeader(b, 1)
		b = msgp.AppendFloat64(b, 1.5)
	}
	b = msgp.AppendString(b, "data")
	return data(b)
}

func TestDecodeRecord_Compatibility(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		want    event.Record
		wantErr bool
	}{
		{"unknown keys are skipped",
			record("session.ended", msgp.AppendNil, "future_key", "other"),
			event.Record{Type: event.SessionEnded, TimestampNS: 7}, false},
		{"extra trailing payload fields are skipped",
			record("error.client", func(b []byte) []byte {
				b = msgp.AppendArrayHeader(b, 5)
				b = msgp.AppendString(b, "ErrorData")
				b = msgp.AppendString(b, "timeout")
				b = msgp.AppendString(b, "msg")
				b = msgp.AppendInt(b, 99)
				return msgp.AppendMapHeader(b, 0)
			}),
			event.Record{Type: event.ErrorClient, TimestampNS: 7, Data: &event.ErrorData{Type: "timeout", Message: "msg"}}, false},
		{"missing trailing fields take defaults",
			record("sample.complete", func(b []byte) []byte {
				b = msgp.AppendArrayHeader(b, 2)
				b = msgp.AppendString(b, "TextModelOutput")
				return msgp.AppendNil(b)
			}),
			event.Record{Type: event.SampleComplete, TimestampNS: 7, Data: &event.Output{}}, false},
		{"python streamed tuple of several chunks",
			record("sample.complete", func(b []byte) []byte {
				b = msgp.AppendArrayHeader(b, 2)
				b = msgp.AppendString(b, "TextModelOutput")
				b = msgp.AppendArrayHeader(b, 3)
				b = msgp.AppendString(b, "ab")
				b = msgp.AppendString(b, "cd")
				return msgp.AppendString(b, "e")
			}),
			event.Record{Type: event.SampleComplete, TimestampNS: 7,
				Data: &event.Output{Text: "abcde", Streamed: true, FirstChunkLen: 2}}, false},
		{"unknown payload tag", record("sample.issued", func(b []byte) []byte {
			b = msgp.AppendArrayHeader(b, 2)
			b = msgp.AppendString(b, "ImagePrompt")
			return msgp.AppendString(b, "x")
		}), event.Record{}, true},
		{"unknown event type", record("sample.teleported", msgp.AppendNil), event.Record{}, true},
		{"empty payload array", record("sample.issued", func(b []byte) []byte {
			return msgp.AppendArrayHeader(b, 0)
		}), event.Record{}, true},
		{"no event_type", msgp.AppendMapHeader(nil, 0), event.Record{}, true},
		{"not a map", msgp.AppendArrayHeader(nil, 0), event.Record{}, true},
		{"truncated", record("session.ended", msgp.AppendNil)[:20], event.Record{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := event.DecodeRecord(tc.payload)
			if tc.wantErr {
				if !errors.Is(err, event.ErrDecode) {
					t.Fatalf("error %v, want ErrDecode", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCodec_OnDecodeError(t *testing.T) {
	var c event.Codec
	_, err := c.Decode([]byte{0xc1})
	if err == nil {
		t.Fatal("0xc1 decoded")
	}
	// A frame that does not decode is a bad frame, never a failed sample.
	if r, ok := c.OnDecodeError([]byte{0xc1}, err); ok {
		t.Fatalf("OnDecodeError delivered %+v", r)
	}
	if _, _, err := c.Encode(nil, &event.Record{}); err == nil {
		t.Fatal("Encode of an invalid record succeeded")
	}
}

// FuzzDecodeRecord checks that no input makes the decoder panic or allocate
// more than a small multiple of its size, and that whatever decodes
// re-encodes into a record that decodes to the same value. The seeds include
// the current and seed-era layouts and the hostile records.
func FuzzDecodeRecord(f *testing.F) {
	for _, r := range benchRecords() {
		f.Add(event.AppendRecord(nil, &r))
	}
	f.Add(record("error.client", func(b []byte) []byte {
		b = msgp.AppendArrayHeader(b, 3)
		b = msgp.AppendString(b, "ErrorData")
		b = msgp.AppendString(b, "t")
		return msgp.AppendString(b, "m")
	}))
	f.Add([]byte{})
	f.Add(seedRecord("sample.complete", func(b []byte) []byte {
		b = msgp.AppendArrayHeader(b, 5)
		b = msgp.AppendString(b, "TextModelOutput")
		b = msgp.AppendString(b, "a")
		b = msgp.AppendNil(b)
		b = msgp.AppendMapHeader(b, 1)
		b = msgp.AppendString(b, "completion_tokens")
		b = msgp.AppendInt(b, 2)
		return msgp.AppendString(b, "stop")
	}))
	for _, p := range hostileRecords() {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		var r event.Record
		var err error
		if n := allocated(func() { r, err = event.DecodeRecord(p) }); n > 8*uint64(len(p))+64<<10 {
			t.Fatalf("a %d-byte record allocated %d bytes", len(p), n)
		}
		if err != nil {
			return
		}
		again, err := event.DecodeRecord(event.AppendRecord(nil, &r))
		if err != nil {
			t.Fatalf("re-encoded record does not decode: %v", err)
		}
		if diff := cmp.Diff(r, again); diff != "" {
			t.Fatalf("re-encode changed the record:\n%s", diff)
		}
	})
}
