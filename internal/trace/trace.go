package trace

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The formats [Load] reads.
const (
	FormatMooncake = "mooncake"
	FormatAzure    = "azure"
	FormatJSONL    = "jsonl"
)

// Bounds on hostile input, checked before anything is allocated for it.
const (
	// MaxLineBytes bounds one line of a trace file.
	MaxLineBytes = 16 << 20
	// MaxTokens bounds a recorded input or output length.
	MaxTokens = 1_000_000
	// MaxHashIDs bounds the block ids of one row: enough for MaxTokens in
	// blocks of 256 tokens.
	MaxHashIDs = 4096
	// MaxRows bounds the rows of a trace.
	MaxRows = 10_000_000
	// maxTimestampMS bounds a millisecond timestamp (Unix milliseconds
	// until 2096), so that its nanoseconds, and the difference of two,
	// fit an int64.
	maxTimestampMS = 4e12
)

// Sentinel errors; every [*Error] wraps one.
var (
	// ErrFormat: the format is unknown or cannot be told from the file.
	ErrFormat = errors.New("trace: unknown format")
	// ErrSyntax: a line is not valid JSON or CSV, or is too long.
	ErrSyntax = errors.New("trace: syntax error")
	// ErrField: a required field or column is missing.
	ErrField = errors.New("trace: missing field")
	// ErrValue: a value has the wrong type or is out of range.
	ErrValue = errors.New("trace: bad value")
	// ErrEmpty: nothing to replay.
	ErrEmpty = errors.New("trace: empty")
)

// Error is a problem in a trace file. Its message is one line:
//
//	trace FILE[ line N]: MSG
type Error struct {
	Path string
	Line int // 1-based; 0 when the error concerns the whole file
	Msg  string
	Err  error // one of the Err* sentinels
}

// Error implements error.
func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("trace %s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("trace %s line %d: %s", e.Path, e.Line, e.Msg)
}

// Unwrap returns the sentinel, for errors.Is.
func (e *Error) Unwrap() error { return e.Err }

func errorf(path string, line int, kind error, format string, args ...any) *Error {
	return &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...), Err: kind}
}

// Request is one recorded request.
type Request struct {
	// Line is the request's line in the file (1-based).
	Line int
	// Time is the recorded timestamp in nanoseconds on the trace's own
	// clock (milliseconds × 10⁶, or Unix nanoseconds for azure).
	Time int64
	// At is when the request is issued, relative to the first replayed
	// request, before any speed-up; set by [Load].
	At time.Duration
	// InputLen and OutputLen are the recorded lengths in tokens
	// (OutputLen 0: not recorded, the run's default applies).
	InputLen, OutputLen int
	// HashIDs name the prompt's blocks (mooncake), in order.
	HashIDs []int64
	// Prompt and System are the recorded text (jsonl); when Prompt is set
	// it is sent as is.
	Prompt, System string
}

// Options select what [Load] reads.
type Options struct {
	// Format is "" (sniff) or one of the Format* constants.
	Format string
	// Start skips the requests recorded less than Start after the trace's
	// first request.
	Start time.Duration
	// Limit keeps at most Limit requests (after Start); 0 keeps all. When
	// the rows are in time order, reading stops once Limit were read.
	Limit int
}

// Trace is a loaded trace, in replay order. It is not changed after Load
// and is then safe for concurrent reads.
type Trace struct {
	Path, Format string
	Requests     []Request
	// Reordered counts the rows recorded earlier than a row above them;
	// they were sorted into time order. FirstReordered is the first such
	// row's line (0 when none).
	Reordered, FirstReordered int

	opts   Options
	last   int64 // the latest time read
	inSpan int   // rows read at or after Start, while in order
}

// Load reads the trace at path. See the package documentation for the
// formats and bounds. Errors are [*Error] values.
func Load(path string, opts Options) (*Trace, error) {
	if opts.Limit < 0 {
		return nil, errorf(path, 0, ErrValue, "limit %d is negative", opts.Limit)
	}
	if opts.Start < 0 {
		return nil, errorf(path, 0, ErrValue, "start %v is negative", opts.Start)
	}
	f, err := os.Open(path)
	if err != nil {
		msg := err.Error()
		var pe *fs.PathError
		if errors.As(err, &pe) {
			msg = pe.Err.Error() // the path is in the message already
		}
		return nil, &Error{Path: path, Msg: msg + " (want a trace file)", Err: err}
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	// Spreadsheet exports and Windows editors prepend a byte-order mark.
	if bom, _ := br.Peek(3); string(bom) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3)
	}
	format := strings.ToLower(opts.Format)
	if format == "" {
		if format, err = sniff(path, br); err != nil {
			return nil, err
		}
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	t := &Trace{Path: path, Format: format, opts: opts}
	switch format {
	case FormatMooncake, FormatJSONL:
		err = readJSONL(t, sc)
	case FormatAzure:
		err = readAzure(t, sc)
	default:
		return nil, errorf(path, 0, ErrFormat, "format %q: want mooncake, azure or jsonl", opts.Format)
	}
	if err != nil {
		return nil, err
	}
	if err := t.finish(opts); err != nil {
		return nil, err
	}
	return t, nil
}

// scanErr turns a scanner's failure into an *Error at the line after line.
func scanErr(path string, line int, err error) error {
	if errors.Is(err, bufio.ErrTooLong) {
		return errorf(path, line+1, ErrSyntax, "line longer than %d bytes", MaxLineBytes)
	}
	return errorf(path, line+1, ErrSyntax, "%v", err)
}

// sniff tells the format from the extension or the first non-empty line.
func sniff(path string, br *bufio.Reader) (string, error) {
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return FormatAzure, nil
	}
	// The first non-empty line decides; Peek sees up to the reader's buffer.
	head, _ := br.Peek(MaxLineBytes)
	var line []byte
	for len(line) == 0 && len(head) > 0 {
		line, head, _ = bytes.Cut(head, []byte("\n"))
		line = bytes.TrimSpace(line)
	}
	has := func(key string) bool { return bytes.Contains(line, []byte(`"`+key+`"`)) }
	switch {
	case len(line) == 0:
	case line[0] == '{' && (has("input_length") || has("hash_ids")):
		return FormatMooncake, nil
	case line[0] == '{' && (has("prompt") || has("messages")):
		return FormatJSONL, nil
	case line[0] != '{' && bytes.Contains(bytes.ToLower(line), []byte("contexttokens")):
		return FormatAzure, nil
	}
	return "", errorf(path, 0, ErrFormat, "cannot tell the format from the file: give --trace-format mooncake, azure or jsonl")
}

// add appends a request, bounding the row count.
func (t *Trace) add(r Request) error {
	if len(t.Requests) >= MaxRows {
		return errorf(t.Path, r.Line, ErrValue, "more than %d rows: replay part of it (--trace-start, --trace-limit)", MaxRows)
	}
	if len(t.Requests) == 0 || r.Time >= t.last {
		first := r.Time
		if len(t.Requests) > 0 {
			first = t.Requests[0].Time
		}
		if r.Time >= first+int64(t.opts.Start) {
			t.inSpan++
		}
		t.last = r.Time
	} else {
		t.inSpan = -1 << 62 // out of order: every row must be read
	}
	t.Requests = append(t.Requests, r)
	return nil
}

// enough tells a reader to stop: Limit rows from Start on were read and
// every row so far was in time order. (A later row recorded earlier would
// belong before them; it is not read. Traces are written in time order.)
func (t *Trace) enough() bool {
	return t.opts.Limit > 0 && t.inSpan >= t.opts.Limit
}

// finish sorts the requests into time order, applies Start and Limit and
// sets each request's At.
func (t *Trace) finish(opts Options) error {
	if len(t.Requests) == 0 {
		return errorf(t.Path, 0, ErrEmpty, "no requests")
	}
	last := int64(math.MinInt64)
	for _, r := range t.Requests {
		if r.Time < last {
			if t.Reordered == 0 {
				t.FirstReordered = r.Line
			}
			t.Reordered++
		}
		last = max(last, r.Time)
	}
	if t.Reordered > 0 {
		slices.SortStableFunc(t.Requests, func(a, b Request) int {
			switch {
			case a.Time < b.Time:
				return -1
			case a.Time > b.Time:
				return 1
			}
			return 0
		})
	}
	first := t.Requests[0].Time
	if opts.Start > 0 {
		i, _ := slices.BinarySearchFunc(t.Requests, first+int64(opts.Start), func(r Request, at int64) int {
			switch {
			case r.Time < at:
				return -1
			case r.Time > at:
				return 1
			}
			return 0
		})
		if i == len(t.Requests) {
			span := time.Duration(t.Requests[len(t.Requests)-1].Time - first)
			return errorf(t.Path, 0, ErrEmpty, "start %v skips every request: the trace spans %v", opts.Start, span)
		}
		t.Requests = t.Requests[i:]
	}
	if opts.Limit > 0 && len(t.Requests) > opts.Limit {
		t.Requests = t.Requests[:opts.Limit:opts.Limit]
	}
	t0 := t.Requests[0].Time
	for i := range t.Requests {
		t.Requests[i].At = time.Duration(t.Requests[i].Time - t0)
	}
	return nil
}

// Arrivals returns each request's issue time relative to the first, with
// time compressed by speedup (2 replays twice as fast); speedup <= 0 means 1.
func (t *Trace) Arrivals(speedup float64) []time.Duration {
	if !(speedup > 0) {
		speedup = 1
	}
	out := make([]time.Duration, len(t.Requests))
	for i, r := range t.Requests {
		out[i] = time.Duration(math.Round(float64(r.At) / speedup))
	}
	return out
}

// Span is the time from the first to the last request, before any speed-up.
func (t *Trace) Span() time.Duration {
	if len(t.Requests) == 0 {
		return 0
	}
	return t.Requests[len(t.Requests)-1].At
}
