package client

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkBody_ConversationTurns builds the request bodies of whole
// conversations the way the load generator does (the encoded history kept
// and appended to, each turn's body a copy of it plus the new message) and
// reports the CPU per request and per body byte: the cost per request grows
// with the history's bytes (a copy), not with the number of messages times
// their re-encoding.
func BenchmarkBody_ConversationTurns(b *testing.B) {
	tmpl, err := newBodyTemplate(&Config{API: APIChat, Model: "m", Streaming: true, IncludeUsage: true, MaxTokens: 64})
	if err != nil {
		b.Fatal(err)
	}
	user := strings.Repeat("alpha \"bravo\" charlie ", 12) // 264 bytes, with escapes
	reply := strings.Repeat("tok ", 64)                    // a 64-token reply
	for _, turns := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("turns=%d", turns), func(b *testing.B) {
			var buf, hist []byte
			bytes := 0
			b.ReportAllocs()
			for range b.N {
				hist = hist[:0]
				for range turns {
					buf = tmpl.append(buf[:0], &Request{Prompt: user, System: "be brief", History: hist})
					bytes += len(buf)
					hist = AppendMessage(hist, "user", user)
					hist = AppendMessage(hist, "assistant", reply)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*turns), "ns/request")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(bytes), "ns/byte")
		})
	}
}
