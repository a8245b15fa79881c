// Package tokenizertest hands tests the real tokenizer fixtures that ship
// with the repository, so that the tokenizer's exactness claim is checked on
// every clone, not only where a copy of the project's shared fixtures sits
// beside it.
//
// The fixtures (testdata/, see its README.md) are the Qwen3 and Mistral-7B
// (Apache-2.0) and GPT-2 (MIT) tokenizer.json files, gzip-compressed (they
// are the largest files of the repository), a corpus of edge cases and
// prose, and the ids Hugging Face `tokenizers` (the Rust library) gives every
// corpus line. They are embedded, so a test finds them from any package and
// any working directory. Only tests import this package.
package tokenizertest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

//go:embed testdata/corpus.jsonl testdata/reference/*.jsonl testdata/*/tokenizer.json.gz
//go:embed testdata/sharegpt/corpus.jsonl testdata/sharegpt/reference/*.jsonl
var files embed.FS

// Names are the tokenizers in testdata/: Qwen3 (byte-level BPE with a split
// regex and an NFC normalizer), Mistral-7B v0.1 (SentencePiece-style BPE with
// byte fallback), GPT-2 (byte-level BPE with the ByteLevel pre-tokenizer's
// built-in regex) and llama3like: Qwen3's vocabulary with what Llama-3's
// tokenizer has and the others lack (ignore_merges, digits in groups of 1-3,
// no normalizer; its make-tokenizer-json.py), Llama-3's own being under a
// licence the repository cannot carry.
var Names = []string{"qwen3", "mistral", "gpt2", "llama3like"}

// Line is one corpus text.
type Line struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// Reference is what Hugging Face tokenizers gives one corpus line, without
// and with the special tokens the post-processor adds.
type Reference struct {
	ID             string  `json:"id"`
	IDsNoSpecial   []int32 `json:"ids_no_special"`
	IDsWithSpecial []int32 `json:"ids_with_special"`
}

var (
	mu       sync.Mutex
	unzipped = map[string][]byte{}
)

// JSON returns the bytes of the named tokenizer's tokenizer.json. The slice
// is shared by every caller of the test binary: do not modify it.
func JSON(t testing.TB, name string) []byte {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if b, ok := unzipped[name]; ok {
		return b
	}
	gz, err := files.ReadFile("testdata/" + name + "/tokenizer.json.gz")
	if err != nil {
		t.Fatalf("tokenizertest: no fixture tokenizer %q (have %v): %v", name, Names, err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("tokenizertest: %s: %v", name, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("tokenizertest: %s: %v", name, err)
	}
	unzipped[name] = b
	return b
}

// Dir writes the named tokenizer's tokenizer.json into a fresh temporary
// directory of t and returns the directory, for code that takes a path (the
// --tokenizer flag, tokenizer.Load).
func Dir(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.json"), JSON(t, name), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Corpus returns the corpus texts in file order.
func Corpus(t testing.TB) []Line {
	t.Helper()
	return readJSONL[Line](t, "testdata/corpus.jsonl")
}

// References returns the named tokenizer's reference ids, one per corpus
// line, in the corpus's order.
func References(t testing.TB, name string) []Reference {
	t.Helper()
	return readJSONL[Reference](t, "testdata/reference/"+name+".jsonl")
}

// ShareGPTNames are the tokenizers with reference ids for the ShareGPT
// corpus (Llama-3's stay with the shared fixtures: its licence is not
// permissive).
var ShareGPTNames = []string{"qwen3", "mistral"}

// ShareGPTCorpus returns the 227 real prompts of the shared corpus that come
// from the ShareGPT files (Apache-2.0): lengths up to 8 kB, the texts a run
// actually tokenizes.
func ShareGPTCorpus(t testing.TB) []Line {
	t.Helper()
	return readJSONL[Line](t, "testdata/sharegpt/corpus.jsonl")
}

// ShareGPTReferences returns the named tokenizer's reference ids for
// ShareGPTCorpus, in its order.
func ShareGPTReferences(t testing.TB, name string) []Reference {
	t.Helper()
	return readJSONL[Reference](t, "testdata/sharegpt/reference/"+name+".jsonl")
}

func readJSONL[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := files.Open(path)
	if err != nil {
		t.Fatalf("tokenizertest: %v", err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24) // texts contain U+2028 and NUL: split on '\n' only
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("tokenizertest: %s line %d: %v", path, len(out)+1, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("tokenizertest: %s: %v", path, err)
	}
	return out
}
