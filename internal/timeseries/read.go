package timeseries

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
)

// Line is one decoded line of the time series (see [AppendLine]); a
// missing number is nil.
type Line struct {
	TNS         int64    `json:"t_ns"`
	ElapsedS    *float64 `json:"elapsed_s"`
	State       string   `json:"state"`
	Issued      int64    `json:"issued"`
	Completed   int64    `json:"completed"`
	Failed      int64    `json:"failed"`
	Good        *int64   `json:"good"`
	InFlight    int64    `json:"in_flight"`
	Pending     int64    `json:"pending"`
	QPS         *float64 `json:"qps"`
	TPS         *float64 `json:"tps"`
	Goodput     *float64 `json:"goodput"`
	IntervalQPS *float64 `json:"interval_qps"`
	IntervalTPS *float64 `json:"interval_tps"`
	// P holds the live p50, p90 and p99 of each series by its short name
	// (see [Series]), in nanoseconds.
	P map[string][3]*float64 `json:"p"`
}

// MaxLines bounds how many lines [Scan] passes on (about 70 hours at the
// default 250 ms interval); later lines are skipped and counted.
const MaxLines = 1 << 20

// Read decodes a time series file into memory; see [Scan], which reads a
// long one in bounded memory.
func Read(path string) (lines []Line, skipped int, err error) {
	_, skipped, err = ScanFile(path, func(l *Line) { lines = append(lines, *l) })
	return lines, skipped, err
}

// Decode is [Read] on a reader.
func Decode(r io.Reader) (lines []Line, skipped int, err error) {
	_, skipped, err = Scan(r, func(l *Line) { lines = append(lines, *l) })
	return lines, skipped, err
}

// ScanFile is [Scan] on a file.
func ScanFile(path string, fn func(*Line)) (n, skipped int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, fmt.Errorf("timeseries: %w", err)
	}
	defer f.Close()
	return Scan(f, fn)
}

// Scan decodes a time series line by line, calling fn with each line (fn
// may keep the *Line). Lines that do not decode (a torn last line of a
// killed run, a truncation marker) are skipped and counted in skipped; so
// are lines longer than [MaxLine] and lines past [MaxLines]. n counts the
// lines passed to fn.
func Scan(r io.Reader, fn func(*Line)) (n, skipped int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Longer than any line the writer makes: skip to its end.
			skipped++
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				return n, skipped, nil
			}
			if err != nil {
				return n, skipped, fmt.Errorf("timeseries: %w", err)
			}
			continue
		}
		if len(raw) > 0 {
			l := new(Line)
			switch {
			case len(raw) > MaxLine+1, n >= MaxLines:
				skipped++
			case !decodeLine(raw, l):
				skipped++
			default:
				n++
				fn(l)
			}
		}
		if err == io.EOF {
			return n, skipped, nil
		}
		if err != nil {
			return n, skipped, fmt.Errorf("timeseries: %w", err)
		}
	}
}

// decodeLine decodes one line: the fast parser, else encoding/json.
func decodeLine(raw []byte, l *Line) bool {
	if parseLine(raw, l) {
		return true
	}
	*l = Line{}
	return json.Unmarshal(raw, l) == nil && l.TNS != 0
}

// parseLine decodes a line in the exact form AppendLine writes, about ten
// times faster than encoding/json (a day-long run has 345 600 lines); it
// returns false for anything else, which then goes through encoding/json.
func parseLine(b []byte, l *Line) bool {
	*l = Line{}
	// One allocation holds every number the line points to.
	sl := &slab{}
	b = bytes.TrimRight(b, "\r\n")
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	b = b[1 : len(b)-1]
	for len(b) > 0 {
		key, rest, ok := quoted(b)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return false
		}
		b = rest[1:]
		switch string(key) {
		case "state":
			v, rest, ok := quoted(b)
			if !ok {
				return false
			}
			l.State, b = string(v), rest
		case "p":
			if b, ok = parsePercentiles(b, l, sl); !ok {
				return false
			}
		default:
			tok, rest := token(b)
			b = rest
			if !setField(l, key, tok, sl) {
				return false
			}
		}
		if len(b) > 0 {
			if b[0] != ',' {
				return false
			}
			b = b[1:]
		}
	}
	return l.TNS != 0
}

// quoted reads a JSON string without escapes.
func quoted(b []byte) (s, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '"' {
		return nil, nil, false
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 || bytes.IndexByte(b[1:1+end], '\\') >= 0 {
		return nil, nil, false
	}
	return b[1 : 1+end], b[2+end:], true
}

// token reads a scalar up to the next ',', ']' or '}'.
func token(b []byte) (tok, rest []byte) {
	i := bytes.IndexAny(b, ",]}")
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i:]
}

// slab holds the numbers of one line.
type slab struct {
	f [32]float64
	n int
}

// float reads a number or null (nil).
func (s *slab) float(tok []byte) (*float64, bool) {
	if string(tok) == "null" {
		return nil, true
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return nil, false
	}
	var p *float64
	if s.n < len(s.f) {
		p = &s.f[s.n]
		s.n++
	} else {
		p = new(float64)
	}
	*p = f
	return p, true
}

// fieldOf maps a line's scalar keys to the fields of Line, from its JSON
// tags: the keys are spelled once, in the struct.
var fieldOf = func() map[string]int {
	m := map[string]int{}
	t := reflect.TypeFor[Line]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		switch t.Field(i).Type.Kind() {
		case reflect.Int64, reflect.Pointer:
			m[name] = i
		}
	}
	return m
}()

// setField sets the scalar field of key from tok: an integer, or a number
// or null for a pointer field.
func setField(l *Line, key, tok []byte, sl *slab) bool {
	i, ok := fieldOf[string(key)]
	if !ok {
		return false
	}
	f := reflect.ValueOf(l).Elem().Field(i)
	switch p := f.Addr().Interface().(type) {
	case *int64:
		v, err := strconv.ParseInt(string(tok), 10, 64)
		*p = v
		return err == nil
	case **int64:
		v, err := strconv.ParseInt(string(tok), 10, 64)
		*p = &v
		return err == nil
	case **float64:
		*p, ok = sl.float(tok)
		return ok
	}
	return false
}

// parsePercentiles reads "p":{"ttft":[a,b,c],…}.
func parsePercentiles(b []byte, l *Line, sl *slab) ([]byte, bool) {
	if len(b) == 0 || b[0] != '{' {
		return nil, false
	}
	b = b[1:]
	l.P = make(map[string][3]*float64, len(Series))
	for len(b) > 0 && b[0] != '}' {
		key, rest, ok := quoted(b)
		if !ok || len(rest) < 2 || rest[0] != ':' || rest[1] != '[' {
			return nil, false
		}
		b = rest[2:]
		var v [3]*float64
		for i := range v {
			tok, rest := token(b)
			if v[i], ok = sl.float(tok); !ok || len(rest) == 0 {
				return nil, false
			}
			want := byte(',')
			if i == 2 {
				want = ']'
			}
			if rest[0] != want {
				return nil, false
			}
			b = rest[1:]
		}
		l.P[string(key)] = v
		if len(b) > 0 && b[0] == ',' {
			b = b[1:]
		}
	}
	if len(b) == 0 {
		return nil, false
	}
	return b[1:], true
}
