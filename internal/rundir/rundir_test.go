package rundir_test

import (
	"path/filepath"
	"testing"

	"github.com/inferbench/inferbench/internal/rundir"
)

func TestPaths(t *testing.T) {
	dir := filepath.Join("reports", "run1")
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"config", rundir.Config(dir), "reports/run1/config.yaml"},
		{"requests", rundir.Requests(dir), "reports/run1/requests.jsonl"},
		{"events", rundir.Events(dir), "reports/run1/events.jsonl.zst"},
		{"metrics", rundir.Metrics(dir), "reports/run1/metrics"},
		{"final", rundir.Final(dir), "reports/run1/metrics/final_snapshot.json"},
		{"raw", rundir.Raw(dir), "reports/run1/metrics/raw"},
		{"server", rundir.ServerMetrics(dir), "reports/run1/metrics/server.jsonl"},
		{"summary", rundir.Summary(dir), "reports/run1/result_summary.json"},
		{"text", rundir.Text(dir), "reports/run1/report.txt"},
		{"html", rundir.HTML(dir), "reports/run1/report.html"},
	}
	for _, tc := range tests {
		if tc.got != filepath.FromSlash(tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestArtifacts(t *testing.T) {
	got := rundir.Artifacts()
	want := []string{"config.yaml", filepath.FromSlash("metrics/final_snapshot.json"), filepath.FromSlash("metrics/timeseries.jsonl"), filepath.FromSlash("metrics/server.jsonl"), "requests.jsonl", "events.jsonl.zst",
		"events.jsonl", "result_summary.json", "report.txt", "report.html"}
	if len(got) != len(want) {
		t.Fatalf("Artifacts() = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Artifacts()[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	for _, a := range got {
		if a == rundir.SocketFile {
			t.Error("the socket is not a run artifact: a stale one proves nothing")
		}
		if a == rundir.HolderFile {
			t.Error("the lock holder's note is not a run artifact: a stale one proves nothing")
		}
	}
}
