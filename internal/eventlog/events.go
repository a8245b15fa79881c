package eventlog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"

	"github.com/inferbench/inferbench/internal/event"
)

// maxEventLineBytes bounds one line of events.jsonl.zst: a record carries a
// whole prompt or output, so the bound is wide; it only protects against a
// corrupt file.
const maxEventLineBytes = 64 << 20

// jsonLine is the line form AppendJSON writes.
type jsonLine struct {
	Type     string          `json:"event_type"`
	TS       int64           `json:"timestamp_ns"`
	ID       string          `json:"sample_uuid"`
	Data     json.RawMessage `json:"data"`
	Conv     string          `json:"conversation_id"`
	Turn     int32           `json:"turn"`
	LastTurn bool            `json:"last_turn"`
	Recorded bool            `json:"recorded_history"`
}

// jsonData is the union of the data objects AppendJSON writes.
type jsonData struct {
	Text      *string `json:"text"`
	TokenIDs  []int32 `json:"token_ids"`
	Sched     int64   `json:"scheduled_ns"`
	Index     *int    `json:"dataset_index"`
	Released  int64   `json:"released_ns"`
	Output    *string `json:"output"`
	Reasoning string  `json:"reasoning"`
	First     *int    `json:"first_chunk_len"`
	Usage     *struct {
		P int64 `json:"prompt_tokens"`
		C int64 `json:"completion_tokens"`
		R int64 `json:"reasoning_tokens"`
	} `json:"usage"`
	Finish  string  `json:"finish_reason"`
	Retries int32   `json:"retries"`
	ErrType *string `json:"error_type"`
	ErrMsg  string  `json:"error_message"`
}

// DecodeJSON reads one line of events.jsonl.zst back into the record
// AppendJSON wrote it from.
func DecodeJSON(line []byte) (event.Record, error) {
	var l jsonLine
	if err := json.Unmarshal(line, &l); err != nil {
		return event.Record{}, err
	}
	typ, err := event.ParseTopic(l.Type)
	if err != nil {
		return event.Record{}, err
	}
	if l.Turn < 0 {
		return event.Record{}, fmt.Errorf("turn %d: want 1 or more", l.Turn)
	}
	r := event.Record{Type: typ, TimestampNS: l.TS, SampleUUID: l.ID,
		ConversationID: l.Conv, Turn: l.Turn, LastTurn: l.LastTurn, RecordedHistory: l.Recorded}
	if len(l.Data) == 0 || string(l.Data) == "null" {
		return r, nil
	}
	var d jsonData
	if err := json.Unmarshal(l.Data, &d); err != nil {
		return event.Record{}, fmt.Errorf("data: %w", err)
	}
	switch {
	case d.Text != nil:
		p := &event.PromptData{Text: *d.Text, TokenIDs: d.TokenIDs, ScheduledNS: d.Sched, ReleasedNS: d.Released}
		if d.Index != nil {
			if *d.Index < 0 {
				return event.Record{}, fmt.Errorf("dataset_index %d: want 0 or more", *d.Index)
			}
			p.Index = *d.Index + 1
		}
		r.Data = p
	case d.Output != nil:
		o := &event.Output{Text: *d.Output, Reasoning: d.Reasoning, FinishReason: d.Finish, Retries: d.Retries}
		if d.First != nil {
			o.Streamed, o.FirstChunkLen = true, *d.First
		}
		if d.Usage != nil {
			o.Usage = &event.Usage{PromptTokens: d.Usage.P, CompletionTokens: d.Usage.C, ReasoningTokens: d.Usage.R}
		}
		r.Data = o
	case d.ErrType != nil:
		r.Data = &event.ErrorData{Type: *d.ErrType, Message: d.ErrMsg}
	}
	return r, nil
}

// ReadEvents decodes events.jsonl.zst, calling fn with every record in log
// order; fn's error stops the read and is returned. A last line cut short
// (the process died mid-write) ends the read without an error.
func ReadEvents(path string, fn func(*event.Record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("eventlog: %w", err)
	}
	defer f.Close()
	dec, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20),
		zstd.WithDecoderMaxMemory(256<<20))
	if err != nil {
		return fmt.Errorf("eventlog: %s: %w", path, err)
	}
	defer dec.Close()
	br := bufio.NewReaderSize(dec, 256<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := readLineMax(br, maxEventLineBytes)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("eventlog: %s line %d: %w", path, lineNo, err)
		}
		if line[len(line)-1] != '\n' {
			return nil
		}
		r, err := DecodeJSON(line)
		if err != nil {
			return fmt.Errorf("eventlog: %s line %d: %w", path, lineNo, err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
}
