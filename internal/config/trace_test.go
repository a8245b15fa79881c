package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/config"
)

// TestTrace_YAML reads a replay's trace section and checks its rules: a
// replay needs a trace, a trace needs a replay and is the only prompt
// source, and its values are in range; errors name the key.
func TestTrace_YAML(t *testing.T) {
	const ok = "load:\n  mode: replay\ndataset:\n  trace: {path: t.jsonl, format: mooncake, speedup: 2.5, limit: 10, start: 1m, block_size: 256}\n"
	cfg, err := config.Load(write(t, ok))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Trace{Path: "t.jsonl", Format: "mooncake", Speedup: 2.5, Limit: 10, Start: time.Minute, BlockSize: 256}
	if cfg.Dataset.Trace == nil || *cfg.Dataset.Trace != want {
		t.Fatalf("trace %+v, want %+v", cfg.Dataset.Trace, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid replay config: %v", err)
	}
	tests := []struct{ body, want string }{
		{"load:\n  mode: replay\ndataset:\n  path: p.jsonl\n", "dataset.trace.path: a replay needs a trace"},
		{"load:\n  mode: poisson\n  target_qps: 1\ndataset:\n  trace: {path: t.jsonl}\n", `dataset.trace: load.mode "poisson" does not replay`},
		{"load:\n  mode: replay\ndataset:\n  path: p.jsonl\n  trace: {path: t.jsonl}\n", "drop dataset.path"},
		{"load:\n  mode: replay\ndataset:\n  trace: {path: t.jsonl, format: parquet}\n", `dataset.trace.format "parquet"`},
		{"load:\n  mode: replay\ndataset:\n  multi_turn: true\n  trace: {path: t.jsonl}\n", "drop dataset.multi_turn"},
		{"load:\n  mode: replay\ndataset:\n  trace: {path: t.jsonl, speedup: -1}\n", "dataset.trace.speedup -1"},
		{"load:\n  mode: replay\ndataset:\n  trace: {path: t.jsonl, limit: -1}\n", "dataset.trace.limit -1"},
		{"load:\n  mode: replay\ndataset:\n  trace: {path: t.jsonl, start: -1s}\n", "dataset.trace.start -1s"},
		{"load:\n  mode: replay\ndataset:\n  trace: {path: t.jsonl, block_size: -5}\n", "dataset.trace.block_size -5"},
	}
	for _, tc := range tests {
		cfg, err := config.Load(write(t, tc.body))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err %v, want %q", tc.body, err, tc.want)
		}
	}
}
