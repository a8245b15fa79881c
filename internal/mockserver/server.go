package mockserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"

	"github.com/inferbench/inferbench/internal/jsonw"
)

// maxBodyBytes bounds a request body; larger ones get 413.
const maxBodyBytes = 64 << 20

// api is the completion API a request came in on.
type api uint8

const (
	apiChat api = iota
	apiCompletions
)

// Shared header values: net/http only reads them, so one slice serves
// every response without allocating.
var (
	hdrJSON    = []string{"application/json"}
	hdrSSE     = []string{"text/event-stream"}
	hdrNoCache = []string{"no-cache"}
	hdrClose   = []string{"close"}
	hdrRetry   = []string{"1"}
)

// Server is an OpenAI-compatible mock inference server. It is safe for
// concurrent use; one Server may back several listeners.
type Server struct {
	cfg          Config
	rates        [numFaults]float64
	modelJSON    []byte // the model name as a JSON string
	modelsBody   []byte
	contentRep   string
	reasoningRep string

	// slots holds a token per request being generated when MaxConcurrent
	// is set (nil otherwise); blocked senders on a channel are served in
	// arrival order, which makes the wait a FIFO queue.
	slots chan struct{}

	seq         atomic.Uint64
	requests    atomic.Uint64
	badRequests atomic.Uint64
	faults      [numFaults]atomic.Uint64

	hist *historyCheck // nil unless Config.CheckHistory
	// met is the server's own metrics, served at GET /metrics (metrics.go).
	met *serverMetrics
}

// New validates cfg, applies defaults and returns a Server. A bad field
// yields an error wrapping [ErrInvalidConfig] that names the field.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, rates: cfg.Faults.rates(), met: newServerMetrics(cfg.Model)}
	if cfg.MaxConcurrent > 0 {
		s.slots = make(chan struct{}, cfg.MaxConcurrent)
	}
	if cfg.CheckHistory {
		s.hist = newHistoryCheck()
	}
	s.modelJSON = append([]byte{'"'}, jsonw.AppendEscaped(nil, cfg.Model)...)
	s.modelJSON = append(s.modelJSON, '"')
	s.modelsBody = append([]byte(`{"object":"list","data":[{"id":`), s.modelJSON...)
	s.modelsBody = append(s.modelsBody, `,"object":"model","created":0,"owned_by":"mockserver"}]}`...)
	s.contentRep = strings.Repeat(contentUnit, cfg.TokensPerChunk)
	s.reasoningRep = strings.Repeat(reasoningUnit, cfg.TokensPerChunk)
	return s, nil
}

// Stats returns the counters accumulated since New.
func (s *Server) Stats() Stats {
	st := Stats{Requests: s.requests.Load(), BadRequests: s.badRequests.Load()}
	for i := range st.Faults {
		st.Faults[i] = s.faults[i].Load()
	}
	return st
}

// Handler returns the server's routes: POST /v1/chat/completions,
// POST /v1/completions, GET /v1/models, GET /health and GET /metrics (the
// server's own metrics under vLLM's names, see metrics.go).
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// stopKey carries, in request contexts, the channel Serve closes on
// shutdown so that stalled requests let go while others finish.
type stopKey struct{}

// Serve serves HTTP/1.1 on ln until ctx ends, then shuts down gracefully:
// it stops accepting, releases stalled requests at once, lets other
// in-flight requests finish for up to Config.ShutdownGrace and then closes
// their connections. It returns nil after a shutdown caused by ctx, or the
// error that stopped the server otherwise. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := make(chan struct{})
	base, cancelBase := context.WithCancel(context.WithValue(context.Background(), stopKey{}, (<-chan struct{})(stop)))
	defer cancelBase()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: time.Minute,
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("mockserver: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	close(stop)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Grace is over: abort sleeping handlers and drop their connections.
		cancelBase()
		_ = srv.Close()
	}
	<-errc // http.ErrServerClosed once Serve has returned
	return nil
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/v1/chat/completions":
		s.completion(w, r, apiChat)
	case "/v1/completions":
		s.completion(w, r, apiCompletions)
	case "/v1/models":
		if r.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method "+r.Method+" not allowed")
			return
		}
		w.Header()["Content-Type"] = hdrJSON
		_, _ = w.Write(s.modelsBody)
	case "/health":
		w.Header()["Content-Type"] = hdrJSON
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	case "/metrics":
		s.met.handler.ServeHTTP(w, r)
	default:
		writeError(w, http.StatusNotFound, "invalid_request_error", "no route "+r.URL.Path)
	}
}

// reqState is the pooled per-request scratch space.
type reqState struct {
	body   []byte
	out    []byte
	prefix []byte
	req    request
	job    job
}

var statePool = sync.Pool{New: func() any {
	return &reqState{body: make([]byte, 0, 4096), out: make([]byte, 0, 4096), prefix: make([]byte, 0, 128)}
}}

// job is one completion request, decided at arrival.
type job struct {
	api       api
	seq       uint64
	arrival   time.Time
	ttft      time.Duration // TTFT, or SlowTTFT for a slow request
	fault     Fault
	stream    bool
	usage     bool
	promptTok int
	reasoning int // reasoning tokens to emit
	content   int // content tokens to emit
	finish    string
	answer    tokenSource
	think     tokenSource
	rng       rng
	histOn    bool      // the reply is remembered for the history check
	histKey   [32]byte  // the hash of the request's messages
	histIdx   int       // its reply's index among the replies to that history
	received  time.Time // arrival, before any queue: the server metrics' clock
}

func (s *Server) completion(w http.ResponseWriter, r *http.Request, a api) {
	arrival := time.Now()
	seq := s.seq.Add(1) - 1
	s.requests.Add(1)
	if r.Method != http.MethodPost {
		s.badRequests.Add(1)
		writeError(w, http.StatusMethodNotAllowed, "invalid_request_error", "method "+r.Method+" not allowed")
		return
	}
	st := statePool.Get().(*reqState)
	defer statePool.Put(st)

	var err error
	st.body, err = readBody(st.body[:0], r)
	if err != nil {
		s.badRequests.Add(1)
		code := http.StatusBadRequest
		if errors.Is(err, errTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		writeError(w, code, "invalid_request_error", err.Error())
		return
	}
	st.req.reset()
	if err := json.UnmarshalNoEscape(st.body, &st.req); err != nil {
		s.badRequests.Add(1)
		writeError(w, http.StatusBadRequest, "invalid_request_error", "invalid request body: "+err.Error())
		return
	}
	j := &st.job
	*j = job{api: a, seq: seq, arrival: arrival, rng: newRNG(s.cfg.Seed, seq)}
	// The fault is drawn first so that a request's fault depends only on
	// the seed and its arrival order.
	j.fault = pickFault(&s.rates, j.rng.float64())
	j.ttft = s.cfg.TTFT
	if s.cfg.SlowRate > 0 && j.rng.float64() < s.cfg.SlowRate {
		j.ttft = s.cfg.SlowTTFT
	}
	if msg := s.plan(j, st); msg != "" {
		s.badRequests.Add(1)
		writeError(w, http.StatusBadRequest, "invalid_request_error", msg)
		return
	}
	if j.fault != FaultNone {
		s.faults[j.fault].Add(1)
	}
	if s.hist != nil && a == apiChat {
		s.checkHistory(j, st.body)
	}
	switch j.fault {
	case FaultHTTP429:
		w.Header()["Retry-After"] = hdrRetry
		writeError(w, http.StatusTooManyRequests, "rate_limit_error", "mockserver: injected rate limit")
		return
	case FaultHTTP500:
		writeError(w, http.StatusInternalServerError, "server_error", "mockserver: injected internal error")
		return
	}
	if s.slots != nil {
		s.met.waiting.Add(1)
		select {
		case s.slots <- struct{}{}:
			s.met.waiting.Add(-1)
		case <-r.Context().Done():
			s.met.waiting.Add(-1)
			return
		}
		defer func() { <-s.slots }()
		// The timing starts when the request leaves the queue.
		j.arrival = time.Now()
	}
	s.met.running.Add(1)
	defer s.met.running.Add(-1)
	j.received = arrival
	st.prefix = s.appendPrefix(st.prefix[:0], a, j.stream, seq, arrival.Unix())
	if j.stream {
		s.stream(w, r, j, st)
	} else {
		s.whole(w, r, j, st)
	}
}

// plan fills in what j will answer; it returns a client error message, or "".
func (s *Server) plan(j *job, st *reqState) string {
	req := &st.req
	if j.api == apiChat && len(req.Messages) == 0 {
		return "messages is required"
	}
	if j.api == apiCompletions && !req.Prompt.set {
		return "prompt is required"
	}
	j.stream = req.Stream
	j.usage = req.Stream && req.StreamOptions.IncludeUsage
	j.promptTok = req.promptTokens(j.api)
	maxTok := req.maxTokens()

	switch s.cfg.Mode {
	case ModeSynthetic:
		j.answer = syntheticTokens(s.contentRep, len(contentUnit))
		switch {
		case s.cfg.OutputDist.Kind != "":
			j.content = s.cfg.OutputDist.draw(&j.rng)
		case s.cfg.OutputTokens > 0:
			j.content = s.cfg.OutputTokens
		case maxTok > 0:
			j.content = maxTok
		default:
			j.content = DefaultOutputTokens
		}
	default:
		text, err := promptText(st.body, j.api)
		if err != nil {
			return "invalid request body: " + err.Error()
		}
		if s.cfg.Mode == ModeOracle {
			ans, ok := s.cfg.Oracle[text]
			if !ok {
				return fmt.Sprintf("mockserver: no oracle answer for prompt %.60q", text)
			}
			text = ans
		}
		j.answer = textTokens(text)
		j.content = j.answer.left
	}
	if j.api == apiChat {
		j.reasoning = s.cfg.ReasoningTokens
		j.think = syntheticTokens(s.reasoningRep, len(reasoningUnit))
	}
	j.finish = "stop"
	if maxTok > 0 && j.reasoning+j.content > maxTok {
		j.finish = "length"
		j.reasoning = min(j.reasoning, maxTok)
		j.content = maxTok - j.reasoning
	}
	return ""
}

var errTooLarge = fmt.Errorf("request body exceeds %d bytes", maxBodyBytes)

// readBody appends the request body to dst.
func readBody(dst []byte, r *http.Request) ([]byte, error) {
	if r.ContentLength > maxBodyBytes {
		return dst, errTooLarge
	}
	if r.ContentLength > 0 && int(r.ContentLength) > cap(dst) {
		dst = make([]byte, 0, r.ContentLength+1)
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := r.Body.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if len(dst) > maxBodyBytes {
			return dst, errTooLarge
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, fmt.Errorf("read request body: %w", err)
		}
	}
}

func writeError(w http.ResponseWriter, code int, typ, msg string) {
	w.Header()["Content-Type"] = hdrJSON
	w.WriteHeader(code)
	var buf [256]byte
	_, _ = w.Write(appendErrorBody(buf[:0], code, typ, msg))
}

// clock paces tokens: token k (0-based, reasoning then content) is due at
// arrival + TTFT + k*TPOT, each delay scaled by its own jitter draw. One
// timer per request is reused for every wait.
type clock struct {
	s     *Server
	j     *job
	due   time.Duration // offset from arrival of the next token
	timer *time.Timer
}

func (c *clock) jittered(d time.Duration) time.Duration {
	if d == 0 || c.s.cfg.Jitter == 0 {
		return d
	}
	f := 1 + c.s.cfg.Jitter*(2*c.j.rng.float64()-1)
	return time.Duration(float64(d) * f)
}

func (c *clock) start() { c.due = c.jittered(c.j.ttft) }

// skip moves the due time past k tokens.
func (c *clock) skip(k int) {
	for range k {
		c.due += c.jittered(c.s.cfg.TPOT)
	}
}

// wait sleeps until the next token is due; false means the request's
// context ended first.
func (c *clock) wait(ctx context.Context) bool {
	d := time.Until(c.j.arrival.Add(c.due))
	if d <= 0 {
		return ctx.Err() == nil
	}
	if c.timer == nil {
		c.timer = time.NewTimer(d)
	} else {
		c.timer.Reset(d)
	}
	select {
	case <-c.timer.C:
		return true
	case <-ctx.Done():
		c.timer.Stop()
		return false
	}
}

// ready reports whether the next token is due already (wait would not
// sleep).
func (c *clock) ready() bool { return time.Until(c.j.arrival.Add(c.due)) <= 0 }

func (c *clock) stop() {
	if c.timer != nil {
		c.timer.Stop()
	}
}

// whole answers a non-streaming request once its last token is due.
func (s *Server) whole(w http.ResponseWriter, r *http.Request, j *job, st *reqState) {
	switch j.fault {
	case FaultReset:
		resetConn(w)
		return
	case FaultStall:
		stall(w, r)
		return
	}
	ck := clock{s: s, j: j}
	ck.start()
	defer ck.stop()
	ck.skip(j.reasoning + j.content - 1)
	if !ck.wait(r.Context()) {
		return
	}
	tpc := s.cfg.TokensPerChunk
	b := append(st.out[:0], st.prefix...)
	b = append(b, `"choices":[{"index":0,`...)
	if j.api == apiChat {
		b = append(b, `"message":{"role":"assistant","content":"`...)
	} else {
		b = append(b, `"text":"`...)
	}
	for left := j.content; left > 0; left -= tpc {
		b = appendText(b, j.answer.take(min(tpc, left)), j.answer.escape())
	}
	b = append(b, '"')
	if j.reasoning > 0 {
		b = append(b, `,"reasoning_content":"`...)
		for left := j.reasoning; left > 0; left -= tpc {
			b = append(b, j.think.take(min(tpc, left))...)
		}
		b = append(b, '"')
	}
	if j.api == apiChat {
		b = append(b, `},"finish_reason":"`...)
	} else {
		b = append(b, `,"logprobs":null,"finish_reason":"`...)
	}
	b = append(b, j.finish...)
	b = append(b, `"}],`...)
	b = appendUsage(b, j.promptTok, j.reasoning+j.content)
	b = append(b, '}')
	st.out = b

	h := w.Header()
	h["Content-Type"] = hdrJSON
	switch j.fault {
	case FaultTruncate:
		// Declaring the full length and sending half makes net/http close
		// the connection: the client sees an unexpected EOF.
		h["Content-Length"] = []string{strconv.Itoa(len(b))}
		_, _ = w.Write(b[:len(b)/2])
	case FaultMalformed:
		_, _ = io.WriteString(w, "{not json")
	default:
		s.rememberReply(j)
		s.met.done(j.received, j.promptTok, j.reasoning+j.content)
		_, _ = w.Write(b)
	}
}

// stream answers a streaming request as server-sent events.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, j *job, st *reqState) {
	h := w.Header()
	h["Content-Type"] = hdrSSE
	h["Cache-Control"] = hdrNoCache
	if j.fault == FaultTruncate {
		h["Connection"] = hdrClose
	}
	fl, _ := w.(http.Flusher)
	// Chunks are written as they are generated and flushed before the
	// server waits: chunks due at the same instant (--tpot 0) leave in one
	// write, as from a server that produced them in one step, and a timed
	// chunk leaves at its due time.
	dirty := false
	send := func(b []byte) {
		_, _ = w.Write(b)
		dirty = true
	}
	flush := func() {
		if dirty && fl != nil {
			fl.Flush()
		}
		dirty = false
	}
	ctx := r.Context()
	ck := clock{s: s, j: j}
	ck.start()
	defer ck.stop()
	wait := func() bool {
		if !ck.ready() {
			flush()
		}
		return ck.wait(ctx)
	}

	tpc := s.cfg.TokensPerChunk
	nChunks := (j.reasoning+tpc-1)/tpc + (j.content+tpc-1)/tpc
	faultAt := nChunks / 2
	chunk := 0
	role := j.api == apiChat
	// midStream applies a mid-stream fault before chunk number faultAt; it
	// reports whether the handler must return.
	midStream := func() bool {
		if chunk != faultAt {
			return false
		}
		switch j.fault {
		case FaultReset:
			flush()
			resetConn(w)
			return true
		case FaultTruncate:
			return true
		case FaultStall:
			send(nil)
			flush()
			stall(w, r)
			return true
		case FaultMalformed:
			send([]byte("data: {not json\n\n"))
		}
		return false
	}
	emit := func(src *tokenSource, kind tokenKind, total int) bool {
		for left := total; left > 0; left -= tpc {
			if midStream() {
				return false
			}
			k := min(tpc, left)
			ck.skip(k - 1)
			if !wait() {
				return false
			}
			st.out = appendDeltaChunk(st.out[:0], st.prefix, j.api, kind, role, src.take(k), src.escape())
			send(st.out)
			if chunk == 0 {
				s.met.firstToken(j.received)
			}
			ck.skip(1)
			role = false
			chunk++
		}
		return true
	}
	if !emit(&j.think, kindReasoning, j.reasoning) || !emit(&j.answer, kindContent, j.content) {
		return
	}
	if midStream() {
		return
	}
	if chunk == 0 && !wait() {
		return
	}
	// Counted before the last chunk leaves, as a server's engine counts a
	// request before its output is streamed: a client that saw the end sees
	// it counted.
	s.met.done(j.received, j.promptTok, j.reasoning+j.content)
	st.out = appendFinalChunk(st.out[:0], st.prefix, j.api, role, j.finish, j.usage, j.promptTok, j.reasoning+j.content)
	if j.fault != FaultMalformed {
		s.rememberReply(j)
	}
	send(st.out)
	flush()
}

// resetConn closes the client connection with a TCP RST.
func resetConn(w http.ResponseWriter) { closeConn(w, true) }

// closeConn closes the client connection, with RST when rst is set. When
// the writer cannot be hijacked (HTTP/2, recorders) it aborts the handler
// with http.ErrAbortHandler, which net/http turns into a closed connection
// without logging.
func closeConn(w http.ResponseWriter, rst bool) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && rst {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// stall holds the request until the client goes away or Serve shuts down.
// On shutdown it drops the connection rather than return normally, which
// would end the response cleanly and look like a success to the client.
func stall(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	stop, _ := ctx.Value(stopKey{}).(<-chan struct{})
	select {
	case <-ctx.Done():
	case <-stop:
		closeConn(w, false)
	}
}
