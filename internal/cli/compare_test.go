package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/cli"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
)

// compareRun writes a run directory whose final snapshot a real registry
// made: 1500 requests with a TTFT around ttftMS (±10 %).
func compareRun(t *testing.T, ttftMS float64) string {
	t.Helper()
	reg := metrics.NewRegistry()
	for name, v := range map[string]int64{"tracked_samples_issued": 1500, "tracked_samples_completed": 1500,
		"tracked_samples_failed": 0, "tracked_duration_ns": 5e9} {
		c, err := reg.NewCounter(name, false)
		if err != nil {
			t.Fatal(err)
		}
		c.Set(v)
	}
	d, _ := metrics.Lookup("ttft_ns")
	ttft, err := reg.NewSeries("ttft_ns", d.SeriesOpts())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1500 {
		ttft.Record(int64(ttftMS * 1e6 * (0.9 + 0.2*rng.Float64())))
	}
	snap := reg.Snapshot(metrics.StateComplete, 0, 1)
	dir := t.TempDir()
	if err := os.MkdirAll(rundir.Metrics(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rundir.Final(dir), snap.AppendJSON(nil), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func execCompare(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Execute(context.Background(), append([]string{"compare"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestCompareCommand(t *testing.T) {
	a, b := compareRun(t, 20), compareRun(t, 24)
	t.Run("self", func(t *testing.T) {
		code, out, stderr := execCompare(a, rundir.Final(a), "--fail-on-regression", "ttft:p50:10%")
		if code != 0 || !strings.Contains(out, "ttft p50") {
			t.Fatalf("exit %d, stderr %q\n%s", code, stderr, out)
		}
		for l := range strings.SplitSeq(out, "\n") {
			if strings.HasSuffix(strings.TrimSpace(l), "*") {
				t.Errorf("marked significant against itself: %q", l)
			}
		}
	})
	t.Run("slower", func(t *testing.T) {
		code, out, stderr := execCompare(a, b, "--fail-on-regression", "ttft:p50:10%", "--fail-on-regression", "qps:5%")
		if code != cli.ExitVerdict {
			t.Fatalf("exit %d, want %d; stderr %q\n%s", code, cli.ExitVerdict, stderr, out)
		}
		if !strings.Contains(out, "REGRESSION ttft:p50:10%") || strings.Contains(out, "REGRESSION qps") {
			t.Fatalf("wrong regressions:\n%s", out)
		}
		var ttftLine string
		for l := range strings.SplitSeq(out, "\n") {
			if strings.Contains(l, "ttft p50") {
				ttftLine = l
			}
		}
		if !strings.HasSuffix(strings.TrimSpace(ttftLine), "*") {
			t.Fatalf("ttft p50 not marked significant: %q", ttftLine)
		}
		if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "regression") {
			t.Fatalf("stderr %q: want one line naming the regression", stderr)
		}
	})
	t.Run("json", func(t *testing.T) {
		code, out, _ := execCompare("--json", a, b, a)
		var res struct {
			Runs []string `json:"runs"`
			Rows []struct {
				Name string `json:"name"`
				Runs []struct {
					RelDelta    *float64 `json:"rel_delta"`
					Significant bool     `json:"significant"`
				} `json:"runs"`
			} `json:"rows"`
			Pass bool `json:"pass"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 || !res.Pass || len(res.Runs) != 3 {
			t.Fatalf("exit %d err %v\n%s", code, err, out)
		}
		for _, r := range res.Rows {
			if r.Name == "ttft p50" && (!r.Runs[1].Significant || r.Runs[2].Significant || *r.Runs[2].RelDelta != 0) {
				t.Fatalf("ttft p50 cells wrong: %+v", r.Runs)
			}
		}
	})
}

func TestCompareBadInput(t *testing.T) {
	a := compareRun(t, 20)
	notSnap := filepath.Join(t.TempDir(), "x.json")
	if err := os.WriteFile(notSnap, []byte(`{"a":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"one run", []string{a}, "at least two runs"},
		{"missing dir", []string{a, filepath.Join(t.TempDir(), "nope")}, "does not exist"},
		{"not a snapshot", []string{a, notSnap}, "not a metrics snapshot"},
		{"malformed bound", []string{a, a, "--fail-on-regression", "ttft<=10%"}, "want METRIC:STAT:PCT"},
		{"unknown metric", []string{a, a, "--fail-on-regression", "bogus:p50:10%"}, "unknown metric"},
		{"bad percentage", []string{a, a, "--fail-on-regression", "ttft:p50:lots"}, "percentage"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := execCompare(tc.args...)
			if code != cli.ExitUsage || out != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q: want exit 2 and one line with %q", code, out, stderr, tc.want)
			}
		})
	}
}
