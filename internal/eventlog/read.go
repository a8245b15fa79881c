package eventlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxLineBytes bounds one line of requests.jsonl (a request line is a few
// hundred bytes; the bound only protects against a corrupt file).
const maxLineBytes = 1 << 20

// Request is one line of requests.jsonl: a request and what became of it.
// Times are nanoseconds; nil means absent.
type Request struct {
	ID string `json:"id"`
	// Idx is the prompt's index in the dataset (config.yaml names the dataset
	// and its sha256).
	Idx *int64 `json:"idx"`
	// Untracked is 1 for a request issued outside the performance-tracking
	// window (warmup); it counts only in the total_* counters.
	Untracked int `json:"untracked"`
	Blk       int `json:"blk"` // the tracking window it was issued in (0 first)
	// Iss is the issue time since session.started; Late is issue − intended
	// time (nil when the schedule has none). Under a concurrency cap QW is
	// the wait for a free slot (send − release) and Late is release −
	// intended, so the intended time is Iss − Late − QW.
	Iss  int64  `json:"iss"`
	Late *int64 `json:"late"`
	QW   *int64 `json:"qw"`
	// TTFT, Last and Lat are the first chunk, the last chunk and the
	// completion, relative to the issue. Lat is nil for a request that never
	// completed.
	TTFT   *int64 `json:"ttft"`
	Last   *int64 `json:"last"`
	Lat    *int64 `json:"lat"`
	Chunks int64  `json:"chunks"`
	// ISL, OSL are the token counts the aggregator recorded; Dec is the
	// number of output tokens after the first chunk (TPOT's divisor) when it
	// is not OSL − 1 (0: no TPOT); UOSL is the server's count when a
	// tokenizer counted OSL.
	ISL  *int64 `json:"isl"`
	OSL  *int64 `json:"osl"`
	Dec  *int64 `json:"dec"`
	UOSL *int64 `json:"uosl"`
	Fin  string `json:"fin"`
	// Rt is how many times the client resent the request on a new
	// connection (event.Output.Retries); absent when 0.
	Rt int64 `json:"rt"`
	// Err is the error class of a failed request, Msg an excerpt of the
	// message.
	Err string `json:"err"`
	Msg string `json:"msg"`
	// Conv and Turn place a turn of a multi-turn conversation (1-based
	// turn; absent for single-turn requests); LastTurn is 1 on the
	// conversation's final turn.
	Conv     string `json:"conv"`
	Turn     int    `json:"turn"`
	LastTurn int    `json:"last_turn"`
}

// Tracked reports whether the request was issued inside a tracking window.
func (r *Request) Tracked() bool { return r.Untracked == 0 }

// DecodeTokens returns TPOT's divisor, or 0 when the request has no TPOT.
func (r *Request) DecodeTokens() int64 {
	if r.Err != "" || r.OSL == nil || r.TTFT == nil {
		return 0
	}
	if r.Dec != nil {
		return *r.Dec
	}
	return max(*r.OSL-1, 0)
}

// Mark is a session event or an error of no request, as logged.
type Mark struct {
	Ev string `json:"ev"`
	TS int64  `json:"ts"`
	ID string `json:"id"`
	// Fails is 1 for an error that fails a request that is not tracked (or
	// no longer in flight): the aggregator counts it in total_samples_failed
	// and the warmup_errors family. Other errors (no request, or a tracked
	// request's second error) count in the other_errors family only.
	Fails int    `json:"fails"`
	Err   string `json:"err"`
	Msg   string `json:"msg"`
}

// Requests is a parsed requests.jsonl.
type Requests struct {
	Path      string
	Streaming bool // the run had the streaming series
	Tokenizer bool // a tokenizer counted tokens
	Requests  []Request
	Marks     []Mark // in log order
	// Truncated is true when the last line was cut (the process died
	// mid-write); it is ignored.
	Truncated bool
}

// ReadRequests parses a requests.jsonl file.
func ReadRequests(path string) (*Requests, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	defer f.Close()
	out := &Requests{Path: path}
	br := bufio.NewReaderSize(f, 64<<10)
	lineNo := 0
	for {
		line, err := readLine(br)
		if errors.Is(err, io.EOF) {
			break
		}
		lineNo++
		if err != nil {
			return nil, fmt.Errorf("eventlog: %s line %d: %w", path, lineNo, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if line[len(line)-1] != '\n' {
			// A line without its newline is the one a killed process
			// was writing.
			out.Truncated = true
			break
		}
		if err := out.parse(line, lineNo); err != nil {
			return nil, fmt.Errorf("eventlog: %s line %d: %w", path, lineNo, err)
		}
	}
	if lineNo == 0 {
		return nil, fmt.Errorf("eventlog: %s is empty: want a requests.jsonl header line", path)
	}
	return out, nil
}

func readLine(br *bufio.Reader) ([]byte, error) { return readLineMax(br, maxLineBytes) }

// readLineMax reads one line, newline included (none at the end of the
// file), refusing lines longer than limit.
func readLineMax(br *bufio.Reader, limit int) ([]byte, error) {
	var line []byte
	for {
		part, err := br.ReadSlice('\n')
		line = append(line, part...)
		if len(line) > limit {
			return nil, fmt.Errorf("line longer than %d bytes", limit)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		default:
			return nil, err
		}
	}
}

func (rs *Requests) parse(line []byte, lineNo int) error {
	switch {
	case bytes.HasPrefix(line, []byte(`{"id":`)):
		var r Request
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		rs.Requests = append(rs.Requests, r)
	case bytes.HasPrefix(line, []byte(`{"ev":`)):
		var m Mark
		if err := json.Unmarshal(line, &m); err != nil {
			return err
		}
		rs.Marks = append(rs.Marks, m)
	case bytes.HasPrefix(line, []byte(`{"requests_log":`)):
		var h struct {
			V         int  `json:"requests_log"`
			Streaming bool `json:"streaming"`
			Tokenizer bool `json:"tokenizer"`
		}
		if err := json.Unmarshal(line, &h); err != nil {
			return err
		}
		if h.V != logVersion {
			return fmt.Errorf("requests_log version %d: this inferbench reads version %d", h.V, logVersion)
		}
		rs.Streaming, rs.Tokenizer = h.Streaming, h.Tokenizer
	default:
		if lineNo == 1 {
			return errors.New("not a requests.jsonl file (no header line)")
		}
		return errors.New("unknown line: want a request, a session event or an error")
	}
	return nil
}
