//go:build sharedfixtures

package dataset_test

import (
	"os"
	"path/filepath"
	"testing"
)

// The CNN/DailyMail sample (news articles) and the Llama-3 tokenizer (Meta
// Llama 3 Community License) are not under permissive licences, so the
// repository does not carry them; they sit beside the clone on the
// project's machines. Every clone runs the same checks on fixtures of
// its own: testdata/news.jsonl (rows shaped like CNN/DailyMail,
// TestLoad_NewsFixture) and tokenizertest's llama3like (Llama-3's
// tokenizer features, TestSynthetic_OneTokenPerWord). These
// tests are compiled only with the build tag sharedfixtures, which
// scripts/test.sh sets when ../shared exists; asked for without the files,
// they fail.

// sharedDatasets is the project's shared datasets directory beside the clone.
const sharedDatasets = "../../../shared/datasets"

func sharedFile(t *testing.T, rel string) string {
	t.Helper()
	if _, err := os.Stat(rel); err != nil {
		t.Fatalf("shared fixture (build tag sharedfixtures): %v", err)
	}
	return rel
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
