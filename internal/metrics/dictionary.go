package metrics

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The metric dictionary: every name the aggregator registers, and every name
// a consumer (report, dashboard, Prometheus exporter, progress line) reads, is
// one of the constants below and has one entry in the dictionary table. The
// consumers take titles, units and help from the table instead of spelling
// them again, and a test fails when a consumer names a metric the table does
// not know.
//
// To add a metric: add its constant here, add its [Desc] to the dictionary
// table, register it in the aggregator, and use the constant wherever it is
// read. docs/design.md lists the same names for people.

// Counter names.
const (
	TotalIssued      = "total_samples_issued"
	TotalCompleted   = "total_samples_completed"
	TotalFailed      = "total_samples_failed"
	TrackedIssued    = "tracked_samples_issued"
	TrackedCompleted = "tracked_samples_completed"
	TrackedFailed    = "tracked_samples_failed"
	TrackedDuration  = "tracked_duration_ns"
	TotalDuration    = "total_duration_ns"
	// RetriedRequests counts the requests the client sent a second time
	// because the server closed a reused connection before answering (from
	// the Retries of every completion, warmup included).
	RetriedRequests = "retried_requests"
	// TrackedIssueDuration is the sum over tracking windows of (last
	// tracked issue − window start): tracked_samples_issued over it is the
	// issue rate the scheduler achieved. Under a concurrency cap the last
	// issue is the last release (the wait for a slot is queue_wait_ns).
	TrackedIssueDuration = "tracked_issue_duration_ns"
	// TrackedGood counts the tracked samples that succeeded and met every
	// bound of the goodput rule, and TrackedGoodTokens their output tokens;
	// both exist only when the aggregator is given a rule.
	TrackedGood       = "tracked_samples_good"
	TrackedGoodTokens = "tracked_good_output_tokens"
)

// Series names.
const (
	SeriesTTFT          = "ttft_ns"
	SeriesLatency       = "sample_latency_ns"
	SeriesFailedLatency = "failed_sample_latency_ns"
	SeriesChunkDelta    = "chunk_delta_ns"
	SeriesTPOT          = "tpot_ns"
	SeriesISL           = "isl"
	SeriesOSL           = "osl"
	// SeriesLateness is the scheduler's lateness: issue time − intended time.
	// Under a concurrency cap it is release − intended time (the scheduler's
	// own delay), and the wait for a slot is SeriesQueueWait.
	SeriesLateness = "issue_lateness_ns"
)

// Names of the concurrency cap (--max-concurrency): registered at the first
// tracked sample that went through the cap, so runs without one do not
// carry them. For every such sample
// intended + issue_lateness_ns + queue_wait_ns = the actual send.
const (
	// SeriesQueueWait is the time a released sample waited for a free slot
	// (send − release; 0 when a slot was free).
	SeriesQueueWait = "queue_wait_ns"
	// TrackedQueued counts the tracked samples that had to wait for a slot.
	TrackedQueued = "tracked_samples_queued"
)

// Multi-turn conversations (a multi-turn dataset): conversations whose
// first turn was tracked, started and ended (completed: every turn
// succeeded; failed: a turn failed, which ends the conversation), and the
// latency of a completed one (its last turn's completion − its first turn's
// issue). TTFT by turn number is the series TTFTByTurn(k).
const (
	TrackedConversationsStarted   = "tracked_conversations_started"
	TrackedConversationsCompleted = "tracked_conversations_completed"
	TrackedConversationsFailed    = "tracked_conversations_failed"
	SeriesConversationLatency     = "conversation_latency_ns"
)

// MaxTurnSeries is the last turn number with a TTFT series of its own;
// later turns share one ("17+"), so the series stay bounded however long
// the conversations.
const MaxTurnSeries = 16

// TTFTByTurn returns the name of the TTFT series of turn k (1-based):
// "ttft_turn_3_ns", or "ttft_turn_17plus_ns" for every turn past
// MaxTurnSeries. k < 1 is taken as 1.
func TTFTByTurn(k int) string {
	k = max(k, 1)
	if k > MaxTurnSeries {
		return "ttft_turn_" + strconv.Itoa(MaxTurnSeries+1) + "plus_ns"
	}
	return "ttft_turn_" + strconv.Itoa(k) + "_ns"
}

// TurnLabel returns the turn label of a TTFTByTurn series ("3", "17+"), and
// false for any other name.
func TurnLabel(name string) (string, bool) {
	for k := 1; k <= MaxTurnSeries+1; k++ {
		if TTFTByTurn(k) == name {
			if k > MaxTurnSeries {
				return strconv.Itoa(k) + "+", true
			}
			return strconv.Itoa(k), true
		}
	}
	return "", false
}

// Names of the server-usage OSL and its comparison with the tokenizer, which
// exist when a tokenizer counts OSL.
const (
	SeriesOSLUsage = "osl_usage"
	OSLCompared    = "osl_usage_compared"
	OSLMismatched  = "osl_usage_mismatched"
	OSLRelDiffSum  = "osl_usage_abs_rel_diff_sum"
)

// Per-class error counters ("errors.timeout"), kept in three families so
// that each one adds up to a sample counter:
//   - ErrorCounterPrefix: errors of tracked samples; they sum to
//     tracked_samples_failed.
//   - WarmupErrorCounterPrefix: errors of samples issued outside any
//     performance-tracking window (warmup); with the tracked ones they sum
//     to total_samples_failed.
//   - OtherErrorCounterPrefix: error records that do not fail a sample:
//     without a sample (an undecodable frame, a session or load generator
//     error) or repeating an error of an already failed tracked sample.
//     Unlike the Python tool, these do not count in total_samples_failed.
const (
	ErrorCounterPrefix       = "errors."
	WarmupErrorCounterPrefix = "warmup_errors."
	OtherErrorCounterPrefix  = "other_errors."
)

// Finish reason counters of tracked completions, as the Python tool counts
// them: by the finish_reason of the completion, when it has one; values
// other than the five OpenAI ones count as "other".
const (
	FinishReasonStop          = "tracked_finish_reason_stop"
	FinishReasonLength        = "tracked_finish_reason_length"
	FinishReasonToolCalls     = "tracked_finish_reason_tool_calls"
	FinishReasonContentFilter = "tracked_finish_reason_content_filter"
	FinishReasonFunctionCall  = "tracked_finish_reason_function_call"
	FinishReasonOther         = "tracked_finish_reason_other"
	// FinishReasonPrefix is what the six names share; the rest is the reason.
	FinishReasonPrefix = "tracked_finish_reason_"
)

// FinishReasons are the finish_reason values counted apart, in report
// order: the suffixes of the FinishReason* counters.
var FinishReasons = []string{"stop", "length", "tool_calls", "content_filter", "function_call", "other"}

// BadFrames counts the frames of the event stream that were skipped because
// they could not be decoded. The aggregator registers it at the first bad
// frame, so the snapshot of a clean stream does not carry it.
const BadFrames = "bad_frames"

// Derived figures: computed from a snapshot by [RatesOf] and [InFlight],
// never carried in one. They are in the dictionary so that every consumer
// shows them under one name, unit and meaning.
const (
	QPSName      = "qps"
	TPSName      = "tps"
	InFlightName = "in_flight"
	// GoodputName and GoodTPSName are the goodput rates (with a goodput
	// rule): good requests and their output tokens per second of tracked
	// duration.
	GoodputName = "goodput"
	GoodTPSName = "good_tps"
)

// Per-worker figures of a fleet run: one value per worker of the snapshot's
// fleet section ([FleetWorker]), never registry metrics (the registry
// refuses them). They cover warmup and tracked samples alike: the workers'
// completions add up to total_samples_completed once the run has ended.
// The Prometheus exporter labels them worker="NAME".
const (
	FleetWorkerIssued    = "fleet_worker_samples_issued"
	FleetWorkerCompleted = "fleet_worker_samples_completed"
	FleetWorkerFailed    = "fleet_worker_samples_failed"
	FleetWorkerInFlight  = "fleet_worker_in_flight"
	// FleetWorkerQPS is the worker's completions (failed and warmup ones
	// included) per second since the run started: not the run's QPS.
	FleetWorkerQPS = "fleet_worker_qps"
	// FleetWorkerLatenessP99 is the p99 of the worker's recent scheduler
	// lateness values.
	FleetWorkerLatenessP99 = "fleet_worker_issue_lateness_p99_ns"
	// FleetWorkerLost is 1 once the worker is declared lost, else 0.
	FleetWorkerLost = "fleet_worker_lost"
	// FleetWorkerClockOffset is the coordinator's estimate of the worker's
	// clock offset, and FleetWorkerClockUncertainty its uncertainty (half
	// the round trip of the exchange it comes from).
	FleetWorkerClockOffset      = "fleet_worker_clock_offset_ns"
	FleetWorkerClockUncertainty = "fleet_worker_clock_uncertainty_ns"
)

// Unit is the unit of a metric's values as the snapshot carries them.
type Unit string

// The units.
const (
	UnitCount       Unit = "count"  // samples, requests, records
	UnitNanoseconds Unit = "ns"     // durations; every such name ends in _ns
	UnitTokens      Unit = "tokens" // token counts
	UnitRatio       Unit = "ratio"  // dimensionless (a sum of relative differences)
	UnitPerSecond   Unit = "req/s"  // requests per second of tracked duration
	UnitTokensPerS  Unit = "tok/s"  // tokens per second of tracked duration
	UnitBool        Unit = "bool"   // 0 or 1
)

// Desc describes one metric (or one family of counters).
type Desc struct {
	// Name is the snapshot name; for a family, the prefix that the class
	// follows ("errors." + "timeout").
	Name string
	// Kind is KindCounter, KindSeries or KindDerived.
	Kind Kind
	// Family marks a prefix: the aggregator registers Name+class on demand.
	Family bool
	// Float marks float values (a float counter, a float series).
	Float bool
	// Unit is the unit of the snapshot values.
	Unit Unit
	// Title is the human label of reports ("Input sequence lengths").
	Title string
	// Label is the short label of the dashboard ("ISL (tokens)").
	Label string
	// Help says what the metric counts, in one sentence (Prometheus HELP).
	Help string
	// DisplayUnit and DisplayScale are how a person reads the values: value
	// × DisplayScale in DisplayUnit (nanoseconds shown as "ms", 1e-6).
	DisplayUnit  string
	DisplayScale float64
	// PerWorker marks a per-worker figure of a fleet run (the fleet
	// section of a snapshot, one value per worker): a counter that counts
	// per worker, or a derived figure read as a gauge.
	PerWorker bool
}

// KindDerived marks a figure computed from a snapshot (QPS, TPS, in flight);
// no snapshot carries it.
const KindDerived Kind = KindSeries + 1

// String names the kind: "counter", "series" or "derived".
func (k Kind) String() string {
	switch k {
	case KindCounter:
		return "counter"
	case KindSeries:
		return "series"
	case KindDerived:
		return "derived"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// dictionary is the one table of metrics. Keep counters, then series, then
// derived figures, then the per-worker figures of a fleet run; a new metric
// gets one entry here.
var dictionary = []Desc{
	// Sample counters.
	{Name: TotalIssued, Kind: KindCounter, Unit: UnitCount, Title: "Samples issued (warmup included)", Label: "issued (all)",
		Help: "Samples issued, warmup included."},
	{Name: TotalCompleted, Kind: KindCounter, Unit: UnitCount, Title: "Samples completed (warmup included)", Label: "completed (all)",
		Help: "Samples completed (succeeded or failed), warmup included."},
	{Name: TotalFailed, Kind: KindCounter, Unit: UnitCount, Title: "Samples failed (warmup included)", Label: "failed (all)",
		Help: "Samples failed, warmup included."},
	{Name: TrackedIssued, Kind: KindCounter, Unit: UnitCount, Title: "Samples issued", Label: "issued",
		Help: "Samples issued inside a performance-tracking window."},
	{Name: TrackedCompleted, Kind: KindCounter, Unit: UnitCount, Title: "Samples completed", Label: "completed",
		Help: "Tracked samples completed (succeeded + failed)."},
	{Name: TrackedFailed, Kind: KindCounter, Unit: UnitCount, Title: "Samples failed", Label: "failed",
		Help: "Tracked samples failed."},
	{Name: FinishReasonStop, Kind: KindCounter, Unit: UnitCount, Title: "Finish reason stop", Label: "stop",
		Help: "Tracked completions with finish_reason stop."},
	{Name: FinishReasonLength, Kind: KindCounter, Unit: UnitCount, Title: "Finish reason length", Label: "length",
		Help: "Tracked completions with finish_reason length."},
	{Name: FinishReasonToolCalls, Kind: KindCounter, Unit: UnitCount, Title: "Finish reason tool_calls", Label: "tool_calls",
		Help: "Tracked completions with finish_reason tool_calls."},
	{Name: FinishReasonContentFilter, Kind: KindCounter, Unit: UnitCount, Title: "Finish reason content_filter", Label: "content_filter",
		Help: "Tracked completions with finish_reason content_filter."},
	{Name: FinishReasonFunctionCall, Kind: KindCounter, Unit: UnitCount, Title: "Finish reason function_call", Label: "function_call",
		Help: "Tracked completions with finish_reason function_call."},
	{Name: FinishReasonOther, Kind: KindCounter, Unit: UnitCount, Title: "Finish reason other", Label: "other",
		Help: "Tracked completions with a finish_reason outside the five OpenAI ones."},
	{Name: TrackedDuration, Kind: KindCounter, Unit: UnitNanoseconds, Title: "Tracked duration", Label: "tracked",
		Help:        "Sum over tracking windows of (last tracked completion − window start); the denominator of QPS and TPS.",
		DisplayUnit: "s", DisplayScale: 1e-9},
	{Name: TotalDuration, Kind: KindCounter, Unit: UnitNanoseconds, Title: "Elapsed time", Label: "elapsed",
		Help:        "Time from session start to the newest event.",
		DisplayUnit: "s", DisplayScale: 1e-9},
	{Name: RetriedRequests, Kind: KindCounter, Unit: UnitCount, Title: "Retried requests", Label: "retried",
		Help: "Requests sent a second time because the server closed a reused connection before answering, warmup included."},
	{Name: TrackedIssueDuration, Kind: KindCounter, Unit: UnitNanoseconds, Title: "Tracked issue duration", Label: "issuing",
		Help:        "Sum over tracking windows of (last tracked issue − window start); the denominator of the achieved issue rate.",
		DisplayUnit: "s", DisplayScale: 1e-9},
	{Name: TrackedGood, Kind: KindCounter, Unit: UnitCount, Title: "Good samples (goodput)", Label: "good",
		Help: "Tracked requests that succeeded and met every --goodput bound."},
	{Name: TrackedGoodTokens, Kind: KindCounter, Unit: UnitTokens, Title: "Output tokens of good samples", Label: "good tokens",
		Help: "Output tokens of the tracked requests that met every --goodput bound."},
	{Name: TrackedQueued, Kind: KindCounter, Unit: UnitCount, Title: "Requests queued for a concurrency slot", Label: "queued",
		Help: "Tracked samples that waited for a free --max-concurrency slot before they were sent."},
	// Error families.
	{Name: ErrorCounterPrefix, Kind: KindCounter, Family: true, Unit: UnitCount, Title: "Errors by class", Label: "errors",
		Help: "Failed tracked requests by error class."},
	{Name: WarmupErrorCounterPrefix, Kind: KindCounter, Family: true, Unit: UnitCount, Title: "Warmup errors by class", Label: "warmup errors",
		Help: "Failed warmup (untracked) requests by error class."},
	{Name: OtherErrorCounterPrefix, Kind: KindCounter, Family: true, Unit: UnitCount, Title: "Errors that failed no sample", Label: "other errors",
		Help: "Error records that failed no request (no sample, or a repeat), by class."},
	{Name: BadFrames, Kind: KindCounter, Unit: UnitCount, Title: "Bad frames", Label: "bad frames",
		Help: "Event stream frames skipped because they could not be decoded (never a failed sample)."},
	// Tokenizer against server usage.
	{Name: OSLCompared, Kind: KindCounter, Unit: UnitCount, Title: "OSL compared with server usage", Label: "osl compared",
		Help: "Successful samples whose tokenizer OSL was compared with the server's usage."},
	{Name: OSLMismatched, Kind: KindCounter, Unit: UnitCount, Title: "OSL differing from server usage", Label: "osl differ",
		Help: "Compared samples whose tokenizer OSL differs from the server's usage."},
	{Name: OSLRelDiffSum, Kind: KindCounter, Float: true, Unit: UnitRatio, Title: "Sum of OSL relative differences", Label: "osl rel. diff",
		Help: "Sum over compared samples of |tokenizer − usage| / usage."},
	// Multi-turn conversations.
	{Name: TrackedConversationsStarted, Kind: KindCounter, Unit: UnitCount, Title: "Conversations started", Label: "convs started",
		Help: "Multi-turn conversations whose first turn was issued inside a performance-tracking window."},
	{Name: TrackedConversationsCompleted, Kind: KindCounter, Unit: UnitCount, Title: "Conversations completed", Label: "convs completed",
		Help: "Tracked conversations whose every turn succeeded."},
	{Name: TrackedConversationsFailed, Kind: KindCounter, Unit: UnitCount, Title: "Conversations failed", Label: "convs failed",
		Help: "Tracked conversations ended by a failed turn (their later turns were not sent)."},

	// Series.
	{Name: SeriesTTFT, Kind: KindSeries, Unit: UnitNanoseconds, Title: "TTFT", Label: "TTFT",
		Help:        "Time to first token of tracked samples (first chunk − issue).",
		DisplayUnit: "ms", DisplayScale: 1e-6},
	{Name: SeriesTPOT, Kind: KindSeries, Float: true, Unit: UnitNanoseconds, Title: "TPOT", Label: "TPOT",
		Help:        "Time per output token after the first, of successful streamed samples.",
		DisplayUnit: "ms", DisplayScale: 1e-6},
	{Name: SeriesChunkDelta, Kind: KindSeries, Unit: UnitNanoseconds, Title: "Inter-chunk latency", Label: "inter-chunk",
		Help:        "Gap between consecutive chunks of a tracked sample.",
		DisplayUnit: "ms", DisplayScale: 1e-6},
	{Name: SeriesLatency, Kind: KindSeries, Unit: UnitNanoseconds, Title: "Latency", Label: "latency",
		Help:        "Latency of successful tracked samples (complete − issue).",
		DisplayUnit: "ms", DisplayScale: 1e-6},
	{Name: SeriesFailedLatency, Kind: KindSeries, Unit: UnitNanoseconds, Title: "Latency of failed requests", Label: "failed latency",
		Help:        "Latency of failed tracked samples (complete − issue).",
		DisplayUnit: "ms", DisplayScale: 1e-6},
	{Name: SeriesISL, Kind: KindSeries, Unit: UnitTokens, Title: "Input sequence lengths", Label: "ISL (tokens)",
		Help:        "Input tokens of tracked samples.",
		DisplayUnit: "tokens", DisplayScale: 1},
	{Name: SeriesOSL, Kind: KindSeries, Unit: UnitTokens, Title: "Output sequence lengths", Label: "OSL (tokens)",
		Help:        "Output tokens of successful tracked samples.",
		DisplayUnit: "tokens", DisplayScale: 1},
	{Name: SeriesOSLUsage, Kind: KindSeries, Unit: UnitTokens, Title: "Output sequence lengths (server usage)", Label: "OSL (usage)",
		Help:        "Output tokens of successful tracked samples as the server's usage reports them.",
		DisplayUnit: "tokens", DisplayScale: 1},
	{Name: SeriesLateness, Kind: KindSeries, Unit: UnitNanoseconds, Title: "Scheduler lateness (issue − intended time)", Label: "sched. lateness",
		Help:        "Scheduler lateness of tracked samples (issue − intended time).",
		DisplayUnit: "us", DisplayScale: 1e-3},
	{Name: SeriesQueueWait, Kind: KindSeries, Unit: UnitNanoseconds, Title: "Queue wait for a concurrency slot (send − release)", Label: "queue wait",
		Help:        "Time tracked samples waited for a free --max-concurrency slot after the scheduler released them (send − release).",
		DisplayUnit: "ms", DisplayScale: 1e-6},
	{Name: SeriesConversationLatency, Kind: KindSeries, Unit: UnitNanoseconds, Title: "Conversation latency (first issue → last completion)", Label: "conv. latency",
		Help:        "Latency of completed tracked conversations: last turn's completion − first turn's issue, think times included.",
		DisplayUnit: "ms", DisplayScale: 1e-6},

	// Derived figures.
	{Name: QPSName, Kind: KindDerived, Float: true, Unit: UnitPerSecond, Title: "QPS", Label: "QPS",
		Help: "Tracked successful completions per second of tracked duration."},
	{Name: TPSName, Kind: KindDerived, Float: true, Unit: UnitTokensPerS, Title: "TPS", Label: "TPS",
		Help: "Output tokens (the osl total) per second of tracked duration."},
	{Name: InFlightName, Kind: KindDerived, Unit: UnitCount, Title: "In flight", Label: "in flight",
		Help: "Requests issued and not completed, warmup included."},
	{Name: GoodputName, Kind: KindDerived, Float: true, Unit: UnitPerSecond, Title: "Goodput", Label: "goodput",
		Help: "Good requests (within every --goodput bound) per second of tracked duration."},
	{Name: GoodTPSName, Kind: KindDerived, Float: true, Unit: UnitTokensPerS, Title: "Good TPS", Label: "good TPS",
		Help: "Output tokens of good requests per second of tracked duration."},

	// Per-worker figures of a fleet run.
	{Name: FleetWorkerIssued, Kind: KindCounter, PerWorker: true, Unit: UnitCount, Title: "Samples issued by the worker", Label: "issued",
		Help: "Samples a fleet worker issued, warmup included."},
	{Name: FleetWorkerCompleted, Kind: KindCounter, PerWorker: true, Unit: UnitCount, Title: "Samples completed by the worker", Label: "completed",
		Help: "Samples of a fleet worker completed (succeeded or failed, a lost worker's in-flight ones as failed), warmup included."},
	{Name: FleetWorkerFailed, Kind: KindCounter, PerWorker: true, Unit: UnitCount, Title: "Samples failed by the worker", Label: "failed",
		Help: "Samples of a fleet worker failed, warmup included."},
	{Name: FleetWorkerInFlight, Kind: KindDerived, PerWorker: true, Unit: UnitCount, Title: "In flight on the worker", Label: "in flight",
		Help: "Samples a fleet worker issued and did not complete yet."},
	{Name: FleetWorkerQPS, Kind: KindDerived, PerWorker: true, Float: true, Unit: UnitPerSecond, Title: "Worker completions per second", Label: "QPS",
		Help: "Completions of a fleet worker (failed and warmup ones included) per second since the run started."},
	{Name: FleetWorkerLatenessP99, Kind: KindDerived, PerWorker: true, Unit: UnitNanoseconds, Title: "Worker scheduler lateness p99", Label: "late p99",
		Help:        "p99 of a fleet worker's recent scheduler lateness values (issue − intended time).",
		DisplayUnit: "us", DisplayScale: 1e-3},
	{Name: FleetWorkerLost, Kind: KindDerived, PerWorker: true, Unit: UnitBool, Title: "Worker lost", Label: "lost",
		Help: "1 once the fleet worker is declared lost (silent for --fleet-timeout), else 0."},
	{Name: FleetWorkerClockOffset, Kind: KindDerived, PerWorker: true, Unit: UnitNanoseconds, Title: "Worker clock offset", Label: "offset",
		Help:        "The coordinator's estimate of a fleet worker's clock offset (worker − coordinator).",
		DisplayUnit: "ms", DisplayScale: 1e-6},
	{Name: FleetWorkerClockUncertainty, Kind: KindDerived, PerWorker: true, Unit: UnitNanoseconds, Title: "Worker clock offset uncertainty", Label: "offset ±",
		Help:        "Uncertainty of a fleet worker's clock offset estimate (half the round trip of its best exchange).",
		DisplayUnit: "ms", DisplayScale: 1e-6},
}

// byName indexes the entries (a family by its prefix).
var byName = func() map[string]int {
	m := make(map[string]int, len(dictionary))
	for i, d := range dictionary {
		m[d.Name] = i
	}
	return m
}()

// Dictionary returns every entry of the metric dictionary, in table order
// (counters, series, derived figures). The slice is a copy.
func Dictionary() []Desc { return append([]Desc(nil), dictionary...) }

// Lookup returns the entry of name: its own entry (a family's prefix
// included), or the entry of the family whose prefix it carries
// ("errors.timeout" → "errors."), or false when the dictionary does not know
// it.
func Lookup(name string) (Desc, bool) {
	if i, ok := byName[name]; ok {
		return dictionary[i], true
	}
	for _, d := range dictionary {
		if d.Family && len(name) > len(d.Name) && strings.HasPrefix(name, d.Name) {
			return d, true
		}
	}
	return Desc{}, false
}

// ErrUnknownMetric is returned by [VetName] for a name the metric dictionary
// does not know.
var ErrUnknownMetric = errors.New("metrics: not in the metric dictionary (internal/metrics/dictionary.go)")

// VetName accepts the names the dictionary knows (a family member included)
// and rejects any other with [ErrUnknownMetric]; see [Registry.Vet].
func VetName(name string) error {
	if d, ok := Lookup(name); !ok || d.Kind == KindDerived || d.PerWorker || d.Family && name == d.Name {
		return fmt.Errorf("%w: %q", ErrUnknownMetric, name)
	}
	return nil
}

// Known reports whether the dictionary knows name (see [Lookup]).
func Known(name string) bool {
	_, ok := Lookup(name)
	return ok
}

// Title returns the human label of name, or name itself when unknown.
func Title(name string) string {
	if d, ok := Lookup(name); ok {
		return d.Title
	}
	return name
}

// Label returns the dashboard label of name, or name itself when unknown.
func Label(name string) string {
	if d, ok := Lookup(name); ok {
		return d.Label
	}
	return name
}

// SeriesOpts returns the options a series of this entry is registered with:
// the HDR range of its unit (nanoseconds or tokens) and its value type.
func (d Desc) SeriesOpts() SeriesOpts {
	o := SeriesOpts{Float: d.Float, Low: TimeLow, High: TimeHigh}
	if d.Unit == UnitTokens {
		o.Low, o.High = TokenLow, TokenHigh
	}
	return o
}

// Class splits a family member into its family entry and class:
// "warmup_errors.http_503" → (the warmup_errors. entry, "http_503", true).
func Class(name string) (Desc, string, bool) {
	d, ok := Lookup(name)
	if !ok || !d.Family || len(name) == len(d.Name) {
		return Desc{}, "", false
	}
	return d, name[len(d.Name):], true
}

// The TTFT-by-turn series are generated (one per turn number up to
// MaxTurnSeries, then "17+") and placed after the other series, before the
// derived figures.
func init() {
	var turns []Desc
	for k := 1; k <= MaxTurnSeries+1; k++ {
		label, _ := TurnLabel(TTFTByTurn(k))
		turns = append(turns, Desc{Name: TTFTByTurn(k), Kind: KindSeries, Unit: UnitNanoseconds,
			Title: "TTFT of turn " + label, Label: "TTFT turn " + label,
			Help:        "Time to first token of tracked multi-turn samples that are turn " + label + " of their conversation.",
			DisplayUnit: "ms", DisplayScale: 1e-6})
	}
	i := slices.IndexFunc(dictionary, func(d Desc) bool { return d.Kind == KindDerived })
	if i < 0 {
		i = len(dictionary)
	}
	dictionary = slices.Insert(dictionary, i, turns...)
	clear(byName)
	for i, d := range dictionary {
		byName[d.Name] = i
	}
}
