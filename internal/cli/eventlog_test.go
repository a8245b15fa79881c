package cli_test

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
)

// A run killed with SIGKILL leaves no final snapshot; `report` rebuilds one
// from requests.jsonl and events.jsonl.zst and says so, and `export` writes
// its requests as CSV and Parquet.
func TestReport_rebuildsKilledRun(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 2 * time.Millisecond, TPOT: time.Millisecond, OutputTokens: 8})
	dir := filepath.Join(shortDir(t), "run")
	c := startInferbench(t, "benchmark", "online", "--endpoint", url, "--model", "mock-model",
		"--synthetic", "100000", "--target-qps", "200", "--report-dir", dir, "--no-tui", "--event-log", "full")
	requests := filepath.Join(dir, "requests.jsonl")
	waitFor(t, "requests to be logged", 20*time.Second, func() bool {
		st, err := os.Stat(requests)
		return err == nil && st.Size() > 8192
	})
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.wait(t, 10*time.Second)
	if _, err := os.Stat(filepath.Join(dir, "metrics", "final_snapshot.json")); !os.IsNotExist(err) {
		t.Fatalf("a killed run has a final snapshot (%v)", err)
	}

	code, stdout, stderr := runInferbench(t, "report", dir, "--json")
	if code != 0 {
		t.Fatalf("report exit %d: %s", code, stderr)
	}
	var rep struct {
		State       string   `json:"state"`
		Issued      int64    `json:"n_samples_issued"`
		Completed   int64    `json:"n_samples_completed"`
		RebuiltFrom []string `json:"rebuilt_from"`
		NotRebuilt  []string `json:"series_not_rebuilt"`
		Metrics     []struct {
			Name  string `json:"name"`
			Count int64  `json:"count"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("report --json: %v\n%s", err, stdout)
	}
	lines := validLines(t, requests)
	if rep.State != string(metrics.StateInterrupted) || rep.Issued < 30 || rep.Completed != rep.Issued ||
		len(rep.RebuiltFrom) != 2 || len(rep.NotRebuilt) != 0 {
		t.Errorf("rebuilt report: state %s issued %d completed %d from %v missing %v (%d log lines)",
			rep.State, rep.Issued, rep.Completed, rep.RebuiltFrom, rep.NotRebuilt, lines)
	}
	names := map[string]int64{}
	for _, m := range rep.Metrics {
		names[m.Name] = m.Count
	}
	if names["chunk_delta_ns"] != 7*names["ttft_ns"] || names["ttft_ns"] != rep.Completed {
		t.Errorf("series counts %v: want 7 gaps per request from the full log", names)
	}
	code, stdout, _ = runInferbench(t, "report", dir)
	if code != 0 || !strings.Contains(stdout, "rebuilt from") {
		t.Errorf("text report (exit %d) does not say it was rebuilt:\n%s", code, stdout)
	}

	// Without the full log, the gaps are named as not rebuilt.
	if err := os.Remove(filepath.Join(dir, "events.jsonl.zst")); err != nil {
		t.Fatal(err)
	}
	_, stdout, _ = runInferbench(t, "report", dir)
	if !strings.Contains(stdout, "not rebuilt: chunk_delta_ns") {
		t.Errorf("report does not name the series it could not rebuild:\n%s", stdout)
	}

	// export
	out := filepath.Join(dir, "r.csv")
	if code, _, stderr := runInferbench(t, "export", dir, "--format", "csv", "--out", out); code != 0 {
		t.Fatalf("export csv exit %d: %s", code, stderr)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || int64(len(rows)-1) != rep.Issued || rows[0][0] != "sample_id" {
		t.Errorf("csv: %d rows (%v), want a header and %d requests", len(rows), err, rep.Issued)
	}
	if code, _, stderr := runInferbench(t, "export", dir, "--format", "parquet"); code != 0 {
		t.Fatalf("export parquet exit %d: %s", code, stderr)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "requests.parquet")); err != nil || !strings.HasPrefix(string(data), "PAR1") {
		t.Errorf("requests.parquet is not Parquet (%v)", err)
	}
	for _, args := range [][]string{{"export", dir, "--format", "xlsx"}, {"export", filepath.Join(dir, "nope")}} {
		if code, _, stderr := runInferbench(t, args...); code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, stderr)
		}
	}
}

// When the event log cannot be written (here a file size limit, which fails
// writes as a full disk does) the run stops issuing, prints its report, exits
// 1 with one line naming the file and the cause, and leaves no partial file.
func TestBenchmark_eventLogWriteFailure(t *testing.T) {
	const limit = 64 << 10
	url := startMock(t, mockserver.Config{OutputTokens: 4})
	dir := filepath.Join(shortDir(t), "run")
	c := startInferbenchEnv(t, []string{envFileSize + "=" + strconv.Itoa(limit)}, "benchmark", "online", "--endpoint", url,
		"--model", "mock-model", "--synthetic", "100000", "--target-qps", "500", "--report-dir", dir, "--no-tui", "--grace-period", "5s")
	code := c.wait(t, 60*time.Second)
	stderr := c.stderr.String()
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstderr:\n%s", code, stderr)
	}
	last := lastLine(stderr)
	if !strings.Contains(last, filepath.Join(dir, "requests.jsonl")) || !strings.Contains(last, "file too large") {
		t.Errorf("last stderr line %q: want the file and the cause", last)
	}
	if !strings.Contains(c.stdout.String(), "Summary") || !strings.Contains(c.stdout.String(), "State: interrupted") {
		t.Errorf("no report on stdout:\n%s", c.stdout.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, "metrics", "final_snapshot.json"))
	if err != nil {
		t.Fatal(err)
	}
	if snap, err := metrics.ParseJSON(data); err != nil || snap.State != metrics.StateInterrupted {
		t.Errorf("final snapshot state %v (%v), want interrupted", snap.State, err)
	}
	req, err := os.ReadFile(filepath.Join(dir, "requests.jsonl"))
	if err != nil || len(req) == 0 || len(req) > limit || req[len(req)-1] != '\n' {
		t.Errorf("requests.jsonl: %d bytes (%v): want whole lines under the limit", len(req), err)
	}
	validLines(t, filepath.Join(dir, "requests.jsonl"))
	for _, d := range []string{dir, filepath.Join(dir, "metrics")} {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			info, _ := e.Info()
			if strings.Contains(e.Name(), ".tmp") || (info.Mode().IsRegular() && info.Size() == 0) {
				t.Errorf("left behind %s (%d bytes)", e.Name(), info.Size())
			}
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
