package cli_test

import (
	"encoding/pem"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
)

// TestBenchmark_TLS runs benchmarks against the mock server over TLS on
// 127.0.0.1, with a certificate no system trusts: the run succeeds with
// --tls-ca (the server's CA bundle) or --insecure-skip-verify, and without
// either every request fails with error class tls. A CA file that is
// missing or not PEM is a one-line error naming it, exit 2.
func TestBenchmark_TLS(t *testing.T) {
	srv, err := mockserver.New(mockserver.Config{OutputTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
	ts.StartTLS()
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name     string
		args     []string
		code     int
		class    string // of every request; "" for success
		inStderr string // in the one-line error
	}{
		{"with the CA", []string{"--tls-ca", ca}, 0, "", ""},
		{"skip verify", []string{"--insecure-skip-verify"}, 0, "", ""},
		{"no CA", nil, 1, "tls", ""},
		{"missing CA file", []string{"--tls-ca", missing}, 2, "", missing},
		{"CA file not PEM", []string{"--tls-ca", notPEM}, 2, "", notPEM},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			run := filepath.Join(shortDir(t), "run")
			args := append([]string{"benchmark", "offline", "--endpoint", ts.URL, "--model", "mock-model",
				"--synthetic", "8", "--report-dir", run, "--no-tui"}, tc.args...)
			code, stdout, stderr := runInferbench(t, args...)
			if code != tc.code {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			if tc.code == 2 {
				line := strings.TrimSpace(stderr)
				if !strings.Contains(line, tc.inStderr) || strings.Count(line, "\n") > 0 {
					t.Errorf("stderr %q, want one line naming %s", stderr, tc.inStderr)
				}
				return
			}
			reqs, err := eventlog.ReadRequests(filepath.Join(run, rundir.RequestsFile))
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs.Requests) != 8 {
				t.Errorf("%d requests logged, want 8", len(reqs.Requests))
			}
			for _, r := range reqs.Requests {
				if r.Err != tc.class {
					t.Errorf("request %s: error class %q (%s), want %q", r.ID, r.Err, r.Msg, tc.class)
				}
			}
		})
	}
}
