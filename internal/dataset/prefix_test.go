package dataset_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/tokenizer"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

// counter counts without special tokens, as ISL does.
type counter struct{ t *tokenizer.Tokenizer }

func (c counter) Count(s string) int { return c.t.Count(s, false) }

// unevenCounter counts "people" and "water" as two tokens each: a tokenizer
// that does not count the vocabulary one token per word, so that the
// generator must correct lengths.
type unevenCounter struct{}

func (unevenCounter) Count(s string) int {
	n := 0
	for _, w := range strings.Fields(s) {
		n++
		if w == "people" || w == "water" {
			n++
		}
	}
	return n
}

// TestSynthetic_SharedPrefix generates shared-prefix prompts with the
// repository's real tokenizers (and one that counts some words as two
// tokens): every prompt is exactly its requested length in that
// tokenizer's tokens; prompts with the same prefix id (i mod N) start with
// byte-identical text of exactly the prefix length in tokens; distinct
// prefixes differ.
func TestSynthetic_SharedPrefix(t *testing.T) {
	t.Parallel()
	counters := map[string]dataset.TokenCounter{"uneven": unevenCounter{}}
	for _, name := range tokenizertest.Names {
		tok, err := tokenizer.Parse(tokenizertest.JSON(t, name))
		if err != nil {
			t.Fatal(err)
		}
		counters[name] = counter{tok}
	}
	for name, c := range counters {
		for _, isl := range []int{48, 200} {
			const plen, nPrefix, n = 32, 3, 30
			cfg := dataset.SyntheticConfig{N: n, Input: dataset.Dist{Kind: dataset.DistFixed, Value: isl},
				Output: dataset.Dist{Kind: dataset.DistFixed, Value: 8}, Seed: 3,
				SharedPrefixLen: plen, NumPrefixes: nPrefix, Counter: c}
			ds, err := dataset.Synthetic(cfg)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			prefixes := make([]string, nPrefix)
			for i, s := range ds.Samples {
				if got := c.Count(s.Prompt); got != isl {
					t.Errorf("%s: prompt %d is %d tokens, want %d", name, i, got, isl)
				}
				// The prefix is the shortest leading run of whole words of
				// plen tokens.
				words := strings.Fields(s.Prompt)
				var p string
				for k := 1; k <= len(words); k++ {
					if cand := strings.Join(words[:k], " "); c.Count(cand) >= plen {
						p = cand
						break
					}
				}
				if c.Count(p) != plen {
					t.Errorf("%s: prompt %d: no leading text of exactly %d tokens", name, i, plen)
				}
				switch id := i % nPrefix; {
				case prefixes[id] == "":
					prefixes[id] = p
				case !strings.HasPrefix(s.Prompt, prefixes[id]+" "):
					t.Errorf("%s: prompt %d does not start with prefix %d %q", name, i, id, prefixes[id])
				}
			}
			for a := range prefixes {
				for b := range a {
					if prefixes[a] == prefixes[b] {
						t.Errorf("%s: prefixes %d and %d are the same", name, a, b)
					}
				}
			}
			// Same seed, same prompts.
			again, _ := dataset.Synthetic(cfg)
			for i := range again.Samples {
				if again.Samples[i].Prompt != ds.Samples[i].Prompt {
					t.Fatalf("%s: prompt %d differs for the same seed", name, i)
				}
			}
		}
	}
}

// TestSynthetic_CounterKeepsPlainPrompts checks that a tokenizer that
// counts the vocabulary one token per word leaves plain synthetic prompts
// as they were, and that every prompt is then its exact length.
func TestSynthetic_CounterKeepsPlainPrompts(t *testing.T) {
	t.Parallel()
	tok, err := tokenizer.Parse(tokenizertest.JSON(t, "qwen3"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := dataset.SyntheticConfig{N: 50, Input: dataset.Dist{Kind: dataset.DistUniform, Min: 5, Max: 300},
		Output: dataset.Dist{Kind: dataset.DistFixed, Value: 8}, Seed: 9}
	plain, err := dataset.Synthetic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Counter = counter{tok}
	exact, err := dataset.Synthetic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range plain.Samples {
		if plain.Samples[i].Prompt != exact.Samples[i].Prompt {
			t.Fatalf("prompt %d changed with a one-token-per-word tokenizer", i)
		}
	}
	// A tokenizer that needs corrections: every prompt still has its
	// length (corrections draw more words, so later prompts differ from the
	// plain ones: a fixed length keeps the expectation known).
	cfg.Counter, cfg.Input = unevenCounter{}, dataset.Dist{Kind: dataset.DistFixed, Value: 77}
	uneven, err := dataset.Synthetic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := range uneven.Samples {
		var uc unevenCounter
		if got := uc.Count(uneven.Samples[i].Prompt); got != 77 {
			t.Errorf("prompt %d: %d tokens, want 77", i, got)
		}
	}
}

func TestSynthetic_SharedPrefixErrors(t *testing.T) {
	t.Parallel()
	in := dataset.Dist{Kind: dataset.DistUniform, Min: 64, Max: 128}
	out := dataset.Dist{Kind: dataset.DistFixed, Value: 8}
	for _, tc := range []struct {
		name     string
		plen, np int
		in       dataset.Dist
		want     string
	}{
		{"prefix as long as the input", 64, 2, in, "shared_prefix_len 64: must be below the shortest input length, 64 (input uniform:64:128)"},
		{"prefix longer than fixed input", 200, 1, dataset.Dist{Kind: dataset.DistFixed, Value: 128}, "shared_prefix_len 200"},
		{"normal input without a minimum", 8, 1, dataset.Dist{Kind: dataset.DistNormal, Mean: 100, StdDev: 10}, "shortest input length, 1"},
		{"negative prefix", -1, 1, in, "shared_prefix_len -1"},
		{"negative prefixes", 8, -2, in, "num_prefixes -2"},
		{"prefixes without a length", 0, 4, in, "num_prefixes 4: needs shared_prefix_len"},
		{"too many one-word prefixes", 1, 100, in, "num_prefixes 100: only 64 distinct prefixes"},
	} {
		cfg := dataset.SyntheticConfig{N: 200, Input: tc.in, Output: out, SharedPrefixLen: tc.plen, NumPrefixes: tc.np}
		_, err := dataset.Synthetic(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, dataset.ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig naming %q", tc.name, err, tc.want)
		}
	}
}
