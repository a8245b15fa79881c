package loadgen_test

import (
	"context"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/loadgen"
)

// TestSession_TrackStart: a TrackStart set by BeforeTracking is the instant
// the tracked schedule counts from, to the nanosecond, whenever the phase
// actually begins (a fleet worker's replay keeps the trace's times on the
// coordinator's one timeline), for a replay and for a constant rate.
func TestSession_TrackStart(t *testing.T) {
	t.Parallel()
	arr := []time.Duration{0, 1e6, 2500e3, 4e6}
	for _, cfg := range []loadgen.Config{
		{Mode: loadgen.ModeReplay, Arrivals: arr, WarmupSamples: 2},
		{Mode: loadgen.ModeConstant, TargetQPS: 1000, NumSamples: 4},
	} {
		b := bus.NewInProc[event.Record](0)
		sub := b.Subscribe()
		s, err := loadgen.New(cfg, dataset3(len(arr)), &fakeDoer{}, b)
		if err != nil {
			t.Fatal(err)
		}
		var at int64
		s.BeforeTracking = func() bool {
			// An instant already past: the schedule must still count from it.
			at = event.Now() - int64(3*time.Millisecond)
			s.TrackStart = at
			return true
		}
		if _, err := s.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		_ = b.Close()
		var got []time.Duration
		for {
			batch, err := sub.Next(context.Background())
			if err != nil {
				break
			}
			for _, r := range batch {
				if p, ok := r.Data.(*event.PromptData); ok && r.Type == event.SampleIssued && p.ScheduledNS != 0 {
					got = append(got, time.Duration(p.ScheduledNS-at))
				}
			}
		}
		want := arr
		if cfg.Mode == loadgen.ModeConstant {
			want = []time.Duration{0, 1e6, 2e6, 3e6}
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d scheduled requests %v, want %v", cfg.Mode, len(got), got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: request %d intended at TrackStart+%v, want +%v", cfg.Mode, i, got[i], want[i])
			}
		}
	}
}
