package dataset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/goccy/go-json"
)

// loadCSV reads a CSV file whose first row names the columns. Row numbers
// in errors count data rows (the header is not a row); CSV syntax errors
// give the file line instead.
func loadCSV(file string, data []byte, opts Options) (*Dataset, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return &Dataset{}, nil
	}
	if err != nil {
		return nil, csvError(file, err)
	}
	names := append([]string(nil), header...)
	for i := range names {
		names[i] = strings.TrimSpace(names[i])
	}
	cols, err := resolveColumns(file, opts, names)
	if err != nil {
		return nil, err
	}
	index := func(name string) int {
		for i, n := range names {
			if name != "" && n == name {
				return i
			}
		}
		return -1
	}
	iPrompt, iSystem, iMax, iExp, iIDs := index(cols.prompt), index(cols.system), index(cols.maxTokens), index(cols.expected), index(cols.tokenIDs)
	field := func(rec []string, i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return rec[i]
	}
	ds := &Dataset{}
	for row := 1; !limitReached(opts, len(ds.Samples)); row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(file, err)
		}
		s := Sample{
			Prompt:   field(rec, iPrompt),
			System:   field(rec, iSystem),
			Expected: field(rec, iExp),
		}
		if s.MaxTokens, err = parseCount(field(rec, iMax)); err != nil {
			return nil, valueError(file, "row", row, cols.maxTokens, err)
		}
		if s.TokenIDs, err = parseIDs(field(rec, iIDs)); err != nil {
			return nil, valueError(file, "row", row, cols.tokenIDs, err)
		}
		if err := cols.checkSample(file, "row", row, &s); err != nil {
			return nil, err
		}
		ds.Samples = append(ds.Samples, s)
	}
	return ds, nil
}

func csvError(file string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return newError(file, "line", pe.Line, ErrSyntax, err, "invalid CSV: %v", pe.Err)
	}
	return newError(file, "", 0, ErrSyntax, err, "invalid CSV: %v", err)
}

// parseIDs reads a token-id list written as a JSON array ("[1, 2]") or as
// integers separated by spaces or commas ("1 2", "1,2").
func parseIDs(text string) ([]int32, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, nil
	}
	if text[0] == '[' {
		var ids []int32
		if err := json.Unmarshal([]byte(text), &ids); err != nil {
			return nil, errors.New("want a list of integers, got " + quoteShort(text))
		}
		return ids, nil
	}
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	ids := make([]int32, len(fields))
	for i, f := range fields {
		v, err := strconv.ParseInt(f, 10, 32)
		if err != nil {
			return nil, errors.New("want a list of integers, got " + quoteShort(f))
		}
		ids[i] = int32(v)
	}
	return ids, nil
}
