package trace

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// jsonRow holds a JSONL row's fields undecoded, so that each is checked and
// reported by name.
type jsonRow struct {
	Timestamp    json.RawMessage `json:"timestamp"`
	InputLength  json.RawMessage `json:"input_length"`
	OutputLength json.RawMessage `json:"output_length"`
	HashIDs      json.RawMessage `json:"hash_ids"`
	Prompt       json.RawMessage `json:"prompt"`
	Messages     json.RawMessage `json:"messages"`
	MaxTokens    json.RawMessage `json:"max_tokens"`
}

// readJSONL reads a mooncake or plain JSONL trace.
func readJSONL(t *Trace, sc *bufio.Scanner) error {
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var row jsonRow
		if err := json.Unmarshal(line, &row); err != nil {
			return errorf(t.Path, n, ErrSyntax, "invalid JSON: %v", err)
		}
		r, err := t.jsonRequest(n, &row)
		if err != nil {
			return err
		}
		if err := t.add(r); err != nil {
			return err
		}
		if t.enough() {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return scanErr(t.Path, n, err)
	}
	return nil
}

func (t *Trace) jsonRequest(n int, row *jsonRow) (Request, error) {
	r := Request{Line: n}
	bad := func(kind error, format string, args ...any) (Request, error) {
		return r, errorf(t.Path, n, kind, format, args...)
	}
	if row.Timestamp == nil {
		return bad(ErrField, "no \"timestamp\" field (want milliseconds)")
	}
	ms, err := strconv.ParseFloat(string(row.Timestamp), 64)
	if err != nil || math.IsNaN(ms) || math.Abs(ms) > maxTimestampMS {
		return bad(ErrValue, "timestamp %s: want a number of milliseconds", clip(row.Timestamp))
	}
	r.Time = int64(math.Round(ms * 1e6))
	if t.Format == FormatMooncake {
		if row.InputLength == nil {
			return bad(ErrField, "no \"input_length\" field")
		}
		if row.OutputLength == nil {
			return bad(ErrField, "no \"output_length\" field")
		}
		if r.InputLen, err = tokens(row.InputLength, 1); err != nil {
			return bad(ErrValue, "input_length %s: %v", clip(row.InputLength), err)
		}
		if r.OutputLen, err = tokens(row.OutputLength, 0); err != nil {
			return bad(ErrValue, "output_length %s: %v", clip(row.OutputLength), err)
		}
		if row.HashIDs != nil {
			// Bound the count before decoding allocates for it.
			if c := bytes.Count(row.HashIDs, []byte(",")) + 1; c > MaxHashIDs {
				return bad(ErrValue, "hash_ids: %d ids, at most %d allowed", c, MaxHashIDs)
			}
			if err := json.Unmarshal(row.HashIDs, &r.HashIDs); err != nil {
				return bad(ErrValue, "hash_ids %s: want a list of integers", clip(row.HashIDs))
			}
		}
		return r, nil
	}
	// Plain JSONL: a prompt or messages.
	switch {
	case row.Prompt != nil:
		if err := json.Unmarshal(row.Prompt, &r.Prompt); err != nil {
			return bad(ErrValue, "prompt %s: want a string", clip(row.Prompt))
		}
	case row.Messages != nil:
		if r.System, r.Prompt, err = messages(row.Messages); err != nil {
			return bad(ErrValue, "messages: %v", err)
		}
	default:
		return bad(ErrField, "no \"prompt\" or \"messages\" field")
	}
	if r.Prompt == "" {
		return bad(ErrValue, "the prompt is empty")
	}
	if row.MaxTokens != nil && string(row.MaxTokens) != "null" {
		if r.OutputLen, err = tokens(row.MaxTokens, 1); err != nil {
			return bad(ErrValue, "max_tokens %s: %v", clip(row.MaxTokens), err)
		}
	}
	return r, nil
}

// messages reads an OpenAI messages list: an optional system message, then
// one user message. Replay sends single requests; conversations with
// several turns are the multi-turn datasets' business.
func messages(raw json.RawMessage) (system, user string, err error) {
	var ms []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &ms); err != nil {
		return "", "", fmt.Errorf("want a list of {\"role\", \"content\"} with string content")
	}
	if len(ms) > 0 && ms[0].Role == "system" {
		system, ms = ms[0].Content, ms[1:]
	}
	if len(ms) != 1 || ms[0].Role != "user" {
		return "", "", fmt.Errorf("want one user message, optionally after a system message (%d messages after it)", len(ms))
	}
	return system, ms[0].Content, nil
}

// tokens parses a token count in [lo, MaxTokens].
func tokens(raw json.RawMessage, lo int) (int, error) {
	v, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an integer")
	}
	if v < int64(lo) || v > MaxTokens {
		return 0, fmt.Errorf("want %d to %d tokens", lo, MaxTokens)
	}
	return int(v), nil
}

// clip shortens a value quoted in an error message.
func clip(b []byte) string {
	const n = 40
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// azureLayouts are the date-time forms of the Azure traces' TIMESTAMP
// (2023: no zone, 7 fractional digits; 2024: "+00:00" appended). Go's
// parser accepts any fraction after the seconds.
var azureLayouts = []string{"2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05", time.RFC3339Nano}

// maxColumns bounds the columns of a CSV trace.
const maxColumns = 1024

// readAzure reads an Azure LLM inference trace CSV.
func readAzure(t *Trace, sc *bufio.Scanner) error {
	n := 0
	cols := map[string]int{}
	want := []string{"timestamp", "contexttokens", "generatedtokens"}
	var idx [3]int
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		// Bound the columns before splitting allocates for them.
		if c := strings.Count(line, ",") + 1; c > maxColumns {
			return errorf(t.Path, n, ErrValue, "%d columns, at most %d allowed", c, maxColumns)
		}
		fields := strings.Split(line, ",")
		for i, f := range fields {
			fields[i] = strings.Trim(strings.TrimSpace(f), `"`)
		}
		if len(cols) == 0 {
			for i, f := range fields {
				cols[strings.ToLower(f)] = i
			}
			for i, w := range want {
				j, ok := cols[w]
				if !ok {
					names := []string{"TIMESTAMP", "ContextTokens", "GeneratedTokens"}
					return errorf(t.Path, n, ErrField, "no %s column in the header (want TIMESTAMP, ContextTokens, GeneratedTokens)", names[i])
				}
				idx[i] = j
			}
			continue
		}
		r := Request{Line: n}
		if need := max(idx[0], idx[1], idx[2]) + 1; len(fields) < need {
			return errorf(t.Path, n, ErrField, "%d fields, the header has %d", len(fields), len(cols))
		}
		ts, err := parseAzureTime(fields[idx[0]])
		if err != nil {
			return errorf(t.Path, n, ErrValue, "TIMESTAMP %q: want a date-time like 2023-11-16 18:15:46.6805900", clip([]byte(fields[idx[0]])))
		}
		r.Time = ts.UnixNano()
		if r.InputLen, err = tokens(json.RawMessage(fields[idx[1]]), 1); err != nil {
			return errorf(t.Path, n, ErrValue, "ContextTokens %q: %v", clip([]byte(fields[idx[1]])), err)
		}
		if r.OutputLen, err = tokens(json.RawMessage(fields[idx[2]]), 0); err != nil {
			return errorf(t.Path, n, ErrValue, "GeneratedTokens %q: %v", clip([]byte(fields[idx[2]])), err)
		}
		if err := t.add(r); err != nil {
			return err
		}
		if t.enough() {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return scanErr(t.Path, n, err)
	}
	if len(cols) == 0 {
		return errorf(t.Path, 0, ErrEmpty, "no header row")
	}
	return nil
}

func parseAzureTime(s string) (time.Time, error) {
	var err error
	for _, layout := range azureLayouts {
		var ts time.Time
		if ts, err = time.Parse(layout, s); err == nil {
			// Unix nanoseconds, and the difference of two, fit an int64.
			if y := ts.Year(); y < 1970 || y > 2200 {
				return ts, fmt.Errorf("year %d out of range", y)
			}
			return ts, nil
		}
	}
	return time.Time{}, err
}
