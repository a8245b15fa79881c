package cli_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBadInput_MultiTurn: bad multi-turn input through the CLI is one line
// naming the file and line, or the flag, and exit code 2.
func TestBadInput_MultiTurn(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `{"conversation_id": "a", "turns": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}` + "\n"
	noUser := write("nouser.jsonl", good+`{"conversation_id": "b", "turns": [{"role": "assistant", "content": "hello?"}]}`+"\n")
	badRole := write("role.jsonl", good+"\n"+`{"messages": [{"role": "user", "content": "x"}, {"role": "robot", "content": "y"}]}`+"\n")
	badDelay := write("delay.jsonl", `{"turns": [{"role": "user", "content": "x"}, {"role": "user", "content": "y", "delay_ms": -5}]}`+"\n")
	noList := write("nolist.json", `[{"conversations": [{"from": "human", "value": "x"}]}, {"prompt": "single turn"}]`)
	goodFile := write("good.jsonl", good)
	base := []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--model", "m"}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"conversation without a user turn", []string{"--dataset", noUser, "--multi-turn"}, []string{"nouser.jsonl line 2", "no user turn"}},
		{"unknown role", []string{"--dataset", badRole, "--multi-turn"}, []string{"role.jsonl line 3", `"robot"`}},
		{"negative delay", []string{"--dataset", badDelay, "--multi-turn"}, []string{"delay.jsonl line 1", "delay_ms -5"}},
		{"row without turns", []string{"--dataset", noList, "--multi-turn"}, []string{"nolist.json record 2", `"turns"`}},
		{"bad turn delay", []string{"--dataset", goodFile, "--multi-turn", "--turn-delay", "soon"}, []string{"--turn-delay", "soon"}},
		{"bad turn delay distribution", []string{"--dataset", goodFile, "--multi-turn", "--turn-delay", "uniform:3s-1s"}, []string{"--turn-delay", "below"}},
		{"bad history", []string{"--dataset", goodFile, "--multi-turn", "--history", "made-up"}, []string{"--history", "server or recorded"}},
		{"turn delay without multi-turn", []string{"--dataset", goodFile, "--turn-delay", "1s"}, []string{"--multi-turn"}},
		{"multi-turn on completions", []string{"--dataset", goodFile, "--multi-turn", "--api", "completions"}, []string{"chat API"}},
		{"multi-turn with a concurrency cap", []string{"--dataset", goodFile, "--multi-turn", "--target-qps", "5", "--max-concurrency", "4"}, []string{"--max-concurrency"}},
		{"multi-turn with concurrency stages", []string{"--dataset", goodFile, "--multi-turn", "--stages", "2:1s,4:1s"}, []string{"--stages"}},
		{"multi-turn with synthetic prompts", []string{"--synthetic", "3", "--multi-turn"}, []string{"dataset file"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{}, base...)
			switch {
			case slices.Contains(tc.args, "--target-qps"):
				args[1] = "online"
			case slices.Contains(tc.args, "--stages"):
				args[1] = "concurrency"
			}
			code, _, stderr := runInferbench(t, append(args, tc.args...)...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			ok := code == 2 && len(lines) == 1 && !strings.Contains(stderr, "goroutine")
			for _, w := range tc.want {
				ok = ok && strings.Contains(stderr, w)
			}
			if !ok {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and one line naming %q", code, stderr, tc.want)
			}
		})
	}
}
