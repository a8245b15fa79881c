//go:build linux

package netnstest_test

import (
	"bytes"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/netnstest"
)

// echo serves ln, writing back what each connection sends, until ln closes.
func echo(t *testing.T, ln net.Listener) {
	t.Helper()
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
}

// namespaces lists the names of the network namespaces.
func namespaces(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestNew: each node is its own namespace with its address on eth0 (seen by
// a child process run inside it), nodes reach each other over the bridge,
// and the namespaces are gone when the test ends.
func TestNew(t *testing.T) {
	var nss []string
	t.Run("network", func(t *testing.T) {
		n := netnstest.New(t, "a", "b")
		a, b := n.Node(t, "a"), n.Node(t, "b")
		if a.IP != "10.213.0.1" || b.IP != "10.213.0.2" {
			t.Errorf("addresses %s, %s: want 10.213.0.1, 10.213.0.2", a.IP, b.IP)
		}
		for _, nd := range n.Nodes() {
			nss = append(nss, nd.NS)
			out, err := nd.Command("ip", "-o", "-4", "addr", "show").CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v: %s", nd.Name, err, out)
			}
			if !strings.Contains(string(out), "eth0") || !strings.Contains(string(out), "inet "+nd.IP+"/24") || strings.Count(string(out), "10.213.0.") != 1 {
				t.Errorf("node %s: ip addr inside shows\n%s\nwant only %s/24 on eth0", nd.Name, out, nd.IP)
			}
		}
		ln, err := a.Listen("tcp", a.IP+":0")
		if err != nil {
			t.Fatal(err)
		}
		echo(t, ln)
		c, err := b.Dial("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatalf("b cannot reach a: %v", err)
		}
		defer c.Close()
		if got := c.LocalAddr().(*net.TCPAddr).IP.String(); got != b.IP {
			t.Errorf("b's connection comes from %s, want %s", got, b.IP)
		}
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("echo %q, %v", buf, err)
		}
		// The test's own namespace has no such address: the nodes' sockets
		// really live elsewhere.
		if _, err := net.Listen("tcp", a.IP+":0"); err == nil {
			t.Errorf("%s is bindable outside the namespaces", a.IP)
		}
	})
	if len(nss) != 2 {
		return
	}
	list := namespaces(t)
	for _, ns := range nss {
		if strings.Contains(list, ns) {
			t.Errorf("namespace %s survives its test:\n%s", ns, list)
		}
	}
}

// TestNew_Leftovers: a namespace left by a process that no longer exists (a
// test killed before its cleanup) is removed by the next New.
func TestNew_Leftovers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creating network namespaces needs root; CI runs these tests as root")
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	pid := dead.Process.Pid
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
		t.Skipf("pid %d was reused at once; cannot fake a dead owner", pid)
	}
	stale := "ibt" + strconv.Itoa(pid) + "-1-w0"
	if out, err := exec.Command("ip", "netns", "add", stale).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "delete", stale).Run() })
	netnstest.New(t, "a")
	if list := namespaces(t); strings.Contains(list, stale) {
		t.Errorf("leftover %s not removed:\n%s", stale, list)
	}
}

// roundTrip times one small echo exchange.
func roundTrip(t *testing.T, c net.Conn) time.Duration {
	t.Helper()
	buf := make([]byte, 1)
	start := time.Now()
	if _, err := c.Write([]byte{'x'}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// TestProxy: every exchange through the proxy takes at least twice its
// delay, and a large transfer both ways arrives whole and in order, with
// the write side closed after the last byte.
func TestProxy(t *testing.T) {
	const delay = 30 * time.Millisecond
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, srv)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := netnstest.NewProxy(ln, delay, func() (net.Conn, error) { return net.Dial("tcp", srv.Addr().String()) })
	t.Cleanup(func() { p.Close() })

	c, err := net.Dial("tcp", p.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		if rtt := roundTrip(t, c); rtt < 2*delay || rtt > 2*delay+5*time.Second {
			t.Errorf("round trip %v through a %v proxy: want at least %v", rtt, delay, 2*delay)
		}
	}

	data := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), 200_000) // 7.2 MB
	go func() {
		_, _ = c.Write(data)
		_ = c.(*net.TCPConn).CloseWrite()
	}()
	got, err := io.ReadAll(c) // ends when the echo closes: the half-close went through
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("received %d bytes, want the %d sent, same order", len(got), len(data))
	}
}

// TestNode_Proxy: a proxy node between two nodes delays their exchanges by
// twice its delay; the direct path does not.
func TestNode_Proxy(t *testing.T) {
	const delay = 30 * time.Millisecond
	n := netnstest.New(t, "server", "client", "proxy")
	server, client := n.Node(t, "server"), n.Node(t, "client")
	ln, err := server.Listen("tcp", server.IP+":0")
	if err != nil {
		t.Fatal(err)
	}
	echo(t, ln)
	p := n.Node(t, "proxy").Proxy(t, ln.Addr().String(), delay)

	direct, err := client.Dial("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	via, err := client.Dial("tcp", p.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer via.Close()
	roundTrip(t, direct) // connections warm
	roundTrip(t, via)
	d, v := roundTrip(t, direct), roundTrip(t, via)
	if v < 2*delay {
		t.Errorf("round trip through the proxy %v: want at least %v", v, 2*delay)
	}
	if d >= 2*delay {
		t.Logf("direct round trip %v (a loaded machine?)", d)
	}
}
