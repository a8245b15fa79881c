package tokenizer_test

import (
	"testing"

	"github.com/inferbench/inferbench/internal/tokenizer"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

// BenchmarkCount counts the repository's fixture corpus per iteration on one
// goroutine. BenchmarkCountShared (build tag sharedfixtures) runs the same
// loop over the larger shared corpus, whose Rust figures are in its
// reference-speed.json.
func BenchmarkCount(b *testing.B) {
	corpus := tokenizertest.Corpus(b)
	for _, name := range tokenizertest.Names {
		b.Run(name, func(b *testing.B) {
			benchmarkCount(b, loadFixture(b, name), corpus)
		})
	}
}

func benchmarkCount(b *testing.B, tok *tokenizer.Tokenizer, corpus []tokenizertest.Line) {
	var bytes int64
	for _, c := range corpus {
		bytes += int64(len(c.Text))
		tok.Count(c.Text, false) // warm the merge cache, as the reference's warm-up pass does
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	b.ResetTimer()
	tokens := 0
	for b.Loop() {
		for _, c := range corpus {
			tokens += tok.Count(c.Text, false)
		}
	}
	b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
}
