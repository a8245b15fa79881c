package trace_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inferbench/inferbench/internal/trace"
)

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoad_Formats reads one small trace of each format, sniffed and named.
func TestLoad_Formats(t *testing.T) {
	t.Parallel()
	mooncake := `{"timestamp": 1000, "input_length": 700, "output_length": 5, "hash_ids": [1, 2]}

{"timestamp": 1250.5, "input_length": 10, "output_length": 0, "hash_ids": [1]}
`
	azure := "\xef\xbb\xbfTIMESTAMP,ContextTokens,GeneratedTokens\n" +
		"2023-11-16 18:15:46.6805900,4808,10\n" +
		"\"2023-11-16 18:15:50.9951690\",3180,8\n"
	azureLower := "other,timestamp,generatedtokens,contexttokens\n" +
		"x,2024-05-10 00:00:00.009930+00:00,3,100\n" +
		"y,2024-05-10 00:00:01.009930+00:00,4,200\n"
	plain := `{"timestamp": 0, "prompt": "hello there", "max_tokens": 7}
{"timestamp": 20, "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}
`
	tests := []struct {
		name, file, content, format string
		want                        []trace.Request
	}{
		{"mooncake sniffed", "a.jsonl", mooncake, "", []trace.Request{
			{Line: 1, Time: 1000e6, At: 0, InputLen: 700, OutputLen: 5, HashIDs: []int64{1, 2}},
			{Line: 3, Time: 1250.5e6, At: 250500 * time.Microsecond, InputLen: 10, HashIDs: []int64{1}},
		}},
		{"azure by extension", "a.csv", azure, "", []trace.Request{
			{Line: 2, Time: time.Date(2023, 11, 16, 18, 15, 46, 680590000, time.UTC).UnixNano(), At: 0, InputLen: 4808, OutputLen: 10},
			{Line: 3, Time: time.Date(2023, 11, 16, 18, 15, 50, 995169000, time.UTC).UnixNano(), At: 4314579 * time.Microsecond, InputLen: 3180, OutputLen: 8},
		}},
		{"azure sniffed, lower-case, zone, reordered columns", "trace.txt", azureLower, "", []trace.Request{
			{Line: 2, Time: time.Date(2024, 5, 10, 0, 0, 0, 9930000, time.UTC).UnixNano(), At: 0, InputLen: 100, OutputLen: 3},
			{Line: 3, Time: time.Date(2024, 5, 10, 0, 0, 1, 9930000, time.UTC).UnixNano(), At: time.Second, InputLen: 200, OutputLen: 4},
		}},
		{"plain jsonl", "p.jsonl", plain, "jsonl", []trace.Request{
			{Line: 1, Time: 0, At: 0, OutputLen: 7, Prompt: "hello there"},
			{Line: 2, Time: 20e6, At: 20 * time.Millisecond, Prompt: "hi", System: "be brief"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := trace.Load(write(t, tc.file, tc.content), trace.Options{Format: tc.format})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, tr.Requests); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
			if tr.Reordered != 0 {
				t.Errorf("reordered %d, want 0", tr.Reordered)
			}
		})
	}
}

// TestLoad_Reorders checks the decision for rows out of time order: they are
// sorted (stably) and counted, with the first one's line.
func TestLoad_Reorders(t *testing.T) {
	t.Parallel()
	p := write(t, "r.jsonl", `{"timestamp": 10, "input_length": 1, "output_length": 1}
{"timestamp": 5, "input_length": 2, "output_length": 1}
{"timestamp": 10, "input_length": 3, "output_length": 1}
{"timestamp": 7, "input_length": 4, "output_length": 1}
`)
	tr, err := trace.Load(p, trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, r := range tr.Requests {
		got = append(got, r.InputLen)
	}
	if !cmp.Equal(got, []int{2, 4, 1, 3}) || tr.Reordered != 2 || tr.FirstReordered != 2 {
		t.Errorf("order %v, reordered %d from line %d; want [2 4 1 3], 2 from line 2", got, tr.Reordered, tr.FirstReordered)
	}
	if want := []time.Duration{0, 2e6, 5e6, 5e6}; !cmp.Equal(tr.Arrivals(1), want) {
		t.Errorf("arrivals %v, want %v", tr.Arrivals(1), want)
	}
}

// TestLoad_StartLimitSpeedup checks that --trace-start skips by recorded
// time, the first replayed request is time zero, Limit cuts after Start,
// and the speed-up divides the times.
func TestLoad_StartLimitSpeedup(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 10 {
		fmt.Fprintf(&b, `{"timestamp": %d, "input_length": 1, "output_length": 1}`+"\n", i*100)
	}
	p := write(t, "s.jsonl", b.String())
	tr, err := trace.Load(p, trace.Options{Start: 250 * time.Millisecond, Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Requests) != 3 || tr.Requests[0].Line != 4 {
		t.Fatalf("%d requests from line %d, want 3 from line 4", len(tr.Requests), tr.Requests[0].Line)
	}
	if got, want := tr.Arrivals(4), []time.Duration{0, 25 * time.Millisecond, 50 * time.Millisecond}; !cmp.Equal(got, want) {
		t.Errorf("arrivals at speed-up 4: %v, want %v", got, want)
	}
	if _, err := trace.Load(p, trace.Options{Start: time.Second}); err == nil || !strings.Contains(err.Error(), "skips every request") {
		t.Errorf("start past the end: %v", err)
	}
}

// TestLoad_BadInput checks that every bad row is a one-line error naming the
// file and line, of the right class.
func TestLoad_BadInput(t *testing.T) {
	t.Parallel()
	long := `{"timestamp": 1, "input_length": 1, "output_length": 1, "pad": "` + strings.Repeat("x", trace.MaxLineBytes) + `"}`
	ids := strings.TrimSuffix(strings.Repeat("1,", trace.MaxHashIDs+1), ",")
	tests := []struct {
		name, file, content, format string
		kind                        error
		want                        string
	}{
		{"missing input_length", "m.jsonl", `{"timestamp": 1, "output_length": 1, "hash_ids": [1]}`, "mooncake", trace.ErrField, `line 1: no "input_length" field`},
		{"missing timestamp", "m.jsonl", "\n" + `{"input_length": 3, "output_length": 1}`, "", trace.ErrField, `line 2: no "timestamp" field`},
		{"string timestamp", "m.jsonl", `{"timestamp": "soon", "input_length": 3, "output_length": 1}`, "", trace.ErrValue, `line 1: timestamp "soon": want a number of milliseconds`},
		{"timestamp out of range", "m.jsonl", `{"timestamp": 1e14, "input_length": 3, "output_length": 1}`, "", trace.ErrValue, `line 1: timestamp 1e14: want a number of milliseconds`},
		{"azure year out of range", "a.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n1900-01-01 00:00:00,4808,10\n", "", trace.ErrValue, `line 2: TIMESTAMP "1900-01-01 00:00:00"`},
		{"huge input", "m.jsonl", `{"timestamp": 1, "input_length": 1000001, "output_length": 1}`, "", trace.ErrValue, "input_length 1000001: want 1 to 1000000 tokens"},
		{"zero input", "m.jsonl", `{"timestamp": 1, "input_length": 0, "output_length": 1}`, "", trace.ErrValue, "input_length 0: want 1 to 1000000 tokens"},
		{"too many hash ids", "m.jsonl", `{"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": [` + ids + `]}`, "", trace.ErrValue, "hash_ids: 4097 ids, at most 4096 allowed"},
		{"bad hash ids", "m.jsonl", `{"timestamp": 1, "input_length": 5, "output_length": 1, "hash_ids": ["a"]}`, "", trace.ErrValue, `hash_ids ["a"]: want a list of integers`},
		{"invalid json", "m.jsonl", `{"timestamp": 1, "input_length": 5,` + "\n", "mooncake", trace.ErrSyntax, "line 1: invalid JSON"},
		{"long line", "m.jsonl", long, "mooncake", trace.ErrSyntax, "line 1: line longer than 16777216 bytes"},
		{"azure missing column", "a.csv", "TIMESTAMP,GeneratedTokens\n2023-11-16 18:15:46.6805900,10\n", "", trace.ErrField, "line 1: no ContextTokens column in the header"},
		{"azure bad timestamp", "a.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n16/11/2023 18:15,4808,10\n", "", trace.ErrValue, `line 2: TIMESTAMP "16/11/2023 18:15": want a date-time`},
		{"azure short row", "a.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,4808\n", "", trace.ErrField, "line 2: 2 fields, the header has 3"},
		{"azure negative tokens", "a.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46,4808,-1\n", "", trace.ErrValue, `line 2: GeneratedTokens "-1": want 0 to 1000000 tokens`},
		{"jsonl without prompt", "p.jsonl", `{"timestamp": 1, "max_tokens": 3}`, "jsonl", trace.ErrField, `line 1: no "prompt" or "messages" field`},
		{"jsonl two user turns", "p.jsonl", `{"timestamp": 1, "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}`, "jsonl", trace.ErrValue, "want one user message"},
		{"unknown format", "x.jsonl", `{"timestamp": 1}`, "parquet", trace.ErrFormat, `format "parquet": want mooncake, azure or jsonl`},
		{"cannot sniff", "x.jsonl", `{"timestamp": 1}`, "", trace.ErrFormat, "cannot tell the format"},
		{"empty", "x.jsonl", "\n\n", "mooncake", trace.ErrEmpty, "no requests"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := write(t, tc.file, tc.content)
			_, err := trace.Load(p, trace.Options{Format: tc.format})
			var te *trace.Error
			if err == nil || !errors.Is(err, tc.kind) || !errors.As(err, &te) || te.Path != p ||
				!strings.HasPrefix(err.Error(), "trace "+p) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err %v\nwant one line, %v, naming %s and %q", err, tc.kind, p, tc.want)
			}
		})
	}
	if _, err := trace.Load(filepath.Join(t.TempDir(), "none.jsonl"), trace.Options{}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// TestLoad_LimitStopsReading checks that a limit stops reading a trace in
// time order (a bad row past it is never seen), and that a trace out of
// order is read whole.
func TestLoad_LimitStopsReading(t *testing.T) {
	t.Parallel()
	rows := `{"timestamp": 0, "input_length": 1, "output_length": 1}
{"timestamp": 100, "input_length": 2, "output_length": 1}
{"timestamp": 200, "input_length": 3, "output_length": 1}
{"timestamp": 300, "input_length": 4, "output_length": 1}
`
	p := write(t, "l.jsonl", rows+"not json\n")
	tr, err := trace.Load(p, trace.Options{Start: 150 * time.Millisecond, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Requests) != 2 || tr.Requests[0].InputLen != 3 || tr.Requests[1].InputLen != 4 {
		t.Errorf("requests %+v, want the rows of 200 and 300 ms", tr.Requests)
	}
	p = write(t, "u.jsonl", `{"timestamp": 50, "input_length": 9, "output_length": 1}`+"\n"+rows+"not json\n")
	if _, err := trace.Load(p, trace.Options{Limit: 2}); err == nil || !strings.Contains(err.Error(), "line 6: invalid JSON") {
		t.Errorf("out of order with a limit: %v, want the whole file read", err)
	}
	wide := "TIMESTAMP,ContextTokens,GeneratedTokens" + strings.Repeat(",x", 1100) + "\n"
	if _, err := trace.Load(write(t, "w.csv", wide), trace.Options{}); err == nil || !strings.Contains(err.Error(), "line 1: 1103 columns, at most 1024 allowed") {
		t.Errorf("wide header: %v", err)
	}
}
