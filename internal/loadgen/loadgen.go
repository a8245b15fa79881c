// Package loadgen issues a run's requests on a schedule and publishes the
// per-sample event stream.
//
// A [Session] runs an optional warmup phase (untracked), then the performance
// phase inside a tracking window, and brackets everything with
// session.started and session.ended. Schedules ([Mode]):
//
//   - offline: issue as fast as possible, at most MaxInFlight at a time.
//   - poisson: open loop; inter-arrival times are exponential with mean
//     1/TargetQPS (seeded), so arrivals form a Poisson process.
//   - constant: open loop; one request every 1/TargetQPS.
//   - concurrency: closed loop; Concurrency workers each issue their next
//     request when the previous one completes.
//   - replay: open loop; sample i is issued at Arrivals[i], a recorded
//     trace's times (see [ModeReplay]).
//
// Open-loop rates may be shaped (see [Schedule]): Burstiness K makes the
// poisson gaps gamma-distributed with shape K; RampUp grows the rate linearly
// from 0; Stages make it piecewise constant. MaxConcurrency caps the requests
// in flight of an open-loop schedule; the wait for a slot is measured apart
// from the scheduler's lateness (cap.go). RampUp and Stages also shape the
// worker count of the concurrency schedule (workers.go).
//
// Open-loop schedules never wait for the server: a slow server does not delay
// issue times. The intended time travels in the sample.issued record, so the
// scheduler's lateness (actual − intended) is measured for every sample.
//
// A dataset of conversations (dataset.LoadConversations) runs as multi-turn
// sessions: the schedules start conversations instead of requests, and a
// conversation's next turn follows its previous turn's completion plus a
// think time (see conversation.go).
//
// Samples are drawn without replacement in a seeded order, reshuffled after
// each pass. A failed request publishes its error record before its
// completion record: the completion removes the sample's tracked row.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
)

// Mode is a schedule.
type Mode string

// The schedules.
const (
	ModeOffline     Mode = "offline"
	ModePoisson     Mode = "poisson"
	ModeConstant    Mode = "constant"
	ModeConcurrency Mode = "concurrency"
	ModeReplay      Mode = "replay" // see replay.go
)

// maxStageWorkers bounds the workers of a concurrency stage: each is a
// goroutine.
const maxStageWorkers = 1 << 20

// Defaults of [Config].
const (
	DefaultMaxInFlight = 1024
	DefaultSeed        = 42
	DefaultGracePeriod = 5 * time.Second
)

// Config configures a Session.
type Config struct {
	Mode        Mode    `yaml:"mode"`
	TargetQPS   float64 `yaml:"target_qps"`    // poisson, constant
	Concurrency int     `yaml:"concurrency"`   // concurrency
	MaxInFlight int     `yaml:"max_in_flight"` // offline bound; 0 means DefaultMaxInFlight
	// NumSamples is how many samples the performance phase issues; 0 means one
	// pass over the dataset unless Duration is set.
	NumSamples int `yaml:"num_samples"`
	// Duration stops issuing after this long (0: no limit).
	Duration time.Duration `yaml:"duration"`
	// MinDuration keeps issuing (cycling the dataset) until at least this long
	// has passed, even when NumSamples were issued.
	MinDuration time.Duration `yaml:"min_duration"`
	// WarmupSamples are issued before the tracking window and not measured.
	WarmupSamples int `yaml:"warmup_samples"`
	// MaxTokens is the output cap of samples that do not set their own.
	MaxTokens int `yaml:"max_tokens"`
	// Seed seeds the arrival times; SampleSeed the sample order.
	Seed       uint64 `yaml:"seed"`
	SampleSeed uint64 `yaml:"sample_seed"`
	// GracePeriod is how long in-flight requests may finish after Stop.
	GracePeriod time.Duration `yaml:"grace_period"`
	// Burstiness is the shape K of the gamma inter-arrival times of a
	// poisson schedule (mean 1/TargetQPS): 1 (or 0, unset) is Poisson, below
	// 1 burstier, above 1 smoother (vLLM's semantics).
	Burstiness float64 `yaml:"burstiness"`
	// RampUp grows the rate linearly from 0 to TargetQPS over this long, then
	// holds it (poisson, constant).
	RampUp time.Duration `yaml:"ramp_up"`
	// Stages, when set, replace TargetQPS with a piecewise-constant rate;
	// issuing ends after the last stage.
	Stages []Stage `yaml:"stages"`
	// MaxConcurrency, when > 0, caps the requests in flight of a poisson or
	// constant schedule: a request whose time has come waits FIFO for a
	// free slot, and that wait is measured apart (see cap.go).
	MaxConcurrency int `yaml:"max_concurrency"`
	// TurnDelay is the think time between the turns of a conversation
	// (multi-turn datasets; see conversation.go); the zero value uses the
	// dataset's own delays.
	TurnDelay ThinkTime `yaml:"turn_delay"`
	// RecordedHistory makes a conversation's history carry the dataset's
	// recorded replies instead of the server's actual ones.
	RecordedHistory bool `yaml:"recorded_history"`
	// Share, when set, makes this session one of several that together run
	// one benchmark (a fleet worker): see [Share].
	Share *Share `yaml:"-"`
	// Arrivals are a replay's intended issue times, offsets from the
	// start of the phase: sample i is issued at Arrivals[i] (see
	// [ModeReplay]).
	Arrivals []time.Duration `yaml:"-"`
}

// Validate checks the configuration; errors name the field.
func (c *Config) Validate() error {
	switch c.Mode {
	case ModeOffline:
	case ModePoisson, ModeConstant:
		if len(c.Stages) == 0 && (!(c.TargetQPS > 0) || math.IsInf(c.TargetQPS, 0)) {
			return fmt.Errorf("target_qps %v: a %s schedule needs a positive rate", c.TargetQPS, c.Mode)
		}
	case ModeConcurrency:
		if len(c.Stages) == 0 && c.Concurrency <= 0 {
			return fmt.Errorf("concurrency %d: must be at least 1", c.Concurrency)
		}
		for i, st := range c.Stages {
			if st.QPS != math.Trunc(st.QPS) || st.QPS < 1 || st.QPS > maxStageWorkers {
				return fmt.Errorf("stages[%d] %v:%v: a concurrency stage wants a whole number of workers from 1 to %d", i, st.QPS, st.Duration, maxStageWorkers)
			}
		}
	case ModeReplay:
		if err := validateArrivals(c.Arrivals); err != nil {
			return err
		}
	default:
		return fmt.Errorf("mode %q: want offline, poisson, constant, concurrency or replay", c.Mode)
	}
	if c.Burstiness < 0 || math.IsNaN(c.Burstiness) || math.IsInf(c.Burstiness, 0) {
		return fmt.Errorf("burstiness %v: must be > 0 (1 is Poisson)", c.Burstiness)
	}
	if c.Burstiness > 0 && c.Mode != ModePoisson {
		return fmt.Errorf("burstiness %v: applies to poisson arrivals only, not %s", c.Burstiness, c.Mode)
	}
	if c.RampUp < 0 {
		return fmt.Errorf("ramp_up %v: must not be negative", c.RampUp)
	}
	if (c.RampUp > 0 || len(c.Stages) > 0) && c.Mode != ModePoisson && c.Mode != ModeConstant && c.Mode != ModeConcurrency {
		return fmt.Errorf("ramp_up and stages apply to poisson, constant or concurrency schedules, not %s", c.Mode)
	}
	if c.RampUp > 0 && len(c.Stages) > 0 {
		return errors.New("ramp_up and stages: choose one")
	}
	for i, st := range c.Stages {
		if !(st.QPS > 0) || math.IsInf(st.QPS, 0) || st.Duration <= 0 {
			return fmt.Errorf("stages[%d] %v:%v: want a positive rate and duration", i, st.QPS, st.Duration)
		}
	}
	if c.MaxConcurrency < 0 {
		return fmt.Errorf("max_concurrency %d: must be at least 1 (0: no cap)", c.MaxConcurrency)
	}
	if c.MaxConcurrency > 0 && c.Mode != ModePoisson && c.Mode != ModeConstant && c.Mode != ModeReplay {
		return fmt.Errorf("max_concurrency %d: caps poisson, constant or replay arrivals, not %s", c.MaxConcurrency, c.Mode)
	}
	if c.NumSamples < 0 || c.WarmupSamples < 0 || c.MaxInFlight < 0 {
		return errors.New("num_samples, warmup_samples and max_in_flight must not be negative")
	}
	if c.Duration < 0 || c.MinDuration < 0 {
		return errors.New("duration and min_duration must not be negative")
	}
	if c.Duration > 0 && c.MinDuration > c.Duration {
		return fmt.Errorf("min_duration %v exceeds duration %v", c.MinDuration, c.Duration)
	}
	return nil
}

// Doer sends one request and reports its chunks; *client.Client is one.
type Doer interface {
	Do(ctx context.Context, req *client.Request, obs client.Observer) (*event.Output, error)
}

// Result summarizes what a session did.
type Result struct {
	Issued, Completed, Failed int64 // performance phase
	Stopped                   bool  // Stop or ctx ended the run early
	Start, End                int64 // event.Now() at started and ended
	// Conversations of the performance phase (multi-turn datasets): started,
	// completed (every turn succeeded), failed (a turn failed; its later
	// turns were not sent) and the most active at once. Started −
	// completed − failed were cut short by Stop or the duration.
	ConvStarted, ConvCompleted, ConvFailed, ConvMaxActive int64
}

// Session runs one benchmark. Run it once.
type Session struct {
	cfg  Config
	ds   *dataset.Dataset
	doer Doer
	pub  bus.Publisher[event.Record]

	// OnComplete, when set, is called for every finished sample with its
	// dataset index (from the request's goroutine; it must be safe for
	// concurrent use). Tests and accuracy checks use it.
	OnComplete func(index int, out *event.Output, err error)
	// Sample, when set before Run, gives the sample of a dataset index in
	// place of the dataset's own (a replay's prompts are built as they
	// come due; see replay.go). It must be safe for concurrent use.
	Sample func(index int) dataset.Sample

	order   *sampleOrder
	uuidHi  string
	uuidSeq atomic.Uint64

	stop     chan struct{}
	stopOnce sync.Once
	abort    context.CancelFunc // cancels in-flight requests

	issued, completed, failed atomic.Int64
	pubErr                    atomic.Pointer[error]

	convSeq atomic.Uint64 // conversations started, warmup included
	convs   convCounters
	waker   turnWaker
	// BeforeTracking, when set, is called between the warmup and the
	// tracked phase (after every warmup request finished); false stops the
	// session there. A fleet worker waits in it for the coordinated start
	// of the tracked phase.
	BeforeTracking func() bool
	// TrackStart, when BeforeTracking sets it (event clock), is the
	// instant the tracked phase's schedule counts from, in place of the
	// moment the phase begins: sessions that start together (fleet
	// workers) then share one timeline to the nanosecond, so a replay's
	// intended times are the trace's on every worker.
	TrackStart int64
}

// New prepares a session over ds, sending through doer and publishing events on pub.
func New(cfg Config, ds *dataset.Dataset, doer Doer, pub bus.Publisher[event.Record]) (*Session, error) {
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.GracePeriod == 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	if ds == nil || len(ds.Samples) == 0 {
		return nil, errors.New("loadgen: the dataset has no samples")
	}
	if err := cfg.validateConversations(ds.Conversations != nil); err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	if cfg.Mode == ModeReplay && len(cfg.Arrivals) != len(ds.Samples) {
		return nil, fmt.Errorf("loadgen: replay: %d arrival times for %d samples", len(cfg.Arrivals), len(ds.Samples))
	}
	hi := rand.Uint64()
	return &Session{
		cfg:    cfg,
		ds:     ds,
		doer:   doer,
		pub:    pub,
		order:  newSampleOrder(len(ds.Samples), cfg.SampleSeed).share(cfg.Share),
		uuidHi: fmt.Sprintf("%016x", hi),
		stop:   make(chan struct{}),
	}, nil
}

// Stop asks the session to stop issuing; in-flight requests get the grace
// period, then are cancelled. It returns true the first time.
func (s *Session) Stop() bool {
	first := false
	s.stopOnce.Do(func() { close(s.stop); first = true })
	return first
}

func (s *Session) stopped() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// Run executes the session: started, warmup, the tracked performance phase,
// ended. Cancelling ctx aborts in-flight requests at once; session.ended is
// still published so consumers finalize. Run returns an error only when
// events could not be published.
func (s *Session) Run(ctx context.Context) (Result, error) {
	reqCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	s.abort = abort
	finished := make(chan struct{})
	defer func() { close(finished); abort() }()
	// In-flight requests outlive a Stop by the grace period and a cancelled
	// ctx not at all.
	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
			abort()
		case <-s.stop:
			grace := time.NewTimer(s.cfg.GracePeriod)
			defer grace.Stop()
			select {
			case <-ctx.Done():
				abort()
			case <-grace.C:
				abort()
			case <-finished:
			}
		case <-finished:
		}
	}()

	res := Result{Start: event.Now()}
	s.session(event.SessionStarted)
	if s.cfg.WarmupSamples > 0 {
		var wg sync.WaitGroup
		s.runPhase(reqCtx, &wg, false, s.cfg.WarmupSamples, 0, 0)
		wg.Wait()
	}
	if s.BeforeTracking != nil && !s.stopped() && !s.BeforeTracking() {
		s.Stop()
	}
	if !s.stopped() {
		s.session(event.SessionStartTracking)
		var wg sync.WaitGroup
		n := s.cfg.NumSamples
		if n == 0 && s.cfg.Duration == 0 && s.cfg.MinDuration == 0 {
			n = len(s.ds.Samples)
		}
		s.runPhase(reqCtx, &wg, true, n, s.cfg.Duration, s.cfg.MinDuration)
		wg.Wait()
		s.session(event.SessionStopTracking)
	}
	res.Stopped = s.stopped()
	if res.Stopped {
		s.session(event.SessionStopLoadgen)
	}
	res.End = event.Now()
	s.session(event.SessionEnded)
	res.Issued, res.Completed, res.Failed = s.issued.Load(), s.completed.Load(), s.failed.Load()
	s.convs.mu.Lock()
	res.ConvStarted, res.ConvCompleted, res.ConvFailed = s.convs.started, s.convs.completed, s.convs.failed
	res.ConvMaxActive = s.convs.maxActive
	s.convs.mu.Unlock()
	if p := s.pubErr.Load(); p != nil {
		return res, *p
	}
	return res, nil
}

// session publishes a session record and flushes, so that buffered sample
// records go out first and the control signal is not delayed.
func (s *Session) session(t event.Type) {
	s.publish(event.Record{Type: t, TimestampNS: event.Now()})
	if err := s.pub.Flush(); err != nil {
		s.pubErr.CompareAndSwap(nil, &err)
	}
}

func (s *Session) publish(r event.Record) {
	if err := s.pub.Publish(r); err != nil {
		s.pubErr.CompareAndSwap(nil, &err)
	}
}

// phaseLimits decides when a phase stops issuing.
type phaseLimits struct {
	n              int // 0: no count limit
	until, atLeast int64
}

func (l *phaseLimits) done(issued int, now int64) bool {
	if l.atLeast > 0 && now < l.atLeast {
		return false
	}
	if l.n > 0 && issued >= l.n {
		return true
	}
	if l.until > 0 && now >= l.until {
		return true
	}
	return l.n == 0 && l.until == 0 && l.atLeast > 0
}

// runPhase issues samples until the limits say stop; wg tracks in-flight requests.
func (s *Session) runPhase(ctx context.Context, wg *sync.WaitGroup, tracked bool, n int, dur, minDur time.Duration) {
	start := event.Now()
	if tracked && s.TrackStart > 0 {
		start = s.TrackStart
	}
	lim := phaseLimits{n: n}
	if dur > 0 {
		lim.until = start + int64(dur)
	}
	if minDur > 0 {
		lim.atLeast = start + int64(minDur)
	}
	if !tracked {
		lim = phaseLimits{n: n}
	}
	if s.ds.Conversations != nil {
		s.runConversations(ctx, wg, tracked, &lim, start)
		return
	}
	switch {
	case !tracked || s.cfg.Mode == ModeOffline:
		s.runOffline(ctx, wg, tracked, &lim)
	case s.cfg.Mode == ModeConcurrency && newWorkerPlan(s.cfg).shaped():
		s.runShapedConcurrency(ctx, wg, tracked, &lim, start)
	case s.cfg.Mode == ModeConcurrency:
		s.runConcurrency(ctx, wg, tracked, &lim)
	case s.cfg.Mode == ModeReplay:
		s.runReplay(ctx, wg, tracked, &lim, start)
	default:
		s.runTimed(ctx, wg, tracked, &lim, start)
	}
}

func (s *Session) runOffline(ctx context.Context, wg *sync.WaitGroup, tracked bool, lim *phaseLimits) {
	s.eachInFlight(wg, lim, func(idx int, done func()) {
		s.issue(ctx, idx, tracked, 0, done)
	})
}

// eachInFlight calls start with the next dataset index whenever fewer than
// MaxInFlight are open, until the session stops or the phase's limits are
// reached; start must arrange for done to run when its work finished (done
// releases the slot and wg).
func (s *Session) eachInFlight(wg *sync.WaitGroup, lim *phaseLimits, start func(idx int, done func())) {
	sem := make(chan struct{}, s.cfg.MaxInFlight)
	release := func() { <-sem; wg.Done() }
	for i := 0; ; i++ {
		select {
		case sem <- struct{}{}:
		case <-s.stop:
			return
		}
		if s.stopped() || lim.done(i, event.Now()) {
			return
		}
		wg.Add(1)
		start(s.order.next(), release)
	}
}

// claimer returns the function with which concurrency workers take the
// next dataset index, counting claims under one lock: false once the
// session stopped or the phase's limits are reached.
func (s *Session) claimer(lim *phaseLimits) func() (int, bool) {
	var mu sync.Mutex
	claimed := 0
	return func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if s.stopped() || lim.done(claimed, event.Now()) {
			return 0, false
		}
		claimed++
		return s.order.next(), true
	}
}

// eachClaimed runs n workers, each calling work with the next claimed
// dataset index until the claims end: the closed loop of requests and of
// conversations.
func (s *Session) eachClaimed(wg *sync.WaitGroup, n int, lim *phaseLimits, work func(idx int)) {
	claim := s.claimer(lim)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				idx, ok := claim()
				if !ok {
					return
				}
				work(idx)
			}
		}()
	}
}

func (s *Session) runConcurrency(ctx context.Context, wg *sync.WaitGroup, tracked bool, lim *phaseLimits) {
	s.eachClaimed(wg, s.cfg.Concurrency, lim, func(idx int) {
		done := make(chan struct{})
		s.issue(ctx, idx, tracked, 0, func() { close(done) })
		<-done
	})
}

// runTimed is the open-loop scheduler for poisson and constant rates; the
// intended times come from a [Schedule].
func (s *Session) runTimed(ctx context.Context, wg *sync.WaitGroup, tracked bool, lim *phaseLimits, start int64) {
	if s.cfg.MaxConcurrency > 0 {
		s.runCapped(ctx, wg, tracked, lim, start)
		return
	}
	sched := NewSchedule(s.cfg)
	for i := 0; ; i++ {
		off, ok := sched.Next()
		at := start + int64(off) + s.cfg.Share.phase()
		if !ok || lim.done(i, at) || !waitUntil(at, s.stop) {
			return
		}
		wg.Add(1)
		s.issue(ctx, s.order.next(), tracked, at, wg.Done)
	}
}

// spinWindow is how close to an intended time the scheduler stops sleeping
// and yields in a loop instead: the Go runtime parks an idle thread with a
// millisecond-granular epoll timeout, so sub-millisecond sleeps wake up to
// a millisecond late.
const spinWindow = 2 * time.Millisecond

// waitUntil waits until event.Now() >= at; false when stop closed first.
func waitUntil(at int64, stop <-chan struct{}) bool {
	for {
		d := time.Duration(at - event.Now())
		if d <= 0 {
			return true
		}
		if d > spinWindow {
			t := time.NewTimer(d - spinWindow)
			select {
			case <-t.C:
			case <-stop:
				t.Stop()
				return false
			}
			continue
		}
		select {
		case <-stop:
			return false
		default:
		}
		// Yield while there is time for other goroutines to run; in the
		// last stretch spin without yielding, so that a goroutine scheduled
		// in between cannot make the issue late.
		if d > busyWindow {
			runtime.Gosched()
		}
	}
}

// busyWindow is the final stretch before an intended time that the
// scheduler spins through without yielding.
const busyWindow = 50 * time.Microsecond

// issue publishes sample.issued and sends the request on its own goroutine;
// done runs when the request finished and its records were published.
func (s *Session) issue(ctx context.Context, idx int, tracked bool, scheduled int64, done func()) {
	s.issueAt(ctx, idx, tracked, scheduled, 0, done)
}

// releaseAtSend, as issueAt's released, marks a request that passed a
// concurrency cap without waiting: its release time is its send time.
const releaseAtSend = -1

// issueAt is issue for a request that a concurrency cap released at
// released (0: no cap; see cap.go).
func (s *Session) issueAt(ctx context.Context, idx int, tracked bool, scheduled, released int64, done func()) {
	smp := &s.ds.Samples[idx]
	if s.Sample != nil {
		v := s.Sample(idx)
		smp = &v
	}
	uuid := s.newUUID()
	req := &client.Request{Prompt: smp.Prompt, System: smp.System, TokenIDs: smp.TokenIDs, MaxTokens: smp.MaxTokens}
	if req.MaxTokens == 0 {
		req.MaxTokens = s.cfg.MaxTokens
	}
	now := event.Now()
	if released == releaseAtSend {
		released = now
	}
	s.publish(event.Record{
		Type:        event.SampleIssued,
		TimestampNS: now,
		SampleUUID:  uuid,
		Data:        &event.PromptData{Text: smp.Prompt, TokenIDs: smp.TokenIDs, ScheduledNS: scheduled, Index: idx + 1, ReleasedNS: released},
	})
	if tracked {
		s.issued.Add(1)
	}
	go func() {
		defer done()
		s.send(ctx, req, uuid, idx, tracked)
	}()
}

// send sends req, the issued sample uuid, and publishes its outcome: an
// error record first (the completion removes the tracked row), then the
// completion; then it calls OnComplete. It returns the output, the
// completion time and the error.
func (s *Session) send(ctx context.Context, req *client.Request, uuid string, idx int, tracked bool) (*event.Output, int64, error) {
	obs := observer{s: s, uuid: uuid}
	out, err := s.doer.Do(ctx, req, &obs)
	now := event.Now()
	if err != nil {
		class, msg := "other", err.Error()
		var ce *client.Error
		if errors.As(err, &ce) {
			class = string(ce.Class)
		}
		s.publish(event.Record{Type: event.ErrorClient, TimestampNS: now, SampleUUID: uuid,
			Data: &event.ErrorData{Type: class, Message: msg}})
		if tracked {
			s.failed.Add(1)
		}
	}
	var data event.Data
	if out != nil {
		data = out
	}
	s.publish(event.Record{Type: event.SampleComplete, TimestampNS: now, SampleUUID: uuid, Data: data})
	if tracked {
		s.completed.Add(1)
	}
	if s.OnComplete != nil {
		s.OnComplete(idx, out, err)
	}
	return out, now, err
}

// observer turns chunk timestamps into recv records.
type observer struct {
	s    *Session
	uuid string
}

func (o *observer) OnChunk(ts int64, first bool) {
	t := event.SampleRecvNonFirst
	if first {
		t = event.SampleRecvFirst
	}
	o.s.publish(event.Record{Type: t, TimestampNS: ts, SampleUUID: o.uuid})
}

// newUUID returns a 32-hex-digit id: a random per-session half and a sequence.
func (s *Session) newUUID() string {
	var b [32]byte
	copy(b[:16], s.uuidHi)
	seq := s.uuidSeq.Add(1)
	const hex = "0123456789abcdef"
	for i := 31; i >= 16; i-- {
		b[i] = hex[seq&15]
		seq >>= 4
	}
	return string(b[:])
}

// sampleOrder yields dataset indices without replacement in a seeded order,
// reshuffling after each pass. It is safe for concurrent use.
type sampleOrder struct {
	mu     sync.Mutex
	rng    *rand.Rand
	perm   []int
	pos    int
	stride int // >1: yield every stride-th position (see share)
}

func newSampleOrder(n int, seed uint64) *sampleOrder {
	o := &sampleOrder{rng: rand.New(rand.NewPCG(seed, seed^0xda3e39cb94b95bdb)), perm: make([]int, n)}
	for i := range o.perm {
		o.perm[i] = i
	}
	o.shuffle()
	return o
}

func (o *sampleOrder) shuffle() {
	o.rng.Shuffle(len(o.perm), func(i, j int) { o.perm[i], o.perm[j] = o.perm[j], o.perm[i] })
	o.pos = 0
}

func (o *sampleOrder) next() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pos == len(o.perm) {
		o.shuffle()
	}
	i := o.perm[o.pos]
	o.pos++
	for range o.stride - 1 {
		o.skip()
	}
	return i
}
