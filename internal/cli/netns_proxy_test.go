//go:build linux

package cli_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/netnstest"
)

// startInferbenchIn starts inferbench (this test binary) inside a node of a
// netnstest network; it is killed when the test ends.
func startInferbenchIn(t testing.TB, nd *netnstest.Node, args ...string) *child {
	t.Helper()
	return startPinnedIn(t, nd, "", args...)
}

// startPinnedIn is startInferbenchIn on the CPUs cpus names (taskset's
// list; "": any). With $INFERBENCH_TEST_CPUPROFILES set to a directory,
// every process writes a CPU profile there, named after its node.
func startPinnedIn(t testing.TB, nd *netnstest.Node, cpus string, args ...string) *child {
	t.Helper()
	if d := os.Getenv("INFERBENCH_TEST_CPUPROFILES"); d != "" {
		args = append(args, "--cpuprofile", filepath.Join(d, fmt.Sprintf("%s-%d.pprof", nd.Name, time.Now().UnixNano())))
	}
	if cpus != "" {
		return startChild(t, nd.Command("taskset", append([]string{"-c", cpus, os.Args[0]}, args...)...), nil)
	}
	return startChild(t, nd.Command(os.Args[0], args...), nil)
}

// waitUntil polls cond until it holds, failing the test after d.
func waitUntil(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runDir is a fresh run directory under a short temporary path (the live
// snapshot socket's path must fit a unix socket address).
func runDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "ibn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return filepath.Join(d, "run")
}

var serveAddrRE = regexp.MustCompile(`listening on (http://[0-9.]+:[0-9]+)`)

// serveIn starts the mock server inside a node, on its address, and returns
// its URL and process.
func serveIn(t testing.TB, nd *netnstest.Node, args ...string) (string, *child) {
	t.Helper()
	srv := startInferbenchIn(t, nd, append([]string{"serve", "--addr", nd.IP + ":0"}, args...)...)
	var url string
	waitUntil(t, "the mock server to listen", 30*time.Second, func() bool {
		if m := serveAddrRE.FindStringSubmatch(srv.stderr.String()); m != nil {
			url = m[1]
		}
		return url != ""
	})
	return url, srv
}

// seriesP50 is a series' median in a snapshot.
func seriesP50(t testing.TB, snap metrics.Snapshot, name string) time.Duration {
	t.Helper()
	m, ok := snap.Find(name)
	if !ok {
		t.Fatalf("no series %s in the final snapshot", name)
	}
	v, ok := m.Percentile("50")
	if !ok {
		t.Fatalf("series %s has no p50", name)
	}
	return time.Duration(v)
}

// TestNetns_ProxyDelaysTTFT checks the network-namespace harness end to
// end with real processes: the mock server in one namespace, a benchmark in
// another, once directly and once through a proxy namespace adding 30 ms
// each way. The proxy adds the round trip (≈ 60 ms) to the time to first
// token, and the counts are exact both ways.
func TestNetns_ProxyDelaysTTFT(t *testing.T) {
	const delay = 30 * time.Millisecond
	n := netnstest.New(t, "server", "client", "proxy")
	server, client := n.Node(t, "server"), n.Node(t, "client")
	url, _ := serveIn(t, server, "--ttft", "20ms", "--tpot", "2ms", "--output-tokens", "8")
	p := n.Node(t, "proxy").Proxy(t, url[len("http://"):], delay)

	ttft := map[string]time.Duration{}
	for _, path := range []struct{ name, url string }{{"direct", url}, {"proxy", "http://" + p.Addr().String()}} {
		dir := runDir(t)
		c := startInferbenchIn(t, client, "benchmark", "concurrency", "--endpoint", path.url, "--model", "mock-model",
			"--synthetic", "20", "--concurrency", "4", "--num-samples", "40", "--warmup", "4",
			"--report-dir", dir, "--no-tui")
		if code := c.wait(t, 60*time.Second); code != 0 {
			t.Fatalf("%s: exit code %d\nstderr:\n%s", path.name, code, c.stderr.String())
		}
		snap := readFinalSnapshot(t, dir)
		for name, want := range map[string]int64{metrics.TrackedIssued: 40, metrics.TrackedCompleted: 40, metrics.TrackedFailed: 0, metrics.TotalIssued: 44} {
			if got := snap.CounterInt(name); got != want {
				t.Errorf("%s: %s %d, want exactly %d", path.name, name, got, want)
			}
		}
		ttft[path.name] = seriesP50(t, snap, metrics.SeriesTTFT)
	}
	added := ttft["proxy"] - ttft["direct"]
	t.Logf("TTFT p50: direct %v, through the %v proxy %v (+%v)", ttft["direct"], delay, ttft["proxy"], added)
	// The request and the first chunk each cross the proxy once; the
	// upper bound leaves room for a loaded machine.
	if added < 2*delay-5*time.Millisecond || added > 2*delay+50*time.Millisecond {
		t.Errorf("the proxy added %v to the TTFT p50 (direct %v, proxied %v): want ≈ %v", added, ttft["direct"], ttft["proxy"], 2*delay)
	}
}
