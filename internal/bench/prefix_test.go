package bench_test

import (
	"context"
	"testing"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/tokenizer"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

type tokCounter struct{ t *tokenizer.Tokenizer }

func (c tokCounter) Count(s string) int { return c.t.Count(s, false) }

// TestRun_SharedPrefixISL runs shared-prefix synthetic prompts with a real
// tokenizer: the ISL the run measures is the requested length for every
// request.
func TestRun_SharedPrefixISL(t *testing.T) {
	tok, err := tokenizer.Parse(tokenizertest.JSON(t, "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	url, _ := startMock(t, mockserver.Config{OutputTokens: 2})
	cfg := baseConfig(t, url)
	cfg.Dataset.Synthetic = &config.Synthetic{N: 24, Input: "96", Output: "2", Seed: 5, SharedPrefixLen: 40, NumPrefixes: 3}
	if err := bench.Validate(&cfg); err != nil {
		t.Fatal(err)
	}
	ds, err := bench.LoadDatasetCounted(cfg.Dataset, tokCounter{tok})
	if err != nil {
		t.Fatal(err)
	}
	r, err := bench.New(cfg, ds, tokCounter{tok}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	isl, ok := out.Final.Find(metrics.SeriesISL)
	if !ok || isl.Count != 24 || isl.Min.Float64() != 96 || isl.Max.Float64() != 96 {
		t.Fatalf("isl %+v: want 24 requests of exactly 96 tokens", isl)
	}
}
