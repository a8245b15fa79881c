package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

func splitAll(scan scanner, s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := scan(s, i)
		if j <= i {
			_, n := runeAt(s, i)
			j = i + n
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func TestScanners(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		scan scanner
		in   string
		want []string
	}{
		{"cl100k words", scanCL100K, "Hello world", []string{"Hello", " world"}},
		{"cl100k digits in threes", scanCL100K, "12345", []string{"123", "45"}},
		{"qwen2 single digits", scanQwen2, "123", []string{"1", "2", "3"}},
		{"cl100k contraction upper", scanCL100K, "I'LL", []string{"I", "'LL"}},
		{"cl100k contraction", scanCL100K, "don't", []string{"don", "'t"}},
		{"cl100k long s folds to s", scanCL100K, "it'ſ", []string{"it", "'ſ"}},
		{"cl100k apostrophe prefix", scanCL100K, "'hello", []string{"'hello"}},
		{"cl100k space before word joins it", scanCL100K, "a   b", []string{"a", "  ", " b"}},
		{"cl100k trailing spaces", scanCL100K, "a   ", []string{"a", "   "}},
		{"cl100k single space before digit", scanCL100K, "a 1", []string{"a", " ", "1"}},
		{"cl100k newline run", scanCL100K, "a  \n\nb", []string{"a", "  \n\n", "b"}},
		{"cl100k spaces after newline", scanCL100K, "a\n  b", []string{"a", "\n", " ", " b"}},
		{"cl100k punctuation with newlines", scanCL100K, "...\n\nx", []string{"...\n\n", "x"}},
		{"cl100k space punctuation", scanCL100K, " !?x", []string{" !?", "x"}},
		{"cl100k currency", scanCL100K, "$100", []string{"$", "100"}},
		{"cl100k no prefix across newline", scanCL100K, "\nabc", []string{"\n", "abc"}},
		{"cl100k tab prefix", scanCL100K, "\tabc", []string{"\tabc"}},
		{"cl100k nbsp", scanCL100K, "a\u00a0\u00a0b", []string{"a", "\u00a0", "\u00a0b"}},
		{"gpt2 case-sensitive contraction", scanGPT2, "I'LL", []string{"I", "'", "LL"}},
		{"gpt2 words", scanGPT2, "Hello  world 42", []string{"Hello", " ", " world", " 42"}},
		{"o200k camel case", scanO200K, "HelloWorld", []string{"Hello", "World"}},
		{"o200k acronym", scanO200K, "HTTPRequest", []string{"HTTPRequest"}},
		{"o200k all caps", scanO200K, "HELLO there", []string{"HELLO", " there"}},
		{"o200k contraction suffix", scanO200K, "he's", []string{"he's"}},
		{"o200k slash tail", scanO200K, "a//b", []string{"a", "//", "b"}},
		{"deepseek punct letters", scanDeepSeek, ".com x", []string{".com", " x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := splitAll(tc.scan, tc.in); !slices.Equal(got, tc.want) {
				t.Errorf("split(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestScanners_Cover checks that the total scanners make progress at every
// position and that their pieces put together give back the input.
func TestScanners_Cover(t *testing.T) {
	t.Parallel()
	inputs := []string{"", " ", "\r\n\r\n  x", "ǅungla 'S 'll 123 ٣٤ 漢字 ", "\xff\xfe bad utf8", "a\u0301\u0301 ̀x", strings.Repeat(" \t", 50)}
	for name, info := range knownPatterns {
		if !info.total {
			continue
		}
		for _, in := range inputs {
			pieces := splitAll(info.scan, in)
			for _, p := range pieces {
				if p == "" {
					t.Fatalf("%.30s: empty piece for %q", name, in)
				}
			}
			for i := 0; i < len(in); {
				if j := info.scan(in, i); j <= i {
					t.Fatalf("%.30s: no match at %d of %q", name, i, in)
				} else {
					i = j
				}
			}
			if got := strings.Join(pieces, ""); got != in {
				t.Errorf("%.30s: pieces of %q join to %q", name, in, got)
			}
		}
	}
}
