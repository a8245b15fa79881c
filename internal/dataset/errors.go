package dataset

import (
	"errors"
	"fmt"
)

// Sentinel errors, one per class of problem. Every error returned by [Load]
// and [Synthetic] for bad input is an [*Error] that wraps one of them, so
// callers can test the class with errors.Is and read the position with
// errors.As.
var (
	// ErrNotFound: the dataset file does not exist (also matches fs.ErrNotExist).
	ErrNotFound = errors.New("dataset: no such file")
	// ErrFormat: the format is unknown or cannot be inferred from the file name.
	ErrFormat = errors.New("dataset: unknown format")
	// ErrSyntax: the file is not valid JSON, JSONL, CSV or Parquet.
	ErrSyntax = errors.New("dataset: syntax error")
	// ErrNoColumn: a required or explicitly named column is absent.
	ErrNoColumn = errors.New("dataset: no such column")
	// ErrEmpty: a required value is empty, or the file yields no samples.
	ErrEmpty = errors.New("dataset: empty")
	// ErrValue: a value has the wrong type or is out of range.
	ErrValue = errors.New("dataset: bad value")
	// ErrConfig: the [Options], [SyntheticConfig] or a [Dist] is invalid.
	ErrConfig = errors.New("dataset: bad configuration")
)

// Error is a dataset problem located in a file. Its message has the form
//
//	dataset FILE[ UNIT N]: MSG
//
// for example "dataset data.jsonl line 7: invalid JSON: ..." or
// "dataset x.csv row 3: column \"prompt\" is empty".
type Error struct {
	File string // the path as passed to Load ("synthetic" for Synthetic)
	// Unit names what Line counts: "line" (JSONL lines, CSV and JSON syntax
	// errors), "row" (CSV data rows after the header, Parquet rows) or
	// "record" (elements of a JSON array). Empty when the error concerns the
	// whole file.
	Unit string
	Line int    // 1-based position in Unit; 0 when Unit is empty
	Msg  string // what was wrong, including the cause's text when it helps
	Err  error  // wraps one of the Err* sentinels and the underlying cause, if any
}

// Error implements error.
func (e *Error) Error() string {
	if e.Unit == "" {
		return fmt.Sprintf("dataset %s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("dataset %s %s %d: %s", e.File, e.Unit, e.Line, e.Msg)
}

// Unwrap returns the sentinel and cause, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// newError builds an *Error; cause may be nil.
func newError(file, unit string, line int, kind, cause error, format string, args ...any) *Error {
	err := kind
	if cause != nil {
		err = fmt.Errorf("%w: %w", kind, cause)
	}
	return &Error{File: file, Unit: unit, Line: line, Msg: fmt.Sprintf(format, args...), Err: err}
}
