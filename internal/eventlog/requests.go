package eventlog

import (
	"strconv"
	"unicode/utf8"

	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/jsonw"
)

// The lines of requests.jsonl. The first is a header,
//
//	{"requests_log":1,"streaming":true,"tokenizer":false}
//
// then, in bus order, session events and errors that belong to no request
// in flight,
//
//	{"ev":"session.started","ts":1234567890}
//	{"ev":"error.loadgen","ts":1234567999,"err":"class","msg":"excerpt"}
//	{"ev":"error.client","ts":1234568000,"id":"…","fails":1,"err":"class"}
//
// (ts on the monotonic clock of the run) and one line per request when it
// completes, all times in nanoseconds:
//
//	{"id":"…","idx":17,"iss":5100200,"late":1200,"ttft":20311000,"last":270877000,
//	 "lat":270901000,"chunks":250,"isl":128,"osl":250,"fin":"length"}
//
// Under a concurrency cap a request also has "qw", its wait for a free slot
// (send − release), and "late" is release − intended, so that the intended
// time is iss − late − qw.
//
// A turn of a multi-turn conversation ends with its conversation and 1-based
// turn ("conv":"c17","turn":2), and the conversation's final turn with
// "last_turn":1.
//
// See [Request] for the fields. Requests still in flight when the log closes
// get a line without "lat".
const logVersion = 1

// msgMax bounds the error excerpt kept per request, in bytes.
const msgMax = 64

// reqState is a request in flight.
type reqState struct {
	id               string
	idx              int // event.PromptData.Index: 1 + dataset index, 0 unknown
	tracked          bool
	block            int
	iss, sched, rel  int64 // rel: released to the concurrency cap's queue (0: no cap)
	first, last      int64
	hasFirst         bool
	chunks           int64
	isl              int64 // -1: none recorded
	errClass, errMsg string
	failed           bool
	conv             string // event.Record.ConversationID ("" single-turn)
	turn             int32  // event.Record.Turn (0 single-turn)
	lastTurn         bool
}

// table follows requests in flight and appends their lines.
type table struct {
	streaming bool
	tok       TokenCounter

	rows     map[string]*reqState
	free     []*reqState
	started  bool
	base     int64 // session start: request times are relative to it
	tracking bool
	blocks   int
	ended    bool
	written  int64

	recordedHistory bool                  // Options.RecordedHistory
	turns           map[string]*turnState // see turnisl.go
}

func (t *table) init(streaming bool, tok TokenCounter) {
	t.streaming, t.tok = streaming, tok
	t.rows = make(map[string]*reqState, 1024)
}

func (t *table) appendHeader(b []byte) []byte {
	b = append(b, `{"requests_log":`...)
	b = strconv.AppendInt(b, logVersion, 10)
	b = append(b, `,"streaming":`...)
	b = strconv.AppendBool(b, t.streaming)
	b = append(b, `,"tokenizer":`...)
	b = strconv.AppendBool(b, t.tok != nil)
	return append(b, "}\n"...)
}

// apply folds r in and appends the lines it completes to b.
func (t *table) apply(b []byte, r *event.Record) []byte {
	if t.ended {
		return b
	}
	switch r.Type.Category() {
	case event.CategorySession:
		return t.session(b, r)
	case event.CategoryError:
		return t.error(b, r)
	case event.CategorySample:
		if r.SampleUUID != "" {
			return t.sample(b, r)
		}
	}
	return b
}

func (t *table) session(b []byte, r *event.Record) []byte {
	switch r.Type {
	case event.SessionStarted:
		if t.started {
			return b // the aggregator ignores a duplicate too
		}
		t.started, t.base = true, r.TimestampNS
	case event.SessionEnded:
		t.ended = true
	case event.SessionStartTracking:
		if t.tracking {
			return b
		}
		t.tracking = true
		t.blocks++
	case event.SessionStopTracking:
		t.tracking = false
	}
	b = append(b, `{"ev":"`...)
	b = append(b, r.Type.Topic()...)
	b = append(b, `","ts":`...)
	b = strconv.AppendInt(b, r.TimestampNS, 10)
	return append(b, "}\n"...)
}

func (t *table) error(b []byte, r *event.Record) []byte {
	class, msg := "generic", ""
	if d, ok := r.Data.(*event.ErrorData); ok {
		if d.Type != "" {
			class = d.Type
		}
		msg = d.Message
	}
	st, inFlight := t.rows[r.SampleUUID]
	if inFlight && r.SampleUUID != "" && !st.failed {
		st.failed, st.errClass, st.errMsg = true, class, excerpt(msg)
		return b
	}
	// An error of no request in flight, or a request's second error: a line
	// of its own, so that every error is counted. "fails" says whether the
	// aggregator counts it as a failed sample (in total_samples_failed and
	// the warmup_errors family) or not (the other_errors family): it does
	// unless the error has no sample or repeats one of a tracked request.
	fails := r.SampleUUID != "" && !(inFlight && st.tracked)
	b = append(b, `{"ev":"`...)
	b = append(b, r.Type.Topic()...)
	b = append(b, `","ts":`...)
	b = strconv.AppendInt(b, r.TimestampNS, 10)
	if r.SampleUUID != "" {
		b = append(b, `,"id":`...)
		b = jsonw.AppendString(b, r.SampleUUID)
	}
	if fails {
		b = append(b, `,"fails":1`...)
	}
	b = append(b, `,"err":`...)
	b = jsonw.AppendString(b, class)
	if msg != "" {
		b = append(b, `,"msg":`...)
		b = jsonw.AppendString(b, excerpt(msg))
	}
	return append(b, "}\n"...)
}

func (t *table) sample(b []byte, r *event.Record) []byte {
	ts := r.TimestampNS
	switch r.Type {
	case event.SampleIssued:
		if _, dup := t.rows[r.SampleUUID]; dup {
			return b
		}
		st := t.newRow()
		st.id, st.iss, st.tracked, st.block, st.isl = r.SampleUUID, ts, t.tracking, t.blocks-1, -1
		st.conv, st.turn, st.lastTurn = r.ConversationID, r.Turn, r.LastTurn
		if p, ok := r.Data.(*event.PromptData); ok && p != nil {
			st.idx, st.sched, st.rel = p.Index, p.ScheduledNS, p.ReleasedNS
			// ISL as the aggregator records it at issue: token ids, else the
			// tokenizer's count of the prompt. Untracked requests are not
			// counted (the aggregator does not count them either).
			switch {
			case p.TokenIDs != nil:
				st.isl = int64(len(p.TokenIDs))
			case t.tok != nil && st.tracked && r.Turn > 0:
				st.isl = t.turnISL(r, p.Text)
				if st.isl < 0 && r.Turn == 1 && p.Text != "" {
					st.isl = int64(t.tok.Count(p.Text))
				}
			case p.Text != "" && t.tok != nil && st.tracked:
				st.isl = int64(t.tok.Count(p.Text))
			}
		}
		t.rows[r.SampleUUID] = st
	case event.SampleRecvFirst, event.SampleRecvNonFirst:
		st, ok := t.rows[r.SampleUUID]
		if !ok {
			return b
		}
		if r.Type == event.SampleRecvFirst && !st.hasFirst {
			st.hasFirst, st.first = true, ts
		}
		st.chunks++
		st.last = ts
	case event.SampleComplete:
		st, ok := t.rows[r.SampleUUID]
		if !ok {
			return b
		}
		delete(t.rows, r.SampleUUID)
		out, _ := r.Data.(*event.Output)
		if st.conv != "" && t.turns != nil {
			t.turnCompleted(st, out)
		}
		b = t.appendRequest(b, st, ts, out, true)
		t.free = append(t.free, st)
	}
	return b
}

// appendRequest appends the line of a request; done is false for a request
// still in flight at the end.
func (t *table) appendRequest(b []byte, st *reqState, ts int64, out *event.Output, done bool) []byte {
	t.written++
	b = append(b, `{"id":`...)
	b = jsonw.AppendString(b, st.id)
	if st.idx > 0 {
		b = append(b, `,"idx":`...)
		b = strconv.AppendInt(b, int64(st.idx-1), 10)
	}
	if !st.tracked {
		b = append(b, `,"untracked":1`...)
	} else if st.block > 0 {
		b = append(b, `,"blk":`...)
		b = strconv.AppendInt(b, int64(st.block), 10)
	}
	b = append(b, `,"iss":`...)
	b = strconv.AppendInt(b, st.iss-t.base, 10)
	if st.sched != 0 {
		b = append(b, `,"late":`...)
		if st.rel != 0 {
			b = strconv.AppendInt(b, st.rel-st.sched, 10)
		} else {
			b = strconv.AppendInt(b, st.iss-st.sched, 10)
		}
	}
	if st.rel != 0 {
		b = append(b, `,"qw":`...)
		b = strconv.AppendInt(b, st.iss-st.rel, 10)
	}
	if st.hasFirst {
		b = append(b, `,"ttft":`...)
		b = strconv.AppendInt(b, st.first-st.iss, 10)
	}
	if st.chunks > 0 {
		b = append(b, `,"last":`...)
		b = strconv.AppendInt(b, st.last-st.iss, 10)
	}
	if done {
		b = append(b, `,"lat":`...)
		b = strconv.AppendInt(b, ts-st.iss, 10)
	}
	if st.chunks > 0 {
		b = append(b, `,"chunks":`...)
		b = strconv.AppendInt(b, st.chunks, 10)
	}
	isl, osl, uosl, dec := st.isl, int64(-1), int64(-1), int64(-1)
	if done && !st.failed && out != nil {
		isl, osl, uosl, dec = t.tokens(st, ts, out)
	}
	if isl >= 0 {
		b = append(b, `,"isl":`...)
		b = strconv.AppendInt(b, isl, 10)
	}
	if osl >= 0 {
		b = append(b, `,"osl":`...)
		b = strconv.AppendInt(b, osl, 10)
	}
	// dec (output tokens after the first chunk, TPOT's divisor) is left out
	// in the common case where it is osl − 1; an explicit 0 means none.
	if osl >= 0 && st.hasFirst && dec != osl-1 {
		b = append(b, `,"dec":`...)
		b = strconv.AppendInt(b, max(dec, 0), 10)
	}
	if uosl >= 0 {
		b = append(b, `,"uosl":`...)
		b = strconv.AppendInt(b, uosl, 10)
	}
	if out != nil && out.FinishReason != "" {
		b = append(b, `,"fin":`...)
		b = jsonw.AppendString(b, out.FinishReason)
	}
	if out != nil && out.Retries != 0 {
		b = append(b, `,"rt":`...)
		b = strconv.AppendInt(b, int64(out.Retries), 10)
	}
	if st.failed {
		b = append(b, `,"err":`...)
		b = jsonw.AppendString(b, st.errClass)
		if st.errMsg != "" {
			b = append(b, `,"msg":`...)
			b = jsonw.AppendString(b, st.errMsg)
		}
	}
	if st.turn > 0 {
		b = append(b, `,"conv":`...)
		b = jsonw.AppendString(b, st.conv)
		b = append(b, `,"turn":`...)
		b = strconv.AppendInt(b, int64(st.turn), 10)
		if st.lastTurn {
			b = append(b, `,"last_turn":1`...)
		}
	}
	return append(b, "}\n"...)
}

// tokens returns what the aggregator records for a successful request: ISL
// (from issue, else the server's usage), OSL, the server's OSL when a
// tokenizer counted OSL, and the TPOT divisor dec (−1: no TPOT). The rules
// mirror the aggregator's outputTokens; the bench tests compare a rebuilt
// snapshot with the aggregator's to keep them so.
func (t *table) tokens(st *reqState, ts int64, out *event.Output) (isl, osl, uosl, dec int64) {
	isl, osl, uosl, dec = st.isl, -1, -1, -1
	if isl < 0 && out.Usage != nil && out.Usage.PromptTokens > 0 {
		isl = out.Usage.PromptTokens
	}
	tpot := t.streaming && st.hasFirst && out.Streamed
	if t.tok != nil && st.tracked {
		if out.Usage != nil && out.Usage.CompletionTokens > 0 {
			uosl = out.Usage.CompletionTokens
		}
		if text := out.All(); text != "" {
			osl = int64(t.tok.Count(text))
		}
		if tpot {
			if rest := out.AfterFirstChunk(); rest != "" {
				if c := int64(t.tok.Count(rest)); c > 0 {
					dec = c
				}
			}
		}
		return isl, osl, uosl, dec
	}
	if out.Usage == nil || out.Usage.CompletionTokens <= 0 {
		return isl, osl, uosl, dec
	}
	osl = out.Usage.CompletionTokens
	if tpot {
		all := len(out.All())
		first := int64(0)
		if all > 0 {
			first = (osl*int64(out.FirstChunkLen) + int64(all)/2) / int64(all)
		}
		if after := osl - max(first, 1); after > 0 {
			dec = after
		}
	}
	return isl, osl, uosl, dec
}

// appendInFlight appends a line for every request issued and never
// completed (no "lat").
func (t *table) appendInFlight(b []byte) []byte {
	for id, st := range t.rows {
		b = t.appendRequest(b, st, 0, nil, false)
		delete(t.rows, id)
	}
	return b
}

func (t *table) newRow() *reqState {
	if n := len(t.free); n > 0 {
		st := t.free[n-1]
		t.free = t.free[:n-1]
		*st = reqState{}
		return st
	}
	return &reqState{}
}

// excerpt cuts s to msgMax bytes at a rune boundary.
func excerpt(s string) string {
	if len(s) <= msgMax {
		return s
	}
	i := msgMax
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
