package tokenizer_test

import (
	"path/filepath"
	"testing"
)

// BenchmarkCount counts the whole fixture corpus per iteration on one
// goroutine, the same work as the Rust reference-speed.json "encode" loop.
// Compare tokens/s with that file's single-thread figures.
func BenchmarkCount(b *testing.B) {
	requireFixtures(b)
	corpus := readJSONL[corpusLine](b, filepath.Join(fixtureDir, "corpus.jsonl"))
	var bytes int64
	for _, c := range corpus {
		bytes += int64(len(c.Text))
	}
	for _, name := range fixtureNames {
		b.Run(name, func(b *testing.B) {
			tok := loadFixture(b, name)
			for _, c := range corpus { // warm the merge cache, as the reference's warm-up pass does
				tok.Count(c.Text, false)
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
		})
	}
}
