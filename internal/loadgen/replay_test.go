package loadgen_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/loadgen"
)

// TestReplay_IssuesInOrderAtArrivals checks that a replay issues sample i,
// and only it, at Arrivals[i]: the intended times in the sample.issued
// records are the phase start plus the arrivals, and the issue times follow
// them.
func TestReplay_IssuesInOrderAtArrivals(t *testing.T) {
	t.Parallel()
	arr := []time.Duration{0, 0, 3 * time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 40 * time.Millisecond}
	recs, res := collect(t, loadgen.Config{Mode: loadgen.ModeReplay, Arrivals: arr}, dataset3(len(arr)), &fakeDoer{delay: 20 * time.Millisecond}, nil)
	if res.Issued != int64(len(arr)) || res.Completed != int64(len(arr)) {
		t.Fatalf("result %+v, want %d issued and completed", res, len(arr))
	}
	var base int64
	i := 0
	for _, r := range recs {
		p, ok := r.Data.(*event.PromptData)
		if r.Type != event.SampleIssued || !ok {
			continue
		}
		if i == 0 {
			base = p.ScheduledNS
		}
		if p.Index != i+1 {
			t.Errorf("issue %d sent sample %d, want %d", i, p.Index, i+1)
		}
		if got := time.Duration(p.ScheduledNS - base); got != arr[i] {
			t.Errorf("issue %d intended at +%v, want +%v", i, got, arr[i])
		}
		if r.TimestampNS < p.ScheduledNS {
			t.Errorf("issue %d at %d, before its intended time %d", i, r.TimestampNS, p.ScheduledNS)
		}
		i++
	}
	if i != len(arr) {
		t.Errorf("%d issued records, want %d", i, len(arr))
	}
}

// TestReplay_NumSamplesStopsEarly checks that num_samples cuts a replay and
// that a longer count does not cycle the trace.
func TestReplay_NumSamplesStopsEarly(t *testing.T) {
	t.Parallel()
	arr := []time.Duration{0, time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond}
	for _, tc := range []struct{ n, want int64 }{{2, 2}, {10, 4}} {
		_, res := collect(t, loadgen.Config{Mode: loadgen.ModeReplay, Arrivals: arr, NumSamples: int(tc.n)}, dataset3(len(arr)), &fakeDoer{}, nil)
		if res.Issued != tc.want {
			t.Errorf("num_samples %d: issued %d, want %d", tc.n, res.Issued, tc.want)
		}
	}
}

func TestReplay_BadArrivals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		arr  []time.Duration
		n    int
		want string
	}{
		{"count", []time.Duration{0, 1}, 3, "2 arrival times for 3 samples"},
		{"order", []time.Duration{0, 5, 4}, 3, "arrivals[2] 4ns is before arrivals[1] 5ns"},
		{"negative", []time.Duration{-1, 0}, 2, "arrivals[0] -1ns: must not be negative"},
	}
	for _, tc := range tests {
		_, err := loadgen.New(loadgen.Config{Mode: loadgen.ModeReplay, Arrivals: tc.arr}, dataset3(tc.n), &fakeDoer{}, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestReplay_SampleHook checks that Session.Sample replaces the dataset's
// sample: its prompt is what the issued record carries.
func TestReplay_SampleHook(t *testing.T) {
	t.Parallel()
	arr := []time.Duration{0, time.Millisecond, 2 * time.Millisecond}
	recs, _ := collectSetup(t, loadgen.Config{Mode: loadgen.ModeReplay, Arrivals: arr}, dataset3(3), &fakeDoer{}, func(s *loadgen.Session) {
		s.Sample = func(i int) dataset.Sample { return dataset.Sample{Prompt: fmt.Sprint("built ", i)} }
	}, nil)
	var texts []string
	for _, r := range recs {
		if p, ok := r.Data.(*event.PromptData); ok && r.Type == event.SampleIssued {
			texts = append(texts, p.Text)
		}
	}
	if !slices.Equal(texts, []string{"built 0", "built 1", "built 2"}) {
		t.Errorf("issued prompts %q", texts)
	}
}

// TestReplay_Capped replays a trace faster than the server under a
// concurrency cap: the doer never sees more than the cap, every request is
// sent once, each keeps the trace's time as its intended time, and the ones
// that waited carry a release before their send. (Queued requests are
// popped in order but sent from the completions' goroutines, so their
// records may interleave.)
func TestReplay_Capped(t *testing.T) {
	t.Parallel()
	const n = 200
	arr := make([]time.Duration, n)
	for i := range arr {
		arr[i] = time.Duration(i/4) * time.Millisecond // bursts of 4 every ms
	}
	doer := &fakeDoer{delay: 5 * time.Millisecond}
	recs, res := collect(t, loadgen.Config{Mode: loadgen.ModeReplay, Arrivals: arr, MaxConcurrency: 3}, dataset3(n), doer, nil)
	if res.Completed != n || doer.maxSeen.Load() != 3 {
		t.Errorf("completed %d, at most %d in flight: want %d and exactly the cap, 3", res.Completed, doer.maxSeen.Load(), n)
	}
	sched := map[int]int64{}
	waited := 0
	for _, r := range recs {
		p, ok := r.Data.(*event.PromptData)
		if !ok || r.Type != event.SampleIssued {
			continue
		}
		if _, dup := sched[p.Index]; dup {
			t.Fatalf("sample %d sent twice", p.Index)
		}
		sched[p.Index] = p.ScheduledNS
		if p.ReleasedNS < p.ScheduledNS || p.ReleasedNS > r.TimestampNS {
			t.Fatalf("scheduled %d, released %d, sent %d: out of order", p.ScheduledNS, p.ReleasedNS, r.TimestampNS)
		}
		if p.ReleasedNS < r.TimestampNS {
			waited++
		}
	}
	if len(sched) != n || waited < n/2 {
		t.Fatalf("%d sent, %d waited for a slot: want %d sent, most of them after a wait", len(sched), waited, n)
	}
	for i := range n {
		if got := time.Duration(sched[i+1] - sched[1]); got != arr[i] {
			t.Errorf("sample %d intended at +%v, want the trace's +%v", i+1, got, arr[i])
		}
	}
}

// TestReplay_Share checks that sessions sharing a replay (fleet workers)
// take every Of-th request from their Index, each at the trace's time, so
// that together they replay the trace once.
func TestReplay_Share(t *testing.T) {
	t.Parallel()
	arr := []time.Duration{0, 1e6, 2e6, 3e6, 4e6, 5e6, 6e6}
	seen := map[int]time.Duration{}
	for idx := range 3 {
		recs, _ := collect(t, loadgen.Config{Mode: loadgen.ModeReplay, Arrivals: arr, Share: &loadgen.Share{Index: idx, Of: 3}}, dataset3(len(arr)), &fakeDoer{}, nil)
		var first int64
		for _, r := range recs {
			p, ok := r.Data.(*event.PromptData)
			if !ok || r.Type != event.SampleIssued {
				continue
			}
			if first == 0 {
				first = p.ScheduledNS - int64(arr[idx])
			}
			if (p.Index-1)%3 != idx {
				t.Errorf("session %d of 3 sent sample %d", idx, p.Index)
			}
			seen[p.Index-1] = time.Duration(p.ScheduledNS - first)
		}
	}
	for i, at := range arr {
		if got, ok := seen[i]; !ok || got != at {
			t.Errorf("request %d: sent %v at +%v, want once at +%v", i, ok, got, at)
		}
	}
}
