package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
)

// Defaults of [Options] and [WorkerOptions].
const (
	DefaultWait    = 60 * time.Second
	DefaultTimeout = 10 * time.Second
)

// The values of Options.OnLoss.
const (
	OnLossContinue = "continue"
	OnLossAbort    = "abort"
)

// The error classes of samples the coordinator counts failed itself:
// ClassWorkerLost for those a lost worker had in flight, ClassEventsLost
// for those whose completion was in an event batch lost on the way (a
// sequence gap, reported).
const (
	ClassWorkerLost = metrics.ClassWorkerLost
	ClassEventsLost = "events_lost"
)

// ErrMissing is returned by [Coordinator.Wait] when the fleet did not fill
// in time.
var ErrMissing = errors.New("fleet: workers missing")

// Options configures a Coordinator.
type Options struct {
	Listen string // tcp://HOST:PORT
	Size   int    // workers in the fleet, at least 1
	// Timeout declares a worker lost when nothing came from it for this
	// long (0: DefaultTimeout).
	Timeout time.Duration
	// OnLoss is what a lost worker does to the run: OnLossContinue (the
	// default: its load is not delivered, a warning says so) or OnLossAbort.
	OnLoss string
	Logger *slog.Logger
	// Secure, when set, is applied to the listening socket before it
	// binds (CURVE; see package zcurve).
	Secure func(*zmq.Socket) error
}

// Coordinator is the aggregating end of a fleet: it binds the fleet
// address, admits workers, hands each its share of a run and merges their
// events into one stream (see [Coordinator.Source]). Its methods are safe
// for concurrent use.
type Coordinator struct {
	o        Options
	log      *slog.Logger
	sock     *zmq.Socket
	poll     *poller // receives from sock
	endpoint string
	hb       time.Duration

	todo     chan func() // run on the loop goroutine (which owns sock)
	notes    chan note
	quit     chan struct{}
	loopDone chan struct{}
	joined   chan struct{}

	// Owned by the loop goroutine: an event frame read while its worker's
	// ingest channel was full, held until there is room (see loop), and
	// the backpressure bookkeeping.
	held        heldFrame
	deafSince   int64 // when the loop stopped reading (0: it reads)
	staleBefore int64 // pongs of pings sent before this are not clock samples

	mu      sync.Mutex
	peers   []*peer
	byCtl   map[string]*peer
	byEv    map[string]*peer
	running bool
	ended   bool // the run is over: no worker is lost any more
	closed  bool
	joinedN int
}

// peer is one worker as the coordinator sees it.
type peer struct {
	index    int
	name     string
	host     string
	ctl, ev  string // routing ids of its control and event sockets
	token    uint64
	lastSeen atomic.Int64
	clock    clock

	ingest       chan []byte // event frames, closed by the loop (closeIngest)
	ingestDone   chan struct{}
	closeOnce    sync.Once
	ingestClosed bool // set on the loop with the close
	lost         atomic.Bool
	lostAt       atomic.Int64
	lostCount    atomic.Int64 // in-flight samples counted worker_lost
	ingested     atomic.Uint64
	gaps         atomic.Uint64 // event batches missing
	badFrames    atomic.Int64

	// Live counters, from the events.
	issued, completed, failed atomic.Int64
	lateness                  lateWindow

	// Set by notes (on the run's goroutine).
	ready, warm, done bool
	handedIn          atomic.Bool // done, for the loop goroutine: its silence is no loss
	warmSeq, doneSeq  uint64
	result            loadgen.Result
	stopped           bool
	failure           string
	// samples is the dataset of the worker's job (set before its ingest
	// goroutine starts).
	samples []dataset.Sample
}

// note is a control message for the run's goroutine.
type note struct {
	p    *peer
	kind byte
	body []byte
	lost bool
}

// Listen binds the fleet address and starts admitting workers.
func Listen(o Options) (*Coordinator, error) {
	if o.Size < 1 {
		return nil, fmt.Errorf("fleet size %d: must be at least 1", o.Size)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	switch o.OnLoss {
	case "":
		o.OnLoss = OnLossContinue
	case OnLossContinue, OnLossAbort:
	default:
		return nil, fmt.Errorf("fleet on-loss %q: want continue or abort", o.OnLoss)
	}
	if !strings.HasPrefix(o.Listen, "tcp://") {
		return nil, fmt.Errorf("fleet listen %q: want tcp://HOST:PORT", o.Listen)
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	// The default ZeroMQ context: CURVE's ZAP handler (package zcurve)
	// serves the sockets of that context.
	sock, err := zmq.NewSocket(zmq.ROUTER)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	fail := func(err error) (*Coordinator, error) {
		_ = sock.Close()
		return nil, err
	}
	for _, set := range []error{
		sock.SetRouterMandatory(1),
		// Workers name their sockets; a worker's reconnect (a network
		// blip) takes its name over and the run goes on.
		sock.SetRouterHandover(true),
		sock.SetLinger(time.Second),
		sock.SetRcvtimeo(5 * time.Millisecond),
		sock.SetSndtimeo(time.Second),
		sock.SetMaxmsgsize(MaxEventFrame),
		// While the loop does not read (backpressure, see loop), at
		// most 64 frames wait per worker socket, beside the 64 of its
		// ingest channel; then the worker's sender blocks. (1000 let a
		// stalled coordinator queue up to 1 GiB per worker: frames are
		// cut at 1 MiB.)
		sock.SetRcvhwm(64),
		sock.SetSndhwm(0),
	} {
		if set != nil {
			return fail(fmt.Errorf("fleet: %w", set))
		}
	}
	if o.Secure != nil {
		if err := o.Secure(sock); err != nil {
			return fail(fmt.Errorf("fleet listen %s: %w", o.Listen, err))
		}
	}
	if err := sock.Bind(o.Listen); err != nil {
		return fail(fmt.Errorf("fleet listen %s: %w", o.Listen, err))
	}
	ep, _ := sock.GetLastEndpoint()
	poll, err := newPoller(sock)
	if err != nil {
		return fail(err)
	}
	c := &Coordinator{
		o: o, log: log, sock: sock, poll: poll, endpoint: ep,
		hb:       heartbeatPeriod(o.Timeout),
		todo:     make(chan func(), 1024),
		notes:    make(chan note, 4*o.Size+64),
		quit:     make(chan struct{}),
		loopDone: make(chan struct{}),
		joined:   make(chan struct{}),
		byCtl:    map[string]*peer{},
		byEv:     map[string]*peer{},
	}
	go c.loop()
	return c, nil
}

// heartbeatPeriod is how often each side sends a heartbeat: five per
// timeout, between 20 ms and 1 s.
func heartbeatPeriod(timeout time.Duration) time.Duration {
	return min(max(timeout/5, 20*time.Millisecond), time.Second)
}

// Endpoint is the bound address (with the port chosen for :0).
func (c *Coordinator) Endpoint() string { return c.endpoint }

// Wait waits until the fleet is full, at most d; ErrMissing says how many
// are missing and who joined.
func (c *Coordinator) Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.joined:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, 0, len(c.peers))
	for _, p := range c.peers {
		names = append(names, p.name)
	}
	joined := "none joined"
	if len(names) > 0 {
		joined = "joined: " + strings.Join(names, ", ")
	}
	return fmt.Errorf("%w: %d of %d workers joined %s within %v (%s); %d missing",
		ErrMissing, len(names), c.o.Size, c.endpoint, d, joined, c.o.Size-len(names))
}

// Workers returns the names of the workers that joined, in index order.
func (c *Coordinator) Workers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.peers))
	for i, p := range c.peers {
		out[i] = p.name
	}
	return out
}

// Close releases the socket; workers still connected notice the silence.
func (c *Coordinator) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	close(c.quit)
	<-c.loopDone
	return c.sock.Close()
}

// do runs fn on the loop goroutine.
func (c *Coordinator) do(fn func()) {
	select {
	case c.todo <- fn:
	case <-c.loopDone:
	}
}

// send queues a frame for a routing id.
func (c *Coordinator) send(id string, frame []byte) {
	c.do(func() { c.sendNow(id, frame) })
}

// sendNow sends on the loop goroutine.
func (c *Coordinator) sendNow(id string, frame []byte) {
	if _, err := c.sock.SendMessage(id, frame); err != nil {
		c.log.Debug("fleet: send failed", "err", err)
	}
}

// loop owns the socket: it receives every frame, runs queued sends, sends
// heartbeats and clock pings, and declares silent workers lost.
//
// Backpressure. When a worker's ingest channel is full (what consumes the
// run's bus is slower than the workers, or stalls: the aggregator, the
// event log, a slow disk), the event frame just read is held and the loop
// stops reading the socket until there is room for it. ZeroMQ's queues
// fill, its high-water marks block the workers' event senders, and their
// load generators block on publishing: the fleet slows to what the
// consumer takes, with nothing lost and no unbounded buffer. Meanwhile the
// loop goes on running queued sends and sending heartbeats and pings, so
// that no worker takes the coordinator for lost; the time it does not
// read counts as no worker's silence, and a pong that waited in its queue
// is not taken for a round trip (see hear).
func (c *Coordinator) loop() {
	defer close(c.loopDone)
	defer c.poll.close()
	nextBeat, nextPing := time.Now(), time.Now()
	var wait *time.Timer
	for {
		select {
		case <-c.quit:
			return
		default:
		}
		for more := true; more; {
			select {
			case fn := <-c.todo:
				fn()
			default:
				more = false
			}
		}
		if c.held.p != nil {
			c.waitRoom(&wait)
		} else if parts, err := c.poll.recv(5 * time.Millisecond); err == nil {
			c.handle(parts)
		} else if e := zmq.AsErrno(err); e != zmq.Errno(syscall.EAGAIN) && e != zmq.Errno(syscall.EINTR) {
			if e == zmq.ETERM {
				return
			}
			c.log.Warn("fleet: receive failed", "err", err)
		}
		if now := time.Now(); now.After(nextPing) {
			nextPing = now.Add(pingPeriod)
			beat := now.After(nextBeat)
			if beat {
				nextBeat = now.Add(c.hb)
			}
			c.beat(beat)
		}
	}
}

// pingPeriod is how often the coordinator measures each worker's clock
// offset (a ping is a few dozen bytes).
const pingPeriod = 100 * time.Millisecond

// heldFrame is an event frame waiting for room in its worker's ingest
// channel.
type heldFrame struct {
	p *peer
	f []byte
}

// waitRoom waits a few milliseconds at most for room for the held frame,
// running a queued send if one comes first (loop goroutine).
func (c *Coordinator) waitRoom(t **time.Timer) {
	const d = 5 * time.Millisecond
	if *t == nil {
		*t = time.NewTimer(d)
	} else {
		(*t).Reset(d)
	}
	select {
	case c.held.p.ingest <- c.held.f:
		c.held = heldFrame{}
		c.hear(event.Now())
	case fn := <-c.todo:
		fn() // closeIngest drops the frame if its channel closes
	case <-(*t).C:
	case <-c.quit:
	}
}

// deafClockLimit: after the loop did not read for longer than this, the
// pongs of the pings sent before are not clock samples.
const deafClockLimit = 10 * time.Millisecond

// hear ends a stretch during which the loop did not read (loop
// goroutine). The workers' messages waited in the socket's queues: the
// stretch is not their silence, so every worker's last message moves
// forward by it; and when it was long, the pongs that waited there would
// measure the stall, not the network: the pongs of pings sent before now
// are dropped (the clock keeps its earlier exchanges, and the next pings
// bring new ones). Short stretches, as under steady backpressure, only
// widen a round trip a little: the min-RTT filter takes care of those.
func (c *Coordinator) hear(now int64) {
	d := now - c.deafSince
	c.deafSince = 0
	c.mu.Lock()
	for _, p := range c.peers {
		p.lastSeen.Add(d)
	}
	c.mu.Unlock()
	if d > int64(deafClockLimit) {
		c.staleBefore = now
	}
}

// closeIngest closes p's ingest channel (loop goroutine). A frame held for
// it is dropped: its worker is lost, or the run is over.
func (c *Coordinator) closeIngest(p *peer) {
	p.closeOnce.Do(func() {
		close(p.ingest)
		p.ingestClosed = true
	})
	if c.held.p == p {
		c.held = heldFrame{}
		c.hear(event.Now())
	}
}

// beat sends a clock ping, and with heartbeat a heartbeat, to every live
// worker, and declares lost the ones silent for the timeout (not while the
// loop holds a frame: it does not read, see loop).
func (c *Coordinator) beat(heartbeat bool) {
	now := event.Now()
	c.mu.Lock()
	peers := append([]*peer(nil), c.peers...)
	running, ended := c.running, c.ended
	c.mu.Unlock()
	for _, p := range peers {
		if p.lost.Load() || p.handedIn.Load() {
			continue
		}
		// Once the run ended, workers go (released): their silence is no
		// loss, however long the report takes. Nor is the silence of a
		// worker that handed in its result (an interrupted one leaves).
		if silent := time.Duration(now - p.lastSeen.Load()); silent > c.o.Timeout && c.held.p == nil && !ended {
			c.declareLost(p, now, running, silent)
			continue
		}
		if heartbeat {
			c.sendNow(p.ctl, []byte{kindHeartbeat, 0x90})
		}
		ping := msg(kindPing, 1)
		ping = appendInt(ping, event.Now())
		c.sendNow(p.ctl, ping)
	}
}

// declareLost marks p lost (loop goroutine). Before the run a lost worker
// leaves the fleet, and another may take its place.
func (c *Coordinator) declareLost(p *peer, now int64, running bool, silent time.Duration) {
	if !running {
		c.mu.Lock()
		if !c.running {
			c.removeLocked(p)
			c.mu.Unlock()
			c.log.Warn("fleet: worker left before the run", "worker", p.name, "silent", silent.Round(time.Millisecond))
			return
		}
		c.mu.Unlock()
	}
	p.lost.Store(true)
	p.lostAt.Store(now)
	c.log.Error("fleet: worker lost", "worker", p.name, "silent", silent.Round(time.Millisecond))
	c.closeIngest(p)
	c.notes <- note{p: p, lost: true}
}

// removeLocked drops a worker that left before the run.
func (c *Coordinator) removeLocked(p *peer) {
	for i, q := range c.peers {
		if q == p {
			c.peers = append(c.peers[:i], c.peers[i+1:]...)
			break
		}
	}
	for i, q := range c.peers {
		q.index = i
	}
	delete(c.byCtl, p.ctl)
	delete(c.byEv, p.ev)
}

// handle dispatches one received message (loop goroutine).
func (c *Coordinator) handle(parts [][]byte) {
	if len(parts) != 2 || len(parts[1]) == 0 {
		c.log.Warn("fleet: malformed message dropped", "parts", len(parts))
		return
	}
	id, f := string(parts[0]), parts[1]
	now := event.Now()
	if f[0] == kindEvents {
		c.mu.Lock()
		p := c.byEv[id]
		c.mu.Unlock()
		if p == nil || p.lost.Load() || p.ingestClosed {
			return // a lost worker's late events, a stranger's, or after the run
		}
		p.lastSeen.Store(now)
		select {
		case p.ingest <- f:
		default:
			// Full: hold it, and read nothing more until it is in.
			c.held = heldFrame{p, f}
			c.deafSince = now
		}
		return
	}
	body := f[1:]
	switch f[0] {
	case kindRegister:
		c.register(id, body, now)
		return
	case kindHello:
		r := open(body)
		idx, token := r.int(), r.uint()
		if r.err != nil {
			return
		}
		c.mu.Lock()
		if idx >= 0 && int(idx) < len(c.peers) && c.peers[idx].token == token {
			p := c.peers[idx]
			p.ev = id
			c.byEv[id] = p
			p.lastSeen.Store(now)
		}
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	p := c.byCtl[id]
	c.mu.Unlock()
	if p == nil || p.lost.Load() {
		return
	}
	p.lastSeen.Store(now)
	switch f[0] {
	case kindHeartbeat:
	case kindPong:
		r := open(body)
		t1, t2, t3 := r.int(), r.int(), r.int()
		if r.err == nil && t1 > 0 && t1 <= now && t1 >= c.staleBefore {
			p.clock.add(t1, t2, t3, now)
		}
	case kindReady, kindWarm, kindDone:
		c.notes <- note{p: p, kind: f[0], body: body}
	default:
		c.log.Warn("fleet: unknown message kind dropped", "worker", p.name, "kind", f[0])
	}
}

// register admits or refuses a worker (loop goroutine).
func (c *Coordinator) register(id string, body []byte, now int64) {
	m, err := decodeRegister(body)
	if err != nil || m.Name == "" {
		c.log.Warn("fleet: malformed registration refused", "err", err)
		c.sendNow(id, refuse("malformed registration", false))
		return
	}
	if m.Version != protocolVersion {
		reason := fmt.Sprintf("the worker speaks fleet protocol %q, this coordinator %q: run the same inferbench version on the coordinator and every worker", m.Version, protocolVersion)
		c.log.Warn("fleet: worker refused", "worker", m.Name, "host", m.Host, "reason", reason)
		c.sendNow(id, refuse(reason, false))
		return
	}
	c.mu.Lock()
	if p := c.byCtl[id]; p != nil {
		// A repeated registration: the worker repeats it until answered
		// (its first may have gone to the coordinator before this one on
		// the same address), so the answer is repeated too.
		c.mu.Unlock()
		if !p.lost.Load() {
			c.sendNow(id, welcome(p, c.hb))
		}
		return
	}
	var reason string
	retry := true // the worker may try again later (a worker serving runs does)
	switch {
	case c.running:
		reason = "a run is in progress: a worker cannot join a running run"
	case len(c.peers) >= c.o.Size:
		reason = fmt.Sprintf("the fleet is full (%d workers)", c.o.Size)
	default:
		for _, p := range c.peers {
			if p.name == m.Name {
				reason = fmt.Sprintf("duplicate worker name %q (already joined from %s)", m.Name, p.host)
				retry = false
			}
		}
	}
	if reason != "" {
		c.mu.Unlock()
		c.log.Warn("fleet: worker refused", "worker", m.Name, "host", m.Host, "reason", reason)
		c.sendNow(id, refuse(reason, retry))
		return
	}
	p := &peer{index: len(c.peers), name: m.Name, host: m.Host, ctl: id, token: rand.Uint64(),
		ingest: make(chan []byte, 64), ingestDone: make(chan struct{})}
	p.lastSeen.Store(now)
	c.peers = append(c.peers, p)
	c.byCtl[id] = p
	full := len(c.peers) == c.o.Size && c.joinedN == 0
	if full {
		c.joinedN = len(c.peers)
	}
	c.mu.Unlock()
	c.log.Info("fleet: worker joined", "worker", m.Name, "host", m.Host, "pid", m.PID, "index", p.index)
	c.sendNow(id, welcome(p, c.hb))
	if full {
		close(c.joined)
	}
}

// welcome is the answer to a worker's registration: its index, the token
// its event socket says hello with, and the heartbeat period.
func welcome(p *peer, hb time.Duration) []byte {
	w := msg(kindWelcome, 3)
	w = appendInt(w, int64(p.index))
	w = appendUint(w, p.token)
	return appendInt(w, int64(hb))
}

// refuse is a refusal; retry tells a worker that serves runs it may
// register again later (the fleet is busy, not the worker wrong).
func refuse(reason string, retry bool) []byte {
	b := msg(kindRefuse, 2)
	b = appendString(b, reason)
	return appendBool(b, retry)
}

// jobSpec is the JSON part of a job: what a worker needs besides the
// samples.
type jobSpec struct {
	Index, Size int
	Endpoint    config.Endpoint
	Load        loadgen.Config
	Share       loadgen.Share
	Idle        bool
	// APIKey is the value of the coordinator's api_key_env, when set: it
	// travels only inside the job (CURVE-encrypted off loopback).
	APIKey string
}

// Source returns the event source of one run over this fleet (see
// bench.Source): cfg and ds are the run's configuration and dataset, pub the
// run's event bus. Call it once the fleet is full.
func (c *Coordinator) Source(cfg config.Run, ds *dataset.Dataset, pub bus.Publisher[event.Record]) (*Run, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return nil, errors.New("fleet: a run is already in progress")
	}
	if len(c.peers) != c.o.Size {
		return nil, fmt.Errorf("fleet: %d of %d workers joined", len(c.peers), c.o.Size)
	}
	if err := Check(cfg, ds, c.o.Size); err != nil {
		return nil, err
	}
	parts, err := Split(bench.LoadgenConfig(cfg.Load), ds.Len(), c.o.Size)
	if err != nil {
		return nil, err
	}
	c.running = true
	return &Run{c: c, cfg: cfg, ds: ds, pub: pub, parts: parts, peers: append([]*peer(nil), c.peers...),
		stop: make(chan struct{})}, nil
}

// Run is one run over a fleet: a bench.Source that publishes the merged
// events of the workers.
type Run struct {
	c     *Coordinator
	cfg   config.Run
	ds    *dataset.Dataset
	pub   bus.Publisher[event.Record]
	parts []Part
	peers []*peer

	stopOnce  sync.Once
	stop      chan struct{}
	aborted   atomic.Bool
	startedAt atomic.Int64
	lostAbort atomic.Bool
	// replay is a trace replay's issue times and prompts (nil otherwise;
	// see ReplaySource).
	replay *Replay
}

// Stop asks every worker to stop issuing (the first Ctrl-C); in-flight
// requests get their grace period. It returns true the first time.
func (r *Run) Stop() bool {
	first := false
	r.stopOnce.Do(func() {
		first = true
		close(r.stop)
		r.broadcast(stopMsg(false))
	})
	return first
}

func stopMsg(abort bool) []byte {
	b := msg(kindStop, 1)
	return appendBool(b, abort)
}

func (r *Run) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// broadcast sends a frame to every worker not lost.
func (r *Run) broadcast(frame []byte) {
	for _, p := range r.peers {
		if !p.lost.Load() {
			r.c.send(p.ctl, frame)
		}
	}
}

// session publishes one session record and flushes.
func (r *Run) session(t event.Type, ts int64) {
	_ = r.pub.Publish(event.Record{Type: t, TimestampNS: ts})
	_ = r.pub.Flush()
}

// Run drives the run: jobs, the coordinated start of warmup and of the
// tracked phase, the merged event stream, the end. Cancelling ctx aborts
// the workers' in-flight requests.
func (r *Run) Run(ctx context.Context) (loadgen.Result, error) {
	defer func() {
		r.c.mu.Lock()
		r.c.ended = true
		r.c.mu.Unlock()
	}()
	// Each worker's job samples, before the ingest goroutines start: an
	// issued record that omits its prompt takes it from the samples its
	// worker was sent (see refTable).
	var replayed [][]dataset.Sample
	if r.replay != nil {
		replayed = r.replaySlices()
	}
	jobSamples := make([][]dataset.Sample, len(r.peers))
	jobConvs := make([][]dataset.Conversation, len(r.peers))
	for i, p := range r.peers {
		jobSamples[i], jobConvs[i] = r.slice(r.parts[i])
		if replayed != nil {
			jobSamples[i], jobConvs[i] = replayed[i], nil
		}
		p.samples = jobSamples[i]
	}
	var ingest sync.WaitGroup
	for _, p := range r.peers {
		ingest.Go(func() { r.ingest(p) })
	}
	defer func() {
		// Every ingest goroutine ends: their channels close on the loop.
		for _, p := range r.peers {
			r.c.do(func() { r.c.closeIngest(p) })
		}
		ingest.Wait()
	}()
	abortSent := false
	checkAbort := func() {
		if !abortSent && (ctx.Err() != nil || r.lostAbort.Load()) {
			abortSent = true
			r.aborted.Store(true)
			r.Stop()
			r.broadcast(stopMsg(true))
		}
	}

	// Jobs.
	key := ""
	if env := r.cfg.Endpoint.APIKeyEnv; env != "" {
		key = os.Getenv(env)
	}
	for i, p := range r.peers {
		spec := jobSpec{Index: i, Size: len(r.peers), Endpoint: r.cfg.Endpoint, Load: r.parts[i].Load,
			Share: *r.parts[i].Load.Share, Idle: r.parts[i].Idle, APIKey: key}
		js, err := json.Marshal(spec)
		if err != nil {
			return loadgen.Result{}, fmt.Errorf("fleet: job: %w", err)
		}
		samples, convs := jobSamples[i], jobConvs[i]
		b := msg(kindJob, 3)
		b = appendBin(b, js)
		b = appendSamples(b, samples)
		b = appendConversations(b, convs)
		r.c.send(p.ctl, b)
	}
	if err := r.waitAll(ctx, checkAbort, func(p *peer) bool { return p.ready || p.failure != "" }); err != nil {
		return loadgen.Result{}, err
	}
	for _, p := range r.peers {
		if p.failure != "" {
			r.broadcast(stopMsg(true))
			return loadgen.Result{}, fmt.Errorf("fleet: worker %s cannot run the job: %s", p.name, p.failure)
		}
	}
	// Enough clock samples for an offset (pings go every heartbeat).
	deadline := time.Now().Add(20 * pingPeriod)
	for time.Now().Before(deadline) && !r.clocksReady() {
		time.Sleep(5 * time.Millisecond)
	}

	// The coordinated start of the session (warmup).
	t0 := event.Now() + r.lead()
	r.startedAt.Store(t0)
	r.session(event.SessionStarted, t0)
	for _, p := range r.peers {
		b := msg(kindStart, 1)
		b = appendInt(b, t0+p.clock.use())
		r.c.send(p.ctl, b)
	}
	if err := r.waitAll(ctx, checkAbort, func(p *peer) bool {
		return (p.warm && p.ingested.Load() >= p.warmSeq) || p.done
	}); err != nil {
		return loadgen.Result{}, err
	}
	// The coordinated start of the tracked phase.
	tracked := false
	if !r.stopped() {
		tracked = true
		t1 := event.Now() + r.lead()
		r.session(event.SessionStartTracking, t1)
		for _, p := range r.peers {
			b := msg(kindTrack, 1)
			b = appendInt(b, t1+p.clock.use())
			r.c.send(p.ctl, b)
		}
	}
	if err := r.waitAll(ctx, checkAbort, func(p *peer) bool {
		return p.done && p.ingested.Load() >= p.doneSeq
	}); err != nil {
		return loadgen.Result{}, err
	}
	for _, p := range r.peers {
		r.c.do(func() { r.c.closeIngest(p) })
	}
	ingest.Wait()
	var res loadgen.Result
	res.Start = t0
	for _, p := range r.peers {
		res.Issued += p.result.Issued
		res.Completed += p.result.Completed
		res.Failed += p.result.Failed
		res.Stopped = res.Stopped || p.stopped
		if p.lost.Load() {
			res.Stopped = true
		}
	}
	res.Stopped = res.Stopped || r.stopped()
	now := event.Now()
	if tracked {
		r.session(event.SessionStopTracking, now)
	}
	if res.Stopped && (r.stopped() || r.aborted.Load()) {
		r.session(event.SessionStopLoadgen, now)
	}
	res.End = now
	r.session(event.SessionEnded, now)
	r.broadcast([]byte{kindRelease, 0x90})
	return res, nil
}

// slice is the dataset a worker's job carries: the whole of it when the
// run is bounded by time (the worker cycles through it), else only the
// samples its share draws, the others left empty so that the indices stay
// the dataset's.
func (r *Run) slice(p Part) ([]dataset.Sample, []dataset.Conversation) {
	l := p.Load
	if l.Duration > 0 || l.MinDuration > 0 {
		return r.ds.Samples, r.ds.Conversations
	}
	out := make([]dataset.Sample, len(r.ds.Samples))
	var convs []dataset.Conversation
	if r.ds.Conversations != nil {
		// A multi-turn dataset's order deals whole conversations.
		convs = make([]dataset.Conversation, len(r.ds.Conversations))
	}
	for _, i := range l.Share.Indices(len(out), l.SampleSeed, l.WarmupSamples+l.NumSamples) {
		out[i] = r.ds.Samples[i]
		if convs != nil {
			convs[i] = r.ds.Conversations[i]
		}
	}
	return out, convs
}

// lead is how far ahead a coordinated start is announced: enough for the
// message to reach every worker.
func (r *Run) lead() int64 {
	worst := int64(0)
	for _, p := range r.peers {
		_, unc, _ := p.clock.estimate()
		worst = max(worst, unc)
	}
	return int64(50*time.Millisecond) + 8*worst
}

// clocksReady reports whether every worker has a few clock exchanges.
func (r *Run) clocksReady() bool {
	for _, p := range r.peers {
		if p.clock.count() < 3 && !p.lost.Load() {
			return false
		}
	}
	return true
}

// waitAll handles notes until ok holds for every worker not lost (and
// whose loss is accounted for).
func (r *Run) waitAll(ctx context.Context, checkAbort func(), ok func(*peer) bool) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		checkAbort()
		all := true
		for _, p := range r.peers {
			if p.lost.Load() {
				select {
				case <-p.ingestDone:
				default:
					all = false
				}
				continue
			}
			if !ok(p) {
				all = false
			}
		}
		if all {
			return nil
		}
		var done <-chan struct{}
		if !r.aborted.Load() {
			done = ctx.Done()
		}
		select {
		case n := <-r.c.notes:
			r.note(n)
		case <-tick.C:
		case <-done:
		}
	}
}

// note applies one control message of a worker.
func (r *Run) note(n note) {
	p := n.p
	if n.lost {
		if r.c.o.OnLoss == OnLossAbort {
			r.lostAbort.Store(true)
		}
		return
	}
	rd := open(n.body)
	switch n.kind {
	case kindReady:
		if msg := rd.str(maxReason); msg != "" {
			p.failure = msg
		} else if rd.err == nil {
			p.ready = true
		}
	case kindWarm:
		p.warmSeq = rd.uint()
		p.warm = rd.err == nil
	case kindDone:
		p.doneSeq = rd.uint()
		p.result.Issued, p.result.Completed, p.result.Failed = rd.int(), rd.int(), rd.int()
		p.stopped = rd.bool()
		p.done = rd.err == nil
		p.handedIn.Store(p.done)
		if p.stopped && !p.lost.Load() && !r.stopped() {
			r.loadgenError(metrics.ClassWorkerStopped, fmt.Sprintf("worker %s stopped before its share was issued (it was interrupted)", p.name))
		}
	}
}

// loadgenError publishes a load generator error without a sample (an
// other_errors.CLASS counter): something that kept the run's load from
// being delivered.
func (r *Run) loadgenError(class, msg string) {
	_ = r.pub.Publish(event.Record{Type: event.ErrorLoadgen, TimestampNS: event.Now(), Data: &event.ErrorData{Type: class, Message: msg}})
}

// ingest merges one worker's events into the run's stream: it checks the
// batch sequence, places each record on the coordinator's timeline (a
// sample's records all shift by the offset in force when it was issued,
// so its durations stay as the worker measured them), drops the worker's
// own session records (the coordinator publishes the run's), and, when the
// worker is lost, counts its in-flight samples failed (worker_lost).
func (r *Run) ingest(p *peer) {
	defer close(p.ingestDone)
	// The samples in flight: the offset in force at their issue, and their
	// uuid string (chunk records reuse it).
	type flight struct {
		uuid string
		off  int64
		ref  int // its number, or -1
	}
	inflight := make(map[string]flight, 1024)
	intern := func(b []byte) string {
		if f, ok := inflight[string(b)]; ok {
			return f.uuid
		}
		return string(b)
	}
	// The samples in flight by number (refTable), as the worker numbered
	// them: the chunk records that name a sample by number.
	var slots []flight
	var recs []event.Record
	var refs []uint32
	batcher, _ := r.pub.(interface{ PublishBatch([]event.Record) error })
	var last uint64
	var nrec, unknown int64
	defer func() {
		r.c.log.Debug("fleet: events ingested", "worker", p.name, "batches", last, "records", nrec)
		if unknown > 0 {
			// Only after a lost batch (reported as a gap) or a malformed one.
			p.badFrames.Add(1)
			r.c.log.Error("fleet: chunk records of an unknown sample number dropped", "worker", p.name, "records", unknown)
		}
	}()
	for f := range p.ingest {
		_, seq, body, err := readEventHeader(f)
		if err != nil {
			p.badFrames.Add(1)
			continue
		}
		if seq != last+1 {
			if seq > last+1 {
				p.gaps.Add(seq - last - 1)
			}
			r.c.log.Error("fleet: event batches missing", "worker", p.name, "expected", last+1, "got", seq)
		}
		last = max(last, seq)
		recs, refs, err = decodeEvents(recs[:0], refs[:0], body, intern, p.samples)
		if err != nil {
			p.badFrames.Add(1)
			r.c.log.Error("fleet: malformed event batch", "worker", p.name, "err", err)
			p.ingested.Store(last)
			continue
		}
		nrec += int64(len(recs))
		off := p.clock.use()
		// The records are edited in place; kept ones move down over
		// dropped ones.
		w := 0
		for i := range recs {
			rec := &recs[i]
			ref := int(refs[i]) - 1
			if ref >= 0 && rec.Type != event.SampleIssued {
				// A chunk or complete record naming its sample by number.
				if ref >= len(slots) || slots[ref].uuid == "" {
					unknown++
					continue
				}
				rec.SampleUUID = slots[ref].uuid
				rec.TimestampNS -= slots[ref].off
				if rec.Type == event.SampleComplete {
					delete(inflight, slots[ref].uuid)
					slots[ref] = flight{}
					p.completed.Add(1)
				}
				if w != i {
					recs[w] = *rec
				}
				w++
				continue
			}
			if rec.Type.Category() == event.CategorySession {
				continue
			}
			o := off
			if rec.SampleUUID != "" {
				switch rec.Type {
				case event.SampleIssued:
					o = off
					f := flight{rec.SampleUUID, off, -1}
					if ref >= 0 {
						// Numbers are dense: a new one is the next.
						if ref == len(slots) {
							slots = append(slots, flight{})
						}
						if ref < len(slots) {
							f.ref = ref
							slots[ref] = f
						} else {
							unknown++
						}
					}
					inflight[rec.SampleUUID] = f
					p.issued.Add(1)
					if pd, ok := rec.Data.(*event.PromptData); ok && pd != nil {
						// The record's other times move with it.
						if pd.ScheduledNS != 0 {
							late := rec.TimestampNS - pd.ScheduledNS
							if pd.ReleasedNS != 0 {
								late = pd.ReleasedNS - pd.ScheduledNS // the queue wait is apart
							}
							p.lateness.add(late)
							pd.ScheduledNS -= o
						}
						if pd.ReleasedNS != 0 {
							pd.ReleasedNS -= o
						}
					}
				case event.SampleComplete:
					if f, ok := inflight[rec.SampleUUID]; ok {
						o = f.off
						delete(inflight, rec.SampleUUID)
						if f.ref >= 0 {
							slots[f.ref] = flight{}
						}
					}
					p.completed.Add(1)
				default:
					if f, ok := inflight[rec.SampleUUID]; ok {
						o = f.off
					}
					switch rec.Type {
					case event.ErrorClient, event.ErrorGeneric, event.ErrorLoadgen:
						p.failed.Add(1)
					}
				}
			}
			if rec.ConversationID != "" {
				// Each worker numbers its conversations from 1: the
				// worker's name keeps their ids apart in the merged stream.
				rec.ConversationID += "@" + p.name
			}
			rec.TimestampNS -= o
			if w != i {
				recs[w] = *rec
			}
			w++
		}
		out := recs[:w]
		if batcher != nil {
			_ = batcher.PublishBatch(out)
		} else {
			for i := range out {
				_ = r.pub.Publish(out[i])
			}
		}
		p.ingested.Store(last)
	}
	if p.lost.Load() {
		// The loss itself, in the stream (its in-flight samples follow
		// as failed): the verdict's load check reads it even when the
		// worker had nothing in flight.
		r.loadgenError(ClassWorkerLost, fmt.Sprintf("worker %s lost: its share of the load stopped with it", p.name))
	}
	if len(inflight) == 0 {
		return
	}
	// Samples issued and never completed: the worker was lost with them in
	// flight, or (a worker that finished) their completions were in event
	// batches lost on the way. Either way they are counted failed, so that
	// issued = completed + failed still holds and the report says why.
	now, class, why := p.lostAt.Load(), ClassWorkerLost, fmt.Sprintf("worker %s lost", p.name)
	if !p.lost.Load() {
		now, class, why = event.Now(), ClassEventsLost, fmt.Sprintf("worker %s: the sample's completion was in a lost event batch", p.name)
	}
	ids := make([]string, 0, len(inflight))
	for id := range inflight {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		_ = r.pub.Publish(event.Record{Type: event.ErrorClient, TimestampNS: now, SampleUUID: id,
			Data: &event.ErrorData{Type: class, Message: why}})
		_ = r.pub.Publish(event.Record{Type: event.SampleComplete, TimestampNS: now, SampleUUID: id})
		p.failed.Add(1)
		p.completed.Add(1)
	}
	p.lostCount.Store(int64(len(ids)))
	_ = r.pub.Flush()
}

// Notes are the report's lines about the fleet: its size, the worst clock
// offset uncertainty, lost workers and missing event batches.
func (r *Run) Notes() []string {
	var worst int64
	var names []string
	for _, p := range r.peers {
		worst = max(worst, p.clock.worstUncertainty())
		names = append(names, p.name)
	}
	var offs []string
	for _, p := range r.peers {
		off, unc, _ := p.clock.estimate()
		offs = append(offs, fmt.Sprintf("%s %+.3f ms ±%.3f", p.name, float64(off)/1e6, float64(unc)/1e6))
	}
	out := []string{fmt.Sprintf("fleet run: %d workers (%s); event times placed on the coordinator's clock within ±%v (worst clock-offset uncertainty, round trip / 2); per-request durations are measured on each worker; clock offsets (worker − coordinator): %s",
		len(r.peers), strings.Join(names, ", "), time.Duration(worst), strings.Join(offs, ", "))}
	for _, p := range r.peers {
		if p.lost.Load() {
			at := time.Duration(p.lostAt.Load() - r.startedAt.Load()).Round(time.Millisecond)
			out = append(out, fmt.Sprintf("worker %s was lost %v into the run (no message for %v): its %d in-flight samples are counted failed (%s); load not delivered",
				p.name, at, r.c.o.Timeout, p.lostCount.Load(), ClassWorkerLost))
		}
		if p.stopped && !p.lost.Load() && !r.stopped() {
			out = append(out, fmt.Sprintf("worker %s stopped before its share was issued (it was interrupted): load not delivered", p.name))
		}
		if g := p.gaps.Load(); g > 0 {
			msg := fmt.Sprintf("worker %s: %d event batches never arrived (sequence gap): the metrics miss their events", p.name, g)
			if n := p.lostCount.Load(); n > 0 && !p.lost.Load() {
				msg += fmt.Sprintf("; %d samples whose completion was lost are counted failed (%s)", n, ClassEventsLost)
			}
			out = append(out, msg)
		}
		if b := p.badFrames.Load(); b > 0 {
			out = append(out, fmt.Sprintf("worker %s: %d malformed event batches dropped", p.name, b))
		}
	}
	return out
}

// Lost returns the names of the workers lost during the run.
func (r *Run) Lost() []string {
	var out []string
	for _, p := range r.peers {
		if p.lost.Load() {
			out = append(out, p.name)
		}
	}
	return out
}
