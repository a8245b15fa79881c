package aggregator_test

import (
	"context"
	"testing"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
)

// TestAggregator_TurnISLRecordedHistory: with a tokenizer, turn 2's ISL is
// turn 1's message and reply plus its own message (3 + 2 + 4 words); when
// its record says the history was the dataset's recorded one, whether or
// not the aggregator's configuration says so, it is the server's usage (50)
// instead: the replies sent are not the ones recorded.
func TestAggregator_TurnISLRecordedHistory(t *testing.T) {
	events := func(recorded bool) []event.Record {
		t1 := turn(100, "a1", "a", 1, false)
		t1.Data, t1.RecordedHistory = &event.PromptData{Text: "one two three"}, recorded
		t2 := turn(300, "a2", "a", 2, true)
		t2.Data, t2.RecordedHistory = &event.PromptData{Text: "four five six seven"}, recorded
		return []event.Record{
			ev(event.SessionStarted, 0, "", nil),
			ev(event.SessionStartTracking, 0, "", nil),
			t1,
			ev(event.SampleComplete, 200, "a1", &event.Output{Text: "server reply", Usage: &event.Usage{PromptTokens: 20, CompletionTokens: 2}}),
			t2,
			ev(event.SampleComplete, 400, "a2", &event.Output{Text: "done", Usage: &event.Usage{PromptTokens: 50, CompletionTokens: 1}}),
			ev(event.SessionEnded, 500, "", nil),
		}
	}
	for _, tc := range []struct {
		name             string
		configured, mark bool
		want             string // the ISL series' total
	}{
		{"server history", false, false, "12"}, // 3 + (3+2+4)
		{"recorded, said by the records", false, true, "53"},
		{"recorded, said by the configuration", true, false, "53"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgg(t, aggregator.Config{Tokenizer: wordCounter{}, RecordedHistory: tc.configured}, nil)
			s, err := a.Run(context.Background(), feed(events(tc.mark)))
			if err != nil {
				t.Fatal(err)
			}
			if isl := series(t, s, metrics.SeriesISL); isl.Count != 2 || isl.Total.String() != tc.want {
				t.Errorf("ISL count %d total %v, want 2 values totalling %s", isl.Count, isl.Total, tc.want)
			}
		})
	}
}
