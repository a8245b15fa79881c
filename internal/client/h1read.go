package client

// This file reads HTTP/1.1 responses for the h1 transport: the status line
// and the few headers that matter, then the body framed by Content-Length,
// chunked encoding or the connection's end. It copies nothing it can parse
// in place and allocates only for errors.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// h1Response is what the transport needs from a response head.
type h1Response struct {
	status   int
	sse      bool   // Content-Type is text/event-stream
	encoding string // a Content-Encoding other than identity (copied: rare)
}

// malformed returns a ClassMalformed error quoting line.
func malformed(status int, line []byte, format string, args ...any) *Error {
	return &Error{Class: ClassMalformed, Status: status, Body: excerpt(line), Err: fmt.Errorf(format, args...)}
}

// readLine returns the next line, its end trimmed, counting its length
// against *budget.
func readLine(br *bufio.Reader, budget *int, status int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	*budget -= len(line)
	switch {
	case errors.Is(err, bufio.ErrBufferFull) || *budget < 0:
		return nil, &Error{Class: ClassMalformed, Status: status, Err: errHeaderTooLarge}
	case err == io.EOF && len(line) > 0:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	return trimEOL(line), nil
}

// readHead reads the status line and headers and sets up cn.body. A 1xx
// interim response is skipped.
func (cn *h1Conn) readHead() (h1Response, error) {
	budget := maxHeaderBytes
	for {
		resp, err := cn.readOneHead(&budget)
		if err != nil || resp.status >= 200 {
			return resp, err
		}
	}
}

// readOneHead reads one response head. It agrees with net/http's
// ReadResponse (see FuzzH1Read) on what it accepts and on the headers the
// client acts on, except where it is stricter: a status below 100 or 101,
// a version other than HTTP/1.x, header lines longer than the connection's
// buffer; and it reads a body with a Transfer-Encoding other than chunked to
// the connection's end (RFC 9112 §6.3), which net/http refuses.
func (cn *h1Conn) readOneHead(budget *int) (h1Response, error) {
	var resp h1Response
	br := cn.br
	line, err := readLine(br, budget, 0)
	if err != nil {
		return resp, err
	}
	// HTTP/1.x SP+ 3DIGIT [SP reason]
	if len(line) < 9 || string(line[:7]) != "HTTP/1." || !isDigit(line[7]) || line[8] != ' ' {
		return resp, malformed(0, line, "malformed status line")
	}
	http10 := line[7] == '0'
	code := line[9:]
	for len(code) > 0 && code[0] == ' ' {
		code = code[1:]
	}
	if len(code) < 3 || !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || len(code) > 3 && code[3] != ' ' {
		return resp, malformed(0, line, "malformed status line")
	}
	resp.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if resp.status < 100 || resp.status == 101 {
		return resp, malformed(0, line, "unexpected status %d", resp.status)
	}
	length, clDigits, chunked, hasTE := int64(-1), 0, false, false
	sawClose, sawKeepAlive, sawType := false, false, false
	for first := true; ; first = false {
		line, err = readLine(br, budget, resp.status)
		if err != nil {
			return resp, err
		}
		if len(line) == 0 {
			break
		}
		if first && (line[0] == ' ' || line[0] == '\t') {
			return resp, malformed(resp.status, line, "malformed header line")
		}
		colon := -1
		for i, c := range line {
			if c == ':' {
				colon = i
				break
			}
			if headerBytes[c]&nameByte == 0 { // net/http keeps names with spaces, uncanonicalized
				break
			}
		}
		if colon <= 0 {
			return resp, malformed(resp.status, line, "malformed header line")
		}
		name, value := line[:colon], line[colon+1:]
		if next, _ := br.Peek(1); len(next) == 1 && (next[0] == ' ' || next[0] == '\t') {
			// obs-fold: continuation lines join the value with a space
			// (RFC 9112 §5.2). Rare; the copy keeps name and value valid
			// across the reads.
			if name, value, err = unfold(br, budget, resp.status, name, value); err != nil {
				return resp, err
			}
		}
		if hasControl(value) {
			return resp, malformed(resp.status, value, "control character in header value")
		}
		value = trimOWS(value)
		switch {
		case asciiEqualFold(name, "content-length"):
			n, ok := parseDecimal(value)
			// Repeated Content-Length headers must be the same string (as
			// in net/http): digits only, so the same value and length.
			if !ok || length >= 0 && (n != length || len(value) != clDigits) {
				return resp, malformed(resp.status, value, "invalid Content-Length %q", value)
			}
			length, clDigits = n, len(value)
		case asciiEqualFold(name, "transfer-encoding"):
			// HTTP/1.0 has no Transfer-Encoding: ignored, as net/http does.
			if !http10 {
				hasTE = true
				chunked = lastTokenIs(value, "chunked")
			}
		case asciiEqualFold(name, "connection"):
			sawClose = sawClose || hasToken(value, "close")
			sawKeepAlive = sawKeepAlive || hasToken(value, "keep-alive")
		case asciiEqualFold(name, "content-type"):
			if !sawType { // the first one counts, as net/http's Header.Get
				sawType = true
				resp.sse = len(value) >= 17 && asciiEqualFold(value[:17], "text/event-stream")
			}
		case asciiEqualFold(name, "content-encoding"):
			if !isIdentity(value) && resp.encoding == "" {
				resp.encoding = string(value) // copied: rare
			}
		}
	}
	// HTTP/1.1 keeps the connection unless told "close"; HTTP/1.0 closes it
	// unless told "keep-alive"; "close" wins.
	cn.keep = !sawClose && (!http10 || sawKeepAlive)
	b := &cn.body
	b.reset()
	switch {
	case resp.status < 200 || resp.status == 204 || resp.status == 304:
		b.mode, b.done = bodyLength, true
	case chunked:
		b.mode = bodyChunked
	case hasTE:
		b.mode, cn.keep = bodyToEOF, false // a non-chunked coding: read to close
	case length >= 0:
		b.mode, b.remain, b.done = bodyLength, length, length == 0
	default:
		b.mode, cn.keep = bodyToEOF, false
	}
	return resp, nil
}

// unfold reads the continuation lines of a folded header whose first line
// gave name and value, and returns copies with the value's lines joined by
// one space each, as net/http does.
func unfold(br *bufio.Reader, budget *int, status int, name, value []byte) ([]byte, []byte, error) {
	name = append([]byte(nil), name...)
	value = append([]byte(nil), trimOWS(value)...)
	for {
		next, _ := br.Peek(1)
		if len(next) == 0 || next[0] != ' ' && next[0] != '\t' {
			return name, value, nil
		}
		for len(next) == 1 && (next[0] == ' ' || next[0] == '\t') {
			_, _ = br.Discard(1)
			*budget--
			next, _ = br.Peek(1)
		}
		line, err := readLine(br, budget, status)
		if err != nil {
			return nil, nil, err
		}
		value = append(append(value, ' '), trimOWS(line)...)
	}
}

// Classes of bytes in a header line, in headerBytes.
const (
	nameByte  = 1 << iota // a token byte (RFC 9110 §5.6.2), or a space (net/http keeps such names)
	valueByte             // VCHAR, SP, HTAB or obs-text (>= 0x80): not a control byte
)

// headerBytes classifies every byte for header-line checks: one table
// lookup per byte.
var headerBytes = func() (t [256]uint8) {
	for c := range 256 {
		if c >= 0x20 && c != 0x7f || c == '\t' {
			t[c] |= valueByte
		}
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == ' ' || strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0 {
			t[c] |= nameByte
		}
	}
	return t
}()

// hasControl reports whether b holds a byte net/http refuses in a header
// value: a control byte other than HTAB. Words of eight bytes with no byte
// below 0x20 and no DEL are skipped at once (SWAR); the rest is checked byte
// by byte.
func hasControl(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		del := x ^ 0x7f*ones // DEL bytes become zero
		if ((x-0x20*ones)&^x|(del-ones)&^del)&highs != 0 {
			break // a byte below 0x20 (maybe a tab) or a DEL: look closer
		}
		b = b[8:]
	}
	for _, c := range b {
		if headerBytes[c]&valueByte == 0 {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// asciiEqualFold reports whether b equals the lower-case ASCII string s,
// ignoring case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// parseDecimal parses a Content-Length: digits only, at most 2^63-1.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// hasToken reports whether the comma-separated list v holds token tok.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		if asciiEqualFold(trimOWS(v[:i]), tok) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

// lastTokenIs reports whether the last element of the list v is tok.
func lastTokenIs(v []byte, tok string) bool {
	i := len(v)
	for i > 0 && v[i-1] != ',' {
		i--
	}
	return asciiEqualFold(trimOWS(v[i:]), tok)
}

// Body framings.
const (
	bodyLength  = iota // Content-Length (or no body)
	bodyChunked        // Transfer-Encoding: chunked
	bodyToEOF          // until the server closes the connection
)

// h1Body reads one response body from the connection's reader. It returns
// io.EOF only at the body's proper end, and io.ErrUnexpectedEOF when the
// connection ends inside it.
type h1Body struct {
	br     *bufio.Reader
	mode   int
	remain int64 // bytes left in the body (length) or the current chunk
	crlf   bool  // chunked: the current chunk's data ended, its CRLF is pending
	done   bool  // the end of the body was read: the connection may be reused
	err    error // sticky
}

func (b *h1Body) reset() { b.remain, b.crlf, b.done, b.err = 0, false, false, nil }

// Read implements io.Reader.
func (b *h1Body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if b.mode == bodyToEOF {
		n, err := b.br.Read(p)
		if err == io.EOF {
			b.done = true
		} else if err != nil {
			b.err = err
		}
		return n, err
	}
	if b.remain == 0 {
		if b.mode == bodyLength {
			b.done = true
			return 0, io.EOF
		}
		if err := b.nextChunk(); err != nil {
			if err != io.EOF {
				b.err = err
			}
			return 0, err
		}
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.br.Read(p)
	b.remain -= int64(n)
	if b.remain == 0 {
		if b.mode == bodyLength {
			b.done = true
		} else {
			b.crlf = true
		}
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		b.err = err
		if n > 0 {
			return n, nil // the error is returned by the next call
		}
	}
	return n, err
}

// nextChunk reads up to the next chunk's data: the previous chunk's CRLF,
// then the size line (extensions ignored). At the last chunk it reads the
// trailers and returns io.EOF.
func (b *h1Body) nextChunk() error {
	budget := maxHeaderBytes
	if b.crlf {
		end, err := b.br.Peek(2)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if end[0] != '\r' || end[1] != '\n' {
			return malformed(0, end, "chunk data longer than its size")
		}
		_, _ = b.br.Discard(2)
		b.crlf = false
	}
	line, err := readChunkSizeLine(b.br)
	if err != nil {
		return err
	}
	var size int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			goto end
		}
		if i >= 15 {
			return malformed(0, line, "chunk size too large")
		}
		size = size<<4 | int64(d)
	}
end:
	// The size ends at an extension's ';' or at trailing spaces; there is
	// no space before the ';' (as in net/http).
	if rest := line[i:]; i == 0 || len(rest) > 0 && rest[0] != ';' && len(trimOWS(rest)) > 0 {
		return malformed(0, line, "malformed chunk size line")
	}
	if size > 0 {
		b.remain = size
		return nil
	}
	for { // trailers
		line, err := readChunkLine(b.br, &budget)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			b.done = true
			return io.EOF
		}
	}
}

// maxChunkLine bounds a chunk size line, extensions included, as net/http.
const maxChunkLine = 4096

// readChunkSizeLine reads a chunk size line, which must end in CRLF with no
// other CR (as in net/http), and returns it without its end.
func readChunkSizeLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, malformed(0, line, "chunk size line too long")
	case err == io.EOF:
		return nil, io.ErrUnexpectedEOF
	case err != nil:
		return nil, err
	}
	if n := len(line); n < 2 || line[n-2] != '\r' || bytes.IndexByte(line, '\r') != n-2 {
		return nil, malformed(0, line, "chunk size line not ended by CRLF")
	}
	if len(line)-2 >= maxChunkLine {
		return nil, malformed(0, line[:64], "chunk size line too long")
	}
	return line[:len(line)-2], nil
}

// readChunkLine is readLine for the trailers, where a clean EOF is also
// unexpected.
func readChunkLine(br *bufio.Reader, budget *int) ([]byte, error) {
	line, err := readLine(br, budget, 0)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return line, err
}
