package tokenizer

import (
	"slices"
	"testing"

	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

// TestMerge_LinearMatchesHeap checks that the two merge strategies agree on
// every pre-tokenized piece of the fixture corpus and on whole lines.
func TestMerge_LinearMatchesHeap(t *testing.T) {
	var texts []string
	for _, c := range tokenizertest.Corpus(t) {
		texts = append(texts, c.Text)
	}
	tok, err := Parse(tokenizertest.JSON(t, "qwen3"))
	if err != nil {
		t.Fatal(err)
	}
	ws := &workspace{}
	check := func(w string) {
		a := tok.model.mergeLinear(ws, tok.model.initialSymbols(nil, w))
		b := tok.model.mergeHeap(ws, tok.model.initialSymbols(nil, w))
		if !slices.Equal(a, b) {
			t.Fatalf("piece %q: linear %v, heap %v", w, a, b)
		}
	}
	for _, s := range texts {
		if len(s) > 2000 {
			s = s[:2000] // the linear merge is quadratic
		}
		check(s)
		for i := 0; i < len(s); {
			j := tok.fastScan(s, i)
			check(s[i:j])
			i = j
		}
	}
}
