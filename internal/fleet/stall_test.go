package fleet_test

import (
	"context"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/fleet"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
)

// stallPub is the run's bus behind a consumer that stalls once: once
// after records have been published, every publish waits until the stall
// is over (an aggregator, event log or disk that stopped for a while).
type stallPub struct {
	bus.Publisher[event.Record]
	after int64
	d     time.Duration

	n        atomic.Int64
	once     sync.Once
	mu       sync.Mutex
	from, to time.Time
}

func (s *stallPub) wait(k int) {
	if s.n.Add(int64(k)) >= s.after {
		s.once.Do(func() {
			s.mu.Lock()
			s.from = time.Now()
			s.to = s.from.Add(s.d)
			s.mu.Unlock()
		})
	}
	s.mu.Lock()
	to := s.to
	s.mu.Unlock()
	if d := time.Until(to); d > 0 {
		time.Sleep(d)
	}
}

func (s *stallPub) Publish(r event.Record) error {
	s.wait(1)
	return s.Publisher.Publish(r)
}

func (s *stallPub) PublishBatch(rs []event.Record) error {
	s.wait(len(rs))
	if b, ok := s.Publisher.(interface{ PublishBatch([]event.Record) error }); ok {
		return b.PublishBatch(rs)
	}
	for _, r := range rs {
		if err := s.Publisher.Publish(r); err != nil {
			return err
		}
	}
	return nil
}

// stalled is when the stall began (zero if it never did).
func (s *stallPub) stalled() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.from
}

// fleetRun is a fleet run embedded under another name than its method Run.
type fleetRun = fleet.Run

// lostAtEnd is a fleet run that notes which workers were lost when it
// ended.
type lostAtEnd struct {
	*fleetRun
	lost []string
}

func (s *lostAtEnd) Run(ctx context.Context) (loadgen.Result, error) {
	res, err := s.fleetRun.Run(ctx)
	s.lost = s.fleetRun.Lost()
	return res, err
}

// worstRe finds the worst clock-offset uncertainty in the fleet's report line.
var worstRe = regexp.MustCompile(`within ±(\S+) \(worst clock-offset uncertainty`)

// TestFleet_ConsumerStall: the coordinator's consumer (everything behind
// its event ingest: the bus, the aggregator, the event log, the disk)
// stalls once for 2.5 times the fleet timeout in the middle of a run.
// Backpressure slows the workers and kills nothing: no worker is lost, the
// workers do not lose the coordinator (they return nil), the counts are
// exact, and the clock offsets stay as certain as the network makes them
// (the coordinator's own stall is not a round trip).
func TestFleet_ConsumerStall(t *testing.T) {
	// 2 s, not less: on a loaded 2-core machine under the race detector
	// a process may not be scheduled for a good fraction of a second.
	const timeout = 2 * time.Second
	const stall = 5 * timeout / 2
	url := startMock(t, mockserver.Config{TTFT: time.Millisecond, TPOT: 100 * time.Microsecond, OutputTokens: 8})
	for _, tc := range []struct {
		name   string
		mutate func(*config.Run)
		n      int64
	}{
		// A paced run: the stall falls in its middle, the workers issue on.
		{"poisson", func(c *config.Run) {
			c.Load.Mode = "poisson"
			c.Load.TargetQPS = 300
			c.Load.NumSamples = 1200
		}, 1200},
		// As fast as the mock answers, for longer than the stall: many
		// more frames than the coordinator's queues hold come meanwhile.
		{"offline", func(c *config.Run) {
			c.Load.NumSamples = 10000
			c.Load.MaxInFlight = 32
		}, 10000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := runConfig(t, url, func(c *config.Run) {
				tc.mutate(c)
				c.EventLog = "off"
			})
			names := []string{"s0", "s1"}
			c, wait := startFleet(t, timeout, timeout, names...)
			var src *lostAtEnd
			sp := &stallPub{after: 300, d: stall}
			out := runBench(t, cfg, func(r *bench.Runner) {
				r.NewSource = func(pub bus.Publisher[event.Record]) (bench.Source, error) {
					sp.Publisher = pub
					run, err := c.Source(r.Config(), r.Dataset(), sp)
					if err != nil {
						return nil, err
					}
					src = &lostAtEnd{fleetRun: run}
					return src, nil
				}
			})
			errs := wait()
			if sp.stalled().IsZero() {
				t.Fatal("the consumer never stalled: the test tests nothing")
			}
			for i, err := range errs {
				if err != nil {
					t.Errorf("worker %s: %v; want nil (the coordinator was only slow)", names[i], err)
				}
			}
			if lost := src.lost; len(lost) > 0 {
				t.Errorf("workers lost: %v; want none (the coordinator's own stall is not their silence)", lost)
			}
			f := &out.Final
			if f.State != metrics.StateComplete {
				t.Errorf("state %s, want complete", f.State)
			}
			issued, completed, failed := counter(t, f, metrics.TrackedIssued), counter(t, f, metrics.TrackedCompleted), counter(t, f, metrics.TrackedFailed)
			if issued != completed+failed || completed != tc.n || failed != 0 {
				t.Errorf("tracked issued %d, completed %d, failed %d: want %d issued and completed, none failed", issued, completed, failed, tc.n)
			}
			if got := counter(t, f, metrics.TotalIssued); got != tc.n {
				t.Errorf("total issued %d, want %d", got, tc.n)
			}
			// The worst uncertainty of the offsets used: a round trip of
			// this loopback, not the stall (a pong read after the stall
			// would say ±seconds/2).
			var worst time.Duration
			for _, w := range out.Report.Warnings {
				if m := worstRe.FindStringSubmatch(w); m != nil {
					var err error
					if worst, err = time.ParseDuration(m[1]); err != nil {
						t.Fatalf("worst uncertainty %q: %v", m[1], err)
					}
				}
			}
			if worst <= 0 || worst > 50*time.Millisecond {
				t.Errorf("worst clock-offset uncertainty %v: want a loopback round trip (0 < it ≤ 50ms), not the stall; warnings %q",
					worst, out.Report.Warnings)
			}
			t.Logf("stall %v; worst clock-offset uncertainty %v", stall, worst)
		})
	}
}

// TestFleet_NoLossAfterRun: once a run ended its workers leave (released,
// --once); a coordinator still open, while the report is written, must not
// find them silent and call them lost, however long that takes.
func TestFleet_NoLossAfterRun(t *testing.T) {
	const timeout = 500 * time.Millisecond
	url := startMock(t, mockserver.Config{OutputTokens: 4})
	cfg := runConfig(t, url, func(c *config.Run) { c.Load.NumSamples = 40; c.EventLog = "off" })
	c, wait := startFleet(t, timeout, 10*time.Second, "e0", "e1")
	var run *fleet.Run
	out := runBench(t, cfg, func(r *bench.Runner) {
		r.NewSource = func(pub bus.Publisher[event.Record]) (bench.Source, error) {
			var err error
			run, err = c.Source(r.Config(), r.Dataset(), pub)
			return run, err
		}
	})
	wait() // the workers left
	if got := counter(t, &out.Final, metrics.TrackedCompleted); got != 40 {
		t.Fatalf("completed %d, want 40", got)
	}
	time.Sleep(4 * timeout) // a slow report, the coordinator still open
	if lost := run.Lost(); len(lost) > 0 {
		t.Errorf("workers lost after the run ended: %v", lost)
	}
	for _, n := range run.Notes() {
		if regexp.MustCompile(`was lost`).MatchString(n) {
			t.Errorf("the report would say: %s", n)
		}
	}
}
