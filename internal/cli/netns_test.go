package cli_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
)

// envDelayProxy, in a child, makes the test binary a TCP proxy:
// "LISTEN TARGET DELAY" forwards connections to TARGET, holding every byte
// DELAY in each direction (these kernels have no tc netem).
const envDelayProxy = "INFERBENCH_TEST_DELAY_PROXY"

func init() {
	spec := os.Getenv(envDelayProxy)
	if spec == "" {
		return
	}
	f := strings.Fields(spec)
	d, err := time.ParseDuration(f[2])
	if err != nil || len(f) != 3 {
		fmt.Fprintln(os.Stderr, "delay proxy: want LISTEN TARGET DELAY")
		os.Exit(99)
	}
	ln, err := net.Listen("tcp", f[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, "delay proxy:", err)
		os.Exit(99)
	}
	for {
		in, err := ln.Accept()
		if err != nil {
			os.Exit(0)
		}
		out, err := net.Dial("tcp", f[1])
		if err != nil {
			in.Close()
			continue
		}
		go delayPipe(out, in, d)
		go delayPipe(in, out, d)
	}
}

// delayPipe copies src to dst, each chunk written d after it was read.
func delayPipe(dst, src net.Conn, d time.Duration) {
	type chunk struct {
		due time.Time
		b   []byte
	}
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 64<<10)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(d), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.b); err != nil {
			break
		}
	}
	dst.Close()
	for range q {
	}
}

// netnsLab is a set of network namespaces on one private bridge (itself
// in a namespace of its own), removed at the end of the test.
type netnsLab struct {
	t      *testing.T
	prefix string
	made   []string
}

func (l *netnsLab) run(args ...string) {
	l.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		l.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// host adds namespace name with address 10.213.77.host/24 on the bridge.
func (l *netnsLab) host(name string, host int) string {
	ns := l.prefix + name
	l.run("netns", "add", ns)
	l.made = append(l.made, ns)
	br := l.prefix + "br"
	veth := fmt.Sprintf("v%s%d", l.prefix[len(l.prefix)-4:], host)
	l.run("-n", br, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
	l.run("-n", br, "link", "set", veth, "master", "br0", "up")
	ip := fmt.Sprintf("10.213.77.%d", host)
	l.run("-n", ns, "addr", "add", ip+"/24", "dev", "eth0")
	l.run("-n", ns, "link", "set", "eth0", "up")
	l.run("-n", ns, "link", "set", "lo", "up")
	return ip
}

func newNetnsLab(t *testing.T) *netnsLab {
	l := &netnsLab{t: t, prefix: fmt.Sprintf("ibf%04d", os.Getpid()%10000)}
	t.Cleanup(func() {
		for _, ns := range l.made {
			_ = exec.Command("ip", "netns", "del", ns).Run()
		}
	})
	br := l.prefix + "br"
	l.run("netns", "add", br)
	l.made = append(l.made, br)
	l.run("-n", br, "link", "add", "br0", "type", "bridge")
	l.run("-n", br, "link", "set", "br0", "up")
	return l
}

// start runs the test binary as inferbench (or with env, as something
// else) inside a namespace.
func (l *netnsLab) start(name string, env []string, args ...string) *child {
	l.t.Helper()
	c := &child{cmd: exec.Command("ip", append([]string{"netns", "exec", l.prefix + name, os.Args[0]}, args...)...),
		stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	c.cmd.Env = append(append(os.Environ(), envMain+"=1"), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if err := c.cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	go func() {
		err := c.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			c.code = ee.ExitCode()
		}
		close(c.done)
	}()
	l.t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

var offsetRE = regexp.MustCompile(`far ([+-][0-9.]+) ms ±([0-9.]+)`)

// TestFleet_Namespaces: "real hosts on one machine". The coordinator,
// three workers and the mock server each run in a network namespace of
// their own with their own address (CURVE on, as off loopback it must be);
// one worker reaches the coordinator through a proxy delaying 30 ms each
// way. The merged latencies are the server's (durations are measured on
// the workers), the delayed worker's clock offset is estimated within
// 2 ms (one kernel, one clock: the truth is 0), and the counts are exact.
func TestFleet_Namespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2's ip to create network namespaces")
	}
	lab := newNetnsLab(t)
	mockIP := lab.host("m", 10)
	coordIP := lab.host("c", 2)
	proxyIP := lab.host("p", 3)
	for i := range 3 {
		lab.host(fmt.Sprintf("w%d", i), 20+i)
	}
	keys := curveKeys(t, "near0", "near1", "far")
	mock := lab.start("m", nil, "serve", "--addr", mockIP+":8000", "--ttft", "50ms", "--tpot", "5ms", "--output-tokens", "10")
	coordAddr := "tcp://" + coordIP + ":5557"
	_ = lab.start("p", []string{envDelayProxy + "=" + proxyIP + ":5557 " + coordIP + ":5557 30ms"})
	dir := filepath.Join(shortDir(t), "run")
	waitFor(t, "the mock server", 20*time.Second, func() bool {
		return exec.Command("ip", "netns", "exec", lab.prefix+"c", "bash", "-c", "echo > /dev/tcp/"+mockIP+"/8000").Run() == nil
	})
	_ = mock
	coord := lab.start("c", nil, "benchmark", "concurrency", "--endpoint", "http://"+mockIP+":8000", "--model", "mock-model",
		"--synthetic", "50", "--concurrency", "6", "--num-samples", "90", "--report-dir", dir, "--no-tui",
		"--fleet-size", "3", "--fleet-listen", coordAddr, "--fleet-keys", keys["coordinator"])
	var workers []*child
	for i, name := range []string{"near0", "near1", "far"} {
		addr := coordAddr
		if name == "far" {
			addr = "tcp://" + proxyIP + ":5557"
		}
		workers = append(workers, lab.start(fmt.Sprintf("w%d", i), nil, "worker", "--coordinator", addr, "--name", name, "--once", "--fleet-keys", keys[name]))
	}
	if code := coord.wait(t, 90*time.Second); code != 0 {
		t.Fatalf("coordinator exit code %d\n%s", code, coord.stderr.String())
	}
	for i, w := range workers {
		if code := w.wait(t, 30*time.Second); code != 0 {
			t.Errorf("worker %d exit code %d\n%s", i, code, w.stderr.String())
		}
	}
	snap := readFinalSnapshot(t, dir)
	if got := snap.CounterInt(metrics.TrackedCompleted); got != 90 || snap.CounterInt(metrics.TrackedFailed) != 0 {
		t.Errorf("completed %d, failed %d; want 90 and 0", got, snap.CounterInt(metrics.TrackedFailed))
	}
	for name, want := range map[string]float64{metrics.SeriesTTFT: 50e6, metrics.SeriesLatency: 95e6} {
		m, _ := snap.Find(name)
		p50, _ := m.Percentile("50")
		if p50 < want || p50 > want*1.3 {
			t.Errorf("%s p50 %.1f ms; the server's timing gives %.0f ms (the 30 ms link must not show)", name, p50/1e6, want/1e6)
		}
	}
	report, err := os.ReadFile(filepath.Join(dir, "report.txt"))
	if err != nil {
		t.Fatal(err)
	}
	m := offsetRE.FindSubmatch(report)
	if m == nil {
		t.Fatalf("the report states no clock offset for the far worker:\n%s", report)
	}
	off, _ := strconv.ParseFloat(string(m[1]), 64)
	unc, _ := strconv.ParseFloat(string(m[2]), 64)
	if off < -2 || off > 2 || unc < 25 {
		t.Errorf("far worker offset %+.3f ms ±%.3f: want within 2 ms of 0, with the ~30 ms link's uncertainty", off, unc)
	}
	t.Logf("far worker: offset %+.3f ms ±%.3f ms", off, unc)
}
