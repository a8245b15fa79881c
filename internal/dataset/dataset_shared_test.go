//go:build sharedfixtures

package dataset_test

import (
	"os"
	"path/filepath"
	"testing"
)

// The project's shared datasets and the Llama-3 tokenizer sit beside the
// clone on the project's machines; the repository may not carry them. These
// tests are compiled only with the build tag sharedfixtures, which
// scripts/test.sh sets when ../shared exists; asked for without the files,
// they fail.

func sharedFile(t *testing.T, rel string) string {
	t.Helper()
	if _, err := os.Stat(rel); err != nil {
		t.Fatalf("shared fixture (build tag sharedfixtures): %v", err)
	}
	return rel
}

// TestLoad_RealShareGPT: counts from the shared datasets' README.
func TestLoad_RealShareGPT(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file                      string
		entries, usable, distinct int
	}{
		{"ShareGPT_V3_filtered_500.json", 500, 500, 499},
		{"ShareGPT_V3_filtered_1000.json", 1000, 1000, 995},
		// 2978 entries: 16 system and 4 gpt first turns (single-turn, so no
		// human turn at all), and one empty human turn.
		{"sg_90k_part1_html_cleaned_lang_first_sampled_sorted.json", 2978, 2957, 0},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			checkShareGPT(t, sharedFile(t, filepath.Join(sharedDatasets, tc.file)), tc.entries, tc.usable, tc.distinct)
		})
	}
}

func TestLoad_RealCNNDailyMail(t *testing.T) {
	t.Parallel()
	checkNews(t, sharedFile(t, filepath.Join(sharedDatasets, "cnn_dailymail_train_sample100.jsonl")), 100)
}

func TestSynthetic_OneTokenPerWordLlama3(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile(sharedFile(t, "../../../shared/fixtures/tokenizers/llama3/tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkOneTokenPerWord(t, "llama3", raw)
}
