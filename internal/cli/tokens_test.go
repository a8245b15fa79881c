package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

// TestBenchmark_TokenSourceAuto runs against the mock server with a real
// tokenizer: the report carries tokenizer-based and usage-based OSL and their
// agreement. Synthetic answers (" tok" words, one token each) agree; echoed
// prompts of long words, counted as words by the server, do not.
func TestBenchmark_TokenSourceAuto(t *testing.T) {
	tok := tokenizertest.Dir(t, "qwen3")
	dir := t.TempDir()
	ds := filepath.Join(dir, "prompts.jsonl")
	if err := os.WriteFile(ds, []byte(strings.Repeat(`{"prompt": "internationalization antidisestablishmentarianism pneumonoultramicroscopic"}`+"\n", 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		mode       string
		dataset    []string
		wantDiffer bool
	}{
		{"synthetic answers agree", mockserver.ModeSynthetic, []string{"--synthetic", "20"}, false},
		{"echoed long words differ", mockserver.ModeEcho, []string{"--dataset", ds}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := startMock(t, mockserver.Config{Mode: tc.mode, OutputTokens: 12})
			run := filepath.Join(shortDir(t), "run")
			args := append([]string{"benchmark", "offline", "--endpoint", url, "--model", "m", "--tokenizer", tok,
				"--token-source", "auto", "--report-dir", run, "--no-tui"}, tc.dataset...)
			code, stdout, stderr := runInferbench(t, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if !strings.Contains(stdout, "OSL tokenizer vs server usage") {
				t.Errorf("no agreement line in the report:\n%s", stdout)
			}
			data, err := os.ReadFile(filepath.Join(run, "result_summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			var rep struct {
				Completed int64 `json:"n_samples_completed"`
				Agreement struct {
					Compared, Differ int64
				} `json:"osl_agreement"`
				Metrics []struct{ Name string } `json:"metrics"`
			}
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Agreement.Compared != rep.Completed || rep.Completed == 0 {
				t.Errorf("compared %d of %d samples", rep.Agreement.Compared, rep.Completed)
			}
			if (rep.Agreement.Differ > 0) != tc.wantDiffer {
				t.Errorf("%d samples differ, want differ=%v", rep.Agreement.Differ, tc.wantDiffer)
			}
			names := map[string]bool{}
			for _, m := range rep.Metrics {
				names[m.Name] = true
			}
			if !names["osl"] || !names["osl_usage"] {
				t.Errorf("sections %v, want osl and osl_usage", names)
			}
		})
	}
}

func TestTokens_Command(t *testing.T) {
	tok := tokenizertest.Dir(t, "mistral")
	code, out, stderr := runInferbenchStdin(t, `{"text": "Hello world"}`+"\n"+`{"text": ""}`+"\n", "tokens", "--tokenizer", tok, "--special")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// Mistral-7B: <s> ▁Hello ▁world → [1 22557 1526]; the template adds <s> even to "".
	if len(lines) != 2 || lines[0] != `{"ids":[1,22557,1526],"count":3}` || lines[1] != `{"ids":[1],"count":1}` {
		t.Errorf("output:\n%s", out)
	}
	code, out, _ = runInferbenchStdin(t, `{"text": "Hello world"}`+"\n", "tokens", "--tokenizer", tok, "--count-only")
	if code != 0 || strings.TrimSpace(out) != `{"count":2}` {
		t.Errorf("--count-only: exit %d, %s", code, out)
	}
	code, _, stderr = runInferbenchStdin(t, "not json\n", "tokens", "--tokenizer", tok)
	if code != 2 || !strings.Contains(stderr, "line 1") {
		t.Errorf("bad input: exit %d, %s", code, stderr)
	}
}
