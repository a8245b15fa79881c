package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

// TestAggregate_MultiTurnISL runs a multi-turn benchmark with a tokenizer
// and the full event log, its events feeding a separate `inferbench
// aggregate` with the same tokenizer, under either history: the aggregate
// process must reach the benchmark's own ISL series (count, sum, exact
// percentiles, histogram), and every other metric's value and count. With --history recorded
// a later turn's prompt carries the dataset's replies, which no record
// holds, so its ISL is the server's usage; an aggregator that does not know
// the history counts the server's replies instead and gets other numbers.
func TestAggregate_MultiTurnISL(t *testing.T) {
	tok := tokenizertest.Dir(t, "gpt2")
	conv := writeTurns(t, 24, 4)
	url := startMock(t, mockserver.Config{OutputTokens: 6, TTFT: time.Millisecond, TPOT: 100 * time.Microsecond})
	for _, history := range []string{"server", "recorded"} {
		t.Run(history, func(t *testing.T) {
			dir := shortDir(t)
			evAddr := "ipc://" + filepath.Join(dir, "ev.sock")
			aggDir, runDir := filepath.Join(dir, "agg"), filepath.Join(dir, "run")
			agg := startInferbench(t, "aggregate", "--events", evAddr, "--out", aggDir, "--tokenizer", tok, "--publish-interval", "50ms")
			code, _, stderr := runInferbench(t, "benchmark", "concurrency", "--endpoint", url, "--model", "mock-model",
				"--dataset", conv, "--multi-turn", "--history", history, "--tokenizer", tok, "--concurrency", "4",
				"--event-log", "full", "--report-dir", runDir, "--no-tui", "--events-addr", evAddr, "--events-subscribers", "1")
			if code != 0 {
				t.Fatalf("benchmark exited %d\nstderr:\n%s", code, stderr)
			}
			if code := agg.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("aggregate exited %d\nstderr:\n%s", code, agg.stderr.String())
			}
			if _, err := os.Stat(rundir.Events(runDir)); err != nil {
				t.Errorf("the full event log: %v", err)
			}
			want := readSnapshotJSON(t, rundir.Final(runDir))
			got := readSnapshotJSON(t, rundir.Final(aggDir))
			// Every other metric by its value and count: a float total
			// summed in another order may differ in its last digit.
			byName := func(s snapshotJSON) map[string]string {
				m := map[string]string{}
				for _, x := range s.Metrics {
					if x.Name == "isl" {
						j, _ := json.Marshal(x)
						m[x.Name] = string(j)
					} else {
						m[x.Name] = fmt.Sprintf("value %s count %s", x.Value, x.Count)
					}
				}
				return m
			}
			w, g := byName(want), byName(got)
			islCount := ""
			for _, x := range want.Metrics {
				if x.Name == "isl" {
					islCount = string(x.Count)
				}
			}
			if islCount == "" || islCount == "0" {
				t.Fatalf("the benchmark's ISL series %s: want values", w["isl"])
			}
			if g["isl"] != w["isl"] {
				t.Errorf("ISL differs (history %s):\n aggregate %s\n benchmark %s", history, g["isl"], w["isl"])
			}
			if len(g) != len(w) {
				t.Errorf("aggregate has %d metrics, the benchmark %d", len(g), len(w))
			}
			for name, wj := range w {
				if name != "isl" && g[name] != wj {
					t.Errorf("metric %s differs:\n aggregate %s\n benchmark %s", name, g[name], wj)
				}
			}
		})
	}
}

// writeTurns writes n conversations of 2 to maxTurns turns, each with its
// recorded replies, and returns the file's path.
func writeTurns(t *testing.T, n, maxTurns int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		var msgs []map[string]string
		for k := range 2 + i%(maxTurns-1) {
			msgs = append(msgs,
				map[string]string{"role": "user", "content": fmt.Sprintf("conversation %d turn %d: why is the sky %d shades of blue?", i, k+1, i*7+k)},
				map[string]string{"role": "assistant", "content": fmt.Sprintf("the recorded reply %d.%d, longer than what the mock server says back to it", i, k+1)})
		}
		line, err := json.Marshal(map[string]any{"conversation_id": fmt.Sprintf("c%d", i), "turns": msgs})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "conversations.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
