package cli_test

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/mockserver/mocktest"
)

func startMock(t *testing.T, cfg mockserver.Config) string {
	t.Helper()
	url, _ := mocktest.Start(t, cfg)
	return url
}

func validLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("%s line %d is not valid JSON: %q", path, n+1, sc.Text())
		}
		n++
	}
	return n
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBenchmark_CtrlC sends real SIGINTs to a running benchmark: the first
// stops issuing and lets in-flight requests finish, the second stops at once.
// Either way events.jsonl is valid line by line, the final snapshot says
// interrupted, and the report is printed.
func TestBenchmark_CtrlC(t *testing.T) {
	tests := []struct {
		name    string
		signals int
		server  mockserver.Config
		maxWait time.Duration
	}{
		{"one Ctrl-C: graceful", 1, mockserver.Config{TTFT: 20 * time.Millisecond, TPOT: 2 * time.Millisecond, OutputTokens: 10}, 10 * time.Second},
		{"two Ctrl-C: at once", 2, mockserver.Config{TTFT: 30 * time.Second, OutputTokens: 10}, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := startMock(t, tc.server)
			dir := filepath.Join(shortDir(t), "run")
			c := startInferbench(t, "benchmark", "online", "--endpoint", url, "--model", "mock-model",
				"--synthetic", "100000", "--target-qps", "200", "--report-dir", dir, "--no-tui", "--grace-period", "20s",
				"--event-log", "full")
			full := filepath.Join(dir, "events.jsonl.zst")
			waitFor(t, "events to be logged", 20*time.Second, func() bool {
				st, err := os.Stat(full)
				return err == nil && st.Size() > 2048
			})
			start := time.Now()
			for i := range tc.signals {
				if i > 0 {
					waitFor(t, "the first Ctrl-C to be taken", 5*time.Second, func() bool { return strings.Contains(c.stderr.String(), "stopping") })
				}
				if err := c.cmd.Process.Signal(syscall.SIGINT); err != nil {
					t.Fatal(err)
				}
			}
			code := c.wait(t, 30*time.Second)
			if el := time.Since(start); el > tc.maxWait {
				t.Errorf("took %v to stop, want under %v", el, tc.maxWait)
			}
			if code != 1 {
				t.Errorf("exit code %d, want 1 (interrupted)\nstderr:\n%s", code, c.stderr.String())
			}
			if !strings.Contains(c.stdout.String(), "Summary") || !strings.Contains(c.stdout.String(), "interrupted") {
				t.Errorf("no report with the interrupted warning:\n%s", c.stdout.String())
			}
			if n := validLines(t, filepath.Join(dir, "requests.jsonl")); n < 10 {
				t.Errorf("requests.jsonl has %d lines", n)
			}
			data, err := os.ReadFile(filepath.Join(dir, "metrics", "final_snapshot.json"))
			if err != nil {
				t.Fatal(err)
			}
			snap, err := metrics.ParseJSON(data)
			if err != nil || snap.State != metrics.StateInterrupted {
				t.Errorf("final snapshot state %v (%v), want interrupted", snap.State, err)
			}
		})
	}
}

// TestBenchmark_ClosedPort checks that a run against a closed port fails at
// once with a clear message.
func TestBenchmark_ClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	start := time.Now()
	code, _, stderr := runInferbench(t, "benchmark", "offline", "--endpoint", "http://"+addr, "--model", "m",
		"--synthetic", "10", "--report-dir", filepath.Join(shortDir(t), "run"))
	if code != 1 || !strings.Contains(stderr, "unreachable") || !strings.Contains(stderr, addr) || time.Since(start) > 5*time.Second {
		t.Errorf("exit %d after %v:\n%s", code, time.Since(start), stderr)
	}
}

// TestBenchmark_RequestFlags checks that --temperature, --extra-body and
// --header reach the server in every request, and that --read-timeout,
// --connect-timeout and --retry-closed-conn land in the run's config.yaml.
func TestBenchmark_RequestFlags(t *testing.T) {
	var mu sync.Mutex
	var bodies []map[string]any
	var headers []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		_ = json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		bodies = append(bodies, b)
		headers = append(headers, r.Header.Get("X-Team"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`))
	}))
	defer srv.Close()
	runDir := filepath.Join(shortDir(t), "run")
	code, _, stderr := runInferbench(t, "benchmark", "offline", "--endpoint", srv.URL, "--model", "m", "--synthetic", "3",
		"--streaming", "off", "--temperature", "0", "--extra-body", `{"ignore_eos": true, "top_p": 0.5}`, "--header", "X-Team: perf",
		"--read-timeout", "7s", "--connect-timeout", "3s", "--retry-closed-conn", "off",
		"--report-dir", runDir, "--no-tui", "--server-metrics", "off") // the server counts every request
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	resolved, err := os.ReadFile(filepath.Join(runDir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"read_timeout: 7s", "connect_timeout: 3s", "retry_closed_conn: false"} {
		if !strings.Contains(string(resolved), want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, resolved)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 3 {
		t.Fatalf("%d requests", len(bodies))
	}
	for i, b := range bodies {
		if b["temperature"] != 0.0 || b["ignore_eos"] != true || b["top_p"] != 0.5 || headers[i] != "perf" {
			t.Errorf("request %d: body %v, X-Team %q", i, b, headers[i])
		}
	}
}
