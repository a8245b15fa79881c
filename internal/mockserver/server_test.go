package mockserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

func decodeJSON(t *testing.T, resp *http.Response) response {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d, body %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var r response
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatalf("decode body: %v", err)
	}
	return r
}

func TestServer_NonStreaming(t *testing.T) {
	t.Parallel()
	_, base := start(t, mockserver.Config{OutputTokens: 7, Model: "m-1"})
	c := newClient(t, 5*time.Second)
	tests := []struct {
		name       string
		path, body string
		object     string
		wantTokens int
		wantFinish string
		wantPrompt int
	}{
		{"chat", "/v1/chat/completions", `{"model":"x","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello  there\nworld"}]}`, "chat.completion", 7, "stop", 5},
		{"chat max_tokens cap", "/v1/chat/completions", `{"messages":[{"role":"user","content":"a b"}],"max_tokens":3}`, "chat.completion", 3, "length", 2},
		{"chat max_completion_tokens wins", "/v1/chat/completions", `{"messages":[{"role":"user","content":"a"}],"max_tokens":2,"max_completion_tokens":5}`, "chat.completion", 5, "length", 1},
		{"chat cap above output", "/v1/chat/completions", `{"messages":[{"role":"user","content":"a"}],"max_tokens":100}`, "chat.completion", 7, "stop", 1},
		{"completions string", "/v1/completions", `{"prompt":"one two three four"}`, "text_completion", 7, "stop", 4},
		{"completions token ids capped", "/v1/completions", `{"prompt":[101, 2023, 2003, 1037],"max_tokens":2}`, "text_completion", 2, "length", 4},
		{"completions output equals cap", "/v1/completions", `{"prompt":"x","max_tokens":7}`, "text_completion", 7, "stop", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := decodeJSON(t, post(t, c, base+tc.path, tc.body))
			if r.Object != tc.object || r.Model != "m-1" || r.ID == "" || r.Created == 0 {
				t.Errorf("object %q model %q id %q created %d", r.Object, r.Model, r.ID, r.Created)
			}
			if len(r.Choices) != 1 || r.Choices[0].FinishReason == nil {
				t.Fatalf("choices = %+v", r.Choices)
			}
			ch := r.Choices[0]
			var text string
			if tc.object == "chat.completion" {
				if ch.Message == nil || ch.Message.Role != "assistant" {
					t.Fatalf("message = %+v", ch.Message)
				}
				text = ch.Message.Content
			} else {
				if ch.Text == nil {
					t.Fatal("text missing")
				}
				text = *ch.Text
			}
			if got := len(strings.Fields(text)); got != tc.wantTokens {
				t.Errorf("output %q has %d words, want %d", text, got, tc.wantTokens)
			}
			if *ch.FinishReason != tc.wantFinish {
				t.Errorf("finish_reason = %q, want %q", *ch.FinishReason, tc.wantFinish)
			}
			want := usage{tc.wantPrompt, tc.wantTokens, tc.wantPrompt + tc.wantTokens}
			if r.Usage == nil || *r.Usage != want {
				t.Errorf("usage = %+v, want %+v", r.Usage, want)
			}
		})
	}
}

func TestServer_Streaming(t *testing.T) {
	t.Parallel()
	_, base := start(t, mockserver.Config{OutputTokens: 9, TokensPerChunk: 2})
	c := newClient(t, 5*time.Second)
	tests := []struct {
		name       string
		path, body string
		usage      bool
		wantTokens int
		wantFinish string
		wantPrompt int
	}{
		{"chat usage", "/v1/chat/completions", `{"messages":[{"role":"user","content":"why is the sky blue"}],"stream":true,"stream_options":{"include_usage":true}}`, true, 9, "stop", 5},
		{"chat no usage", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"stream":true}`, false, 9, "stop", 1},
		{"chat capped", "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"stream":true,"max_tokens":4,"stream_options":{"include_usage":true}}`, true, 4, "length", 1},
		{"completions usage", "/v1/completions", `{"prompt":[1,2,3],"stream":true,"stream_options":{"include_usage":true}}`, true, 9, "stop", 3},
		{"completions capped", "/v1/completions", `{"prompt":"a b","stream":true,"max_tokens":5,"stream_options":{"include_usage":true}}`, true, 5, "length", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(t, c, base+tc.path, tc.body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type = %q", ct)
			}
			res := readStream(t, resp.Body, time.Now())
			if res.err != nil || !res.done || res.afterDone != 0 || len(res.malformed) != 0 {
				t.Fatalf("err %v done %v afterDone %d malformed %q", res.err, res.done, res.afterDone, res.malformed)
			}
			chat := strings.Contains(tc.path, "chat")
			wantChunks := (tc.wantTokens+1)/2 + 1 // content chunks + finish chunk
			if tc.usage {
				wantChunks++
			}
			if len(res.chunks) != wantChunks {
				t.Fatalf("got %d chunks, want %d", len(res.chunks), wantChunks)
			}
			for i, ch := range res.chunks {
				wantObj := "text_completion"
				if chat {
					wantObj = "chat.completion.chunk"
				}
				if ch.Object != wantObj || ch.ID != res.chunks[0].ID || ch.Model != mockserver.DefaultModel {
					t.Errorf("chunk %d: object %q id %q model %q", i, ch.Object, ch.ID, ch.Model)
				}
			}
			if chat && res.chunks[0].Choices[0].Delta.Role != "assistant" {
				t.Errorf("first chunk has no role: %+v", res.chunks[0].Choices[0].Delta)
			}
			if got := len(strings.Fields(res.content())); got != tc.wantTokens {
				t.Errorf("content %q has %d words, want %d", res.content(), got, tc.wantTokens)
			}
			if got := res.finishReasons(); len(got) != 1 || got[0] != tc.wantFinish {
				t.Errorf("finish reasons %q, want [%q]", got, tc.wantFinish)
			}
			last := res.chunks[len(res.chunks)-1]
			if tc.usage {
				want := usage{tc.wantPrompt, tc.wantTokens, tc.wantPrompt + tc.wantTokens}
				if last.Choices == nil || len(last.Choices) != 0 || last.Usage == nil || *last.Usage != want {
					t.Errorf("usage chunk: choices %v usage %+v, want [] and %+v", last.Choices, last.Usage, want)
				}
			} else if last.Usage != nil {
				t.Errorf("usage sent without include_usage: %+v", last.Usage)
			}
		})
	}
}

func TestServer_PromptTokens(t *testing.T) {
	t.Parallel()
	_, base := start(t, mockserver.Config{OutputTokens: 1})
	c := newClient(t, 5*time.Second)
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"escapes and unicode", "/v1/chat/completions", `{"messages":[{"role":"user","content":"a\tb\nc\u00a0d  é\u0020f"}]}`, 6},
		{"all messages", "/v1/chat/completions", `{"messages":[{"role":"system","content":"x y"},{"role":"user","content":"z"},{"role":"assistant","content":null}]}`, 3},
		{"content parts", "/v1/chat/completions", `{"messages":[{"role":"user","content":[{"type":"text","text":"p q"},{"type":"text","text":"r"}]}]}`, 3},
		{"empty token ids", "/v1/completions", `{"prompt":[]}`, 0},
		{"string array", "/v1/completions", `{"prompt":["a b","c"]}`, 3},
		{"nested token ids", "/v1/completions", `{"prompt":[[1,2],[3]]}`, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := decodeJSON(t, post(t, c, base+tc.path, tc.body))
			if r.Usage == nil || r.Usage.PromptTokens != tc.want {
				t.Errorf("usage %+v, want prompt_tokens %d", r.Usage, tc.want)
			}
		})
	}
}

func TestServer_Reasoning(t *testing.T) {
	t.Parallel()
	_, base := start(t, mockserver.Config{OutputTokens: 4, ReasoningTokens: 3})
	c := newClient(t, 5*time.Second)

	resp := post(t, c, base+"/v1/chat/completions", `{"messages":[{"role":"user","content":"q"}],"stream":true,"stream_options":{"include_usage":true}}`)
	res := readStream(t, resp.Body, time.Now())
	if got, want := len(strings.Fields(res.reasoning())), 3; got != want {
		t.Errorf("reasoning %q: %d words, want %d", res.reasoning(), got, want)
	}
	if got, want := len(strings.Fields(res.content())), 4; got != want {
		t.Errorf("content %q: %d words, want %d", res.content(), got, want)
	}
	// Reasoning comes first, and the first chunk carries the role.
	first := res.chunks[0].Choices[0].Delta
	if first.ReasoningContent == "" || first.Content != nil || first.Role != "assistant" {
		t.Errorf("first delta = %+v", first)
	}
	if u := res.chunks[len(res.chunks)-1].Usage; u == nil || u.CompletionTokens != 7 {
		t.Errorf("usage %+v, want completion_tokens 7", u)
	}

	// The cap applies to reasoning plus content.
	r := decodeJSON(t, post(t, c, base+"/v1/chat/completions", `{"messages":[{"role":"user","content":"q"}],"max_tokens":5}`))
	m := r.Choices[0].Message
	if len(strings.Fields(m.ReasoningContent)) != 3 || len(strings.Fields(m.Content)) != 2 || *r.Choices[0].FinishReason != "length" {
		t.Errorf("capped message %+v finish %q", m, *r.Choices[0].FinishReason)
	}
}

func TestServer_EchoMode(t *testing.T) {
	t.Parallel()
	_, base := start(t, mockserver.Config{Mode: mockserver.ModeEcho, TokensPerChunk: 2})
	c := newClient(t, 5*time.Second)
	prompt := `say "hi",  then\tleave é`
	body, _ := json.Marshal(map[string]any{
		"messages": []map[string]string{{"role": "system", "content": "ignored"}, {"role": "user", "content": prompt}},
		"stream":   true,
	})
	res := readStream(t, post(t, c, base+"/v1/chat/completions", string(body)).Body, time.Now())
	if res.content() != prompt {
		t.Errorf("echo stream = %q, want %q", res.content(), prompt)
	}
	r := decodeJSON(t, post(t, c, base+"/v1/completions", `{"prompt":"one two three","max_tokens":2}`))
	if got := *r.Choices[0].Text; got != "one two" || *r.Choices[0].FinishReason != "length" {
		t.Errorf("capped echo = %q finish %q", got, *r.Choices[0].FinishReason)
	}
}

func TestServer_OracleMode(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "oracle.jsonl")
	data := `{"prompt":"What is 2+2?","output":"It is\n4."}` + "\n\n" + `{"prompt":"capital of France","output":"Paris","extra":1}` + "\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	oracle, err := mockserver.LoadOracle(path, "prompt", "output")
	if err != nil {
		t.Fatalf("LoadOracle: %v", err)
	}
	srv, base := start(t, mockserver.Config{Mode: mockserver.ModeOracle, Oracle: oracle})
	c := newClient(t, 5*time.Second)

	res := readStream(t, post(t, c, base+"/v1/chat/completions", `{"messages":[{"role":"user","content":"What is 2+2?"}],"stream":true}`).Body, time.Now())
	if res.content() != "It is\n4." || !res.done {
		t.Errorf("oracle stream = %q done %v", res.content(), res.done)
	}
	r := decodeJSON(t, post(t, c, base+"/v1/completions", `{"prompt":"capital of France"}`))
	if *r.Choices[0].Text != "Paris" {
		t.Errorf("oracle completion = %q", *r.Choices[0].Text)
	}
	resp := post(t, c, base+"/v1/completions", `{"prompt":"unknown"}`)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown prompt: status %d, want 400", resp.StatusCode)
	}
	if st := srv.Stats(); st.Requests != 3 || st.BadRequests != 1 {
		t.Errorf("stats %+v, want 3 requests, 1 bad", st)
	}
}

func TestServer_Routes(t *testing.T) {
	t.Parallel()
	srv, base := start(t, mockserver.Config{Model: "llama"})
	c := newClient(t, 5*time.Second)

	resp, err := c.Get(base + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var models struct {
		Object string `json:"object"`
		Data   []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&models); err != nil || models.Object != "list" || len(models.Data) != 1 || models.Data[0].ID != "llama" {
		t.Errorf("models = %+v, err %v", models, err)
	}
	resp.Body.Close()

	tests := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/health", "", 200},
		{"GET", "/nope", "", 404},
		{"GET", "/v1/chat/completions", "", 405},
		{"POST", "/v1/chat/completions", `{"messages":`, 400},
		{"POST", "/v1/chat/completions", `{"messages":[]}`, 400},
		{"POST", "/v1/chat/completions", `{"messages":[{"content":42}]}`, 400},
		{"POST", "/v1/completions", `{"max_tokens":3}`, 400},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s %s: status %d, want %d", tc.method, tc.path, tc.body, resp.StatusCode, tc.want)
		}
		if !json.Valid(b) {
			t.Errorf("%s %s: body %q is not JSON", tc.method, tc.path, b)
		}
	}
	if st := srv.Stats(); st.Requests != 5 || st.BadRequests != 5 {
		t.Errorf("stats %+v, want 5 requests, 5 bad", st)
	}
}

func TestServer_OutputDistDeterministic(t *testing.T) {
	t.Parallel()
	cfg := mockserver.Config{Seed: 7, OutputDist: mockserver.OutputDist{Kind: mockserver.DistUniform, Min: 3, Max: 12}}
	lengths := func() []int {
		_, base := start(t, cfg)
		c := newClient(t, 5*time.Second)
		var out []int
		for range 40 {
			r := decodeJSON(t, post(t, c, base+"/v1/completions", `{"prompt":"p"}`))
			out = append(out, r.Usage.CompletionTokens)
		}
		return out
	}
	a, b := lengths(), lengths()
	seen := map[int]bool{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different lengths: %v vs %v", a, b)
		}
		if a[i] < 3 || a[i] > 12 {
			t.Errorf("length %d outside [3, 12]", a[i])
		}
		seen[a[i]] = true
	}
	if len(seen) < 5 {
		t.Errorf("uniform draw hit only %d distinct lengths in 40: %v", len(seen), a)
	}
}
