package dataset

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Sample is one prompt to send. Either Prompt or TokenIDs is set (both may
// be; the load generator decides which to send).
type Sample struct {
	Prompt   string  // user message or completion prompt
	System   string  // optional system message
	TokenIDs []int32 // pre-tokenized prompt, for endpoints that accept token ids
	// MaxTokens is the output length to request; 0 means the run default.
	MaxTokens int
	// Expected is the reference output, for oracle servers and accuracy checks.
	Expected string
}

// Dataset is an ordered list of samples. It is read-only once returned and
// then safe for concurrent use.
type Dataset struct {
	Name    string // file base name, or "synthetic"
	Samples []Sample
	// Skipped counts ShareGPT conversations left out because they have no
	// non-empty human turn (real dumps contain system-only or empty ones).
	Skipped int
	// Conversations is set by [LoadConversations] (multi-turn datasets,
	// nil otherwise): Samples then holds each conversation's first turn.
	Conversations []Conversation
	// Turns is the number of user turns of all Conversations.
	Turns int
	// DroppedLeading counts assistant messages before a conversation's
	// first user message (ShareGPT dumps have some); they are left out.
	DroppedLeading int
}

// Len returns the number of samples.
func (d *Dataset) Len() int { return len(d.Samples) }

// Format names accepted in [Options.Format].
const (
	FormatJSONL    = "jsonl"
	FormatJSON     = "json"
	FormatCSV      = "csv"
	FormatParquet  = "parquet"
	FormatShareGPT = "sharegpt"
)

// Default column candidates: when a column option is empty, the first of
// these present in the file is used.
var (
	DefaultPromptColumns    = []string{"prompt", "text", "text_input", "input", "question", "article"}
	DefaultSystemColumns    = []string{"system", "system_prompt"}
	DefaultMaxTokensColumns = []string{"max_tokens", "max_new_tokens", "max_output_tokens"}
	DefaultExpectedColumns  = []string{"expected", "ref_output", "output", "answer", "highlights"}
	DefaultTokenIDsColumns  = []string{"token_ids", "input_ids"}
)

// Options selects the format and maps columns to [Sample] fields. The zero
// value infers everything.
type Options struct {
	// Format is "" (infer from the extension: .jsonl/.ndjson, .json, .csv,
	// .parquet; a .json or .jsonl whose records have a "conversations" list
	// and no prompt column is ShareGPT), or one of the Format* constants.
	Format string `yaml:"format"`
	// PromptColumn defaults to the first present of [DefaultPromptColumns].
	PromptColumn string `yaml:"prompt_column"`
	// SystemColumn defaults to the first present of [DefaultSystemColumns].
	SystemColumn string `yaml:"system_column"`
	// MaxTokensColumn defaults to the first present of [DefaultMaxTokensColumns].
	MaxTokensColumn string `yaml:"max_tokens_column"`
	// ExpectedColumn defaults to the first present of [DefaultExpectedColumns].
	ExpectedColumn string `yaml:"expected_column"`
	// TokenIDsColumn defaults to the first present of [DefaultTokenIDsColumns].
	// Values are integer lists (JSON arrays; in CSV "[1, 2]" or "1 2").
	TokenIDsColumn string `yaml:"token_ids_column"`
	// Limit keeps only the first Limit samples; 0 keeps all.
	Limit int `yaml:"limit"`
}

// Load reads the dataset at path.
//
// Tabular formats (JSONL: one object per line; JSON: an array of objects;
// CSV: a header row then data; Parquet: string, integer and integer-list
// columns) map columns to fields through opts. Every row must have a
// non-empty prompt or token-id list. ShareGPT records look like
// {"conversations": [{"from": "human", "value": "..."}, {"from": "gpt", ...}]}
// ("role"/"content" are accepted too): the first human/user turn is the
// prompt, a system turn before it the system message, and the turn right
// after it, if from the assistant, the expected output.
//
// Errors are [*Error] values wrapping one of the Err* sentinels.
func Load(path string, opts Options) (*Dataset, error) {
	if opts.Limit < 0 {
		return nil, newError(path, "", 0, ErrConfig, nil, "limit %d is negative", opts.Limit)
	}
	format, err := resolveFormat(path, opts.Format)
	if err != nil {
		return nil, err
	}
	var ds *Dataset
	if format == FormatParquet {
		ds, err = loadParquet(path, opts)
	} else {
		var data []byte
		data, err = os.ReadFile(path)
		if err != nil {
			return nil, openError(path, err)
		}
		// Editors on Windows and spreadsheet exports prepend a BOM.
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		switch format {
		case FormatJSONL:
			ds, err = loadJSONL(path, data, opts, false)
		case FormatJSON:
			ds, err = loadJSON(path, data, opts, false)
		case FormatShareGPT:
			if first := firstNonSpace(data); first == '[' {
				ds, err = loadJSON(path, data, opts, true)
			} else {
				ds, err = loadJSONL(path, data, opts, true)
			}
		case FormatCSV:
			ds, err = loadCSV(path, data, opts)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(ds.Samples) == 0 {
		if ds.Skipped > 0 {
			return nil, newError(path, "", 0, ErrEmpty, nil, "no samples (%d conversations without a human turn skipped)", ds.Skipped)
		}
		return nil, newError(path, "", 0, ErrEmpty, nil, "no samples")
	}
	ds.Name = filepath.Base(path)
	return ds, nil
}

func openError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return newError(path, "", 0, ErrNotFound, err, "no such file")
	}
	return newError(path, "", 0, ErrNotFound, err, "%v", err)
}

func resolveFormat(path, format string) (string, error) {
	switch format {
	case FormatJSONL, FormatJSON, FormatCSV, FormatParquet, FormatShareGPT:
		return format, nil
	case "":
	default:
		return "", newError(path, "", 0, ErrFormat, nil, "unknown format %q (want jsonl, json, csv, parquet or sharegpt)", format)
	}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".jsonl", ".ndjson":
		return FormatJSONL, nil
	case ".json":
		return FormatJSON, nil
	case ".csv":
		return FormatCSV, nil
	case ".parquet":
		return FormatParquet, nil
	default:
		return "", newError(path, "", 0, ErrFormat, nil, "cannot infer the format from extension %q; set the format (jsonl, json, csv, parquet or sharegpt)", ext)
	}
}

func firstNonSpace(b []byte) byte {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return c
		}
	}
	return 0
}

// columns holds the resolved column names; "" means absent.
type columns struct {
	prompt, system, maxTokens, expected, tokenIDs string
	all                                           []string // every column, for error messages
}

// resolveColumns picks the column for each field from the columns of the
// first record. An explicitly named column must exist; defaults are optional,
// except that a prompt or token-id column is required.
func resolveColumns(file string, opts Options, names []string) (columns, error) {
	c := columns{all: names}
	pick := func(explicit string, defaults []string) (string, error) {
		if explicit != "" {
			if !slices.Contains(names, explicit) {
				return "", newError(file, "", 0, ErrNoColumn, nil, "no column %q (columns: %s)", explicit, strings.Join(names, ", "))
			}
			return explicit, nil
		}
		for _, d := range defaults {
			if slices.Contains(names, d) {
				return d, nil
			}
		}
		return "", nil
	}
	var err error
	if c.prompt, err = pick(opts.PromptColumn, DefaultPromptColumns); err != nil {
		return c, err
	}
	if c.system, err = pick(opts.SystemColumn, DefaultSystemColumns); err != nil {
		return c, err
	}
	if c.maxTokens, err = pick(opts.MaxTokensColumn, DefaultMaxTokensColumns); err != nil {
		return c, err
	}
	if c.expected, err = pick(opts.ExpectedColumn, DefaultExpectedColumns); err != nil {
		return c, err
	}
	if c.tokenIDs, err = pick(opts.TokenIDsColumn, DefaultTokenIDsColumns); err != nil {
		return c, err
	}
	if c.prompt == "" && c.tokenIDs == "" {
		return c, newError(file, "", 0, ErrNoColumn, nil, "no column %q (columns: %s)", DefaultPromptColumns[0], strings.Join(names, ", "))
	}
	return c, nil
}

// checkSample enforces that a row carries something to send.
func (c *columns) checkSample(file, unit string, line int, s *Sample) error {
	// A whitespace-only prompt is as useless to a benchmark as an empty one.
	if strings.TrimSpace(s.Prompt) != "" || len(s.TokenIDs) > 0 {
		return nil
	}
	col := c.prompt
	if col == "" {
		col = c.tokenIDs
	}
	return newError(file, unit, line, ErrEmpty, nil, "column %q is empty", col)
}

// limitReached reports whether n samples satisfy the limit.
func limitReached(opts Options, n int) bool { return opts.Limit > 0 && n >= opts.Limit }
