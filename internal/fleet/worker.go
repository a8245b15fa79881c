package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/tinylib/msgp/msgp"
)

// Worker errors.
var (
	// ErrUnreachable: no answer from the coordinator within the timeout.
	ErrUnreachable = errors.New("coordinator unreachable")
	// ErrRefused: the coordinator refused the worker (its reason follows).
	ErrRefused = errors.New("refused by the coordinator")
	// ErrCoordinatorLost: the coordinator went silent during a run.
	ErrCoordinatorLost = errors.New("coordinator lost")
)

// apiKeyEnv is the variable a worker puts the job's API key in, for its
// client (which reads the key from the environment).
const apiKeyEnv = "INFERBENCH_FLEET_API_KEY"

// WorkerOptions configures a worker.
type WorkerOptions struct {
	Coordinator string // tcp://HOST:PORT
	Name        string // unique in the fleet
	// Once makes the worker exit after one run; otherwise it serves runs
	// until ctx ends.
	Once bool
	// Timeout: the coordinator is unreachable (first connection) or lost
	// (during a run) after this long without a message (0: DefaultTimeout).
	Timeout time.Duration
	Logger  *slog.Logger
	// Secure, when set, is applied to each socket before it connects
	// (CURVE; see package zcurve).
	Secure func(*zmq.Socket) error
}

// RunWorker connects to the coordinator and serves runs: each time it
// registers, receives its job, runs its share of the load at the
// coordinated times and streams its events, until ctx ends (or after one
// run with Once). The errors it returns wrap ErrUnreachable, ErrRefused or
// ErrCoordinatorLost, or are the job's.
func RunWorker(ctx context.Context, o WorkerOptions) error {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	for first := true; ; first = false {
		err := serveOne(ctx, &o, first)
		var busy *busyError
		switch {
		case err == nil:
			if o.Once || ctx.Err() != nil {
				return nil
			}
		case ctx.Err() != nil && errors.Is(err, context.Canceled):
			return nil
		case !first && errors.As(err, &busy):
			// Between runs: the last coordinator is finishing or gone, or
			// the next one is busy; register again shortly.
			o.Logger.Info("fleet: waiting for the next run", "reason", busy.err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(heartbeatPeriod(o.Timeout)):
			}
		default:
			return err
		}
	}
}

// registerAgain is how often a worker repeats its registration until the
// coordinator answers.
const registerAgain = 500 * time.Millisecond

// busyError is a failure before a job that a worker serving runs outlives:
// a refusal it may retry, or a coordinator that went silent before handing
// out a job.
type busyError struct{ err error }

func (e *busyError) Error() string { return e.err.Error() }
func (e *busyError) Unwrap() error { return e.err }

// dealer opens a DEALER socket connected to the coordinator (in the
// default ZeroMQ context, as the coordinator's). Its routing id is random
// and fixed, so that after a reconnect the coordinator still knows it.
func dealer(o *WorkerOptions, maxMsg int64) (*zmq.Socket, error) {
	s, err := zmq.NewSocket(zmq.DEALER)
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	for _, set := range []error{
		s.SetIdentity(fmt.Sprintf("w%016x", rand.Uint64())),
		s.SetLinger(o.Timeout),
		s.SetRcvtimeo(5 * time.Millisecond),
		s.SetSndtimeo(250 * time.Millisecond),
		s.SetMaxmsgsize(maxMsg),
		s.SetSndhwm(64),
	} {
		if set != nil {
			_ = s.Close()
			return nil, fmt.Errorf("fleet: %w", set)
		}
	}
	if o.Secure != nil {
		if err := o.Secure(s); err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("coordinator %s: %w", o.Coordinator, err)
		}
	}
	if err := s.Connect(o.Coordinator); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("coordinator %s: %w", o.Coordinator, err)
	}
	return s, nil
}

// conn is a worker's control connection: one goroutine owns the socket,
// answers pings and heartbeats, and passes the other messages on. It never
// waits for the event stream (a separate socket and goroutine), so a worker
// whose events are held back by a slow coordinator (its forwarder blocked,
// its load generator blocked on publishing) still answers and keeps its
// heartbeats going both ways.
type conn struct {
	sock    *zmq.Socket
	poll    *poller // receives from sock
	out     chan []byte
	in      chan []byte
	lost    chan struct{} // closed when the coordinator went silent
	quit    chan struct{}
	done    chan struct{}
	timeout time.Duration
	hb      time.Duration
	seen    atomic.Int64
}

func (c *conn) run() {
	defer close(c.done)
	defer c.poll.close()
	next := time.Now()
	// A message of c.out the socket's queue had no room for: a coordinator
	// that does not read (its consumer stalls) fills the queue with
	// heartbeats and pongs. It is sent when there is room; receiving goes
	// on meanwhile.
	var pending []byte
	for {
		select {
		case <-c.quit:
			return
		default:
		}
		if pending == nil {
			select {
			case pending = <-c.out:
			default:
			}
		}
		if pending != nil && c.trySend(pending) {
			pending = nil
			continue
		}
		parts, err := c.poll.recv(5 * time.Millisecond)
		now := event.Now()
		if err == nil && len(parts) == 1 && len(parts[0]) > 0 {
			f := parts[0]
			c.seen.Store(now)
			switch f[0] {
			case kindHeartbeat, kindWelcome: // a repeated answer to a repeated registration
			case kindPing:
				r := open(f[1:])
				t1 := r.int()
				if r.err == nil {
					b := msg(kindPong, 3)
					b = appendInt(b, t1)
					b = appendInt(b, now)
					b = appendInt(b, event.Now())
					c.trySend(b) // none when the queue is full: the next ping gets one
				}
			default:
				select {
				case c.in <- f:
				case <-c.quit:
					return
				}
			}
		} else if err != nil {
			if e := zmq.AsErrno(err); e != zmq.Errno(syscall.EAGAIN) && e != zmq.Errno(syscall.EINTR) {
				return
			}
		}
		if c.hb > 0 && time.Now().After(next) {
			next = time.Now().Add(c.hb)
			c.trySend([]byte{kindHeartbeat, 0x90}) // none when the queue is full: the coordinator is not reading
			if time.Duration(event.Now()-c.seen.Load()) > c.timeout {
				select {
				case <-c.lost:
				default:
					close(c.lost)
				}
			}
		}
	}
}

// trySend sends without waiting; false when the socket's queue is full.
// A frame that fails otherwise (the socket is closing) counts as sent.
func (c *conn) trySend(b []byte) bool {
	_, err := c.sock.SendBytes(b, zmq.DONTWAIT)
	return err == nil || zmq.AsErrno(err) != zmq.Errno(syscall.EAGAIN)
}

// send queues a frame for the coordinator.
func (c *conn) send(b []byte) {
	select {
	case c.out <- b:
	case <-c.done:
	}
}

func (c *conn) close() {
	close(c.quit)
	<-c.done
}

// serveOne serves one run.
func serveOne(ctx context.Context, o *WorkerOptions, first bool) error {
	log := o.Logger
	sock, err := dealer(o, MaxJobFrame)
	if err != nil {
		return err
	}
	defer func() { _ = sock.Close() }()
	host, _ := os.Hostname()
	reg := (&register{Name: o.Name, PID: int64(os.Getpid()), Host: host, Version: protocolVersion}).encode()
	if _, err := sock.SendBytes(reg, 0); err != nil && first {
		return fmt.Errorf("%w: %s: %v", ErrUnreachable, o.Coordinator, err)
	}
	// The answer to the registration. The registration is repeated until
	// one comes: between runs the last coordinator may still hold the
	// connection it went to, and be gone without answering.
	var deadline time.Time
	if first {
		deadline = time.Now().Add(o.Timeout)
	}
	again := time.Now().Add(registerAgain)
	var welcome []byte
	for welcome == nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(again) {
			again = time.Now().Add(registerAgain)
			_, _ = sock.SendBytes(reg, zmq.DONTWAIT)
		}
		if !deadline.IsZero() && time.Now().After(deadline) {
			hint := "is the coordinator running?"
			if o.Secure != nil {
				hint = "is the coordinator running, and is this worker's public key in its allowed/ directory?"
			}
			return fmt.Errorf("%w: no answer from %s within %v (%s)", ErrUnreachable, o.Coordinator, o.Timeout, hint)
		}
		parts, err := sock.RecvMessageBytes(0)
		if err != nil || len(parts) != 1 || len(parts[0]) == 0 {
			continue
		}
		switch f := parts[0]; f[0] {
		case kindRefuse:
			r := open(f[1:])
			reason := r.str(maxReason)
			err := fmt.Errorf("%w: %s", ErrRefused, reason)
			if r.bool() {
				return &busyError{err}
			}
			return err
		case kindWelcome:
			welcome = f[1:]
		}
	}
	r := open(welcome)
	index, token, hb := r.int(), r.uint(), time.Duration(r.int())
	if r.err != nil {
		return fmt.Errorf("fleet: malformed welcome from %s", o.Coordinator)
	}
	log.Info("fleet: joined", "coordinator", o.Coordinator, "name", o.Name, "index", index)
	ev, err := dealer(o, MaxEventFrame)
	if err != nil {
		return err
	}
	defer func() { _ = ev.Close() }()
	hello := msg(kindHello, 2)
	hello = appendInt(hello, index)
	hello = appendUint(hello, token)
	if _, err := ev.SendBytes(hello, 0); err != nil {
		return fmt.Errorf("coordinator %s: %w", o.Coordinator, err)
	}
	poll, err := newPoller(sock)
	if err != nil {
		return err
	}
	c := &conn{sock: sock, poll: poll, out: make(chan []byte, 64), in: make(chan []byte, 64), lost: make(chan struct{}),
		quit: make(chan struct{}), done: make(chan struct{}), timeout: o.Timeout, hb: min(hb, o.Timeout/4)}
	if c.hb <= 0 {
		c.hb = heartbeatPeriod(o.Timeout)
	}
	c.seen.Store(event.Now())
	go c.run()
	defer c.close()
	w := &workerRun{o: o, c: c, ev: ev, index: uint32(index)}
	return w.serve(ctx)
}

// workerRun is one run on a worker.
type workerRun struct {
	o     *WorkerOptions
	c     *conn
	ev    *zmq.Socket
	index uint32

	client    *client.Client // closed when the run ends
	published atomic.Int64   // records the session published
	forwarded atomic.Int64   // records sent to the coordinator
	seq       atomic.Uint64
	track     chan int64
	trackAt   int64 // the coordinated tracked start (worker clock), set by gate
	stop      chan struct{}
	stopOnce  sync.Once
}

// countingPub counts the records published, so the warmup gate knows when
// the forwarder has sent them all.
type countingPub struct {
	bus.Publisher[event.Record]
	n *atomic.Int64
}

func (p countingPub) Publish(r event.Record) error {
	p.n.Add(1)
	return p.Publisher.Publish(r)
}

func (w *workerRun) serve(ctx context.Context) error {
	lostErr := fmt.Errorf("%w: no message from %s for %v: stopped issuing and cancelled the requests in flight", ErrCoordinatorLost, w.o.Coordinator, w.o.Timeout)
	// The job.
	var job []byte
	for job == nil {
		select {
		case f := <-w.c.in:
			switch f[0] {
			case kindJob:
				job = f[1:]
			case kindStop, kindRelease:
				return nil // the run ended before it began
			}
		case <-w.c.lost:
			return &busyError{lostErr}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	spec, ds, err := decodeJob(job)
	var session *loadgen.Session
	var events *bus.InProc[event.Record]
	if err == nil && !spec.Idle {
		session, events, err = w.prepare(spec, ds)
	}
	if w.client != nil {
		defer w.client.Close()
	}
	if err != nil {
		b := msg(kindReady, 1)
		w.c.send(appendString(b, err.Error()))
		return fmt.Errorf("fleet job: %w", err)
	}
	w.c.send(appendString(msg(kindReady, 1), ""))
	w.track = make(chan int64, 1)
	w.stop = make(chan struct{})
	stopSession := func() {
		w.stopOnce.Do(func() { close(w.stop) })
		if session != nil {
			session.Stop()
		}
	}

	runCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	var lost bool
	var startAt int64
	started := false
	runDone := make(chan loadgen.Result, 1)
	fwdDone := make(chan error, 1)
	begin := func(at int64) {
		started = true
		if session == nil {
			go func() {
				// An idle share: through the phases, issuing nothing.
				if waitUntilStop(at, w.stop) {
					w.gate()
				}
				runDone <- loadgen.Result{}
				fwdDone <- nil
			}()
			return
		}
		sub := events.Subscribe()
		go func() { fwdDone <- w.forward(sub, ds.Samples) }()
		go func() {
			waitUntilStop(at, w.stop)
			res, err := session.Run(runCtx)
			if err != nil {
				w.o.Logger.Error("fleet: run", "err", err)
			}
			_ = events.Close()
			runDone <- res
		}()
	}
	if session != nil {
		session.BeforeTracking = func() bool {
			ok := w.gate()
			// The schedule counts from the coordinated instant, not from
			// when this goroutine woke: one timeline for the fleet.
			session.TrackStart = w.trackAt
			return ok
		}
	}
	var res loadgen.Result
	gotRes, gotFwd := false, false
	// Each of these fires once (a closed channel would fire forever).
	lostCh, doneCh := w.c.lost, ctx.Done()
	for !(started && gotRes && gotFwd) {
		select {
		case f := <-w.c.in:
			rd := open(f[1:])
			switch f[0] {
			case kindStart:
				startAt = rd.int()
				if !started && rd.err == nil {
					begin(startAt)
				}
			case kindTrack:
				if at := rd.int(); rd.err == nil {
					select {
					case w.track <- at:
					default:
					}
				}
			case kindStop:
				stopSession()
				if rd.bool() {
					abort()
				}
				if !started {
					begin(event.Now())
				}
			case kindRelease:
				stopSession()
				abort()
				if !started {
					return nil
				}
			}
		case <-lostCh:
			lostCh = nil
			lost = true
			stopSession()
			abort()
			if !started {
				return lostErr
			}
		case <-doneCh:
			doneCh = nil
			stopSession()
			if !started {
				begin(event.Now())
			}
		case res = <-runDone:
			gotRes = true
		case err := <-fwdDone:
			gotFwd = true
			if err != nil && !lost {
				w.o.Logger.Error("fleet: event stream", "err", err)
			}
		}
	}
	if lost {
		return lostErr
	}
	stopped := false
	select {
	case <-w.stop:
		stopped = true
	default:
	}
	w.o.Logger.Info("fleet: run done", "issued", res.Issued, "completed", res.Completed, "failed", res.Failed, "stopped", stopped || res.Stopped)
	b := msg(kindDone, 5)
	b = appendUint(b, w.seq.Load())
	b = appendInt(b, res.Issued)
	b = appendInt(b, res.Completed)
	b = appendInt(b, res.Failed)
	b = appendBool(b, stopped || res.Stopped)
	w.c.send(b)
	// Wait for the release, so the events and the done message are
	// delivered before the sockets close. An interrupted worker (its
	// context is done) does not wait for the rest of the fleet: it leaves
	// after a grace long enough for the done message to go out (the
	// coordinator then knows what it did and does not call it lost).
	var grace <-chan time.Time
	if ctx.Err() != nil {
		grace = time.After(min(w.o.Timeout, interruptGrace))
	}
	for {
		select {
		case f := <-w.c.in:
			if f[0] == kindRelease {
				return nil
			}
		case <-w.c.lost:
			return lostErr
		case <-grace:
			return nil
		}
	}
}

// interruptGrace is how long an interrupted worker lingers for its done
// message to reach the coordinator.
const interruptGrace = time.Second

// decodeJob parses a job.
func decodeJob(body []byte) (jobSpec, *dataset.Dataset, error) {
	var spec jobSpec
	n, p, err := msgp.ReadArrayHeaderBytes(body)
	if err != nil || n < 2 {
		return spec, nil, errShort
	}
	js, p, err := msgp.ReadBytesZC(p)
	if err != nil {
		return spec, nil, errShort
	}
	if err := json.Unmarshal(js, &spec); err != nil {
		return spec, nil, fmt.Errorf("malformed job: %w", err)
	}
	samples, p, err := readSamples(p)
	if err != nil {
		return spec, nil, fmt.Errorf("malformed job samples: %w", err)
	}
	if len(samples) == 0 {
		return spec, nil, errors.New("the job has no samples")
	}
	ds := &dataset.Dataset{Name: "fleet", Samples: samples}
	if n >= 3 {
		if ds.Conversations, _, err = readConversations(p); err != nil {
			return spec, nil, fmt.Errorf("malformed job conversations: %w", err)
		}
		if ds.Conversations != nil && len(ds.Conversations) != len(samples) {
			return spec, nil, errors.New("malformed job: conversations and samples differ in number")
		}
		for _, c := range ds.Conversations {
			ds.Turns += len(c.Turns)
		}
	}
	spec.Load.Share = &spec.Share
	return spec, ds, nil
}

// prepare builds the client and the session of a job.
func (w *workerRun) prepare(spec jobSpec, ds *dataset.Dataset) (*loadgen.Session, *bus.InProc[event.Record], error) {
	ep := spec.Endpoint
	if spec.APIKey != "" {
		if err := os.Setenv(apiKeyEnv, spec.APIKey); err != nil {
			return nil, nil, err
		}
		ep.APIKeyEnv = apiKeyEnv
	} else {
		ep.APIKeyEnv = ""
	}
	cl, err := client.New(bench.ClientConfig(ep))
	if err != nil {
		return nil, nil, fmt.Errorf("endpoint: %w", err)
	}
	w.client = cl
	events := bus.NewInProc[event.Record](0)
	s, err := loadgen.New(spec.Load, ds, cl, countingPub{events, &w.published})
	if err != nil {
		return nil, nil, err
	}
	return s, events, nil
}

// gate runs between the warmup and the tracked phase: once every warmup
// event is on its way it reports the warmup done, then waits for the
// coordinated start of the tracked phase.
func (w *workerRun) gate() bool {
	for w.forwarded.Load() < w.published.Load() {
		select {
		case <-w.stop:
			return false
		case <-time.After(500 * time.Microsecond):
		}
	}
	b := msg(kindWarm, 1)
	w.c.send(appendUint(b, w.seq.Load()))
	select {
	case at := <-w.track:
		w.trackAt = at
		return waitUntilStop(at, w.stop)
	case <-w.stop:
		return false
	}
}

// forward streams the session's events to the coordinator in batches until
// the bus ends. Sending blocks when the coordinator is behind
// (backpressure); nothing is dropped.
func (w *workerRun) forward(sub bus.Subscriber[event.Record], samples []dataset.Sample) (err error) {
	defer func() {
		if err != nil {
			// The coordinator is gone: read the bus to its end anyway, so
			// the session (which publishes on it) never blocks.
			for {
				if _, e := sub.Next(context.Background()); e != nil {
					break
				}
			}
		}
		_ = sub.Close()
	}()
	buf := make([]byte, 0, eventBatchBytes+64<<10)
	refs := newRefTable()
	refs.samples = samples
	n, entries, at := 0, 0, 0 // records and array entries in the open frame; where its array header is
	seq := w.seq.Load()
	flush := func() error {
		if n == 0 {
			return nil
		}
		putUint32(buf[at+1:], uint32(2*entries))
		if err := w.sendEvents(buf); err != nil {
			return err
		}
		w.seq.Store(seq)
		w.forwarded.Add(int64(n))
		n, entries = 0, 0
		return nil
	}
	// add encodes records into the open frame, sending it when full.
	add := func(batch []event.Record) error {
		for i := 0; i < len(batch); {
			if n == 0 {
				seq++
				buf = appendEventHeader(buf[:0], w.index, seq)
				at = len(buf)
				buf = append(buf, 0xdd, 0, 0, 0, 0) // array32 header, patched
			}
			var k int
			buf, k = appendEvents(buf, batch[i:], refs, maxBatchRecords-n)
			i += k
			n += k
			entries++
			if n >= maxBatchRecords || len(buf) >= eventBatchBytes {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	end := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, bus.ErrClosed) {
			return flush()
		}
		return err
	}
	now, cancel := context.WithCancel(context.Background())
	cancel() // Next(now) takes what is there without waiting
	for {
		batch, err := sub.Next(context.Background())
		if err != nil {
			return end(err)
		}
		if err := add(batch); err != nil {
			return err
		}
		// Let the records of the next moments join the frame: fewer,
		// larger frames cost both sides fewer wake-ups, receives and
		// sends per record.
		time.Sleep(eventLinger)
		for {
			batch, err := sub.Next(now)
			if errors.Is(err, context.Canceled) {
				break
			}
			if err != nil {
				return end(err)
			}
			if err := add(batch); err != nil {
				return err
			}
		}
		if err := flush(); err != nil {
			return err
		}
	}
}

// eventLinger is how long a worker lets events gather before it sends a
// frame that is not full: events reach the coordinator at most this late.
const eventLinger = 10 * time.Millisecond

// sendEvents sends one frame, waiting while the coordinator is behind;
// it gives up only when the coordinator is lost. A long wait is logged:
// the load generator slows down with it (it blocks on publishing once the
// run's bus is full), and the run's numbers show that.
func (w *workerRun) sendEvents(frame []byte) error {
	start, warned := time.Now(), false
	for {
		_, err := w.ev.SendBytes(frame, 0) // waits 250 ms at most
		if err == nil {
			if warned {
				w.o.Logger.Info("fleet: the coordinator takes events again", "waited", time.Since(start).Round(time.Millisecond))
			}
			return nil
		}
		if zmq.AsErrno(err) != zmq.Errno(syscall.EAGAIN) {
			return err
		}
		if !warned && time.Since(start) >= slowCoordinator {
			warned = true
			w.o.Logger.Warn("fleet: the coordinator is behind: events wait, issuing slows down", "waiting", time.Since(start).Round(time.Millisecond))
		}
		select {
		case <-w.c.lost:
			return ErrCoordinatorLost
		default:
		}
	}
}

// slowCoordinator is how long an event frame waits before the worker says
// the coordinator is behind.
const slowCoordinator = time.Second

// waitUntilStop waits until event.Now() >= at; false when stop closed
// first.
func waitUntilStop(at int64, stop <-chan struct{}) bool {
	for {
		d := time.Duration(at - event.Now())
		if d <= 0 {
			return true
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
			return false
		}
	}
}
