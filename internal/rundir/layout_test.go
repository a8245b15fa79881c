package rundir_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/rundir"
)

// TestLayoutHasOneHome fails when code outside this package spells a run
// directory file name as a literal instead of using the rundir constants and
// helpers, so the layout stays defined in one place. ("metrics", the
// directory, is also a common word and is not checked.)
func TestLayoutHasOneHome(t *testing.T) {
	names := map[string]bool{}
	for _, n := range []string{rundir.ConfigFile, rundir.RequestsFile, rundir.EventsFile, rundir.LegacyEventsFile, rundir.FinalFile,
		rundir.SummaryFile, rundir.TextFile, rundir.HTMLFile, rundir.SocketFile, rundir.ServerMetricsFile,
		rundir.HolderFile} {
		names[n] = true
	}
	dirs, err := filepath.Glob(filepath.Join("..", "*"))
	if err != nil {
		t.Fatal(err)
	}
	dirs = append(dirs, filepath.Join("..", "..", "cmd", "inferbench"))
	files := 0
	for _, dir := range dirs {
		if filepath.Base(dir) == "rundir" {
			continue
		}
		srcs, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, path := range srcs {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			files++
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range literalNames(t, path, src, names) {
				t.Error(p)
			}
		}
	}
	if files < 20 {
		t.Fatalf("scanned %d source files: the walk is broken", files)
	}
}

// TestLiteralNames proves the scan catches a spelled-out file name.
func TestLiteralNames(t *testing.T) {
	names := map[string]bool{rundir.SummaryFile: true}
	src := "package x\n\nvar a = filepath.Join(dir, \"result_summary.json\")\nvar b = rundir.Summary(dir)\n"
	if got := literalNames(t, "x.go", []byte(src), names); len(got) != 1 {
		t.Errorf("problems %q, want exactly the literal", got)
	}
}

func literalNames(t *testing.T, path string, src []byte, names map[string]bool) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if v, err := strconv.Unquote(lit.Value); err == nil && names[v] {
				out = append(out, fset.Position(lit.Pos()).String()+": run directory file "+strconv.Quote(v)+" spelled out: use package rundir")
			}
		}
		return true
	})
	return out
}
