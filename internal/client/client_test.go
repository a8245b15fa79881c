package client_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/event"
)

// newClient builds a Client for srv with short timeouts; edit adjusts cfg.
func newClient(t *testing.T, endpoint string, edit func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.DefaultConfig()
	cfg.Endpoint = endpoint
	cfg.Model = "m"
	cfg.ConnectTimeout = 2 * time.Second
	cfg.ReadTimeout = 5 * time.Second
	cfg.TotalTimeout = 10 * time.Second
	if edit != nil {
		edit(&cfg)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// captured is one request as the server saw it.
type captured struct {
	path   string
	header http.Header
	body   map[string]any
}

// capture returns a server that records each request's JSON body and answers
// with a fixed non-streaming chat response.
func capture(t *testing.T) (*httptest.Server, func() captured) {
	t.Helper()
	var (
		mu   sync.Mutex
		last captured
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad JSON: "+err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		last = captured{path: r.URL.Path, header: r.Header.Clone(), body: body}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() captured {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

func TestClient_Do_requestBody(t *testing.T) {
	srv, last := capture(t)
	temp := 0.5
	nasty := "say \"hi\"\n\tback\\slash \x01 é 😀 \u2028 invalid:\xff\xfe end"
	tests := []struct {
		name     string
		endpoint string
		edit     func(*client.Config)
		req      client.Request
		path     string
		want     map[string]any
	}{
		{
			name:     "chat streaming with system, temperature and extra body",
			endpoint: srv.URL,
			edit: func(c *client.Config) {
				c.Streaming = true
				c.Temperature = &temp
				c.ExtraBody = map[string]any{"top_p": 0.9, "ignore_eos": true, "stop": []string{"\n\n"}}
			},
			req:  client.Request{Prompt: "hello", System: "be brief"},
			path: "/v1/chat/completions",
			want: map[string]any{
				"model": "m",
				"messages": []any{
					map[string]any{"role": "system", "content": "be brief"},
					map[string]any{"role": "user", "content": "hello"},
				},
				"max_tokens": 256.0, "temperature": 0.5, "stream": true,
				"stream_options": map[string]any{"include_usage": true},
				"top_p":          0.9, "ignore_eos": true, "stop": []any{"\n\n"},
			},
		},
		{
			name:     "chat with a pre-encoded history between the system message and the prompt",
			endpoint: srv.URL,
			req: client.Request{Prompt: "and then?", System: "sys",
				History: client.AppendMessage(client.AppendMessage(nil, "user", nasty), "assistant", "ok \"fine\"")},
			path: "/v1/chat/completions",
			want: map[string]any{
				"model": "m",
				"messages": []any{
					map[string]any{"role": "system", "content": "sys"},
					map[string]any{"role": "user", "content": strings.ReplaceAll(nasty, "\xff\xfe", "\uFFFD\uFFFD")},
					map[string]any{"role": "assistant", "content": "ok \"fine\""},
					map[string]any{"role": "user", "content": "and then?"},
				},
				"max_tokens": 256.0, "stream": false,
			},
		},
		{
			name:     "chat base ending in /v1/, escaping, per-request max_tokens",
			endpoint: srv.URL + "/v1/",
			req:      client.Request{Prompt: nasty, MaxTokens: 9},
			path:     "/v1/chat/completions",
			want: map[string]any{
				"model":      "m",
				"messages":   []any{map[string]any{"role": "user", "content": strings.ReplaceAll(nasty, "\xff\xfe", "\uFFFD\uFFFD")}},
				"max_tokens": 9.0, "stream": false,
			},
		},
		{
			name:     "completions with token ids, extra body replaces max_tokens and stream_options",
			endpoint: srv.URL + "/v1",
			edit: func(c *client.Config) {
				c.API = client.APICompletions
				c.Streaming = true
				c.ExtraBody = map[string]any{"max_tokens": 7, "stream_options": map[string]any{"include_usage": false}}
			},
			req:  client.Request{Prompt: "ignored", TokenIDs: []int32{1, 22, 333, -4}},
			path: "/v1/completions",
			want: map[string]any{
				"model": "m", "prompt": []any{1.0, 22.0, 333.0, -4.0}, "stream": true,
				"max_tokens": 7.0, "stream_options": map[string]any{"include_usage": false},
			},
		},
		{
			name:     "completions text prompt, usage not requested",
			endpoint: srv.URL,
			edit: func(c *client.Config) {
				c.API = client.APICompletions
				c.Streaming = true
				c.IncludeUsage = false
				c.MaxTokens = 3
			},
			req:  client.Request{Prompt: "once upon"},
			path: "/v1/completions",
			want: map[string]any{"model": "m", "prompt": "once upon", "max_tokens": 3.0, "stream": true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.endpoint, tc.edit)
			out, err := c.Do(context.Background(), &tc.req, nil)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if out.Text != "ok" {
				t.Errorf("Text = %q, want ok", out.Text)
			}
			got := last()
			if got.path != tc.path {
				t.Errorf("path = %q, want %q", got.path, tc.path)
			}
			if diff := cmp.Diff(tc.want, got.body); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClient_Do_headers(t *testing.T) {
	srv, last := capture(t)
	t.Setenv("INFERBENCH_TEST_KEY", "sk-secret")
	c := newClient(t, srv.URL, func(c *client.Config) {
		c.APIKeyEnv = "INFERBENCH_TEST_KEY"
		c.Headers = map[string]string{"x-tenant": "bench"}
		c.Streaming = true
	})
	if _, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil); err != nil {
		t.Fatalf("Do: %v", err)
	}
	h := last().header
	for k, want := range map[string]string{
		"Authorization": "Bearer sk-secret", "X-Tenant": "bench",
		"Content-Type": "application/json", "Accept": "text/event-stream", "Accept-Encoding": "",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
}

func TestClient_Do_nonStreaming(t *testing.T) {
	tests := []struct {
		name string
		api  string
		body string
		want event.Output
	}{
		{
			name: "chat with reasoning and usage",
			api:  client.APIChat,
			body: `{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","reasoning_content":"think","content":"answer \u00e9"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8},"timings":{"predicted_ms":1.5}}`,
			want: event.Output{Text: "answer é", Reasoning: "think", FinishReason: "stop", Usage: &event.Usage{PromptTokens: 5, CompletionTokens: 3}},
		},
		{
			name: "completions text",
			api:  client.APICompletions,
			body: "{\n  \"choices\": [ {\"text\": \"once\", \"index\": 0, \"finish_reason\": \"length\"} ]\n}\n",
			want: event.Output{Text: "once", FinishReason: "length"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c := newClient(t, srv.URL, func(c *client.Config) { c.API = tc.api })
			out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			if diff := cmp.Diff(&tc.want, out); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClient_Do_streamTiming sends a stream in pieces, flushing in the middle
// of lines and pausing, and checks that chunks are timestamped when they
// arrive, not when the response ends.
func TestClient_Do_streamTiming(t *testing.T) {
	const pause = 60 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		send := func(s string) { io.WriteString(w, s); fl.Flush() }
		send(chunk(`{"role":"assistant","content":""}`))
		time.Sleep(pause) // prefill
		first := chunk(`{"content":"Hel"}`)
		send(first[:20])
		send(first[20:])
		second := chunk(`{"content":"lo"}`)
		send(second[:len(second)-1]) // the blank line comes later
		time.Sleep(pause)
		send("\n: comment\r\n\r\n")
		send(finishStop + `data: {"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":2}}` + "\n\n")
		time.Sleep(pause)
		send(done)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, func(c *client.Config) { c.Streaming = true })
	var rec recorder
	start := event.Now()
	out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, &rec)
	end := event.Now()
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
	want := event.Output{Text: "Hello", Streamed: true, FirstChunkLen: 3, FinishReason: "stop",
		Usage: &event.Usage{PromptTokens: 2, CompletionTokens: 2}}
	if diff := cmp.Diff(&want, out); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	checkChunks(t, &rec, 2)
	if ttft := time.Duration(rec.ts[0] - start); ttft < pause {
		t.Errorf("first chunk at %v, before the server's %v pause", ttft, pause)
	}
	if gap := time.Duration(rec.ts[1] - rec.ts[0]); gap < pause {
		t.Errorf("second chunk %v after the first, want >= %v (dispatched before its blank line?)", gap, pause)
	}
	if tail := time.Duration(end - rec.ts[1]); tail < pause {
		t.Errorf("Do returned %v after the last chunk, want >= %v (chunk stamped late?)", tail, pause)
	}
}

// TestClient_Do_streamIgnored reads a JSON body when the server ignores "stream".
func TestClient_Do_streamIgnored(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"choices":[{"message":{"content":"whole"},"finish_reason":"stop"}]}`)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, func(c *client.Config) { c.Streaming = true })
	out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
	if err != nil || out.Text != "whole" || out.Streamed {
		t.Fatalf("Do = %+v, %v; want Text whole, not streamed", out, err)
	}
}

func TestClient_Do_keepAlive(t *testing.T) {
	var (
		mu    sync.Mutex
		addrs = map[string]int{}
	)
	stream, text := llamaStream(20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		addrs[r.RemoteAddr]++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, stream)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, func(c *client.Config) { c.Streaming = true; c.MaxConnections = 2 })
	for range 10 {
		out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
		if err != nil || out.Text != text {
			t.Fatalf("Do: %v, text %q", err, out.Text)
		}
	}
	if len(addrs) != 1 {
		t.Errorf("10 sequential requests used %d connections, want 1: %v", len(addrs), addrs)
	}
}

func TestClient_Models(t *testing.T) {
	t.Setenv("INFERBENCH_TEST_KEY", "k")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" || r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		io.WriteString(w, `{"object":"list","data":[{"id":"llama","object":"model"},{"id":"qwen3","object":"model"}]}`)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL+"/v1", func(c *client.Config) { c.APIKeyEnv = "INFERBENCH_TEST_KEY" })
	got, err := c.Models(context.Background())
	if err != nil {
		t.Fatalf("Models: %v", err)
	}
	if diff := cmp.Diff([]string{"llama", "qwen3"}, got); diff != "" {
		t.Errorf("models (-want +got):\n%s", diff)
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Setenv("INFERBENCH_SET", "x")
	tests := []struct {
		name    string
		edit    func(*client.Config)
		wantErr string // substring; "" means valid
	}{
		{"defaults", func(*client.Config) {}, ""},
		{"zero values mean defaults", func(c *client.Config) { *c = client.Config{Endpoint: "http://h:1"} }, ""},
		{"https with /v1", func(c *client.Config) { c.Endpoint = "https://h/v1" }, ""},
		{"api key env set", func(c *client.Config) { c.APIKeyEnv = "INFERBENCH_SET" }, ""},
		{"empty endpoint", func(c *client.Config) { c.Endpoint = "" }, "endpoint is empty"},
		{"bad scheme", func(c *client.Config) { c.Endpoint = "htp:/x" }, `endpoint "htp:/x": scheme`},
		{"no host", func(c *client.Config) { c.Endpoint = "http:///v1" }, `endpoint "http:///v1": no host`},
		{"unparsable", func(c *client.Config) { c.Endpoint = "http://h:port" }, `endpoint "http://h:port"`},
		{"query", func(c *client.Config) { c.Endpoint = "http://h/?a=1" }, "query"},
		{"api", func(c *client.Config) { c.API = "responses" }, `api "responses"`},
		{"max tokens", func(c *client.Config) { c.MaxTokens = -1 }, "max_tokens -1"},
		{"max connections", func(c *client.Config) { c.MaxConnections = -5 }, "max_connections -5"},
		{"read timeout", func(c *client.Config) { c.ReadTimeout = -time.Second }, "read_timeout -1s"},
		{"header name", func(c *client.Config) { c.Headers = map[string]string{"a b": "v"} }, `invalid name "a b"`},
		{"header value", func(c *client.Config) { c.Headers = map[string]string{"a": "v\r\nx: y"} }, "line break"},
		{"api key env unset", func(c *client.Config) { c.APIKeyEnv = "INFERBENCH_UNSET_VAR" }, `api_key_env "INFERBENCH_UNSET_VAR"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := client.DefaultConfig()
			cfg.Endpoint = "http://127.0.0.1:8000"
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := client.New(cfg); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tc.wantErr)
			}
			if _, err := client.New(cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

func TestNew_extraBodyConflicts(t *testing.T) {
	cfg := client.DefaultConfig()
	cfg.Endpoint = "http://127.0.0.1:1"
	cfg.ExtraBody = map[string]any{"messages": []string{}}
	if _, err := client.New(cfg); err == nil || !strings.Contains(err.Error(), `"messages"`) {
		t.Fatalf("New = %v, want an error naming messages", err)
	}
	cfg.ExtraBody = map[string]any{"f": func() {}}
	if _, err := client.New(cfg); err == nil || !strings.Contains(err.Error(), `extra_body["f"]`) {
		t.Fatalf("New = %v, want an error naming extra_body[\"f\"]", err)
	}
}
