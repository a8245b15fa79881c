package cli_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// summary is the part of result_summary.json the verdict tests read.
type summary struct {
	Warnings []string `json:"warnings"`
	Goodput  *struct {
		Good      int64   `json:"n_samples_good"`
		Ratio     float64 `json:"ratio"`
		PerSecond float64 `json:"goodput"`
		GoodTPS   float64 `json:"good_tps"`
	} `json:"goodput"`
	Verdict *struct {
		Pass bool `json:"pass"`
		SLO  []struct {
			Expr        string   `json:"expr"`
			Pass        bool     `json:"pass"`
			Measured    *float64 `json:"measured"`
			PassAtBound *bool    `json:"pass_at_bound"`
		} `json:"slo"`
		Load *struct {
			Delivered bool `json:"delivered"`
		} `json:"load"`
	} `json:"verdict"`
	Metrics []struct {
		Name        string `json:"name"`
		Percentiles []struct {
			Key  string      `json:"key"`
			CI95 *[2]float64 `json:"ci95"`
		} `json:"percentiles"`
		EarlyStopping map[string]*float64 `json:"early_stopping_percentiles"`
	} `json:"metrics"`
}

func readSummary(t *testing.T, dir string) summary {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "result_summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s summary
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("result_summary.json: %v", err)
	}
	return s
}

// Against a server whose TTFT is 30 ms, ttft:p99<=X exits 0 when X is above
// it and 3 when below; the report lists the threshold with its verdict,
// and every percentile carries its confidence interval.
func TestBenchmark_SLOExitCode(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 30 * time.Millisecond, OutputTokens: 4})
	for _, tc := range []struct {
		slo  string
		code int
		pass bool
	}{
		{"ttft:p99<=2s", 0, true},
		{"ttft:p99<=10ms", 3, false},
	} {
		t.Run(tc.slo, func(t *testing.T) {
			dir := filepath.Join(shortDir(t), "run")
			code, stdout, stderr := runInferbench(t, "benchmark", "offline", "--endpoint", url, "--synthetic", "100",
				"--output-len", "4", "--max-in-flight", "20", "--no-tui", "--report-dir", dir,
				"--slo", tc.slo, "--slo", "error_rate<=1%")
			if code != tc.code {
				t.Fatalf("exit code %d, want %d\nstderr:\n%s", code, tc.code, stderr)
			}
			if !strings.Contains(stdout, "SLOs:") || !strings.Contains(stdout, tc.slo) {
				t.Errorf("the text report lists no SLO table:\n%s", stdout)
			}
			if !tc.pass && !strings.Contains(stderr, "SLO failed: "+tc.slo) {
				t.Errorf("stderr does not name the failed SLO:\n%s", stderr)
			}
			s := readSummary(t, dir)
			if s.Verdict == nil || s.Verdict.Pass != tc.pass || len(s.Verdict.SLO) != 2 {
				t.Fatalf("verdict %+v, want pass=%v with 2 SLOs", s.Verdict, tc.pass)
			}
			c := s.Verdict.SLO[0]
			if c.Pass != tc.pass || c.Measured == nil || *c.Measured < 30e6 || c.PassAtBound == nil {
				t.Errorf("check %+v: want pass=%v, measured ≥ 30 ms, and a verdict at the bound", c, tc.pass)
			}
			if !s.Verdict.SLO[1].Pass {
				t.Errorf("error_rate<=1%% failed: %+v", s.Verdict.SLO[1])
			}
			var ttft bool
			for _, m := range s.Metrics {
				for _, p := range m.Percentiles {
					if p.CI95 == nil {
						t.Errorf("%s p%s has no confidence interval", m.Name, p.Key)
					}
				}
				if m.Name == "ttft_ns" {
					ttft = true
					// 100 samples: enough for p50 and p90 (64), not for p99 (662).
					if es := m.EarlyStopping; es["50.0"] == nil || es["90.0"] == nil || es["99.0"] != nil {
						t.Errorf("ttft early-stopping estimates %v: want p50 and p90, p99 null", es)
					}
				}
			}
			if !ttft {
				t.Error("no ttft_ns section")
			}
			// inferbench report judges the run again from its config.yaml.
			if code, out, errOut := runInferbench(t, "report", dir); code != 0 || !strings.Contains(out, "SLOs:") ||
				!strings.Contains(out, tc.slo) {
				t.Errorf("report %s: exit %d, no SLO table:\n%s%s", dir, code, out, errOut)
			}
			// The live snapshots are kept as a time series, the terminal one last.
			if n := validLines(t, filepath.Join(dir, "metrics", "timeseries.jsonl")); n < 1 {
				t.Error("metrics/timeseries.jsonl is empty")
			}
		})
	}
}

// 30 % of the requests have a slow TTFT: the goodput ratio with a TTFT bound
// between the fast and the slow TTFT is 70 % ± 2 %. (The mock draws the slow
// ones per request number from its seed: with seed 6, 178 of the first 600.)
func TestBenchmark_Goodput(t *testing.T) {
	url := startMock(t, mockserver.Config{SlowRate: 0.3, SlowTTFT: time.Second, OutputTokens: 4, Seed: 6})
	dir := filepath.Join(shortDir(t), "run")
	const n = 600
	code, stdout, stderr := runInferbench(t, "benchmark", "online", "--endpoint", url, "--synthetic", "600",
		"--target-qps", "300", "--arrival", "constant", "--output-len", "4", "--no-tui", "--report-dir", dir,
		"--goodput", "ttft<=500ms,latency<=10s", "--slo", "goodput_ratio>=60%")
	if code != 0 {
		t.Fatalf("exit code %d\nstderr:\n%s", code, stderr)
	}
	s := readSummary(t, dir)
	g := s.Goodput
	if g == nil {
		t.Fatal("no goodput in result_summary.json")
	}
	if math.Abs(g.Ratio-0.70) > 0.02 || float64(g.Good)/n != g.Ratio {
		t.Errorf("goodput ratio %v (%d of %d good), want 0.70 ± 0.02", g.Ratio, g.Good, n)
	}
	if !(g.PerSecond > 0) || math.Abs(g.GoodTPS-4*g.PerSecond) > 1e-6*g.GoodTPS {
		t.Errorf("goodput %v req/s, %v good tokens/s: want positive, 4 tokens per good request", g.PerSecond, g.GoodTPS)
	}
	if !strings.Contains(stdout, "Goodput (ttft<=500ms,latency<=10s)") {
		t.Errorf("the text report has no goodput line:\n%s", stdout)
	}
}

// Bad SLO or goodput input is a one-line usage error naming it (exit 2),
// from a flag or from the config file.
func TestBenchmark_BadVerdictInput(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(cfgFile, []byte("slo: [\"latency:p99<=fast\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"benchmark", "offline", "--endpoint", "http://127.0.0.1:9", "--synthetic", "1", "--no-tui"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--slo", "ttft:p99<200"}, `"ttft:p99<200"`},
		{[]string{"--slo", "tftt:p99<=1s"}, `unknown metric "tftt"`},
		{[]string{"--slo", "ttft:p98<=1s"}, "not on the grid"},
		{[]string{"--slo", "ttft<=1s"}, "needs a statistic"},
		{[]string{"--slo", "bogus>=3"}, `unknown metric "bogus"`},
		{[]string{"--goodput", "ttft<200ms"}, "bad goodput rule"},
		{[]string{"--goodput", "itl<=1s"}, `unknown bound "itl"`},
		{[]string{"--config", cfgFile}, `slo[0]: bad SLO "latency:p99<=fast"`},
	} {
		code, _, stderr := runInferbench(t, append(base, tc.args...)...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line containing %q", tc.args, code, stderr, tc.want)
		}
	}
}

// A lateness bound no scheduler meets: the run is flagged "load not
// delivered", and fails with exit 3 only under --strict-load.
func TestBenchmark_StrictLoad(t *testing.T) {
	url := startMock(t, mockserver.Config{OutputTokens: 2})
	for _, strict := range []bool{false, true} {
		dir := filepath.Join(shortDir(t), "run")
		args := []string{"benchmark", "online", "--endpoint", url, "--synthetic", "100", "--output-len", "2",
			"--target-qps", "500", "--no-tui", "--report-dir", dir, "--max-lateness", "1ns"}
		want := 0
		if strict {
			args, want = append(args, "--strict-load"), 3
		}
		code, stdout, stderr := runInferbench(t, args...)
		if code != want {
			t.Fatalf("strict %v: exit code %d, want %d\nstderr:\n%s", strict, code, want, stderr)
		}
		if !strings.Contains(stdout, "WARNING: load not delivered") {
			t.Errorf("strict %v: no load warning in the report:\n%s", strict, stdout)
		}
		if s := readSummary(t, dir); s.Verdict == nil || s.Verdict.Load == nil || s.Verdict.Load.Delivered {
			t.Errorf("strict %v: result_summary.json verdict %+v, want load not delivered", strict, s.Verdict)
		}
	}
}
