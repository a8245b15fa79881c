package mockserver

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// request holds the few request fields the server needs. Prompt fields are
// decoded straight into word counts, so the hot path keeps no prompt text.
type request struct {
	Stream        bool `json:"stream"`
	StreamOptions struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	MaxTokens           int         `json:"max_tokens"`
	MaxCompletionTokens int         `json:"max_completion_tokens"`
	Messages            []message   `json:"messages"`
	Prompt              promptCount `json:"prompt"`
}

type message struct {
	Content wordCount `json:"content"`
}

func (r *request) reset() {
	msgs := r.Messages[:0]
	*r = request{Messages: msgs}
}

// maxTokens returns the request's output cap, 0 if none.
func (r *request) maxTokens() int {
	if r.MaxCompletionTokens > 0 {
		return r.MaxCompletionTokens
	}
	return max(r.MaxTokens, 0)
}

// promptTokens is the number of whitespace-separated words of all message
// contents (chat) or of the prompt (completions; a token-id array counts its ids).
func (r *request) promptTokens(a api) int {
	if a == apiCompletions {
		return r.Prompt.n
	}
	n := 0
	for i := range r.Messages {
		n += r.Messages[i].Content.n
	}
	return n
}

var errBadContent = errors.New("content must be a string, null or an array of parts")

// wordCount decodes a chat message content (a string or an array of
// {"type":"text","text":...} parts) into its word count.
type wordCount struct{ n int }

// UnmarshalJSON counts words without unescaping the string into memory.
func (w *wordCount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errBadContent
	case b[0] == '"':
		w.n = countWordsJSON(b[1 : len(b)-1])
	case b[0] == '[':
		var parts []struct {
			Text wordCount `json:"text"`
		}
		if err := json.Unmarshal(b, &parts); err != nil {
			return err
		}
		w.n = 0
		for _, p := range parts {
			w.n += p.Text.n
		}
	case bytes.Equal(b, []byte("null")):
		w.n = 0
	default:
		return errBadContent
	}
	return nil
}

// promptCount decodes a completions prompt: a string, an array of token
// ids, an array of strings or an array of token-id arrays. n is the word or
// id count; set reports whether a non-null prompt was present.
type promptCount struct {
	n   int
	set bool
}

// UnmarshalJSON counts words or token ids without allocating for the common
// string and flat token-id array forms.
func (p *promptCount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("empty prompt")
	case b[0] == '"':
		p.n, p.set = countWordsJSON(b[1:len(b)-1]), true
	case b[0] == '[':
		if n, ok := countFlatNumbers(b); ok {
			p.n, p.set = n, true
			return nil
		}
		var elems []promptCount
		if err := json.Unmarshal(b, &elems); err != nil {
			return err
		}
		p.n, p.set = 0, true
		for _, e := range elems {
			p.n += e.n
		}
	case bytes.Equal(b, []byte("null")):
		p.n, p.set = 0, false
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		p.n, p.set = 1, true
	default:
		return fmt.Errorf("prompt must be a string or an array, got %.20q", b)
	}
	return nil
}

// countFlatNumbers counts the elements of an array holding only numbers
// ("[1, 2, 3]"); ok is false for any other array.
func countFlatNumbers(b []byte) (n int, ok bool) {
	inner := bytes.TrimSpace(b[1 : len(b)-1])
	if len(inner) == 0 {
		return 0, true
	}
	for _, c := range inner {
		switch {
		case c == ',':
			n++
		case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E',
			c == ' ', c == '\t', c == '\n', c == '\r':
		default:
			return 0, false
		}
	}
	return n + 1, true
}

// countWordsJSON returns len(strings.Fields(s)) for the string s whose
// JSON-escaped body (without quotes) is b, decoding escapes on the fly.
func countWordsJSON(b []byte) int {
	n, inWord := 0, false
	for i := 0; i < len(b); {
		c := b[i]
		var space bool
		switch {
		case c == '\\' && i+1 < len(b):
			switch b[i+1] {
			case 'n', 't', 'r', 'f':
				space, i = true, i+2
			case 'u':
				if i+6 <= len(b) {
					v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 32)
					space = err == nil && unicode.IsSpace(rune(v))
					i += 6
				} else {
					i = len(b)
				}
			default:
				i += 2
			}
		case c < utf8.RuneSelf:
			space = asciiSpace[c] != 0
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			space = unicode.IsSpace(r)
			i += size
		}
		if space {
			inWord = false
		} else if !inWord {
			inWord, n = true, n+1
		}
	}
	return n
}

// asciiSpace marks the ASCII bytes unicode.IsSpace accepts.
var asciiSpace = [utf8.RuneSelf]uint8{'\t': 1, '\n': 1, '\v': 1, '\f': 1, '\r': 1, ' ': 1}

// countWords returns len(strings.Fields(s)) without allocating.
func countWords(s string) int {
	n, inWord := 0, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			inWord = false
		} else if !inWord {
			inWord, n = true, n+1
		}
	}
	return n
}

// textRequest is the slow-path decoding used by echo and oracle modes,
// which need the prompt text itself.
type textRequest struct {
	Messages []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	Prompt json.RawMessage `json:"prompt"`
}

// promptText returns the text echo and oracle modes answer to: the content
// of the last user message (else the last message) for chat, the prompt for
// completions (array forms joined by single spaces, token ids as numbers).
func promptText(body []byte, a api) (string, error) {
	var tr textRequest
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", err
	}
	if a == apiCompletions {
		return rawText(tr.Prompt)
	}
	if len(tr.Messages) == 0 {
		return "", nil
	}
	pick := len(tr.Messages) - 1
	for i := len(tr.Messages) - 1; i >= 0; i-- {
		if tr.Messages[i].Role == "user" {
			pick = i
			break
		}
	}
	return rawText(tr.Messages[pick].Content)
}

// rawText flattens a JSON string, number, null, array of those or array of
// {"text":...} parts into text.
func rawText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return "", err
		}
		parts := make([]string, 0, len(elems))
		for _, e := range elems {
			e = bytes.TrimSpace(e)
			if len(e) > 0 && e[0] == '{' {
				var part struct {
					Text json.RawMessage `json:"text"`
				}
				if err := json.Unmarshal(e, &part); err != nil {
					return "", err
				}
				e = part.Text
			}
			s, err := rawText(e)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, " "), nil
	default:
		return string(raw), nil
	}
}
