package dataset_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goccy/go-json"
	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

func TestParseDist(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want dataset.Dist
		text string // String() form
	}{
		{"128", dataset.Dist{Kind: dataset.DistFixed, Value: 128}, "128"},
		{" fixed:7 ", dataset.Dist{Kind: dataset.DistFixed, Value: 7}, "7"},
		{"uniform:64:256", dataset.Dist{Kind: dataset.DistUniform, Min: 64, Max: 256}, "uniform:64:256"},
		{"UNIFORM:5:5", dataset.Dist{Kind: dataset.DistUniform, Min: 5, Max: 5}, "uniform:5:5"},
		{"normal:128:32", dataset.Dist{Kind: dataset.DistNormal, Mean: 128, StdDev: 32}, "normal:128:32"},
		{"normal:100.5:0:10:200", dataset.Dist{Kind: dataset.DistNormal, Mean: 100.5, Min: 10, Max: 200}, "normal:100.5:0:10:200"},
	}
	for _, tc := range tests {
		got, err := dataset.ParseDist(tc.in)
		if err != nil {
			t.Errorf("ParseDist(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want || got.String() != tc.text {
			t.Errorf("ParseDist(%q) = %+v (%s); want %+v (%s)", tc.in, got, got, tc.want, tc.text)
		}
		if again, err := dataset.ParseDist(got.String()); err != nil || again != got {
			t.Errorf("round trip of %q: %+v, %v", got.String(), again, err)
		}
	}
	bad := []struct{ in, want string }{
		{"", `distribution "": "" is not an integer (want N, fixed:N, uniform:MIN:MAX or normal:MEAN:STDDEV[:MIN:MAX])`},
		{"0", "distribution 0: value 0 must be >= 1"},
		{"abc", `distribution "abc": "abc" is not an integer (want N, fixed:N, uniform:MIN:MAX or normal:MEAN:STDDEV[:MIN:MAX])`},
		{"uniform:10", `distribution "uniform:10": unknown form (want N, fixed:N, uniform:MIN:MAX or normal:MEAN:STDDEV[:MIN:MAX])`},
		{"uniform:10:5", "distribution uniform:10:5: want 1 <= min <= max, got min 10, max 5"},
		{"uniform:0:5", "distribution uniform:0:5: want 1 <= min <= max, got min 0, max 5"},
		{"normal:100:-1", "distribution normal:100:-1: stddev -1 must be >= 0"},
		{"normal:x:1", `distribution "normal:x:1": "x" is not a number (want N, fixed:N, uniform:MIN:MAX or normal:MEAN:STDDEV[:MIN:MAX])`},
		{"normal:100:5:50:20", "distribution normal:100:5:50:20: want max >= max(min, 1), got min 50, max 20"},
		{"poisson:3", `distribution "poisson:3": unknown form (want N, fixed:N, uniform:MIN:MAX or normal:MEAN:STDDEV[:MIN:MAX])`},
	}
	for _, tc := range bad {
		_, err := dataset.ParseDist(tc.in)
		if err == nil || err.Error() != tc.want || !errors.Is(err, dataset.ErrConfig) {
			t.Errorf("ParseDist(%q) error %v\nwant %s (matching ErrConfig)", tc.in, err, tc.want)
		}
	}
}

func TestDist_YAML(t *testing.T) {
	t.Parallel()
	var cfg dataset.SyntheticConfig
	src := "n: 3\nseed: 9\ninput: uniform:4:8\noutput: {kind: normal, mean: 50, stddev: 5}\n"
	if err := yaml.Unmarshal([]byte(src), &cfg); err != nil {
		t.Fatal(err)
	}
	want := dataset.SyntheticConfig{N: 3, Seed: 9,
		Input:  dataset.Dist{Kind: dataset.DistUniform, Min: 4, Max: 8},
		Output: dataset.Dist{Kind: dataset.DistNormal, Mean: 50, StdDev: 5}}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var back dataset.SyntheticConfig
	if err := yaml.Unmarshal(out, &back); err != nil || back != cfg {
		t.Errorf("YAML round trip via %q: %+v, %v", out, back, err)
	}
	if err := yaml.Unmarshal([]byte("input: uniform:9:1\n"), &cfg); err == nil || !errors.Is(err, dataset.ErrConfig) {
		t.Errorf("bad YAML distribution: err %v, want ErrConfig", err)
	}
}

func words(s string) int { return len(strings.Fields(s)) }

func TestSynthetic_Lengths(t *testing.T) {
	t.Parallel()
	t.Run("fixed", func(t *testing.T) {
		ds, err := dataset.Synthetic(dataset.SyntheticConfig{N: 50, Input: dataset.Dist{Kind: dataset.DistFixed, Value: 37}, Output: dataset.Dist{Kind: dataset.DistFixed, Value: 11}, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if ds.Len() != 50 || ds.Name != "synthetic" {
			t.Fatalf("Len %d Name %q", ds.Len(), ds.Name)
		}
		for i, s := range ds.Samples {
			if words(s.Prompt) != 37 || s.MaxTokens != 11 || strings.Count(s.Prompt, " ") != 36 {
				t.Fatalf("sample %d: %d words, %d spaces, MaxTokens %d", i, words(s.Prompt), strings.Count(s.Prompt, " "), s.MaxTokens)
			}
		}
	})
	t.Run("uniform", func(t *testing.T) {
		in := dataset.Dist{Kind: dataset.DistUniform, Min: 3, Max: 9}
		out := dataset.Dist{Kind: dataset.DistUniform, Min: 100, Max: 104}
		ds, err := dataset.Synthetic(dataset.SyntheticConfig{N: 2000, Input: in, Output: out, Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		seenIn, seenOut := map[int]int{}, map[int]int{}
		for _, s := range ds.Samples {
			seenIn[words(s.Prompt)]++
			seenOut[s.MaxTokens]++
		}
		for v := in.Min; v <= in.Max; v++ {
			// Expected 2000/7 ≈ 286 each; 150 is far below any plausible draw.
			if seenIn[v] < 150 {
				t.Errorf("input length %d drawn %d times of 2000", v, seenIn[v])
			}
		}
		if len(seenIn) != in.Max-in.Min+1 || len(seenOut) != out.Max-out.Min+1 {
			t.Errorf("lengths outside bounds: input %v, output %v", seenIn, seenOut)
		}
		for v := range seenOut {
			if v < out.Min || v > out.Max {
				t.Errorf("output %d outside [%d, %d]", v, out.Min, out.Max)
			}
		}
	})
	t.Run("normal", func(t *testing.T) {
		const n = 5000
		d := dataset.Dist{Kind: dataset.DistNormal, Mean: 128, StdDev: 32}
		ds, err := dataset.Synthetic(dataset.SyntheticConfig{N: n, Input: d, Output: d, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		for name, get := range map[string]func(dataset.Sample) int{
			"input":  func(s dataset.Sample) int { return words(s.Prompt) },
			"output": func(s dataset.Sample) int { return s.MaxTokens },
		} {
			var sum, sumSq float64
			for _, s := range ds.Samples {
				v := float64(get(s))
				sum += v
				sumSq += v * v
			}
			mean := sum / n
			sd := math.Sqrt(sumSq/n - mean*mean)
			// Standard error of the mean is 32/√5000 ≈ 0.45; 2 is over 4 SE.
			if math.Abs(mean-128) > 2 || math.Abs(sd-32) > 2 {
				t.Errorf("%s: mean %.2f sd %.2f; want 128 ± 2, 32 ± 2", name, mean, sd)
			}
		}
	})
	t.Run("normal clipped", func(t *testing.T) {
		r := rand.New(rand.NewPCG(4, 4))
		low := dataset.Dist{Kind: dataset.DistNormal, Mean: 2, StdDev: 10}
		band := dataset.Dist{Kind: dataset.DistNormal, Mean: 50, StdDev: 100, Min: 40, Max: 60}
		hitMin, hitBounds := 0, 0
		for range 1000 {
			if v := low.Sample(r); v < 1 {
				t.Fatalf("normal:2:10 drew %d < 1", v)
			} else if v == 1 {
				hitMin++
			}
			if v := band.Sample(r); v < 40 || v > 60 {
				t.Fatalf("normal:50:100:40:60 drew %d", v)
			} else if v == 40 || v == 60 {
				hitBounds++
			}
		}
		// About 46% of N(2, 10) is <= 1, and 92% of N(50, 100) is outside [40, 60].
		if hitMin < 300 || hitBounds < 800 {
			t.Errorf("clipping not exercised: %d at 1, %d at the band edges", hitMin, hitBounds)
		}
	})
}

func TestSynthetic_Seeded(t *testing.T) {
	t.Parallel()
	cfg := dataset.SyntheticConfig{N: 20, Input: dataset.Dist{Kind: dataset.DistUniform, Min: 5, Max: 50}, Output: dataset.Dist{Kind: dataset.DistNormal, Mean: 64, StdDev: 8}, Seed: 42}
	a, err := dataset.Synthetic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := dataset.Synthetic(cfg)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different datasets:\n%s", diff)
	}
	cfg.Seed = 43
	c, _ := dataset.Synthetic(cfg)
	if cmp.Equal(a.Samples, c.Samples) {
		t.Error("seeds 42 and 43 gave identical datasets")
	}
	// Changing the output distribution must not change the prompts.
	cfg.Seed = 42
	cfg.Output = dataset.Dist{Kind: dataset.DistFixed, Value: 1}
	d, _ := dataset.Synthetic(cfg)
	for i := range a.Samples {
		if a.Samples[i].Prompt != d.Samples[i].Prompt {
			t.Fatalf("sample %d prompt changed with the output distribution", i)
		}
	}
}

func TestSynthetic_Errors(t *testing.T) {
	t.Parallel()
	ok := dataset.Dist{Kind: dataset.DistFixed, Value: 8}
	tests := []struct {
		cfg  dataset.SyntheticConfig
		want string
	}{
		{dataset.SyntheticConfig{N: 0, Input: ok, Output: ok}, "dataset synthetic: n 0 must be >= 1"},
		{dataset.SyntheticConfig{N: 1, Output: ok}, `dataset synthetic: input: distribution kind "" (want fixed, uniform or normal)`},
		{dataset.SyntheticConfig{N: 1, Input: ok, Output: dataset.Dist{Kind: dataset.DistUniform, Min: 5, Max: 2}}, "dataset synthetic: output: distribution uniform:5:2: want 1 <= min <= max, got min 5, max 2"},
	}
	for _, tc := range tests {
		_, err := dataset.Synthetic(tc.cfg)
		var derr *dataset.Error
		if err == nil || err.Error() != tc.want || !errors.Is(err, dataset.ErrConfig) || !errors.As(err, &derr) {
			t.Errorf("Synthetic(%+v) = %v\nwant %s", tc.cfg, err, tc.want)
		}
	}
}

// TestSynthetic_OneTokenPerWord checks the vocabulary claim against real
// tokenizer vocabularies: every word, with the space before it, is a single
// token.
func TestSynthetic_OneTokenPerWord(t *testing.T) {
	t.Parallel()
	for _, name := range tokenizertest.Names {
		checkOneTokenPerWord(t, name, tokenizertest.JSON(t, name))
	}
}

func checkOneTokenPerWord(t *testing.T, name string, tokenizerJSON []byte) {
	t.Helper()
	ds, err := dataset.Synthetic(dataset.SyntheticConfig{N: 200, Input: dataset.Dist{Kind: dataset.DistFixed, Value: 100}, Output: dataset.Dist{Kind: dataset.DistFixed, Value: 1}, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	vocab := map[string]bool{}
	for _, s := range ds.Samples {
		for _, w := range strings.Fields(s.Prompt) {
			vocab[w] = true
		}
	}
	if len(vocab) < 32 {
		t.Errorf("only %d distinct words in 20000 draws", len(vocab))
	}
	var tok struct {
		Model struct {
			Vocab map[string]int `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(tokenizerJSON, &tok); err != nil {
		t.Fatal(err)
	}
	if len(tok.Model.Vocab) < 1000 {
		t.Fatalf("%s: vocabulary of %d entries", name, len(tok.Model.Vocab))
	}
	for w := range vocab {
		// Byte-level BPE writes the space as "Ġ", SentencePiece as "▁".
		if _, ok := tok.Model.Vocab["Ġ"+w]; !ok {
			if _, ok := tok.Model.Vocab["▁"+w]; !ok {
				t.Errorf("%s: %q is not a single token", name, " "+w)
			}
		}
	}
}
