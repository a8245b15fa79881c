package eventlog

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"

	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
)

// Rebuilt is a final snapshot rebuilt from a run's event log.
type Rebuilt struct {
	Snapshot metrics.Snapshot
	// From lists the files it was rebuilt from.
	From []string
	// Missing lists the series the run had that could not be rebuilt
	// (chunk_delta_ns needs events.jsonl.zst).
	Missing []string
	// Notes say what else a reader should know (a truncated last line, …).
	Notes []string
}

// Rebuild rebuilds the final snapshot of the run in dir from requests.jsonl
// (and the inter-chunk gaps from events.jsonl.zst when present): the same
// counters and the same exact percentiles of every per-request series as the
// aggregator writes, for a run killed before it wrote final_snapshot.json.
// Requests in flight when a process was killed are missing: a request is
// logged when it completes.
func Rebuild(dir string) (*Rebuilt, error) { return RebuildWith(dir, RebuildOptions{}) }

// RebuildOptions say what else of the run's configuration the rebuild needs.
type RebuildOptions struct {
	// Goodput is the run's goodput rule (--goodput), nil for none: with it
	// the rebuilt snapshot counts tracked_samples_good and
	// tracked_good_output_tokens as the aggregator did.
	Goodput *GoodputBounds
}

// GoodputBounds is the aggregator's per-request goodput rule
// (aggregator.GoodputBounds): a tracked request is good when it succeeded
// and its TTFT (its latency when not streamed), TPOT and latency are each at
// most their bound. A zero bound does not bound; a request without a TPOT
// meets the TPOT bound.
type GoodputBounds struct {
	TTFT, Latency int64   // nanoseconds
	TPOT          float64 // nanoseconds per output token
}

// good reports whether a successful tracked request meets the rule.
func (g *GoodputBounds) good(r *Request) bool {
	lat := *r.Lat
	ttft := lat
	if r.TTFT != nil {
		ttft = *r.TTFT
	}
	tpot := math.NaN()
	if dec := r.DecodeTokens(); dec > 0 {
		tpot = float64(lat-*r.TTFT) / float64(dec)
	}
	return (g.TTFT == 0 || ttft <= g.TTFT) && (g.Latency == 0 || lat <= g.Latency) && (g.TPOT == 0 || !(tpot > g.TPOT))
}

// RebuildWith is [Rebuild] with the options of the run's configuration.
func RebuildWith(dir string, o RebuildOptions) (*Rebuilt, error) {
	path := rundir.Requests(dir)
	rs, err := ReadRequests(path)
	if err != nil {
		return nil, err
	}
	out := &Rebuilt{From: []string{path}}
	if rs.Truncated {
		out.Notes = append(out.Notes, "the last line of requests.jsonl was cut short (the process was killed mid-write) and is ignored")
	}
	b := newBuilder(rs.Streaming, rs.Tokenizer)
	b.goodput = o.Goodput
	var deltas []int64
	if rs.Streaming {
		full := rundir.Events(dir)
		tracked := make(map[string]bool, len(rs.Requests))
		for i := range rs.Requests {
			if r := &rs.Requests[i]; r.Tracked() {
				tracked[r.ID] = true
			}
		}
		d, note, err := chunkDeltas(full, tracked)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			out.Missing = append(out.Missing, metrics.SeriesChunkDelta)
		case err != nil:
			return nil, err
		default:
			deltas = d
			out.From = append(out.From, full)
			if note != "" {
				out.Notes = append(out.Notes, note)
			}
		}
	}
	if err := b.register(rs.Streaming && len(out.Missing) == 0); err != nil {
		return nil, err
	}
	out.Snapshot = b.build(rs, deltas)
	return out, nil
}

type builder struct {
	streaming, tokenizer bool
	goodput              *GoodputBounds
	reg                  *metrics.Registry
	counters             map[string]*metrics.Counter
	series               map[string]*metrics.Series
	errs                 []error
	convOpen             map[string]int64 // conversation → its first turn's issue (nil: none seen)
}

func newBuilder(streaming, tokenizer bool) *builder {
	reg := metrics.NewRegistry()
	reg.Vet = metrics.VetName // the aggregator's names, from the dictionary only
	return &builder{streaming: streaming, tokenizer: tokenizer, reg: reg,
		counters: map[string]*metrics.Counter{}, series: map[string]*metrics.Series{}}
}

// register registers what the aggregator registers, in its order.
func (b *builder) register(chunkDelta bool) error {
	for _, n := range []string{metrics.TotalIssued, metrics.TotalCompleted, metrics.TotalFailed, metrics.TrackedIssued, metrics.TrackedCompleted,
		metrics.TrackedFailed} {
		b.counter(n, false)
	}
	for _, fr := range metrics.FinishReasons {
		b.counter(metrics.FinishReasonPrefix+fr, false)
	}
	b.counter(metrics.TrackedDuration, false)
	b.counter(metrics.TotalDuration, false)
	b.counter(metrics.RetriedRequests, false)
	b.counter(metrics.TrackedIssueDuration, false)
	if b.goodput != nil {
		b.counter(metrics.TrackedGood, false)
		b.counter(metrics.TrackedGoodTokens, false)
	}
	timeOpts := metrics.SeriesOpts{Low: metrics.TimeLow, High: metrics.TimeHigh}
	tokenOpts := metrics.SeriesOpts{Low: metrics.TokenLow, High: metrics.TokenHigh}
	// The tail-latency series carry early-stopping estimates, as the
	// aggregator's do.
	tailOpts := timeOpts
	tailOpts.EarlyStopping = true
	if b.streaming {
		b.newSeries(metrics.SeriesTTFT, tailOpts)
	}
	b.newSeries(metrics.SeriesLatency, tailOpts)
	b.newSeries(metrics.SeriesFailedLatency, timeOpts)
	if b.streaming {
		if chunkDelta {
			b.newSeries(metrics.SeriesChunkDelta, timeOpts)
		}
		o := tailOpts
		o.Float = true
		b.newSeries(metrics.SeriesTPOT, o)
	}
	b.newSeries(metrics.SeriesISL, tokenOpts)
	b.newSeries(metrics.SeriesOSL, tokenOpts)
	b.newSeries(metrics.SeriesLateness, timeOpts)
	if b.tokenizer {
		b.newSeries(metrics.SeriesOSLUsage, tokenOpts)
		b.counter(metrics.OSLCompared, false)
		b.counter(metrics.OSLMismatched, false)
		b.counter(metrics.OSLRelDiffSum, true)
	}
	return errors.Join(b.errs...)
}

func (b *builder) counter(name string, isFloat bool) *metrics.Counter {
	if c, ok := b.counters[name]; ok {
		return c
	}
	c, err := b.reg.NewCounter(name, isFloat)
	if err != nil {
		b.errs = append(b.errs, err)
		return nil
	}
	b.counters[name] = c
	return c
}

func (b *builder) newSeries(name string, o metrics.SeriesOpts) {
	s, err := b.reg.NewSeries(name, o)
	if err != nil {
		b.errs = append(b.errs, err)
		return
	}
	b.series[name] = s
}

func (b *builder) add(name string, d int64) {
	if c := b.counter(name, false); c != nil {
		c.Add(d)
	}
}

func (b *builder) record(name string, v int64) {
	if s := b.series[name]; s != nil {
		s.Record(v)
	}
}

// queueWait records the wait of a tracked request that went through a
// concurrency cap; like the aggregator, it registers the cap's series and
// counter at the first one.
func (b *builder) queueWait(qw int64) {
	if b.series[metrics.SeriesQueueWait] == nil {
		b.counter(metrics.TrackedQueued, false)
		b.newSeries(metrics.SeriesQueueWait, metrics.SeriesOpts{Low: metrics.TimeLow, High: metrics.TimeHigh, ZeroOK: true})
	}
	qw = max(qw, 0)
	b.record(metrics.SeriesQueueWait, qw)
	if qw > 0 {
		b.add(metrics.TrackedQueued, 1)
	}
}

type window struct{ start, lastComplete, lastIssue int64 }

func (b *builder) build(rs *Requests, deltas []int64) metrics.Snapshot {
	var (
		base           int64
		started        bool
		ended, stopped bool
		windows        []window
		lastTS         int64 // relative to base
	)
	for _, m := range rs.Marks {
		if m.Ev == event.SessionStarted.Topic() && !started {
			started, base = true, m.TS
		}
	}
	for _, m := range rs.Marks {
		if started {
			lastTS = max(lastTS, m.TS-base)
		}
		switch m.Ev {
		case event.SessionEnded.Topic():
			ended = true
		case event.SessionStopLoadgen.Topic():
			stopped = true
		case event.SessionStartTracking.Topic():
			windows = append(windows, window{start: m.TS, lastComplete: m.TS, lastIssue: m.TS})
		}
		if m.Err != "" {
			if m.Fails != 0 {
				b.add(metrics.TotalFailed, 1)
				b.add(metrics.WarmupErrorCounterPrefix+m.Err, 1)
			} else {
				b.add(metrics.OtherErrorCounterPrefix+m.Err, 1)
			}
		}
	}
	for i := range rs.Requests {
		r := &rs.Requests[i]
		b.add(metrics.TotalIssued, 1)
		lastTS = max(lastTS, r.Iss)
		if r.Lat != nil {
			b.add(metrics.TotalCompleted, 1)
			b.add(metrics.RetriedRequests, r.Rt)
			lastTS = max(lastTS, r.Iss+*r.Lat)
		}
		if r.Last != nil {
			lastTS = max(lastTS, r.Iss+*r.Last)
		}
		if r.Err != "" {
			b.add(metrics.TotalFailed, 1)
			if r.Tracked() {
				b.add(metrics.ErrorCounterPrefix+r.Err, 1)
			} else {
				b.add(metrics.WarmupErrorCounterPrefix+r.Err, 1)
			}
		}
		if !r.Tracked() {
			continue
		}
		b.add(metrics.TrackedIssued, 1)
		if r.Blk >= 0 && r.Blk < len(windows) {
			w := &windows[r.Blk]
			// Under a concurrency cap the issue rate runs to the release.
			iss := r.Iss
			if r.QW != nil {
				iss -= *r.QW
			}
			w.lastIssue = max(w.lastIssue, base+iss)
		}
		if r.Late != nil {
			b.record(metrics.SeriesLateness, max(*r.Late, 0))
		}
		if r.QW != nil {
			b.queueWait(*r.QW)
		}
		if r.ISL != nil {
			b.record(metrics.SeriesISL, *r.ISL)
		}
		if r.TTFT != nil {
			b.record(metrics.SeriesTTFT, *r.TTFT)
		}
		if r.Turn > 0 {
			b.conversationTurn(r)
		}
		if r.Err != "" {
			b.add(metrics.TrackedFailed, 1)
		}
		if r.Lat == nil {
			continue
		}
		b.add(metrics.TrackedCompleted, 1)
		if r.Fin != "" {
			fr := "other"
			for _, known := range metrics.FinishReasons {
				if r.Fin == known {
					fr = known
				}
			}
			b.add(metrics.FinishReasonPrefix+fr, 1)
		}
		if r.Blk >= 0 && r.Blk < len(windows) {
			w := &windows[r.Blk]
			w.lastComplete = max(w.lastComplete, base+r.Iss+*r.Lat)
		}
		if r.Err != "" {
			b.record(metrics.SeriesFailedLatency, *r.Lat)
			continue
		}
		b.record(metrics.SeriesLatency, *r.Lat)
		if b.goodput != nil && b.goodput.good(r) {
			b.add(metrics.TrackedGood, 1)
			if r.OSL != nil {
				b.add(metrics.TrackedGoodTokens, *r.OSL)
			}
		}
		if r.UOSL != nil {
			b.record(metrics.SeriesOSLUsage, *r.UOSL)
		}
		if r.OSL != nil {
			b.record(metrics.SeriesOSL, *r.OSL)
			if r.UOSL != nil && b.tokenizer {
				b.add(metrics.OSLCompared, 1)
				if *r.OSL != *r.UOSL {
					b.add(metrics.OSLMismatched, 1)
				}
				if c := b.counters[metrics.OSLRelDiffSum]; c != nil {
					c.AddFloat(math.Abs(float64(*r.OSL-*r.UOSL)) / float64(*r.UOSL))
				}
			}
		}
		if dec := r.DecodeTokens(); dec > 0 && b.streaming {
			if s := b.series[metrics.SeriesTPOT]; s != nil {
				s.RecordFloat(float64(*r.Lat-*r.TTFT) / float64(dec))
			}
		}
	}
	for _, d := range deltas {
		b.record(metrics.SeriesChunkDelta, d)
	}
	var tracked, issuing int64
	for _, w := range windows {
		tracked += max(w.lastComplete-w.start, 0)
		issuing += max(w.lastIssue-w.start, 0)
	}
	b.counters[metrics.TrackedDuration].Set(tracked)
	b.counters[metrics.TrackedIssueDuration].Set(issuing)
	b.counters[metrics.TotalDuration].Set(lastTS)
	state := metrics.StateInterrupted
	if ended && !stopped {
		state = metrics.StateComplete
	}
	return b.reg.Snapshot(state, 0, base+lastTS)
}

// conversationTurn folds a tracked conversation turn into the conversation
// metrics as the aggregator does (see its conversation.go): requests.jsonl
// holds the turns of a conversation in order, since a turn is issued only
// after its predecessor completed.
func (b *builder) conversationTurn(r *Request) {
	timeOpts := metrics.SeriesOpts{Low: metrics.TimeLow, High: metrics.TimeHigh}
	if b.convOpen == nil {
		b.convOpen = map[string]int64{}
		b.counter(metrics.TrackedConversationsStarted, false)
		b.counter(metrics.TrackedConversationsCompleted, false)
		b.counter(metrics.TrackedConversationsFailed, false)
		b.newSeries(metrics.SeriesConversationLatency, timeOpts)
	}
	if r.Turn == 1 {
		b.add(metrics.TrackedConversationsStarted, 1)
		if _, dup := b.convOpen[r.Conv]; !dup {
			b.convOpen[r.Conv] = r.Iss
		}
	}
	if r.TTFT != nil && b.streaming {
		name := metrics.TTFTByTurn(r.Turn)
		if b.series[name] == nil {
			b.newSeries(name, timeOpts)
		}
		b.record(name, *r.TTFT)
	}
	start, open := b.convOpen[r.Conv]
	if r.Lat == nil || !open || r.Err == "" && r.LastTurn == 0 {
		return
	}
	delete(b.convOpen, r.Conv)
	if r.Err != "" {
		b.add(metrics.TrackedConversationsFailed, 1)
		return
	}
	b.add(metrics.TrackedConversationsCompleted, 1)
	b.record(metrics.SeriesConversationLatency, r.Iss+*r.Lat-start)
}

// chunkDeltas replays events.jsonl.zst the way the aggregator reads the bus
// and returns the inter-chunk gaps of the tracked requests of requests.jsonl
// (the log writes the full log first, so it holds all their chunks even
// after a kill). A stream cut short yields what its whole frames hold.
func chunkDeltas(path string, tracked map[string]bool) ([]int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	dec, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20),
		zstd.WithDecoderMaxMemory(256<<20))
	if err != nil {
		return nil, "", fmt.Errorf("eventlog: %s: %w", path, err)
	}
	defer dec.Close()
	type row struct {
		last     int64
		hasFirst bool
	}
	var (
		deltas []int64
		rows   = map[string]*row{}
		note   string
	)
	br := bufio.NewReaderSize(dec, 256<<10)
	for {
		line, err := readLineMax(br, maxEventLineBytes)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			note = fmt.Sprintf("%s ends early (%v): inter-chunk gaps after that point are missing", filepath.Base(path), err)
			break
		}
		if line[len(line)-1] != '\n' {
			break
		}
		var r struct {
			Type string `json:"event_type"`
			TS   int64  `json:"timestamp_ns"`
			ID   string `json:"sample_uuid"`
		}
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, "", fmt.Errorf("eventlog: %s: %w", path, err)
		}
		switch r.Type {
		case "session.ended":
			return deltas, note, nil
		case "sample.issued":
			if _, dup := rows[r.ID]; tracked[r.ID] && !dup {
				rows[r.ID] = &row{}
			}
		case "sample.recv_first", "sample.recv_non_first":
			rw, ok := rows[r.ID]
			if !ok {
				continue
			}
			if r.Type == "sample.recv_first" && !rw.hasFirst {
				rw.hasFirst = true
			} else if rw.last != 0 {
				deltas = append(deltas, r.TS-rw.last)
			}
			rw.last = r.TS
		case "sample.complete":
			delete(rows, r.ID)
		}
	}
	return deltas, note, nil
}
