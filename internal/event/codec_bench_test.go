package event_test

import (
	"testing"

	"github.com/inferbench/inferbench/internal/event"
)

// benchRecords returns an issued, a recv_first and a complete record with
// realistic payloads: the three events every streamed request produces.
func benchRecords() []event.Record {
	uuid := "5f0c8d3e9a7b4c21b6e2d4f1a3c5e7b9"
	prompt := "Summarize the following article in three sentences. The quick brown fox jumps over the lazy dog; " +
		"the committee met on Tuesday to discuss the budget for the next fiscal year and agreed on most items."
	return []event.Record{
		{Type: event.SampleIssued, TimestampNS: 1_700_000_000_000, SampleUUID: uuid, Data: &event.PromptData{Text: prompt}},
		{Type: event.SampleRecvFirst, TimestampNS: 1_700_000_050_000, SampleUUID: uuid},
		{Type: event.SampleComplete, TimestampNS: 1_700_001_000_000, SampleUUID: uuid, Data: &event.Output{
			Text:     "The committee met on Tuesday and agreed on most of the budget for the next fiscal year.",
			Streamed: true, FirstChunkLen: 3,
			Usage:        &event.Usage{PromptTokens: 45, CompletionTokens: 19},
			FinishReason: "stop",
		}},
	}
}

func BenchmarkEventEncode(b *testing.B) {
	recs := benchRecords()
	var c event.Codec
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		var err error
		if _, buf, err = c.Encode(buf[:0], &recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEventDecode(b *testing.B) {
	recs := benchRecords()
	payloads := make([][]byte, len(recs))
	for i := range recs {
		payloads[i] = event.AppendRecord(nil, &recs[i])
	}
	var c event.Codec
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := c.Decode(payloads[i%len(payloads)]); err != nil {
			b.Fatal(err)
		}
	}
}
