package trace

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/inferbench/inferbench/internal/dataset"
)

// DefaultBlockSize is the tokens per hash_id block of Mooncake traces.
const DefaultBlockSize = 512

// MaxSynthTokens bounds the prompt tokens [Synthesizer.Dataset] builds at
// once (about 5.5 bytes a token); a replay builds them as it goes.
const MaxSynthTokens = 64 << 20

// TokenCounter counts the tokens of a text without special tokens, as the
// run's ISL does. *tokenizer.Tokenizer wrapped by the CLI is one.
type TokenCounter = dataset.TokenCounter

// units are the words prompts are made of: the synthetic dataset's
// one-token vocabulary, so both make prompts of the same words.
var units = dataset.Vocabulary()

// minUnits is the fewest words the tokenizer check may leave: fewer would
// make blocks too alike to tell apart.
const minUnits = 16

// SynthOptions configure a [Synthesizer].
type SynthOptions struct {
	// Tokenizer, when set, makes prompts exact in tokens; without it a word
	// counts as a token, which holds for the common BPE vocabularies.
	Tokenizer TokenCounter
	// Seed makes the text: the same seed and block id give the same text.
	Seed uint64
	// BlockSize is the tokens per hash_id block; 0 means DefaultBlockSize.
	BlockSize int
}

// Synthesizer builds prompts of recorded lengths.
//
// A prompt is words separated by single spaces, one token each. Its
// recorded length is cut into blocks of BlockSize tokens; block j is the
// text of hash id HashIDs[j] (its first tokens when the block is the last,
// partial one) or, past the ids, text unique to the row. A block's text is a
// function of the seed and the id alone, so requests that share a block id
// at the same position send byte-identical text for it, and a shared prefix
// of ids is a shared prefix of bytes.
//
// Exactness: BPE merges across a boundary could make the count of a
// concatenation differ from the sum of its parts. With a tokenizer the
// Synthesizer keeps only the words that are one token on their own and
// whose every ordered pair "a b" is two tokens, so no merge crosses a space
// and a prompt of n words is n tokens; [Synthesizer.Check] then counts a
// sample of the prompts.
//
// A Synthesizer is safe for concurrent use.
type Synthesizer struct {
	words []string
	table [64]string // words[k % len(words)]: a word per 6 random bits
	tok   TokenCounter
	seed  uint64
	block int
}

// NewSynthesizer checks the words against opts.Tokenizer, if any.
func NewSynthesizer(opts SynthOptions) (*Synthesizer, error) {
	s := &Synthesizer{tok: opts.Tokenizer, seed: opts.Seed, block: opts.BlockSize}
	if s.block == 0 {
		s.block = DefaultBlockSize
	}
	if s.block < 1 || s.block > MaxTokens {
		return nil, fmt.Errorf("trace: block size %d: want 1 to %d tokens", s.block, MaxTokens)
	}
	s.words = units
	if s.tok != nil {
		s.words = singleTokenWords(s.tok, units)
		if len(s.words) < minUnits {
			return nil, fmt.Errorf("trace: the tokenizer keeps only %d of %d one-token words apart (want %d): it cannot make exact prompts", len(s.words), len(units), minUnits)
		}
	}
	for k := range s.table {
		s.table[k] = s.words[k%len(s.words)]
	}
	return s, nil
}

// singleTokenWords keeps the words that are one token alone and two in any
// ordered pair, dropping the word in most failing pairs until none fails.
func singleTokenWords(tok TokenCounter, cand []string) []string {
	var words []string
	for _, w := range cand {
		if tok.Count(w) == 1 {
			words = append(words, w)
		}
	}
	for {
		fails := make([]int, len(words))
		worst, any := 0, false
		for i, a := range words {
			for j, b := range words {
				if tok.Count(a+" "+b) != 2 {
					fails[i]++
					fails[j]++
					any = true
				}
			}
		}
		if !any {
			return words
		}
		for i := range fails {
			if fails[i] > fails[worst] {
				worst = i
			}
		}
		words = append(words[:worst:worst], words[worst+1:]...)
	}
}

// Words is how many distinct words the prompts use.
func (s *Synthesizer) Words() int { return len(s.words) }

// Prompt returns the prompt of r, the row-th request of its trace (row
// seeds the text of blocks without an id). A recorded prompt is returned as
// it is.
func (s *Synthesizer) Prompt(r *Request, row int) string {
	if r.Prompt != "" {
		return r.Prompt
	}
	var b strings.Builder
	b.Grow(r.InputLen * 6)
	var rng rand.PCG
	for j, done := 0, 0; done < r.InputLen; j++ {
		n := min(s.block, r.InputLen-done)
		if j < len(r.HashIDs) {
			rng.Seed(s.seed, uint64(r.HashIDs[j])*0x9e3779b97f4a7c15+0x632be59bd9b4e019)
		} else {
			rng.Seed(s.seed^0xbf58476d1ce4e5b9, uint64(row)<<24|uint64(j))
		}
		// Ten words per draw, six bits each.
		var bits uint64
		for w := range n {
			if w%10 == 0 {
				bits = rng.Uint64()
			}
			if done > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s.table[bits&63])
			bits >>= 6
			done++
		}
	}
	return b.String()
}

// The tokenizer check of [Synthesizer.Check] counts the first checkFirst
// prompts and then every checkEvery-th, up to checkBudget tokens in all.
const (
	checkFirst  = 64
	checkEvery  = 16
	checkBudget = 8 << 20
)

// Samples returns one sample per request of t, in replay order: MaxTokens
// the recorded output length, a recorded prompt as it is, and no
// synthesized text: a [Feed] adds it when the request is due.
func (s *Synthesizer) Samples(t *Trace) *dataset.Dataset {
	ds := &dataset.Dataset{Name: "trace " + t.Path, Samples: make([]dataset.Sample, len(t.Requests))}
	for i, r := range t.Requests {
		ds.Samples[i] = dataset.Sample{Prompt: r.Prompt, System: r.System, MaxTokens: r.OutputLen}
	}
	return ds
}

// Check counts, with the tokenizer, the tokens of a sample of the prompts
// it synthesizes (the first ones and every checkEvery-th, within a budget),
// so that a tokenizer the word check missed fails before the run rather
// than skewing ISL. Without a tokenizer it does nothing.
func (s *Synthesizer) Check(t *Trace) error {
	if s.tok == nil {
		return nil
	}
	spent := 0
	for i := range t.Requests {
		r := &t.Requests[i]
		if r.Prompt != "" || (i >= checkFirst && i%checkEvery != 0) {
			continue
		}
		if spent += r.InputLen; spent > checkBudget && i >= checkFirst {
			return nil
		}
		if got := s.tok.Count(s.Prompt(r, i)); got != r.InputLen {
			return errorf(t.Path, r.Line, ErrValue, "the synthesized prompt has %d tokens, not the recorded %d: this tokenizer defeats exact prompts", got, r.InputLen)
		}
	}
	return nil
}

// Dataset is [Synthesizer.Samples] with every prompt built at once, after
// [Synthesizer.Check]: for small traces (at most MaxSynthTokens prompt
// tokens); a replay uses a [Feed].
func (s *Synthesizer) Dataset(t *Trace) (*dataset.Dataset, error) {
	total := 0
	for _, r := range t.Requests {
		if r.Prompt == "" {
			total += r.InputLen
		}
	}
	if total > MaxSynthTokens {
		return nil, errorf(t.Path, 0, ErrValue, "%d prompt tokens to synthesize at once, more than %d: use a Feed", total, MaxSynthTokens)
	}
	if err := s.Check(t); err != nil {
		return nil, err
	}
	ds := s.Samples(t)
	for i := range ds.Samples {
		if ds.Samples[i].Prompt == "" {
			ds.Samples[i].Prompt = s.Prompt(&t.Requests[i], i)
		}
	}
	return ds, nil
}
