package mockserver_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// start serves cfg on a real 127.0.0.1 listener until the test ends.
func start(t *testing.T, cfg mockserver.Config) (*mockserver.Server, string) {
	t.Helper()
	srv, err := mockserver.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
	})
	return srv, "http://" + ln.Addr().String()
}

// newClient returns a client with its own transport, closed at the end.
func newClient(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

func post(t *testing.T, c *http.Client, url, body string) *http.Response {
	t.Helper()
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// response is the union of the OpenAI chat/completions response and chunk shapes.
type response struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	Model   string `json:"model"`
	Choices []struct {
		Index int     `json:"index"`
		Text  *string `json:"text"`
		Delta *struct {
			Role             string  `json:"role"`
			Content          *string `json:"content"`
			ReasoningContent string  `json:"reasoning_content"`
		} `json:"delta"`
		Message *struct {
			Role             string `json:"role"`
			Content          string `json:"content"`
			ReasoningContent string `json:"reasoning_content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

// streamResult is what a client saw of an SSE response.
type streamResult struct {
	chunks    []response
	at        []time.Duration // arrival of each chunk, from the request start
	malformed []string        // data lines that are not JSON
	done      bool            // data: [DONE] seen
	afterDone int             // data lines after [DONE]
	err       error           // read error, if the body did not end cleanly
}

// content concatenates the chunks' content (chat delta.content or text).
func (s streamResult) content() string {
	var b strings.Builder
	for _, c := range s.chunks {
		for _, ch := range c.Choices {
			if ch.Text != nil {
				b.WriteString(*ch.Text)
			}
			if ch.Delta != nil && ch.Delta.Content != nil {
				b.WriteString(*ch.Delta.Content)
			}
		}
	}
	return b.String()
}

func (s streamResult) reasoning() string {
	var b strings.Builder
	for _, c := range s.chunks {
		for _, ch := range c.Choices {
			if ch.Delta != nil {
				b.WriteString(ch.Delta.ReasoningContent)
			}
		}
	}
	return b.String()
}

// finishReasons lists the non-null finish reasons seen.
func (s streamResult) finishReasons() []string {
	var out []string
	for _, c := range s.chunks {
		for _, ch := range c.Choices {
			if ch.FinishReason != nil {
				out = append(out, *ch.FinishReason)
			}
		}
	}
	return out
}

// readStream reads an SSE body to its end, timing each event from begin.
func readStream(t *testing.T, body io.Reader, begin time.Time) streamResult {
	t.Helper()
	var res streamResult
	br := bufio.NewReader(body)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
				switch {
				case res.done:
					res.afterDone++
				case string(data) == "[DONE]":
					res.done = true
				default:
					var c response
					if jerr := json.Unmarshal(data, &c); jerr != nil {
						res.malformed = append(res.malformed, string(data))
					} else {
						res.chunks = append(res.chunks, c)
						res.at = append(res.at, time.Since(begin))
					}
				}
			} else if len(line) != 0 {
				t.Errorf("unexpected SSE line %q", line)
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				res.err = err
			}
			return res
		}
	}
}
