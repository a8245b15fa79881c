package eventlog_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
)

func TestJSONL_Run(t *testing.T) {
	recs := []event.Record{
		{Type: event.SessionStarted, TimestampNS: 1},
		{Type: event.SampleIssued, TimestampNS: 2, SampleUUID: "u1", Data: &event.PromptData{Text: "héllo \"world\"\n\x01\xff", TokenIDs: []int32{1, 2}, ScheduledNS: 2}},
		{Type: event.SampleRecvFirst, TimestampNS: 3, SampleUUID: "u1"},
		{Type: event.ErrorClient, TimestampNS: 4, SampleUUID: "u1", Data: &event.ErrorData{Type: "timeout", Message: "read: i/o timeout"}},
		{Type: event.SampleComplete, TimestampNS: 5, SampleUUID: "u1", Data: &event.Output{Text: "a\tb", Reasoning: "r", Streamed: true, FirstChunkLen: 1,
			Usage: &event.Usage{PromptTokens: 3, CompletionTokens: 2}, FinishReason: "stop"}},
		{Type: event.SessionEnded, TimestampNS: 6},
		{Type: event.SampleIssued, TimestampNS: 7, SampleUUID: "after-ended"},
	}
	b := bus.NewInProc[event.Record](0)
	sub := b.Subscribe()
	_ = b.PublishBatch(recs)
	path := filepath.Join(t.TempDir(), "events.jsonl")
	w, err := eventlog.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(context.Background(), sub); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %s", len(lines)+1, err, sc.Bytes())
		}
		lines = append(lines, m)
	}
	if len(lines) != 6 {
		t.Fatalf("%d lines, want 6 (up to and including session.ended)", len(lines))
	}
	want := map[string]any{"event_type": "sample.issued", "timestamp_ns": 2.0, "sample_uuid": "u1",
		"data": map[string]any{"text": "héllo \"world\"\n\x01\ufffd", "token_ids": []any{1.0, 2.0}, "scheduled_ns": 2.0}}
	if d := cmp.Diff(want, lines[1]); d != "" {
		t.Errorf("issued line (-want +got):\n%s", d)
	}
	out := lines[4]["data"].(map[string]any)
	if out["output"] != "a\tb" || out["finish_reason"] != "stop" || out["usage"].(map[string]any)["completion_tokens"] != 2.0 {
		t.Errorf("complete line data %v", out)
	}
	if lines[3]["data"].(map[string]any)["error_type"] != "timeout" {
		t.Errorf("error line %v", lines[3])
	}
	if w.Records() != 6 {
		t.Errorf("Records() = %d", w.Records())
	}
}
