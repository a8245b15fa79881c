package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestMerge_LinearMatchesHeap checks that the two merge strategies agree on
// every pre-tokenized piece of the fixture corpus and on whole lines.
func TestMerge_LinearMatchesHeap(t *testing.T) {
	dir := "../../../shared/fixtures/tokenizers"
	f, err := os.Open(filepath.Join(dir, "corpus.jsonl"))
	if err != nil {
		t.Skipf("tokenizer fixtures not found at %s: %v", dir, err)
	}
	defer f.Close()
	var texts []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, c.Text)
	}
	tok, err := Load(filepath.Join(dir, "qwen3"))
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
