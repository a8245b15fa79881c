package loadgen_test

import (
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/loadgen"
)

// TestSession_CapStop stops a capped session whose queue is long: the
// queued requests are dropped unsent, the one in flight is cancelled after
// the grace period, and Run returns with every issued request completed.
func TestSession_CapStop(t *testing.T) {
	doer := &fakeDoer{delay: 5 * time.Second}
	start := time.Now()
	recs, res := collect(t, loadgen.Config{Mode: loadgen.ModeConstant, TargetQPS: 200, NumSamples: 1000, MaxConcurrency: 2,
		GracePeriod: 50 * time.Millisecond}, dataset3(5), doer, func(s *loadgen.Session) {
		time.Sleep(200 * time.Millisecond)
		s.Stop()
	})
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Run took %v after a stop with a full queue", el)
	}
	if !res.Stopped || res.Issued != 2 || res.Completed != 2 || doer.maxSeen.Load() != 2 {
		t.Errorf("result %+v, %d in flight at most: want 2 issued (the cap) and completed, the queue dropped", res, doer.maxSeen.Load())
	}
	for _, r := range recs {
		if p, ok := r.Data.(*event.PromptData); ok && r.Type == event.SampleIssued && (p.ReleasedNS != r.TimestampNS || p.ScheduledNS == 0) {
			t.Errorf("issued with a free slot: released %d, sent %d, scheduled %d", p.ReleasedNS, r.TimestampNS, p.ScheduledNS)
		}
	}
}

// TestSession_CapInFlight runs a capped Poisson schedule faster than the
// server: the doer never sees more than the cap, every request is sent, and
// the waiting ones carry a release before their send.
func TestSession_CapInFlight(t *testing.T) {
	doer := &fakeDoer{delay: 5 * time.Millisecond}
	recs, res := collect(t, loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 2000, NumSamples: 300, MaxConcurrency: 3}, dataset3(10), doer, nil)
	if res.Completed != 300 || doer.maxSeen.Load() != 3 {
		t.Errorf("completed %d, at most %d in flight: want 300 and exactly the cap, 3", res.Completed, doer.maxSeen.Load())
	}
	waited := 0
	for _, r := range recs {
		p, ok := r.Data.(*event.PromptData)
		if !ok || r.Type != event.SampleIssued {
			continue
		}
		if p.ReleasedNS < p.ScheduledNS || p.ReleasedNS > r.TimestampNS {
			t.Fatalf("scheduled %d, released %d, sent %d: out of order", p.ScheduledNS, p.ReleasedNS, r.TimestampNS)
		}
		if p.ReleasedNS < r.TimestampNS {
			waited++
		}
	}
	if waited < 100 {
		t.Errorf("only %d of 300 requests waited for a slot at 2000/s against 3 slots of 5 ms", waited)
	}
}
