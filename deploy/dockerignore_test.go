package deploy_test

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dockerignore reads ../.dockerignore's patterns. Negations ("!pattern")
// would need the full matching rules of Docker's pattern matcher; the file
// has none, and the test says so if one appears.
func dockerignore(t *testing.T) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pats []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.HasPrefix(p, "!") {
			t.Fatalf(".dockerignore: %q: this test does not model negations; extend ignored()", p)
		}
		pats = append(pats, strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/"))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return pats
}

// ignored reports whether the slash-separated path rel is left out of the
// build context: a pattern matches the path or one of its parent
// directories, and a leading "**/" matches at any depth (zero included).
func ignored(pats []string, rel string) bool {
	parts := strings.Split(rel, "/")
	for _, p := range pats {
		anyDepth := strings.HasPrefix(p, "**/")
		p = strings.TrimPrefix(p, "**/")
		for end := 1; end <= len(parts); end++ {
			starts := []int{0}
			if anyDepth {
				starts = starts[:0]
				for s := range end {
					starts = append(starts, s)
				}
			}
			for _, s := range starts {
				if ok, _ := filepath.Match(p, strings.Join(parts[s:end], "/")); ok {
					return true
				}
			}
		}
	}
	return false
}

// TestDockerignore: secrets never reach a build context (a build stage's
// COPY . . would put them into a layer), and nothing the build needs is
// left out: go.mod, go.sum, deps.sh, every non-test Go file of cmd/ and
// internal/, and the files they embed.
func TestDockerignore(t *testing.T) {
	pats := dockerignore(t)
	for _, rel := range []string{
		"keys/coordinator/key.secret", "keys/w1/w1.public",
		"key.secret", "somewhere/else/worker.secret",
		"deploy/kubernetes/secret.yaml",
		".git/config", "bin/inferbench", "reports/demo-1/report.txt",
	} {
		if !ignored(pats, rel) {
			t.Errorf(".dockerignore lets %s into the build context", rel)
		}
	}

	needed := []string{"go.mod", "go.sum", "scripts/deps.sh", "internal/config/example.yaml"}
	for _, dir := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join("..", dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				rel, err := filepath.Rel("..", path)
				if err != nil {
					return err
				}
				needed = append(needed, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(needed) < 20 {
		t.Fatalf("found only %d build inputs under cmd/ and internal/: wrong directory?", len(needed))
	}
	for _, rel := range needed {
		if ignored(pats, rel) {
			t.Errorf(".dockerignore leaves %s out of the build context; the build needs it", rel)
		}
	}
}

// TestDockerignore_Matcher holds ignored() to the pattern rules it models,
// so TestDockerignore cannot pass by a matcher that matches nothing.
func TestDockerignore_Matcher(t *testing.T) {
	pats := []string{"bin", "**/*.secret", "*.test", "deploy/kubernetes/secret.yaml"}
	for _, tc := range []struct {
		rel  string
		want bool
	}{
		{"bin/inferbench", true},
		{"bin", true},
		{"cmd/bin/x.go", false}, // no leading **/: root only
		{"a.secret", true},
		{"a/b/c.secret", true},
		{"a/b/c.secret.txt", false},
		{"x.test", true},
		{"internal/x.test", false},
		{"deploy/kubernetes/secret.yaml", true},
		{"deploy/kubernetes/configmap.yaml", false},
	} {
		if got := ignored(pats, tc.rel); got != tc.want {
			t.Errorf("ignored(%s) = %v, want %v", tc.rel, got, tc.want)
		}
	}
}
