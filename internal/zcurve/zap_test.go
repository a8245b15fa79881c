package zcurve_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/inferbench/inferbench/internal/zcurve"
)

// refusals collects the refusals reported while a test runs. The hook is
// process-wide, so the tests that use it do not run in parallel.
func refusals(t *testing.T) <-chan zcurve.Refusal {
	t.Helper()
	ch := make(chan zcurve.Refusal, 16)
	prev := zcurve.SetRefusalHook(func(r zcurve.Refusal) {
		select {
		case ch <- r:
		default:
		}
	})
	t.Cleanup(func() { zcurve.SetRefusalHook(prev) })
	return ch
}

func genKey(t *testing.T) zcurve.KeyPair {
	t.Helper()
	kp, err := zcurve.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// server binds a CURVE PULL socket on 127.0.0.1 and returns its endpoint.
func server(t *testing.T, self zcurve.KeyPair, allow []string) (*zmq.Socket, string) {
	t.Helper()
	s, err := zmq.NewSocket(zmq.PULL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	_ = s.SetLinger(0)
	if err := zcurve.ApplyServer(s, self, allow); err != nil {
		t.Fatal(err)
	}
	// A second call must change nothing (a coordinator applies it to both
	// of its sockets, and may reapply).
	if err := zcurve.ApplyServer(s, self, allow); err != nil {
		t.Fatalf("ApplyServer again: %v", err)
	}
	if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	ep, err := s.GetLastEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	return s, ep
}

// client connects a PUSH socket to ep; with server == "" it stays plain
// (the NULL mechanism).
func client(t *testing.T, ep string, self zcurve.KeyPair, serverPub string) *zmq.Socket {
	t.Helper()
	c, err := zmq.NewSocket(zmq.PUSH)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetLinger(0)
	if serverPub != "" {
		if err := zcurve.ApplyClient(c, self, serverPub); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Connect(ep); err != nil {
		t.Fatal(err)
	}
	return c
}

// recv waits up to d for one message.
func recv(t *testing.T, s *zmq.Socket, d time.Duration) (string, bool) {
	t.Helper()
	p := zmq.NewPoller()
	p.Add(s, zmq.POLLIN)
	got, err := p.Poll(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return "", false
	}
	m, err := s.Recv(0)
	if err != nil {
		t.Fatal(err)
	}
	return m, true
}

func TestApplyServer_AllowedClientTalks(t *testing.T) {
	srvKey, cliKey, other := genKey(t), genKey(t), genKey(t)
	srv, ep := server(t, srvKey, []string{other.Public, cliKey.Public})
	c := client(t, ep, cliKey, srvKey.Public)
	before := zcurve.Refused()
	// A connecting PUSH queues the message until the handshake completes.
	if _, err := c.Send("hello over curve", 0); err != nil {
		t.Fatal(err)
	}
	m, ok := recv(t, srv, 10*time.Second)
	if !ok || m != "hello over curve" {
		t.Fatalf("allowed client: got %q, %v", m, ok)
	}
	if n := zcurve.Refused() - before; n != 0 {
		t.Errorf("%d refusals for an allowed client", n)
	}
}

// peerNamed: a handshake refusal names the peer's IP:port, or says it is
// unknown when libzmq closed the connection before the monitor goroutine
// read its accept event (libzmq's monitor names only the local endpoint).
func peerNamed(r zcurve.Refusal) bool {
	return strings.HasPrefix(r.Peer, "127.0.0.1:") || strings.HasPrefix(r.Peer, "unknown")
}

func TestApplyServer_Refusals(t *testing.T) {
	srvKey, allowed, unknown := genKey(t), genKey(t), genKey(t)
	for _, tc := range []struct {
		name   string
		self   zcurve.KeyPair
		server string // the server key the client believes in; "" = no CURVE
		check  func(r zcurve.Refusal) bool
	}{
		{"unknown key", unknown, srvKey.Public, func(r zcurve.Refusal) bool {
			return r.Key == unknown.Public && r.Peer == "127.0.0.1" && strings.Contains(r.Reason, "allow-list")
		}},
		{"plain TCP peer (no CURVE)", zcurve.KeyPair{}, "", func(r zcurve.Refusal) bool {
			return peerNamed(r) && strings.Contains(r.Reason, "does not use CURVE")
		}},
		{"wrong server key", allowed, unknown.Public, func(r zcurve.Refusal) bool {
			return peerNamed(r) && strings.Contains(r.Reason, "wrong server public key")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := refusals(t)
			srv, ep := server(t, srvKey, []string{allowed.Public})
			before := zcurve.Refused()
			c := client(t, ep, tc.self, tc.server)
			// Queued: PUSH holds it until a handshake succeeds, which must
			// never happen.
			if _, err := c.Send("must not arrive", zmq.DONTWAIT); err != nil {
				t.Logf("send: %v", err)
			}
			deadline := time.After(10 * time.Second)
			var seen []zcurve.Refusal
		wait:
			for {
				select {
				case r := <-got:
					seen = append(seen, r)
					if tc.check(r) {
						break wait
					}
				case <-deadline:
					t.Fatalf("no matching refusal within 10s; saw %+v", seen)
				}
			}
			if zcurve.Refused() <= before {
				t.Error("Refused() did not count it")
			}
			if m, ok := recv(t, srv, 500*time.Millisecond); ok {
				t.Fatalf("a refused peer's message reached the server: %q", m)
			}
		})
	}
}

func TestApplyServer_RawTCPGarbageNeverDelivers(t *testing.T) {
	srvKey, allowed := genKey(t), genKey(t)
	srv, ep := server(t, srvKey, []string{allowed.Public})
	conn, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A ZMTP 3.0 greeting asking for NULL, then a message frame.
	greet := append([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 0}, []byte("NULL")...)
	greet = append(greet, make([]byte, 64-len(greet))...)
	_, _ = conn.Write(greet)
	_, _ = conn.Write([]byte{0, 15, 'm', 'u', 's', 't', ' ', 'n', 'o', 't', ' ', 'a', 'r', 'r', 'i', 'v', 'e'})
	if m, ok := recv(t, srv, 500*time.Millisecond); ok {
		t.Fatalf("a plain peer's frame reached the server: %q", m)
	}
}

// relay forwards TCP between a listener on 127.0.0.1 and target, and
// records every byte either way.
type relay struct {
	ln  net.Listener
	mu  sync.Mutex
	buf bytes.Buffer
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			pipe := func(dst, src net.Conn) {
				defer dst.Close()
				_, _ = io.Copy(io.MultiWriter(r, dst), src) // record before delivering
			}
			go pipe(out, in)
			go pipe(in, out)
		}
	}()
	return r
}

func (r *relay) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.Write(p)
}

func (r *relay) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.buf.Bytes())
}

// TestCurve_PlaintextNotOnWire sends a fake API key through a recording
// relay: with CURVE it must not appear in the bytes; without CURVE (the
// control, which shows the relay does see the traffic) it must. The control
// runs second, with the ZAP handler running: it also shows that plain
// sockets elsewhere in the process (the bus's) keep working.
func TestCurve_PlaintextNotOnWire(t *testing.T) {
	const secret = "Authorization: Bearer sk-inferbench-FAKE-0123456789abcdef"
	for _, curve := range []bool{true, false} {
		name := map[bool]string{true: "curve", false: "plain control"}[curve]
		t.Run(name, func(t *testing.T) {
			srvKey, cliKey := genKey(t), genKey(t)
			var srv *zmq.Socket
			var ep string
			if curve {
				srv, ep = server(t, srvKey, []string{cliKey.Public})
			} else {
				s, err := zmq.NewSocket(zmq.PULL)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				_ = s.SetLinger(0)
				if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
					t.Fatal(err)
				}
				srv = s
				ep, _ = s.GetLastEndpoint()
			}
			r := newRelay(t, strings.TrimPrefix(ep, "tcp://"))
			serverPub := ""
			if curve {
				serverPub = srvKey.Public
			}
			c := client(t, "tcp://"+r.ln.Addr().String(), cliKey, serverPub)
			if _, err := c.Send(secret, 0); err != nil {
				t.Fatal(err)
			}
			m, ok := recv(t, srv, 10*time.Second)
			if !ok || m != secret {
				t.Fatalf("server got %q, %v", m, ok)
			}
			wire := r.bytes()
			if len(wire) == 0 {
				t.Fatal("the relay recorded nothing")
			}
			leaked := bytes.Contains(wire, []byte("sk-inferbench-FAKE"))
			if curve && leaked {
				t.Fatalf("the API key is readable on the wire with CURVE on (%d bytes recorded)", len(wire))
			}
			if !curve && !leaked {
				t.Fatalf("control: the plaintext run's %d bytes should show the key; the relay does not record", len(wire))
			}
		})
	}
}

func TestApplyServer_BadInput(t *testing.T) {
	s, err := zmq.NewSocket(zmq.PULL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	kp := genKey(t)
	if err := zcurve.ApplyServer(s, kp, nil); err == nil || !strings.Contains(err.Error(), "allow-list") {
		t.Errorf("empty allow-list: %v", err)
	}
	if err := zcurve.ApplyServer(s, kp, []string{"short"}); err == nil || !strings.Contains(err.Error(), "allowed key 1") {
		t.Errorf("bad allowed key: %v", err)
	}
	if err := zcurve.ApplyServer(s, zcurve.KeyPair{Secret: "x"}, []string{kp.Public}); err == nil {
		t.Error("bad secret key accepted")
	}
	if err := zcurve.ApplyClient(s, kp, "not a key"); err == nil || !strings.Contains(err.Error(), "server public key") {
		t.Errorf("bad server key: %v", err)
	}
}

// TestApplyServer_SocketsKeepTheirOwnAllowLists: the ZAP handler is one
// per process, yet two servers with different allow-lists (configured
// concurrently) each admit only their own clients.
func TestApplyServer_SocketsKeepTheirOwnAllowLists(t *testing.T) {
	got := refusals(t)
	srvKey, a, b := genKey(t), genKey(t), genKey(t)
	type bound struct {
		s  *zmq.Socket
		ep string
	}
	results := make(chan bound, 2)
	for _, allow := range [][]string{{a.Public}, {b.Public}} {
		go func() {
			// Sockets are created and configured on this goroutine; the test
			// goroutine reads them only after the channel hands them over.
			s, err := zmq.NewSocket(zmq.PULL)
			if err != nil {
				t.Error(err)
				results <- bound{}
				return
			}
			_ = s.SetLinger(0)
			if err := zcurve.ApplyServer(s, srvKey, allow); err != nil {
				t.Error(err)
			}
			if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
				t.Error(err)
			}
			ep, _ := s.GetLastEndpoint()
			results <- bound{s, ep}
		}()
	}
	// Order the two by which key they admit: try a on both.
	srv := []bound{<-results, <-results}
	for _, s := range srv {
		if s.s == nil {
			t.FailNow()
		}
		t.Cleanup(func() { s.s.Close() })
	}
	delivered := 0
	for _, s := range srv {
		c := client(t, s.ep, a, srvKey.Public)
		if _, err := c.Send("from a", 0); err != nil {
			t.Fatal(err)
		}
		if _, ok := recv(t, s.s, 3*time.Second); ok {
			delivered++
		}
	}
	if delivered != 1 {
		t.Fatalf("client a got through to %d of the 2 servers, want exactly 1 (its own)", delivered)
	}
	select {
	case r := <-got:
		if r.Key != a.Public {
			t.Errorf("refusal %+v: want client a's key", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server that does not list a did not report refusing it")
	}
}
