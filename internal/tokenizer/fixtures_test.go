package tokenizer_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/inferbench/inferbench/internal/tokenizer"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

var (
	loadedMu sync.Mutex
	loaded   = map[string]*tokenizer.Tokenizer{}
)

// loadFixture parses each fixture tokenizer of tokenizertest once per test
// binary.
func loadFixture(t testing.TB, name string) *tokenizer.Tokenizer {
	t.Helper()
	loadedMu.Lock()
	defer loadedMu.Unlock()
	if tok, ok := loaded[name]; ok {
		return tok
	}
	tok, err := tokenizer.Parse(tokenizertest.JSON(t, name))
	if err != nil {
		t.Fatal(err)
	}
	loaded[name] = tok
	return tok
}

// TestEncode_MatchesHuggingFace is the package's core claim: on every corpus
// line, with and without special tokens, the ids are those of Hugging Face
// tokenizers, id for id.
func TestEncode_MatchesHuggingFace(t *testing.T) {
	corpus := tokenizertest.Corpus(t)
	for _, name := range tokenizertest.Names {
		t.Run(name, func(t *testing.T) {
			checkMatchesReference(t, loadFixture(t, name), corpus, tokenizertest.References(t, name))
		})
	}
}

// TestEncode_MatchesHuggingFaceShareGPT does the same on real prompts: the
// ShareGPT part of the project's shared corpus, shipped in tokenizertest.
func TestEncode_MatchesHuggingFaceShareGPT(t *testing.T) {
	corpus := tokenizertest.ShareGPTCorpus(t)
	for _, name := range tokenizertest.ShareGPTNames {
		t.Run(name, func(t *testing.T) {
			checkMatchesReference(t, loadFixture(t, name), corpus, tokenizertest.ShareGPTReferences(t, name))
		})
	}
}

// checkMatchesReference compares Encode and Count with the reference ids of
// every corpus line and reports the first differing index of each line.
func checkMatchesReference(t *testing.T, tok *tokenizer.Tokenizer, corpus []tokenizertest.Line, ref []tokenizertest.Reference) {
	t.Helper()
	if len(ref) != len(corpus) || len(corpus) == 0 {
		t.Fatalf("reference has %d lines, corpus %d", len(ref), len(corpus))
	}
	bad := 0
	for i, c := range corpus {
		if ref[i].ID != c.ID {
			t.Fatalf("line %d: reference id %q, corpus id %q", i+1, ref[i].ID, c.ID)
		}
		for _, mode := range []struct {
			special bool
			want    []int32
		}{{false, ref[i].IDsNoSpecial}, {true, ref[i].IDsWithSpecial}} {
			got := tok.Encode(c.Text, mode.special)
			if n := tok.Count(c.Text, mode.special); n != len(mode.want) {
				t.Errorf("%s special=%v: Count = %d, want %d", c.ID, mode.special, n, len(mode.want))
			}
			if !slices.Equal(got, mode.want) {
				bad++
				k := 0
				for k < len(got) && k < len(mode.want) && got[k] == mode.want[k] {
					k++
				}
				lo := max(0, k-3)
				t.Errorf("%s special=%v: first difference at index %d: got %v, want %v (lens %d, %d)",
					c.ID, mode.special, k, got[lo:min(len(got), k+4)], mode.want[lo:min(len(mode.want), k+4)], len(got), len(mode.want))
			}
		}
		if bad > 20 {
			t.Fatal("too many differences")
		}
	}
}
