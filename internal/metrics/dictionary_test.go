package metrics_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/metrics"
)

// consumers are the packages that register or read metrics by name: each one
// must name metrics only through the dictionary's constants.
var consumers = []string{"aggregator", "bench", "cli", "eventlog", "promexport", "report", filepath.Join("report", "html"), "sweep", "timeseries", "tui", "verdict", "compare"}

// notMetricNames are consumer files whose names only look like metric names:
// eventlog's export columns are per-request fields (ttft_ns of one request),
// a file format of their own.
var notMetricNames = map[string]bool{filepath.Join("..", "eventlog", "export.go"): true}

// TestDictionary_Table checks the table itself: unique names, every entry
// described, units that agree with the names, and every name constant of
// dictionary.go in the table (a constant added without its entry fails).
func TestDictionary_Table(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range metrics.Dictionary() {
		if seen[d.Name] {
			t.Errorf("%q is in the dictionary twice", d.Name)
		}
		seen[d.Name] = true
		if d.Title == "" || d.Label == "" || d.Help == "" || d.Unit == "" {
			t.Errorf("%q: title, label, help and unit are all required: %+v", d.Name, d)
		}
		if d.Kind != metrics.KindCounter && d.Kind != metrics.KindSeries && d.Kind != metrics.KindDerived {
			t.Errorf("%q: kind %v", d.Name, d.Kind)
		}
		// Prometheus and the dashboard read the unit; the _ns suffix is
		// what other tools (the Python tool's reports) go by.
		if ns := strings.HasSuffix(d.Name, "_ns"); ns != (d.Unit == metrics.UnitNanoseconds) {
			t.Errorf("%q: unit %s disagrees with the _ns suffix", d.Name, d.Unit)
		}
		if d.Family != strings.HasSuffix(d.Name, ".") {
			t.Errorf("%q: a family, and only a family, ends in '.'", d.Name)
		}
		if d.Kind == metrics.KindSeries && (d.DisplayUnit == "" || d.DisplayScale == 0) {
			t.Errorf("%q: a series needs a display unit and scale for the report", d.Name)
		}
		if got, ok := metrics.Lookup(d.Name); !ok || got.Name != d.Name {
			t.Errorf("Lookup(%q) = %+v, %v", d.Name, got, ok)
		}
	}
	for name, value := range dictionaryConsts(t) {
		if !seen[value] && !isFinishReasonPrefix(value) {
			t.Errorf("constant %s = %q has no entry in the dictionary table", name, value)
		}
	}
	for _, r := range metrics.FinishReasons {
		if !seen[metrics.FinishReasonPrefix+r] {
			t.Errorf("finish reason %q has no counter in the dictionary", r)
		}
	}
}

func isFinishReasonPrefix(v string) bool { return v == metrics.FinishReasonPrefix }

// TestVetName checks the registry guard the aggregator installs: dictionary
// names and family members pass, anything else is refused at registration.
func TestVetName(t *testing.T) {
	reg := metrics.NewRegistry()
	reg.Vet = metrics.VetName
	for _, name := range []string{metrics.TotalIssued, metrics.ErrorCounterPrefix + "timeout", metrics.OtherErrorCounterPrefix + "DecodeError"} {
		if _, err := reg.NewCounter(name, false); err != nil {
			t.Errorf("NewCounter(%q): %v", name, err)
		}
	}
	if _, err := reg.NewSeries(metrics.SeriesTTFT, metrics.SeriesOpts{}); err != nil {
		t.Errorf("NewSeries(ttft_ns): %v", err)
	}
	for _, name := range []string{"bad_frames_typo", metrics.ErrorCounterPrefix, metrics.QPSName, "errors"} {
		if _, err := reg.NewCounter(name, false); !errors.Is(err, metrics.ErrUnknownMetric) {
			t.Errorf("NewCounter(%q) = %v, want ErrUnknownMetric", name, err)
		}
	}
	if _, err := reg.NewSeries("decode_ns", metrics.SeriesOpts{}); !errors.Is(err, metrics.ErrUnknownMetric) {
		t.Errorf("NewSeries(decode_ns) = %v, want ErrUnknownMetric", err)
	}
	if n := len(reg.Counters()) + len(reg.SeriesList()); n != 4 {
		t.Errorf("%d metrics registered, want the 4 known ones", n)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name   string
		want   string // the entry's name; "" = unknown
		family bool
		class  string
	}{
		{metrics.SeriesTTFT, metrics.SeriesTTFT, false, ""},
		{metrics.TrackedDuration, metrics.TrackedDuration, false, ""},
		{"errors.timeout", metrics.ErrorCounterPrefix, true, "timeout"},
		{"warmup_errors.http_503", metrics.WarmupErrorCounterPrefix, true, "http_503"},
		{"other_errors.DecodeError", metrics.OtherErrorCounterPrefix, true, "DecodeError"},
		{metrics.ErrorCounterPrefix, metrics.ErrorCounterPrefix, true, ""},
		{metrics.QPSName, metrics.QPSName, false, ""},
		{"ttft", "", false, ""},
		{"errors", "", false, ""},
		{"sample_latency_ms", "", false, ""},
	}
	for _, tc := range tests {
		d, ok := metrics.Lookup(tc.name)
		if ok != (tc.want != "") || d.Name != tc.want || d.Family != tc.family {
			t.Errorf("Lookup(%q) = %q family %v, %v; want %q family %v", tc.name, d.Name, d.Family, ok, tc.want, tc.family)
		}
		if metrics.Known(tc.name) != ok {
			t.Errorf("Known(%q) disagrees with Lookup", tc.name)
		}
		_, class, isMember := metrics.Class(tc.name)
		if class != tc.class || isMember != (tc.class != "") {
			t.Errorf("Class(%q) = %q, %v; want %q", tc.name, class, isMember, tc.class)
		}
	}
	if got := metrics.Title(metrics.SeriesISL); got != "Input sequence lengths" {
		t.Errorf("Title(isl) = %q", got)
	}
	if got := metrics.Label("no_such_metric"); got != "no_such_metric" {
		t.Errorf("Label of an unknown name = %q, want the name", got)
	}
	if o := (metrics.Desc{Unit: metrics.UnitTokens}).SeriesOpts(); o.Low != metrics.TokenLow || o.High != metrics.TokenHigh {
		t.Errorf("token series opts %+v", o)
	}
	if d, _ := metrics.Lookup(metrics.SeriesTPOT); !d.SeriesOpts().Float || d.SeriesOpts().High != metrics.TimeHigh {
		t.Errorf("tpot series opts %+v", d.SeriesOpts())
	}
}

// TestDictionary_Consumers scans the source of every consumer package and
// fails when one names a metric other than through the dictionary: a string
// literal that is a dictionary name, a literal passed where a metric name is
// expected, a literal that looks like a metric name the dictionary does not
// know, or a metrics constant that is not a dictionary name.
func TestDictionary_Consumers(t *testing.T) {
	consts := dictionaryConsts(t)
	n := 0
	for _, pkg := range consumers {
		files, err := filepath.Glob(filepath.Join("..", pkg, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("consumer package %s: no source (%v)", pkg, err)
		}
		srcs := map[string][]byte{}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") || notMetricNames[f] {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			srcs[f] = src
		}
		local := localConsts(t, srcs)
		for f, src := range srcs {
			for _, p := range scanSource(t, f, src, consts, local) {
				t.Error(p)
			}
			n++
		}
	}
	if n < len(consumers) {
		t.Fatalf("scanned %d files", n)
	}
}

// TestScanSource proves the consumer scan catches each way of naming a
// metric outside the dictionary, and passes the dictionary's own ways.
func TestScanSource(t *testing.T) {
	consts := dictionaryConsts(t)
	// A name constant declared without its table entry.
	consts["Undescribed"] = "undescribed_total"
	tests := []struct {
		name, body string
		problems   int
	}{
		{"constant", `var _ = s.CounterInt(metrics.TrackedIssued)`, 0},
		{"family", `var _ = metrics.ErrorCounterPrefix + class`, 0},
		{"literal known name", `var _ = s.CounterInt("tracked_samples_issued")`, 1},
		{"literal known name elsewhere", `const mine = "ttft_ns"`, 1},
		{"literal family prefix", `var _ = strings.HasPrefix(n, "errors.")`, 1},
		{"literal unknown name in a lookup", `var _, _ = s.Find("queue_depth")`, 1},
		{"literal prefix in a registration", `var _, _ = reg.NewCounter("my_errors." + class, false)`, 1},
		{"looks like a duration metric", `var names = []string{"decode_time_ns"}`, 1},
		{"looks like a sample counter", `var x = "tracked_samples_retried"`, 1},
		{"metrics constant outside the table", `var _ = s.CounterInt(metrics.Undescribed)`, 1},
		{"a consumer's own name constant", "const queueDepth = \"queue_depth\"\n\nvar _, _ = reg.NewCounter(queueDepth, false)", 1},
		{"a consumer's own prefix constant", "const mine = \"mine.\"\n\nvar _ = s.CounterInt(mine + class)", 1},
		{"a variable name", `var _ = s.CounterInt(name)`, 0},
		{"struct tag", "type R struct { Q float64 `json:\"qps\"` }", 0},
		{"plain words", `var _ = fmt.Sprintf("%d samples, %s", n, "osl tokens")`, 0},
		{"log keys", `func f() { log.Error("duplicate", "first_ns", a, "duplicate_ns", b) }`, 0},
		{"a flag set's Lookup", `var _ = fs.Lookup("no-tui")`, 0},
		{"metrics.Lookup of a literal", `var _, _ = metrics.Lookup("no-tui")`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := "package x\n\nimport \"github.com/inferbench/inferbench/internal/metrics\"\n\n" + tc.body + "\n"
			srcs := map[string][]byte{"x.go": []byte(src)}
			got := scanSource(t, "x.go", []byte(src), consts, localConsts(t, srcs))
			if len(got) != tc.problems {
				t.Errorf("%d problems, want %d: %q", len(got), tc.problems, got)
			}
		})
	}
}

// dictionaryConsts maps the string constants of dictionary.go to their
// values, read from the source.
func dictionaryConsts(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "dictionary.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if vs.Type != nil { // typed: units and kinds, not names
				continue
			}
			for i, id := range vs.Names {
				if i < len(vs.Values) {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						out[id.Name], _ = strconv.Unquote(lit.Value)
					}
				}
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("dictionary.go declares %d name constants: parse broken", len(out))
	}
	return out
}

// metricLike matches literals shaped like the aggregator's names: an
// identifier with underscores that ends in _ns, starts with a sample-counter
// prefix, or is a family prefix ending in '.'.
var metricLike = regexp.MustCompile(`^([a-z][a-z0-9]*_)+ns$|^(total|tracked)_[a-z0-9_]+$|^[a-z][a-z0-9_]*_(errors|reason)[._]?[a-z0-9_]*$|^[a-z][a-z0-9_]*errors\.$`)

// nameMethods are the methods (of a snapshot or a registry) and nameFuncs
// the metrics functions whose first argument is a metric name.
var (
	nameMethods = []string{"Find", "CounterInt", "NewCounter", "NewSeries"}
	nameFuncs   = []string{"Lookup", "Known", "Title", "Label", "Class"}
)

// logMethods take key/value pairs (log/slog): their keys are not metric
// names even when they end in _ns.
var logMethods = []string{"Debug", "Info", "Warn", "Error", "Log", "With"}

// localConsts returns the package-level string constants of a consumer
// package's files.
func localConsts(t *testing.T, srcs map[string][]byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	fset := token.NewFileSet()
	for path, src := range srcs {
		f, err := parser.ParseFile(fset, path, src, 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, decl := range f.Decls {
			if g, ok := decl.(*ast.GenDecl); ok && g.Tok == token.CONST {
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, id := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								out[id.Name] = true
							}
						}
					}
				}
			}
		}
	}
	return out
}

// scanSource returns the problems of one consumer source file; local holds
// the string constants its package declares.
func scanSource(t *testing.T, path string, src []byte, consts map[string]string, local map[string]bool) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, 0)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	known := map[string]bool{}
	for _, d := range metrics.Dictionary() {
		known[d.Name] = true
	}
	metricsName := ""
	for _, im := range f.Imports {
		if p, _ := strconv.Unquote(im.Path.Value); strings.HasSuffix(p, "/internal/metrics") {
			metricsName = "metrics"
			if im.Name != nil {
				metricsName = im.Name.Name
			}
		}
	}
	var problems []string
	report := func(n ast.Node, format string, args ...any) {
		problems = append(problems, fset.Position(n.Pos()).String()+": "+fmt.Sprintf(format, args...))
	}
	tags := map[*ast.BasicLit]bool{}    // struct tags
	logKeys := map[*ast.BasicLit]bool{} // log/slog arguments
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.Field:
			if n.Tag != nil {
				tags[n.Tag] = true
			}
		case *ast.BasicLit:
			if n.Kind != token.STRING || tags[n] || logKeys[n] {
				return true
			}
			v, err := strconv.Unquote(n.Value)
			if err != nil {
				return true
			}
			switch {
			case known[v]:
				report(n, "metric %q named by a literal: use its metrics constant", v)
			case metricLike.MatchString(v):
				report(n, "%q looks like a metric name the metric dictionary does not know", v)
			}
		case *ast.CallExpr:
			fn, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			name := fn.Sel.Name
			pkg, _ := fn.X.(*ast.Ident)
			isMetricsFunc := pkg != nil && metricsName != "" && pkg.Name == metricsName && slices.Contains(nameFuncs, name)
			if slices.Contains(logMethods, name) {
				for _, a := range n.Args {
					if lit, ok := a.(*ast.BasicLit); ok {
						logKeys[lit] = true
					}
				}
				return true
			}
			if !isMetricsFunc && !slices.Contains(nameMethods, name) || len(n.Args) == 0 {
				return true
			}
			if id := leftmostIdent(n.Args[0]); id != nil && local[id.Name] {
				report(id, "%s names a metric by %s, a constant declared outside the metric dictionary", name, id.Name)
			}
			if lit := leftmostLiteral(n.Args[0]); lit != nil {
				v, _ := strconv.Unquote(lit.Value)
				if !known[v] && !metricLike.MatchString(v) { // else reported as a literal
					report(lit, "%s names metric %q by a literal: names come from the metric dictionary", name, v)
				}
			}
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok && metricsName != "" && x.Name == metricsName {
				if v, ok := consts[n.Sel.Name]; ok && !known[v] && v != metrics.FinishReasonPrefix {
					report(n, "metrics.%s = %q is not in the dictionary table", n.Sel.Name, v)
				}
			}
		}
		return true
	})
	return problems
}

// leftmostIdent returns the identifier that starts expr (prefix + class),
// or nil.
func leftmostIdent(expr ast.Expr) *ast.Ident {
	for {
		switch e := expr.(type) {
		case *ast.Ident:
			return e
		case *ast.BinaryExpr:
			expr = e.X
		case *ast.ParenExpr:
			expr = e.X
		default:
			return nil
		}
	}
}

// leftmostLiteral returns the string literal that starts expr ("x." + y),
// or nil.
func leftmostLiteral(expr ast.Expr) *ast.BasicLit {
	for {
		switch e := expr.(type) {
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				return e
			}
			return nil
		case *ast.BinaryExpr:
			expr = e.X
		case *ast.ParenExpr:
			expr = e.X
		default:
			return nil
		}
	}
}
