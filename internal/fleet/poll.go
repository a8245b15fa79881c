package fleet

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// poller receives from a ZeroMQ socket, waiting for messages in Go's
// network poller instead of inside libzmq.
//
// Why: a receive that blocks in libzmq (a receive timeout) is a cgo call
// holding its thread; the Go runtime's monitor retakes the thread's P
// from every such call and, seeing work to retake, keeps polling every
// 20 µs. A worker and the coordinator each have a loop that waits this
// way all run long, which cost them 5-10% of their CPU (perf: runtime.sysmon,
// usleep, futex wakeups, thread switches). Waiting on the socket's
// ZMQ_FD in the network poller costs nothing while idle.
//
// ZMQ_FD is edge-triggered and says only that the socket's state may have
// changed: after each wake-up the socket is asked (ZMQ_EVENTS) whether a
// message is ready, and a receive is always tried without waiting first,
// so a message whose signal was consumed by an earlier call (a send on
// the same socket processes its commands too) is never left waiting.
type poller struct {
	sock *zmq.Socket
	f    *os.File // a duplicate of ZMQ_FD, closed by close
	rc   syscall.RawConn
}

// errTimeout is what poller.recv returns when nothing arrived in time.
var errTimeout = zmq.Errno(syscall.EAGAIN)

// newPoller prepares a socket for recv. The socket must stay open until
// the poller is closed, and only the poller's goroutine may use it.
func newPoller(s *zmq.Socket) (*poller, error) {
	fd, err := s.GetFd()
	if err != nil {
		return nil, fmt.Errorf("fleet: socket descriptor: %w", err)
	}
	// A duplicate: closing the file must not close libzmq's descriptor.
	dup, err := syscall.Dup(fd)
	if err != nil {
		return nil, fmt.Errorf("fleet: socket descriptor: %w", err)
	}
	syscall.CloseOnExec(dup)
	if err := syscall.SetNonblock(dup, true); err != nil {
		_ = syscall.Close(dup)
		return nil, fmt.Errorf("fleet: socket descriptor: %w", err)
	}
	f := os.NewFile(uintptr(dup), "zmq")
	rc, err := f.SyscallConn()
	if err == nil {
		// Deadlines work only on a descriptor in the network poller.
		err = f.SetReadDeadline(time.Time{})
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("fleet: socket descriptor: %w", err)
	}
	return &poller{sock: s, f: f, rc: rc}, nil
}

// recv returns the next message, waiting at most d for it; errTimeout
// when none came, or the socket's error.
func (p *poller) recv(d time.Duration) ([][]byte, error) {
	deadline := time.Now().Add(d)
	for {
		parts, err := p.sock.RecvMessageBytes(zmq.DONTWAIT)
		if err == nil || zmq.AsErrno(err) != errTimeout {
			return parts, err
		}
		if !time.Now().Before(deadline) {
			return nil, errTimeout
		}
		if err := p.f.SetReadDeadline(deadline); err != nil {
			return nil, err
		}
		var evErr error
		err = p.rc.Read(func(uintptr) bool {
			ev, e := p.sock.GetEvents()
			if e != nil {
				evErr = e
				return true
			}
			return ev&zmq.POLLIN != 0
		})
		switch {
		case evErr != nil:
			return nil, evErr
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, errTimeout
		case err != nil:
			return nil, err
		}
	}
}

// close releases the duplicate descriptor (not the socket).
func (p *poller) close() { _ = p.f.Close() }
