//go:build linux

package netnstest

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// chunkSize bounds one read of the proxy, and queueChunks how many chunks
// one direction holds in flight: a slow reader stalls the proxy's reads
// (TCP backpressure) instead of growing memory.
const (
	chunkSize   = 64 << 10
	queueChunks = 1024
)

// Proxy is a TCP proxy that holds every chunk it reads for a fixed delay
// before writing it on, in both directions and in order: a link of that
// one-way latency (round trip twice the delay) without tc netem. Delays
// overlap, so the throughput is not limited by the delay.
type Proxy struct {
	ln    net.Listener
	dial  func() (net.Conn, error)
	delay time.Duration

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewProxy serves ln: every connection accepted is joined to one dial
// returns, each byte delayed by delay each way. Close stops it.
func NewProxy(ln net.Listener, delay time.Duration, dial func() (net.Conn, error)) *Proxy {
	p := &Proxy{ln: ln, dial: dial, delay: delay, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	return p
}

// Addr is where the proxy listens.
func (p *Proxy) Addr() net.Addr { return p.ln.Addr() }

// Close stops accepting, cuts every connection and waits for the
// goroutines.
func (p *Proxy) Close() error {
	err := p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// track registers a connection to cut at Close; false when closing.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		if !p.track(in) {
			_ = in.Close()
			return
		}
		p.wg.Add(1)
		go p.join(in)
	}
}

// join dials the target for one accepted connection and pumps both ways.
func (p *Proxy) join(in net.Conn) {
	defer p.wg.Done()
	defer p.untrack(in)
	defer in.Close()
	out, err := p.dial()
	if err != nil {
		return
	}
	if !p.track(out) {
		_ = out.Close()
		return
	}
	defer p.untrack(out)
	defer out.Close()
	var both sync.WaitGroup
	both.Add(2)
	go func() { defer both.Done(); p.pump(out, in) }()
	go func() { defer both.Done(); p.pump(in, out) }()
	both.Wait()
}

// chunk is bytes read and the time they may be written.
type chunk struct {
	b   []byte
	due time.Time
}

// pump copies src to dst, each chunk delayed; at the end of src it
// half-closes dst (after the delayed bytes), and on a write error it cuts
// both.
func (p *Proxy) pump(dst, src net.Conn) {
	q := make(chan chunk, queueChunks)
	go func() {
		defer close(q)
		buf := make([]byte, chunkSize)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{b: append([]byte(nil), buf[:n]...), due: time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if w := time.Until(c.due); w > 0 {
			time.Sleep(w)
		}
		if _, err := dst.Write(c.b); err != nil {
			_ = src.Close()
			_ = dst.Close()
			for range q { // let the reader end
			}
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		_ = dst.Close()
	}
}

// Proxy starts a proxy listening on the node's address (a free port) that
// forwards to target (host:port), dialled from inside the node, with delay
// each way; it is closed when the test ends.
func (nd *Node) Proxy(t testing.TB, target string, delay time.Duration) *Proxy {
	t.Helper()
	ln, err := nd.Listen("tcp", net.JoinHostPort(nd.IP, "0"))
	if err != nil {
		t.Fatalf("netnstest: proxy in %s: %v", nd.Name, err)
	}
	p := NewProxy(ln, delay, func() (net.Conn, error) { return nd.Dial("tcp", target, 10*time.Second) })
	t.Cleanup(func() { _ = p.Close() })
	return p
}
