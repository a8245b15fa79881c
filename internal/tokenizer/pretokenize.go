package tokenizer

import (
	"strings"
	"unicode"
)

// piece is a part of a normalized segment on its way to the model. first
// says whether it starts at the beginning of the original input, which
// Metaspace's prepend_scheme "first" depends on.
type piece struct {
	s     string
	first bool
}

// preTokenizer is one step of the tokenizer.json "pre_tokenizer".
type preTokenizer interface {
	// split appends the non-empty pieces p splits into to dst.
	split(dst []piece, p piece) []piece
}

// preChain runs its steps in order, each on every piece the previous step
// produced (the Rust Sequence semantics).
type preChain struct {
	steps []preTokenizer
}

func (c *preChain) run(dst []piece, p piece, tmp []piece) ([]piece, []piece) {
	dst = append(dst[:0], p)
	for _, st := range c.steps {
		tmp = tmp[:0]
		for _, q := range dst {
			tmp = st.split(tmp, q)
		}
		dst, tmp = tmp, dst
	}
	return dst, tmp
}

// fastScanner returns the scanner when the whole chain is one Isolated split
// whose pattern matches at every position, so the encoder can walk the
// matches without building piece lists.
func (c *preChain) fastScanner() scanner {
	if c == nil || len(c.steps) != 1 {
		return nil
	}
	if sp, ok := c.steps[0].(*splitPre); ok && sp.total && sp.behavior == behIsolated && !sp.invert {
		return sp.scan
	}
	return nil
}

type behavior int

const (
	behRemoved behavior = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

var behaviors = map[string]behavior{
	"Removed":            behRemoved,
	"Isolated":           behIsolated,
	"MergedWithPrevious": behMergedWithPrevious,
	"MergedWithNext":     behMergedWithNext,
	"Contiguous":         behContiguous,
}

// splitPre is the Split pre-tokenizer (and the splitting part of
// ByteLevel, Digits, Metaspace and WhitespaceSplit).
type splitPre struct {
	scan     scanner
	total    bool // scan matches at every position of every string
	behavior behavior
	invert   bool
}

type span struct {
	start, end int
	match      bool
}

func (sp *splitPre) split(dst []piece, p piece) []piece {
	s := p.s
	var buf [32]span
	spans := buf[:0]
	gap := 0
	for i := 0; i < len(s); {
		e := sp.scan(s, i)
		if e <= i {
			_, n := runeAt(s, i)
			i += n
			continue
		}
		if gap < i {
			spans = append(spans, span{gap, i, false})
		}
		spans = append(spans, span{i, e, true})
		i, gap = e, e
	}
	if gap < len(s) {
		spans = append(spans, span{gap, len(s), false})
	}
	if sp.invert {
		for k := range spans {
			spans[k].match = !spans[k].match
		}
	}
	emit := func(a, b int) {
		if a < b {
			dst = append(dst, piece{s[a:b], p.first && a == 0})
		}
	}
	switch sp.behavior {
	case behRemoved:
		for _, x := range spans {
			if !x.match {
				emit(x.start, x.end)
			}
		}
	case behIsolated:
		for _, x := range spans {
			emit(x.start, x.end)
		}
	case behMergedWithPrevious:
		start := 0
		for _, x := range spans {
			if x.match {
				emit(start, x.end)
				start = x.end
			}
		}
		emit(start, len(s))
	case behMergedWithNext:
		start := 0
		for _, x := range spans {
			if x.match {
				emit(start, x.start)
				start = x.start
			}
		}
		emit(start, len(s))
	case behContiguous:
		start, inMatch := 0, false
		for _, x := range spans {
			if x.match != inMatch {
				emit(start, x.start)
				start, inMatch = x.start, x.match
			}
		}
		emit(start, len(s))
	}
	return dst
}

// prefixSpacePre is ByteLevel's add_prefix_space.
type prefixSpacePre struct{}

func (prefixSpacePre) split(dst []piece, p piece) []piece {
	if !strings.HasPrefix(p.s, " ") {
		p.s = " " + p.s
	}
	return append(dst, p)
}

type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

// metaspacePre is the Metaspace pre-tokenizer: spaces become the
// replacement, which is prepended according to the scheme, and the piece is
// split before each replacement.
type metaspacePre struct {
	repl     string
	scheme   prependScheme
	splitter *splitPre
}

func (m *metaspacePre) split(dst []piece, p piece) []piece {
	s := strings.ReplaceAll(p.s, " ", m.repl)
	if !strings.HasPrefix(s, m.repl) &&
		(m.scheme == prependAlways || (m.scheme == prependFirst && p.first)) {
		s = m.repl + s
	}
	if s == "" {
		return dst
	}
	if m.splitter == nil {
		return append(dst, piece{s, p.first})
	}
	return m.splitter.split(dst, piece{s, p.first})
}

func literalScanner(lit string) scanner {
	return func(s string, i int) int {
		if strings.HasPrefix(s[i:], lit) {
			return i + len(lit)
		}
		return i
	}
}

func scanOneDigit(s string, i int) int {
	if r, n := runeAt(s, i); unicode.IsNumber(r) {
		return i + n
	}
	return i
}

func scanSpaceRun(s string, i int) int { return runWhile(s, i, unicode.IsSpace) }

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.M, r) ||
		unicode.Is(unicode.Pc, r) || r == '\u200c' || r == '\u200d'
}

// scanWhitespacePre is the Whitespace pre-tokenizer's \w+|[^\w\s]+.
func scanWhitespacePre(s string, i int) int {
	if j := runWhile(s, i, isWordRune); j > i {
		return j
	}
	return runWhile(s, i, func(r rune) bool { return !isWordRune(r) && !unicode.IsSpace(r) })
}

// buildPreTokenizer returns the chain and whether it contains ByteLevel,
// which switches the model to byte-level mode.
func buildPreTokenizer(c *componentJSON) (*preChain, bool, error) {
	chain := &preChain{}
	byteLevel, err := addPre(chain, c)
	if err != nil {
		return nil, false, err
	}
	return chain, byteLevel, nil
}

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func addPre(chain *preChain, c *componentJSON) (bool, error) {
	if c == nil {
		return false, nil
	}
	switch c.Type {
	case "Sequence":
		byteLevel := false
		for _, child := range c.Pretokenizers {
			bl, err := addPre(chain, child)
			if err != nil {
				return false, err
			}
			byteLevel = byteLevel || bl
		}
		return byteLevel, nil
	case "Split":
		beh, ok := behaviors[c.Behavior]
		if !ok {
			return false, unsupported("pre-tokenizer Split behavior", c.Behavior)
		}
		sp := &splitPre{behavior: beh, invert: c.Invert}
		switch {
		case c.Pattern != nil && c.Pattern.String != nil && *c.Pattern.String != "":
			sp.scan = literalScanner(*c.Pattern.String)
		case c.Pattern != nil && c.Pattern.Regex != nil:
			info := knownPatterns[*c.Pattern.Regex]
			sp.scan, sp.total = info.scan, info.total
		}
		if sp.scan == nil {
			return false, unsupported("pre-tokenizer Split pattern", c.Pattern.describe())
		}
		chain.steps = append(chain.steps, sp)
		return false, nil
	case "ByteLevel":
		if boolOr(c.AddPrefixSpace, true) {
			chain.steps = append(chain.steps, prefixSpacePre{})
		}
		if boolOr(c.UseRegex, true) {
			chain.steps = append(chain.steps, &splitPre{scan: scanGPT2, total: true, behavior: behIsolated})
		}
		return true, nil
	case "Metaspace":
		m := &metaspacePre{repl: c.Replacement}
		if m.repl == "" {
			m.repl = "▁"
		}
		switch c.PrependScheme {
		case "always":
			m.scheme = prependAlways
		case "first":
			m.scheme = prependFirst
		case "never":
			m.scheme = prependNever
		case "":
			m.scheme = prependNever
			if boolOr(c.AddPrefixSpace, true) {
				m.scheme = prependAlways
			}
		default:
			return false, unsupported("pre-tokenizer Metaspace prepend_scheme", c.PrependScheme)
		}
		if boolOr(c.Split, true) {
			m.splitter = &splitPre{scan: literalScanner(m.repl), behavior: behMergedWithNext}
		}
		chain.steps = append(chain.steps, m)
		return false, nil
	case "Digits":
		beh := behContiguous
		if c.IndividualDigits {
			beh = behIsolated
		}
		chain.steps = append(chain.steps, &splitPre{scan: scanOneDigit, behavior: beh})
		return false, nil
	case "WhitespaceSplit":
		chain.steps = append(chain.steps, &splitPre{scan: scanSpaceRun, behavior: behRemoved})
		return false, nil
	case "Whitespace":
		chain.steps = append(chain.steps, &splitPre{scan: scanWhitespacePre, behavior: behRemoved, invert: true})
		return false, nil
	}
	return false, unsupported("pre-tokenizer", c.Type)
}
