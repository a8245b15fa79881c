package tokenizer

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites one text segment (the text between added tokens),
// as the tokenizer.json "normalizer" does.
type normalizer interface {
	normalize(s string) string
}

type seqNormalizer []normalizer

func (q seqNormalizer) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

type unicodeNormalizer struct{ form norm.Form }

func (u unicodeNormalizer) normalize(s string) string {
	// The quick check avoids a copy for the common, already normalized text.
	if u.form.IsNormalString(s) {
		return s
	}
	return u.form.String(s)
}

// prependNormalizer mirrors the Rust Prepend normalizer, which leaves an
// empty segment alone.
type prependNormalizer struct{ prefix string }

func (p prependNormalizer) normalize(s string) string {
	if s == "" {
		return s
	}
	return p.prefix + s
}

type replaceNormalizer struct{ old, new string }

func (r replaceNormalizer) normalize(s string) string {
	return strings.ReplaceAll(s, r.old, r.new)
}

type lowercaseNormalizer struct{}

func (lowercaseNormalizer) normalize(s string) string { return strings.ToLower(s) }

type stripNormalizer struct{ left, right bool }

func (p stripNormalizer) normalize(s string) string {
	if p.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if p.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

type stripAccentsNormalizer struct{}

func (stripAccentsNormalizer) normalize(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.M, r) {
			return -1
		}
		return r
	}, s)
}

func buildNormalizer(c *componentJSON) (normalizer, error) {
	if c == nil {
		return nil, nil
	}
	switch c.Type {
	case "Sequence":
		var q seqNormalizer
		for _, child := range c.Normalizers {
			n, err := buildNormalizer(child)
			if err != nil {
				return nil, err
			}
			if n != nil {
				q = append(q, n)
			}
		}
		switch len(q) {
		case 0:
			return nil, nil
		case 1:
			return q[0], nil
		}
		return q, nil
	case "NFC":
		return unicodeNormalizer{norm.NFC}, nil
	case "NFKC":
		return unicodeNormalizer{norm.NFKC}, nil
	case "NFD":
		return unicodeNormalizer{norm.NFD}, nil
	case "NFKD":
		return unicodeNormalizer{norm.NFKD}, nil
	case "Prepend":
		return prependNormalizer{c.Prepend}, nil
	case "Replace":
		if c.Pattern == nil || c.Pattern.String == nil {
			return nil, unsupported("normalizer Replace pattern", c.Pattern.describe())
		}
		if *c.Pattern.String == "" {
			return nil, unsupported("normalizer Replace pattern", "empty String")
		}
		return replaceNormalizer{*c.Pattern.String, c.Content}, nil
	case "Lowercase":
		return lowercaseNormalizer{}, nil
	case "Strip":
		return stripNormalizer{c.StripLeft, c.StripRight}, nil
	case "StripAccents":
		return stripAccentsNormalizer{}, nil
	}
	return nil, unsupported("normalizer", c.Type)
}
