package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// scanner is a hand-written equivalent of one split regex. It returns the
// end of the match that the regex (leftmost-first alternation with
// backtracking, as Oniguruma runs it) finds starting exactly at i, or i when
// no match starts there. s[len(s):] is the end of the piece, which is what
// `(?!\S)` looks ahead to.
type scanner func(s string, i int) int

// The split patterns recognised, keyed by their exact text in tokenizer.json.
// Spellings that differ only in the order of non-overlapping alternatives
// are listed as aliases of the same scanner.
var knownPatterns = map[string]patternInfo{
	// GPT-2, RoBERTa, and the ByteLevel pre-tokenizer's use_regex.
	`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`: {scanGPT2, true},
	// Llama-3.x, cl100k.
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`: {scanCL100K, true},
	// Qwen2, Qwen2.5, Qwen3.
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`: {scanQwen2, true},
	// o200k (GPT-4o style).
	`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`: {scanO200K, true},
	// DeepSeek-V3 splits digits and CJK runs in their own Split steps.
	`\p{N}{1,3}`:        {scanDigits3, false},
	"[一-龥\u3040-ゟ゠-ヿ]+": {scanDeepSeekCJK, false},
	"[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+": {scanDeepSeek, false},
	`[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_` + "`" + `{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`:        {scanDeepSeek, false},
}

// patternInfo is a known pattern's scanner; total says that the pattern
// matches at every position of every string (so it leaves no gaps).
type patternInfo struct {
	scan  scanner
	total bool
}

const (
	clsLetter = 1 << iota
	clsNumber
	clsSpace
)

// asciiClass caches the three Unicode classes the patterns test for ASCII.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		if unicode.IsLetter(r) {
			t[r] |= clsLetter
		}
		if unicode.IsNumber(r) {
			t[r] |= clsNumber
		}
		if unicode.IsSpace(r) {
			t[r] |= clsSpace
		}
	}
	return t
}()

// runeAt decodes the rune at s[i]. Invalid UTF-8 decodes as one byte of
// RuneError, which every class below treats as "other".
func runeAt(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r]&clsLetter != 0
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r]&clsNumber != 0
	}
	return unicode.IsNumber(r)
}

// isSpace is \s: Unicode White_Space, the same set in Oniguruma and Go.
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r]&clsSpace != 0
	}
	return unicode.IsSpace(r)
}

func isLN(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r]&(clsLetter|clsNumber) != 0
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// isOther is [^\s\p{L}\p{N}].
func isOther(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r] == 0
	}
	return !unicode.IsLetter(r) && !unicode.IsNumber(r) && !unicode.IsSpace(r)
}

// letterRun returns the end of the \p{L}* run starting at i.
func letterRun(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiClass[c]&clsLetter == 0 {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsLetter(r) {
			return i
		}
		i += n
	}
	return i
}

func runWhile(s string, i int, f func(rune) bool) int {
	for i < len(s) {
		r, n := runeAt(s, i)
		if !f(r) {
			return i
		}
		i += n
	}
	return i
}

// contraction matches 's|'t|'re|'ve|'m|'ll|'d at s[i] (which must be the
// apostrophe) and returns its length, or 0. With fold, letters match
// case-insensitively under Unicode simple case folding, where 's' also
// matches U+017F LATIN SMALL LETTER LONG S.
func contraction(s string, i int, fold bool) int {
	if i+1 >= len(s) || s[i] != '\'' {
		return 0
	}
	c := s[i+1]
	if fold {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		} else if c == 0xC5 && i+2 < len(s) && s[i+2] == 0xBF { // U+017F
			return 3
		}
	}
	switch c {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v', 'l':
		if i+2 >= len(s) {
			return 0
		}
		d := s[i+2]
		if fold && d >= 'A' && d <= 'Z' {
			d += 'a' - 'A'
		}
		if (c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l') {
			return 3
		}
	}
	return 0
}

// whitespaceTail implements the common tail `\s*[\r\n]+|\s+(?!\S)|\s+` (or,
// with crlf false, `\s+(?!\S)|\s+`) at a whitespace rune s[i].
func whitespaceTail(s string, i int, crlf bool) int {
	end, lastNL, lastStart := i, -1, i
	for end < len(s) {
		r, n := runeAt(s, end)
		if !isSpace(r) {
			break
		}
		if r == '\r' || r == '\n' {
			lastNL = end
		}
		lastStart = end
		end += n
	}
	if crlf && lastNL >= 0 {
		// \s* backs off to the last CR/LF, which [\r\n]+ then takes.
		return lastNL + 1
	}
	if end == len(s) || lastStart == i {
		return end
	}
	// \s+(?!\S) gives back the last space so that it joins the next word.
	return lastStart
}

func scanCL100K(s string, i int) int { return scanCLFamily(s, i, 3) }
func scanQwen2(s string, i int) int  { return scanCLFamily(s, i, 1) }

// scanCLFamily is
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}|
// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func scanCLFamily(s string, i, maxDigits int) int {
	if i >= len(s) {
		return i
	}
	if s[i] == '\'' {
		if n := contraction(s, i, true); n > 0 {
			return i + n
		}
	}
	r, size := runeAt(s, i)
	if isLetter(r) {
		return letterRun(s, i+size)
	}
	if r != '\r' && r != '\n' && !isNumber(r) && i+size < len(s) {
		if r2, _ := runeAt(s, i+size); isLetter(r2) {
			return letterRun(s, i+size)
		}
	}
	if isNumber(r) {
		j := i + size
		for k := 1; k < maxDigits && j < len(s); k++ {
			r2, n := runeAt(s, j)
			if !isNumber(r2) {
				break
			}
			j += n
		}
		return j
	}
	j := i
	if r == ' ' {
		j++
	}
	k := j
	for k < len(s) {
		r2, n := runeAt(s, k)
		if !isOther(r2) {
			break
		}
		k += n
	}
	if k > j {
		for k < len(s) && (s[k] == '\r' || s[k] == '\n') {
			k++
		}
		return k
	}
	return whitespaceTail(s, i, true)
}

// scanGPT2 is 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func scanGPT2(s string, i int) int {
	if i >= len(s) {
		return i
	}
	if s[i] == '\'' {
		if n := contraction(s, i, false); n > 0 {
			return i + n
		}
	}
	j := i
	if s[i] == ' ' {
		j++
	}
	if j < len(s) {
		r, _ := runeAt(s, j)
		switch {
		case isLetter(r):
			return letterRun(s, j)
		case isNumber(r):
			return runWhile(s, j, isNumber)
		case isOther(r):
			return runWhile(s, j, isOther)
		}
	}
	return whitespaceTail(s, i, false)
}

func isO200KUpper(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo, unicode.M)
}

func isO200KLower(r rune) bool {
	return unicode.In(r, unicode.Ll, unicode.Lm, unicode.Lo, unicode.M)
}

// upperStarLowerPlus matches [U]*[W]+ at p with backtracking and returns the
// end, or -1.
func upperStarLowerPlus(s string, p int) int {
	j, lastLowerEnd := p, -1
	for j < len(s) {
		r, n := runeAt(s, j)
		if !isO200KUpper(r) {
			break
		}
		if isO200KLower(r) {
			lastLowerEnd = j + n
		}
		j += n
	}
	if j < len(s) {
		if r, _ := runeAt(s, j); isO200KLower(r) {
			return runWhile(s, j, isO200KLower)
		}
	}
	// Backtrack: [U]* gives back up to the last rune that [W]+ can take,
	// and the rune after that one is an upper-only rune, so [W]+ stops.
	return lastLowerEnd
}

func upperPlusLowerStar(s string, p int) int {
	j := runWhile(s, p, isO200KUpper)
	if j == p {
		return -1
	}
	return runWhile(s, j, isO200KLower)
}

func withContraction(s string, e int) int {
	if e < len(s) && s[e] == '\'' {
		return e + contraction(s, e, true)
	}
	return e
}

// scanO200K is the o200k pattern (see knownPatterns).
func scanO200K(s string, i int) int {
	if i >= len(s) {
		return i
	}
	r, size := runeAt(s, i)
	prefix := r != '\r' && r != '\n' && !isLN(r)
	for _, f := range [2]func(string, int) int{upperStarLowerPlus, upperPlusLowerStar} {
		if prefix {
			if e := f(s, i+size); e >= 0 {
				return withContraction(s, e)
			}
		}
		if e := f(s, i); e >= 0 {
			return withContraction(s, e)
		}
	}
	if isNumber(r) {
		return scanDigits3(s, i)
	}
	j := i
	if r == ' ' {
		j++
	}
	k := runWhile(s, j, isOther)
	if k > j {
		for k < len(s) && (s[k] == '\r' || s[k] == '\n' || s[k] == '/') {
			k++
		}
		return k
	}
	return whitespaceTail(s, i, true)
}

// scanDigits3 is \p{N}{1,3}.
func scanDigits3(s string, i int) int {
	j := i
	for k := 0; k < 3 && j < len(s); k++ {
		r, n := runeAt(s, j)
		if !isNumber(r) {
			break
		}
		j += n
	}
	return j
}

func isDeepSeekCJK(r rune) bool {
	return (r >= '一' && r <= '龥') || (r >= '\u3040' && r <= 'ゟ') || (r >= '゠' && r <= 'ヿ')
}

// scanDeepSeekCJK is [一-龥぀-ゟ゠-ヿ]+.
func scanDeepSeekCJK(s string, i int) int {
	return runWhile(s, i, isDeepSeekCJK)
}

func isASCIIPunct(c byte) bool {
	return c < utf8.RuneSelf && (c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~')
}

func isASCIILetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isPS(r rune) bool { return unicode.In(r, unicode.P, unicode.S) }

func isLM(r rune) bool { return isLetter(r) || unicode.Is(unicode.M, r) }

// scanDeepSeek is DeepSeek-V3's main pattern:
// [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
// ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func scanDeepSeek(s string, i int) int {
	if i >= len(s) {
		return i
	}
	if isASCIIPunct(s[i]) && i+1 < len(s) && isASCIILetter(s[i+1]) {
		j := i + 1
		for j < len(s) && isASCIILetter(s[j]) {
			j++
		}
		return j
	}
	r, size := runeAt(s, i)
	if r != '\r' && r != '\n' && !isLetter(r) && !isPS(r) && i+size < len(s) {
		if r2, _ := runeAt(s, i+size); isLM(r2) {
			return runWhile(s, i+size, isLM)
		}
	}
	if isLM(r) {
		return runWhile(s, i, isLM)
	}
	j := i
	if r == ' ' {
		j++
	}
	k := runWhile(s, j, isPS)
	if k > j {
		for k < len(s) && (s[k] == '\r' || s[k] == '\n') {
			k++
		}
		return k
	}
	if isSpace(r) {
		return whitespaceTail(s, i, true)
	}
	return i
}
