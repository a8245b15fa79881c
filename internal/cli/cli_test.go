package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/cli"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
)

// envMain makes the test binary act as the inferbench binary, so tests can
// run it as a real child process (signals, exit codes).
const envMain = "INFERBENCH_TEST_MAIN"

// envFileSize, in the child, sets RLIMIT_FSIZE (bytes) before running.
const envFileSize = "INFERBENCH_TEST_FSIZE"

func TestMain(m *testing.M) {
	if os.Getenv(envMain) == "1" {
		if lim := os.Getenv(envFileSize); lim != "" {
			// A file size limit makes every write past it fail (EFBIG) as
			// a full disk would; Go ignores the SIGXFSZ that comes with it.
			n, _ := strconv.ParseUint(lim, 10, 64)
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: n, Max: n}); err != nil {
				fmt.Fprintln(os.Stderr, "setrlimit:", err)
				os.Exit(99)
			}
		}
		os.Exit(cli.Execute(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child is a running inferbench process.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	code           int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startInferbench(t *testing.T, args ...string) *child {
	t.Helper()
	return startInferbenchEnv(t, nil, args...)
}

// startInferbenchEnv starts inferbench with extra environment variables.
func startInferbenchEnv(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	return startChild(t, exec.Command(os.Args[0], args...), env)
}

// startChild starts cmd, inferbench (this test binary) with extra
// environment variables env, collecting its output and exit code; it is
// killed when the test ends.
func startChild(t testing.TB, cmd *exec.Cmd, env []string) *child {
	t.Helper()
	c := &child{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	c.cmd.Env = append(append(os.Environ(), envMain+"=1"), env...)
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := c.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			c.code = ee.ExitCode()
		}
		close(c.done)
	}()
	t.Cleanup(func() {
		_ = c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

// wait waits up to d for the child to end and returns its exit code.
func (c *child) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(d):
		t.Fatalf("inferbench did not exit within %v\nstderr:\n%s", d, c.stderr.String())
		return -1
	}
}

// runInferbenchStdin runs a command with stdin to completion.
func runInferbenchStdin(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	c := &child{cmd: exec.Command(os.Args[0], args...), stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	c.cmd.Env = append(os.Environ(), envMain+"=1")
	c.cmd.Stdin = strings.NewReader(stdin)
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	err := c.cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	}
	return code, c.stdout.String(), c.stderr.String()
}

// runInferbench runs a command to completion.
func runInferbench(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	c := startInferbench(t, args...)
	code = c.wait(t, 60*time.Second)
	return code, c.stdout.String(), c.stderr.String()
}

// shortDir is a temporary directory short enough for unix socket paths.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "ibt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// pythonSubscriber starts Debian's python3 subscribing to snapshots; nil when
// python3 with zmq and msgpack is not installed (scripts/deps.sh --test
// installs them, so CI has them).
func pythonSubscriber(t *testing.T, addr string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import zmq, msgpack").Run(); err != nil {
		t.Logf("SKIPPING the Python wire check: /usr/bin/python3 cannot import zmq and msgpack (apt install python3-zmq python3-msgpack)")
		return nil, nil
	}
	cmd := exec.Command("/usr/bin/python3", "testdata/pysnap.py", addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	if !sc.Scan() || !strings.Contains(sc.Text(), "ready") {
		t.Fatalf("python subscriber did not start: %v", sc.Err())
	}
	return cmd, sc
}

// TestAggregate runs `inferbench aggregate` as a real child process fed by a
// ZeroMQ event publisher, with a Go subscriber in another goroutine and a
// Python subscriber in another process watching its snapshots; the run ends
// with session.ended (complete) or with a real SIGTERM (interrupted).
func TestAggregate(t *testing.T) {
	for _, ending := range []string{"ended", "sigterm"} {
		t.Run(ending, func(t *testing.T) {
			dir := shortDir(t)
			evAddr := "ipc://" + filepath.Join(dir, "ev.sock")
			runDir := filepath.Join(dir, "run")
			metricsAddr := "ipc://" + filepath.Join(runDir, rundir.SocketFile)
			pub, err := bus.NewZMQPublisher[event.Record](evAddr, event.Codec{}, bus.EventPublisherOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			c := startInferbench(t, "aggregate", "--events", evAddr, "--out", runDir, "--publish-interval", "50ms")

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := pub.WaitSubscribers(ctx, 1); err != nil {
				t.Fatalf("aggregate never subscribed: %v\n%s", err, c.stderr.String())
			}
			sub, err := bus.NewZMQSubscriber[metrics.Snapshot](metricsAddr, metrics.SnapshotCodec{}, bus.ZMQSubOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			py, pyOut := pythonSubscriber(t, metricsAddr)

			const n = 50
			now := event.Now()
			must := func(err error) {
				if err != nil {
					t.Fatal(err)
				}
			}
			must(pub.PublishFlush(event.Record{Type: event.SessionStarted, TimestampNS: now}))
			must(pub.PublishFlush(event.Record{Type: event.SessionStartTracking, TimestampNS: now}))
			for i := range n {
				id := fmt.Sprintf("%032d", i)
				ts := now + int64(i)*1000
				must(pub.Publish(event.Record{Type: event.SampleIssued, TimestampNS: ts, SampleUUID: id, Data: &event.PromptData{Text: "hello"}}))
				must(pub.Publish(event.Record{Type: event.SampleRecvFirst, TimestampNS: ts + 200_000, SampleUUID: id}))
				must(pub.Publish(event.Record{Type: event.SampleComplete, TimestampNS: ts + 1_000_000, SampleUUID: id,
					Data: &event.Output{Text: "a b c", Streamed: true, FirstChunkLen: 1, Usage: &event.Usage{PromptTokens: 3, CompletionTokens: 3}}}))
			}
			must(pub.Flush())

			// Collect snapshots until the terminal one; meanwhile end the run
			// once a live frame shows every sample.
			var snaps []metrics.Snapshot
			ended := false
			for len(snaps) == 0 || !snaps[len(snaps)-1].State.Terminal() {
				batch, err := sub.Next(ctx)
				if err != nil {
					t.Fatalf("no terminal snapshot: %v (got %d)\nstderr:\n%s", err, len(snaps), c.stderr.String())
				}
				snaps = append(snaps, batch...)
				last := snaps[len(snaps)-1]
				if !ended && last.State == metrics.StateLive && last.CounterInt("tracked_samples_completed") == n && len(snaps) >= 3 {
					ended = true
					if ending == "ended" {
						must(pub.PublishFlush(event.Record{Type: event.SessionStopTracking, TimestampNS: now + n*1000}))
						must(pub.PublishFlush(event.Record{Type: event.SessionEnded, TimestampNS: now + n*1000}))
					} else {
						must(c.cmd.Process.Signal(syscall.SIGTERM))
					}
				}
			}
			code := c.wait(t, 20*time.Second)
			wantState, wantCode := metrics.StateComplete, 0
			if ending == "sigterm" {
				wantState, wantCode = metrics.StateInterrupted, 1
			}
			if code != wantCode {
				t.Errorf("exit code %d, want %d\nstderr:\n%s", code, wantCode, c.stderr.String())
			}

			// Live frames at the interval, none after the terminal one.
			terminal := snaps[len(snaps)-1]
			if terminal.State != wantState {
				t.Errorf("terminal frame %s, want %s", terminal.State, wantState)
			}
			var gaps []time.Duration
			for i, s := range snaps[:len(snaps)-1] {
				if s.State != metrics.StateLive && s.State != metrics.StateDraining {
					t.Errorf("frame %d is %s before the terminal frame", i, s.State)
				}
				if i > 0 {
					gaps = append(gaps, time.Duration(s.TimestampNS-snaps[i-1].TimestampNS))
				}
			}
			if len(gaps) > 0 {
				med := median(gaps)
				if med < 40*time.Millisecond || med > 150*time.Millisecond {
					t.Errorf("median gap between live frames %v, want about the 50ms interval", med)
				}
			}
			if post, err := sub.Next(timeoutCtx(300 * time.Millisecond)); err == nil {
				t.Errorf("%d frames after the terminal one", len(post))
			}

			data, err := os.ReadFile(filepath.Join(runDir, "metrics", "final_snapshot.json"))
			if err != nil {
				t.Fatal(err)
			}
			file, err := metrics.ParseJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			if file.State != wantState || file.CounterInt("tracked_samples_completed") != n {
				t.Errorf("final_snapshot.json: state %s completed %d", file.State, file.CounterInt("tracked_samples_completed"))
			}
			if file.Counter != terminal.Counter {
				t.Errorf("file holds snapshot %d, terminal frame %d", file.Counter, terminal.Counter)
			}
			if !strings.Contains(c.stdout.String(), "Summary") {
				t.Errorf("no report printed:\n%s", c.stdout.String())
			}
			for _, f := range []string{"result_summary.json", "report.txt", rundir.HTMLFile} {
				if _, err := os.Stat(filepath.Join(runDir, f)); err != nil {
					t.Errorf("missing %s", f)
				}
			}

			// The Python tool's decoder reads the terminal frame as the same
			// dict as the file, field for field.
			if py != nil {
				var lastLine string
				for pyOut.Scan() {
					lastLine = pyOut.Text()
				}
				var got, want any
				if err := json.Unmarshal([]byte(lastLine), &got); err != nil {
					t.Fatalf("python output %q: %v", lastLine, err)
				}
				if err := json.Unmarshal(data, &want); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("python decoded the terminal frame differently:\n%s\nfile:\n%s", lastLine, data)
				}
			}
		})
	}
}

func timeoutCtx(d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	_ = cancel // released by the timeout
	return ctx
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}

func TestReport_Command(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "metrics"), 0o755); err != nil {
		t.Fatal(err)
	}
	snap := `{"counter":3,"timestamp_ns":1,"state":"complete","n_pending_tasks":0,"metrics":[
	 {"type":"counter","name":"tracked_samples_completed","value":10},
	 {"type":"counter","name":"tracked_duration_ns","value":2000000000},
	 {"type":"series","name":"sample_latency_ns","count":1,"total":5,"min":5,"max":5,"sum_sq":25,"percentiles":{"50.0":5.0},"histogram":[[[5.0,50.0],1]]}]}`
	if err := os.WriteFile(filepath.Join(dir, "metrics", "final_snapshot.json"), []byte(snap), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runInferbench(t, "report", dir)
	if code != 0 || !strings.Contains(out, "QPS: 5.00") {
		t.Errorf("report: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runInferbench(t, "report", "--json", filepath.Join(dir, "metrics", "final_snapshot.json"))
	var js map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &js) != nil || js["qps"] != 5.0 {
		t.Errorf("report --json: exit %d\n%s", code, out)
	}
}

// TestBadInput checks that bad input gives one line naming the problem and
// exit code 2, never a stack trace.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badYAML, []byte("endpoint:\n  endpoint: http://127.0.0.1:1\nbogus_key: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badJSONL := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(badJSONL, []byte("{\"prompt\": \"ok\"}\n{\"prompt\": \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	synNoInput := filepath.Join(dir, "syn.yaml")
	if err := os.WriteFile(synNoInput, []byte("endpoint:\n  endpoint: http://127.0.0.1:1\n  model: m\ndataset:\n  synthetic: {n: 5, output: \"8\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	goodJSONL := filepath.Join(dir, "good.jsonl")
	if err := os.WriteFile(goodJSONL, []byte("{\"prompt\": \"ok\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notSnapshot := filepath.Join(dir, "other.json")
	if err := os.WriteFile(notSnapshot, []byte(`{"name": "not a snapshot", "values": [1, 2]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"dataset and synthetic", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--dataset", goodJSONL, "--synthetic", "3"}, "--dataset and --synthetic"},
		{"input-len without synthetic", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--dataset", goodJSONL, "--input-len", "5"}, "--input-len"},
		{"output-len alone", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--output-len", "5"}, "--output-len"},
		{"yaml synthetic without input", []string{"benchmark", "offline", "--config", synNoInput}, "dataset.synthetic.input: missing key"},
		{"report on other JSON", []string{"report", notSnapshot}, "not a metrics snapshot"},
		{"watch unknown scheme", []string{"watch", "http://127.0.0.1:1"}, `unknown scheme "http://"`},
		{"rate never issues in duration", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--synthetic", "3", "--target-qps", "0.01", "--duration", "10s"}, "target_qps 0.01"},
		{"rate too low for the samples", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--synthetic", "3", "--target-qps", "0.00001"}, "target_qps 1e-05"},
		{"missing report", []string{"report", filepath.Join(dir, "nope")}, "nope"},
		{"unknown flag", []string{"benchmark", "offline", "--bogus"}, "bogus"},
		{"unknown command", []string{"frobnicate"}, "frobnicate"},
		{"missing dataset", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--dataset", filepath.Join(dir, "none.jsonl")}, "none.jsonl"},
		{"malformed jsonl", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--model", "m", "--dataset", badJSONL}, "line 2"},
		{"unknown config key", []string{"benchmark", "offline", "--config", badYAML}, "bogus_key"},
		{"invalid url", []string{"benchmark", "offline", "--endpoint", "htp:/x", "--model", "m", "--synthetic", "3"}, "htp:/x"},
		{"bad streaming value", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--streaming", "maybe"}, "maybe"},
		{"online without rate", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3"}, "target_qps"},
		{"aggregate without events", []string{"aggregate", "--out", dir}, "--events"},
		{"bad extra body", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--extra-body", "{nope"}, "--extra-body"},
		{"bad header", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--header", "novalue"}, "--header"},
		{"bad retry value", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--retry-closed-conn", "maybe"}, "--retry-closed-conn"},
		{"negative read timeout", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--read-timeout", "-1s"}, "read_timeout"},
		{"negative burstiness", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--target-qps", "5", "--burstiness", "-1"}, "--burstiness"},
		{"zero burstiness", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--target-qps", "5", "--burstiness", "0"}, "--burstiness"},
		{"burstiness with constant arrival", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--target-qps", "5", "--arrival", "constant", "--burstiness", "2"}, "burstiness"},
		{"prefix as long as the prompt", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--target-qps", "5", "--input-len", "64", "--shared-prefix-len", "64"}, "shared_prefix_len 64: must be below the shortest input length"},
		{"zero prefixes", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--target-qps", "5", "--shared-prefix-len", "8", "--num-prefixes", "0"}, "--num-prefixes"},
		{"prefix without synthetic", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--dataset", goodJSONL, "--shared-prefix-len", "8"}, "--shared-prefix-len"},
		{"zero max-concurrency", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--target-qps", "5", "--max-concurrency", "0"}, "--max-concurrency"},
		{"negative max-concurrency", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--target-qps", "5", "--max-concurrency", "-3"}, "--max-concurrency"},
		{"max-concurrency in offline", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--max-concurrency", "2"}, "max_concurrency 2"},
		{"negative ramp-up", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--target-qps", "5", "--ramp-up", "-1s"}, "ramp_up"},
		{"ramp-up in offline", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--ramp-up", "5s"}, "ramp_up"},
		{"fractional concurrency stage", []string{"benchmark", "concurrency", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--stages", "2.5:5s"}, "whole number of workers"},
		{"bad stages", []string{"benchmark", "online", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--stages", "10:30s,x"}, "--stages"},
		{"server metrics not a URL", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--server-metrics", "ftp://x/metrics"}, "metrics.server_metrics \"ftp://x/metrics\""},
		{"server metrics off and a URL", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--server-metrics", "off", "--server-metrics", "http://x/metrics"}, "off excludes URLs"},
		{"negative connect timeout", []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--connect-timeout", "-1s"}, "connect_timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runInferbench(t, tc.args...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if code != 2 || len(lines) != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "goroutine") {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and one line naming %q", code, stderr, tc.want)
			}
		})
	}
}
