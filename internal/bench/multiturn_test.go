package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
)

// writeConversations writes n conversations of the simple layout with
// minTurns..maxTurns turns each (every user message unique, every turn with
// a recorded reply) and returns the path and the turn counts.
func writeConversations(t *testing.T, n, minTurns, maxTurns int) (string, []int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 7))
	var b bytes.Buffer
	turns := make([]int, n)
	for i := range n {
		turns[i] = minTurns + rng.IntN(maxTurns-minTurns+1)
		var msgs []map[string]any
		for k := range turns[i] {
			msgs = append(msgs,
				map[string]any{"role": "user", "content": fmt.Sprintf("conversation %d turn %d: \"why\" %d?", i, k+1, rng.IntN(1000))},
				map[string]any{"role": "assistant", "content": fmt.Sprintf("recorded reply %d.%d", i, k+1)})
		}
		line, err := json.Marshal(map[string]any{"conversation_id": fmt.Sprintf("c%d", i), "turns": msgs})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "conversations.jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, turns
}

func multiTurnConfig(t *testing.T, url, path string) (config.Run, *dataset.Dataset) {
	t.Helper()
	cfg := baseConfig(t, url)
	cfg.Dataset.Path, cfg.Dataset.MultiTurn = path, true
	ds, err := dataset.LoadConversations(path, dataset.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, ds
}

// turnsByConversation groups the logged requests by conversation, in turn order.
func turnsByConversation(t *testing.T, dir string) map[string][]eventlog.Request {
	t.Helper()
	rs, err := eventlog.ReadRequests(rundir.Requests(dir))
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]eventlog.Request{}
	for _, r := range rs.Requests {
		if r.Turn == 0 || r.Conv == "" {
			t.Fatalf("request %s has no conversation: %+v", r.ID, r)
		}
		by[r.Conv] = append(by[r.Conv], r)
	}
	for _, reqs := range by {
		slices.SortFunc(reqs, func(a, b eventlog.Request) int { return a.Turn - b.Turn })
	}
	return by
}

// TestRun_MultiTurn_HistoryChecked is the multi-turn must-show: 200
// conversations with think times against a mock server that checks every
// request's history (each assistant message is the reply it sent for the
// messages before it, complete before the request arrived). No violation;
// every turn is sent after its predecessor completed plus its think time;
// the report has the conversation counters and TTFT by turn.
func TestRun_MultiTurn_HistoryChecked(t *testing.T) {
	const n = 200
	path, turns := writeConversations(t, n, 1, 5)
	url, srv := startMock(t, mockserver.Config{Mode: mockserver.ModeEcho, TTFT: 2 * time.Millisecond, TPOT: 100 * time.Microsecond,
		TokensPerChunk: 2, CheckHistory: true})
	cfg, ds := multiTurnConfig(t, url, path)
	cfg.Load.Mode, cfg.Load.TargetQPS = string(loadgen.ModePoisson), 400
	const minThink = 5 * time.Millisecond
	cfg.Load.TurnDelay = "uniform:5ms-25ms"
	out := run(t, cfg, ds, nil)

	var total, assistant, maxTurns int
	for _, k := range turns {
		total += k
		assistant += k * (k - 1) / 2 // turn j carries j−1 replies
		maxTurns = max(maxTurns, k)
	}
	h, ok := srv.History()
	if !ok {
		t.Fatal("the server does not check history")
	}
	if h.Violations != 0 || h.Requests != uint64(total) || h.Messages != uint64(assistant) {
		t.Errorf("history check: %d requests, %d replies verified, %d violations %q; want %d, %d, 0",
			h.Requests, h.Messages, h.Violations, h.Examples, total, assistant)
	}
	c := out.Report.Conversations
	if c == nil {
		t.Fatal("the report has no conversations")
	}
	if c.Started != n || c.Completed != n || c.Failed != 0 || c.Unfinished != 0 {
		t.Errorf("conversations %+v, want %d started and completed", c, n)
	}
	if out.Loadgen.ConvStarted != n || out.Loadgen.ConvCompleted != n {
		t.Errorf("load generator: %+v", out.Loadgen)
	}
	if len(c.TTFTByTurn) != maxTurns {
		t.Fatalf("TTFT by turn has %d rows, want %d: %+v", len(c.TTFTByTurn), maxTurns, c.TTFTByTurn)
	}
	for k, row := range c.TTFTByTurn {
		want := 0
		for _, nk := range turns {
			if nk > k {
				want++
			}
		}
		if row.Turn != fmt.Sprint(k+1) || row.Count != int64(want) || !row.P50.Valid() || row.P50 > row.P99 || row.P50 < 2 {
			t.Errorf("turn row %d = %+v, want turn %d with %d samples and TTFT ≥ 2 ms", k, row, k+1, want)
		}
	}
	if m, ok := out.Final.Find(metrics.SeriesConversationLatency); !ok || m.Count != n {
		t.Errorf("conversation latency series: %+v", m)
	}
	text, err := os.ReadFile(filepath.Join(out.Dir, "report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(text, []byte("TTFT by turn (ms):")) || !bytes.Contains(text, []byte("Conversations: started 200, completed 200, failed 0")) {
		t.Errorf("report.txt lacks the conversation section:\n%s", text)
	}
	summary, err := os.ReadFile(filepath.Join(out.Dir, "result_summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Conversations struct {
			Completed  int64 `json:"completed"`
			TTFTByTurn []struct {
				Turn  string  `json:"turn"`
				Count int64   `json:"count"`
				P99   float64 `json:"p99_ms"`
			} `json:"ttft_by_turn"`
		} `json:"conversations"`
	}
	if err := json.Unmarshal(summary, &js); err != nil {
		t.Fatal(err)
	}
	if js.Conversations.Completed != n || len(js.Conversations.TTFTByTurn) != maxTurns || js.Conversations.TTFTByTurn[0].Count != n {
		t.Errorf("result_summary.json conversations: %+v", js.Conversations)
	}

	// The client's side of the same rule: turn k+1 issued at least the
	// minimum think time after turn k completed, and its intended time
	// (issue − lateness) is never before that completion.
	by := turnsByConversation(t, out.Dir)
	if len(by) != n {
		t.Fatalf("%d conversations in requests.jsonl, want %d", len(by), n)
	}
	for conv, reqs := range by {
		for i, r := range reqs {
			if r.Turn != i+1 || r.Err != "" || r.Lat == nil {
				t.Fatalf("conversation %s: request %d is turn %d (err %q)", conv, i, r.Turn, r.Err)
			}
			if (r.LastTurn == 1) != (i == len(reqs)-1) {
				t.Errorf("conversation %s turn %d: last_turn %d", conv, r.Turn, r.LastTurn)
			}
			if i == 0 {
				continue
			}
			prev := reqs[i-1]
			done := prev.Iss + *prev.Lat
			if r.Iss-done < int64(minThink) {
				t.Errorf("conversation %s turn %d issued %v after turn %d completed, want ≥ %v", conv, r.Turn, time.Duration(r.Iss-done), prev.Turn, minThink)
			}
			if r.Late == nil || r.Iss-*r.Late < done {
				t.Errorf("conversation %s turn %d: intended time before the previous completion (late %v)", conv, r.Turn, r.Late)
			}
		}
	}
}

// capture serves h on a loopback port and keeps every request body.
type capture struct {
	mu     sync.Mutex
	bodies [][]byte
}

func startCapture(t *testing.T, h http.Handler) (string, *capture) {
	t.Helper()
	c := &capture{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.URL.Path == "/v1/chat/completions" {
			c.mu.Lock()
			c.bodies = append(c.bodies, body)
			c.mu.Unlock()
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return "http://" + ln.Addr().String(), c
}

// TestRun_MultiTurn_RecordedHistory: with --history recorded every request
// carries the dataset's replies, verbatim and in order, after the system
// message; the history-checking server counts each of them as a violation
// (they are not its replies), which also shows that its check can fail.
func TestRun_MultiTurn_RecordedHistory(t *testing.T) {
	const n = 20
	path, turns := writeConversations(t, n, 2, 4)
	srv, err := mockserver.New(mockserver.Config{Mode: mockserver.ModeEcho, TTFT: time.Millisecond, CheckHistory: true})
	if err != nil {
		t.Fatal(err)
	}
	url, capt := startCapture(t, srv.Handler())
	cfg, ds := multiTurnConfig(t, url, path)
	cfg.Load.Mode, cfg.Load.Concurrency = string(loadgen.ModeConcurrency), 5
	cfg.Load.History = "recorded"
	out := run(t, cfg, ds, nil)
	if out.Report.Conversations == nil || out.Report.Conversations.Completed != n {
		t.Fatalf("conversations %+v", out.Report.Conversations)
	}
	var total, assistant int
	for _, k := range turns {
		total += k
		assistant += k * (k - 1) / 2
	}
	if len(capt.bodies) != total {
		t.Fatalf("%d requests, want %d", len(capt.bodies), total)
	}
	byFirst := map[string]*dataset.Conversation{}
	for i := range ds.Conversations {
		byFirst[ds.Conversations[i].Turns[0].User] = &ds.Conversations[i]
	}
	for _, body := range capt.bodies {
		var req struct {
			Messages []struct{ Role, Content string } `json:"messages"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatal(err)
		}
		conv := byFirst[req.Messages[0].Content]
		if conv == nil || len(req.Messages)%2 != 1 {
			t.Fatalf("request %s: not a turn of a dataset conversation", body)
		}
		for i, m := range req.Messages {
			turn := conv.Turns[i/2]
			want := struct{ Role, Content string }{"user", turn.User}
			if i%2 == 1 {
				want = struct{ Role, Content string }{"assistant", turn.Reply}
			}
			if m != want {
				t.Fatalf("conversation %s message %d = %+v, want %+v", conv.ID, i, m, want)
			}
		}
	}
	if h, _ := srv.History(); h.Messages != uint64(assistant) || h.Violations != uint64(assistant) {
		t.Errorf("history check %d replies, %d violations; want %d of each (recorded replies are not the server's)", h.Messages, h.Violations, assistant)
	}
}

// TestRun_MultiTurn_FailedTurnEndsConversation: a failed turn (an injected
// HTTP 500) ends its conversation: none of its later turns is sent, and the
// conversation counts as failed.
func TestRun_MultiTurn_FailedTurnEndsConversation(t *testing.T) {
	const n, k = 60, 4
	path, _ := writeConversations(t, n, k, k)
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4, Faults: mockserver.FaultRates{HTTP500: 0.15}, Seed: 3})
	cfg, ds := multiTurnConfig(t, url, path)
	cfg.Load.Mode, cfg.Load.Concurrency = string(loadgen.ModeConcurrency), 8
	out := run(t, cfg, ds, nil)

	var failed, completed int64
	for conv, reqs := range turnsByConversation(t, out.Dir) {
		for i, r := range reqs {
			if r.Turn != i+1 {
				t.Fatalf("conversation %s: turns %v", conv, reqs)
			}
			if r.Err != "" && i != len(reqs)-1 {
				t.Errorf("conversation %s: turn %d failed but turn %d was sent", conv, r.Turn, reqs[i+1].Turn)
			}
		}
		last := reqs[len(reqs)-1]
		switch {
		case last.Err != "":
			failed++
		case len(reqs) == k:
			completed++
		default:
			t.Errorf("conversation %s stopped after %d turns without a failure", conv, len(reqs))
		}
	}
	c := out.Report.Conversations
	if failed == 0 || completed == 0 {
		t.Fatalf("%d failed and %d completed conversations: the fault rate does not exercise both", failed, completed)
	}
	if c == nil || c.Started != n || c.Failed != failed || c.Completed != completed {
		t.Errorf("report conversations %+v, want %d failed and %d completed", c, failed, completed)
	}
	if out.Loadgen.ConvFailed != failed || out.Loadgen.ConvCompleted != completed {
		t.Errorf("load generator conversations %+v", out.Loadgen)
	}
	if got := out.Report.Failed; got != failed {
		t.Errorf("%d failed requests, want one per failed conversation (%d)", got, failed)
	}
	if !strings.Contains(fmt.Sprint(out.Report.Errors), "http_status") {
		t.Errorf("errors %v", out.Report.Errors)
	}
}

// TestRun_MultiTurn_Rebuild: the conversation metrics rebuilt from
// requests.jsonl equal the aggregator's.
func TestRun_MultiTurn_Rebuild(t *testing.T) {
	path, _ := writeConversations(t, 60, 1, 20)
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4, TTFT: time.Millisecond, Jitter: 0.5, Seed: 5,
		Faults: mockserver.FaultRates{HTTP500: 0.03}})
	cfg, ds := multiTurnConfig(t, url, path)
	cfg.Load.Mode, cfg.Load.Concurrency = string(loadgen.ModeConcurrency), 16
	cfg.Load.WarmupSamples = 3
	out := run(t, cfg, ds, nil)
	rb, err := eventlog.Rebuild(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// The CSV export carries each turn's conversation and turn number.
	rs, err := eventlog.ReadRequests(rundir.Requests(out.Dir))
	if err != nil {
		t.Fatal(err)
	}
	var csvOut bytes.Buffer
	if err := rs.Export(&csvOut, eventlog.FormatCSV); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csvOut.String()), "\n")
	if !strings.HasSuffix(lines[0], ",conversation_id,turn") || len(lines) < 2 {
		t.Fatalf("CSV header %q", lines[0])
	}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) < 2 || !strings.HasPrefix(f[len(f)-2], "c") || f[len(f)-1] == "" {
			t.Fatalf("CSV row without its conversation and turn: %q", l)
		}
	}
	names := []string{metrics.TrackedConversationsStarted, metrics.TrackedConversationsCompleted,
		metrics.TrackedConversationsFailed, metrics.SeriesConversationLatency, metrics.TTFTByTurn(1), metrics.TTFTByTurn(17)}
	if out.Final.CounterInt(metrics.TrackedConversationsFailed) == 0 {
		t.Fatal("no conversation failed: the fault rate does not exercise the failed path")
	}
	for _, name := range names {
		want, ok := out.Final.Find(name)
		if !ok {
			t.Fatalf("final snapshot lacks %s", name)
		}
		got, ok := rb.Snapshot.Find(name)
		if !ok {
			t.Errorf("rebuilt snapshot lacks %s", name)
			continue
		}
		if w, g := metricJSON(t, want), metricJSON(t, got); w != g {
			t.Errorf("%s differs:\n final   %s\n rebuilt %s", name, w, g)
		}
	}
}
