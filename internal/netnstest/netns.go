//go:build linux

// Package netnstest builds throwaway networks of "hosts" on one Linux
// machine for tests: one network namespace per host, each with its own
// private address on a bridge, plus a TCP proxy that delays every chunk (the
// kernels of our CI machines have no tc netem). A test runs real processes
// inside a host with [Node.Command] and Go sockets with [Node.Listen] and
// [Node.Dial], so a fleet of inferbench processes can talk across real
// (virtual) interfaces instead of loopback.
//
// Creating namespaces needs root (CAP_SYS_ADMIN), as in CI; elsewhere [New]
// skips the test and says why. Everything is removed when the test ends,
// also when it fails, and namespaces left by a killed earlier run are
// removed the next time.
package netnstest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Subnet is the private /24 of every network this package builds; node i
// (0-based, in the order given to New) gets the address Subnet.(i+1). Each
// network has its own bridge in its own namespace, so concurrent networks
// (parallel tests, or two test binaries) reuse the addresses without
// meeting.
const Subnet = "10.213.0"

// namePrefix starts every namespace this package creates, followed by the
// creating process's pid, so leftovers of dead processes can be recognised.
const namePrefix = "ibt"

// maxNodes bounds a network (addresses .1 to .250).
const maxNodes = 250

// seq tells apart the networks one process builds.
var seq atomic.Int64

// Net is a bridge joining a set of nodes, each a network namespace.
type Net struct {
	hub   string // the namespace holding the bridge
	nodes []*Node
}

// Node is one host of a Net: a network namespace with the interface eth0
// (address IP/24 on the bridge) and loopback up.
type Node struct {
	Name string // as given to New
	NS   string // the namespace's name (ip netns list)
	IP   string // its address on the bridge, e.g. 10.213.0.2
}

// New builds a network of one namespace per name, joined by a bridge, and
// deletes it when the test ends. Without the privilege to create network
// namespaces it skips the test, saying why.
func New(t testing.TB, names ...string) *Net {
	t.Helper()
	if len(names) == 0 || len(names) > maxNodes {
		t.Fatalf("netnstest: %d nodes: want 1 to %d", len(names), maxNodes)
	}
	if os.Geteuid() != 0 {
		t.Skip("netnstest: creating network namespaces needs root (CAP_SYS_ADMIN); CI runs these tests as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("netnstest: the ip command (iproute2) is required: %v", err)
	}
	removeLeftovers(t)
	id := fmt.Sprintf("%s%d-%d", namePrefix, os.Getpid(), seq.Add(1))
	n := &Net{hub: id + "-hub"}
	if out, err := exec.Command("ip", "netns", "add", n.hub).CombinedOutput(); err != nil {
		if bytes.Contains(out, []byte("Operation not permitted")) {
			t.Skipf("netnstest: root but cannot create a network namespace (no CAP_SYS_ADMIN in this container?): %s", bytes.TrimSpace(out))
		}
		t.Fatalf("netnstest: ip netns add %s: %v: %s", n.hub, err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { deleteNS(t, n.hub) })
	run(t, "ip", "-n", n.hub, "link", "set", "lo", "up")
	run(t, "ip", "-n", n.hub, "link", "add", "br0", "type", "bridge")
	run(t, "ip", "-n", n.hub, "link", "set", "br0", "up")
	seen := map[string]bool{}
	for i, name := range names {
		if seen[name] || name == "" || name == "hub" || strings.ContainsAny(name, "/ \t") {
			t.Fatalf("netnstest: node name %q: want distinct simple names other than hub", name)
		}
		seen[name] = true
		nd := &Node{Name: name, NS: id + "-" + name, IP: fmt.Sprintf("%s.%d", Subnet, i+1)}
		run(t, "ip", "netns", "add", nd.NS)
		t.Cleanup(func() { deleteNS(t, nd.NS) })
		// The bridge end lives in the hub, the host end is eth0 in the
		// node: the root namespace never sees either.
		port := fmt.Sprintf("p%d", i)
		run(t, "ip", "-n", n.hub, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", nd.NS)
		run(t, "ip", "-n", n.hub, "link", "set", port, "master", "br0")
		run(t, "ip", "-n", n.hub, "link", "set", port, "up")
		run(t, "ip", "-n", nd.NS, "addr", "add", nd.IP+"/24", "dev", "eth0")
		run(t, "ip", "-n", nd.NS, "link", "set", "eth0", "up")
		run(t, "ip", "-n", nd.NS, "link", "set", "lo", "up")
		n.nodes = append(n.nodes, nd)
	}
	return n
}

// Node returns the node of that name; it fails the test if there is none.
func (n *Net) Node(t testing.TB, name string) *Node {
	t.Helper()
	for _, nd := range n.nodes {
		if nd.Name == name {
			return nd
		}
	}
	t.Fatalf("netnstest: no node %q", name)
	return nil
}

// Nodes returns the nodes in the order given to New.
func (n *Net) Nodes() []*Node { return append([]*Node(nil), n.nodes...) }

// Command returns a command that runs name with args inside the node's
// namespace (through `ip netns exec`, which execs it: the process's pid is
// the command's, so signals reach it directly).
func (nd *Node) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", nd.NS, name}, args...)...)
}

// Listen announces on the local network address inside the node's
// namespace; the listener works from any goroutine afterwards (a socket
// belongs to the namespace it was created in).
func (nd *Node) Listen(network, address string) (net.Listener, error) {
	var ln net.Listener
	err := nd.Do(func() error {
		var err error
		ln, err = net.Listen(network, address)
		return err
	})
	return ln, err
}

// Dial connects from inside the node's namespace.
func (nd *Node) Dial(network, address string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := nd.Do(func() error {
		var err error
		c, err = net.DialTimeout(network, address, timeout)
		return err
	})
	return c, err
}

// Do runs f on an OS thread that has entered the node's namespace, so the
// sockets f creates belong to the node. f must not start goroutines that
// create sockets (they may run on other threads, in the test's namespace).
func (nd *Node) Do(f func() error) error {
	target, err := os.Open("/run/netns/" + nd.NS)
	if err != nil {
		return fmt.Errorf("netnstest: node %s: %w", nd.Name, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		// A thread whose namespace cannot be restored is never unlocked,
		// so it dies with this goroutine instead of serving others.
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netnstest: %w", err)
			return
		}
		defer home.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("netnstest: enter node %s: %w", nd.Name, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("netnstest: leave node %s: %w", nd.Name, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// run runs a setup command and fails the test on error.
func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("netnstest: %s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
}

// deleteNS removes a namespace; its veth ends go with it (and with them
// their peers). Processes still inside keep it alive, unnamed, until they
// exit.
func deleteNS(t testing.TB, ns string) {
	if out, err := exec.Command("ip", "netns", "delete", ns).CombinedOutput(); err != nil {
		t.Errorf("netnstest: ip netns delete %s: %v: %s", ns, err, bytes.TrimSpace(out))
	}
}

// removeLeftovers deletes the namespaces of earlier processes that died
// before their cleanup ran (kill -9, a timeout panic).
func removeLeftovers(t testing.TB) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		pid, ok := ownerPID(name)
		if !ok || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			continue // its test is still running
		}
		if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
			t.Logf("netnstest: removing leftover namespace %s: %v: %s", name, err, bytes.TrimSpace(out))
		}
	}
}

// ownerPID parses the pid out of a namespace name this package made
// ("ibt<pid>-<seq>-<node>").
func ownerPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return 0, false
	}
	digits, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	return pid, err == nil && pid > 0
}
