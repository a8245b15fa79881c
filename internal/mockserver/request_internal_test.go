package mockserver

import (
	"encoding/json"
	"strings"
	"testing"
)

var wordSamples = []string{
	"", " ", "a", " a ", "hello world", "tab\tsep\nnew\r\nline", "nbsp\u00a0here",
	"nel\u0085x", "é ü 中文 字", "\x00ctl\x01 chars", `quote " and \ back`, "  lead and trail  ",
	"ideographic\u3000space", "bad \xff utf8", "emoji 😀 pair",
}

func TestCountWordsJSON(t *testing.T) {
	for _, s := range wordSamples {
		enc, _ := json.Marshal(s) // escapes control characters as \u00XX
		want := len(strings.Fields(s))
		if got := countWordsJSON(enc[1 : len(enc)-1]); got != want {
			t.Errorf("countWordsJSON(%s) = %d, want %d", enc, got, want)
		}
		if got := countWords(s); got != want {
			t.Errorf("countWords(%q) = %d, want %d", s, got, want)
		}
	}
	// Escapes a Go encoder does not produce.
	for raw, want := range map[string]int{`a\u0020b`: 2, `a\/b`: 1, `x\fy\tz`: 3, `a\u00A0b`: 2, `a\u0041b`: 1} {
		if got := countWordsJSON([]byte(raw)); got != want {
			t.Errorf("countWordsJSON(%s) = %d, want %d", raw, got, want)
		}
	}
}

func TestTextTokens_Concatenate(t *testing.T) {
	for _, s := range wordSamples {
		for _, k := range []int{1, 2, 3} {
			src := textTokens(s)
			n := src.left
			var b strings.Builder
			pieces := 0
			for left := n; left > 0; left -= k {
				piece := src.take(min(k, left))
				if w := len(strings.Fields(piece)); w != min(k, left) {
					t.Errorf("%q k=%d: piece %q has %d words", s, k, piece, w)
				}
				b.WriteString(piece)
				pieces++
			}
			if n > 0 && b.String() != s {
				t.Errorf("%q k=%d: tokens concatenate to %q", s, k, b.String())
			}
		}
	}
}

func TestPickFault(t *testing.T) {
	rates := FaultRates{HTTP429: 0.1, Stall: 0.2}.rates()
	for _, tc := range []struct {
		u    float64
		want Fault
	}{{0, FaultHTTP429}, {0.099, FaultHTTP429}, {0.1, FaultStall}, {0.29, FaultStall}, {0.31, FaultNone}, {0.999, FaultNone}} {
		if got := pickFault(&rates, tc.u); got != tc.want {
			t.Errorf("pickFault(%v) = %v, want %v", tc.u, got, tc.want)
		}
	}
}

func TestOutputDist_Draw(t *testing.T) {
	d := OutputDist{Kind: DistNormal, Mean: 50, Stddev: 10, Min: 30, Max: 70}
	r := newRNG(3, 0)
	sum := 0
	const n = 4000
	for range n {
		v := d.draw(&r)
		if v < 30 || v > 70 {
			t.Fatalf("draw %d outside [30, 70]", v)
		}
		sum += v
	}
	if mean := float64(sum) / n; mean < 49 || mean > 51 {
		t.Errorf("mean of %d normal draws = %.2f, want 50 ± 1", n, mean)
	}
}
