package client_test

import (
	"fmt"
	"strings"
)

// recorder is an Observer that keeps what it was told.
type recorder struct {
	ts    []int64
	first []bool
}

func (r *recorder) OnChunk(ts int64, first bool) {
	r.ts = append(r.ts, ts)
	r.first = append(r.first, first)
}

// counter is an allocation-free Observer.
type counter struct{ n, firsts int }

func (c *counter) OnChunk(_ int64, first bool) {
	c.n++
	if first {
		c.firsts++
	}
}

const llamaMeta = `"created":1732000000,"id":"chatcmpl-Xb8p3u2kq9wLmZ","model":"Llama-3.1-8B-Instruct","system_fingerprint":"b4997-d3bd7193","object":"chat.completion.chunk"`

// llamaStream returns a chat stream shaped like llama-server's: a role-only
// first chunk, n content chunks, a finish chunk, a usage-only chunk with
// "choices":[] and "timings", then [DONE]. It also returns the joined text.
func llamaStream(n int) (stream, text string) {
	words := []string{" the", " quick", " brown", " fox", " jumps", " over", " lazy", " dog", ",", " and", "\\n", " \\\"quoted\\\""}
	plain := []string{" the", " quick", " brown", " fox", " jumps", " over", " lazy", " dog", ",", " and", "\n", " \"quoted\""}
	var b, t strings.Builder
	fmt.Fprintf(&b, `data: {"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],%s}`+"\n\n", llamaMeta)
	for i := range n {
		fmt.Fprintf(&b, `data: {"choices":[{"finish_reason":null,"index":0,"delta":{"content":"%s"}}],%s}`+"\n\n", words[i%len(words)], llamaMeta)
		t.WriteString(plain[i%len(plain)])
	}
	fmt.Fprintf(&b, `data: {"choices":[{"finish_reason":"length","index":0,"delta":{}}],%s}`+"\n\n", llamaMeta)
	fmt.Fprintf(&b, `data: {"choices":[],%s,"usage":{"completion_tokens":%d,"prompt_tokens":17,"total_tokens":%d},"timings":{"prompt_n":17,"prompt_ms":12.5,"predicted_n":%d,"predicted_ms":1783.2,"predicted_per_second":560.7}}`+"\n\n", llamaMeta, n, n+17, n)
	b.WriteString("data: [DONE]\n\n")
	return b.String(), t.String()
}
