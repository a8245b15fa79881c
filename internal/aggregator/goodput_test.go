package aggregator_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
)

// goodputEvents: samples with (ttft, latency) in µs and an output of four
// words in four chunks; one fails.
func goodputEvents() []event.Record {
	events := []event.Record{ev(event.SessionStarted, 0, "", nil), ev(event.SessionStartTracking, 0, "", nil)}
	for i, c := range []struct {
		ttft, latency int64
		fail          bool
	}{
		{100, 400, false},  // good
		{300, 500, false},  // TTFT over 200
		{100, 2000, false}, // latency over 1000; TPOT 633 µs over 500
		{150, 900, false},  // TPOT (900−150)/3 = 250 µs: good
		{100, 400, true},   // failed
		{100, 1000, false}, // TPOT 300 µs, latency at the bound: good
	} {
		id := fmt.Sprintf("s%d", i)
		base := int64(i) * 10_000_000
		events = append(events,
			ev(event.SampleIssued, base, id, &event.PromptData{Text: "a b"}),
			ev(event.SampleRecvFirst, base+c.ttft*1000, id, nil))
		if c.fail {
			events = append(events, ev(event.ErrorGeneric, base+c.latency*1000, id, &event.ErrorData{Type: "http_500"}))
		}
		events = append(events, ev(event.SampleComplete, base+c.latency*1000, id,
			&event.Output{Text: "w w w w", Streamed: true, FirstChunkLen: 2,
				Usage: &event.Usage{PromptTokens: 2, CompletionTokens: 4}}))
	}
	return append(events, ev(event.SessionEnded, 100_000_000, "", nil))
}

func TestAggregator_Goodput(t *testing.T) {
	rule := &aggregator.GoodputBounds{TTFT: 200_000, Latency: 1_000_000, TPOT: 500_000}
	for _, tc := range []struct {
		name string
		cfg  aggregator.Config
	}{
		{"usage", aggregator.Config{Streaming: true, Goodput: rule}},
		{"tokenizer", aggregator.Config{Streaming: true, Goodput: rule, Tokenizer: wordCounter{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgg(t, tc.cfg, nil)
			s, err := a.Run(context.Background(), feed(goodputEvents()))
			if err != nil {
				t.Fatal(err)
			}
			if g := s.CounterInt(metrics.TrackedGood); g != 3 {
				t.Errorf("good samples %d, want 3", g)
			}
			if g := s.CounterInt(metrics.TrackedGoodTokens); g != 12 {
				t.Errorf("good tokens %d, want 12", g)
			}
			if span := s.CounterInt(metrics.TrackedIssueDuration); span != 50_000_000 {
				t.Errorf("issue duration %d, want 50 ms", span)
			}
		})
	}
	// Without a rule there are no goodput counters.
	a := newAgg(t, aggregator.Config{Streaming: true}, nil)
	s, _ := a.Run(context.Background(), feed(goodputEvents()))
	if _, ok := s.Find(metrics.TrackedGood); ok {
		t.Error("goodput counter without a rule")
	}
}
