package loadgen

import (
	"testing"
	"time"
)

func TestWorkerPlan_Ramp(t *testing.T) {
	p := newWorkerPlan(Config{Mode: ModeConcurrency, Concurrency: 5, RampUp: 400 * time.Millisecond})
	if p.n != 5 || !p.shaped() {
		t.Fatalf("plan %+v", p)
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		at   time.Duration
		want int
	}{{0, 1}, {99 * ms, 1}, {100 * ms, 2}, {250 * ms, 3}, {300 * ms, 4}, {399 * ms, 4}, {400 * ms, 5}, {time.Hour, 5}} {
		if got, ok := p.Level(tc.at); got != tc.want || !ok {
			t.Errorf("Level(%v) = %d, %v; want %d", tc.at, got, ok, tc.want)
		}
	}
	for k, want := range []time.Duration{0, 100 * ms, 200 * ms, 300 * ms, 400 * ms} {
		got, ok := p.nextActive(k, 0)
		if !ok || got != want {
			t.Errorf("worker %d starts at %v, %v; want %v", k, got, ok, want)
		}
		// Its start is the first nanosecond at which the level exceeds k.
		if lvl, _ := p.Level(got); lvl <= k {
			t.Errorf("worker %d: level %d at its start", k, lvl)
		}
		if got > 0 {
			if lvl, _ := p.Level(got - 1); lvl > k {
				t.Errorf("worker %d: level %d a nanosecond before its start", k, lvl)
			}
		}
		if got, _ := p.nextActive(k, time.Second); got != time.Second {
			t.Errorf("worker %d after the ramp: next active %v, want now", k, got)
		}
	}
}

func TestWorkerPlan_Stages(t *testing.T) {
	s := time.Second
	p := newWorkerPlan(Config{Mode: ModeConcurrency, Stages: []Stage{{QPS: 2, Duration: s}, {QPS: 4, Duration: s}, {QPS: 1, Duration: 2 * s}, {QPS: 3, Duration: s}}})
	if p.n != 4 {
		t.Fatalf("%d workers, want the highest stage's 4", p.n)
	}
	for _, tc := range []struct {
		k      int
		at     time.Duration
		want   time.Duration
		wantOK bool
	}{
		{0, 0, 0, true},
		{1, 0, 0, true},
		{2, 0, s, true}, // parked until stage 2
		{3, 1500 * time.Millisecond, 1500 * time.Millisecond, true},
		{3, 2 * s, 0, false},                      // no later stage has 4
		{1, 2500 * time.Millisecond, 4 * s, true}, // parked through the stage of 1
		{2, 4 * s, 4 * s, true},
		{0, 5 * s, 0, false}, // the stages are over
	} {
		got, ok := p.nextActive(tc.k, tc.at)
		if ok != tc.wantOK || (ok && got != tc.want) {
			t.Errorf("nextActive(%d, %v) = %v, %v; want %v, %v", tc.k, tc.at, got, ok, tc.want, tc.wantOK)
		}
	}
	if _, ok := p.Level(5 * s); ok {
		t.Error("a level after the last stage")
	}
}
