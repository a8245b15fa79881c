package timeseries

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Line is one decoded line of the time series (see [AppendLine]); a
// missing number is nil.
type Line struct {
	TNS         int64    `json:"t_ns"`
	ElapsedS    *float64 `json:"elapsed_s"`
	State       string   `json:"state"`
	Issued      int64    `json:"issued"`
	Completed   int64    `json:"completed"`
	Failed      int64    `json:"failed"`
	Good        *int64   `json:"good"`
	InFlight    int64    `json:"in_flight"`
	Pending     int64    `json:"pending"`
	QPS         *float64 `json:"qps"`
	TPS         *float64 `json:"tps"`
	Goodput     *float64 `json:"goodput"`
	IntervalQPS *float64 `json:"interval_qps"`
	IntervalTPS *float64 `json:"interval_tps"`
	// P holds the live p50, p90 and p99 of each series by its short name
	// (see [Series]), in nanoseconds.
	P map[string][3]*float64 `json:"p"`
}

// MaxLines bounds how many lines [Read] keeps (about 70 hours at the
// default 250 ms interval); later lines are skipped and counted.
const MaxLines = 1 << 20

// Read decodes a time series file. Lines that do not decode (a torn last
// line of a killed run, a truncated marker) are skipped and counted in
// skipped; so are lines longer than [MaxLine] and lines past [MaxLines].
func Read(path string) (lines []Line, skipped int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("timeseries: %w", err)
	}
	defer f.Close()
	return Decode(f)
}

// Decode is [Read] on a reader.
func Decode(r io.Reader) (lines []Line, skipped int, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Longer than any line the writer makes: skip to its end.
			skipped++
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				return lines, skipped, nil
			}
			if err != nil {
				return lines, skipped, fmt.Errorf("timeseries: %w", err)
			}
			continue
		}
		if len(raw) > 0 {
			var l Line
			switch {
			case len(raw) > MaxLine+1, len(lines) >= MaxLines:
				skipped++
			case json.Unmarshal(raw, &l) != nil || l.TNS == 0:
				skipped++
			default:
				lines = append(lines, l)
			}
		}
		if err == io.EOF {
			return lines, skipped, nil
		}
		if err != nil {
			return lines, skipped, fmt.Errorf("timeseries: %w", err)
		}
	}
}
