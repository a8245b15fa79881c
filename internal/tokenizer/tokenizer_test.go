package tokenizer_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/inferbench/inferbench/internal/tokenizer"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

// spTokenizer is a small SentencePiece-style tokenizer.json (the Mistral
// layout) with extra added tokens for the lstrip/rstrip/single_word rules.
func spTokenizer(byteFallback bool) map[string]any {
	added := func(id int, content string, lstrip, rstrip, single bool) map[string]any {
		return map[string]any{"id": id, "content": content, "single_word": single, "lstrip": lstrip,
			"rstrip": rstrip, "normalized": false, "special": true}
	}
	return map[string]any{
		"version": "1.0",
		"added_tokens": []any{
			added(0, "<unk>", false, false, false), added(1, "<s>", false, false, false),
			added(2, "</s>", false, false, false), added(11, "<mask>", true, false, false),
			added(12, "<sep>", false, true, false), added(13, "cd", false, false, true),
		},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		}},
		"pre_tokenizer": nil,
		"post_processor": map[string]any{
			"type":           "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{1}, "tokens": []string{"<s>"}}},
		},
		"model": map[string]any{
			"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": byteFallback,
			"vocab": map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2, "<0xE2>": 3, "<0x82>": 4, "<0xAC>": 5,
				"▁": 6, "a": 7, "b": 8, "ab": 9, "▁ab": 10},
			"merges": []string{"a b", "▁ ab"},
		},
	}
}

func writeTokenizer(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestEncode_SentencePieceRules(t *testing.T) {
	t.Parallel()
	withFallback, err := tokenizer.Load(writeTokenizer(t, spTokenizer(true)))
	if err != nil {
		t.Fatal(err)
	}
	noFallback, err := tokenizer.Load(writeTokenizer(t, spTokenizer(false)))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tok     *tokenizer.Tokenizer
		in      string
		special bool
		want    []int32
	}{
		{"merges", withFallback, "ab", false, []int32{10}},
		{"bos from template", withFallback, "ab", true, []int32{1, 10}},
		{"empty without special", withFallback, "", false, nil},
		{"empty with special", withFallback, "", true, []int32{1}},
		{"byte fallback", withFallback, "ab €", false, []int32{10, 6, 3, 4, 5}},
		{"no fallback fuses unknowns", noFallback, "€€x", false, []int32{6, 0}},
		{"fallback missing byte gives unk", withFallback, "x", false, []int32{6, 0}},
		{"special token in text", withFallback, "ab</s>ab", false, []int32{10, 2, 10}},
		{"special token starts text", withFallback, "</s>ab", true, []int32{1, 2, 10}},
		{"lstrip eats spaces before", withFallback, "a  <mask> b", false, []int32{6, 7, 11, 6, 6, 8}},
		{"rstrip eats spaces after", withFallback, "a <sep>  b", false, []int32{6, 7, 6, 12, 6, 8}},
		{"single word matches alone", noFallback, "cd ab", false, []int32{13, 6, 10}},
		{"single word not inside a word", noFallback, "cdx", false, []int32{6, 0}},
		{"partial special is text", noFallback, "</s", false, []int32{6, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := tc.tok.Encode(tc.in, tc.special)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Encode(%q, %v) = %v, want %v", tc.in, tc.special, got, tc.want)
			}
			if n := tc.tok.Count(tc.in, tc.special); n != len(tc.want) {
				t.Errorf("Count(%q, %v) = %d, want %d", tc.in, tc.special, n, len(tc.want))
			}
		})
	}
}

func TestLoad_Unsupported(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(m map[string]any)
		naming string
	}{
		{"model type", func(m map[string]any) { m["model"].(map[string]any)["type"] = "WordPiece" }, "WordPiece"},
		{"normalizer", func(m map[string]any) { m["normalizer"] = map[string]any{"type": "BertNormalizer"} }, "BertNormalizer"},
		{"pre-tokenizer", func(m map[string]any) { m["pre_tokenizer"] = map[string]any{"type": "Punctuation"} }, "Punctuation"},
		{"regex pattern", func(m map[string]any) {
			m["pre_tokenizer"] = map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\w+(?=x)`}, "behavior": "Isolated"}
		}, `\\w+(?=x)`},
		{"post-processor", func(m map[string]any) { m["post_processor"] = map[string]any{"type": "Fancy"} }, "Fancy"},
		{"dropout", func(m map[string]any) { m["model"].(map[string]any)["dropout"] = 0.1 }, "dropout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := spTokenizer(true)
			tc.edit(m)
			_, err := tokenizer.Load(writeTokenizer(t, m))
			if !errors.Is(err, tokenizer.ErrUnsupported) {
				t.Fatalf("Load error = %v, want ErrUnsupported", err)
			}
			if !strings.Contains(err.Error(), tc.naming) {
				t.Errorf("error %q does not name %q", err, tc.naming)
			}
		})
	}
}

func TestLoad_Errors(t *testing.T) {
	t.Parallel()
	if _, err := tokenizer.Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing path succeeded")
	}
	bad := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tokenizer.Load(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Load of bad JSON: error %v should name %s", err, bad)
	}
	m := spTokenizer(true)
	m["model"].(map[string]any)["merges"] = []string{"a zz"}
	if _, err := tokenizer.Load(writeTokenizer(t, m)); err == nil || !strings.Contains(err.Error(), "a zz") {
		t.Errorf("merge with unknown token: error %v should name it", err)
	}
}

func TestLoad_Directory(t *testing.T) {
	t.Parallel()
	path := writeTokenizer(t, spTokenizer(true))
	tok, err := tokenizer.Load(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("ab", false); !slices.Equal(got, []int32{10}) {
		t.Errorf("Encode = %v, want [10]", got)
	}
}

// TestCount_Concurrent runs many goroutines over one tokenizer (run with
// -race) and checks they agree with a serial pass.
func TestCount_Concurrent(t *testing.T) {
	corpus := tokenizertest.Corpus(t)
	tok, err := tokenizer.Parse(tokenizertest.JSON(t, "qwen3")) // fresh: empty cache
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int, len(corpus))
	var wg sync.WaitGroup
	got := make([][]int, 4)
	for g := range got {
		got[g] = make([]int, len(corpus))
		wg.Go(func() {
			for i := range corpus {
				k := (i + g*97) % len(corpus)
				got[g][k] = tok.Count(corpus[k].Text, true)
			}
		})
	}
	wg.Wait()
	for i, c := range corpus {
		want[i] = len(tok.Encode(c.Text, true))
	}
	for g := range got {
		if !slices.Equal(got[g], want) {
			t.Errorf("goroutine %d counts differ from the serial pass", g)
		}
	}
}
