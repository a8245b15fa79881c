package mockserver_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// chat posts a non-streamed chat request of msgs (role, content pairs) and
// returns the reply's content.
func chat(t *testing.T, c *http.Client, url string, msgs ...string) string {
	t.Helper()
	var m []map[string]string
	for i := 0; i+1 < len(msgs); i += 2 {
		m = append(m, map[string]string{"role": msgs[i], "content": msgs[i+1]})
	}
	body, err := json.Marshal(map[string]any{"model": "m", "messages": m})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s (%v)", resp.StatusCode, data, err)
	}
	var out struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(data, &out); err != nil || len(out.Choices) != 1 {
		t.Fatalf("reply %s: %v", data, err)
	}
	return out.Choices[0].Message.Content
}

// TestHistoryCheck: the server accepts a history that carries its own
// replies in order, and counts as violations a reply edited, a reply
// given to another history, a made-up reply, and a turn sent before the
// reply it carries was complete.
func TestHistoryCheck(t *testing.T) {
	srv, url := start(t, mockserver.Config{Mode: mockserver.ModeEcho, CheckHistory: true, TPOT: 300 * time.Millisecond})
	c := newClient(t, 10*time.Second)
	r1 := chat(t, c, url, "system", "s", "user", "one two")
	r2 := chat(t, c, url, "system", "s", "user", "one two", "assistant", r1, "user", "three")
	chat(t, c, url, "system", "s", "user", "one two", "assistant", r1, "user", "three", "assistant", r2, "user", "four")
	if h, ok := srv.History(); !ok || h.Violations != 0 || h.Requests != 3 || h.Messages != 3 {
		t.Fatalf("a correct history: %+v, %v", h, ok)
	}
	bad := []struct {
		name string
		msgs []string
	}{
		{"edited", []string{"system", "s", "user", "one two", "assistant", r1 + "!", "user", "x"}},
		{"another history", []string{"user", "one two", "assistant", r1, "user", "x"}},
		{"out of order", []string{"system", "s", "user", "one two", "assistant", r2, "user", "x"}},
		{"made up", []string{"system", "s", "user", "new", "assistant", "hello", "user", "x"}},
	}
	for i, tc := range bad {
		chat(t, c, url, tc.msgs...)
		if h, _ := srv.History(); h.Violations != uint64(i+1) || len(h.Examples) != i+1 {
			t.Errorf("%s: %d violations %q, want %d", tc.name, h.Violations, h.Examples, i+1)
		}
	}
	// A next turn that does not wait for the reply (echo mode makes it
	// predictable): sent once the first chunk of "slow answer here" has
	// arrived, while the rest is still due (one token every 300 ms).
	resp, err := c.Post(url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"slow answer here"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first := make([]byte, 1)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	chat(t, c, url, "user", "slow answer here", "assistant", "slow answer here", "user", "next")
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !strings.Contains(string(rest), "[DONE]") {
		t.Fatalf("stream: %v %s", err, rest)
	}
	if h, _ := srv.History(); h.Violations != uint64(len(bad)+1) || !strings.Contains(h.Examples[len(bad)], "before that reply was complete") {
		t.Errorf("a turn sent before its reply was complete: %d violations %q", h.Violations, h.Examples)
	}
}

// TestHistoryCheck_Off: without CheckHistory the server reports nothing.
func TestHistoryCheck_Off(t *testing.T) {
	srv, _ := start(t, mockserver.Config{})
	if _, ok := srv.History(); ok {
		t.Error("History reports a check that is off")
	}
}
