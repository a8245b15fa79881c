package dataset

import (
	"bytes"
	"errors"
	"iter"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-json"
)

// record is one JSON object with its values left undecoded, so only the
// mapped columns are ever decoded.
type record = map[string]json.RawMessage

// jsonLines yields the lines of data that are not blank, trimmed of
// surrounding space, with their 1-based numbers: blank lines are skipped but
// counted, so line numbers match an editor's.
func jsonLines(data []byte) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		for lineNo := 1; len(data) > 0; lineNo++ {
			var line []byte
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				line, data = data, nil
			}
			line = bytes.TrimSpace(line)
			if len(line) > 0 && !yield(lineNo, line) {
				return
			}
		}
	}
}

// loadJSONL reads one JSON object per line; blank lines are skipped but
// counted, so line numbers match an editor's.
func loadJSONL(file string, data []byte, opts Options, shareGPT bool) (*Dataset, error) {
	ds := &Dataset{}
	var (
		cols     columns
		resolved bool
		rec      record
		fast     *fastDecoder
	)
	for lineNo, line := range jsonLines(data) {
		if limitReached(opts, len(ds.Samples)) {
			break
		}
		if line[0] != '{' {
			return nil, newError(file, "line", lineNo, ErrSyntax, nil, "want a JSON object, got %s", describeJSON(line))
		}
		if shareGPT {
			var r shareGPTRecord
			if err := json.Unmarshal(line, &r); err != nil {
				return nil, jsonError(file, "line", lineNo, err)
			}
			ds.addShareGPT(r.Conversations)
			continue
		}
		if fast != nil {
			if s, ok := fast.decode(line); ok {
				ds.Samples = append(ds.Samples, s)
				continue
			}
		}
		// The map is reused across lines: clear keeps its buckets.
		clear(rec)
		if err := json.Unmarshal(line, &rec); err != nil {
			return nil, newError(file, "line", lineNo, ErrSyntax, err, "invalid JSON: %v", err)
		}
		if !resolved {
			if opts.Format == "" && isShareGPT(rec, opts) {
				shareGPT = true
				var r shareGPTRecord
				if err := json.Unmarshal(line, &r); err != nil {
					return nil, jsonError(file, "line", lineNo, err)
				}
				ds.addShareGPT(r.Conversations)
				continue
			}
			var err error
			if cols, err = resolveColumns(file, opts, sortedKeys(rec)); err != nil {
				return nil, err
			}
			resolved = true
			fast = newFastDecoder(&cols)
		}
		s, err := cols.fromRecord(file, "line", lineNo, rec)
		if err != nil {
			return nil, err
		}
		ds.Samples = append(ds.Samples, s)
	}
	return ds, nil
}

// loadJSON reads a JSON array of objects. A file that starts with '{' is
// read as JSONL, since .json is a common name for JSON Lines too.
func loadJSON(file string, data []byte, opts Options, shareGPT bool) (*Dataset, error) {
	switch c := firstNonSpace(data); c {
	case '[':
	case '{':
		return loadJSONL(file, data, opts, shareGPT)
	case 0:
		return &Dataset{}, nil
	default:
		return nil, newError(file, "line", 1, ErrSyntax, nil, "want a JSON array of objects, got %s", describeJSON(bytes.TrimSpace(data)))
	}
	ds := &Dataset{}
	if !shareGPT {
		// Peek at the first element only, to choose the decoder for all.
		var first record
		dec := json.NewDecoder(bytes.NewReader(data[bytes.IndexByte(data, '[')+1:]))
		if dec.Decode(&first) == nil {
			if opts.Format == "" && isShareGPT(first, opts) {
				shareGPT = true
			} else if cols, err := resolveColumns(file, opts, sortedKeys(first)); err == nil {
				if fast := newFastDecoder(&cols); fast != nil {
					if ok := ds.addFastRows(fast, data, opts); ok {
						return ds, nil
					}
				}
			}
		}
	}
	if shareGPT {
		var recs []shareGPTRecord
		if err := json.Unmarshal(data, &recs); err != nil {
			return nil, locateJSONError(file, data, err, func(raw []byte) error {
				var r shareGPTRecord
				return json.Unmarshal(raw, &r)
			})
		}
		for i := range recs {
			if limitReached(opts, len(ds.Samples)) {
				break
			}
			ds.addShareGPT(recs[i].Conversations)
		}
		return ds, nil
	}
	var recs []record
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, locateJSONError(file, data, err, func(raw []byte) error {
			var r record
			return json.Unmarshal(raw, &r)
		})
	}
	if len(recs) == 0 {
		return ds, nil
	}
	cols, err := resolveColumns(file, opts, sortedKeys(recs[0]))
	if err != nil {
		return nil, err
	}
	n := len(recs)
	if opts.Limit > 0 {
		n = min(n, opts.Limit)
	}
	ds.Samples = make([]Sample, 0, n)
	for i, rec := range recs[:n] {
		s, err := cols.fromRecord(file, "record", i+1, rec)
		if err != nil {
			return nil, err
		}
		ds.Samples = append(ds.Samples, s)
	}
	return ds, nil
}

// addFastRows decodes a whole array on the fast path; false means some
// record needs the map path (which then redoes the whole file).
func (d *Dataset) addFastRows(fast *fastDecoder, data []byte, opts Options) bool {
	rows, err := fast.decodeAll(data)
	if err != nil {
		return false
	}
	if opts.Limit > 0 && len(rows) > opts.Limit {
		rows = rows[:opts.Limit]
	}
	samples := make([]Sample, len(rows))
	for i := range rows {
		var ok bool
		if samples[i], ok = rows[i].sample(); !ok {
			return false
		}
	}
	d.Samples = samples
	return true
}

// locateJSONError turns a failed whole-array decode into a positioned error:
// a syntax error gets its line, a bad element its 1-based record number. The
// slow path runs only on failure.
func locateJSONError(file string, data []byte, err error, decodeOne func([]byte) error) error {
	var elems []json.RawMessage
	if err2 := json.Unmarshal(data, &elems); err2 != nil {
		return jsonError(file, "", 0, err2, data)
	}
	for i, raw := range elems {
		if firstNonSpace(raw) != '{' {
			return newError(file, "record", i+1, ErrSyntax, nil, "want a JSON object, got %s", describeJSON(bytes.TrimSpace(raw)))
		}
		if err := decodeOne(raw); err != nil {
			return jsonError(file, "record", i+1, err)
		}
	}
	return newError(file, "", 0, ErrSyntax, err, "invalid JSON: %v", err)
}

// jsonError classifies a decode error. With whole is given (unit ""), the
// error's byte offset is turned into a line number within it.
func jsonError(file, unit string, line int, err error, whole ...[]byte) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		if unit == "" && len(whole) > 0 {
			unit, line = "line", lineOf(whole[0], syn.Offset)
		}
		return newError(file, unit, line, ErrSyntax, err, "invalid JSON: %v", err)
	case errors.As(err, &typ):
		if unit == "" && len(whole) > 0 {
			unit, line = "line", lineOf(whole[0], typ.Offset)
		}
		// Struct field paths are the Go names; the JSON keys are their
		// lowercase forms for the types decoded here.
		field := "value"
		if typ.Field != "" {
			field = strconv.Quote(strings.ToLower(typ.Field))
		}
		return newError(file, unit, line, ErrValue, err, "%s: want %s, got %s", field, goKindName(typ.Type), typ.Value)
	default:
		return newError(file, unit, line, ErrSyntax, err, "invalid JSON: %v", err)
	}
}

// goKindName names a Go type the way a JSON user thinks of it.
func goKindName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	}
	return t.String()
}

// lineOf returns the 1-based line holding byte offset off.
func lineOf(data []byte, off int64) int {
	// "Unexpected end of input" points past the end: blame the last line
	// with content, not the empty one after the final newline.
	if end := int64(len(bytes.TrimRight(data, " \t\r\n"))); off >= end {
		off = max(end-1, 0)
	}
	off = max(off, 0)
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

func sortedKeys(r record) []string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// fromRecord maps one JSON object to a Sample.
func (c *columns) fromRecord(file, unit string, line int, rec record) (Sample, error) {
	var s Sample
	var err error
	if c.prompt != "" {
		raw, ok := rec[c.prompt]
		if !ok && c.tokenIDs == "" {
			return s, newError(file, unit, line, ErrNoColumn, nil, "no column %q (columns: %s)", c.prompt, strings.Join(sortedKeys(rec), ", "))
		}
		if s.Prompt, err = jsonString(raw); err != nil {
			return s, valueError(file, unit, line, c.prompt, err)
		}
	}
	if c.system != "" {
		if s.System, err = jsonString(rec[c.system]); err != nil {
			return s, valueError(file, unit, line, c.system, err)
		}
	}
	if c.expected != "" {
		if s.Expected, err = jsonString(rec[c.expected]); err != nil {
			return s, valueError(file, unit, line, c.expected, err)
		}
	}
	if c.maxTokens != "" {
		if s.MaxTokens, err = jsonInt(rec[c.maxTokens]); err != nil {
			return s, valueError(file, unit, line, c.maxTokens, err)
		}
	}
	if c.tokenIDs != "" {
		if s.TokenIDs, err = jsonIDs(rec[c.tokenIDs]); err != nil {
			return s, valueError(file, unit, line, c.tokenIDs, err)
		}
	}
	return s, c.checkSample(file, unit, line, &s)
}

func valueError(file, unit string, line int, col string, err error) error {
	return newError(file, unit, line, ErrValue, err, "column %q: %v", col, err)
}

// jsonString decodes a string value; absent or null is "".
func jsonString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || raw[0] == 'n' {
		return "", nil
	}
	if raw[0] != '"' {
		return "", errors.New("want a string, got " + describeJSON(raw))
	}
	// Most values have no escapes: slice them directly instead of decoding.
	if len(raw) >= 2 && bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

// jsonInt decodes a non-negative integer, given as a number or a string of
// digits; absent or null is 0.
func jsonInt(raw json.RawMessage) (int, error) {
	if len(raw) == 0 || raw[0] == 'n' {
		return 0, nil
	}
	text := string(raw)
	if raw[0] == '"' {
		var err error
		if text, err = jsonString(raw); err != nil {
			return 0, err
		}
	}
	return parseCount(text)
}

// parseCount parses a non-negative decimal integer; "" is 0.
func parseCount(text string) (int, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(text)
	if err != nil || n < 0 {
		return 0, errors.New("want a non-negative integer, got " + quoteShort(text))
	}
	return n, nil
}

// jsonIDs decodes an integer array; absent or null is nil.
func jsonIDs(raw json.RawMessage) ([]int32, error) {
	if len(raw) == 0 || raw[0] == 'n' {
		return nil, nil
	}
	if raw[0] != '[' {
		return nil, errors.New("want an array of integers, got " + describeJSON(raw))
	}
	var ids []int32
	if err := json.Unmarshal(raw, &ids); err != nil {
		return nil, errors.New("want an array of integers: " + err.Error())
	}
	return ids, nil
}

// describeJSON names the kind of a JSON value and shows its start.
func describeJSON(raw []byte) string {
	if len(raw) == 0 {
		return "nothing"
	}
	kind := "invalid JSON"
	switch c := raw[0]; {
	case c == '{':
		kind = "object"
	case c == '[':
		kind = "array"
	case c == '"':
		kind = "string"
	case c == 't' || c == 'f':
		kind = "boolean"
	case c == 'n':
		kind = "null"
	case c == '-' || (c >= '0' && c <= '9'):
		kind = "number"
	}
	return kind + " " + quoteShort(string(raw))
}

// quoteShort quotes s, cut to a length that fits an error line.
func quoteShort(s string) string {
	const maxLen = 40
	if len(s) > maxLen {
		return strconv.Quote(s[:maxLen]) + "..."
	}
	return strconv.Quote(s)
}
