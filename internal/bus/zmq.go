package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
	"github.com/tinylib/msgp/msgp"
)

// The frame layout shared with the Python tool. They equal event.TopicSize and
// event.BatchTopic; bus does not import event because it carries any item type.
const (
	topicSize  = 40
	batchTopic = "batch"
)

// MaxIPCPathLen is the longest socket path an ipc:// address may carry: the
// size of sockaddr_un.sun_path (108 on Linux) minus its terminating NUL.
const MaxIPCPathLen = 107

// DefaultBatchSize is the batch size of the event stream: as many payloads as
// the Python tool packs into one batch frame (its send_threshold).
const DefaultBatchSize = 1000

// maxBatchBytes bounds a batch frame, so a run of very large payloads is sent
// before BatchSize is reached instead of growing one huge frame.
const maxBatchBytes = 8 << 20

// batchReserve is the room kept at the start of the publish buffer: a batch
// frame is written in place as padded topic ‖ array header (at most 5 bytes) ‖
// elements, and a single frame as padded topic ‖ payload, without copying the
// payloads.
const batchReserve = topicSize + 5

// DefaultMaxFrameSize bounds the frames a subscriber accepts when its options
// set none: libzmq refuses a larger frame before allocating it (and drops the
// connection that sent it). It is far above any frame a publisher sends (a
// batch of 1000 records with 64 KiB outputs is 64 MiB).
const DefaultMaxFrameSize = 256 << 20

// SnapshotMaxFrameSize bounds snapshot frames: a snapshot is a few KiB per
// series.
const SnapshotMaxFrameSize = 16 << 20

// The kinds of bad frames a [ZMQSubscriber] skips, counts and logs.
const (
	BadShort     = "short frame"         // no payload after the topic
	BadOversized = "oversized frame"     // longer than MaxFrameSize
	BadBatch     = "malformed batch"     // a batch frame whose array does not decode
	BadPayload   = "undecodable payload" // a payload the codec rejects and drops
)

// subPoll is how long a blocked Next waits in libzmq before it looks at its
// context and at Close again.
const subPoll = 50 * time.Millisecond

// maxNextItems caps the items one Next call returns once it has at least one;
// a frame is always decoded whole, so a batch may exceed it.
const maxNextItems = 1 << 14

// ZMQOptions configures a [ZMQPublisher]. The zero value is an unbatched
// publisher with unlimited queues that discards unsent frames at Close; use
// [EventPublisherOptions] or [SnapshotPublisherOptions] for the two streams
// the tool runs.
type ZMQOptions struct {
	// SendHWM is the send high-water mark, in frames per subscriber; 0 means
	// unlimited, which the event stream needs to be lossless without NoDrop.
	SendHWM int
	// Linger is how long Close waits for queued frames to reach subscribers:
	// negative waits forever, 0 discards them.
	Linger time.Duration
	// Conflate keeps only the newest frame per subscriber (ZMQ_CONFLATE), for
	// snapshots. libzmq ignores conflation on XPUB sockets, so a conflating
	// publisher uses a PUB socket and cannot WaitSubscribers.
	Conflate bool
	// BatchSize is the number of buffered payloads that triggers a batch
	// frame; 0 and 1 send every item at once as a single frame.
	BatchSize int
	// NoDrop (ZMQ_XPUB_NODROP) makes Publish block when a subscriber's queue
	// reached SendHWM, instead of dropping the frame for that subscriber.
	NoDrop bool
	// FlushInterval, when positive, flushes a non-empty buffer at that period
	// from a background goroutine, so a slow stream is not held back waiting
	// for BatchSize items; 0 flushes only on BatchSize, Flush and Close.
	FlushInterval time.Duration
	// Connect makes the publisher connect to addr instead of binding it: a
	// load generator feeding an aggregator whose subscriber binds
	// (ZMQSubOptions.Bind).
	Connect bool
}

// EventPublisherOptions returns the settings of the event stream: batches of
// [DefaultBatchSize], unlimited queues, lossless (NoDrop), Close waits for
// delivery, and a 10 ms flush period so a slow stream is not delayed.
func EventPublisherOptions() ZMQOptions {
	return ZMQOptions{
		BatchSize:     DefaultBatchSize,
		Linger:        -1,
		NoDrop:        true,
		FlushInterval: 10 * time.Millisecond,
	}
}

// SnapshotPublisherOptions returns the settings of the metrics snapshot
// stream, as the Python tool sets them: one frame per snapshot, a send HWM of
// 4 (drop rather than stall the aggregator) and a 10 s linger.
func SnapshotPublisherOptions() ZMQOptions {
	return ZMQOptions{BatchSize: 1, SendHWM: 4, Linger: 10 * time.Second}
}

// ZMQPublisher publishes items over a ZeroMQ XPUB socket bound to an ipc:// or
// tcp:// address, in the wire format of the Python tool:
//
//	single frame: topic NUL-padded to 40 bytes ‖ payload
//	batch frame:  "batch" NUL-padded to 40 bytes ‖ msgpack array of bin payloads
//
// Payloads are buffered until BatchSize of them are waiting (or Flush, the
// flush period, or Close); a buffer holding one payload goes out as a single
// frame under that payload's topic. Items are sent in Publish order.
//
// ZMQPublisher is safe for concurrent use: one mutex guards the socket, which
// libzmq does not allow to be used from two threads at once.
type ZMQPublisher[T any] struct {
	mu       sync.Mutex
	zctx     *zmq.Context
	sock     *zmq.Socket
	codec    Codec[T]
	endpoint string
	ipcPath  string // socket file to remove at Close; "" for tcp
	xpub     bool
	batch    int
	closed   bool

	item      T      // the item being encoded; a field so it does not escape per call
	buf       []byte // batchReserve bytes, then (bin header ‖ payload) per item
	n         int    // payloads in buf
	firstOff  int    // offset of the first payload in buf
	lastTopic string // topic of the most recent payload
	subs      int    // subscriptions covering the batch topic, net

	stop chan struct{} // closed by Close to end the flusher
	done chan struct{} // closed when the flusher returned
}

var _ Publisher[int] = (*ZMQPublisher[int])(nil)

// NewZMQPublisher binds a publisher to addr: "ipc:///path/to.sock" or
// "tcp://host:port" (port 0 or * picks a free port; see Endpoint), or
// connects to it when opts.Connect is set.
func NewZMQPublisher[T any](addr string, codec Codec[T], opts ZMQOptions) (*ZMQPublisher[T], error) {
	if opts.Conflate && opts.NoDrop {
		return nil, fmt.Errorf("bus: publisher %s: Conflate and NoDrop contradict each other", addr)
	}
	if opts.SendHWM < 0 {
		return nil, fmt.Errorf("bus: publisher %s: negative SendHWM %d", addr, opts.SendHWM)
	}
	bindAddr, ipcPath, err := checkAddr(addr)
	if err != nil {
		return nil, err
	}
	p := &ZMQPublisher[T]{
		codec:   codec,
		ipcPath: ipcPath,
		xpub:    !opts.Conflate,
		batch:   max(opts.BatchSize, 1),
		buf:     make([]byte, batchReserve, 64<<10),
	}
	typ := zmq.XPUB
	if !p.xpub {
		typ = zmq.PUB
	}
	p.zctx, p.sock, err = newSocket(typ)
	if err != nil {
		return nil, fmt.Errorf("bus: publisher %s: %w", addr, err)
	}
	linger := opts.Linger
	if linger < 0 {
		linger = -1
	}
	setters := []func() error{
		func() error { return p.sock.SetSndhwm(opts.SendHWM) },
		func() error { return p.sock.SetLinger(linger) },
		// As the Python tool: queue frames only for completed connections.
		func() error { return p.sock.SetImmediate(true) },
	}
	if p.xpub {
		setters = append(setters,
			// Verboser passes every subscribe and unsubscribe, so that
			// WaitSubscribers can count subscribers that share a topic.
			func() error { return p.sock.SetXpubVerboser(1) },
			func() error { return p.sock.SetXpubNodrop(opts.NoDrop) },
		)
	} else {
		setters = append(setters, func() error { return p.sock.SetConflate(true) })
	}
	for _, set := range setters {
		if err := set(); err != nil {
			p.abort()
			return nil, fmt.Errorf("bus: publisher %s: socket option: %w", addr, err)
		}
	}
	if opts.Connect {
		p.ipcPath, p.endpoint = "", addr
		if err := p.sock.Connect(bindAddr); err != nil {
			p.abort()
			return nil, fmt.Errorf("bus: publisher %s: connect: %w", addr, err)
		}
	} else {
		if err := p.sock.Bind(bindAddr); err != nil {
			p.abort()
			return nil, fmt.Errorf("bus: publisher %s: bind: %w", addr, err)
		}
		if p.endpoint, err = p.sock.GetLastEndpoint(); err != nil {
			p.endpoint = addr
		}
	}
	if opts.FlushInterval > 0 {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.flusher(opts.FlushInterval)
	}
	return p, nil
}

// abort releases the socket of a publisher that failed to start.
func (p *ZMQPublisher[T]) abort() {
	_ = p.sock.SetLinger(0)
	_ = p.sock.Close()
	_ = p.zctx.Term()
}

// Endpoint returns the address the publisher is bound to, with the port
// libzmq picked when addr asked for any port (ZMQ_LAST_ENDPOINT).
func (p *ZMQPublisher[T]) Endpoint() string { return p.endpoint }

// Publish buffers item and sends the buffer when it holds BatchSize payloads.
// With NoDrop and a SendHWM it blocks while a subscriber's queue is full.
func (p *ZMQPublisher[T]) Publish(item T) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.appendLocked(item); err != nil {
		return err
	}
	if p.n >= p.batch || len(p.buf) >= maxBatchBytes {
		return p.flushLocked()
	}
	return nil
}

// PublishFlush publishes item and sends everything buffered, under one lock
// hold so no other item slips in between; for records that must not wait
// (session control).
func (p *ZMQPublisher[T]) PublishFlush(item T) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.appendLocked(item); err != nil {
		return err
	}
	return p.flushLocked()
}

// Flush sends the buffered payloads.
func (p *ZMQPublisher[T]) Flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	return p.flushLocked()
}

// appendLocked encodes item into the buffer behind a bin header.
func (p *ZMQPublisher[T]) appendLocked(item T) error {
	if p.closed {
		return ErrClosed
	}
	p.item = item
	defer func() {
		var zero T
		p.item = zero // drop references the buffer no longer needs
	}()
	at := len(p.buf)
	// Room for the largest bin header (bin32); moved down once the payload
	// length, and so the header size, is known.
	buf := append(p.buf, 0, 0, 0, 0, 0)
	topic, buf, err := p.codec.Encode(buf, &p.item)
	if err != nil {
		p.buf = buf[:at]
		return fmt.Errorf("bus: encode: %w", err)
	}
	if len(topic) > topicSize {
		p.buf = buf[:at]
		return fmt.Errorf("bus: topic %q is longer than %d bytes", topic, topicSize)
	}
	size := len(buf) - at - 5
	var hb [5]byte
	h := msgp.AppendBytesHeader(hb[:0], uint32(size))
	copy(buf[at:], h)
	if len(h) < 5 {
		copy(buf[at+len(h):], buf[at+5:])
		buf = buf[:len(buf)-(5-len(h))]
	}
	if p.n == 0 {
		p.firstOff = at + len(h)
	}
	p.buf = buf
	p.n++
	p.lastTopic = topic
	return nil
}

// flushLocked sends the buffer as one frame; on failure the buffer is kept,
// so a later Flush retries it.
func (p *ZMQPublisher[T]) flushLocked() error {
	if p.xpub {
		p.readSubscriptionsLocked()
	}
	var frame []byte
	switch p.n {
	case 0:
		return nil
	case 1:
		// The single frame overwrites the bin header; keep it in case the
		// send fails and the buffer must stay intact.
		start := p.firstOff - topicSize
		var saved [batchReserve + 5]byte
		copy(saved[:], p.buf[:p.firstOff])
		putTopic(p.buf[start:p.firstOff], p.lastTopic)
		if _, err := p.sock.SendBytes(p.buf[start:], 0); err != nil {
			copy(p.buf, saved[:p.firstOff])
			return fmt.Errorf("bus: send to %s: %w", p.endpoint, err)
		}
		p.reset()
		return nil
	default:
		var hb [5]byte
		h := msgp.AppendArrayHeader(hb[:0], uint32(p.n))
		start := batchReserve - len(h) - topicSize
		putTopic(p.buf[start:start+topicSize], batchTopic)
		copy(p.buf[start+topicSize:], h)
		frame = p.buf[start:]
	}
	if _, err := p.sock.SendBytes(frame, 0); err != nil {
		return fmt.Errorf("bus: send to %s: %w", p.endpoint, err)
	}
	p.reset()
	return nil
}

func (p *ZMQPublisher[T]) reset() {
	p.buf = p.buf[:batchReserve]
	p.n = 0
}

// putTopic writes topic NUL-padded into dst (topicSize bytes).
func putTopic(dst []byte, topic string) {
	n := copy(dst, topic)
	clear(dst[n:])
}

// readSubscriptionsLocked consumes the subscription messages the XPUB socket
// queued, counting subscriptions that cover the batch topic: every
// ZMQSubscriber (and the Python subscriber) makes exactly one.
func (p *ZMQPublisher[T]) readSubscriptionsLocked() {
	for {
		msg, err := p.sock.RecvBytes(zmq.DONTWAIT)
		if err != nil {
			return
		}
		if len(msg) == 0 || !coversBatch(msg[1:]) {
			continue
		}
		switch msg[0] {
		case 1:
			p.subs++
		case 0:
			p.subs = max(p.subs-1, 0)
		}
	}
}

// coversBatch reports whether a subscription to prefix receives batch frames.
func coversBatch(prefix []byte) bool {
	if len(prefix) > topicSize {
		return false
	}
	var padded [topicSize]byte
	putTopic(padded[:], batchTopic)
	return string(padded[:len(prefix)]) == string(prefix)
}

// WaitSubscribers blocks until at least n subscribers are connected, so that
// nothing published afterwards is lost to the slow-joiner effect. A subscriber
// is counted by its subscription that covers the batch topic. It fails on a
// conflating publisher, whose PUB socket does not report subscriptions.
func (p *ZMQPublisher[T]) WaitSubscribers(ctx context.Context, n int) error {
	if !p.xpub {
		return fmt.Errorf("bus: publisher %s: WaitSubscribers needs an XPUB socket (Conflate is set)", p.endpoint)
	}
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return ErrClosed
		}
		p.readSubscriptionsLocked()
		have := p.subs
		p.mu.Unlock()
		if have >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bus: publisher %s: %d of %d subscribers: %w", p.endpoint, have, n, ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// flusher sends a non-empty buffer every period until Close.
func (p *ZMQPublisher[T]) flusher(period time.Duration) {
	defer close(p.done)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		if !p.closed && p.n > 0 {
			if err := p.flushLocked(); err != nil {
				slog.Error("bus: periodic flush", "endpoint", p.endpoint, "err", err)
			}
		}
		p.mu.Unlock()
	}
}

// Close flushes, closes the socket, waits up to Linger for queued frames to be
// delivered, and removes the ipc socket file. It is idempotent.
func (p *ZMQPublisher[T]) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	errFlush := p.flushLocked()
	p.closed = true
	p.mu.Unlock()
	if p.stop != nil {
		close(p.stop)
		<-p.done
	}
	errClose := p.sock.Close()
	// Terminating the publisher's own context is what waits for the linger
	// period: zmq_close alone returns at once and leaves delivery to I/O
	// threads that die with the process.
	errTerm := p.zctx.Term()
	errRm := removeSocketFile(p.ipcPath)
	if err := errors.Join(errFlush, errClose, errTerm, errRm); err != nil {
		return fmt.Errorf("bus: close publisher %s: %w", p.endpoint, err)
	}
	return nil
}

// ZMQSubOptions configures a [ZMQSubscriber]; the zero value subscribes to
// everything with unlimited queues.
type ZMQSubOptions struct {
	// Topics are topic prefixes to receive ("session." receives every session
	// record); nil or empty receives all. Batch frames are always received,
	// and are not filtered: a batch carries payloads without their topics.
	Topics []string
	// Conflate keeps only the newest frame (ZMQ_CONFLATE), for snapshots
	// where only the latest matters. Never use it for events.
	Conflate bool
	// RecvHWM is the receive high-water mark in frames; 0 means unlimited.
	RecvHWM int
	// Bind makes the subscriber bind addr instead of connecting to it, so that
	// several publishers (load generators) can connect to one subscriber
	// (an aggregator).
	Bind bool
	// MaxFrameSize bounds the frames accepted, in bytes; 0 means
	// [DefaultMaxFrameSize].
	MaxFrameSize int
	// Logger receives one warning per kind of bad frame; nil means
	// slog.Default().
	Logger *slog.Logger
	// OnBadFrame, when set, is called for every bad frame skipped, with its
	// kind (BadShort, …), from the goroutine that calls Next.
	OnBadFrame func(kind string)
}

// SnapshotSubOptions returns the settings of a snapshot subscriber: only the
// newest frame matters (conflate) and frames are bounded by
// [SnapshotMaxFrameSize].
func SnapshotSubOptions() ZMQSubOptions {
	return ZMQSubOptions{Conflate: true, MaxFrameSize: SnapshotMaxFrameSize}
}

// ZMQSubscriber receives items from ZeroMQ publishers in the wire format of
// [ZMQPublisher]. Everything it receives is treated as hostile: frames longer
// than MaxFrameSize are refused by libzmq before they are allocated, a batch's
// element count is checked against its bytes, and a bad frame (one of at most
// 40 bytes, a batch whose array does not decode, a payload that does not
// decode and that [Codec.OnDecodeError] drops) is skipped, counted
// ([ZMQSubscriber.BadFrames]) and logged once per kind.
//
// A ZeroMQ stream has no end, so Next never returns io.EOF: the end of a
// stream is an item (for events, session.ended) or the caller's context.
// Next and Close may be called from different goroutines.
type ZMQSubscriber[T any] struct {
	mu       sync.Mutex // guards the socket between Next and Close
	zctx     *zmq.Context
	sock     *zmq.Socket
	codec    Codec[T]
	addr     string
	ipcPath  string // socket file to remove at Close, when bound
	closed   bool
	items    []T
	payloads [][]byte // scratch for one batch frame

	maxFrame int
	log      *slog.Logger
	onBad    func(kind string)
	badMu    sync.Mutex // guards bad, read by BadFrames from any goroutine
	bad      map[string]int64
}

var _ Subscriber[int] = (*ZMQSubscriber[int])(nil)

// NewZMQSubscriber connects a subscriber to addr (or binds it, with
// opts.Bind). Connecting does not need the publisher to be up: libzmq
// connects, and reconnects, in the background.
func NewZMQSubscriber[T any](addr string, codec Codec[T], opts ZMQSubOptions) (*ZMQSubscriber[T], error) {
	if opts.RecvHWM < 0 {
		return nil, fmt.Errorf("bus: subscriber %s: negative RecvHWM %d", addr, opts.RecvHWM)
	}
	zaddr, ipcPath, err := checkAddr(addr)
	if err != nil {
		return nil, err
	}
	for _, t := range opts.Topics {
		if len(t) > topicSize {
			return nil, fmt.Errorf("bus: subscriber %s: topic %q is longer than %d bytes", addr, t, topicSize)
		}
	}
	s := &ZMQSubscriber[T]{codec: codec, addr: addr, maxFrame: opts.MaxFrameSize, log: opts.Logger, onBad: opts.OnBadFrame}
	if s.maxFrame <= 0 {
		s.maxFrame = DefaultMaxFrameSize
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.zctx, s.sock, err = newSocket(zmq.SUB)
	if err != nil {
		return nil, fmt.Errorf("bus: subscriber %s: %w", addr, err)
	}
	fail := func(what string, err error) (*ZMQSubscriber[T], error) {
		_ = s.sock.Close()
		_ = s.zctx.Term()
		return nil, fmt.Errorf("bus: subscriber %s: %s: %w", addr, what, err)
	}
	// Options that shape the connection come before connect or bind.
	if err := s.sock.SetRcvhwm(opts.RecvHWM); err != nil {
		return fail("RecvHWM", err)
	}
	if err := s.sock.SetLinger(0); err != nil {
		return fail("linger", err)
	}
	if err := s.sock.SetRcvtimeo(subPoll); err != nil {
		return fail("receive timeout", err)
	}
	if err := s.sock.SetMaxmsgsize(int64(s.maxFrame)); err != nil {
		return fail("max frame size", err)
	}
	if opts.Conflate {
		if err := s.sock.SetConflate(true); err != nil {
			return fail("conflate", err)
		}
	}
	for _, t := range subscriptions(opts.Topics) {
		if err := s.sock.SetSubscribe(t); err != nil {
			return fail(fmt.Sprintf("subscribe %q", t), err)
		}
	}
	if opts.Bind {
		if err := s.sock.Bind(zaddr); err != nil {
			return fail("bind", err)
		}
		s.ipcPath = ipcPath
	} else if err := s.sock.Connect(zaddr); err != nil {
		return fail("connect", err)
	}
	return s, nil
}

// subscriptions returns the prefixes to subscribe: every topic, plus the
// padded batch topic unless a topic already covers it, so that a publisher
// counts this subscriber exactly once.
func subscriptions(topics []string) []string {
	if len(topics) == 0 {
		return []string{""}
	}
	out := make([]string, 0, len(topics)+1)
	batch := false
	for _, t := range topics {
		out = append(out, t)
		batch = batch || coversBatch([]byte(t))
	}
	if !batch {
		var padded [topicSize]byte
		putTopic(padded[:], batchTopic)
		out = append(out, string(padded[:]))
	}
	return out
}

// Next blocks until at least one item arrived, then returns it with every
// item already received (up to a cap), in publication order. The slice is
// valid until the next call. It returns ctx.Err() when ctx ends first and
// ErrClosed after Close; never io.EOF (see [ZMQSubscriber]).
func (s *ZMQSubscriber[T]) Next(ctx context.Context) ([]T, error) {
	clear(s.items)
	s.items = s.items[:0]
	for len(s.items) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		// Release the lock between waits so Close gets in within subPoll.
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, ErrClosed
		}
		err := s.receiveLocked(0)
		if err == nil {
			for len(s.items) < maxNextItems {
				if err = s.receiveLocked(zmq.DONTWAIT); err != nil {
					break
				}
			}
		}
		s.mu.Unlock()
		if err != nil && !isAgain(err) {
			return s.items, fmt.Errorf("bus: receive from %s: %w", s.addr, err)
		}
	}
	return s.items, nil
}

// receiveLocked receives one frame and appends its items.
func (s *ZMQSubscriber[T]) receiveLocked(flags zmq.Flag) error {
	frame, err := s.sock.RecvBytes(flags)
	if err != nil {
		return err
	}
	if len(frame) <= topicSize {
		s.badFrame(BadShort, fmt.Errorf("frame of %d bytes", len(frame)))
		return nil
	}
	if len(frame) > s.maxFrame {
		s.badFrame(BadOversized, fmt.Errorf("frame of %d bytes, limit %d", len(frame), s.maxFrame))
		return nil
	}
	topic, body := frame[:topicSize], frame[topicSize:]
	if !isBatchTopic(topic) {
		s.decode(body)
		return nil
	}
	// The whole array is read before any payload is decoded: a batch that is
	// not a valid array is dropped entirely, as the Python tool does.
	if s.payloads, err = splitBatch(s.payloads[:0], body); err != nil {
		clear(s.payloads)
		s.badFrame(BadBatch, fmt.Errorf("%d bytes: %w", len(body), err))
		return nil
	}
	for _, pl := range s.payloads {
		if len(pl) > 0 {
			s.decode(pl)
		}
	}
	clear(s.payloads)
	return nil
}

func (s *ZMQSubscriber[T]) decode(payload []byte) {
	item, err := s.codec.Decode(payload)
	if err != nil {
		var ok bool
		if item, ok = s.codec.OnDecodeError(payload, err); !ok {
			s.badFrame(BadPayload, err)
			return
		}
	}
	s.items = append(s.items, item)
}

// badFrame counts a skipped frame and logs the first of each kind.
func (s *ZMQSubscriber[T]) badFrame(kind string, err error) {
	s.badMu.Lock()
	if s.bad == nil {
		s.bad = make(map[string]int64)
	}
	s.bad[kind]++
	first := s.bad[kind] == 1
	s.badMu.Unlock()
	if first {
		s.log.Warn("bus: skipping a bad frame (logged once per kind; see the count at the end)",
			"kind", kind, "addr", s.addr, "err", err)
	}
	if s.onBad != nil {
		s.onBad(kind)
	}
}

// BadFrames returns how many bad frames were skipped, by kind. It is safe to
// call from any goroutine.
func (s *ZMQSubscriber[T]) BadFrames() map[string]int64 {
	s.badMu.Lock()
	defer s.badMu.Unlock()
	out := make(map[string]int64, len(s.bad))
	for k, v := range s.bad {
		out[k] = v
	}
	return out
}

// splitBatch appends to dst the payloads of a batch frame's body: a msgpack
// array of bin (or str) payloads, which alias body. The element count is
// checked against the bytes that remain before anything is appended, and each
// payload's length by msgp.
func splitBatch(dst [][]byte, body []byte) ([][]byte, error) {
	n, rest, err := msgp.ReadArrayHeaderBytes(body)
	if err != nil {
		return dst, err
	}
	// Every element takes at least one byte.
	if uint64(n) > uint64(len(rest)) {
		return dst, fmt.Errorf("array of %d payloads in %d bytes", n, len(rest))
	}
	for i := uint32(0); i < n; i++ {
		var pl []byte
		if msgp.NextType(rest) == msgp.StrType {
			pl, rest, err = msgp.ReadStringZC(rest)
		} else {
			pl, rest, err = msgp.ReadBytesZC(rest)
		}
		if err != nil {
			return dst, err
		}
		dst = append(dst, pl)
	}
	return dst, nil
}

func isBatchTopic(topic []byte) bool {
	var padded [topicSize]byte
	putTopic(padded[:], batchTopic)
	return string(topic) == string(padded[:])
}

func isAgain(err error) bool {
	return zmq.AsErrno(err) == zmq.Errno(syscall.EAGAIN)
}

// Close stops the subscription and releases the socket; it is idempotent.
func (s *ZMQSubscriber[T]) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	errClose := s.sock.Close()
	errTerm := s.zctx.Term()
	errRm := removeSocketFile(s.ipcPath)
	if err := errors.Join(errClose, errTerm, errRm); err != nil {
		return fmt.Errorf("bus: close subscriber %s: %w", s.addr, err)
	}
	return nil
}

// IPCAddr returns the ipc:// address of the socket file name in dir, or an
// error when the path exceeds [MaxIPCPathLen] bytes, which bind and connect
// would reject with a less helpful message.
func IPCAddr(dir, name string) (string, error) {
	if name == "" {
		return "", errors.New("bus: empty ipc socket name")
	}
	path := strings.TrimRight(dir, "/") + "/" + name
	if dir == "" {
		path = name
	}
	if len(path) > MaxIPCPathLen {
		return "", fmt.Errorf("bus: ipc socket path %q is %d bytes, longer than the unix socket limit of %d; use a shorter directory",
			path, len(path), MaxIPCPathLen)
	}
	return "ipc://" + path, nil
}

// checkAddr validates addr and returns the form to hand to libzmq and, for
// ipc, the socket file path.
func checkAddr(addr string) (zaddr, ipcPath string, err error) {
	switch {
	case strings.HasPrefix(addr, "ipc://"):
		path := strings.TrimPrefix(addr, "ipc://")
		if path == "" {
			return "", "", fmt.Errorf("bus: address %q has no socket path", addr)
		}
		if len(path) > MaxIPCPathLen {
			return "", "", fmt.Errorf("bus: ipc socket path in %q is %d bytes, longer than the unix socket limit of %d",
				addr, len(path), MaxIPCPathLen)
		}
		return addr, path, nil
	case strings.HasPrefix(addr, "tcp://"):
		// libzmq spells "any port" as *; accept the conventional 0 too.
		if strings.HasSuffix(addr, ":0") {
			return strings.TrimSuffix(addr, "0") + "*", "", nil
		}
		return addr, "", nil
	}
	return "", "", fmt.Errorf("bus: address %q: want ipc:// or tcp://", addr)
}

// newSocket creates a socket in a context of its own, whose termination is
// the only way to wait for the socket's linger.
func newSocket(typ zmq.Type) (*zmq.Context, *zmq.Socket, error) {
	zctx, err := zmq.NewContext()
	if err != nil {
		return nil, nil, fmt.Errorf("context: %w", err)
	}
	sock, err := zctx.NewSocket(typ)
	if err != nil {
		_ = zctx.Term()
		return nil, nil, fmt.Errorf("socket: %w", err)
	}
	return zctx, sock, nil
}

func removeSocketFile(path string) error {
	if path == "" {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove socket file: %w", err)
	}
	return nil
}
