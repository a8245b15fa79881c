// Package aggregator folds the event stream of a run into a metrics registry
// and publishes snapshots of it.
//
// An [Aggregator] keeps an in-flight table of tracked samples (issued inside a
// performance-tracking window), fires the metric rules of docs/design.md §4 as events
// arrive, runs the session state machine (initialize → live → draining →
// complete | interrupted), publishes a live snapshot every publish interval,
// and at the end builds the terminal snapshot once, writes it atomically to
// final_snapshot.json and publishes it, each path independent of the other.
//
// Events are processed one batch at a time under a mutex that the tick loop
// also takes to build a snapshot, so the registry has one owner at a time.
// Token counting (ISL from prompt text, OSL, TPOT) runs on worker goroutines
// off that path; n_pending_tasks is the number of counts not yet recorded.
package aggregator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
)

// Defaults of [Config].
const (
	DefaultPublishInterval = 250 * time.Millisecond
	DefaultDrainTimeout    = 60 * time.Second
	DefaultTokenWorkers    = 2
)

// Token sources.
const (
	TokenSourceAuto      = "auto"
	TokenSourceTokenizer = "tokenizer"
	TokenSourceUsage     = "usage"
)

// TokenCounter counts the tokens of a text. It must be safe for concurrent use.
type TokenCounter interface {
	Count(text string) int
}

// Config configures an Aggregator. The zero value is usable.
type Config struct {
	PublishInterval time.Duration // 0 means DefaultPublishInterval
	DrainTimeout    time.Duration // 0 means DefaultDrainTimeout; <0 means no wait
	// Streaming registers the streaming series (TTFT, inter-chunk gap, TPOT).
	Streaming bool
	// FinalPath is where the terminal snapshot is written ("" = not written).
	FinalPath string
	// RawDir, when set, bounds memory however long the run: every series
	// spills its raw values there in blocks (one file per series, see
	// metrics.SpillConfig) and the final percentiles are selected from the
	// files. "" keeps every raw value in memory.
	RawDir string
	// KeepRaw keeps the raw files after the final snapshot is written
	// (`inferbench report --recompute` reads them); otherwise they are
	// removed then. They are always kept when the final write failed.
	KeepRaw bool
	// SpillBlock is the values per spilled block; 0 means
	// metrics.DefaultSpillBlock (tests use small blocks).
	SpillBlock int
	// Tokenizer counts ISL from prompt text, OSL and TPOT; nil means token
	// metrics come from the server's usage.
	Tokenizer TokenCounter
	// RecordedHistory says that multi-turn conversations carried the
	// dataset's recorded replies in their history, not the server's: the
	// tokenizer then cannot count later turns' ISL (turnisl.go).
	RecordedHistory bool
	// TokenSource picks where token counts come from: TokenSourceAuto (the
	// tokenizer when there is one, else usage), TokenSourceTokenizer or
	// TokenSourceUsage. "" means auto. Whenever the tokenizer counts OSL and
	// the server also reported usage, both are recorded and compared.
	TokenSource  string
	TokenWorkers int // 0 means DefaultTokenWorkers
	SigFigs      int // HDR significant figures; 0 means metrics.DefaultSigFigs
	Buckets      int // histogram buckets; 0 means metrics.DefaultBuckets
	Logger       *slog.Logger
	// Goodput, when set, counts good samples (TrackedGood) by its bounds.
	Goodput *GoodputBounds
}

// GoodputBounds is a per-request goodput rule (vLLM's and DistServe's): a
// tracked sample is good when it succeeded and its TTFT, TPOT and latency
// are each at most their bound. A zero bound does not bound. A sample
// without a first chunk (not streamed) takes its latency as its TTFT; one
// without a TPOT (a single chunk) meets the TPOT bound.
type GoodputBounds struct {
	TTFT, Latency int64   // nanoseconds
	TPOT          float64 // nanoseconds per output token
}

func (g *GoodputBounds) meets(ttft, latency int64, tpot float64) bool {
	return (g.TTFT == 0 || ttft <= g.TTFT) && (g.Latency == 0 || latency <= g.Latency) && (g.TPOT == 0 || !(tpot > g.TPOT))
}

// Aggregator turns events into metrics; see the package doc. Its methods are
// safe for concurrent use.
type Aggregator struct {
	cfg Config
	log *slog.Logger
	pub bus.Publisher[metrics.Snapshot]

	mu  sync.Mutex // guards everything below, and the registry
	reg *metrics.Registry

	totalIssued, totalCompleted, totalFailed       *metrics.Counter
	trackedIssued, trackedCompleted, trackedFailed *metrics.Counter
	trackedDuration, totalDuration                 *metrics.Counter
	trackedIssueDuration                           *metrics.Counter
	good, goodTokens                               *metrics.Counter            // nil without a goodput rule
	errorsByClass                                  map[string]*metrics.Counter // by full counter name
	badFrames                                      *metrics.Counter            // nil until the first bad frame

	// Finish reasons of tracked completions.
	finishStop, finishLength, finishToolCalls *metrics.Counter
	finishContentFilter, finishFunctionCall   *metrics.Counter
	finishOther                               *metrics.Counter
	retried                                   *metrics.Counter

	ttft, latency, failedLatency, chunkDelta, tpot, isl, osl, lateness *metrics.Series

	// The concurrency cap's wait and count (queue.go); nil until the first
	// tracked sample that went through a cap.
	queueWait *metrics.Series
	queued    *metrics.Counter

	// Set when a tokenizer counts OSL: the server's own count beside it.
	oslUsage                   *metrics.Series
	oslCompared, oslMismatched *metrics.Counter
	oslRelDiffSum              *metrics.Counter

	rows map[string]*row
	// The row of the last chunk record: a response's chunks arrive
	// together, so most chunk records find their row here, by a string
	// compare instead of a hash (cleared when the row leaves rows).
	lastID   string
	lastRow  *row
	free     []*row
	blocks   []block
	tracking bool

	state        metrics.State
	started      bool
	sessionStart int64
	lastEventTS  int64
	sameClock    bool // event timestamps come from this host's monotonic clock
	ended        bool
	stopped      bool // session.stop_loadgen: the run ends interrupted

	tick       context.CancelFunc
	tickDone   chan struct{}
	finalOnce  sync.Once
	final      metrics.Snapshot
	finalErr   error
	finalReady chan struct{}

	hurryOnce sync.Once
	hurry     chan struct{} // closed by Hurry

	closeOnce sync.Once
	closeErr  error

	tokens *tokenPool

	conv convMetrics // multi-turn conversations; see conversation.go
	// turnISLs follows the input length of conversations' turns with a
	// tokenizer; see turnisl.go.
	turnISLs map[string]*turnISL
}

type row struct {
	issued, recvFirst, lastRecv int64
	hasFirst                    bool
	block                       int
	failed                      bool
	islKnown                    bool
	conv                        string // conversation of a multi-turn sample ("" none)
	turn                        int32  // its 1-based turn (0 none)
	lastTurn                    bool
}

type block struct {
	start, lastComplete int64
	lastIssue           int64
	completed           int64
	lastRelease         int64 // under a concurrency cap (queue.go)
}

// New builds an aggregator that publishes snapshots on pub (nil: none).
func New(cfg Config, pub bus.Publisher[metrics.Snapshot]) (*Aggregator, error) {
	if cfg.PublishInterval == 0 {
		cfg.PublishInterval = DefaultPublishInterval
	}
	if cfg.PublishInterval < 0 {
		return nil, fmt.Errorf("aggregator: publish interval %v must be positive", cfg.PublishInterval)
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.TokenWorkers <= 0 {
		cfg.TokenWorkers = DefaultTokenWorkers
	}
	switch cfg.TokenSource {
	case "", TokenSourceAuto:
		cfg.TokenSource = TokenSourceAuto
	case TokenSourceTokenizer:
		if cfg.Tokenizer == nil {
			return nil, errors.New("aggregator: token source \"tokenizer\" needs a tokenizer")
		}
	case TokenSourceUsage:
		cfg.Tokenizer = nil
	default:
		return nil, fmt.Errorf("aggregator: token source %q: want auto, tokenizer or usage", cfg.TokenSource)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	a := &Aggregator{
		cfg:           cfg,
		log:           log,
		pub:           pub,
		reg:           metrics.NewRegistry(),
		rows:          make(map[string]*row, 1024),
		errorsByClass: map[string]*metrics.Counter{},
		state:         metrics.StateInitialize,
		finalReady:    make(chan struct{}),
		hurry:         make(chan struct{}),
	}
	a.reg.Logger = log
	a.reg.Vet = metrics.VetName
	if err := a.register(); err != nil {
		return nil, err
	}
	if cfg.RawDir != "" {
		if err := a.reg.EnableSpill(metrics.SpillConfig{Dir: cfg.RawDir, BlockSize: cfg.SpillBlock}); err != nil {
			return nil, fmt.Errorf("aggregator: %w", err)
		}
	}
	if cfg.Tokenizer != nil {
		a.tokens = newTokenPool(a, cfg.Tokenizer, cfg.TokenWorkers)
	}
	return a, nil
}

// register registers the metrics of this configuration. Every name comes
// from the metric dictionary (internal/metrics/dictionary.go), which also
// gives each one its value type and HDR range; a name the dictionary does not
// know is an error, so no metric reaches a snapshot undescribed.
func (a *Aggregator) register() error {
	var errs []error
	counter := func(name string) *metrics.Counter {
		d, err := describe(name, metrics.KindCounter)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		c, err := a.reg.NewCounter(name, d.Float)
		errs = append(errs, err)
		return c
	}
	a.totalIssued = counter(metrics.TotalIssued)
	a.totalCompleted = counter(metrics.TotalCompleted)
	a.totalFailed = counter(metrics.TotalFailed)
	a.trackedIssued = counter(metrics.TrackedIssued)
	a.trackedCompleted = counter(metrics.TrackedCompleted)
	a.trackedFailed = counter(metrics.TrackedFailed)
	a.finishStop = counter(metrics.FinishReasonStop)
	a.finishLength = counter(metrics.FinishReasonLength)
	a.finishToolCalls = counter(metrics.FinishReasonToolCalls)
	a.finishContentFilter = counter(metrics.FinishReasonContentFilter)
	a.finishFunctionCall = counter(metrics.FinishReasonFunctionCall)
	a.finishOther = counter(metrics.FinishReasonOther)
	a.trackedDuration = counter(metrics.TrackedDuration)
	a.totalDuration = counter(metrics.TotalDuration)
	a.retried = counter(metrics.RetriedRequests)
	a.trackedIssueDuration = counter(metrics.TrackedIssueDuration)
	if a.cfg.Goodput != nil {
		a.good = counter(metrics.TrackedGood)
		a.goodTokens = counter(metrics.TrackedGoodTokens)
	}
	// The tail-latency series get MLPerf's early-stopping estimates, as in
	// the Python tool.
	series := func(name string, earlyStopping bool) *metrics.Series {
		d, err := describe(name, metrics.KindSeries)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		o := d.SeriesOpts()
		o.EarlyStopping = earlyStopping
		o.SigFigs, o.Buckets = a.cfg.SigFigs, a.cfg.Buckets
		s, err := a.reg.NewSeries(name, o)
		errs = append(errs, err)
		return s
	}
	if a.cfg.Streaming {
		a.ttft = series(metrics.SeriesTTFT, true)
	}
	a.latency = series(metrics.SeriesLatency, true)
	a.failedLatency = series(metrics.SeriesFailedLatency, false)
	if a.cfg.Streaming {
		a.chunkDelta = series(metrics.SeriesChunkDelta, false)
		a.tpot = series(metrics.SeriesTPOT, true)
	}
	a.isl = series(metrics.SeriesISL, false)
	a.osl = series(metrics.SeriesOSL, false)
	a.lateness = series(metrics.SeriesLateness, false)
	if a.cfg.Tokenizer != nil {
		a.oslUsage = series(metrics.SeriesOSLUsage, false)
		a.oslCompared = counter(metrics.OSLCompared)
		a.oslMismatched = counter(metrics.OSLMismatched)
		a.oslRelDiffSum = counter(metrics.OSLRelDiffSum)
	}
	return errors.Join(errs...)
}

// describe returns the dictionary entry of name, which must be of kind k.
func describe(name string, k metrics.Kind) (metrics.Desc, error) {
	d, ok := metrics.Lookup(name)
	switch {
	case !ok:
		return d, fmt.Errorf("aggregator: metric %q is not in the metric dictionary (internal/metrics/dictionary.go)", name)
	case d.Kind != k:
		return d, fmt.Errorf("aggregator: metric %q is a %s in the metric dictionary, not a %s", name, d.Kind, k)
	}
	return d, nil
}

// Run consumes sub until the session ends, then drains pending token counts
// and finalizes as complete, or as interrupted when the load generator was
// stopped (session.stop_loadgen). If ctx is cancelled first it finalizes at
// once as interrupted with everything recorded so far: that is for a
// consumer that cannot know whether the producer will ever end the stream
// (`inferbench aggregate`). A producer in the same process that stops its
// requests should keep ctx alive and call [Aggregator.Hurry] instead, so
// that the cancelled requests' errors and completions are still counted. It
// returns the terminal snapshot and any error of the final write or publish.
func (a *Aggregator) Run(ctx context.Context, sub bus.Subscriber[event.Record]) (metrics.Snapshot, error) {
	for {
		batch, err := sub.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || !errors.Is(err, io.EOF) && !errors.Is(err, bus.ErrClosed) {
				if ctx.Err() == nil {
					a.log.Error("event stream failed", "err", err)
				}
				return a.Finalize(metrics.StateInterrupted)
			}
			// The stream ended without session.ended: the producer is gone.
			a.log.Warn("event stream closed before session.ended; finalizing as interrupted")
			return a.Finalize(metrics.StateInterrupted)
		}
		if a.Process(batch) {
			break
		}
	}
	pending := a.drain(ctx)
	a.mu.Lock()
	stopped := a.stopped
	a.mu.Unlock()
	if ctx.Err() != nil || stopped {
		return a.finalize(metrics.StateInterrupted, pending)
	}
	return a.finalize(metrics.StateComplete, pending)
}

// Process folds one batch of records into the metrics and reports whether it
// contained session.ended (records after it are ignored).
func (a *Aggregator) Process(batch []event.Record) (ended bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended || a.state.Terminal() {
		return true
	}
	for i := range batch {
		if a.apply(&batch[i]) {
			a.ended = true
			a.state = metrics.StateDraining
			a.updateTrackedDuration(false)
			return true
		}
	}
	return false
}

// apply handles one record and reports whether it was session.ended.
func (a *Aggregator) apply(r *event.Record) bool {
	ts := r.TimestampNS
	if a.started {
		if ts > a.lastEventTS {
			a.lastEventTS = ts
		}
		if d := ts - a.sessionStart; d > a.totalDuration.Int() {
			a.totalDuration.Set(d)
		}
	}
	switch r.Type.Category() {
	case event.CategorySession:
		return a.session(r)
	case event.CategoryError:
		a.error(r)
		return false
	case event.CategorySample:
		if r.SampleUUID != "" {
			a.sample(r)
		}
	}
	return false
}

func (a *Aggregator) session(r *event.Record) bool {
	switch r.Type {
	case event.SessionStarted:
		if a.started {
			a.log.Error("duplicate session.started ignored", "first_ns", a.sessionStart, "duplicate_ns", r.TimestampNS)
			return false
		}
		a.started = true
		a.sessionStart = r.TimestampNS
		a.lastEventTS = r.TimestampNS
		d := event.Now() - r.TimestampNS
		a.sameClock = d > -int64(10*time.Second) && d < int64(10*time.Second)
		if a.state == metrics.StateInitialize {
			a.state = metrics.StateLive
			a.startTicks()
		}
	case event.SessionEnded:
		return true
	case event.SessionStopLoadgen:
		a.stopped = true
	case event.SessionStartTracking:
		if !a.tracking {
			a.tracking = true
			a.blocks = append(a.blocks, block{start: r.TimestampNS, lastComplete: r.TimestampNS})
		}
	case event.SessionStopTracking:
		a.tracking = false
		a.updateTrackedDuration(false)
	}
	return false
}

// error counts an error record in exactly one of the three error families
// (see metrics.ErrorCounterPrefix), so that each adds up to its sample counter.
func (a *Aggregator) error(r *event.Record) {
	class := "generic"
	if d, ok := r.Data.(*event.ErrorData); ok && d.Type != "" {
		class = d.Type
	}
	prefix := metrics.OtherErrorCounterPrefix
	if r.SampleUUID != "" {
		row, tracked := a.rows[r.SampleUUID]
		switch {
		case !tracked:
			prefix = metrics.WarmupErrorCounterPrefix
			a.totalFailed.Add(1)
		case !row.failed:
			prefix = metrics.ErrorCounterPrefix
			row.failed = true
			a.trackedFailed.Add(1)
			a.totalFailed.Add(1)
		}
	}
	name := prefix + class
	c, ok := a.errorsByClass[name]
	if !ok {
		var err error
		if c, err = a.reg.NewCounter(name, false); err != nil {
			a.log.Error("cannot count error class", "counter", name, "err", err)
		}
		a.errorsByClass[name] = c
	}
	if c != nil {
		c.Add(1)
	}
}

// finishReason counts the finish reason of a tracked completion, failed or
// not, as the Python tool does; a completion without one counts nowhere.
func (a *Aggregator) finishReason(r *event.Record) {
	out, _ := r.Data.(*event.Output)
	if out == nil || out.FinishReason == "" {
		return
	}
	switch out.FinishReason {
	case "stop":
		a.finishStop.Add(1)
	case "length":
		a.finishLength.Add(1)
	case "tool_calls":
		a.finishToolCalls.Add(1)
	case "content_filter":
		a.finishContentFilter.Add(1)
	case "function_call":
		a.finishFunctionCall.Add(1)
	default:
		a.finishOther.Add(1)
	}
}

func (a *Aggregator) sample(r *event.Record) {
	ts := r.TimestampNS
	switch r.Type {
	case event.SampleIssued:
		a.totalIssued.Add(1)
		if !a.tracking {
			return
		}
		if _, dup := a.rows[r.SampleUUID]; dup {
			a.log.Warn("duplicate sample.issued; keeping the first", "sample_uuid", r.SampleUUID)
			return
		}
		rw := a.newRow()
		rw.issued, rw.block = ts, len(a.blocks)-1
		a.blocks[rw.block].lastIssue = ts
		a.rows[r.SampleUUID] = rw
		a.trackedIssued.Add(1)
		if r.Turn > 0 {
			a.convIssued(rw, r)
		}
		if p, ok := r.Data.(*event.PromptData); ok && p != nil {
			switch {
			case p.ReleasedNS != 0:
				a.capped(p, ts, &a.blocks[rw.block])
			case p.ScheduledNS != 0:
				a.lateness.Record(max(ts-p.ScheduledNS, 0))
			}
			switch {
			case p.TokenIDs != nil:
				a.isl.Record(int64(len(p.TokenIDs)))
				rw.islKnown = true
			case a.tokens != nil && r.Turn > 0 && a.turnISLIssued(r, p.Text):
				// A turn's ISL counts its whole history (turnisl.go).
				rw.islKnown = true
			case p.Text != "" && a.tokens != nil && r.Turn <= 1:
				// A later turn not followed (recorded history): its
				// ISL comes from the server's usage.
				a.tokens.submit(tokenJob{kind: jobISL, text: p.Text})
				rw.islKnown = true
			}
		}
	case event.SampleRecvFirst, event.SampleRecvNonFirst:
		rw := a.lastRow
		if rw == nil || r.SampleUUID != a.lastID {
			var ok bool
			if rw, ok = a.rows[r.SampleUUID]; !ok {
				return
			}
			a.lastID, a.lastRow = r.SampleUUID, rw
		}
		if r.Type == event.SampleRecvFirst && !rw.hasFirst {
			rw.hasFirst, rw.recvFirst = true, ts
			if a.ttft != nil {
				a.ttft.Record(ts - rw.issued)
				if rw.turn > 0 {
					a.turnTTFT(rw.turn, ts-rw.issued)
				}
			}
		} else if rw.lastRecv != 0 && a.chunkDelta != nil {
			a.chunkDelta.Record(ts - rw.lastRecv)
		}
		rw.lastRecv = ts
	case event.SampleComplete:
		a.totalCompleted.Add(1)
		if out, ok := r.Data.(*event.Output); ok && out != nil && out.Retries > 0 {
			a.retried.Add(int64(out.Retries))
		}
		rw, ok := a.rows[r.SampleUUID]
		if !ok {
			return
		}
		delete(a.rows, r.SampleUUID)
		if a.lastRow == rw {
			a.lastID, a.lastRow = "", nil
		}
		a.trackedCompleted.Add(1)
		a.finishReason(r)
		b := &a.blocks[rw.block]
		b.lastComplete = max(b.lastComplete, ts)
		b.completed++
		if rw.conv != "" {
			a.convEnded(rw, ts)
			if a.turnISLs != nil {
				out, _ := r.Data.(*event.Output)
				a.turnISLCompleted(rw, out)
			}
		}
		if rw.failed {
			a.failedLatency.Record(ts - rw.issued)
		} else {
			a.latency.Record(ts - rw.issued)
			a.outputTokens(rw, r, ts)
		}
		a.free = append(a.free, rw)
	}
}

// outputTokens records OSL and TPOT of a successful sample, and ISL from the
// server's usage when nothing else gave it; with a goodput rule it decides
// whether the sample is good, or hands that decision to the token counts it
// waits for.
func (a *Aggregator) outputTokens(rw *row, r *event.Record, ts int64) {
	// candidate: succeeded and within the TTFT and latency bounds; only its
	// TPOT may still make it not good.
	candidate := false
	if a.good != nil {
		ttft := ts - rw.issued
		if rw.hasFirst {
			ttft = rw.recvFirst - rw.issued
		}
		candidate = a.cfg.Goodput.meets(ttft, ts-rw.issued, math.NaN())
	}
	out, _ := r.Data.(*event.Output)
	if out == nil {
		if candidate {
			a.countGood(math.NaN(), 0)
		}
		return
	}
	if !rw.islKnown && out.Usage != nil && out.Usage.PromptTokens > 0 {
		a.isl.Record(out.Usage.PromptTokens)
	}
	decode := int64(-1) // complete − recv_first, when TPOT applies
	if a.tpot != nil && rw.hasFirst && out.Streamed {
		decode = ts - rw.recvFirst
	}
	if a.tokens != nil {
		usage := int64(0)
		if out.Usage != nil && out.Usage.CompletionTokens > 0 {
			usage = out.Usage.CompletionTokens
			a.oslUsage.Record(usage)
		}
		var gp *goodPending
		if candidate {
			gp = &goodPending{tpot: math.NaN()}
		}
		if text := out.All(); text != "" {
			gp.wait()
			a.tokens.submit(tokenJob{kind: jobOSL, text: text, usage: usage, good: gp})
		}
		if decode >= 0 {
			if rest := out.AfterFirstChunk(); rest != "" {
				gp.wait()
				a.tokens.submit(tokenJob{kind: jobTPOT, text: rest, decodeNS: decode, good: gp})
			}
		}
		if gp != nil && gp.left == 0 {
			a.countGood(gp.tpot, 0)
		}
		return
	}
	if out.Usage == nil || out.Usage.CompletionTokens <= 0 {
		if candidate {
			a.countGood(math.NaN(), 0)
		}
		return
	}
	osl := out.Usage.CompletionTokens
	a.osl.Record(osl)
	tpot := math.NaN()
	if decode >= 0 {
		// Without a tokenizer the first chunk's share of the tokens is
		// estimated from its share of the bytes.
		all := len(out.All())
		first := int64(0)
		if all > 0 {
			first = (osl*int64(out.FirstChunkLen) + int64(all)/2) / int64(all)
		}
		first = max(first, 1)
		if after := osl - first; after > 0 {
			tpot = float64(decode) / float64(after)
			a.tpot.RecordFloat(tpot)
		}
	}
	if candidate {
		a.countGood(tpot, osl)
	}
}

// countGood counts a goodput candidate as good when its TPOT (NaN: none)
// meets the rule's bound.
func (a *Aggregator) countGood(tpot float64, osl int64) {
	if g := a.cfg.Goodput; g.TPOT == 0 || !(tpot > g.TPOT) {
		a.good.Add(1)
		a.goodTokens.Add(osl)
	}
}

// goodPending is a goodput candidate whose TPOT and OSL come from the
// tokenizer: the token jobs that carry it fill them in, and the last one to
// be recorded decides (under the aggregator's lock, as every record).
type goodPending struct {
	left int // jobs not yet recorded
	tpot float64
	osl  int64
}

// wait notes one more job carrying gp (nil: none).
func (gp *goodPending) wait() {
	if gp != nil {
		gp.left++
	}
}

// recorded notes that one of gp's jobs was recorded, and decides after the
// last one.
func (a *Aggregator) recorded(gp *goodPending) {
	gp.left--
	if gp.left == 0 {
		a.countGood(gp.tpot, gp.osl)
	}
}

func (a *Aggregator) newRow() *row {
	if n := len(a.free); n > 0 {
		rw := a.free[n-1]
		a.free = a.free[:n-1]
		*rw = row{}
		return rw
	}
	return &row{}
}

// updateTrackedDuration sets tracked_duration_ns: the sum over tracking windows
// of (last tracked completion − window start). While live, the open window
// runs to the newest event (or to now, when events share this host's clock),
// so live QPS and TPS exist.
func (a *Aggregator) updateTrackedDuration(live bool) {
	var total, issuing int64
	for i, b := range a.blocks {
		issuing += max(b.lastIssue-b.start, 0)
		end := b.lastComplete
		if live && a.tracking && i == len(a.blocks)-1 {
			end = max(end, a.lastEventTS)
			if a.sameClock {
				end = max(end, event.Now())
			}
		}
		total += max(end-b.start, 0)
	}
	a.trackedDuration.Set(total)
	a.trackedIssueDuration.Set(issuing)
}

// Snapshot returns a live snapshot of the current state.
func (a *Aggregator) Snapshot() metrics.Snapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.snapshotLocked()
}

func (a *Aggregator) snapshotLocked() metrics.Snapshot {
	if !a.ended {
		a.updateTrackedDuration(true)
	}
	return a.reg.Snapshot(a.state, a.pending(), event.Now())
}

func (a *Aggregator) pending() int64 {
	if a.tokens == nil {
		return 0
	}
	return a.tokens.pending.Load()
}

// InFlight returns the number of tracked samples issued and not completed.
func (a *Aggregator) InFlight() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.rows)
}

// State returns the session state.
func (a *Aggregator) State() metrics.State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

func (a *Aggregator) startTicks() {
	if a.pub == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.tick, a.tickDone = cancel, make(chan struct{})
	go func() {
		defer close(a.tickDone)
		t := time.NewTicker(a.cfg.PublishInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			a.mu.Lock()
			if a.state.Terminal() {
				a.mu.Unlock()
				return
			}
			snap := a.snapshotLocked()
			a.mu.Unlock()
			if err := a.pub.Publish(snap); err != nil {
				a.log.Warn("live snapshot not published", "err", err)
			}
		}
	}()
}

// stopTicks cancels the tick loop and waits for it, so that no live frame can
// follow the terminal one.
func (a *Aggregator) stopTicks() {
	a.mu.Lock()
	cancel, done := a.tick, a.tickDone
	a.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Hurry makes Run skip the wait for pending token counts once the stream has
// ended (a second Ctrl-C): the stream is still consumed to session.ended, so
// every issued request is accounted for, but the terminal snapshot does not
// wait for the tokenizer; the counts not recorded show in n_pending_tasks.
// It may be called at any time, more than once, from any goroutine.
func (a *Aggregator) Hurry() {
	a.hurryOnce.Do(func() { close(a.hurry) })
}

// drain waits for pending token counts, at most the drain timeout, and
// returns how many are still pending. Hurry or ctx end the wait early.
func (a *Aggregator) drain(ctx context.Context) int64 {
	if a.tokens == nil {
		return 0
	}
	timeout := a.cfg.DrainTimeout
	if timeout < 0 {
		timeout = 0
	}
	left := a.tokens.wait(ctx, a.hurry, timeout)
	if left > 0 {
		a.log.Warn("drain timed out: token counts still pending", "pending", left, "timeout", timeout)
	}
	return left
}

// Finalize ends the session in state (complete or interrupted) with whatever
// is recorded: see finalize. A second call returns the first result.
func (a *Aggregator) Finalize(state metrics.State) (metrics.Snapshot, error) {
	return a.finalize(state, -1)
}

// finalize builds the terminal snapshot once, then writes it to FinalPath and
// publishes it; a failure of one path never suppresses the other. pending < 0
// means "count what is pending now".
func (a *Aggregator) finalize(state metrics.State, pending int64) (metrics.Snapshot, error) {
	a.finalOnce.Do(func() {
		a.stopTicks()
		if a.tokens != nil {
			a.tokens.stop()
		}
		a.mu.Lock()
		if pending < 0 {
			pending = a.pending()
		}
		a.updateTrackedDuration(false)
		a.state = state
		a.final = a.reg.Snapshot(state, pending, event.Now())
		a.mu.Unlock()
		var errs []error
		if a.cfg.FinalPath != "" {
			if err := WriteFinal(a.cfg.FinalPath, &a.final); err != nil {
				a.log.Error("final snapshot not written", "path", a.cfg.FinalPath, "err", err)
				errs = append(errs, err)
			}
		}
		if a.pub != nil {
			err := a.pub.Publish(a.final)
			if err == nil {
				err = a.pub.Flush()
			}
			if err != nil {
				a.log.Error("terminal snapshot not published", "err", err)
				errs = append(errs, fmt.Errorf("aggregator: publish terminal snapshot: %w", err))
			}
		}
		// The raw files go once the exact snapshot is safely on disk.
		a.mu.Lock()
		written := a.cfg.FinalPath != "" && len(errs) == 0
		if err := a.reg.CloseSpill(written && !a.cfg.KeepRaw); err != nil {
			a.log.Warn("raw value files", "err", err)
		}
		a.mu.Unlock()
		a.finalErr = errors.Join(errs...)
		close(a.finalReady)
	})
	<-a.finalReady
	return a.final, a.finalErr
}
