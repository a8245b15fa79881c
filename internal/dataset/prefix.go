package dataset

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Shared-prefix synthetic prompts (SyntheticConfig.SharedPrefixLen and
// NumPrefixes), for servers with prefix caching: every prompt is
//
//	PREFIX + " " + SUFFIX
//
// where PREFIX is one of NumPrefixes fixed, distinct texts of
// SharedPrefixLen tokens (drawn from the seed, on a stream of their own), and
// SUFFIX the prompt's own random words up to its drawn input length.
// Prompt i takes prefix i mod NumPrefixes (round robin: every prefix is
// used equally, and a run issuing prompts in any order still spreads over
// all of them). Prompts with the same prefix share its bytes exactly.
//
// Lengths are in words of the one-token vocabulary; with a Counter they are
// exact in the counter's tokens: the prefix alone is SharedPrefixLen tokens,
// and the whole prompt its drawn length (the suffix gives or takes words
// until the count is right).

// maxFitTries bounds how often a prompt's length is corrected against the
// tokenizer; with the one-token vocabulary the first count is right.
const maxFitTries = 32

// prefix is one shared prefix and its length in tokens.
type prefix struct {
	text   string
	tokens int
}

// minLen is the shortest length d can draw.
func (d Dist) minLen() int {
	switch d.Kind {
	case DistFixed:
		return d.Value
	case DistUniform:
		return d.Min
	}
	return max(d.Min, 1)
}

func (cfg SyntheticConfig) validatePrefix() error {
	bad := func(format string, args ...any) error {
		return newError("synthetic", "", 0, ErrConfig, nil, format, args...)
	}
	p, n := cfg.SharedPrefixLen, cfg.NumPrefixes
	switch {
	case p < 0:
		return bad("shared_prefix_len %d: want a number of tokens >= 1 (0: no shared prefix)", p)
	case n < 0:
		return bad("num_prefixes %d: want at least 1", n)
	case p == 0 && n > 0:
		return bad("num_prefixes %d: needs shared_prefix_len (--shared-prefix-len)", n)
	case p > 0 && p >= cfg.Input.minLen():
		return bad("shared_prefix_len %d: must be below the shortest input length, %d (input %s)", p, cfg.Input.minLen(), cfg.Input)
	}
	return nil
}

// makePrefixes draws the distinct shared prefixes; nil without any.
func makePrefixes(cfg SyntheticConfig) ([]prefix, error) {
	if cfg.SharedPrefixLen == 0 {
		return nil, nil
	}
	// Only the first N prefixes can be used by N prompts.
	k := min(max(cfg.NumPrefixes, 1), cfg.N)
	r := rand.New(rand.NewPCG(cfg.Seed, 0x94d049bb133111eb))
	out := make([]prefix, 0, k)
	seen := make(map[string]bool, k)
	for tries := 0; len(out) < k; tries++ {
		if tries > 64*k {
			return nil, newError("synthetic", "", 0, ErrConfig, nil,
				"num_prefixes %d: only %d distinct prefixes of %d tokens could be drawn: lengthen the prefix or use fewer",
				cfg.NumPrefixes, len(out), cfg.SharedPrefixLen)
		}
		text, err := fitWords(cfg.Counter, "", cfg.SharedPrefixLen, cfg.SharedPrefixLen, r)
		if err != nil {
			return nil, newError("synthetic", "", 0, ErrConfig, nil, "shared prefix: %v", err)
		}
		if seen[text] {
			continue
		}
		seen[text] = true
		out = append(out, prefix{text: text, tokens: cfg.SharedPrefixLen})
	}
	return out, nil
}

// fitWords returns head followed by random vocabulary words, words words to
// begin with; with a counter it then gives or takes words until the whole
// text is exactly target tokens.
func fitWords(c TokenCounter, head string, target, words int, r *rand.Rand) (string, error) {
	idx := drawWords(nil, r, max(words, 1))
	m := max(words, 1)
	var b strings.Builder
	render := func(m int) string {
		b.Reset()
		b.Grow(len(head) + m*6)
		b.WriteString(head)
		for w, i := range idx[:m] {
			if w > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(vocabulary[i])
		}
		return b.String()
	}
	text := render(m)
	if c == nil {
		return text, nil
	}
	tried := map[int]bool{}
	for range maxFitTries {
		got := c.Count(text)
		if got == target {
			return text, nil
		}
		tried[m] = true
		next := m + target - got
		if next < 1 {
			return "", fmt.Errorf("%d tokens already in the shared part, more than the %d wanted", got-m, target)
		}
		if next > len(idx) {
			idx = drawWords(idx, r, next-len(idx))
		}
		if tried[next] {
			// Going back and forth: a word of several tokens sits at the
			// end. Draw another last word.
			idx[next-1] = uint8(r.Uint64() & 63)
		}
		m = next
		text = render(m)
	}
	return "", fmt.Errorf("no text of exactly %d tokens after %d tries (last %d): the tokenizer does not count the vocabulary one token per word", target, maxFitTries, c.Count(text))
}

// drawWords appends n vocabulary indexes to dst, 6 bits of one draw each
// (ten words per draw, as the plain generator does).
func drawWords(dst []uint8, r *rand.Rand, n int) []uint8 {
	var bits uint64
	for w := range n {
		if w%10 == 0 {
			bits = r.Uint64()
		}
		dst = append(dst, uint8(bits&63))
		bits >>= 6
	}
	return dst
}
