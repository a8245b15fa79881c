package mockserver

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	json "github.com/goccy/go-json"
)

// LoadOracle reads a JSONL file (one JSON object per line; blank lines are
// skipped) and returns the map promptKey → answerKey for [Config.Oracle].
// Both fields must be strings; a later line overrides an earlier one with
// the same prompt. Errors name the file and line.
func LoadOracle(path, promptKey, answerKey string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("mockserver: load oracle: %w", err)
	}
	defer f.Close()
	out := make(map[string]string)
	br := bufio.NewReaderSize(f, 64<<10)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("mockserver: oracle %s line %d: %w", path, line, err)
		}
		if t := bytes.TrimSpace(b); len(t) > 0 {
			var obj map[string]json.RawMessage
			if jerr := json.Unmarshal(t, &obj); jerr != nil {
				return nil, fmt.Errorf("mockserver: oracle %s line %d: %w", path, line, jerr)
			}
			prompt, perr := stringField(obj, promptKey)
			answer, aerr := stringField(obj, answerKey)
			if err := errors.Join(perr, aerr); err != nil {
				return nil, fmt.Errorf("mockserver: oracle %s line %d: %w", path, line, err)
			}
			out[prompt] = answer
		}
		if err != nil { // io.EOF after the last line
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mockserver: oracle %s: no entries", path)
	}
	return out, nil
}

func stringField(obj map[string]json.RawMessage, key string) (string, error) {
	raw, ok := obj[key]
	if !ok {
		return "", fmt.Errorf("field %q missing", key)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("field %q is not a string: %w", key, err)
	}
	return s, nil
}
