package tokenizer

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is an entry of tokenizer.json "added_tokens". Added tokens
// (special or not) are cut out of the text before anything else runs, as
// the Rust library does with split_special_tokens=false.
type addedToken struct {
	id         int32
	content    string
	lstrip     bool
	rstrip     bool
	singleWord bool
}

// addedMatcher finds added tokens leftmost-longest, like the Aho-Corasick
// automaton of the Rust library, with a byte trie.
type addedMatcher struct {
	tokens []addedToken
	nodes  []trieNode
	root   [256]int32 // child of the root per byte, 0 = none
}

type trieNode struct {
	tok   int32 // index into tokens, -1 if no token ends here
	edges []trieEdge
}

type trieEdge struct {
	b    byte
	node int32
}

func newAddedMatcher(tokens []addedToken) *addedMatcher {
	if len(tokens) == 0 {
		return nil
	}
	m := &addedMatcher{tokens: tokens, nodes: []trieNode{{tok: -1}}}
	for ti, t := range tokens {
		cur := int32(0)
		for i := 0; i < len(t.content); i++ {
			cur = m.child(cur, t.content[i], true)
		}
		m.nodes[cur].tok = int32(ti)
	}
	for i := range m.nodes {
		e := m.nodes[i].edges
		sort.Slice(e, func(a, b int) bool { return e[a].b < e[b].b })
	}
	return m
}

func (m *addedMatcher) child(n int32, b byte, create bool) int32 {
	if n == 0 {
		if c := m.root[b]; c != 0 || !create {
			return c
		}
	} else {
		for _, e := range m.nodes[n].edges {
			if e.b == b {
				return e.node
			}
		}
		if !create {
			return 0
		}
	}
	m.nodes = append(m.nodes, trieNode{tok: -1})
	c := int32(len(m.nodes) - 1)
	if n == 0 {
		m.root[b] = c
	} else {
		m.nodes[n].edges = append(m.nodes[n].edges, trieEdge{b, c})
	}
	return c
}

// find returns the leftmost-longest match at or after from.
func (m *addedMatcher) find(s string, from int) (start, end int, tok int32, ok bool) {
	for i := from; i < len(s); i++ {
		n := m.root[s[i]]
		if n == 0 {
			continue
		}
		best, bestEnd := int32(-1), 0
		for j := i + 1; ; j++ {
			if t := m.nodes[n].tok; t >= 0 {
				best, bestEnd = t, j
			}
			if j >= len(s) {
				break
			}
			if n = m.child(n, s[j], false); n == 0 {
				break
			}
		}
		if best >= 0 {
			return i, bestEnd, best, true
		}
	}
	return 0, 0, -1, false
}

// segment is a part of the input: text (tok < 0) or an added token.
type segment struct {
	start, end int
	tok        int32
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isWordRune(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isWordRune(r)
}

// split cuts s into text and token segments, honoring single_word, lstrip
// and rstrip the way the Rust AddedVocabulary does.
func (m *addedMatcher) split(s string, dst []segment) []segment {
	startOffset := 0
	for from := 0; ; {
		st, en, ti, ok := m.find(s, from)
		if !ok {
			break
		}
		from = en
		t := &m.tokens[ti]
		if t.singleWord {
			if (st > 0 && endsWithWord(s[:st])) || (en < len(s) && startsWithWord(s[en:])) {
				continue
			}
		}
		start, stop := st, en
		if t.lstrip {
			start = max(len(strings.TrimRightFunc(s[:start], unicode.IsSpace)), startOffset)
		}
		if t.rstrip {
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
		}
		if startOffset < start {
			dst = append(dst, segment{startOffset, start, -1})
		}
		dst = append(dst, segment{start, stop, t.id})
		startOffset = stop
	}
	if startOffset < len(s) {
		dst = append(dst, segment{startOffset, len(s), -1})
	}
	return dst
}

// buildAdded returns the matcher for tokens matched on the raw text and the
// one for tokens matched on normalized text (normalized: true), whose
// content is normalized first.
func buildAdded(list []addedTokenJSON, n normalizer) (raw, normed *addedMatcher, err error) {
	var rawT, normT []addedToken
	for _, a := range list {
		if a.Content == "" {
			continue
		}
		t := addedToken{id: a.ID, content: a.Content, lstrip: a.LStrip, rstrip: a.RStrip, singleWord: a.SingleWord}
		if a.Normalized {
			if n != nil {
				t.content = n.normalize(t.content)
			}
			normT = append(normT, t)
		} else {
			rawT = append(rawT, t)
		}
	}
	return newAddedMatcher(rawT), newAddedMatcher(normT), nil
}
