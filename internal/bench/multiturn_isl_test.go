package bench_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/tokenizer"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

// TestRun_MultiTurn_TokenizerISL: with a tokenizer, the ISL of turn k counts
// the whole prompt sent, every earlier message and reply plus the new
// message (message contents; no system prompt or chat-template tokens, as
// for a single-turn chat prompt). Each logged request's ISL equals that
// count made from the full event log's texts, the aggregator's ISL series
// holds one value per tracked turn, and the ISL rebuilt from requests.jsonl
// equals the aggregator's. Failed turns, which end their conversation, are
// in the mix. With --history recorded the replies sent are the dataset's,
// which no record holds: later turns' ISL is then the server's usage.
func TestRun_MultiTurn_TokenizerISL(t *testing.T) {
	tk, err := tokenizer.Parse(tokenizertest.JSON(t, "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	tok := tokCounter{tk}
	for _, history := range []string{"", bench.HistoryRecorded} {
		t.Run("history="+history, func(t *testing.T) { checkTurnISL(t, tok, history) })
	}
}

func checkTurnISL(t *testing.T, tok tokCounter, history string) {
	path, _ := writeConversations(t, 30, 1, 8)
	url, _ := startMock(t, mockserver.Config{OutputTokens: 6, TTFT: time.Millisecond, TPOT: 100 * time.Microsecond,
		Seed: 4, Faults: mockserver.FaultRates{HTTP500: 0.04}})
	cfg, ds := multiTurnConfig(t, url, path)
	cfg.Load.Mode, cfg.Load.Concurrency = string(loadgen.ModeConcurrency), 6
	cfg.Load.WarmupSamples = 2
	cfg.EventLog = "full"
	cfg.Load.History = history
	r, err := bench.New(cfg, ds, tok, quiet())
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	// The prompt of every turn, from the full log: its conversation's
	// earlier messages and replies, and its own message.
	type turn struct {
		id, user, reply string
		n               int32
		usage           int64 // the server's prompt_tokens
	}
	byConv := map[string][]*turn{}
	byID := map[string]*turn{}
	err = eventlog.ReadEvents(rundir.Events(out.Dir), func(rec *event.Record) error {
		switch d := rec.Data.(type) {
		case *event.PromptData:
			if rec.Turn > 0 {
				// The record says which history its prompt carried, for a
				// consumer of the events alone (inferbench aggregate).
				if rec.RecordedHistory != (history == bench.HistoryRecorded) {
					t.Errorf("%s turn %d: recorded_history %v with --history %q", rec.ConversationID, rec.Turn, rec.RecordedHistory, history)
				}
				tr := &turn{id: rec.SampleUUID, user: d.Text, n: rec.Turn}
				byConv[rec.ConversationID] = append(byConv[rec.ConversationID], tr)
				byID[rec.SampleUUID] = tr
			}
		case *event.Output:
			if tr := byID[rec.SampleUUID]; tr != nil {
				tr.reply = d.Text
				if d.Usage != nil {
					tr.usage = d.Usage.PromptTokens
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, turns := range byConv {
		slices.SortFunc(turns, func(a, b *turn) int { return int(a.n - b.n) })
		var isl int64
		for i, tr := range turns {
			if i > 0 {
				isl += int64(tok.Count(turns[i-1].reply))
			}
			isl += int64(tok.Count(tr.user))
			want[tr.id] = isl
			if history == bench.HistoryRecorded && tr.n > 1 {
				want[tr.id] = tr.usage
			}
		}
	}
	rs, err := eventlog.ReadRequests(rundir.Requests(out.Dir))
	if err != nil {
		t.Fatal(err)
	}
	// withISL counts the tracked turns with an ISL: all of them, but for a
	// failed later turn of a recorded history (no usage).
	var withISL, later, failed int
	for _, q := range rs.Requests {
		if !q.Tracked() {
			continue
		}
		if q.Err != "" {
			failed++
			if history != bench.HistoryRecorded || q.Turn == 1 {
				withISL++
			}
			continue
		}
		withISL++
		if q.Turn > 1 {
			later++
		}
		if q.ISL == nil {
			t.Errorf("%s turn %d: no ISL logged", q.Conv, q.Turn)
		} else if *q.ISL != want[q.ID] {
			t.Errorf("%s turn %d: logged ISL %d, want %d (the whole history and the message)", q.Conv, q.Turn, *q.ISL, want[q.ID])
		}
	}
	if later < 20 || failed == 0 {
		t.Fatalf("%d later turns, %d failed: the run does not exercise the history or the failed path", later, failed)
	}
	isl, ok := out.Final.Find(metrics.SeriesISL)
	if !ok || isl.Count != int64(withISL) {
		t.Fatalf("ISL series %+v: want one value per tracked turn with an ISL (%d)", isl, withISL)
	}
	rb, err := eventlog.Rebuild(out.Dir)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := rb.Snapshot.Find(metrics.SeriesISL)
	if !ok {
		t.Fatal("the rebuilt snapshot has no ISL")
	}
	if w, g := metricJSON(t, isl), metricJSON(t, got); w != g {
		t.Errorf("ISL differs:\n final   %s\n rebuilt %s", w, g)
	}
}
