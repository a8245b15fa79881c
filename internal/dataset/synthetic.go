package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// DistKind names a length distribution.
type DistKind string

// The length distributions.
const (
	DistFixed   DistKind = "fixed"   // always Value
	DistUniform DistKind = "uniform" // integers in [Min, Max], each equally likely
	DistNormal  DistKind = "normal"  // round(N(Mean, StdDev)), clipped to [max(Min,1), Max]
)

// Dist is a distribution of token lengths. Its text form, accepted by
// [ParseDist] and UnmarshalText (so flags and YAML share one parser), is
//
//	128                 fixed 128 (also "fixed:128")
//	uniform:64:256      uniform over [64, 256]
//	normal:128:32       mean 128, standard deviation 32, clipped to >= 1
//	normal:128:32:64:192  the same, clipped to [64, 192]
//
// In YAML it may also be a mapping with the field names below.
type Dist struct {
	Kind   DistKind `yaml:"kind"`
	Value  int      `yaml:"value,omitempty"`
	Min    int      `yaml:"min,omitempty"`
	Max    int      `yaml:"max,omitempty"` // for normal: 0 = no upper clip
	Mean   float64  `yaml:"mean,omitempty"`
	StdDev float64  `yaml:"stddev,omitempty"`
}

// DistError reports an invalid [Dist] or distribution text. It matches
// [ErrConfig] with errors.Is.
type DistError struct {
	Msg string
}

// Error implements error.
func (e *DistError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrConfig) true.
func (e *DistError) Is(target error) bool { return target == ErrConfig }

// ParseDist parses the text form described at [Dist].
func ParseDist(s string) (Dist, error) {
	var d Dist
	err := d.UnmarshalText([]byte(s))
	return d, err
}

// UnmarshalText implements encoding.TextUnmarshaler with the grammar of [Dist].
func (d *Dist) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	parts := strings.Split(s, ":")
	bad := func(why string) error {
		return &DistError{Msg: fmt.Sprintf("distribution %q: %s (want N, fixed:N, uniform:MIN:MAX or normal:MEAN:STDDEV[:MIN:MAX])", s, why)}
	}
	ints := func(ps []string) ([]int, error) {
		out := make([]int, len(ps))
		for i, p := range ps {
			v, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil {
				return nil, bad(fmt.Sprintf("%q is not an integer", p))
			}
			out[i] = v
		}
		return out, nil
	}
	var nd Dist
	switch kind := DistKind(strings.ToLower(strings.TrimSpace(parts[0]))); {
	case len(parts) == 1:
		v, err := ints(parts)
		if err != nil {
			return err
		}
		nd = Dist{Kind: DistFixed, Value: v[0]}
	case kind == DistFixed && len(parts) == 2:
		v, err := ints(parts[1:])
		if err != nil {
			return err
		}
		nd = Dist{Kind: DistFixed, Value: v[0]}
	case kind == DistUniform && len(parts) == 3:
		v, err := ints(parts[1:])
		if err != nil {
			return err
		}
		nd = Dist{Kind: DistUniform, Min: v[0], Max: v[1]}
	case kind == DistNormal && (len(parts) == 3 || len(parts) == 5):
		var fs [2]float64
		for i, p := range parts[1:3] {
			f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return bad(fmt.Sprintf("%q is not a number", p))
			}
			fs[i] = f
		}
		nd = Dist{Kind: DistNormal, Mean: fs[0], StdDev: fs[1]}
		if len(parts) == 5 {
			v, err := ints(parts[3:])
			if err != nil {
				return err
			}
			nd.Min, nd.Max = v[0], v[1]
		}
	default:
		return bad("unknown form")
	}
	if err := nd.Validate(); err != nil {
		return err
	}
	*d = nd
	return nil
}

// MarshalText implements encoding.TextMarshaler; it returns [Dist.String].
func (d Dist) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// String returns the text form accepted by [ParseDist].
func (d Dist) String() string {
	switch d.Kind {
	case DistFixed:
		return strconv.Itoa(d.Value)
	case DistUniform:
		return fmt.Sprintf("uniform:%d:%d", d.Min, d.Max)
	case DistNormal:
		s := "normal:" + strconv.FormatFloat(d.Mean, 'g', -1, 64) + ":" + strconv.FormatFloat(d.StdDev, 'g', -1, 64)
		if d.Min != 0 || d.Max != 0 {
			s += fmt.Sprintf(":%d:%d", d.Min, d.Max)
		}
		return s
	}
	return fmt.Sprintf("invalid(%q)", string(d.Kind))
}

// Validate reports whether d can produce lengths >= 1.
func (d Dist) Validate() error {
	bad := func(format string, args ...any) error {
		return &DistError{Msg: "distribution " + d.String() + ": " + fmt.Sprintf(format, args...)}
	}
	switch d.Kind {
	case DistFixed:
		if d.Value < 1 {
			return bad("value %d must be >= 1", d.Value)
		}
	case DistUniform:
		if d.Min < 1 || d.Max < d.Min {
			return bad("want 1 <= min <= max, got min %d, max %d", d.Min, d.Max)
		}
	case DistNormal:
		if d.StdDev < 0 || math.IsNaN(d.Mean) || math.IsNaN(d.StdDev) {
			return bad("stddev %g must be >= 0", d.StdDev)
		}
		if d.Max != 0 && d.Max < max(d.Min, 1) {
			return bad("want max >= max(min, 1), got min %d, max %d", d.Min, d.Max)
		}
	default:
		return &DistError{Msg: fmt.Sprintf("distribution kind %q (want fixed, uniform or normal)", string(d.Kind))}
	}
	return nil
}

// Sample draws one length from r. It never returns less than 1; an invalid
// Dist yields 1.
func (d Dist) Sample(r *rand.Rand) int {
	var v int
	switch d.Kind {
	case DistFixed:
		v = d.Value
	case DistUniform:
		if d.Max > d.Min {
			v = d.Min + r.IntN(d.Max-d.Min+1)
		} else {
			v = d.Min
		}
	case DistNormal:
		v = int(math.Round(d.Mean + d.StdDev*r.NormFloat64()))
		v = max(v, d.Min)
		if d.Max > 0 {
			v = min(v, d.Max)
		}
	}
	return max(v, 1)
}

// SyntheticConfig describes generated prompts.
type SyntheticConfig struct {
	N      int    `yaml:"n"`      // number of samples, >= 1
	Input  Dist   `yaml:"input"`  // prompt length in tokens (words)
	Output Dist   `yaml:"output"` // requested output length, becomes MaxTokens
	Seed   uint64 `yaml:"seed"`   // same seed, same dataset
	// SharedPrefixLen, when > 0, starts every prompt with one of
	// NumPrefixes fixed prefixes of this many tokens (see prefix.go); it
	// must be below the shortest input length.
	SharedPrefixLen int `yaml:"shared_prefix_len"`
	// NumPrefixes is how many distinct prefixes there are (0 means 1);
	// prompt i takes prefix i mod NumPrefixes.
	NumPrefixes int `yaml:"num_prefixes"`
	// Counter, when set, counts tokens as the run's tokenizer does, and
	// every prompt (prefix included) is made exactly its drawn length in
	// its tokens, not only in words.
	Counter TokenCounter `yaml:"-"`
}

// TokenCounter counts the tokens of a text (without special tokens).
type TokenCounter interface {
	Count(text string) int
}

// vocabulary holds common lowercase English words that are each a single
// token, with their leading space, in GPT-2, Llama 3, Qwen and Mistral BPE
// vocabularies, so a prompt of n words is close to n tokens.
var vocabulary = [...]string{
	"the", "of", "and", "to", "in", "is", "for", "on", "that", "with",
	"as", "was", "at", "by", "it", "from", "be", "this", "are", "or",
	"an", "not", "have", "has", "but", "we", "they", "you", "all", "one",
	"can", "more", "will", "new", "time", "about", "there", "some", "other", "when",
	"what", "which", "their", "out", "up", "also", "into", "first", "people", "year",
	"like", "work", "over", "day", "good", "well", "way", "world", "water", "house",
	"small", "light", "long", "back",
}

// Word indexes are taken 6 bits at a time from one random draw, which
// needs exactly 64 words; this line fails to compile otherwise.
var _ [64]string = vocabulary

// Vocabulary returns a copy of the one-token words synthetic prompts are
// made of, for other prompt synthesizers (trace replay) to use the same.
func Vocabulary() []string { return append([]string(nil), vocabulary[:]...) }

// Synthetic generates cfg.N samples whose prompts are Input-distributed
// word counts drawn from a fixed vocabulary (words separated by single
// spaces) and whose MaxTokens is drawn from Output. The result depends only
// on cfg.
func Synthetic(cfg SyntheticConfig) (*Dataset, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Two streams from one seed, so changing the output distribution does
	// not change the prompts.
	rIn := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	rOut := rand.New(rand.NewPCG(cfg.Seed, 0xbf58476d1ce4e5b9))
	prefixes, err := makePrefixes(cfg)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Name: "synthetic", Samples: make([]Sample, cfg.N)}
	var b strings.Builder
	for i := range ds.Samples {
		n := cfg.Input.Sample(rIn)
		var prompt string
		switch {
		case prefixes != nil:
			p := prefixes[i%len(prefixes)]
			if prompt, err = fitWords(cfg.Counter, p.text+" ", n, n-p.tokens, rIn); err != nil {
				return nil, newError("synthetic", "", 0, ErrConfig, nil, "prompt %d: %v", i+1, err)
			}
		case cfg.Counter != nil:
			if prompt, err = fitWords(cfg.Counter, "", n, n, rIn); err != nil {
				return nil, newError("synthetic", "", 0, ErrConfig, nil, "prompt %d: %v", i+1, err)
			}
		default:
			b.Reset()
			b.Grow(n * 6)
			var bits uint64
			for w := range n {
				if w%10 == 0 {
					bits = rIn.Uint64()
				}
				if w > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(vocabulary[bits&63])
				bits >>= 6
			}
			prompt = b.String()
		}
		ds.Samples[i] = Sample{Prompt: prompt, MaxTokens: cfg.Output.Sample(rOut)}
	}
	return ds, nil
}

// Validate checks the configuration; errors are [*Error]s of class
// [ErrConfig] naming the key.
func (cfg SyntheticConfig) Validate() error {
	if cfg.N < 1 {
		return newError("synthetic", "", 0, ErrConfig, nil, "n %d must be >= 1", cfg.N)
	}
	if err := cfg.Input.Validate(); err != nil {
		return newError("synthetic", "", 0, ErrConfig, err, "input: %v", err)
	}
	if err := cfg.Output.Validate(); err != nil {
		return newError("synthetic", "", 0, ErrConfig, err, "output: %v", err)
	}
	return cfg.validatePrefix()
}
