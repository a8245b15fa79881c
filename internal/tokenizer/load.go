package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrUnsupported is wrapped by every [Load] error about a tokenizer.json
// component (model type, normalizer, pre-tokenizer, post-processor, regex
// pattern or option) that this package does not implement.
var ErrUnsupported = errors.New("tokenizer: unsupported component")

// fileJSON is the part of tokenizer.json that influences token ids.
// Truncation and padding are ignored on purpose: a count is of the whole,
// unpadded sequence.
type fileJSON struct {
	AddedTokens   []addedTokenJSON `json:"added_tokens"`
	Normalizer    *componentJSON   `json:"normalizer"`
	PreTokenizer  *componentJSON   `json:"pre_tokenizer"`
	PostProcessor *componentJSON   `json:"post_processor"`
	Model         modelJSON        `json:"model"`
}

type addedTokenJSON struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type modelJSON struct {
	Type                    string           `json:"type"`
	Dropout                 *float64         `json:"dropout"`
	UnkToken                *string          `json:"unk_token"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	FuseUnk                 bool             `json:"fuse_unk"`
	ByteFallback            bool             `json:"byte_fallback"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	Vocab                   map[string]int32 `json:"vocab"`
	Merges                  json.RawMessage  `json:"merges"`
}

// componentJSON holds the fields of every normalizer, pre-tokenizer and
// post-processor this package knows; Type says which ones apply.
type componentJSON struct {
	Type string `json:"type"`

	// Sequence children.
	Normalizers   []*componentJSON `json:"normalizers"`
	Pretokenizers []*componentJSON `json:"pretokenizers"`
	Processors    []*componentJSON `json:"processors"`

	// Normalizers.
	Prepend    string       `json:"prepend"`
	Pattern    *patternJSON `json:"pattern"`
	Content    string       `json:"content"`
	StripLeft  bool         `json:"strip_left"`
	StripRight bool         `json:"strip_right"`

	// Pre-tokenizers.
	Behavior         string `json:"behavior"`
	Invert           bool   `json:"invert"`
	AddPrefixSpace   *bool  `json:"add_prefix_space"`
	UseRegex         *bool  `json:"use_regex"`
	Replacement      string `json:"replacement"`
	PrependScheme    string `json:"prepend_scheme"`
	Split            *bool  `json:"split"`
	IndividualDigits bool   `json:"individual_digits"`

	// Post-processors.
	Single        []templateItemJSON             `json:"single"`
	SpecialTokens map[string]templateSpecialJSON `json:"special_tokens"`
	Cls           []json.RawMessage              `json:"cls"`
	Sep           []json.RawMessage              `json:"sep"`
}

type patternJSON struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func (p *patternJSON) describe() string {
	switch {
	case p == nil:
		return "<none>"
	case p.String != nil:
		return fmt.Sprintf("String %q", *p.String)
	case p.Regex != nil:
		return fmt.Sprintf("Regex %q", *p.Regex)
	}
	return "<empty>"
}

type templateItemJSON struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

type templateSpecialJSON struct {
	IDs []int32 `json:"ids"`
}

// Load reads a Hugging Face tokenizer. path is a tokenizer.json file or a
// directory holding one. tokenizer_config.json, if present beside it, is not
// needed: everything that decides the ids (added tokens, post-processor) is
// in tokenizer.json.
func Load(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	file := path
	if st.IsDir() {
		file = filepath.Join(path, "tokenizer.json")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	tok, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer %s: %w", file, err)
	}
	return tok, nil
}

// Parse builds a Tokenizer from the bytes of a tokenizer.json file.
func Parse(data []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decoding tokenizer.json: %w", err)
	}
	t := &Tokenizer{}
	var err error
	if t.norm, err = buildNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	byteLevel := false
	if t.pre, byteLevel, err = buildPreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if t.model, err = buildBPE(&f.Model, byteLevel); err != nil {
		return nil, err
	}
	if t.prefix, t.suffix, err = buildPostProcessor(f.PostProcessor, f.AddedTokens, f.Model.Vocab); err != nil {
		return nil, err
	}
	if t.added, t.addedNorm, err = buildAdded(f.AddedTokens, t.norm); err != nil {
		return nil, err
	}
	t.fastScan = t.pre.fastScanner()
	return t, nil
}

func unsupported(kind, what string) error {
	return fmt.Errorf("%w: %s %s", ErrUnsupported, kind, what)
}

// parseMerges accepts both merge encodings found in the wild: ["a b", ...]
// and [["a", "b"], ...].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	inner := bytes.TrimSpace(raw[1:])
	if len(inner) > 0 && inner[0] == '"' {
		var lines []string
		if err := json.Unmarshal(raw, &lines); err != nil {
			return nil, fmt.Errorf("decoding merges: %w", err)
		}
		out := make([][2]string, len(lines))
		for i, l := range lines {
			a, b, ok := strings.Cut(l, " ")
			if !ok || strings.Contains(b, " ") {
				return nil, fmt.Errorf("merge %d %q: want two tokens separated by one space", i, l)
			}
			out[i] = [2]string{a, b}
		}
		return out, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("decoding merges: %w", err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("merge %d %q: want a pair", i, p)
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}
