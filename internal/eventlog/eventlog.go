// Package eventlog writes a run's event stream to disk as events.jsonl: one
// JSON object per record, in bus order,
//
//	{"event_type":"sample.issued","timestamp_ns":123,"sample_uuid":"…","data":{"text":"…"}}
//
// with data {"text","token_ids","scheduled_ns"} for prompts,
// {"output","reasoning","first_chunk_len","usage","finish_reason"} for outputs
// and {"error_type","error_message"} for errors (null when absent). Only whole
// lines are ever written, so the file is valid line by line even when the
// process is killed between writes.
package eventlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/jsonw"
)

// DefaultFlushInterval bounds how long a record waits in memory.
const DefaultFlushInterval = 200 * time.Millisecond

// flushBytes is the buffered size that triggers a write.
const flushBytes = 256 << 10

// JSONL writes records to a file as JSON lines. It is not safe for
// concurrent use; Run owns it.
type JSONL struct {
	f         *os.File
	buf       []byte
	lastFlush time.Time
	n         int64
}

// Create opens path for writing (truncating it).
func Create(path string) (*JSONL, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	return &JSONL{f: f, buf: make([]byte, 0, flushBytes+4096), lastFlush: time.Now()}, nil
}

// Records returns how many records were written.
func (w *JSONL) Records() int64 { return w.n }

// Write appends one record; it reaches the file at the next flush.
func (w *JSONL) Write(r *event.Record) error {
	w.buf = AppendJSON(w.buf, r)
	w.buf = append(w.buf, '\n')
	w.n++
	if len(w.buf) >= flushBytes || time.Since(w.lastFlush) >= DefaultFlushInterval {
		return w.Flush()
	}
	return nil
}

// Flush writes the buffered lines in one write.
func (w *JSONL) Flush() error {
	w.lastFlush = time.Now()
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.f.Write(w.buf)
	w.buf = w.buf[:0]
	if err != nil {
		return fmt.Errorf("eventlog: %w", err)
	}
	return nil
}

// Close flushes and closes the file.
func (w *JSONL) Close() error {
	return errors.Join(w.Flush(), w.f.Close())
}

// Run writes every record from sub until session.ended (included), the end
// of the stream, or ctx ends; it flushes before returning. A quiet stream is
// still flushed every DefaultFlushInterval.
func (w *JSONL) Run(ctx context.Context, sub bus.Subscriber[event.Record]) error {
	defer w.Flush()
	for {
		wctx, cancel := context.WithTimeout(ctx, DefaultFlushInterval)
		batch, err := sub.Next(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, bus.ErrClosed) {
				return w.Flush()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				if err := w.Flush(); err != nil {
					return err
				}
				continue
			}
			return err
		}
		for i := range batch {
			if err := w.Write(&batch[i]); err != nil {
				return err
			}
			if batch[i].Type == event.SessionEnded {
				return w.Flush()
			}
		}
	}
}

// AppendJSON appends the JSON object of r (without a newline) to b.
func AppendJSON(b []byte, r *event.Record) []byte {
	b = append(b, `{"event_type":"`...)
	b = append(b, r.Type.Topic()...)
	b = append(b, `","timestamp_ns":`...)
	b = strconv.AppendInt(b, r.TimestampNS, 10)
	b = append(b, `,"sample_uuid":`...)
	b = jsonw.AppendString(b, r.SampleUUID)
	b = append(b, `,"data":`...)
	switch d := r.Data.(type) {
	case *event.PromptData:
		b = append(b, `{"text":`...)
		b = jsonw.AppendString(b, d.Text)
		if d.TokenIDs != nil {
			b = append(b, `,"token_ids":[`...)
			for i, id := range d.TokenIDs {
				if i > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, int64(id), 10)
			}
			b = append(b, ']')
		}
		if d.ScheduledNS != 0 {
			b = append(b, `,"scheduled_ns":`...)
			b = strconv.AppendInt(b, d.ScheduledNS, 10)
		}
		b = append(b, '}')
	case *event.Output:
		b = append(b, `{"output":`...)
		b = jsonw.AppendString(b, d.Text)
		if d.Reasoning != "" {
			b = append(b, `,"reasoning":`...)
			b = jsonw.AppendString(b, d.Reasoning)
		}
		if d.Streamed {
			b = append(b, `,"first_chunk_len":`...)
			b = strconv.AppendInt(b, int64(d.FirstChunkLen), 10)
		}
		if u := d.Usage; u != nil {
			b = append(b, `,"usage":{"prompt_tokens":`...)
			b = strconv.AppendInt(b, u.PromptTokens, 10)
			b = append(b, `,"completion_tokens":`...)
			b = strconv.AppendInt(b, u.CompletionTokens, 10)
			b = append(b, '}')
		}
		if d.FinishReason != "" {
			b = append(b, `,"finish_reason":`...)
			b = jsonw.AppendString(b, d.FinishReason)
		}
		b = append(b, '}')
	case *event.ErrorData:
		b = append(b, `{"error_type":`...)
		b = jsonw.AppendString(b, d.Type)
		b = append(b, `,"error_message":`...)
		b = jsonw.AppendString(b, d.Message)
		b = append(b, '}')
	default:
		b = append(b, "null"...)
	}
	return append(b, '}')
}
