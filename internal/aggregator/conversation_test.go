package aggregator_test

import (
	"testing"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
)

// turn builds the issued record of a conversation turn.
func turn(ts int64, uuid, conv string, k int32, last bool) event.Record {
	r := ev(event.SampleIssued, ts, uuid, nil)
	r.ConversationID, r.Turn, r.LastTurn = conv, k, last
	return r
}

// TestAggregator_Conversations: TTFT by turn (turns past MaxTurnSeries
// pooled), conversation counters and the latency of completed
// conversations; a failed turn fails its conversation; an untracked
// (warmup) conversation and a single-turn sample count in none of them.
func TestAggregator_Conversations(t *testing.T) {
	evs := []event.Record{
		ev(event.SessionStarted, 0, "", nil),
		turn(5, "w1", "warm", 1, false), // warmup: not tracked
		ev(event.SampleRecvFirst, 6, "w1", nil),
		ev(event.SampleComplete, 7, "w1", nil),
		ev(event.SessionStartTracking, 10, "", nil),
		// Conversation a: three turns, completed.
		turn(100, "a1", "a", 1, false),
		ev(event.SampleRecvFirst, 110, "a1", nil),
		ev(event.SampleComplete, 150, "a1", nil),
		turn(200, "a2", "a", 2, false),
		ev(event.SampleRecvFirst, 230, "a2", nil),
		ev(event.SampleComplete, 260, "a2", nil),
		turn(300, "a3", "a", 3, true),
		ev(event.SampleRecvFirst, 340, "a3", nil),
		ev(event.SampleComplete, 400, "a3", nil),
		// Conversation b: turn 2 fails.
		turn(120, "b1", "b", 1, false),
		ev(event.SampleRecvFirst, 125, "b1", nil),
		ev(event.SampleComplete, 130, "b1", nil),
		turn(500, "b2", "b", 2, false),
		ev(event.ErrorClient, 510, "b2", &event.ErrorData{Type: "http_status"}),
		ev(event.SampleComplete, 510, "b2", nil),
		// Conversation c: turns 17 and 30 share the "17+" series; it is
		// still open at the end.
		turn(600, "c1", "c", 1, false),
		ev(event.SampleComplete, 601, "c1", nil),
		turn(700, "c17", "c", 17, false),
		ev(event.SampleRecvFirst, 707, "c17", nil),
		ev(event.SampleComplete, 710, "c17", nil),
		turn(800, "c30", "c", 30, false),
		ev(event.SampleRecvFirst, 809, "c30", nil),
		ev(event.SampleComplete, 810, "c30", nil),
		// A single-turn sample.
		ev(event.SampleIssued, 900, "s", nil),
		ev(event.SampleRecvFirst, 901, "s", nil),
		ev(event.SampleComplete, 902, "s", nil),
		ev(event.SessionStopTracking, 1000, "", nil),
		ev(event.SessionEnded, 1000, "", nil),
	}
	a := newAgg(t, aggregator.Config{Streaming: true}, nil)
	a.Process(evs)
	s, err := a.Finalize(metrics.StateComplete)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int64{
		metrics.TrackedConversationsStarted:   3,
		metrics.TrackedConversationsCompleted: 1,
		metrics.TrackedConversationsFailed:    1,
	} {
		if got := s.CounterInt(name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	lat := series(t, s, metrics.SeriesConversationLatency)
	if lat.Count != 1 || lat.Total.String() != "300" {
		t.Errorf("conversation latency %d/%v, want one of 300 (400 − 100)", lat.Count, lat.Total)
	}
	for k, want := range map[int]struct {
		count int64
		total string
	}{1: {2, "15"}, 2: {1, "30"}, 3: {1, "40"}, 17: {2, "16"}} {
		m := series(t, s, metrics.TTFTByTurn(k))
		if m.Count != want.count || m.Total.String() != want.total {
			t.Errorf("turn %d TTFT %d/%v, want %d/%s", k, m.Count, m.Total, want.count, want.total)
		}
	}
	if _, ok := s.Find(metrics.TTFTByTurn(4)); ok {
		t.Error("a turn without samples has a series")
	}
	if ttft := series(t, s, metrics.SeriesTTFT); ttft.Count != 7 {
		t.Errorf("TTFT count %d, want 7 (every tracked first chunk)", ttft.Count)
	}
}

// TestAggregator_NoConversations: a single-turn run's snapshot carries no
// conversation metric.
func TestAggregator_NoConversations(t *testing.T) {
	a := newAgg(t, aggregator.Config{Streaming: true}, nil)
	a.Process([]event.Record{
		ev(event.SessionStarted, 0, "", nil),
		ev(event.SessionStartTracking, 0, "", nil),
		ev(event.SampleIssued, 1, "x", nil),
		ev(event.SampleRecvFirst, 2, "x", nil),
		ev(event.SampleComplete, 3, "x", nil),
		ev(event.SessionEnded, 4, "", nil),
	})
	s, err := a.Finalize(metrics.StateComplete)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{metrics.TrackedConversationsStarted, metrics.SeriesConversationLatency, metrics.TTFTByTurn(1)} {
		if _, ok := s.Find(name); ok {
			t.Errorf("single-turn snapshot has %s", name)
		}
	}
}
