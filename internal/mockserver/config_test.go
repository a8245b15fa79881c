package mockserver_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/inferbench/inferbench/internal/mockserver"
)

func TestNew_Validation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cfg   mockserver.Config
		field string // must appear in the error
	}{
		{"mode", mockserver.Config{Mode: "random"}, "mode"},
		{"oracle empty", mockserver.Config{Mode: mockserver.ModeOracle}, "oracle"},
		{"ttft", mockserver.Config{TTFT: -time.Millisecond}, "ttft"},
		{"tpot", mockserver.Config{TPOT: -1}, "tpot"},
		{"jitter high", mockserver.Config{Jitter: 1}, "jitter"},
		{"jitter NaN", mockserver.Config{Jitter: math.NaN()}, "jitter"},
		{"output_tokens", mockserver.Config{OutputTokens: -3}, "output_tokens"},
		{"reasoning_tokens", mockserver.Config{ReasoningTokens: -1}, "reasoning_tokens"},
		{"tokens_per_chunk", mockserver.Config{TokensPerChunk: -2}, "tokens_per_chunk"},
		{"shutdown_grace", mockserver.Config{ShutdownGrace: -time.Second}, "shutdown_grace"},
		{"dist kind", mockserver.Config{OutputDist: mockserver.OutputDist{Kind: "zipf"}}, "output_dist.kind"},
		{"dist fixed mean", mockserver.Config{OutputDist: mockserver.OutputDist{Kind: "fixed"}}, "output_dist.mean"},
		{"dist uniform max", mockserver.Config{OutputDist: mockserver.OutputDist{Kind: "uniform", Min: 10, Max: 5}}, "output_dist.max"},
		{"dist normal stddev", mockserver.Config{OutputDist: mockserver.OutputDist{Kind: "normal", Mean: 10, Stddev: -1}}, "output_dist.stddev"},
		{"dist min", mockserver.Config{OutputDist: mockserver.OutputDist{Min: -1}}, "output_dist.min"},
		{"fault rate", mockserver.Config{Faults: mockserver.FaultRates{Stall: 1.5}}, "faults.stall"},
		{"fault negative", mockserver.Config{Faults: mockserver.FaultRates{HTTP429: -0.1}}, "faults.http_429"},
		{"fault sum", mockserver.Config{Faults: mockserver.FaultRates{Reset: 0.6, Truncate: 0.6}}, "faults sum"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := mockserver.New(tc.cfg)
			if !errors.Is(err, mockserver.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidConfig", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.field) || strings.Contains(msg, "\n") {
				t.Errorf("error %q should be one line naming %q", msg, tc.field)
			}
		})
	}
	if _, err := mockserver.New(mockserver.Config{}); err != nil {
		t.Errorf("zero Config: %v", err)
	}
}

func TestConfig_YAML(t *testing.T) {
	t.Parallel()
	src := `
model: tiny
mode: echo
ttft: 25ms
tpot: 5ms
jitter: 0.1
output_tokens: 32
output_dist: {kind: normal, min: 4, max: 64, mean: 20, stddev: 5}
reasoning_tokens: 3
tokens_per_chunk: 2
seed: 9
faults: {http_429: 0.01, http_500: 0.02, reset: 0.03, truncate: 0.04, malformed: 0.05, stall: 0.06}
shutdown_grace: 2s
`
	var got mockserver.Config
	if err := yaml.Unmarshal([]byte(src), &got); err != nil {
		t.Fatal(err)
	}
	want := mockserver.Config{
		Model: "tiny", Mode: "echo", TTFT: 25 * time.Millisecond, TPOT: 5 * time.Millisecond, Jitter: 0.1,
		OutputTokens: 32, OutputDist: mockserver.OutputDist{Kind: "normal", Min: 4, Max: 64, Mean: 20, Stddev: 5},
		ReasoningTokens: 3, TokensPerChunk: 2, Seed: 9,
		Faults:        mockserver.FaultRates{HTTP429: 0.01, HTTP500: 0.02, Reset: 0.03, Truncate: 0.04, Malformed: 0.05, Stall: 0.06},
		ShutdownGrace: 2 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("YAML config mismatch (-want +got):\n%s", diff)
	}
	if _, err := mockserver.New(got); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestLoadOracle_Errors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, data, want string
	}{
		{"bad json", "{\"p\":\"a\",\"a\":\"b\"}\n{oops\n", "line 2"},
		{"missing answer", `{"p":"a"}`, `field "a" missing`},
		{"answer not string", `{"p":"a","a":3}`, `field "a" is not a string`},
		{"empty", "\n\n", "no entries"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".jsonl")
			if err := os.WriteFile(path, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := mockserver.LoadOracle(path, "p", "a")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("err = %v, want it to name %s and contain %q", err, path, tc.want)
			}
		})
	}
	if _, err := mockserver.LoadOracle(filepath.Join(dir, "absent.jsonl"), "p", "a"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

func TestLoadOracle_LastLineWithoutNewline(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "o.jsonl")
	if err := os.WriteFile(path, []byte(`{"q":"x","r":"1"}`+"\n"+`{"q":"y","r":"2"}`+"\n"+`{"q":"x","r":"3"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := mockserver.LoadOracle(path, "q", "r")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"x": "3", "y": "2"}, got); diff != "" {
		t.Errorf("oracle (-want +got):\n%s", diff)
	}
}
