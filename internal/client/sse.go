package client

import (
	"bytes"
	"errors"
	"io"
	"sync"

	"github.com/inferbench/inferbench/internal/event"
)

// Observer is told about every streamed chunk that carries content or
// reasoning, as soon as it is parsed. ts comes from [event.Now]; first is true
// for exactly one chunk per response: the one that ends TTFT. OnChunk runs on
// the goroutine that called Do and should return quickly.
type Observer interface {
	OnChunk(ts int64, first bool)
}

const (
	sseBufSize  = 16 << 10
	maxLineSize = 8 << 20 // an SSE line longer than this is a malformed response
)

// stream is the reusable state of one response decode.
type stream struct {
	br   *lineReader
	data []byte // the current event's data lines, joined by '\n'
	long []byte // a line that did not fit in br's buffer
	f    fields
	// skipLF: the last line ended in a CR that was the last buffered byte,
	// so an LF arriving next belongs to that line end (CRLF).
	skipLF bool
}

var streamPool = sync.Pool{New: func() any {
	return &stream{br: &lineReader{buf: make([]byte, sseBufSize)}}
}}

func getStream() *stream {
	return streamPool.Get().(*stream)
}

func putStream(st *stream) {
	st.br.Reset(nil)
	// Huge buffers from one odd response are not kept.
	if cap(st.data) > 1<<20 || cap(st.long) > 1<<20 || cap(st.f.text) > 1<<20 || cap(st.f.reasoning) > 1<<20 {
		streamPool.Put(&stream{br: st.br})
		return
	}
	st.data, st.long = st.data[:0], st.long[:0]
	st.f = fields{
		text: st.f.text[:0], reasoning: st.f.reasoning[:0], finish: st.f.finish[:0],
		errMsg: st.f.errMsg[:0], scratch: st.f.scratch[:0],
	}
	streamPool.Put(st)
}

// outputBox holds an Output and its Usage in one allocation.
type outputBox struct {
	out   event.Output
	usage event.Usage
}

// output converts the decoded fields into a fresh Output.
func (f *fields) output(streamed bool, firstLen int) *event.Output {
	box := &outputBox{}
	o := &box.out
	o.Text = string(f.text)
	o.Reasoning = string(f.reasoning)
	o.Streamed = streamed
	o.FirstChunkLen = firstLen
	o.FinishReason = finishReason(f.finish)
	if f.usage.seen {
		box.usage = event.Usage{
			PromptTokens:     f.usage.prompt,
			CompletionTokens: f.usage.completion,
			ReasoningTokens:  f.usage.reasoning,
		}
		o.Usage = &box.usage
	}
	return o
}

// ReadStream decodes an OpenAI-style server-sent-event stream from r until
// "data: [DONE]" or the end of r, timestamps every chunk that carries content
// or reasoning with [event.Now] and reports it to obs (which may be nil).
//
// It accepts LF, CRLF and bare CR line ends (mixed too), events split across
// reads, ':' comment lines, multi-line data fields, other fields (event, id,
// retry, ignored),
// role-only chunks, usage-only chunks with "choices": [], all-zero usage
// objects (ignored), and reasoning in delta.reasoning_content or
// delta.reasoning. It always returns the Output decoded so far; the error,
// when not nil, is an [*Error]: [ClassTruncated] when the stream ends without
// a finish_reason and without [DONE], [ClassMalformed] for an invalid chunk,
// [ClassServerError] for a chunk with an "error" object, or the class of
// r's read error.
func ReadStream(r io.Reader, obs Observer) (*event.Output, error) {
	st := getStream()
	defer putStream(st)
	st.br.Reset(r)
	return st.read(obs)
}

func (st *stream) read(obs Observer) (*event.Output, error) {
	var (
		done, hasData bool
		firstLen      = -1
		err           error
	)
	st.skipLF = false
	for !done && err == nil {
		var line []byte
		line, err = st.readLine()
		if err != nil && (err != io.EOF || len(line) == 0) {
			break
		}
		if len(line) != 0 {
			if line[0] == ':' {
				continue // comment
			}
			name, value := line, []byte(nil)
			if c := bytes.IndexByte(line, ':'); c >= 0 {
				name, value = line[:c], line[c+1:]
				if len(value) > 0 && value[0] == ' ' {
					value = value[1:]
				}
			}
			if string(name) == "data" {
				if hasData {
					st.data = append(st.data, '\n')
				}
				st.data = append(st.data, value...)
				hasData = true
			}
			// A last line without its newline is dispatched after the loop,
			// where a partial chunk counts as truncation, not malformation.
			continue
		}
		if !hasData {
			continue
		}
		hasData = false
		var perr error
		done, perr = st.dispatch(obs, &firstLen)
		st.data = st.data[:0]
		if perr != nil {
			return st.f.output(true, max(firstLen, 0)), perr
		}
	}
	if err != nil && err != io.EOF {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Class: classify(err), Err: err}
		}
		return st.f.output(true, max(firstLen, 0)), e
	}
	if hasData {
		// The stream ended inside an event: keep it if it is a whole chunk.
		if d, perr := st.dispatch(obs, &firstLen); perr == nil {
			done = done || d
		}
	}
	out := st.f.output(true, max(firstLen, 0))
	if !done && len(st.f.finish) == 0 {
		return out, &Error{Class: ClassTruncated, Err: errTruncated}
	}
	return out, nil
}

var (
	errTruncated = errors.New("stream ended without finish_reason or [DONE]")
	errLongLine  = errors.New("SSE line longer than 8 MiB")
	doneMarker   = []byte("[DONE]")
)

// readLine returns the next line without its end: LF, CRLF or a bare CR,
// all three valid in SSE and mixable in one stream. A CR ends the line at
// once, without waiting for the byte after it, so a chunk whose blank line
// ends in a CR is dispatched when it arrives. The line is valid until the
// next read. A line cut by the end of the stream is returned with the
// reader's error (io.EOF at a clean end); a line longer than maxLineSize is
// a ClassMalformed error.
func (st *stream) readLine() ([]byte, error) {
	b := st.br
	long := false // the line so far is in st.long
	from := 0     // buffered bytes already searched: no line end in them
	for {
		if b.r == b.w && !b.fill() {
			if long {
				return st.long, b.err
			}
			return nil, b.err
		}
		buf := b.buf[b.r:b.w]
		if st.skipLF {
			st.skipLF = false
			if buf[0] == '\n' {
				b.r++
				continue
			}
		}
		if buf[0] == '\n' && !long { // the blank line after every event
			b.r++
			return buf[:0], nil
		}
		// Two byte searches (vectorized) beat one search for either byte.
		lf := bytes.IndexByte(buf[from:], '\n')
		seg := buf[from:]
		if lf >= 0 {
			lf += from
			seg = buf[from:lf]
		}
		end, next := lf, lf+1
		if cr := bytes.IndexByte(seg, '\r'); cr >= 0 {
			cr += from
			end, next = cr, cr+1
			switch {
			case cr+1 == lf:
				next = lf + 1 // CRLF
			case cr+1 == len(buf):
				st.skipLF = true // the LF of a CRLF may follow
			}
		}
		if end >= 0 {
			line := buf[:end]
			b.r += next
			if long {
				st.long = append(st.long, line...)
				line = st.long
			}
			if len(line) > maxLineSize {
				return nil, &Error{Class: ClassMalformed, Err: errLongLine}
			}
			return line, nil
		}
		if len(buf) == len(b.buf) { // no line end in a full buffer: a long line
			if !long {
				st.long, long = st.long[:0], true
			}
			st.long = append(st.long, buf...)
			b.r, from = b.w, 0
			if len(st.long) > maxLineSize {
				return nil, &Error{Class: ClassMalformed, Err: errLongLine}
			}
			continue
		}
		from = len(buf)
		if !b.fill() { // the stream ended or failed inside a line
			buf = b.buf[b.r:b.w]
			b.r = b.w
			if long {
				st.long = append(st.long, buf...)
				return st.long, b.err
			}
			return buf, b.err
		}
	}
}

// lineReader is the read buffer of a response body: readLine splits SSE
// lines in it directly, without bufio.Reader's method calls per line, and
// Read serves whole bodies. Its error is sticky.
type lineReader struct {
	src  io.Reader
	buf  []byte
	r, w int
	err  error
}

// Reset makes the reader read from src with an empty buffer.
func (b *lineReader) Reset(src io.Reader) { b.src, b.r, b.w, b.err = src, 0, 0, nil }

// fill moves the unread bytes to the front and reads once more. It reports
// whether bytes arrived; when none did, b.err is set. The buffer is not
// full.
func (b *lineReader) fill() bool {
	if b.err != nil {
		return false
	}
	if b.r > 0 {
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	for range 100 { // as bufio: a reader that returns nothing forever is an error
		n, err := b.src.Read(b.buf[b.w:])
		b.w += n
		if err != nil {
			b.err = err
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	b.err = io.ErrNoProgress
	return false
}

// Read implements io.Reader.
func (b *lineReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if b.r == b.w && b.err == nil && len(p) >= len(b.buf) {
		// A large read with nothing buffered: straight into p, no copy.
		n, err := b.src.Read(p)
		b.err = err
		return n, err
	}
	if b.r == b.w && !b.fill() {
		return 0, b.err
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// Discard skips at most n bytes, reading more as needed (to drain a
// connection after the end of a stream), without allocating.
func (b *lineReader) Discard(n int) (int, error) {
	done := 0
	for done < n {
		if b.r == b.w && !b.fill() {
			return done, b.err
		}
		k := min(n-done, b.w-b.r)
		b.r += k
		done += k
	}
	return done, nil
}

// dispatch handles one complete event in st.data. It reports whether the
// event was the [DONE] marker.
func (st *stream) dispatch(obs Observer, firstLen *int) (bool, error) {
	data := bytes.TrimSpace(st.data)
	if len(data) == 0 {
		return false, nil
	}
	if bytes.Equal(data, doneMarker) {
		return true, nil
	}
	f := &st.f
	text0, reasoning0 := len(f.text), len(f.reasoning)
	if err := parseResponse(data, f); err != nil {
		f.text, f.reasoning = f.text[:text0], f.reasoning[:reasoning0]
		return false, &Error{Class: ClassMalformed, Body: excerpt(data), Err: err}
	}
	if f.hasError {
		f.text, f.reasoning = f.text[:text0], f.reasoning[:reasoning0]
		return false, &Error{Class: ClassServerError, Status: 200, Body: excerpt(data), Err: serverError(f.errMsg)}
	}
	dt, dr := len(f.text)-text0, len(f.reasoning)-reasoning0
	if dt == 0 && dr == 0 {
		return false, nil // role-only, usage-only or finish-only chunk
	}
	ts := event.Now()
	first := *firstLen < 0
	if first {
		// Output.FirstChunkLen lies in Reasoning when there is reasoning.
		if dr > 0 {
			*firstLen = dr
		} else {
			*firstLen = dt
		}
	}
	if obs != nil {
		obs.OnChunk(ts, first)
	}
	return false, nil
}

// trimEOL removes a trailing "\n" or "\r\n".
func trimEOL(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

// finishReason returns b as a string, without allocating for the usual values.
func finishReason(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "stop":
		return "stop"
	case "length":
		return "length"
	case "tool_calls":
		return "tool_calls"
	case "content_filter":
		return "content_filter"
	}
	return string(b)
}
