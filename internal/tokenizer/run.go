package tokenizer

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// RunTokens reads JSON lines {"text": "..."} from r and writes one JSON line
// per input line to w: {"ids":[...],"count":N}, or {"count":N} with
// countOnly. special adds the post-processor's special tokens. Blank lines
// are skipped; a line that is not such an object is an error naming its
// line number.
func RunTokens(r io.Reader, w io.Writer, tok *Tokenizer, special, countOnly bool) error {
	br := bufio.NewReaderSize(r, 1<<16)
	bw := bufio.NewWriterSize(w, 1<<16)
	var (
		in  struct{ Text *string }
		ids []int32
		buf []byte
	)
	for lineNo := 1; ; lineNo++ {
		line, rerr := br.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("tokens: reading line %d: %w", lineNo, rerr)
		}
		if len(trimSpace(line)) > 0 {
			in.Text = nil
			if err := json.Unmarshal(line, &in); err != nil {
				return fmt.Errorf("tokens: line %d: %w", lineNo, err)
			}
			if in.Text == nil {
				return fmt.Errorf("tokens: line %d: missing \"text\" string", lineNo)
			}
			ids = tok.AppendEncode(ids[:0], *in.Text, special)
			buf = buf[:0]
			if !countOnly {
				buf = append(buf, `{"ids":[`...)
				for k, id := range ids {
					if k > 0 {
						buf = append(buf, ',')
					}
					buf = strconv.AppendInt(buf, int64(id), 10)
				}
				buf = append(buf, "],"...)
			} else {
				buf = append(buf, '{')
			}
			buf = append(buf, `"count":`...)
			buf = strconv.AppendInt(buf, int64(len(ids)), 10)
			buf = append(buf, "}\n"...)
			if _, err := bw.Write(buf); err != nil {
				return fmt.Errorf("tokens: writing line %d: %w", lineNo, err)
			}
		}
		if rerr != nil { // io.EOF
			break
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("tokens: writing: %w", err)
	}
	return nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\n') {
		b = b[:len(b)-1]
	}
	return b
}
