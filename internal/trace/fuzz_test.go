package trace_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/trace"
)

// FuzzLoad feeds arbitrary bytes to every format: Load must return requests
// within the bounds, in time order, or a one-line *trace.Error for the file;
// never panic.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		`{"timestamp": 1000, "input_length": 700, "output_length": 5, "hash_ids": [1, 2]}` + "\n" + `{"timestamp": 900.5, "input_length": 3, "output_length": 0}`,
		"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,4808,10\n\"2023-11-16 18:15:40\",1,1\n",
		`{"timestamp": 0, "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}], "max_tokens": 4}`,
		`{"timestamp": 1e14, "prompt": "p"}`,
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "f.trace")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, format := range []string{"", trace.FormatMooncake, trace.FormatAzure, trace.FormatJSONL} {
			tr, err := trace.Load(path, trace.Options{Format: format})
			if err != nil {
				var te *trace.Error
				if !errors.As(err, &te) || te.Path != path || strings.Contains(err.Error(), "\n") {
					t.Fatalf("format %q: error %q (%T) is not a one-line *trace.Error for the file", format, err, err)
				}
				continue
			}
			for i, r := range tr.Requests {
				if r.InputLen > trace.MaxTokens || r.OutputLen > trace.MaxTokens || len(r.HashIDs) > trace.MaxHashIDs ||
					r.At < 0 || i > 0 && r.At < tr.Requests[i-1].At || r.Prompt == "" && r.InputLen < 1 {
					t.Fatalf("format %q: request %d out of bounds or order: %+v", format, i, r)
				}
			}
		}
	})
}
