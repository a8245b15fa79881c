package mockserver

import (
	"unicode"
	"unicode/utf8"
)

// Synthetic token words. Each token is one word preceded by a space, so a
// whitespace word count of the output equals its token count.
const (
	contentUnit   = " tok"
	reasoningUnit = " think"
)

// tokenSource hands out the text of successive output tokens. Synthetic
// tokens are slices of a precomputed repetition; echo and oracle tokens are
// the words of the answer, each with the whitespace before it (the last one
// also keeps the trailing whitespace), so the concatenation of all tokens is
// the answer itself.
type tokenSource struct {
	rep  string // synthetic: unit repeated TokensPerChunk times
	unit int    // synthetic: len(unit)
	text string // echo/oracle: the answer
	pos  int    // echo/oracle: bytes of text handed out
	left int    // echo/oracle: words of text not handed out
}

func syntheticTokens(rep string, unit int) tokenSource {
	return tokenSource{rep: rep, unit: unit}
}

func textTokens(text string) tokenSource {
	return tokenSource{text: text, left: countWords(text)}
}

// escape reports whether the tokens' text may need JSON escaping.
func (t *tokenSource) escape() bool { return t.rep == "" }

// take returns the text of the next k tokens; k never exceeds
// TokensPerChunk (synthetic) or the words left (text).
func (t *tokenSource) take(k int) string {
	if t.rep != "" {
		return t.rep[:k*t.unit]
	}
	start, i := t.pos, t.pos
	for range k {
		for i < len(t.text) {
			r, size := utf8.DecodeRuneInString(t.text[i:])
			if !unicode.IsSpace(r) {
				break
			}
			i += size
		}
		for i < len(t.text) {
			r, size := utf8.DecodeRuneInString(t.text[i:])
			if unicode.IsSpace(r) {
				break
			}
			i += size
		}
	}
	t.left -= k
	if t.left <= 0 {
		i = len(t.text)
	}
	t.pos = i
	return t.text[start:i]
}
