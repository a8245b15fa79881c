package trace_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/inferbench/inferbench/internal/tokenizer"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
	"github.com/inferbench/inferbench/internal/trace"
)

// counter counts tokens as the run's ISL does: no special tokens.
type counter struct{ t *tokenizer.Tokenizer }

func (c counter) Count(s string) int { return c.t.Count(s, false) }

// TestSynthesizer_ExactInTokens synthesizes the prompts of the testdata
// Mooncake trace with each fixture tokenizer and counts every one: each has
// exactly the recorded input_length tokens. Without a tokenizer each has
// input_length words.
func TestSynthesizer_ExactInTokens(t *testing.T) {
	t.Parallel()
	tr, err := trace.Load("testdata/mooncake_500.jsonl", trace.Options{Limit: 40})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range tokenizertest.Names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tok, err := tokenizer.Parse(tokenizertest.JSON(t, name))
			if err != nil {
				t.Fatal(err)
			}
			syn, err := trace.NewSynthesizer(trace.SynthOptions{Tokenizer: counter{tok}, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			ds, err := syn.Dataset(tr)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range ds.Samples {
				if got, want := tok.Count(s.Prompt, false), tr.Requests[i].InputLen; got != want {
					t.Errorf("request %d (line %d): %d tokens, want %d", i, tr.Requests[i].Line, got, want)
				}
				if s.MaxTokens != tr.Requests[i].OutputLen {
					t.Errorf("request %d: max_tokens %d, want %d", i, s.MaxTokens, tr.Requests[i].OutputLen)
				}
			}
			// Servers cache prefixes by token blocks: two prompts sharing
			// k leading ids share their first k×512 token ids.
			shared := 0
			for i := range tr.Requests {
				for j := range i {
					k := commonIDs(tr.Requests[i].HashIDs, tr.Requests[j].HashIDs)
					n := min(k*trace.DefaultBlockSize, tr.Requests[i].InputLen, tr.Requests[j].InputLen)
					if k == 0 || shared > 20 {
						continue
					}
					shared++
					a, b := tok.Encode(ds.Samples[i].Prompt, false), tok.Encode(ds.Samples[j].Prompt, false)
					if !slices.Equal(a[:n], b[:n]) {
						t.Errorf("requests %d and %d share %d blocks but not their first %d token ids", i, j, k, n)
					}
				}
			}
			if shared == 0 {
				t.Error("no requests share blocks")
			}
		})
	}
	syn, err := trace.NewSynthesizer(trace.SynthOptions{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range tr.Requests {
		if got := len(strings.Fields(syn.Prompt(&tr.Requests[i], i))); got != tr.Requests[i].InputLen {
			t.Errorf("no tokenizer, request %d: %d words, want %d", i, got, tr.Requests[i].InputLen)
		}
	}
}

// TestSynthesizer_SharedBlocks checks the prefix sharing: requests naming
// the same leading blocks start with the same bytes, up to the end of the
// last shared block, and differ in the next block; a partial last block is
// the start of the full block of the same id; text without ids is the
// row's own; the seed changes every text.
func TestSynthesizer_SharedBlocks(t *testing.T) {
	t.Parallel()
	const bs = 8
	syn, err := trace.NewSynthesizer(trace.SynthOptions{Seed: 1, BlockSize: bs})
	if err != nil {
		t.Fatal(err)
	}
	reqs := []trace.Request{
		{InputLen: 3 * bs, HashIDs: []int64{10, 11, 12}},
		{InputLen: 3 * bs, HashIDs: []int64{10, 11, 13}},
		{InputLen: 2*bs + 3, HashIDs: []int64{10, 11, 12}},
		{InputLen: 2 * bs},
		{InputLen: 2 * bs},
		{InputLen: 3 * bs, HashIDs: []int64{10}},
	}
	words := make([][]string, len(reqs))
	prompts := make([]string, len(reqs))
	for i := range reqs {
		prompts[i] = syn.Prompt(&reqs[i], i)
		words[i] = strings.Fields(prompts[i])
		if len(words[i]) != reqs[i].InputLen {
			t.Fatalf("request %d: %d words, want %d", i, len(words[i]), reqs[i].InputLen)
		}
	}
	block := func(i, j int) string { return strings.Join(words[i][j*bs:min((j+1)*bs, len(words[i]))], " ") }
	prefix := func(i, blocks int) string { return strings.Join(words[i][:blocks*bs], " ") }
	if p := prefix(0, 2); !strings.HasPrefix(prompts[1], p) || !strings.HasPrefix(prompts[0], p) {
		t.Error("requests 0 and 1 share blocks 10, 11 but not the bytes of them")
	}
	if block(0, 2) == block(1, 2) {
		t.Error("blocks 12 and 13 have the same text")
	}
	if !strings.HasPrefix(prompts[0], prompts[2]) {
		t.Error("request 2 (blocks 10, 11 and 3 tokens of 12) is not a prefix of request 0")
	}
	if block(3, 0) == block(4, 0) || block(3, 0) == block(0, 0) {
		t.Error("rows without ids share text")
	}
	if !strings.HasPrefix(prompts[5], prefix(0, 1)+" ") || block(5, 1) == block(0, 1) {
		t.Error("request 5: block 10 then its own text expected")
	}
	other, err := trace.NewSynthesizer(trace.SynthOptions{Seed: 2, BlockSize: bs})
	if err != nil {
		t.Fatal(err)
	}
	if other.Prompt(&reqs[0], 0) == prompts[0] {
		t.Error("the seed does not change the text")
	}
	again, _ := trace.NewSynthesizer(trace.SynthOptions{Seed: 1, BlockSize: bs})
	if again.Prompt(&reqs[1], 7) != prompts[1] {
		t.Error("the same seed and ids gave another text")
	}
}

// mergingCounter is a tokenizer under which "of" and "the" merge across the
// space, and "water" is two tokens.
type mergingCounter struct{}

func (mergingCounter) Count(s string) int {
	n := len(strings.Fields(s))
	n -= strings.Count(s, "of the")
	n += strings.Count(s, "water")
	return n
}

// TestSynthesizer_DropsMergingWords checks the word check: words that merge
// or split under the tokenizer are not used, so the counts stay exact.
func TestSynthesizer_DropsMergingWords(t *testing.T) {
	t.Parallel()
	syn, err := trace.NewSynthesizer(trace.SynthOptions{Tokenizer: mergingCounter{}, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if syn.Words() != 62 {
		t.Errorf("%d words kept, want 62 (64 without water and one of of/the)", syn.Words())
	}
	r := trace.Request{InputLen: 5000}
	if p := syn.Prompt(&r, 0); (mergingCounter{}).Count(p) != 5000 {
		t.Errorf("prompt of %d tokens, want 5000", (mergingCounter{}).Count(p))
	}
	if _, err := trace.NewSynthesizer(trace.SynthOptions{Tokenizer: constCounter(3)}); err == nil || !strings.Contains(err.Error(), "cannot make exact prompts") {
		t.Errorf("a tokenizer that splits every word: %v", err)
	}
}

type constCounter int

func (c constCounter) Count(string) int { return int(c) }

// TestSynthesizer_Bounded checks that a trace too large to synthesize at
// once is refused before any text is built.
func TestSynthesizer_Bounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range trace.MaxSynthTokens/trace.MaxTokens + 1 {
		fmt.Fprintf(&b, `{"timestamp": %d, "input_length": %d, "output_length": 1}`+"\n", i, trace.MaxTokens)
	}
	tr, err := trace.Load(write(t, "big.jsonl", b.String()), trace.Options{})
	if err != nil {
		t.Fatal(err)
	}
	syn, _ := trace.NewSynthesizer(trace.SynthOptions{})
	if _, err := syn.Dataset(tr); err == nil || !strings.Contains(err.Error(), "use a Feed") {
		t.Errorf("err %v, want one naming the Feed", err)
	}
}

// TestFeed_Samples checks that a Feed hands out the Synthesizer's prompts,
// in order from its goroutine and out of order from the caller, and still
// after Close.
func TestFeed_Samples(t *testing.T) {
	t.Parallel()
	tr, err := trace.Load("testdata/mooncake_500.jsonl", trace.Options{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	syn, _ := trace.NewSynthesizer(trace.SynthOptions{Seed: 9})
	want, err := syn.Dataset(tr)
	if err != nil {
		t.Fatal(err)
	}
	ds := syn.Samples(tr)
	for i, s := range ds.Samples {
		if s.Prompt != "" || s.MaxTokens != tr.Requests[i].OutputLen {
			t.Fatalf("Samples[%d] = %.20q, max_tokens %d: want no text yet, max_tokens %d", i, s.Prompt, s.MaxTokens, tr.Requests[i].OutputLen)
		}
	}
	f := syn.Feed(tr, ds, 1) // the least: minAhead prompts
	f.Wait()
	order := []int{7, 0, 1, 2, 30, 3, 4, 5}
	for i := 6; i < 100; i++ {
		order = append(order, i)
	}
	for n, i := range order {
		if n == 20 && !f.Close() {
			t.Error("first Close returned false")
		}
		if got := f.Sample(i); !cmp.Equal(got, want.Samples[i]) {
			t.Fatalf("Sample(%d) (call %d) differs from the Synthesizer's", i, n)
		}
	}
	if f.Close() {
		t.Error("second Close returned true")
	}
}

// commonIDs is the length of the common prefix of two id lists.
func commonIDs(a, b []int64) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
