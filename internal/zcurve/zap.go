package zcurve

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	zmq "github.com/pebbe/zmq4"
)

// zapEndpoint is where libzmq sends ZAP requests (RFC 27); one handler per
// ZeroMQ context, and every socket of this process shares pebbe's default
// context.
const zapEndpoint = "inproc://zeromq.zap.01"

// domainPrefix starts the ZAP domain of every socket ApplyServer configures.
const domainPrefix = "inferbench-curve-"

// Refusal describes one peer a CURVE server refused.
type Refusal struct {
	// Peer is the peer's address: its IP from a ZAP request (a refused
	// key), or IP:port for a failed handshake. libzmq's monitor names only
	// the local endpoint of a failed handshake, so that address is read by
	// the connection's descriptor when its accept event arrives: best
	// effort, "unknown (...)" when libzmq had closed it already.
	Peer string
	// Endpoint is the refusing socket's local endpoint, when known.
	Endpoint string
	// Key is the peer's public key (Z85) when it was refused for it.
	Key string
	// Reason says why, in words.
	Reason string
}

// zap is the process's ZAP handler. libzmq allows one per context, and
// pebbe/zmq4's own (zmq.AuthStart) keeps its allow-lists in maps without
// locks and cannot report a refusal to the program; this one keeps one
// allow-list per ZAP domain under a mutex and reports every refusal. Do not
// call zmq.AuthStart in a process that uses this package.
var zap struct {
	once sync.Once
	err  error

	mu      sync.Mutex
	domains map[string]map[string]bool // domain → allowed Z85 public keys
	// monitored holds the server sockets with a live monitor goroutine.
	monitored map[*zmq.Socket]bool
	monitorN  int
}

var (
	// zapGone is set when the handler ended (the ZeroMQ context was
	// terminated): a CURVE server without a ZAP handler would admit any
	// client key, so ApplyServer refuses to configure one from then on.
	zapGone  atomic.Bool
	refusals atomic.Uint64
	hook     atomic.Pointer[func(Refusal)]
	logger   atomic.Pointer[slog.Logger]
)

// Refused returns how many peers CURVE servers of this process refused.
// Safe for concurrent use.
func Refused() uint64 { return refusals.Load() }

// SetRefusalHook makes f be called (from a handler goroutine; it must not
// block) for every refusal, after it is logged and counted; nil removes
// it. It returns the previous hook. Safe for concurrent use.
func SetRefusalHook(f func(Refusal)) (previous func(Refusal)) {
	var p *func(Refusal)
	if f != nil {
		p = &f
	}
	if old := hook.Swap(p); old != nil {
		return *old
	}
	return nil
}

// SetLogger sets where refusals are logged (default: slog.Default() at the
// time of each refusal). Safe for concurrent use.
func SetLogger(l *slog.Logger) { logger.Store(l) }

func logr() *slog.Logger {
	if l := logger.Load(); l != nil {
		return l
	}
	return slog.Default()
}

// refuse logs, counts and reports one refusal.
func refuse(r Refusal) {
	refusals.Add(1)
	attrs := []any{"peer", r.Peer, "reason", r.Reason}
	if r.Endpoint != "" {
		attrs = append(attrs, "endpoint", r.Endpoint)
	}
	if r.Key != "" {
		attrs = append(attrs, "key", r.Key)
	}
	logr().Warn("zcurve: refused a peer", attrs...)
	if f := hook.Load(); f != nil {
		(*f)(r)
	}
}

// startZAP binds the handler once per process.
func startZAP() error {
	zap.once.Do(func() {
		zap.domains = map[string]map[string]bool{}
		zap.monitored = map[*zmq.Socket]bool{}
		rep, err := zmq.NewSocket(zmq.REP)
		if err != nil {
			zap.err = fmt.Errorf("zcurve: ZAP handler: %w", err)
			return
		}
		_ = rep.SetLinger(0)
		if err := rep.Bind(zapEndpoint); err != nil {
			rep.Close()
			zap.err = fmt.Errorf("zcurve: ZAP handler: bind %s: %w (was zmq.AuthStart called?)", zapEndpoint, err)
			return
		}
		go serveZAP(rep)
	})
	if zap.err == nil && zapGone.Load() {
		return errors.New("zcurve: the ZAP handler has stopped (ZeroMQ context terminated): no allow-list can be enforced")
	}
	return zap.err
}

// serveZAP answers ZAP requests for the life of the process. A request is
// [version, request id, domain, address, identity, mechanism,
// credentials...]; the reply is [version, request id, status code, status
// text, user id, metadata].
func serveZAP(rep *zmq.Socket) {
	defer zapGone.Store(true)
	for {
		msg, err := rep.RecvMessageBytes(0)
		if err != nil {
			if zmq.AsErrno(err) == zmq.ETERM {
				rep.Close()
				return
			}
			continue
		}
		var version, id []byte
		if len(msg) >= 2 {
			version, id = msg[0], msg[1]
		}
		code, text := decide(msg)
		if _, err := rep.SendMessage(version, id, code, text, "", ""); err != nil && zmq.AsErrno(err) == zmq.ETERM {
			rep.Close()
			return
		}
	}
}

// decide answers one ZAP request. Sockets this package configured (their
// domain has our prefix) need a CURVE key on their allow-list. Other
// sockets of the process get classic ZeroMQ behaviour: NULL is allowed
// (a ZAP handler's mere presence must not break the plain sockets of the
// bus), anything else is denied, as there is no policy for it.
func decide(msg [][]byte) (code, text string) {
	if len(msg) < 6 || string(msg[0]) != "1.0" {
		return "500", "malformed ZAP request"
	}
	domain, address, mechanism := string(msg[2]), string(msg[3]), string(msg[5])
	zap.mu.Lock()
	allow, ours := zap.domains[domain]
	var ok bool
	var key string
	if mechanism == "CURVE" && len(msg) >= 7 && len(msg[6]) == 32 {
		key = encodeZ85(msg[6])
		ok = allow[key]
	}
	zap.mu.Unlock()
	if !ours && !strings.HasPrefix(domain, domainPrefix) {
		if mechanism == "NULL" {
			return "200", "OK"
		}
		return "400", "no policy"
	}
	if ok {
		return "200", "OK"
	}
	reason := "public key not on the allow-list"
	if mechanism != "CURVE" {
		reason = "mechanism " + mechanism + " instead of CURVE"
	}
	refuse(Refusal{Peer: address, Key: key, Reason: reason})
	return "400", "NO ACCESS"
}

// domainFor names the ZAP domain of an allow-list after its content, so
// that sockets with equal lists share one entry and calling ApplyServer
// again changes nothing.
func domainFor(allow []string) string {
	h := sha256.New()
	for _, k := range allow {
		h.Write([]byte(k))
		h.Write([]byte{0})
	}
	return domainPrefix + hex.EncodeToString(h.Sum(nil)[:12])
}

// ApplyServer makes s a CURVE server with key pair self that accepts only
// clients whose public key is in allow. Call it before s binds. It is
// idempotent and safe for several sockets (each allow-list gets its own
// ZAP domain). Every refused peer (unknown key, a peer without CURVE, a
// failed handshake) is logged at warning level with its address, counted
// in [Refused] and passed to the [SetRefusalHook] hook. Safe for
// concurrent use with other sockets; s itself belongs to the caller's
// goroutine, like every ZeroMQ socket.
func ApplyServer(s *zmq.Socket, self KeyPair, allow []string) error {
	if !zmq.HasCurve() {
		return ErrNoCurve
	}
	if _, err := ParseKey(self.Secret); err != nil {
		return fmt.Errorf("zcurve: server secret key: %w", err)
	}
	if len(allow) == 0 {
		return errors.New("zcurve: empty allow-list: every client would be refused (put the workers' public keys in allowed/)")
	}
	set := make(map[string]bool, len(allow))
	for i, k := range allow {
		if _, err := ParseKey(k); err != nil {
			return fmt.Errorf("zcurve: allowed key %d: %w", i+1, err)
		}
		set[k] = true
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if err := startZAP(); err != nil {
		return err
	}
	domain := domainFor(keys)
	zap.mu.Lock()
	zap.domains[domain] = set
	zap.mu.Unlock()
	if err := s.SetCurveServer(1); err != nil {
		return fmt.Errorf("zcurve: CURVE server: %w", err)
	}
	if err := s.SetCurveSecretkey(self.Secret); err != nil {
		return fmt.Errorf("zcurve: CURVE secret key: %w", err)
	}
	if err := s.SetZapDomain(domain); err != nil {
		return fmt.Errorf("zcurve: ZAP domain: %w", err)
	}
	return monitor(s)
}

// monitorEvents are what the monitor of a server socket listens for.
const monitorEvents = zmq.EVENT_ACCEPTED | zmq.EVENT_DISCONNECTED | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL |
	zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_MONITOR_STOPPED

// monitor starts, once per socket, a goroutine that reports handshakes that
// fail before ZAP is asked: a peer without CURVE (a mechanism mismatch), a
// client holding the wrong server key, a peer that hangs up mid-handshake.
func monitor(s *zmq.Socket) error {
	zap.mu.Lock()
	if zap.monitored[s] {
		zap.mu.Unlock()
		return nil
	}
	zap.monitorN++
	addr := fmt.Sprintf("inproc://zcurve-monitor-%d", zap.monitorN)
	zap.monitored[s] = true
	zap.mu.Unlock()
	fail := func(err error) error {
		zap.mu.Lock()
		delete(zap.monitored, s)
		zap.mu.Unlock()
		return fmt.Errorf("zcurve: socket monitor: %w", err)
	}
	if err := s.Monitor(addr, monitorEvents); err != nil {
		return fail(err)
	}
	pair, err := zmq.NewSocket(zmq.PAIR)
	if err != nil {
		return fail(err)
	}
	if err := pair.Connect(addr); err != nil {
		pair.Close()
		return fail(err)
	}
	go watch(s, pair)
	return nil
}

// watch reads monitor events until the socket closes. libzmq reports a
// failed handshake with the local endpoint only, then the disconnection of
// the same connection's file descriptor (one engine emits both, back to
// back); so the peer's address is taken at accept time, by descriptor, and
// a failure is reported at the disconnection that follows it.
func watch(s *zmq.Socket, pair *zmq.Socket) {
	defer func() {
		pair.Close()
		zap.mu.Lock()
		delete(zap.monitored, s)
		zap.mu.Unlock()
	}()
	peers := map[int]string{}
	var pending Refusal
	for {
		ev, endpoint, value, err := pair.RecvEvent(0)
		if err != nil {
			if zmq.AsErrno(err) == zmq.ETERM {
				return
			}
			continue
		}
		switch ev {
		case zmq.EVENT_MONITOR_STOPPED:
			return
		case zmq.EVENT_ACCEPTED:
			if len(peers) < 1<<16 { // bounded: a flood of half-open peers cannot grow it forever
				peers[value] = peerName(value)
			}
		case zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
			pending = Refusal{Endpoint: endpoint, Reason: protocolReason(value)}
		case zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
			pending = Refusal{Endpoint: endpoint, Reason: "handshake failed: connection lost or not ZeroMQ"}
		case zmq.EVENT_HANDSHAKE_FAILED_AUTH:
			pending = Refusal{} // the ZAP handler has reported it, with the key
		case zmq.EVENT_DISCONNECTED:
			if pending.Reason != "" {
				pending.Peer = peers[value]
				if pending.Peer == "" {
					// The connection closed before the accept event was read.
					pending.Peer = "unknown (gone before its address was read)"
				}
				refuse(pending)
			}
			pending = Refusal{}
			delete(peers, value)
		}
	}
}

// libzmq's protocol error codes (zmq.h ZMQ_PROTOCOL_ERROR_ZMTP_*) that
// name the usual causes.
const (
	protoCryptographic     = 0x11000001
	protoMechanismMismatch = 0x11000002
)

// protocolReason words a handshake protocol error.
func protocolReason(code int) string {
	switch code {
	case protoMechanismMismatch:
		return "handshake failed: the peer does not use CURVE (plain TCP)"
	case protoCryptographic:
		return "handshake failed: CURVE did not decrypt (the client holds a wrong server public key)"
	}
	return fmt.Sprintf("handshake failed: ZMTP protocol error %#x", code)
}

// peerName returns the remote address of an accepted descriptor, "" when
// it is already gone.
func peerName(fd int) string {
	sa, err := syscall.Getpeername(fd)
	if err != nil {
		return ""
	}
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), fmt.Sprint(a.Port))
	case *syscall.SockaddrInet6:
		return net.JoinHostPort(net.IP(a.Addr[:]).String(), fmt.Sprint(a.Port))
	}
	return ""
}

// ApplyClient makes s a CURVE client with key pair self that talks only to
// a server holding the secret half of serverPublic. Call it before s
// connects.
func ApplyClient(s *zmq.Socket, self KeyPair, serverPublic string) error {
	if !zmq.HasCurve() {
		return ErrNoCurve
	}
	for _, k := range []struct{ name, key string }{{"server public key", serverPublic}, {"client public key", self.Public}, {"client secret key", self.Secret}} {
		if _, err := ParseKey(k.key); err != nil {
			return fmt.Errorf("zcurve: %s: %w", k.name, err)
		}
	}
	if err := s.SetCurveServerkey(serverPublic); err != nil {
		return fmt.Errorf("zcurve: CURVE server key: %w", err)
	}
	if err := s.SetCurvePublickey(self.Public); err != nil {
		return fmt.Errorf("zcurve: CURVE public key: %w", err)
	}
	if err := s.SetCurveSecretkey(self.Secret); err != nil {
		return fmt.Errorf("zcurve: CURVE secret key: %w", err)
	}
	return nil
}
