package client

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// This file holds the hand-written JSON scanner for response chunks. It reads
// only the few fields a benchmark needs and skips (while validating) the rest,
// so per-chunk decoding costs one pass over the bytes and no allocation.

// maxDepth bounds nesting in skipped values so hostile input cannot grow the
// stack without limit.
const maxDepth = 128

var errSyntax = errors.New("invalid JSON")

// fields is what one response object (an SSE chunk or a whole non-streaming
// body) says. Content and reasoning are appended to the caller's buffers.
type fields struct {
	text      []byte // content deltas, joined
	reasoning []byte // reasoning deltas, joined
	finish    []byte // last non-null finish_reason
	errMsg    []byte // the server's error message, when the object has "error"
	hasError  bool
	usage     usageFields
	scratch   []byte // decoded keys that contained escapes
}

type usageFields struct {
	prompt, completion, reasoning int64
	seen                          bool // a non-zero usage object was seen
}

// scanner walks one JSON document.
type scanner struct {
	b     []byte
	i     int
	depth int
}

func (s *scanner) fail(what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, s.i)
}

func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return // the common case: no space between tokens
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) error {
	if s.peek() != c {
		return s.fail(fmt.Sprintf("expected %q", c))
	}
	s.i++
	return nil
}

// literal consumes lit (true, false, null).
func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.i += len(lit)
	return nil
}

// parseResponse reads one top-level object into f. Content and reasoning are
// appended to f.text and f.reasoning; on error the caller discards f.
func parseResponse(b []byte, f *fields) error {
	s := scanner{b: b}
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "choices":
			return s.choices(f)
		case "usage":
			return s.usage(f)
		case "error":
			f.hasError = true
			return s.errorValue(f)
		}
		return s.skip()
	}, f)
	if err != nil {
		return err
	}
	if s.ws(); s.i != len(s.b) {
		return s.fail("trailing data")
	}
	return nil
}

// object iterates over the members of an object, calling member with each key
// (valid until the next key); member must consume the value.
func (s *scanner) object(member func(key []byte) error, f *fields) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		if s.peek() != '"' {
			return s.fail("expected object key")
		}
		key, err := s.key(f)
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		s.ws()
		if err := member(key); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or '}'")
		}
	}
}

// key returns the key at s.i: a sub-slice of the input when it has no escape,
// else its decoded form in f.scratch.
func (s *scanner) key(f *fields) ([]byte, error) {
	start := s.i + 1
	if j := plainRun(s.b, start); j < len(s.b) && s.b[j] == '"' {
		s.i = j + 1
		return s.b[start:j], nil
	}
	var err error
	f.scratch, err = s.str(f.scratch[:0])
	return f.scratch, err
}

// isNull consumes a null and reports whether there was one.
func (s *scanner) isNull() (bool, error) {
	if s.peek() != 'n' {
		return false, nil
	}
	return true, s.literal("null")
}

func (s *scanner) choices(f *fields) error {
	if null, err := s.isNull(); null || err != nil {
		return err
	}
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.i++
		return nil
	}
	// Only the first choice is read: a benchmark sends n=1.
	for n := 0; ; n++ {
		var err error
		if n == 0 {
			err = s.choice(f)
		} else {
			err = s.skip()
		}
		if err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or ']'")
		}
	}
}

func (s *scanner) choice(f *fields) error {
	if null, err := s.isNull(); null || err != nil {
		return err
	}
	return s.object(func(key []byte) error {
		switch string(key) {
		case "delta", "message":
			return s.delta(f)
		case "text":
			return s.optString(&f.text)
		case "finish_reason":
			if s.peek() == '"' {
				var err error
				f.finish, err = s.str(f.finish[:0])
				return err
			}
		}
		return s.skip()
	}, f)
}

func (s *scanner) delta(f *fields) error {
	if null, err := s.isNull(); null || err != nil {
		return err
	}
	reasoning0 := len(f.reasoning)
	return s.object(func(key []byte) error {
		switch string(key) {
		case "content":
			return s.optString(&f.text)
		case "reasoning_content", "reasoning":
			// Some servers send the same text under both names; keep the first.
			if len(f.reasoning) == reasoning0 {
				return s.optString(&f.reasoning)
			}
		}
		return s.skip()
	}, f)
}

// optString appends the string at s.i to *dst; other value types are skipped.
func (s *scanner) optString(dst *[]byte) error {
	if s.peek() != '"' {
		return s.skip()
	}
	var err error
	*dst, err = s.str(*dst)
	return err
}

func (s *scanner) usage(f *fields) error {
	if null, err := s.isNull(); null || err != nil {
		return err
	}
	var u usageFields
	err := s.object(func(key []byte) error {
		switch string(key) {
		case "prompt_tokens":
			return s.int(&u.prompt)
		case "completion_tokens":
			return s.int(&u.completion)
		case "completion_tokens_details":
			if null, err := s.isNull(); null || err != nil {
				return err
			}
			return s.object(func(key []byte) error {
				if string(key) == "reasoning_tokens" {
					return s.int(&u.reasoning)
				}
				return s.skip()
			}, f)
		}
		return s.skip()
	}, f)
	if err != nil {
		return err
	}
	// ollama sends an all-zero usage on every chunk and the real one last.
	if u.prompt != 0 || u.completion != 0 || u.reasoning != 0 {
		u.seen = true
		f.usage = u
	}
	return nil
}

// errorValue reads "error": {"message": ...} or "error": "text".
func (s *scanner) errorValue(f *fields) error {
	switch s.peek() {
	case '"':
		var err error
		f.errMsg, err = s.str(f.errMsg[:0])
		return err
	case '{':
		return s.object(func(key []byte) error {
			if string(key) == "message" {
				return s.optString(&f.errMsg)
			}
			return s.skip()
		}, f)
	}
	return s.skip()
}

// int reads a number into *v, truncating any fraction; null leaves *v alone.
func (s *scanner) int(v *int64) error {
	if null, err := s.isNull(); null || err != nil {
		return err
	}
	start := s.i
	if err := s.number(); err != nil {
		return err
	}
	var n int64
	i := start
	if s.b[i] == '-' {
		i++
	}
	for ; i < s.i && s.b[i] >= '0' && s.b[i] <= '9'; i++ {
		if n < 1<<58 {
			n = n*10 + int64(s.b[i]-'0')
		}
	}
	if s.b[start] == '-' {
		n = -n
	}
	*v = n
	return nil
}

// skip consumes one value of any type, checking its syntax.
func (s *scanner) skip() error {
	switch s.peek() {
	case '"':
		return s.skipString()
	case '{':
		return s.skipContainer('}')
	case '[':
		return s.skipContainer(']')
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return s.number()
	}
	return s.fail("expected value")
}

func (s *scanner) skipContainer(end byte) error {
	if s.depth++; s.depth > maxDepth {
		return s.fail("nesting too deep")
	}
	defer func() { s.depth-- }()
	s.i++
	if s.peek() == end {
		s.i++
		return nil
	}
	for {
		if end == '}' {
			if s.peek() != '"' {
				return s.fail("expected object key")
			}
			if err := s.skipString(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
		}
		if err := s.skip(); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case end:
			s.i++
			return nil
		default:
			return s.fail("expected ',' or end of container")
		}
	}
}

// number consumes a JSON number per the grammar.
func (s *scanner) number() error {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return s.fail("invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return s.fail("invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return s.fail("invalid number")
		}
	}
	s.i = i
	return nil
}

func (s *scanner) skipString() error {
	b := s.b
	for i := plainRun(b, s.i+1); i < len(b); i = plainRun(b, i+1) {
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			return nil
		case c == '\\':
			i++
			if i >= len(b) {
				break
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || hex4(b[i+1:i+5]) < 0 {
					s.i = i
					return s.fail("invalid \\u escape")
				}
				i += 4
			default:
				s.i = i
				return s.fail("invalid escape")
			}
		case c < 0x20:
			s.i = i
			return s.fail("control character in string")
		}
	}
	s.i = len(b)
	return s.fail("unterminated string")
}

// str decodes the string at s.i and appends it to dst.
func (s *scanner) str(dst []byte) ([]byte, error) {
	b := s.b
	i := s.i + 1
	run := i
	for {
		if i = plainRun(b, i); i >= len(b) {
			break
		}
		c := b[i]
		dst = append(dst, b[run:i]...)
		switch {
		case c == '"':
			s.i = i + 1
			return dst, nil
		case c < 0x20:
			s.i = i
			return dst, s.fail("control character in string")
		}
		// A backslash escape.
		if i+1 >= len(b) {
			break
		}
		switch e := b[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n := decodeU(b[i:])
			if n == 0 {
				s.i = i
				return dst, s.fail("invalid \\u escape")
			}
			dst = utf8.AppendRune(dst, r)
			i += n
			run = i
			continue
		default:
			s.i = i
			return dst, s.fail("invalid escape")
		}
		i += 2
		run = i
	}
	s.i = len(b)
	return dst, s.fail("unterminated string")
}

// decodeU decodes a \uXXXX escape (and its low surrogate, when b holds a
// surrogate pair) at the start of b, returning the rune and the bytes used.
// Unpaired surrogates become U+FFFD, as encoding/json does.
func decodeU(b []byte) (rune, int) {
	if len(b) < 6 {
		return 0, 0
	}
	r := hex4(b[2:6])
	if r < 0 {
		return 0, 0
	}
	if r < 0xD800 || r > 0xDFFF {
		return r, 6
	}
	if r <= 0xDBFF && len(b) >= 12 && b[6] == '\\' && b[7] == 'u' {
		if lo := hex4(b[8:12]); lo >= 0xDC00 && lo <= 0xDFFF {
			return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), 12
		}
	}
	return utf8.RuneError, 6
}

// hex4 parses four hex digits, or returns -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainRun returns the index of the first byte at or after i that ends a run
// of plain string bytes: '"', '\\' or a control character; len(b) if none.
// It tests eight bytes at a time (SWAR): a byte is flagged when it equals '"'
// or '\\' (x^c has a zero byte) or is below 0x20.
func plainRun(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (lsb * '"')
		e := x ^ (lsb * '\\')
		m := ((q - lsb) &^ q) | ((e - lsb) &^ e) | ((x - lsb*0x20) &^ x)
		if m &= msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c == '"' || c == '\\' {
			return i
		}
	}
	return len(b)
}
