package html_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/compare"
	"github.com/inferbench/inferbench/internal/report/html"
)

// chromium finds a headless-capable Chromium. Without one, the browser test
// fails in CI (scripts/deps.sh --test installs the Debian package chromium)
// and skips, loudly, elsewhere.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "NO BROWSER: the HTML report was not rendered in a browser: install Chromium (Debian: apt-get install chromium, or ./scripts/deps.sh --test)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// artifacts is where the screenshots go: $INFERBENCH_TEST_ARTIFACTS when
// set (CI uploads it), else the test's temporary directory.
func artifacts(t *testing.T) string {
	if d := os.Getenv("INFERBENCH_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

var statusRe = regexp.MustCompile(`<body[^>]*\s` + html.StatusAttr + `="([^"]*)"`)

// render opens page in headless Chromium once, returning the status its
// script left on <body> (ok, or error: …) and writing a screenshot.
func render(t *testing.T, browser string, page []byte, shot string) string {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	if err := os.WriteFile(file, page, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
		"--no-first-run", "--user-data-dir="+filepath.Join(dir, "profile"), "--window-size=1280,2000",
		"--dump-dom", "--screenshot="+shot, "file://"+file)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", browser, err, stderr.Bytes())
	}
	m := statusRe.FindSubmatch(stdout.Bytes())
	if m == nil {
		t.Fatalf("the rendered DOM has no <body %s>: %.500s\nstderr: %s", html.StatusAttr, stdout.Bytes(), stderr.Bytes())
	}
	st, err := os.Stat(shot)
	if err != nil || st.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, st.Size())
	return string(m[1])
}

// TestBrowser_PagesRender renders the run, sweep and comparison pages in
// headless Chromium: each page's script runs to the end with no error, and
// a screenshot of each is kept. A page with a script error is caught, so
// the check can fail.
func TestBrowser_PagesRender(t *testing.T) {
	browser := chromium(t)
	out := artifacts(t)
	run := html.RenderRun(loadRun(t, filepath.Join("testdata", "run1")))
	sw, err := html.LoadSweep(filepath.Join("testdata", "sweep"))
	if err != nil {
		t.Fatal(err)
	}
	var runs []compare.Run
	for _, d := range []string{"run1", "run2"} {
		r, err := compare.Load(filepath.Join("testdata", d))
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	res, err := compare.Compare(runs, nil)
	if err != nil {
		t.Fatal(err)
	}
	broken := bytes.Replace(run, []byte("</main>"), []byte("<script>undefinedFunction()</script></main>"), 1)
	cases := []struct {
		name, want string
		page       []byte
	}{
		{"run", "ok", run},
		{"sweep", "ok", html.RenderSweep(sw)},
		{"compare", "ok", html.RenderCompare(res, runs)},
		{"broken", "error: ", broken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, browser, tc.page, filepath.Join(out, "report-"+tc.name+".png"))
			if tc.want == "ok" && got != "ok" || tc.want != "ok" && !bytes.HasPrefix([]byte(got), []byte(tc.want)) {
				t.Errorf("status %q, want %q", got, tc.want)
			}
		})
	}
}
