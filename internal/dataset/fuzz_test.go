package dataset_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/inferbench/inferbench/internal/dataset"
)

// FuzzLoad feeds arbitrary bytes to the text loaders: they must return
// either samples with something to send or a *dataset.Error, never panic.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		`{"prompt":"a","max_tokens":3,"token_ids":[1]}` + "\n" + `{"prompt":"b"}`,
		`[{"text":"x","expected":"y"},{"text":"z"}]`,
		`[{"conversations":[{"from":"system","value":"s"},{"from":"human","value":"h"},{"from":"gpt","value":"g"}]}]`,
		"prompt,max_tokens,token_ids\n\"a,b\",4,\"[1,2]\"\n",
		`{"prompt":"\u00e9\n","max_tokens":"7"}`,
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, ext := range []string{".jsonl", ".json", ".csv"} {
			path := filepath.Join(dir, "f"+ext)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			ds, err := dataset.Load(path, dataset.Options{})
			if err != nil {
				var derr *dataset.Error
				if !errors.As(err, &derr) || derr.File != path {
					t.Fatalf("%s: error %v (%T) is not a *dataset.Error for the file", ext, err, err)
				}
				continue
			}
			for i, s := range ds.Samples {
				if s.Prompt == "" && len(s.TokenIDs) == 0 || s.MaxTokens < 0 {
					t.Fatalf("%s: sample %d has nothing to send or a negative length: %+v", ext, i, s)
				}
			}
		}
	})
}
