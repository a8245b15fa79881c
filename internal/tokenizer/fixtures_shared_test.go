//go:build sharedfixtures

package tokenizer_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/inferbench/inferbench/internal/tokenizer"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

// The project's shared fixtures, beside the clone, add what the repository
// may not carry, both for licence reasons: Llama-3's tokenizer (Meta Llama 3
// Community License) and the full 400-line corpus's CNN/DailyMail articles.
// (Its ShareGPT prompts ship in tokenizertest: TestEncode_MatchesHuggingFaceShareGPT;
// what only Llama-3's tokenizer exercised, ignore_merges and digit groups of
// 1-3, every clone tests on tokenizertest's llama3like.)
// These tests are compiled
// only with the build tag sharedfixtures, which scripts/test.sh sets when
// ../shared exists; asked for without the fixtures, they fail.
const sharedDir = "../../../shared/fixtures/tokenizers"

var sharedNames = []string{"qwen3", "llama3", "mistral"}

func readSharedJSONL[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("shared fixtures (build tag sharedfixtures): %v", err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadShared(t testing.TB, name string) *tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Load(filepath.Join(sharedDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestEncode_MatchesHuggingFaceShared(t *testing.T) {
	corpus := readSharedJSONL[tokenizertest.Line](t, filepath.Join(sharedDir, "corpus.jsonl"))
	for _, name := range sharedNames {
		t.Run(name, func(t *testing.T) {
			ref := readSharedJSONL[tokenizertest.Reference](t, filepath.Join(sharedDir, "reference", name+".jsonl"))
			checkMatchesReference(t, loadShared(t, name), corpus, ref)
		})
	}
}

// BenchmarkCountShared counts the shared 400-line corpus: the same work as
// the "encode" loop of the Rust reference in shared's reference-speed.json.
func BenchmarkCountShared(b *testing.B) {
	corpus := readSharedJSONL[tokenizertest.Line](b, filepath.Join(sharedDir, "corpus.jsonl"))
	for _, name := range sharedNames {
		b.Run(name, func(b *testing.B) {
			benchmarkCount(b, loadShared(b, name), corpus)
		})
	}
}
