package loadgen

// Multi-turn sessions. When the dataset holds conversations
// (dataset.LoadConversations), the load is counted in conversations: a
// schedule's arrivals start conversations (poisson, constant), Concurrency
// workers each run one conversation after another, and offline starts
// them all at once, at most MaxInFlight active. Inside a conversation turn
// k+1 is issued only after turn k completed, plus a think time; its
// intended time is that completion plus the think time, so the lateness
// of every later turn is measured like an open-loop arrival's. A failed
// turn ends its conversation. NumSamples, WarmupSamples and the dataset
// pass count conversations; Duration stops every conversation's next turn.

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
)

// ThinkKind is the distribution of a [ThinkTime].
type ThinkKind string

// The think-time distributions.
const (
	// ThinkDataset uses the dataset's delay of each turn (0 when it has none).
	ThinkDataset ThinkKind = ""
	ThinkFixed   ThinkKind = "fixed"   // always A
	ThinkExp     ThinkKind = "exp"     // exponential with mean A
	ThinkUniform ThinkKind = "uniform" // uniform in [A, B]
)

// MaxThinkTime bounds a think time given on the command line.
const MaxThinkTime = time.Hour

// ThinkTime is the time a simulated user takes between a reply and the
// next turn. Every kind but ThinkDataset overrides the dataset's delays.
type ThinkTime struct {
	Kind ThinkKind
	A, B time.Duration
}

// ParseThinkTime reads "dataset" or "" (the dataset's delays, else none),
// "2s" (fixed), "exp:2s" (exponential, mean 2 s) or "uniform:1s-3s".
func ParseThinkTime(s string) (ThinkTime, error) {
	bad := func(format string, args ...any) (ThinkTime, error) {
		return ThinkTime{}, fmt.Errorf("turn delay %q: "+format, append([]any{s}, args...)...)
	}
	dur := func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < 0 || d > MaxThinkTime {
			return 0, fmt.Errorf("%q is not a duration from 0 to %v", v, MaxThinkTime)
		}
		return d, nil
	}
	kind, arg, hasKind := strings.Cut(s, ":")
	switch {
	case s == "" || s == "dataset":
		return ThinkTime{}, nil
	case !hasKind:
		d, err := dur(s)
		if err != nil {
			return bad("%v (want 2s, exp:2s, uniform:1s-3s or dataset)", err)
		}
		return ThinkTime{Kind: ThinkFixed, A: d}, nil
	case kind == "exp":
		d, err := dur(arg)
		if err != nil {
			return bad("%v", err)
		}
		return ThinkTime{Kind: ThinkExp, A: d}, nil
	case kind == "uniform":
		lo, hi, ok := strings.Cut(arg, "-")
		if !ok {
			return bad("want uniform:LOW-HIGH, e.g. uniform:1s-3s")
		}
		a, err := dur(lo)
		if err != nil {
			return bad("%v", err)
		}
		b, err := dur(hi)
		if err != nil {
			return bad("%v", err)
		}
		if b < a {
			return bad("the upper bound %v is below the lower %v", b, a)
		}
		return ThinkTime{Kind: ThinkUniform, A: a, B: b}, nil
	}
	return bad("unknown distribution %q (want 2s, exp:2s, uniform:1s-3s or dataset)", kind)
}

// String returns the text form ParseThinkTime reads.
func (t ThinkTime) String() string {
	switch t.Kind {
	case ThinkFixed:
		return t.A.String()
	case ThinkExp:
		return "exp:" + t.A.String()
	case ThinkUniform:
		return "uniform:" + t.A.String() + "-" + t.B.String()
	}
	return "dataset"
}

// draw returns the think time before turn.
func (t ThinkTime) draw(turn *dataset.ConvTurn, r *rand.Rand) time.Duration {
	switch t.Kind {
	case ThinkFixed:
		return t.A
	case ThinkExp:
		return min(time.Duration(r.ExpFloat64()*float64(t.A)), MaxThinkTime)
	case ThinkUniform:
		return t.A + time.Duration(r.Int64N(int64(t.B-t.A)+1))
	}
	if turn.HasDelay {
		return turn.Delay
	}
	return 0
}

// convCounters count the conversations of the performance phase.
type convCounters struct {
	mu                         sync.Mutex
	started, completed, failed int64
	maxActive, active          int64
}

// runConversations is runPhase for a conversation dataset: lim counts
// conversations started.
func (s *Session) runConversations(ctx context.Context, wg *sync.WaitGroup, tracked bool, lim *phaseLimits, start int64) {
	switch {
	case !tracked || s.cfg.Mode == ModeOffline:
		s.eachInFlight(wg, lim, func(idx int, done func()) {
			go func() {
				defer done()
				s.converse(ctx, idx, tracked, 0, lim)
			}()
		})
	case s.cfg.Mode == ModeConcurrency:
		s.eachClaimed(wg, s.cfg.Concurrency, lim, func(idx int) {
			s.converse(ctx, idx, tracked, 0, lim)
		})
	default:
		sched := NewSchedule(s.cfg)
		for i := 0; ; i++ {
			off, ok := sched.Next()
			at := start + int64(off)
			if !ok || lim.done(i, at) || !waitUntil(at, s.stop) {
				return
			}
			wg.Add(1)
			idx := s.order.next()
			go func() {
				defer wg.Done()
				s.converse(ctx, idx, tracked, at, lim)
			}()
		}
	}
}

// converse runs one conversation, turn after turn; at is the intended time
// of its first turn (0: none). It returns when the last turn completed, a
// turn failed, the session stopped or the phase's duration is over.
func (s *Session) converse(ctx context.Context, idx int, tracked bool, at int64, lim *phaseLimits) {
	conv := &s.ds.Conversations[idx]
	seq := s.convSeq.Add(1)
	id := conv.ID + "#" + strconv.FormatUint(seq, 10)
	rng := rand.New(rand.NewPCG(s.cfg.Seed^0x6d756c7469, seq))
	if tracked {
		s.convs.mu.Lock()
		s.convs.started++
		s.convs.active++
		s.convs.maxActive = max(s.convs.maxActive, s.convs.active)
		s.convs.mu.Unlock()
	}
	outcome := 0 // 1 completed, -1 failed, 0 cut short
	defer func() {
		if !tracked {
			return
		}
		s.convs.mu.Lock()
		s.convs.active--
		switch outcome {
		case 1:
			s.convs.completed++
		case -1:
			s.convs.failed++
		}
		s.convs.mu.Unlock()
	}()
	// hist is the encoded history: every earlier turn's user message and
	// reply, appended as each turn completes and never re-encoded.
	var hist []byte
	var prevEnd int64
	for k := range conv.Turns {
		turn := &conv.Turns[k]
		sched := at
		if k > 0 {
			sched = prevEnd + int64(s.cfg.TurnDelay.draw(turn, rng))
			if lim.until > 0 && sched >= lim.until {
				return
			}
			if !s.waker.wait(sched, s.stop) {
				return
			}
		}
		if s.stopped() {
			return
		}
		req := &client.Request{Prompt: turn.User, System: conv.System, History: hist, MaxTokens: s.cfg.MaxTokens}
		out, end, err := s.sendTurn(ctx, req, idx, tracked, sched, id, int32(k+1), k == len(conv.Turns)-1)
		if err != nil {
			outcome = -1
			return
		}
		prevEnd = end
		reply := turn.Reply
		if !s.cfg.RecordedHistory {
			reply = ""
			if out != nil {
				reply = out.Text
			}
		}
		hist = client.AppendMessage(hist, "user", turn.User)
		hist = client.AppendMessage(hist, "assistant", reply)
	}
	outcome = 1
}

// turnWaker wakes conversations at their next turn's intended time. One
// goroutine keeps a heap of the waiting conversations' times and sleeps on
// a single timer until the earliest, so that any number of waiting
// conversations cost one timer and one goroutine, never one spinning
// goroutine each. It spins only to beat the runtime's millisecond timer
// granularity on a quiet machine: for the last stretch before a time, and
// only when few conversations are due in that stretch. When many are due
// (a thousand conversations with sub-second think times), the runtime is
// busy and checks its timers often, so the timer alone is precise; a spin
// there would only take the CPU the woken conversations need, and on a
// loaded machine made turns hundreds of milliseconds late. The goroutine
// exits when nothing waits and starts again on demand.
type turnWaker struct {
	mu      sync.Mutex
	h       wakeHeap
	running bool
	kick    chan struct{} // a new earliest time: re-arm the timer
}

type wakeAt struct {
	at int64
	ch chan struct{}
}

// wakeHeap is a min-heap of wake times.
type wakeHeap []wakeAt

func (h wakeHeap) Len() int           { return len(h) }
func (h wakeHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h wakeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *wakeHeap) Push(x any)        { *h = append(*h, x.(wakeAt)) }
func (h *wakeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// wait blocks until event.Now() >= at; false when stop closed first.
func (w *turnWaker) wait(at int64, stop <-chan struct{}) bool {
	if at <= event.Now() {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	ch := make(chan struct{})
	w.mu.Lock()
	if w.kick == nil {
		w.kick = make(chan struct{}, 1)
	}
	heap.Push(&w.h, wakeAt{at: at, ch: ch})
	first := w.h[0].ch == ch
	if !w.running {
		w.running = true
		go w.run()
	}
	w.mu.Unlock()
	if first {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	select {
	case <-ch:
		return true
	case <-stop:
	}
	// Stopped: take the entry out, so that the waker does not outlive the
	// session waiting for it (a linear scan, once per waiting conversation).
	w.mu.Lock()
	for i := range w.h {
		if w.h[i].ch == ch {
			heap.Remove(&w.h, i)
			break
		}
	}
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	return false
}

// wakeSpinMax is how many conversations due within spinWindow make the
// waker sleep on its timer to the due time instead of spinning.
const wakeSpinMax = 4

// countBefore counts the entries of h due before limit, up to most: a walk
// down the heap that stops at entries due later, so it costs O(most).
func (h wakeHeap) countBefore(limit int64, most int) int {
	n := 0
	var walk func(i int)
	walk = func(i int) {
		if i >= len(h) || n >= most || h[i].at >= limit {
			return
		}
		n++
		walk(2*i + 1)
		walk(2*i + 2)
	}
	walk(0)
	return n
}

func (w *turnWaker) run() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := event.Now()
		w.mu.Lock()
		for len(w.h) > 0 && w.h[0].at <= now {
			close(heap.Pop(&w.h).(wakeAt).ch)
		}
		if len(w.h) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		at := w.h[0].at
		crowded := w.h.countBefore(now+int64(spinWindow), wakeSpinMax) >= wakeSpinMax
		w.mu.Unlock()
		d := time.Duration(at - now)
		var sleep time.Duration
		switch {
		case d > spinWindow:
			sleep = d - spinWindow
		case crowded:
			sleep = d
		}
		if sleep > 0 {
			t.Reset(sleep)
			select {
			case <-t.C:
			case <-w.kick:
			}
			continue
		}
		// Few are due: spin through the last stretch as waitUntil does,
		// re-reading the earliest time every pass (a new one may be sooner).
		if d > busyWindow {
			runtime.Gosched()
		}
	}
}

// sendTurn issues one turn and publishes its records as issue does, but on
// the caller's goroutine: it returns the output, the completion timestamp
// and the error.
func (s *Session) sendTurn(ctx context.Context, req *client.Request, idx int, tracked bool, scheduled int64,
	conv string, turn int32, last bool) (*event.Output, int64, error) {
	if req.MaxTokens == 0 {
		req.MaxTokens = s.cfg.MaxTokens
	}
	uuid := s.newUUID()
	s.publish(event.Record{
		Type:           event.SampleIssued,
		TimestampNS:    event.Now(),
		SampleUUID:     uuid,
		Data:           &event.PromptData{Text: req.Prompt, ScheduledNS: scheduled, Index: idx + 1},
		ConversationID: conv,
		Turn:           turn,
		LastTurn:       last,
		// Said on the record: a consumer of the events alone (inferbench
		// aggregate) then knows it cannot count this prompt's history.
		RecordedHistory: s.cfg.RecordedHistory,
	})
	if tracked {
		s.issued.Add(1)
	}
	return s.send(ctx, req, uuid, idx, tracked)
}

// validateConversations checks the multi-turn settings against the dataset.
func (c *Config) validateConversations(multi bool) error {
	if !multi && (c.TurnDelay != ThinkTime{} || c.RecordedHistory) {
		return errors.New("turn_delay and history apply to a multi-turn dataset only")
	}
	if multi && c.MaxConcurrency > 0 {
		return fmt.Errorf("max_concurrency %d: not for multi-turn runs (the load is in conversations; use the concurrency mode)", c.MaxConcurrency)
	}
	if multi && c.Mode == ModeConcurrency && (c.RampUp > 0 || len(c.Stages) > 0) {
		return errors.New("ramp_up and stages of the concurrency mode: not for multi-turn runs (online rates can be shaped)")
	}
	switch c.TurnDelay.Kind {
	case ThinkDataset, ThinkFixed, ThinkExp, ThinkUniform:
	default:
		return fmt.Errorf("turn_delay: unknown kind %q", c.TurnDelay.Kind)
	}
	if c.TurnDelay.A < 0 || c.TurnDelay.B < c.TurnDelay.A && c.TurnDelay.Kind == ThinkUniform ||
		max(c.TurnDelay.A, c.TurnDelay.B) > MaxThinkTime {
		return fmt.Errorf("turn_delay %v: out of range", c.TurnDelay)
	}
	return nil
}
