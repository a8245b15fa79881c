package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestBenchmarkFlags_ServerMetrics: --server-metrics given replaces the
// file's list, and repeats add to each other.
func TestBenchmarkFlags_ServerMetrics(t *testing.T) {
	file := filepath.Join(t.TempDir(), "run.yaml")
	yaml := "endpoint: {endpoint: http://x:1}\ndataset: {synthetic: {n: 1, input: \"4\", output: \"4\"}}\n" +
		"metrics: {server_metrics: [http://file:1/metrics, http://file:2/metrics]}\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"http://file:1/metrics", "http://file:2/metrics"}},
		{[]string{"--server-metrics", "off"}, []string{"off"}},
		{[]string{"--server-metrics", "http://a/metrics", "--server-metrics", "http://b/metrics"}, []string{"http://a/metrics", "http://b/metrics"}},
	} {
		got, err := resolve(t, "offline", append([]string{"--config", file}, tc.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Metrics.ServerMetrics, tc.want) {
			t.Errorf("%q: server_metrics %q, want %q", tc.args, got.Metrics.ServerMetrics, tc.want)
		}
	}
}
