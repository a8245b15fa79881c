package tokenizer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/tokenizer"
)

func TestRunTokens(t *testing.T) {
	t.Parallel()
	tok, err := tokenizer.Load(writeTokenizer(t, spTokenizer(true)))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"ab", "", "ab €", "ab</s>ab"}
	var in strings.Builder
	for _, s := range texts {
		b, _ := json.Marshal(map[string]string{"text": s})
		in.Write(b)
		in.WriteString("\n\n") // blank lines are skipped
	}
	for _, special := range []bool{false, true} {
		for _, countOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("special=%v/count=%v", special, countOnly), func(t *testing.T) {
				var out bytes.Buffer
				if err := tokenizer.RunTokens(strings.NewReader(in.String()), &out, tok, special, countOnly); err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
				if len(lines) != len(texts) {
					t.Fatalf("got %d output lines, want %d: %q", len(lines), len(texts), out.String())
				}
				for i, line := range lines {
					var got struct {
						IDs   []int32 `json:"ids"`
						Count *int    `json:"count"`
					}
					if err := json.Unmarshal([]byte(line), &got); err != nil {
						t.Fatalf("line %d %q: %v", i+1, line, err)
					}
					want := tok.Encode(texts[i], special)
					if got.Count == nil || *got.Count != len(want) {
						t.Errorf("line %d: count %v, want %d", i+1, got.Count, len(want))
					}
					if countOnly && strings.Contains(line, "ids") {
						t.Errorf("line %d: countOnly output has ids: %s", i+1, line)
					}
					if !countOnly && !slices.Equal(got.IDs, want) && !(len(want) == 0 && strings.Contains(line, `"ids":[]`)) {
						t.Errorf("line %d: ids %v, want %v", i+1, got.IDs, want)
					}
				}
			})
		}
	}
}

func TestRunTokens_BadLine(t *testing.T) {
	t.Parallel()
	tok, err := tokenizer.Load(writeTokenizer(t, spTokenizer(true)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"not json", "{\"text\":\"a\"}\n{oops\n", "line 2"},
		{"no text", "{\"text\":\"a\"}\n\n{\"prompt\":\"a\"}\n", "line 3"},
		{"text not a string", "{\"text\":5}", "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tokenizer.RunTokens(strings.NewReader(tc.in), &bytes.Buffer{}, tok, false, true)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("RunTokens error = %v, want one naming %q", err, tc.want)
			}
		})
	}
}
