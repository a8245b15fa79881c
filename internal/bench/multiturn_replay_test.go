package bench_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
)

// TestRun_MultiTurn_FullLogReplay: a multi-turn run's full event log holds
// every turn's conversation id and turn, so its records replayed through a
// fresh aggregator give the run's final snapshot exactly: the conversation
// counters and latency and TTFT by turn included, with warmup
// conversations and failed turns (which end their conversation) in the mix.
func TestRun_MultiTurn_FullLogReplay(t *testing.T) {
	path, _ := writeConversations(t, 40, 1, 18)
	url, _ := startMock(t, mockserver.Config{OutputTokens: 4, TTFT: time.Millisecond, TPOT: 100 * time.Microsecond,
		Jitter: 0.5, Seed: 9, Faults: mockserver.FaultRates{HTTP500: 0.03}})
	cfg, ds := multiTurnConfig(t, url, path)
	cfg.Load.Mode, cfg.Load.Concurrency = string(loadgen.ModeConcurrency), 8
	cfg.Load.WarmupSamples = 2
	cfg.Load.TurnDelay = "uniform:0s-2ms"
	cfg.EventLog = "full"
	out := run(t, cfg, ds, nil)

	var recs []event.Record
	err := eventlog.ReadEvents(rundir.Events(out.Dir), func(r *event.Record) error {
		recs = append(recs, *r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	agg, err := aggregator.New(aggregator.Config{Streaming: true, Logger: quiet()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !agg.Process(recs) {
		t.Fatal("the event log has no session.ended")
	}
	replayed, err := agg.Finalize(metrics.StateComplete)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{metrics.TrackedConversationsStarted, metrics.TrackedConversationsCompleted,
		metrics.TrackedConversationsFailed, metrics.SeriesConversationLatency, metrics.TTFTByTurn(1),
		metrics.TTFTByTurn(2), metrics.TTFTByTurn(17)} {
		m, ok := out.Final.Find(name)
		if !ok || m.Count == 0 && m.Value.String() == "0" {
			t.Errorf("the run's snapshot has no %s: the run does not exercise it", name)
		}
	}
	numCmp := cmp.Comparer(func(a, b metrics.Num) bool { return a.String() == b.String() })
	if diff := cmp.Diff(out.Final.Metrics, replayed.Metrics, numCmp, cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("replayed snapshot differs from the run's (-run +replayed):\n%s", diff)
	}
	if out.Final.NPendingTasks != replayed.NPendingTasks || out.Final.State != replayed.State {
		t.Errorf("pending/state %d/%s, replayed %d/%s", out.Final.NPendingTasks, out.Final.State, replayed.NPendingTasks, replayed.State)
	}
}
