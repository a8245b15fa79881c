package config_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/config"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad_Example(t *testing.T) {
	cfg, err := config.Load(write(t, string(config.Example)))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Load.Mode != "poisson" || cfg.Load.TargetQPS != 10 || cfg.Metrics.PublishInterval != 250*time.Millisecond {
		t.Errorf("example decoded as %+v", cfg.Load)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("example does not validate: %v", err)
	}
}

func TestLoad_Errors(t *testing.T) {
	tests := []struct{ body, want string }{
		{"endpoint:\n  endpont: x\n", "endpont"},
		{"bogus: 1\n", "bogus"},
		{"load:\n  duration: fast\n", "line 2"},
		{"load: [1, 2\n", "c.yaml"},
	}
	for _, tc := range tests {
		_, err := config.Load(write(t, tc.body))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: err %v, want one line naming %q", tc.body, err, tc.want)
		}
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestMarshal_RedactsHeaders(t *testing.T) {
	cfg := config.Default()
	cfg.Endpoint.Headers = map[string]string{"Authorization": "Bearer secret"}
	data, err := cfg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "secret") {
		t.Errorf("secret written:\n%s", data)
	}
	back, err := config.Load(write(t, string(data)))
	if err != nil {
		t.Fatalf("resolved config does not load back: %v", err)
	}
	if back.Endpoint.MaxConnections != cfg.Endpoint.MaxConnections {
		t.Error("round trip lost a value")
	}
}

// TestLeaf keeps config a leaf: it imports no other package of the module,
// so that every package may read it and it depends on none (the consumers
// convert it; see bench).
func TestLeaf(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if strings.Contains(imp.Path.Value, "github.com/inferbench/inferbench/") {
				t.Errorf("%s imports %s: config must import no package of inferbench", name, imp.Path.Value)
			}
		}
	}
}
