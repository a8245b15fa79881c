package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

// mooncakeTrace is the 500-request Mooncake-format trace of package trace's
// testdata (about 3.3 s long, 40 sessions sharing hash_ids prefixes).
const mooncakeTrace = "../trace/testdata/mooncake_500.jsonl"

type mooncakeRow struct {
	Timestamp    int64   `json:"timestamp"`
	InputLength  int     `json:"input_length"`
	OutputLength int     `json:"output_length"`
	HashIDs      []int64 `json:"hash_ids"`
}

func readMooncake(t *testing.T, path string) []mooncakeRow {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []mooncakeRow
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		var r mooncakeRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rows
}

// requestLine is the part of a requests.jsonl line this test reads.
type requestLine struct {
	Idx  *int   `json:"idx"` // the dataset index: the trace row in replay order
	Iss  int64  `json:"iss"`
	Late *int64 `json:"late"`
	ISL  int    `json:"isl"`
	OSL  int    `json:"osl"`
	Fin  string `json:"fin"`
}

func readRequests(t *testing.T, path string) []requestLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var out []requestLine
	for sc.Scan() {
		var r requestLine
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Idx != nil {
			out = append(out, r)
		}
	}
	return out
}

// TestReplay_Mooncake replays the 500-request Mooncake trace against the
// mock server at speed-up 1 and 10. Every request is issued once, in trace
// order, with the trace's time (÷ speed-up, from the first request) as its
// intended time, so lateness is measured against the trace; its p99 is
// logged (the 1 ms claim is measured by BenchmarkReplayLateness: on a loaded
// machine it is not a test). The server generated the recorded
// output_length (max_tokens), and with a tokenizer every request's ISL
// equals its recorded input_length.
func TestReplay_Mooncake(t *testing.T) {
	rows := readMooncake(t, mooncakeTrace)
	url := startMock(t, mockserver.Config{TTFT: time.Millisecond})
	for _, tc := range []struct {
		speedup   int64
		tokenizer bool
	}{{1, false}, {10, true}} {
		t.Run(fmt.Sprint("speed-up ", tc.speedup), func(t *testing.T) {
			dir := filepath.Join(shortDir(t), "run")
			args := []string{"benchmark", "replay", "--endpoint", url, "--trace", mooncakeTrace,
				"--trace-speedup", fmt.Sprint(tc.speedup), "--no-tui", "--report-dir", dir,
				"--extra-body", `{"ignore_eos": true}`}
			if tc.tokenizer {
				args = append(args, "--tokenizer", tokenizertest.Dir(t, "gpt2"))
			}
			code, stdout, stderr := runInferbench(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
			}
			if !strings.Contains(stdout, "Total samples issued: 500") || !strings.Contains(stdout, "Load: replay") {
				t.Errorf("report:\n%s", stdout)
			}
			reqs := readRequests(t, filepath.Join(dir, "requests.jsonl"))
			if len(reqs) != len(rows) {
				t.Fatalf("%d request lines, want %d", len(reqs), len(rows))
			}
			slices.SortFunc(reqs, func(a, b requestLine) int { return *a.Idx - *b.Idx })
			var late []int64
			var base int64
			for i, r := range reqs {
				if *r.Idx != i || r.Late == nil {
					t.Fatalf("request line %+v: want idx %d with a lateness", r, i)
				}
				intended := r.Iss - *r.Late
				if i == 0 {
					base = intended
				}
				want := (rows[i].Timestamp - rows[0].Timestamp) * 1e6 / tc.speedup
				if got := intended - base; got != want {
					t.Errorf("request %d intended at +%d ns, want the trace's +%d ns", i, got, want)
				}
				late = append(late, *r.Late)
				if tc.tokenizer {
					if r.ISL != rows[i].InputLength {
						t.Errorf("request %d: ISL %d, want the recorded input_length %d", i, r.ISL, rows[i].InputLength)
					}
				} else if r.OSL != rows[i].OutputLength {
					// Without a tokenizer OSL is the server's usage count.
					t.Errorf("request %d: OSL %d, want the recorded output_length %d", i, r.OSL, rows[i].OutputLength)
				}
			}
			slices.Sort(late)
			t.Logf("speed-up %d: lateness p50 %v, p99 %v, max %v", tc.speedup,
				time.Duration(late[len(late)/2]), time.Duration(late[len(late)*99/100]), time.Duration(late[len(late)-1]))
		})
	}
}

// captureServer is the mock server behind a handler that keeps every
// request body, on a real 127.0.0.1 listener.
func captureServer(t *testing.T) (url string, bodies func() [][]byte) {
	t.Helper()
	srv, err := mockserver.New(mockserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got [][]byte
	h := srv.Handler()
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			mu.Lock()
			got = append(got, b)
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		h.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String(), func() [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

// TestReplay_SharedPrefixBytes captures the bodies a replay sends: requests
// sharing leading hash_ids send byte-identical text for those 512-token
// blocks and differ after them; max_tokens is the recorded output length. A
// row recorded before the row above it is replayed in time order, with a
// one-line warning naming its line.
func TestReplay_SharedPrefixBytes(t *testing.T) {
	url, bodies := captureServer(t)
	path := filepath.Join(t.TempDir(), "shared.jsonl")
	trace := `{"timestamp": 100, "input_length": 1100, "output_length": 3, "hash_ids": [1, 2, 3]}
{"timestamp": 120, "input_length": 1300, "output_length": 4, "hash_ids": [1, 2, 4]}
{"timestamp": 110, "input_length": 600, "output_length": 5, "hash_ids": [1, 5]}
{"timestamp": 130, "input_length": 700, "output_length": 6, "hash_ids": [6, 7]}
`
	if err := os.WriteFile(path, []byte(trace), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(shortDir(t), "run")
	code, _, stderr := runInferbench(t, "benchmark", "replay", "--endpoint", url, "--trace", path,
		"--no-tui", "--report-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	if want := "inferbench: warning: trace " + path + " line 3: recorded before a row above it (1 rows out of order): replaying in timestamp order\n"; !strings.Contains(stderr, want) {
		t.Errorf("stderr:\n%s\nwant the line %q", stderr, want)
	}
	type body struct {
		MaxTokens int `json:"max_tokens"`
		Messages  []struct {
			Role, Content string
		} `json:"messages"`
	}
	// Requests are told apart by max_tokens: the recorded output lengths
	// are distinct.
	byOut := map[int]string{}
	for _, b := range bodies() {
		var m body
		if err := json.Unmarshal(b, &m); err != nil || len(m.Messages) != 1 {
			t.Fatalf("body %.200s: %v", b, err)
		}
		byOut[m.MaxTokens] = m.Messages[0].Content
	}
	if len(byOut) != 4 {
		t.Fatalf("requests with max_tokens %v, want 3, 4, 5, 6", slices.Sorted(maps.Keys(byOut)))
	}
	// The replay went in time order: dataset index (the order) 0..3 are the
	// rows of output length 3, 5, 4, 6 (OSL from the mock server's usage).
	reqs := readRequests(t, filepath.Join(dir, "requests.jsonl"))
	osl := make([]int, len(reqs))
	for _, r := range reqs {
		osl[*r.Idx] = r.OSL
	}
	if !slices.Equal(osl, []int{3, 5, 4, 6}) {
		t.Errorf("output lengths by replay order %v, want [3 5 4 6] (time order)", osl)
	}
	a, b, c, d := byOut[3], byOut[4], byOut[5], byOut[6] // ids [1 2 3], [1 2 4], [1 5], [6 7]
	words := strings.Fields(a)
	if len(words) != 1100 || len(strings.Fields(b)) != 1300 {
		t.Fatalf("%d and %d words, want 1100 and 1300", len(words), len(strings.Fields(b)))
	}
	two := strings.Join(words[:1024], " ")
	one := strings.Join(words[:512], " ")
	if !strings.HasPrefix(b, two+" ") {
		t.Error("ids [1 2 3] and [1 2 4]: the text of blocks 1 and 2 differs")
	}
	if strings.HasPrefix(b, strings.Join(words[:1100], " ")) {
		t.Error("ids [1 2 3] and [1 2 4]: blocks 3 and 4 have the same text")
	}
	if !strings.HasPrefix(c, one+" ") || strings.HasPrefix(c, two) {
		t.Error("ids [1 5]: want block 1's text, then block 5's")
	}
	if strings.HasPrefix(d, strings.Join(words[:10], " ")) {
		t.Error("ids [6 7] start like block 1")
	}
}

// TestReplay_BadInput: a bad trace or trace flag is one line naming the
// file and line or the flag, exit 2, before any request.
func TestReplay_BadInput(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noColumn := file("nocol.csv", "TIMESTAMP,GeneratedTokens\n2023-11-16 18:15:46.6805900,10\n")
	badTime := file("badtime.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,4808,10\nyesterday,10,1\n")
	noField := file("nofield.jsonl", `{"timestamp": 1, "input_length": 5, "output_length": 1}`+"\n"+`{"timestamp": 2, "output_length": 1, "hash_ids": [1]}`+"\n")
	strTime := file("strtime.jsonl", `{"timestamp": "noon", "input_length": 5, "output_length": 1}`+"\n")
	unknown := file("what.jsonl", `{"timestamp": 1, "tokens": 5}`+"\n")
	ep := []string{"--endpoint", "http://127.0.0.1:1", "--model", "m"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing column", []string{"--trace", noColumn}, "trace " + noColumn + " line 1: no ContextTokens column"},
		{"bad timestamp", []string{"--trace", badTime}, "trace " + badTime + ` line 3: TIMESTAMP "yesterday": want a date-time`},
		{"missing field", []string{"--trace", noField}, "trace " + noField + ` line 2: no "input_length" field`},
		{"string timestamp", []string{"--trace", strTime}, "trace " + strTime + ` line 1: timestamp "noon"`},
		{"unknown format", []string{"--trace", noField, "--trace-format", "parquet"}, `--trace-format`},
		{"format not told", []string{"--trace", unknown}, "trace " + unknown + ": cannot tell the format"},
		{"missing file", []string{"--trace", filepath.Join(dir, "none.jsonl")}, "none.jsonl"},
		{"no trace", nil, "--trace FILE"},
		{"zero speed-up", []string{"--trace", noField, "--trace-speedup", "0"}, "--trace-speedup"},
		{"trace and dataset", []string{"--trace", noField, "--dataset", noField}, "--trace brings the prompts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"benchmark", "replay"}, ep...), tc.args...)
			code, _, stderr := runInferbench(t, args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "goroutine") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and one line naming %q", code, stderr, tc.want)
			}
		})
	}
}

// TestReplay_ConfigFile replays a plain JSONL trace set in the YAML file
// (dataset.trace, speed-up 10) with --trace-limit given on the command
// line: the recorded prompts are sent as written, only the first two, and
// the report names the trace and its speed-up.
func TestReplay_ConfigFile(t *testing.T) {
	url, bodies := captureServer(t)
	dir := t.TempDir()
	tr := filepath.Join(dir, "plain.jsonl")
	if err := os.WriteFile(tr, []byte(`{"timestamp": 0, "prompt": "first recorded prompt", "max_tokens": 2}
{"timestamp": 50, "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "second prompt"}]}
{"timestamp": 90, "prompt": "third prompt"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "replay.yaml")
	cfg := fmt.Sprintf("endpoint:\n  endpoint: %s\nload:\n  mode: replay\ndataset:\n  trace: {path: %s, speedup: 10}\n", url, tr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runInferbench(t, "benchmark", "replay", "--config", cfgPath, "--trace-limit", "2",
		"--max-tokens", "9", "--no-tui", "--report-dir", filepath.Join(shortDir(t), "run"))
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "Total samples issued: 2") || !strings.Contains(stdout, "trace "+tr+" at 10x") {
		t.Errorf("report:\n%s", stdout)
	}
	if !strings.Contains(stderr, "replaying 2 requests of "+tr+" (jsonl) over 5ms (recorded 50ms, speed-up 10)") {
		t.Errorf("stderr:\n%s", stderr)
	}
	var got []string
	for _, b := range bodies() {
		var m struct {
			MaxTokens int `json:"max_tokens"`
			Messages  []struct{ Role, Content string }
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, msg := range m.Messages {
			parts = append(parts, msg.Role+":"+msg.Content)
		}
		got = append(got, fmt.Sprint(m.MaxTokens, " ", strings.Join(parts, "|")))
	}
	slices.Sort(got)
	if want := []string{"2 user:first recorded prompt", "9 system:sys|user:second prompt"}; !slices.Equal(got, want) {
		t.Errorf("bodies %q, want %q", got, want)
	}
}
