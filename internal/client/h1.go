package client

// This file is the client's own HTTP/1.1 transport for http:// endpoints.
// net/http (still used for https://) hands every request between the caller
// and two goroutines per connection, writes headers and body with separate
// write(2) calls and allocates ~45 times per request. Here the goroutine that
// calls Do takes a connection from the pool, writes the whole request with one
// write(2), and reads the response itself through the connection's reused
// bufio.Reader; nothing else runs per connection.
//
// Timeouts use the connection's deadlines lazily: a deadline is only ever set
// earlier than the true one (last byte + ReadTimeout, capped by the request's
// TotalTimeout), and when it fires before the true one it is moved and the
// read retried. Steady traffic therefore sets no deadline per request; a
// deadline is set about once per ReadTimeout per connection.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/inferbench/inferbench/internal/event"
)

const (
	h1BufSize      = 16 << 10 // per-connection read buffer; also the longest header line
	maxHeaderBytes = 64 << 10 // status line, headers and trailers together
	// staleCheckAfter is the idle time after which a pooled connection is
	// checked (one non-blocking peek, about a microsecond) for a close by the
	// server before it is reused. Servers close idle connections after
	// seconds (uvicorn 5 s), so connections reused sooner skip the system
	// call, except after a chunked response: llama-server (cpp-httplib)
	// closes the connection right after every streamed response although it
	// announced keep-alive. A close the peek misses is caught by the retry in
	// doH1 (Config.RetryClosedConn), which counts the resend.
	staleCheckAfter = 50 * time.Millisecond
	clRoom          = 20 + 4 // room for the Content-Length digits and "\r\n\r\n"
)

var (
	errHeaderTooLarge = fmt.Errorf("response header larger than %d bytes", maxHeaderBytes)
	errInterrupted    = fmt.Errorf("request interrupted: %w", context.Canceled)
	errClientClosed   = errors.New("client: closed")
	// aLongTimeAgo is a deadline that has passed: setting it interrupts I/O.
	aLongTimeAgo = time.Unix(1, 0)
)

// monoBase anchors the int64 monotonic times (ns) the transport computes with.
var monoBase = time.Now()

func monoNow() int64 { return int64(time.Since(monoBase)) }

// h1Transport is a pool of keep-alive HTTP/1.1 connections to one address.
// It is safe for concurrent use.
type h1Transport struct {
	addr        string
	dialer      net.Dialer
	max         int
	idleTimeout int64  // ns
	readTimeout int64  // ns
	total       int64  // ns
	head        []byte // request line and fixed headers, ending in "Content-Length: "

	mu      sync.Mutex
	idle    []*h1Conn   // LIFO: the most recently used on top, so ordered by idleAt
	open    int         // connections open or being dialed, including idle ones
	waiters []*h1Waiter // FIFO
	closed  bool

	dials atomic.Int64 // connections dialed, for tests
}

// h1Waiter waits for a connection when the pool is at its limit. Its channel
// receives a connection, or nil as the right to dial one.
type h1Waiter struct{ ch chan *h1Conn }

var waiterPool = sync.Pool{New: func() any { return &h1Waiter{ch: make(chan *h1Conn, 1)} }}

// newH1 builds the transport and its request template from the resolved
// configuration. header holds the headers of every POST (Host excluded).
func newH1(cfg *Config, u, base string, host string, header http.Header) *h1Transport {
	t := &h1Transport{
		addr:        u,
		dialer:      net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: -1},
		max:         cfg.MaxConnections,
		idleTimeout: int64(cfg.IdleTimeout),
		readTimeout: int64(cfg.ReadTimeout),
		total:       int64(cfg.TotalTimeout),
	}
	h := append([]byte("POST "), base...)
	h = append(h, " HTTP/1.1\r\nHost: "...)
	h = append(h, host...)
	h = append(h, "\r\n"...)
	keys := make([]string, 0, len(header))
	for k := range header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // the transport writes these itself, as net/http does
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for _, v := range header[k] {
			h = append(append(append(append(h, k...), ": "...), v...), "\r\n"...)
		}
	}
	t.head = append(h, "Content-Length: "...)
	return t
}

// close closes the idle connections and makes later requests fail; requests
// in flight finish and close their connections.
func (t *h1Transport) close() {
	t.mu.Lock()
	t.closed = true
	idle := t.idle
	t.idle = nil
	t.open -= len(idle)
	t.mu.Unlock()
	for _, cn := range idle {
		cn.close()
	}
}

// get returns a connection for a request issued at start: the most recently
// idle one, a new one while fewer than max are open, or else the next one
// released, in the order the requests started waiting. It honors ctx and
// the request's read and total timeouts while it waits.
func (t *h1Transport) get(ctx context.Context, start int64) (*h1Conn, error) {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil, errClientClosed
	}
	t.expireIdle(start)
	if n := len(t.idle); n > 0 {
		cn := t.idle[n-1]
		t.idle[n-1] = nil
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return cn, nil
	}
	if t.open < t.max {
		t.open++
		t.mu.Unlock()
		return t.dial(ctx)
	}
	w := waiterPool.Get().(*h1Waiter)
	t.waiters = append(t.waiters, w)
	t.mu.Unlock()
	return t.wait(ctx, w)
}

// wait blocks until w is served, ctx ends or the request times out.
func (t *h1Transport) wait(ctx context.Context, w *h1Waiter) (*h1Conn, error) {
	limit, cause := t.readTimeout, errReadTimeout
	if t.total < limit {
		limit, cause = t.total, errTotalTimeout
	}
	timer := time.NewTimer(time.Duration(limit))
	defer timer.Stop()
	var err error
	select {
	case cn := <-w.ch:
		waiterPool.Put(w)
		if cn == nil {
			return t.dial(ctx)
		}
		return cn, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = fmt.Errorf("%w: waiting for one of %d connections", cause, t.max)
	}
	t.abandon(w)
	return nil, err
}

// abandon removes w from the queue, or passes on what it was given.
func (t *h1Transport) abandon(w *h1Waiter) {
	t.mu.Lock()
	if i := slices.Index(t.waiters, w); i >= 0 {
		t.waiters = slices.Delete(t.waiters, i, i+1)
		t.mu.Unlock()
		waiterPool.Put(w)
		return
	}
	t.mu.Unlock()
	if cn := <-w.ch; cn != nil {
		t.put(cn)
	} else {
		t.dropSlot()
	}
	waiterPool.Put(w)
}

// expireIdle closes idle connections older than the idle timeout. The stack
// is ordered by idleAt, so they are at its bottom. t.mu is held.
func (t *h1Transport) expireIdle(now int64) {
	cut := 0
	for cut < len(t.idle) && now-t.idle[cut].idleAt >= t.idleTimeout {
		t.idle[cut].close()
		cut++
	}
	if cut > 0 {
		n := copy(t.idle, t.idle[cut:])
		clear(t.idle[n:])
		t.idle = t.idle[:n]
		t.open -= cut
	}
}

// popWaiter removes and returns the longest waiting waiter, or nil. t.mu is held.
func (t *h1Transport) popWaiter() *h1Waiter {
	if len(t.waiters) == 0 {
		return nil
	}
	w := t.waiters[0]
	t.waiters[0] = nil
	t.waiters = t.waiters[1:]
	return w
}

// dial opens a connection in a slot already counted in t.open.
func (t *h1Transport) dial(ctx context.Context) (*h1Conn, error) {
	nc, err := t.dialer.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		t.dropSlot()
		return nil, err
	}
	t.dials.Add(1)
	cn := &h1Conn{t: t, nc: nc, br: bufio.NewReaderSize(nil, h1BufSize)}
	cn.br.Reset(cn)
	cn.body.br = cn.br
	cn.interruptFn = cn.interrupt
	cn.peekFn = cn.peek
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // Go's default, stated: the request must leave at once
		cn.raw, _ = tc.SyscallConn()
	}
	return cn, nil
}

// put returns a healthy connection: to the longest waiter, else to the stack.
func (t *h1Transport) put(cn *h1Conn) {
	cn.idleAt = monoNow()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		t.discard(cn) // a waiter may still dial: it must not hang
		return
	}
	if w := t.popWaiter(); w != nil {
		w.ch <- cn
		t.mu.Unlock()
		return
	}
	t.idle = append(t.idle, cn)
	t.mu.Unlock()
}

// discard closes a connection and frees its slot.
func (t *h1Transport) discard(cn *h1Conn) {
	cn.close()
	t.dropSlot()
}

// dropSlot frees a connection slot: the longest waiter may dial.
func (t *h1Transport) dropSlot() {
	t.mu.Lock()
	if w := t.popWaiter(); w != nil {
		w.ch <- nil
	} else {
		t.open--
	}
	t.mu.Unlock()
}

// h1Conn is one connection. It belongs to one request at a time; only
// interrupt (a context's AfterFunc) runs concurrently with it.
type h1Conn struct {
	t    *h1Transport
	nc   net.Conn
	raw  syscall.RawConn // for the stale-connection peek; nil if not TCP
	br   *bufio.Reader   // reads through the conn's Read (deadline handling)
	wbuf []byte
	body h1Body

	idleAt int64 // monoNow when it entered the idle stack
	reused bool  // it has served a request
	keep   bool  // the current response allows keep-alive

	// Deadlines in monoNow time; 0 = none set yet.
	rdl, wdl int64
	lastIO   int64 // issue time, then the time of the last byte read
	end      int64 // the request's total timeout

	// Cancellation: interruptFn is registered with context.AfterFunc for the
	// context whose Done channel is watch, and kept across requests that use
	// the same one (the loadgen passes one context to every request), so
	// steady traffic registers nothing per request.
	watch       <-chan struct{}
	stop        func() bool
	interruptFn func()
	interrupted atomic.Bool

	peekFn         func(fd uintptr) bool
	peekBuf        [1]byte
	closeAfterPeek bool
}

func (cn *h1Conn) close() {
	if cn.stop != nil {
		cn.stop()
		cn.stop = nil
	}
	_ = cn.nc.Close()
}

// interrupt makes blocked and future I/O on the connection fail at once.
func (cn *h1Conn) interrupt() {
	cn.interrupted.Store(true)
	_ = cn.nc.SetDeadline(aLongTimeAgo)
}

// watchCtx arranges for ctx's cancellation to interrupt the connection. It
// reports false if the connection was interrupted by an earlier context and
// must not be used.
func (cn *h1Conn) watchCtx(ctx context.Context) bool {
	done := ctx.Done()
	if cn.interrupted.Load() {
		return false
	}
	if done == cn.watch {
		return true
	}
	if cn.stop != nil {
		if !cn.stop() {
			return false // the old context's interrupt has run or is running
		}
		cn.stop = nil
	}
	cn.watch = done
	if done != nil {
		cn.stop = context.AfterFunc(ctx, cn.interruptFn)
	}
	return true
}

// closedByPeer peeks without blocking: a pooled connection with EOF, an
// error or unexpected bytes pending was closed (or spoiled) by the server.
func (cn *h1Conn) closedByPeer() bool {
	if cn.br.Buffered() > 0 {
		return true // bytes arrived while idle: the stream is out of step
	}
	if cn.raw == nil {
		return false
	}
	cn.closeAfterPeek = false
	if err := cn.raw.Read(cn.peekFn); err != nil {
		return true
	}
	return cn.closeAfterPeek
}

func (cn *h1Conn) peek(fd uintptr) bool {
	_, _, err := syscall.Recvfrom(int(fd), cn.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	cn.closeAfterPeek = !errors.Is(err, syscall.EAGAIN) // EOF (n == 0), data or an error
	return true
}

// begin prepares the connection for a request issued at start.
func (cn *h1Conn) begin(start int64) {
	cn.lastIO = start
	cn.end = start + cn.t.total
	want := min(start+cn.t.readTimeout, cn.end)
	// A deadline that passed, or lies beyond this request's, is reset; an
	// earlier one is moved when it fires (see expired).
	r := cn.rdl <= start || cn.rdl > want
	w := cn.wdl <= start || cn.wdl > want
	switch {
	case r && w:
		_ = cn.nc.SetDeadline(monoBase.Add(time.Duration(want)))
		cn.rdl, cn.wdl = want, want
	case r:
		_ = cn.nc.SetReadDeadline(monoBase.Add(time.Duration(want)))
		cn.rdl = want
	case w:
		_ = cn.nc.SetWriteDeadline(monoBase.Add(time.Duration(want)))
		cn.wdl = want
	}
}

// expired is called when a deadline fired. It returns the timeout or
// cancellation error if the request is really over, else moves the deadline
// to the true one.
func (cn *h1Conn) expired(read bool) error {
	if cn.interrupted.Load() {
		return errInterrupted
	}
	now := monoNow()
	if now >= cn.end {
		return fmt.Errorf("%w (%v)", errTotalTimeout, time.Duration(cn.t.total))
	}
	if now >= cn.lastIO+cn.t.readTimeout {
		return fmt.Errorf("%w (%v)", errReadTimeout, time.Duration(cn.t.readTimeout))
	}
	dl := min(cn.lastIO+cn.t.readTimeout, cn.end)
	if read {
		_ = cn.nc.SetReadDeadline(monoBase.Add(time.Duration(dl)))
		cn.rdl = dl
	} else {
		_ = cn.nc.SetWriteDeadline(monoBase.Add(time.Duration(dl)))
		cn.wdl = dl
	}
	// interrupt may have run between the check above and the new deadline.
	if cn.interrupted.Load() {
		return errInterrupted
	}
	return nil
}

// Read reads from the network for br, applying the read timeout.
func (cn *h1Conn) Read(p []byte) (int, error) {
	for {
		n, err := cn.nc.Read(p)
		if n > 0 {
			cn.lastIO = monoNow()
			if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
				err = nil
			}
			return n, err
		}
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if err := cn.expired(true); err != nil {
			return 0, err
		}
	}
}

// write writes b whole, applying the timeouts.
func (cn *h1Conn) write(b []byte) error {
	for len(b) > 0 {
		n, err := cn.nc.Write(b)
		b = b[n:]
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		if err := cn.expired(false); err != nil {
			return err
		}
	}
	return nil
}

// buildRequest lays out head, Content-Length and the body of r in cn.wbuf
// and returns the request's bytes: the body is encoded first, after room for
// the length, and the head is then copied in front of the length.
func (cn *h1Conn) buildRequest(tmpl *bodyTemplate, r *Request) []byte {
	head := cn.t.head
	off := len(head) + clRoom
	buf := cn.wbuf
	if cap(buf) < off+512 {
		buf = make([]byte, off, off+4096)
	}
	buf = tmpl.append(buf[:off], r)
	cn.wbuf = buf
	var num [20]byte
	digits := strconv.AppendInt(num[:0], int64(len(buf)-off), 10)
	start := off - 4 - len(digits) - len(head)
	copy(buf[start:], head)
	copy(buf[start+len(head):], digits)
	copy(buf[off-4:], "\r\n\r\n")
	return buf[start:]
}

// isClosedBeforeAnswer reports whether the first read of a response found
// the connection closed by the server.
func isClosedBeforeAnswer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// isStaleWrite reports whether a write failed because the server had closed
// the connection (it answered our bytes with RST).
func isStaleWrite(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET)
}

// closedUnanswered reports whether the server closed the reused connection
// cn before answering the request just written to it: the write failed
// (werr) with EPIPE or ECONNRESET, or it succeeded and the first read finds
// EOF or a reset. After a successful write it waits for the first response
// byte, which stays buffered for readHead.
func (cn *h1Conn) closedUnanswered(werr error) bool {
	if werr != nil {
		return isStaleWrite(werr)
	}
	_, err := cn.br.Peek(1)
	return err != nil && isClosedBeforeAnswer(err)
}

// resend closes old and writes msg (which lives in old.wbuf) on a freshly
// dialed connection in old's slot. It returns the new connection, or nil
// when the dial failed (the slot is then freed).
func (t *h1Transport) resend(ctx context.Context, old *h1Conn, msg []byte, start int64) (*h1Conn, error) {
	old.close()
	cn, err := t.dial(ctx)
	if err != nil {
		return nil, err
	}
	if !cn.watchCtx(ctx) {
		return cn, errInterrupted
	}
	cn.wbuf, old.wbuf = old.wbuf, cn.wbuf
	cn.begin(start)
	return cn, cn.write(msg)
}

// doH1 is Do over the h1 transport.
//
// Retries: a pooled connection idle for staleCheckAfter or longer is first
// checked with a non-blocking peek, and one the server has closed is
// replaced before anything is sent (that is not a resend). Then, with
// Config.RetryClosedConn, a request sent on a reused connection is sent once
// more on a freshly dialed connection when the server closed the reused one
// before the first byte of the answer: the write failed with EPIPE or
// ECONNRESET, or the first read found EOF or a reset. In the second case the
// server may have read, and even run, the first copy. Servers close
// kept-alive connections at will (llama-server after every streamed
// response), and counting that as a failed request would blame the server
// for the client's reuse; every resend is counted in Output.Retries so that
// the run reports it. A failure on a fresh connection, or after any response
// byte, is never retried.
func (c *Client) doH1(ctx context.Context, req *Request, obs Observer) (*event.Output, error) {
	if done := ctx.Done(); done != nil {
		select {
		case <-done:
			return &event.Output{}, &Error{Class: ClassCanceled, Err: ctx.Err()}
		default:
		}
	}
	t := c.h1
	start := monoNow()
	cn, err := t.acquire(ctx, start)
	if err != nil {
		return &event.Output{}, fail(ctx, ctx, &Error{Class: classify(err), Err: err})
	}
	msg := cn.buildRequest(c.tmpl, req)
	err = cn.write(msg)
	var retries int32
	if c.cfg.RetryClosedConn && cn.reused && cn.closedUnanswered(err) {
		retries = 1
		cn, err = t.resend(ctx, cn, msg, start)
	}
	if err != nil {
		if cn != nil {
			t.discard(cn)
		}
		return &event.Output{Retries: retries}, fail(ctx, ctx, &Error{Class: classify(err), Err: err})
	}
	cn.reused = true
	out, err := c.receive(ctx, cn, obs)
	out.Retries = retries
	return out, err
}

// receive reads the response to the request written on cn and gives the
// connection back. It always returns an Output, partial on failure.
func (c *Client) receive(ctx context.Context, cn *h1Conn, obs Observer) (*event.Output, error) {
	t := c.h1
	resp, err := cn.readHead()
	if err != nil {
		t.discard(cn)
		return &event.Output{}, fail(ctx, ctx, asError(err, 0))
	}
	b := &cn.body
	if resp.status < 200 || resp.status > 299 {
		e := statusError(resp.status, b)
		t.finish(cn)
		return &event.Output{}, fail(ctx, ctx, e)
	}
	if resp.encoding != "" {
		e := unsupportedEncoding(resp.status, resp.encoding)
		_, _ = io.CopyN(io.Discard, b, drainLimit)
		t.finish(cn)
		return &event.Output{}, e
	}
	st := getStream()
	defer putStream(st)
	var out *event.Output
	switch {
	case resp.sse:
		st.br.Reset(b)
		out, err = st.read(obs)
		if err == nil {
			// Read the rest (the chunked terminator) so the connection is reused.
			_, _ = st.br.Discard(drainLimit)
		}
	case b.mode == bodyLength && b.remain <= int64(cn.br.Size()):
		// The whole body fits the connection's buffer: decode it in place.
		var data []byte
		if data, err = cn.br.Peek(int(b.remain)); err == nil {
			out, err = st.decodeBody(data, resp.status)
			_, _ = cn.br.Discard(len(data))
			b.remain, b.done = 0, true
		} else {
			out = &event.Output{}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
		}
	default:
		out, err = st.readBodyFrom(b, resp.status)
	}
	t.finish(cn)
	if err != nil {
		return out, fail(ctx, ctx, asError(err, resp.status))
	}
	return out, nil
}

// asError returns err as an *Error, classifying it if it is not one, with
// status filled in when it has none.
func asError(err error, status int) *Error {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Class: classify(err), Err: err}
	}
	if e.Status == 0 {
		e.Status = status
	}
	return e
}

// acquire gets a connection for a request issued at start, tied to ctx and
// with its deadlines set (see begin). A connection idle for staleCheckAfter
// or longer is peeked at first, and replaced if the server closed it.
func (t *h1Transport) acquire(ctx context.Context, start int64) (*h1Conn, error) {
	for {
		cn, err := t.get(ctx, start)
		if err != nil {
			return nil, err
		}
		if !cn.watchCtx(ctx) {
			t.discard(cn) // interrupted by another request's context: unusable
			continue
		}
		cn.begin(start) // before the peek, which fails on a passed deadline
		if cn.reused && (start-cn.idleAt >= int64(staleCheckAfter) || cn.body.mode == bodyChunked) && cn.closedByPeer() {
			t.discard(cn)
			continue
		}
		return cn, nil
	}
}

// finish returns the connection to the pool if its response was read to the
// end and allows keep-alive, else closes it.
func (t *h1Transport) finish(cn *h1Conn) {
	if cn.body.done && cn.keep && !cn.interrupted.Load() {
		t.put(cn)
	} else {
		t.discard(cn)
	}
}
