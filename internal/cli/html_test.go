package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/report/html"
	"github.com/inferbench/inferbench/internal/rundir"
)

// readPage reads a page and checks it is self-contained.
func readPage(t *testing.T, path string) string {
	t.Helper()
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := html.CheckSelfContained(page); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return string(page)
}

// TestHTML_Commands runs a two-point sweep and checks every HTML output:
// each point's and the sweep's report.html, their regeneration with report
// --html (also of a run rebuilt from its event log), and compare --html of
// runs and of sweeps; then the usage errors.
func TestHTML_Commands(t *testing.T) {
	url := startMock(t, mockserver.Config{TTFT: 2 * time.Millisecond, OutputTokens: 4})
	base := shortDir(t)
	dir := filepath.Join(base, "sweep")
	code, stdout, stderr := runInferbench(t, "sweep", "--endpoint", url, "--model", "mock-model",
		"--rates", "20,40", "--arrival", "constant", "--synthetic", "20", "--output-len", "4",
		"--report-dir", dir, "--no-tui", "--slo", "ttft:p99<10s")
	if code != 0 {
		t.Fatalf("sweep: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if s := readPage(t, filepath.Join(dir, rundir.HTMLFile)); !strings.Contains(s, "inferbench sweep report") || !strings.Contains(s, "point-02-rate-40") {
		t.Error("the sweep's report.html lacks its points")
	}
	p1, p2 := filepath.Join(dir, "point-01-rate-20"), filepath.Join(dir, "point-02-rate-40")
	for _, p := range []string{p1, p2} {
		if s := readPage(t, rundir.HTML(p)); !strings.Contains(s, "What was measured") || !strings.Contains(s, "TTFT over time") {
			t.Errorf("%s: the run's report.html lacks its header or its time series", p)
		}
	}

	t.Run("report --html", func(t *testing.T) {
		if err := os.Remove(rundir.HTML(p1)); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := runInferbench(t, "report", p1, "--html")
		if code != 0 || strings.TrimSpace(out) != rundir.HTML(p1) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
		}
		readPage(t, rundir.HTML(p1))
		code, out, stderr = runInferbench(t, "report", dir, "--html")
		if code != 0 || strings.TrimSpace(out) != filepath.Join(dir, rundir.HTMLFile) {
			t.Fatalf("sweep: exit %d, stdout %q, stderr %q", code, out, stderr)
		}
	})
	t.Run("rebuilt", func(t *testing.T) {
		if err := os.Remove(rundir.Final(p2)); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := runInferbench(t, "report", p2, "--html")
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		if s := readPage(t, rundir.HTML(p2)); !strings.Contains(s, "Rebuilt from") {
			t.Error("the page of a rebuilt run does not say so")
		}
	})
	t.Run("compare runs", func(t *testing.T) {
		out := filepath.Join(base, "cmp.html")
		code, stdout, stderr := runInferbench(t, "compare", p1, p1, "--html", out)
		if code != 0 || !strings.Contains(stdout, "ttft p50") {
			t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
		}
		if s := readPage(t, out); !strings.Contains(s, "Distributions overlaid") || strings.Contains(s, ">significant<") {
			t.Error("the comparison page lacks its CDFs, or marks a run against itself")
		}
	})
	t.Run("compare sweeps", func(t *testing.T) {
		out := filepath.Join(base, "cmps.html")
		code, stdout, stderr := runInferbench(t, "compare", dir, dir, "--html", out)
		if code != 0 || !strings.Contains(stdout, "rate sweep, 2 points") {
			t.Fatalf("exit %d, stderr %q\n%s", code, stderr, stdout)
		}
		if s := readPage(t, out); !strings.Contains(s, "Curves overlaid") {
			t.Error("the sweep comparison page lacks its curves")
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"sweep without --html", []string{"report", dir}, "sweep directory"},
		{"html and json", []string{"report", p1, "--html", "--json"}, "one of --html and --json"},
		{"run and sweep", []string{"compare", p1, dir}, "not both"},
		{"bound on sweeps", []string{"compare", dir, dir, "--fail-on-regression", "ttft:p50:10%"}, "compares runs"},
		{"unwritable html", []string{"compare", p1, p1, "--html", filepath.Join(base, "nodir", "x.html")}, "--html"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runInferbench(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
				t.Errorf("exit %d, stderr %q; want 2 and one line naming %q", code, stderr, tc.want)
			}
		})
	}
}
