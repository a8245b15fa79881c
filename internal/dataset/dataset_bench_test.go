package dataset_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/dataset"
)

// benchFiles writes 1000-row files shaped like the Python tool's dummy_1k
// ({text_input, ref_output}) in every format, plus a ShareGPT array.
func benchFiles(b *testing.B) map[string]string {
	b.Helper()
	const rows = 1000
	type row struct {
		TextInput string `json:"text_input" parquet:"text_input"`
		RefOutput string `json:"ref_output" parquet:"ref_output"`
	}
	recs := make([]row, rows)
	var jsonl, csv strings.Builder
	csv.WriteString("text_input,ref_output\n")
	type turn struct {
		From  string `json:"from"`
		Value string `json:"value"`
	}
	type conv struct {
		ID            string `json:"id"`
		Conversations []turn `json:"conversations"`
	}
	sg := make([]conv, rows)
	for i := range recs {
		// ~300-byte prompts with an escape, like the median ShareGPT prompt.
		p := fmt.Sprintf("Question %d: %s \"why\"?", i, strings.Repeat("explain the theory of relativity ", 9))
		recs[i] = row{p, strings.Repeat("answer ", 20)}
		line, _ := json.Marshal(recs[i])
		jsonl.Write(line)
		jsonl.WriteByte('\n')
		fmt.Fprintf(&csv, "\"%s\",%s\n", strings.ReplaceAll(p, `"`, `""`), recs[i].RefOutput)
		sg[i] = conv{fmt.Sprint(i), []turn{{"human", p}, {"gpt", recs[i].RefOutput}}}
	}
	arr, _ := json.Marshal(recs)
	sgj, _ := json.Marshal(sg)
	return map[string]string{
		"JSONL":    writeFile(b, "b.jsonl", jsonl.String()),
		"JSON":     writeFile(b, "b.json", string(arr)),
		"CSV":      writeFile(b, "b.csv", csv.String()),
		"Parquet":  writeParquet(b, "b.parquet", recs),
		"ShareGPT": writeFile(b, "b_sg.json", string(sgj)),
	}
}

// BenchmarkLoad loads 1000-row files; ms/op is the start-up cost a run pays.
func BenchmarkLoad(b *testing.B) {
	files := benchFiles(b)
	files["ShareGPT_V3_filtered_1000"] = filepath.Join("testdata", "sharegpt-real", "ShareGPT_V3_filtered_1000.json")
	for _, name := range []string{"JSONL", "JSON", "CSV", "Parquet", "ShareGPT", "ShareGPT_V3_filtered_1000"} {
		path := files[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				ds, err := dataset.Load(path, dataset.Options{})
				if err != nil || ds.Len() != 1000 {
					b.Fatalf("Load: %d samples, %v", ds.Len(), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
		})
	}
}

// BenchmarkSynthetic generates 1000 prompts of about 512 words.
func BenchmarkSynthetic(b *testing.B) {
	cfg := dataset.SyntheticConfig{N: 1000, Input: dataset.Dist{Kind: dataset.DistUniform, Min: 256, Max: 768}, Output: dataset.Dist{Kind: dataset.DistFixed, Value: 128}, Seed: 1}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dataset.Synthetic(cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
}
