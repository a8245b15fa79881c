package dataset

import (
	"fmt"
	"strings"
	"testing"

	"github.com/goccy/go-json"
)

// BenchmarkDecodeRow compares the two ways a JSONL record becomes a Sample:
// the tagged-struct fast path and the map of raw values it falls back to.
func BenchmarkDecodeRow(b *testing.B) {
	line := []byte(fmt.Sprintf(`{"text_input":%q,"ref_output":%q,"id":17}`,
		"Question: "+strings.Repeat("explain the theory of relativity ", 9)+`"why"?`, strings.Repeat("answer ", 20)))
	var rec record
	if err := json.Unmarshal(line, &rec); err != nil {
		b.Fatal(err)
	}
	cols, err := resolveColumns("bench", Options{}, sortedKeys(rec))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		fast := newFastDecoder(&cols)
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := fast.decode(line); !ok {
				b.Fatal("fast path refused the record")
			}
		}
	})
	b.Run("map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			clear(rec)
			if err := json.Unmarshal(line, &rec); err != nil {
				b.Fatal(err)
			}
			if _, err := cols.fromRecord("bench", "line", 1, rec); err != nil {
				b.Fatal(err)
			}
		}
	})
}
