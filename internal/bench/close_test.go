package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/bench"
)

// TestClose checks that Close releases what New and Open acquired even when
// the run never starts: the snapshot socket's file, and the temporary directory that
// holds the socket when the run directory's path is too long for one. Close
// is idempotent, and Run after Close fails.
func TestClose(t *testing.T) {
	tests := []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"socket in the run directory", func(t *testing.T) string { return shortDir(t) }},
		{"socket in a temporary directory", func(t *testing.T) string {
			return filepath.Join(t.TempDir(), strings.Repeat("long-path-", 12))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t, "http://127.0.0.1:1")
			cfg.ReportDir = tc.dir(t)
			r, err := bench.New(cfg, synthetic(t, 1), nil, quiet())
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Open(); err != nil {
				t.Fatal(err)
			}
			sock := strings.TrimPrefix(r.MetricsAddr(), "ipc://")
			if _, err := os.Stat(sock); err != nil {
				t.Fatalf("socket %s not bound: %v", sock, err)
			}
			if err := r.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if _, err := os.Stat(sock); !os.IsNotExist(err) {
				t.Errorf("socket %s left behind (%v)", sock, err)
			}
			if d := filepath.Dir(sock); d != cfg.ReportDir {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Errorf("temporary socket directory %s left behind (%v)", d, err)
				}
			}
			if err := r.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if out, err := r.Run(context.Background()); err == nil || out != nil {
				t.Errorf("Run after Close: %v, %v; want an error", out, err)
			}
		})
	}
}
