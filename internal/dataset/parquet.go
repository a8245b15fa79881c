package dataset

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// parquetColumn is a top-level field that maps to one leaf column.
type parquetColumn struct {
	name     string
	index    int  // leaf column index, -1 if unused
	repeated bool // a list: values are the elements
}

// loadParquet reads rows generically (no Go struct per schema): each mapped
// field must be a top-level column holding strings, integers, or a list of
// integers. Row numbers in errors are 1-based across row groups.
func loadParquet(path string, opts Options) (ds *Dataset, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, openError(path, err)
	}
	// A corrupt file must not crash the benchmark; parquet-go may panic on
	// inconsistent metadata, so such panics become errors here.
	defer func() {
		if r := recover(); r != nil {
			ds, err = nil, newError(path, "", 0, ErrSyntax, fmt.Errorf("%v", r), "invalid parquet: %v", r)
		}
	}()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return nil, newError(path, "", 0, ErrSyntax, err, "invalid parquet: %v", err)
	}
	schema := pf.Schema()
	var names []string
	for _, fld := range schema.Fields() {
		names = append(names, fld.Name())
	}
	cols, err := resolveColumns(path, opts, names)
	if err != nil {
		return nil, err
	}
	leaf := func(name string) (parquetColumn, error) {
		pc := parquetColumn{name: name, index: -1}
		if name == "" {
			return pc, nil
		}
		var found [][]string
		for _, p := range schema.Columns() {
			if p[0] == name {
				found = append(found, p)
			}
		}
		if len(found) != 1 {
			return pc, newError(path, "", 0, ErrValue, nil, "column %q is a group of %d columns; want a string, integer or integer list", name, len(found))
		}
		lc, _ := schema.Lookup(found[0]...)
		pc.index, pc.repeated = lc.ColumnIndex, lc.MaxRepetitionLevel > 0
		return pc, nil
	}
	var pcs [5]parquetColumn
	for i, name := range []string{cols.prompt, cols.system, cols.maxTokens, cols.expected, cols.tokenIDs} {
		if pcs[i], err = leaf(name); err != nil {
			return nil, err
		}
	}
	prompt, system, maxTok, expected, ids := pcs[0], pcs[1], pcs[2], pcs[3], pcs[4]
	for _, pc := range []parquetColumn{prompt, system, maxTok, expected} {
		if pc.repeated {
			return nil, newError(path, "", 0, ErrValue, nil, "column %q is a list; want a single value", pc.name)
		}
	}

	ds = &Dataset{}
	n := pf.NumRows()
	if opts.Limit > 0 {
		n = min(n, int64(opts.Limit))
	}
	ds.Samples = make([]Sample, 0, n)
	buf := make([]parquet.Row, 128)
	row := 0
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for !limitReached(opts, len(ds.Samples)) {
			k, rerr := rows.ReadRows(buf)
			for _, r := range buf[:k] {
				row++
				if limitReached(opts, len(ds.Samples)) {
					break
				}
				s, err := cols.fromParquetRow(path, row, r, prompt, system, maxTok, expected, ids)
				if err != nil {
					rows.Close()
					return nil, err
				}
				ds.Samples = append(ds.Samples, s)
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				rows.Close()
				return nil, newError(path, "row", row+1, ErrSyntax, rerr, "invalid parquet: %v", rerr)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, newError(path, "", 0, ErrSyntax, err, "invalid parquet: %v", err)
		}
	}
	return ds, nil
}

func (c *columns) fromParquetRow(file string, row int, r parquet.Row, prompt, system, maxTok, expected, ids parquetColumn) (Sample, error) {
	var s Sample
	var err error
	r.Range(func(col int, vals []parquet.Value) bool {
		switch col {
		case prompt.index:
			s.Prompt, err = parquetString(prompt.name, vals)
		case system.index:
			s.System, err = parquetString(system.name, vals)
		case expected.index:
			s.Expected, err = parquetString(expected.name, vals)
		case maxTok.index:
			var v int64
			if v, err = parquetInt(maxTok.name, vals); err == nil {
				s.MaxTokens = int(v)
			}
		case ids.index:
			s.TokenIDs, err = parquetIDs(ids.name, vals)
		}
		return err == nil
	})
	if err != nil {
		return s, newError(file, "row", row, ErrValue, err, "%v", err)
	}
	return s, c.checkSample(file, "row", row, &s)
}

func parquetString(col string, vals []parquet.Value) (string, error) {
	if len(vals) == 0 || vals[0].IsNull() {
		return "", nil
	}
	v := vals[0]
	if v.Kind() != parquet.ByteArray && v.Kind() != parquet.FixedLenByteArray {
		return "", fmt.Errorf("column %q: want a string, got %s %v", col, v.Kind(), v)
	}
	return string(v.ByteArray()), nil
}

func parquetInt(col string, vals []parquet.Value) (int64, error) {
	if len(vals) == 0 || vals[0].IsNull() {
		return 0, nil
	}
	v, err := parquetInt64(vals[0])
	if err != nil || v < 0 {
		return 0, fmt.Errorf("column %q: want a non-negative integer, got %s %v", col, vals[0].Kind(), vals[0])
	}
	return v, nil
}

func parquetInt64(v parquet.Value) (int64, error) {
	switch v.Kind() {
	case parquet.Int32:
		return int64(v.Int32()), nil
	case parquet.Int64:
		return v.Int64(), nil
	case parquet.ByteArray:
		return strconv.ParseInt(string(v.ByteArray()), 10, 64)
	}
	return 0, errors.New("not an integer")
}

func parquetIDs(col string, vals []parquet.Value) ([]int32, error) {
	ids := make([]int32, 0, len(vals))
	for _, v := range vals {
		// An empty or null list is one null value.
		if v.IsNull() {
			continue
		}
		x, err := parquetInt64(v)
		if err != nil || x < -1<<31 || x > 1<<31-1 {
			return nil, fmt.Errorf("column %q: want a list of int32 token ids, got %s %v", col, v.Kind(), v)
		}
		ids = append(ids, int32(x))
	}
	if len(ids) == 0 {
		return nil, nil
	}
	return ids, nil
}
