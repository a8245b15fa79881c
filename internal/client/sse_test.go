package client_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/event"
)

// chunk returns one SSE event carrying a chat delta.
func chunk(delta string) string {
	return `data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":` + delta + `,"finish_reason":null}]}` + "\n\n"
}

const (
	finishStop = `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n"
	done       = "data: [DONE]\n\n"
	zeroUsage  = `"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}`
)

func TestReadStream(t *testing.T) {
	llama, llamaText := llamaStream(5)
	long := strings.Repeat("é long line ", 4000) // 52 KB: longer than the reader's buffer
	tests := []struct {
		name      string
		in        string
		want      event.Output
		chunks    int
		wantClass client.Class
	}{
		{
			name: "llama-server with usage-only last chunk",
			in:   llama,
			want: event.Output{Text: llamaText, Streamed: true, FirstChunkLen: 4, FinishReason: "length",
				Usage: &event.Usage{PromptTokens: 17, CompletionTokens: 5}},
			chunks: 5,
		},
		{
			name: "CRLF line ends",
			in:   strings.ReplaceAll(llama, "\n", "\r\n"),
			want: event.Output{Text: llamaText, Streamed: true, FirstChunkLen: 4, FinishReason: "length",
				Usage: &event.Usage{PromptTokens: 17, CompletionTokens: 5}},
			chunks: 5,
		},
		{
			name: "bare CR line ends",
			in:   strings.ReplaceAll(llama, "\n", "\r"),
			want: event.Output{Text: llamaText, Streamed: true, FirstChunkLen: 4, FinishReason: "length",
				Usage: &event.Usage{PromptTokens: 17, CompletionTokens: 5}},
			chunks: 5,
		},
		{
			name: "mixed CR, LF and CRLF line ends",
			in: strings.TrimSuffix(chunk(`{"content":"a"}`), "\n\n") + "\r\r" +
				strings.TrimSuffix(chunk(`{"content":"b"}`), "\n\n") + "\r\n\n" +
				strings.TrimSuffix(chunk(`{"content":"c"}`), "\n\n") + "\n\r" +
				": comment\rdata: {\"choices\":[{\"delta\":\rdata: {\"content\":\"d\"}}]}\r\n\r\n" +
				strings.ReplaceAll(finishStop, "\n", "\r") + "data: [DONE]\r",
			want:   event.Output{Text: "abcd", Streamed: true, FirstChunkLen: 1, FinishReason: "stop"},
			chunks: 4,
		},
		{
			name:   "bare CR after a line longer than the read buffer",
			in:     strings.ReplaceAll(chunk(`{"content":"`+long+`"}`)+finishStop+done, "\n", "\r"),
			want:   event.Output{Text: long, Streamed: true, FirstChunkLen: len(long), FinishReason: "stop"},
			chunks: 1,
		},
		{
			name: "comments, other fields, no space after colon",
			in: ": ping\n\n" + "event: message\nid: 7\nretry: 100\n" + chunk(`{"content":"a"}`) +
				":keep-alive\n" + strings.Replace(chunk(`{"content":"b"}`), "data: ", "data:", 1) + finishStop + done,
			want:   event.Output{Text: "ab", Streamed: true, FirstChunkLen: 1, FinishReason: "stop"},
			chunks: 2,
		},
		{
			name:   "multi-line data field",
			in:     "data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"hi\"},\ndata: \"finish_reason\":\"stop\"}]}\n\n" + done,
			want:   event.Output{Text: "hi", Streamed: true, FirstChunkLen: 2, FinishReason: "stop"},
			chunks: 1,
		},
		{
			name: "role-only and empty first chunks are not the first chunk",
			in: chunk(`{"role":"assistant"}`) + chunk(`{"role":"assistant","content":""}`) +
				chunk(`{"content":"Hello"}`) + chunk(`{"content":" you"}`) + finishStop + done,
			want:   event.Output{Text: "Hello you", Streamed: true, FirstChunkLen: 5, FinishReason: "stop"},
			chunks: 2,
		},
		{
			name: "ollama zero usage on every chunk, real usage last",
			in: `data: {"choices":[{"index":0,"text":"one","finish_reason":null}],` + zeroUsage + "}\n\n" +
				`data: {"choices":[{"index":0,"text":" two","finish_reason":null}],` + zeroUsage + "}\n\n" +
				`data: {"choices":[{"index":0,"text":"","finish_reason":"stop"}],` + zeroUsage + "}\n\n" +
				`data: {"choices":[],"usage":{"prompt_tokens":24,"completion_tokens":2,"total_tokens":26}}` + "\n\n" + done,
			want: event.Output{Text: "one two", Streamed: true, FirstChunkLen: 3, FinishReason: "stop",
				Usage: &event.Usage{PromptTokens: 24, CompletionTokens: 2}},
			chunks: 2,
		},
		{
			name:   "only zero usage means no usage",
			in:     `data: {"choices":[{"index":0,"text":"x","finish_reason":"stop"}],` + zeroUsage + "}\n\n" + done,
			want:   event.Output{Text: "x", Streamed: true, FirstChunkLen: 1, FinishReason: "stop"},
			chunks: 1,
		},
		{
			name: "reasoning_content then content",
			in: chunk(`{"role":"assistant","content":null,"reasoning_content":"Let"}`) +
				chunk(`{"reasoning_content":" me think"}`) + chunk(`{"content":"42"}`) + finishStop +
				`data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"completion_tokens_details":{"reasoning_tokens":3}}}` + "\n\n" + done,
			want: event.Output{Text: "42", Reasoning: "Let me think", Streamed: true, FirstChunkLen: 3, FinishReason: "stop",
				Usage: &event.Usage{PromptTokens: 3, CompletionTokens: 4, ReasoningTokens: 3}},
			chunks: 3,
		},
		{
			name: "reasoning field, and both names in one chunk counted once",
			in: chunk(`{"reasoning":"Hmm"}`) + chunk(`{"reasoning":" ok","reasoning_content":" ok"}`) +
				chunk(`{"content":"yes"}`) + finishStop + done,
			want:   event.Output{Text: "yes", Reasoning: "Hmm ok", Streamed: true, FirstChunkLen: 3, FinishReason: "stop"},
			chunks: 3,
		},
		{
			name: "escapes and unicode",
			in: chunk(`{"content":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \t\n"}`) + chunk(`{"content":"日本"}`) +
				chunk(`{"content":"\ud800x"}`) + finishStop + done,
			want:   event.Output{Text: "café 😀 \"q\" \\ / \t\n日本\uFFFDx", Streamed: true, FirstChunkLen: len("café 😀 \"q\" \\ / \t\n"), FinishReason: "stop"},
			chunks: 3,
		},
		{
			name:   "line longer than the read buffer",
			in:     chunk(`{"content":"`+long+`"}`) + finishStop + done,
			want:   event.Output{Text: long, Streamed: true, FirstChunkLen: len(long), FinishReason: "stop"},
			chunks: 1,
		},
		{
			name:   "finish_reason without [DONE] is complete",
			in:     chunk(`{"content":"a"}`) + finishStop,
			want:   event.Output{Text: "a", Streamed: true, FirstChunkLen: 1, FinishReason: "stop"},
			chunks: 1,
		},
		{
			name:   "[DONE] without finish_reason is complete",
			in:     chunk(`{"content":"a"}`) + done + chunk(`{"content":"ignored"}`),
			want:   event.Output{Text: "a", Streamed: true, FirstChunkLen: 1},
			chunks: 1,
		},
		{
			name:   "last event without its blank line",
			in:     chunk(`{"content":"a"}`) + strings.TrimSuffix(finishStop, "\n\n"),
			want:   event.Output{Text: "a", Streamed: true, FirstChunkLen: 1, FinishReason: "stop"},
			chunks: 1,
		},
		{
			name:      "no finish_reason and no [DONE] is truncated (ollama)",
			in:        chunk(`{"content":"a"}`) + chunk(`{"content":"b"}`),
			want:      event.Output{Text: "ab", Streamed: true, FirstChunkLen: 1},
			chunks:    2,
			wantClass: client.ClassTruncated,
		},
		{
			name:      "cut inside a chunk is truncated",
			in:        chunk(`{"content":"a"}`) + `data: {"choices":[{"delta":{"content":"b`,
			want:      event.Output{Text: "a", Streamed: true, FirstChunkLen: 1},
			chunks:    1,
			wantClass: client.ClassTruncated,
		},
		{
			name:      "empty stream is truncated",
			in:        "",
			want:      event.Output{Streamed: true},
			wantClass: client.ClassTruncated,
		},
		{
			name:      "malformed chunk",
			in:        chunk(`{"content":"a"}`) + chunk(`{"content":"b",}`) + finishStop + done,
			want:      event.Output{Text: "a", Streamed: true, FirstChunkLen: 1},
			chunks:    1,
			wantClass: client.ClassMalformed,
		},
		{
			name:      "error object in a chunk",
			in:        chunk(`{"content":"a"}`) + `data: {"error":{"message":"out of memory","type":"server_error","code":500}}` + "\n\n",
			want:      event.Output{Text: "a", Streamed: true, FirstChunkLen: 1},
			chunks:    1,
			wantClass: client.ClassServerError,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Whole, and one byte per read: events split across reads.
			for _, split := range []bool{false, true} {
				var rec recorder
				r := iotestReader(tc.in, split)
				out, err := client.ReadStream(r, &rec)
				checkClass(t, err, tc.wantClass)
				if diff := cmp.Diff(&tc.want, out); diff != "" {
					t.Errorf("split=%v: output (-want +got):\n%s", split, diff)
				}
				checkChunks(t, &rec, tc.chunks)
			}
		})
	}
}

func iotestReader(s string, split bool) io.Reader {
	if split {
		return iotest.OneByteReader(strings.NewReader(s))
	}
	return strings.NewReader(s)
}

func checkClass(t *testing.T, err error, want client.Class) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("error = %v, want none", err)
		}
		return
	}
	var e *client.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v (%T), want *client.Error of class %s", err, err, want)
	}
	if e.Class != want {
		t.Fatalf("class = %s (%v), want %s", e.Class, err, want)
	}
}

// checkChunks asserts n observed chunks, the first one flagged first, and
// timestamps that never go backwards.
func checkChunks(t *testing.T, rec *recorder, n int) {
	t.Helper()
	if len(rec.ts) != n {
		t.Fatalf("observed %d chunks, want %d", len(rec.ts), n)
	}
	for i := range rec.ts {
		if rec.first[i] != (i == 0) {
			t.Errorf("chunk %d: first = %v", i, rec.first[i])
		}
		if i > 0 && rec.ts[i] < rec.ts[i-1] {
			t.Errorf("chunk %d: timestamp %d before %d", i, rec.ts[i], rec.ts[i-1])
		}
	}
}

func FuzzSSE(f *testing.F) {
	llama, _ := llamaStream(3)
	seeds := []string{
		llama,
		strings.ReplaceAll(llama, "\n", "\r\n"),
		": c\n\n" + chunk(`{"content":"a"}`) + finishStop + done,
		chunk(`{"reasoning_content":"r","content":"\u00e9\ud83d\ude00"}`),
		"data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"hi\"}}]}\n\n",
		`data: {"choices":[],"usage":{"prompt_tokens":1e3,"completion_tokens":-2}}` + "\n\n",
		`data: {"error":"boom"}` + "\n\n",
		"data: [DONE]\n\n",
		"data: {\"choices\":[{\"delta\":{\"content\":\"\\",
		"data: " + strings.Repeat("[", 300) + "\n\n",
		"\r\r\n\n:",
		strings.ReplaceAll(llama, "\n", "\r"),
		"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\r\ndata: [DONE]\n\r",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var rec recorder
		out, err := client.ReadStream(bytes.NewReader(data), &rec)
		if out == nil {
			t.Fatal("nil Output")
		}
		if err != nil {
			var e *client.Error
			if !errors.As(err, &e) || e.Class == "" {
				t.Fatalf("error %v is not a classified *client.Error", err)
			}
		}
		if out.FirstChunkLen > len(out.All()) {
			t.Fatalf("FirstChunkLen %d > output length %d", out.FirstChunkLen, len(out.All()))
		}
		firsts := 0
		for _, f := range rec.first {
			if f {
				firsts++
			}
		}
		if len(rec.first) > 0 && (firsts != 1 || !rec.first[0]) {
			t.Fatalf("first flags %v", rec.first)
		}
		if len(rec.first) == 0 && out.All() != "" {
			t.Fatalf("text %q without an observed chunk", out.All())
		}
		// LF, CRLF and bare CR line ends mean the same.
		if bytes.IndexByte(data, '\r') < 0 {
			for _, eol := range []string{"\r", "\r\n"} {
				alt := bytes.ReplaceAll(data, []byte("\n"), []byte(eol))
				var altRec recorder
				out2, err2 := client.ReadStream(bytes.NewReader(alt), &altRec)
				if diff := cmp.Diff(out, out2); diff != "" || classOf(err) != classOf(err2) || len(altRec.ts) != len(rec.ts) {
					t.Fatalf("line ends %q: output (-LF +%q):\n%s\nerrors %v, %v; chunks %d, %d", eol, eol, diff, err, err2, len(rec.ts), len(altRec.ts))
				}
			}
		}
	})
}

// classOf returns the class of a *client.Error, or "".
func classOf(err error) client.Class {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Class
	}
	return ""
}
