package dataset_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/inferbench/inferbench/internal/dataset"
)

// TestLoadConversations reads each layout into the same normal form.
func TestLoadConversations(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                []dataset.Conversation
		dropped             int
	}{
		{"simple with delays", "c.jsonl",
			`{"conversation_id": "x1", "turns": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "more", "delay_ms": 1500}]}` + "\n\n" +
				`{"conversation_id": 7, "turns": [{"role": "user", "content": "solo"}]}` + "\n",
			[]dataset.Conversation{
				{ID: "x1", System: "be brief", Turns: []dataset.ConvTurn{{User: "hi", Reply: "hello"}, {User: "more", Delay: 1500 * time.Millisecond, HasDelay: true}}},
				{ID: "7", Turns: []dataset.ConvTurn{{User: "solo"}}},
			}, 0},
		{"openai messages with parts", "m.jsonl",
			`{"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}, {"role": "assistant", "content": "c"}, {"role": "user", "content": "d"}, {"role": "assistant", "content": "e"}]}` + "\n",
			[]dataset.Conversation{{ID: "1", Turns: []dataset.ConvTurn{{User: "ab", Reply: "c"}, {User: "d", Reply: "e"}}}}, 0},
		{"sharegpt array, merged and dropped messages", "s.json",
			`[{"id": "sg", "conversations": [{"from": "gpt", "value": "greeting"}, {"from": "human", "value": "q1"}, {"from": "human", "value": "q1b"}, {"from": "gpt", "value": "a1"}, {"from": "chatgpt", "value": "a1b"}, {"from": "human", "value": "q2"}]},
			  {"id": "skipped", "conversations": [{"from": "gpt", "value": "only me"}]}]`,
			[]dataset.Conversation{{ID: "sg", Turns: []dataset.ConvTurn{{User: "q1\nq1b", Reply: "a1\na1b"}, {User: "q2"}}}}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := dataset.LoadConversations(writeFile(t, tc.file, tc.content), dataset.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, ds.Conversations); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			turns := 0
			for i, c := range tc.want {
				turns += len(c.Turns)
				if ds.Samples[i].Prompt != c.Turns[0].User {
					t.Errorf("sample %d = %q, want the first turn", i, ds.Samples[i].Prompt)
				}
			}
			if ds.Turns != turns || ds.DroppedLeading != tc.dropped || len(ds.Samples) != len(tc.want) {
				t.Errorf("turns %d dropped %d samples %d; want %d, %d, %d", ds.Turns, ds.DroppedLeading, len(ds.Samples), turns, tc.dropped, len(tc.want))
			}
		})
	}
}

// TestLoadConversations_ShareGPTFixture: the quirky ShareGPT fixture loads,
// its unusable conversations skipped and counted.
func TestLoadConversations_ShareGPTFixture(t *testing.T) {
	ds, err := dataset.LoadConversations(filepath.Join("testdata", "sharegpt.json"), dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	single, err := dataset.Load(filepath.Join("testdata", "sharegpt.json"), dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Conversations) == 0 || ds.Skipped == 0 || len(ds.Conversations)+ds.Skipped != 300 || ds.Turns <= len(ds.Conversations) {
		t.Errorf("%d conversations (%d turns), %d skipped of 300", len(ds.Conversations), ds.Turns, ds.Skipped)
	}
	if len(ds.Conversations) > len(single.Samples) {
		t.Errorf("%d conversations, more than the %d single-turn samples", len(ds.Conversations), len(single.Samples))
	}
	for _, c := range ds.Conversations {
		for _, tr := range c.Turns {
			if strings.TrimSpace(tr.User) == "" {
				t.Fatalf("conversation %s has an empty user turn", c.ID)
			}
		}
	}
}

// TestLoadConversations_Bad: a bad row is an error naming the file and its
// line or record.
func TestLoadConversations_Bad(t *testing.T) {
	ok := `{"turns": [{"role": "user", "content": "fine"}]}` + "\n"
	many := `{"turns": [` + strings.Repeat(`{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}, `, dataset.MaxConversationTurns) + `{"role": "user", "content": "one too many"}]}`
	tests := []struct {
		name, file, content, want string
		sentinel                  error
	}{
		{"no user turn", "a.jsonl", ok + `{"conversation_id": "q", "turns": [{"role": "system", "content": "s"}]}`, `line 2: conversation "q" has no user turn`, dataset.ErrValue},
		{"no user turn in messages", "a.jsonl", `{"messages": []}`, `line 1: conversation "1" has no user turn`, dataset.ErrValue},
		{"empty user message", "a.jsonl", `{"turns": [{"role": "user", "content": "  "}]}`, "line 1: turns[0]: empty user message", dataset.ErrValue},
		{"unknown role", "a.jsonl", `{"turns": [{"role": "tool", "content": "x"}]}`, `line 1: turns[0]: role "tool"`, dataset.ErrValue},
		{"system after a user turn", "a.jsonl", `{"turns": [{"role": "user", "content": "x"}, {"role": "system", "content": "y"}]}`, "turns[1]: a system message after", dataset.ErrValue},
		{"no list", "a.jsonl", ok + ok + `{"prompt": "x"}`, `line 3: no "turns", "messages" or "conversations" list`, dataset.ErrValue},
		{"negative delay", "a.jsonl", `{"turns": [{"role": "user", "content": "x", "delay_ms": -1}]}`, "delay_ms -1", dataset.ErrValue},
		{"huge delay", "a.jsonl", `{"turns": [{"role": "user", "content": "x", "delay_ms": 1e12}]}`, "delay_ms 1e+12", dataset.ErrValue},
		{"too many turns", "a.jsonl", many, "more than 1024 user turns", dataset.ErrValue},
		{"bad id", "a.jsonl", `{"conversation_id": [1], "turns": [{"role": "user", "content": "x"}]}`, "conversation_id: want a string or an integer", dataset.ErrValue},
		{"long id", "a.jsonl", `{"conversation_id": "` + strings.Repeat("x", 300) + `", "turns": [{"role": "user", "content": "x"}]}`, "conversation_id of 300 bytes", dataset.ErrValue},
		{"content not text", "a.jsonl", `{"turns": [{"role": "user", "content": 5}]}`, "content: want a string", dataset.ErrValue},
		{"syntax", "a.jsonl", ok + `{"turns": [`, "line 2: invalid JSON", dataset.ErrSyntax},
		{"not an object", "a.json", `[{"turns": [{"role": "user", "content": "x"}]}, 3]`, "record 2: want a JSON object", dataset.ErrSyntax},
		{"sharegpt all skipped", "a.json", `[{"conversations": []}]`, "1 ShareGPT conversations without a usable human turn skipped", dataset.ErrEmpty},
		{"csv", "a.csv", "prompt\nx\n", "a multi-turn dataset is JSON or JSONL", dataset.ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, tc.file, tc.content)
			_, err := dataset.LoadConversations(path, dataset.Options{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) || !errors.Is(err, tc.sentinel) {
				t.Errorf("err = %v, want one naming %s and %q (%v)", err, path, tc.want, tc.sentinel)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

// TestLoadConversations_Limit keeps the first conversations.
func TestLoadConversations_Limit(t *testing.T) {
	row := `{"turns": [{"role": "user", "content": "x"}]}` + "\n"
	ds, err := dataset.LoadConversations(writeFile(t, "l.jsonl", strings.Repeat(row, 5)+"not json\n"), dataset.Options{Limit: 3})
	if err != nil || len(ds.Conversations) != 3 {
		t.Fatalf("%v, %v", ds, err)
	}
}
