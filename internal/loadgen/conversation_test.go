package loadgen_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/loadgen"
)

func TestParseThinkTime(t *testing.T) {
	tests := []struct {
		in   string
		want loadgen.ThinkTime
		err  string
	}{
		{"", loadgen.ThinkTime{}, ""},
		{"dataset", loadgen.ThinkTime{}, ""},
		{"2s", loadgen.ThinkTime{Kind: loadgen.ThinkFixed, A: 2 * time.Second}, ""},
		{"0", loadgen.ThinkTime{Kind: loadgen.ThinkFixed}, ""},
		{"exp:1.5s", loadgen.ThinkTime{Kind: loadgen.ThinkExp, A: 1500 * time.Millisecond}, ""},
		{"uniform:1s-3s", loadgen.ThinkTime{Kind: loadgen.ThinkUniform, A: time.Second, B: 3 * time.Second}, ""},
		{"uniform:200ms-200ms", loadgen.ThinkTime{Kind: loadgen.ThinkUniform, A: 200 * time.Millisecond, B: 200 * time.Millisecond}, ""},
		{"soon", loadgen.ThinkTime{}, "not a duration"},
		{"-1s", loadgen.ThinkTime{}, "not a duration"},
		{"2h", loadgen.ThinkTime{}, "not a duration from 0 to 1h"},
		{"exp:", loadgen.ThinkTime{}, "not a duration"},
		{"uniform:3s", loadgen.ThinkTime{}, "uniform:LOW-HIGH"},
		{"uniform:3s-1s", loadgen.ThinkTime{}, "below"},
		{"gamma:2s", loadgen.ThinkTime{}, `unknown distribution "gamma"`},
	}
	for _, tc := range tests {
		got, err := loadgen.ParseThinkTime(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("ParseThinkTime(%q) = %v, %v; want an error naming the value and %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseThinkTime(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if back, err := loadgen.ParseThinkTime(got.String()); err != nil || back != got {
			t.Errorf("%q: String %q does not parse back (%+v, %v)", tc.in, got.String(), back, err)
		}
	}
}

// conversations builds n conversations of k turns each.
func conversations(n, k int) *dataset.Dataset {
	ds := &dataset.Dataset{}
	for i := range n {
		c := dataset.Conversation{ID: fmt.Sprint("c", i)}
		for j := range k {
			c.Turns = append(c.Turns, dataset.ConvTurn{User: fmt.Sprintf("c%d u%d", i, j), Reply: "r"})
		}
		ds.Conversations = append(ds.Conversations, c)
		ds.Samples = append(ds.Samples, dataset.Sample{Prompt: c.Turns[0].User})
		ds.Turns += k
	}
	return ds
}

// TestSession_Conversations: in every mode each conversation's turns are
// issued in order, each after the previous one completed, with their turn
// numbers and the last one marked; num_samples counts conversations.
func TestSession_Conversations(t *testing.T) {
	for _, cfg := range []loadgen.Config{
		{Mode: loadgen.ModeOffline, MaxInFlight: 3},
		{Mode: loadgen.ModeConcurrency, Concurrency: 4},
		{Mode: loadgen.ModePoisson, TargetQPS: 2000},
		{Mode: loadgen.ModeConstant, TargetQPS: 2000, NumSamples: 7, TurnDelay: loadgen.ThinkTime{Kind: loadgen.ThinkFixed, A: time.Millisecond}},
	} {
		t.Run(string(cfg.Mode), func(t *testing.T) {
			const n, k = 10, 3
			recs, res := collect(t, cfg, conversations(n, k), &fakeDoer{delay: time.Millisecond}, nil)
			want := n
			if cfg.NumSamples > 0 {
				want = cfg.NumSamples
			}
			if res.ConvStarted != int64(want) || res.ConvCompleted != int64(want) || res.Issued != int64(want*k) {
				t.Fatalf("result %+v, want %d conversations of %d turns", res, want, k)
			}
			if cfg.Mode == loadgen.ModeOffline && res.ConvMaxActive > 3 {
				t.Errorf("%d conversations active at once, max in flight 3", res.ConvMaxActive)
			}
			issued := map[string]event.Record{} // uuid → issued record
			last := map[string]int32{}          // conversation → last turn seen
			done := map[string]int64{}          // conversation → completion of its last turn
			for _, r := range recs {
				switch r.Type {
				case event.SampleIssued:
					issued[r.SampleUUID] = r
					if r.Turn != last[r.ConversationID]+1 || r.LastTurn != (r.Turn == k) {
						t.Fatalf("conversation %s: turn %d (last %v) after turn %d", r.ConversationID, r.Turn, r.LastTurn, last[r.ConversationID])
					}
					if r.Turn > 1 {
						sched := r.Data.(*event.PromptData).ScheduledNS
						if r.TimestampNS < done[r.ConversationID] || sched < done[r.ConversationID]+int64(cfg.TurnDelay.A) {
							t.Fatalf("conversation %s turn %d issued at %d (intended %d) before turn %d completed at %d",
								r.ConversationID, r.Turn, r.TimestampNS, sched, r.Turn-1, done[r.ConversationID])
						}
					}
					last[r.ConversationID] = r.Turn
				case event.SampleComplete:
					done[issued[r.SampleUUID].ConversationID] = r.TimestampNS
				}
			}
			if len(last) != want {
				t.Errorf("%d conversations, want %d", len(last), want)
			}
		})
	}
}

// TestSession_ConversationsStopDuringThinkTime: Stop ends conversations
// waiting out a long think time at once; they count as neither completed
// nor failed.
func TestSession_ConversationsStopDuringThinkTime(t *testing.T) {
	cfg := loadgen.Config{Mode: loadgen.ModeConcurrency, Concurrency: 5, TurnDelay: loadgen.ThinkTime{Kind: loadgen.ThinkFixed, A: time.Hour}}
	start := time.Now()
	_, res := collect(t, cfg, conversations(5, 2), &fakeDoer{}, func(s *loadgen.Session) {
		time.Sleep(100 * time.Millisecond)
		s.Stop()
	})
	if time.Since(start) > 30*time.Second {
		t.Fatalf("the run took %v after Stop", time.Since(start))
	}
	if !res.Stopped || res.ConvStarted != 5 || res.ConvCompleted != 0 || res.ConvFailed != 0 || res.Issued != 5 {
		t.Errorf("result %+v, want 5 conversations started, cut short after their first turn", res)
	}
}

// TestSession_ConversationFailedTurn: a failed turn ends its conversation.
func TestSession_ConversationFailedTurn(t *testing.T) {
	cfg := loadgen.Config{Mode: loadgen.ModeConcurrency, Concurrency: 1}
	recs, res := collect(t, cfg, conversations(4, 5), &fakeDoer{failEvery: 3}, nil)
	// Requests 3, 6, 9… fail: conversation 1 fails at its turn 3, the next
	// at its turn 3 (request 6 is the next one's third)…
	if res.ConvFailed == 0 || res.ConvFailed+res.ConvCompleted != 4 || res.Failed != res.ConvFailed {
		t.Errorf("result %+v", res)
	}
	turns := map[string]int32{}
	for _, r := range recs {
		if r.Type == event.SampleIssued {
			turns[r.ConversationID] = r.Turn
		}
	}
	for c, n := range turns {
		if n != 3 && n != 5 {
			t.Errorf("conversation %s ended at turn %d", c, n)
		}
	}
}

func TestNew_ConversationSettings(t *testing.T) {
	cfg := loadgen.Config{Mode: loadgen.ModeOffline, RecordedHistory: true}
	if _, err := loadgen.New(cfg, dataset3(2), &fakeDoer{}, bus.NewInProc[event.Record](0)); err == nil || !strings.Contains(err.Error(), "multi-turn") {
		t.Errorf("history settings on a single-turn dataset: %v", err)
	}
}
