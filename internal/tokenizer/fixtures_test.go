package tokenizer_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/inferbench/inferbench/internal/tokenizer"
)

// fixtureDir is shared/fixtures/tokenizers, which lives beside the clone.
const fixtureDir = "../../../shared/fixtures/tokenizers"

var fixtureNames = []string{"qwen3", "llama3", "mistral"}

type corpusLine struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

type referenceLine struct {
	ID             string  `json:"id"`
	IDsNoSpecial   []int32 `json:"ids_no_special"`
	IDsWithSpecial []int32 `json:"ids_with_special"`
}

func readJSONL[T any](t testing.TB, path string) []T {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
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

func requireFixtures(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(fixtureDir, "corpus.jsonl")); err != nil {
		t.Skipf("tokenizer fixtures not found at %s (shared/ must sit beside the clone): %v", fixtureDir, err)
	}
}

var (
	loadedMu sync.Mutex
	loaded   = map[string]*tokenizer.Tokenizer{}
)

// loadFixture loads each fixture tokenizer once per test binary.
func loadFixture(t testing.TB, name string) *tokenizer.Tokenizer {
	t.Helper()
	loadedMu.Lock()
	defer loadedMu.Unlock()
	if tok, ok := loaded[name]; ok {
		return tok
	}
	tok, err := tokenizer.Load(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	loaded[name] = tok
	return tok
}

func TestEncode_MatchesHuggingFace(t *testing.T) {
	requireFixtures(t)
	corpus := readJSONL[corpusLine](t, filepath.Join(fixtureDir, "corpus.jsonl"))
	for _, name := range fixtureNames {
		t.Run(name, func(t *testing.T) {
			tok := loadFixture(t, name)
			ref := readJSONL[referenceLine](t, filepath.Join(fixtureDir, "reference", name+".jsonl"))
			if len(ref) != len(corpus) {
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
		})
	}
}
