package trace_test

import (
	"testing"

	"github.com/inferbench/inferbench/internal/trace"
)

// BenchmarkSynthesizer_Prompt builds 8k-token prompts of 16 shared blocks
// of 512 tokens: what a Feed does per request. tokens/s is the rate the
// Feed can keep ahead of a replay.
func BenchmarkSynthesizer_Prompt(b *testing.B) {
	syn, err := trace.NewSynthesizer(trace.SynthOptions{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	r := trace.Request{InputLen: 8192}
	for i := range 16 {
		r.HashIDs = append(r.HashIDs, int64(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = syn.Prompt(&r, i)
	}
	b.ReportMetric(float64(b.N)*float64(r.InputLen)/b.Elapsed().Seconds()/1e6, "Mtokens/s")
}
