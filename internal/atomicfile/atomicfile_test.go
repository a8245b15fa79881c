package atomicfile_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/atomicfile"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	if err := atomicfile.WriteFile(path, []byte("first"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := atomicfile.WriteFile(path, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "second" {
		t.Fatalf("content %q, %v; want second", got, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	assertOnly(t, dir, "out.json")
}

// A failure part-way through leaves the old file as it was and no temporary
// file behind.
func TestWrite_failureLeavesNothing(t *testing.T) {
	boom := errors.New("no space left on device")
	for _, tc := range []struct {
		name string
		old  bool
	}{{"new file", false}, {"existing file", true}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "report.txt")
			want := []string{}
			if tc.old {
				if err := atomicfile.WriteFile(path, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
				want = append(want, "report.txt")
			}
			err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
				// More than the buffer, so that part reaches the disk.
				if _, err := w.Write([]byte(strings.Repeat("x", 200<<10))); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v; want one naming %s and wrapping the cause", err, path)
			}
			assertOnly(t, dir, want...)
			if tc.old {
				if got, _ := os.ReadFile(path); string(got) != "old" {
					t.Errorf("old file changed to %d bytes", len(got))
				}
			}
		})
	}
}

func TestWrite_missingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope", "x.json")
	err := atomicfile.WriteFile(path, []byte("x"), 0o644)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v; want one naming %s", err, path)
	}
}

func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("directory holds %v, want %v", got, names)
	}
}
