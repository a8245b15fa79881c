package client

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// FuzzParseResponse checks the hand-written scanner against encoding/json:
// whatever it accepts must be valid JSON, and a valid JSON object of the
// expected shape must be accepted with the same content.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		`{"choices":[{"index":0,"delta":{"content":"a\u00e9\n"},"finish_reason":null}],"usage":null}`,
		`{"choices":[{"message":{"content":"x","reasoning_content":"r"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1.5e1}}`,
		`{"choices":[],"timings":{"a":[1,-2.5,true,false,null,{}]}}`,
		`{"error":{"message":"m"}}`,
		`{"choices":[{"text":"\ud83d\ude00"}]} `,
		`{"a":01}`, `{"a":"\x"}`, `{"a":1,}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var got fields
		err := parseResponse(data, &got)
		if err == nil && !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		// A map, not a struct: encoding/json matches struct fields without
		// regard to case, the scanner (like the servers) exactly.
		var doc map[string]any
		if err != nil || json.Unmarshal(data, &doc) != nil {
			return
		}
		choices, _ := doc["choices"].([]any)
		if len(choices) == 0 {
			return
		}
		choice, _ := choices[0].(map[string]any)
		delta, _ := choice["delta"].(map[string]any)
		content, ok := delta["content"].(string)
		// encoding/json replaces invalid UTF-8; the scanner keeps it.
		if ok && utf8.Valid(data) && string(got.text) != content {
			t.Errorf("content = %q, encoding/json says %q", got.text, content)
		}
	})
}
