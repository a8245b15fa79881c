// Package eventlog writes a run's event stream to disk, bounded by default:
//
//   - requests.jsonl (mode compact, the default, and full): one short JSON
//     line per request, written when the request completes, whatever the
//     length of its stream (see [Request] for the fields). The prompt is not
//     repeated: the record references it by dataset index, and config.yaml
//     records the dataset path and its sha256. The file also holds a header
//     line and one line per session event and per error that belongs to no
//     request, so that [Rebuild] can rebuild the run's final snapshot from it
//     when the run was killed before writing one.
//   - events.jsonl.zst (mode full): every record, chunk-level, as one JSON
//     object per line ([AppendJSON]), zstd-compressed. Every flush is a
//     complete zstd frame, so the file is a valid zstd stream (zstdcat
//     reads it) even when the process is killed between writes.
//
// Only whole lines (and whole frames) are ever written. At the first write
// failure (disk full, an unwritable file) [Log.Run] truncates the file back
// to its last complete line or frame (removing it when nothing was written),
// stops writing and returns a *[WriteError] naming the file and the cause;
// the caller decides to stop the run.
package eventlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/jsonw"
	"github.com/inferbench/inferbench/internal/rundir"
)

// Mode says what the event log writes.
type Mode string

// The modes of --event-log.
const (
	ModeCompact Mode = "compact" // requests.jsonl only (the default)
	ModeFull    Mode = "full"    // requests.jsonl and events.jsonl.zst
	ModeOff     Mode = "off"     // nothing
)

// ParseMode checks a mode name; "" means ModeCompact.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", ModeCompact:
		return ModeCompact, nil
	case ModeFull, ModeOff:
		return Mode(s), nil
	}
	return "", fmt.Errorf("event log mode %q: want compact, full or off", s)
}

// DefaultFlushInterval bounds how long a record waits in memory.
const DefaultFlushInterval = 200 * time.Millisecond

// flushBytes is the buffered size that triggers a write.
const flushBytes = 256 << 10

// TokenCounter counts the tokens of a text; it is the aggregator's tokenizer,
// so that the records carry the counts the aggregator recorded.
type TokenCounter interface {
	Count(text string) int
}

// Options configures a [Log].
type Options struct {
	Dir  string // the run directory
	Mode Mode   // "" means ModeCompact
	// Streaming says whether the run registered the streaming series (TTFT,
	// inter-chunk gap, TPOT); it is written into the header for Rebuild.
	Streaming bool
	// Tokenizer, when the aggregator counts tokens with one, counts ISL, OSL
	// and TPOT tokens for the records the same way; nil means token counts
	// come from token ids and the server's usage, as in the aggregator.
	Tokenizer TokenCounter
	// RecordedHistory is aggregator.Config's: multi-turn histories carried
	// the dataset's replies, so later turns' ISL comes from usage.
	RecordedHistory bool
	// WrapWriter, when set, wraps the file writers (fault injection in tests).
	WrapWriter func(name string, w io.Writer) io.Writer
}

// WriteError is the first write failure of the log: the file and the cause.
type WriteError struct {
	Path string
	Err  error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("event log %s: %v", e.Path, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

// Log writes the event log of one run. It is not safe for concurrent use;
// Run owns it until it returns.
type Log struct {
	req  *sink // requests.jsonl; nil when off
	full *sink // events.jsonl.zst; nil unless full
	enc  *zstd.Encoder
	tab  table

	lastFlush time.Time
	events    int64
	failed    error
}

// Open creates the files of mode in o.Dir (truncating them). With ModeOff it
// returns a Log that writes nothing.
func Open(o Options) (*Log, error) {
	mode, err := ParseMode(string(o.Mode))
	if err != nil {
		return nil, err
	}
	l := &Log{lastFlush: time.Now()}
	l.tab.init(o.Streaming, o.Tokenizer)
	l.tab.recordedHistory = o.RecordedHistory
	if mode == ModeOff {
		return l, nil
	}
	if l.req, err = openSink(rundir.Requests(o.Dir), o.WrapWriter); err != nil {
		return nil, err
	}
	// The header goes out at once, so the file is never empty.
	l.req.buf = l.tab.appendHeader(l.req.buf)
	if err := l.req.flush(nil); err != nil {
		return nil, err
	}
	if mode == ModeFull {
		if l.full, err = openSink(rundir.Events(o.Dir), o.WrapWriter); err != nil {
			_ = l.req.close()
			return nil, err
		}
		l.enc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			_ = l.req.close()
			_ = l.full.close()
			return nil, fmt.Errorf("eventlog: %w", err)
		}
	}
	return l, nil
}

// Requests returns how many request records were written to requests.jsonl.
func (l *Log) Requests() int64 { return l.tab.written }

// Events returns how many records the full log received.
func (l *Log) Events() int64 { return l.events }

// Write folds one record into the log; it reaches the files at the next
// flush (when a buffer is full, or Run's next periodic flush). After a write
// failure it does nothing and returns that failure.
func (l *Log) Write(r *event.Record) error {
	if l.failed != nil {
		return l.failed
	}
	if l.full != nil {
		l.full.buf = AppendJSON(l.full.buf, r)
		l.full.buf = append(l.full.buf, '\n')
		l.events++
	}
	if l.req != nil {
		l.req.buf = l.tab.apply(l.req.buf, r)
	}
	if (l.req != nil && len(l.req.buf) >= flushBytes) || (l.full != nil && len(l.full.buf) >= flushBytes) {
		return l.Flush()
	}
	return nil
}

// Flush writes what is buffered: whole lines to requests.jsonl, one zstd
// frame to events.jsonl.zst.
func (l *Log) Flush() error {
	if l.failed != nil {
		return l.failed
	}
	l.lastFlush = time.Now()
	// The full log first: a request in requests.jsonl then always has its
	// chunks in events.jsonl.zst, even when the process dies in between.
	if l.full != nil {
		if err := l.full.flush(l.enc); err != nil {
			l.failed = err
			return err
		}
	}
	if l.req != nil {
		if err := l.req.flush(nil); err != nil {
			l.failed = err
			return err
		}
	}
	return nil
}

// Close records the requests still in flight (issued, never completed), flushes and
// closes the files. The files are fsynced: they are the run's record.
func (l *Log) Close() error {
	if l.req != nil && l.failed == nil {
		l.req.buf = l.tab.appendInFlight(l.req.buf)
	}
	err := l.Flush()
	if l.failed != nil {
		err = l.failed
	}
	var errs []error
	if l.req != nil {
		errs = append(errs, l.req.close())
	}
	if l.full != nil {
		errs = append(errs, l.full.close())
	}
	if l.enc != nil {
		_ = l.enc.Close()
	}
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

// Run writes every record from sub until session.ended (included), the end
// of the stream, or ctx ends; it flushes before returning. A quiet stream is
// still flushed every DefaultFlushInterval. It returns at the first write
// failure, a *WriteError.
func (l *Log) Run(ctx context.Context, sub bus.Subscriber[event.Record]) error {
	for {
		wctx, cancel := context.WithTimeout(ctx, DefaultFlushInterval)
		batch, err := sub.Next(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, bus.ErrClosed) {
				return l.Flush()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				if err := l.Flush(); err != nil {
					return err
				}
				continue
			}
			return err
		}
		for i := range batch {
			if err := l.Write(&batch[i]); err != nil {
				return err
			}
			if batch[i].Type == event.SessionEnded {
				return l.Flush()
			}
		}
		if time.Since(l.lastFlush) >= DefaultFlushInterval {
			if err := l.Flush(); err != nil {
				return err
			}
		}
		// Nothing waits for the log: let records pile up for a moment so
		// that one wake-up takes hundreds of them, instead of a wake-up
		// per chunk of every stream (the cost that dominates otherwise).
		if len(batch) < paceBatch {
			select {
			case <-ctx.Done():
			case <-time.After(pace):
			}
		}
	}
}

// pace is how long Run waits after a small batch before reading the next;
// paceBatch is the size of a batch that is not small. At 100k records/s a
// pause holds 500 records, far below the bus's per-subscriber limit.
const (
	pace      = 5 * time.Millisecond
	paceBatch = 4096
)

// sink is one append-only file of whole lines or frames. good is the size of
// its valid prefix: a failed write is cut back to it.
type sink struct {
	path string
	f    *os.File
	w    io.Writer
	buf  []byte
	zbuf []byte
	good int64
}

func openSink(path string, wrap func(string, io.Writer) io.Writer) (*sink, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, &WriteError{Path: path, Err: unwrapPath(err)}
	}
	s := &sink{path: path, f: f, w: f, buf: make([]byte, 0, flushBytes+4096)}
	if wrap != nil {
		s.w = wrap(filepath.Base(path), f)
	}
	return s, nil
}

// flush writes the buffer (as one zstd frame when enc is set). On failure it
// cuts the file back to its last whole line or frame, or removes it when
// nothing whole was written.
func (s *sink) flush(enc *zstd.Encoder) error {
	if len(s.buf) == 0 {
		return nil
	}
	data := s.buf
	if enc != nil {
		s.zbuf = enc.EncodeAll(s.buf, s.zbuf[:0])
		data = s.zbuf
	}
	n, err := s.w.Write(data)
	s.buf = s.buf[:0]
	if err == nil && n < len(data) {
		err = io.ErrShortWrite
	}
	if err != nil {
		s.cutBack()
		return &WriteError{Path: s.path, Err: unwrapPath(err)}
	}
	s.good += int64(n)
	return nil
}

func (s *sink) cutBack() {
	if s.good == 0 {
		_ = s.f.Close()
		_ = os.Remove(s.path)
		s.f = nil
		return
	}
	_ = s.f.Truncate(s.good)
	_, _ = s.f.Seek(s.good, io.SeekStart)
}

func (s *sink) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err != nil {
		return &WriteError{Path: s.path, Err: unwrapPath(err)}
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// AppendJSON appends the JSON object of r (without a newline) to b: the line
// format of events.jsonl.zst,
//
//	{"event_type":"sample.issued","timestamp_ns":123,"sample_uuid":"…","data":{"text":"…"}}
//
// with data {"text","token_ids","scheduled_ns","dataset_index","released_ns"} for prompts,
// {"output","reasoning","first_chunk_len","usage","finish_reason","retries"} for outputs
// (usage {"prompt_tokens","completion_tokens"[,"reasoning_tokens"]})
// and {"error_type","error_message"} for errors (null when absent). A turn of
// a multi-turn conversation adds "conversation_id" and "turn" (1-based), and
// its final turn's issued record "last_turn":true, and a turn sent with the
// dataset's recorded history "recorded_history":true, after "data": the keys of
// the wire format, absent for single-turn samples. [DecodeJSON] reads a line
// back.
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
		if d.Index > 0 {
			b = append(b, `,"dataset_index":`...)
			b = strconv.AppendInt(b, int64(d.Index-1), 10)
		}
		if d.ReleasedNS != 0 {
			b = append(b, `,"released_ns":`...)
			b = strconv.AppendInt(b, d.ReleasedNS, 10)
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
			if u.ReasoningTokens != 0 {
				b = append(b, `,"reasoning_tokens":`...)
				b = strconv.AppendInt(b, u.ReasoningTokens, 10)
			}
			b = append(b, '}')
		}
		if d.FinishReason != "" {
			b = append(b, `,"finish_reason":`...)
			b = jsonw.AppendString(b, d.FinishReason)
		}
		if d.Retries != 0 {
			b = append(b, `,"retries":`...)
			b = strconv.AppendInt(b, int64(d.Retries), 10)
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
	if r.ConversationID != "" || r.Turn != 0 {
		b = append(b, `,"conversation_id":`...)
		b = jsonw.AppendString(b, r.ConversationID)
		b = append(b, `,"turn":`...)
		b = strconv.AppendInt(b, int64(r.Turn), 10)
	}
	if r.LastTurn {
		b = append(b, `,"last_turn":true`...)
	}
	if r.RecordedHistory {
		b = append(b, `,"recorded_history":true`...)
	}
	return append(b, '}')
}
