package eventlog_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/rundir"
)

// TestDecodeJSON_roundTrip: every record AppendJSON writes reads back
// equal, a multi-turn turn's conversation id, turn and last-turn mark
// included; a single-turn record's line has none of their keys.
func TestDecodeJSON_roundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rec    event.Record
		noConv bool // the line must have no conversation keys
	}{
		{"single-turn issued", event.Record{Type: event.SampleIssued, TimestampNS: 5, SampleUUID: "u",
			Data: &event.PromptData{Text: "hi \"x\"\n", TokenIDs: []int32{4, 5}, ScheduledNS: 3, Index: 1, ReleasedNS: 4}}, true},
		{"first turn", event.Record{Type: event.SampleIssued, TimestampNS: 5, SampleUUID: "u",
			Data: &event.PromptData{Text: "q", Index: 7}, ConversationID: "c\"1#2", Turn: 1}, false},
		{"last turn", event.Record{Type: event.SampleIssued, TimestampNS: 9, SampleUUID: "v",
			Data: &event.PromptData{Text: "q2", ScheduledNS: 8}, ConversationID: "c1#2", Turn: 3, LastTurn: true}, false},
		{"recorded history", event.Record{Type: event.SampleIssued, TimestampNS: 9, SampleUUID: "w",
			Data: &event.PromptData{Text: "q3"}, ConversationID: "c2", Turn: 2, RecordedHistory: true}, false},
		{"output", event.Record{Type: event.SampleComplete, TimestampNS: 12, SampleUUID: "v",
			Data: &event.Output{Text: "a", Reasoning: "r", Streamed: true, FirstChunkLen: 1, Retries: 1,
				Usage: &event.Usage{PromptTokens: 3, CompletionTokens: 2, ReasoningTokens: 1}, FinishReason: "length"}}, true},
		{"error", event.Record{Type: event.ErrorClient, TimestampNS: 13, SampleUUID: "v",
			Data: &event.ErrorData{Type: "timeout", Message: "m"}}, true},
		{"chunk", event.Record{Type: event.SampleRecvNonFirst, TimestampNS: 14, SampleUUID: "v"}, true},
		{"session", event.Record{Type: event.SessionEnded, TimestampNS: 15}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := eventlog.AppendJSON(nil, &tc.rec)
			if has := strings.Contains(string(line), `"turn"`) || strings.Contains(string(line), `"conversation_id"`); has == tc.noConv {
				t.Errorf("line %s: conversation keys present %v, want %v", line, has, !tc.noConv)
			}
			got, err := eventlog.DecodeJSON(line)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			if d := cmp.Diff(tc.rec, got); d != "" {
				t.Errorf("%s (-want +got):\n%s", line, d)
			}
		})
	}
	for _, bad := range []string{`{"event_type":"nope"}`, `{"event_type":"sample.issued","turn":-1}`, `{"event_type":"sample.issued","data":{"text":"x","dataset_index":-2}}`, `[`} {
		if _, err := eventlog.DecodeJSON([]byte(bad)); err == nil {
			t.Errorf("DecodeJSON(%s): no error", bad)
		}
	}
}

// TestReadEvents: the full log of a run reads back as the records it was
// written from, up to and including session.ended.
func TestReadEvents(t *testing.T) {
	dir := t.TempDir()
	if _, err := runLog(t, eventlog.Options{Dir: dir, Mode: eventlog.ModeFull, Streaming: true}); err != nil {
		t.Fatal(err)
	}
	var got []event.Record
	err := eventlog.ReadEvents(filepath.Join(dir, rundir.EventsFile), func(r *event.Record) error {
		got = append(got, *r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := script()[:14]
	// The invalid UTF-8 byte of the script's prompt is written as U+FFFD.
	want[4].Data.(*event.PromptData).Text = "héllo \"world\"\n\x01\ufffd"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}
