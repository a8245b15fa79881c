package fleet

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
)

// batchBody is an event batch body of recs as a worker writes it: with a
// sample-number table (holding ds) or not, with runs of chunk records or
// every record alone.
func batchBody(recs []event.Record, table, runs bool, ds []dataset.Sample) []byte {
	var refs *refTable
	if table {
		refs = newRefTable()
		refs.samples = ds
	}
	body := []byte{0xdd, 0, 0, 0, 0}
	entries := 0
	for j := 0; j < len(recs); entries++ {
		if runs {
			var k int
			body, k = appendEvents(body, recs[j:], refs, maxBatchRecords)
			j += k
		} else {
			body = appendEvent(body, &recs[j], refs)
			j++
		}
	}
	putUint32(body[1:], uint32(2*entries))
	return body
}

// generic is the record the generic form (event.AppendRecord's map, as a
// batch without sample numbers carries it) decodes to.
func generic(t *testing.T, r event.Record) event.Record {
	t.Helper()
	payload := event.AppendRecord(nil, &r)
	got, err := event.DecodeRecord(payload)
	if err != nil {
		t.Fatalf("generic form of %+v: %v", r, err)
	}
	if pd, ok := got.Data.(*event.PromptData); ok && pd != nil {
		if p, _ := r.Data.(*event.PromptData); p != nil && p.Index > 0 {
			pd.Index = p.Index
		}
	}
	return got
}

// TestRecords_CompactMatchesGeneric: a plain sample's issued, chunk and
// complete records, in their compact forms, decode to exactly the record
// their generic form decodes to, edge cases included (empty and absent
// token ids, a first chunk longer than its field, negative reasoning
// tokens, a non-streamed output with a first-chunk length, reasoning).
func TestRecords_CompactMatchesGeneric(t *testing.T) {
	ds := []dataset.Sample{{Prompt: "from the dataset", TokenIDs: []int32{4, 5, 6}}}
	outs := []*event.Output{
		{Text: "hello world", Streamed: true, FirstChunkLen: 5, Usage: &event.Usage{PromptTokens: 3, CompletionTokens: 2}, FinishReason: "stop"},
		{Text: "abc", Streamed: true, FirstChunkLen: 99, FinishReason: "length"},
		{Text: "abc", FirstChunkLen: 2, Retries: 2},
		{Text: "", Streamed: true},
		{Text: "answer", Reasoning: "let me think", Streamed: true, FirstChunkLen: 3, Usage: &event.Usage{PromptTokens: 1, CompletionTokens: 9, ReasoningTokens: 4}, FinishReason: "tool_calls"},
		{Text: "answer", Reasoning: "hm", FinishReason: "something new"},
		{Text: "x", Usage: &event.Usage{PromptTokens: -1, CompletionTokens: 0, ReasoningTokens: -5}},
		{Text: "x", Usage: &event.Usage{}},
	}
	prompts := []*event.PromptData{
		{Text: "a prompt", ScheduledNS: 17, Index: 0},
		{Text: "", TokenIDs: []int32{1, -2, 1 << 30}, ReleasedNS: 99, ScheduledNS: 5},
		{Text: "ids and text", TokenIDs: []int32{}, Index: 3},
		{Text: ds[0].Prompt, TokenIDs: ds[0].TokenIDs, Index: 1}, // left out: the dataset's
		{Text: "-", Index: -4},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		uuid := fmt.Sprintf("%032x", rng.Uint64())
		t0 := rng.Int64N(1 << 62)
		recs := []event.Record{{Type: event.SampleIssued, TimestampNS: t0, SampleUUID: uuid, Data: prompts[i%len(prompts)]}}
		for c := range rng.IntN(4) {
			typ := event.SampleRecvNonFirst
			if c == 0 {
				typ = event.SampleRecvFirst
			}
			recs = append(recs, event.Record{Type: typ, TimestampNS: t0 + int64(c)*1000 - 7, SampleUUID: uuid})
		}
		recs = append(recs, event.Record{Type: event.SampleComplete, TimestampNS: t0 + 1e9, SampleUUID: uuid, Data: outs[i%len(outs)]})
		for _, c := range []struct{ table, runs bool }{{true, false}, {false, false}, {true, true}, {false, true}} {
			table := c.table
			body := batchBody(recs, table, c.runs, ds)
			got, nums, err := decodeEvents(nil, nil, body, nil, ds)
			if err != nil {
				t.Fatalf("record set %d (table %v): %v", i, table, err)
			}
			for j := range recs {
				want := generic(t, recs[j])
				if nums[j] != 0 {
					if !table || got[j].SampleUUID != "" && recs[j].Type != event.SampleIssued {
						t.Fatalf("record %d of set %d: a sample number without a table", j, i)
					}
					if recs[j].Type != event.SampleIssued {
						got[j].SampleUUID = uuid // the coordinator fills it in
					}
				}
				if !reflect.DeepEqual(got[j], want) {
					t.Fatalf("record %d of set %d (table %v):\ncompact %+v %+v\ngeneric %+v %+v", j, i, table, got[j], got[j].Data, want, want.Data)
				}
			}
		}
	}
}

// TestRecords_CompactSize: a 16-token request's issued and complete
// records take under half of their generic form's bytes (its chunk
// records were compact before).
func TestRecords_CompactSize(t *testing.T) {
	recs := requestEvents("6f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0", 1_700_000_000_000_000_000, 16)
	refs := newRefTable()
	var compact, gen, chunks int
	for i := range recs {
		if recs[i].Type == event.SampleIssued || recs[i].Type == event.SampleComplete {
			compact += len(appendEvent(nil, &recs[i], refs))
			gen += len(event.AppendRecord(nil, &recs[i])) + 6 // bin header, index slot
		}
	}
	numbered := newRefTable()
	numbered.give(recs[1].SampleUUID)
	one := len(appendEvent(nil, &recs[1], numbered))
	run, k := appendEvents(nil, recs[1:], numbered, maxBatchRecords)
	chunks = len(run)
	t.Logf("a 16-token request: issued and complete %d bytes compact, %d generic; its %d chunks %d bytes (%d each alone)", compact, gen, k, chunks, one)
	if 2*compact > gen {
		t.Errorf("compact %d bytes, generic %d: want under half", compact, gen)
	}
	if k != 16 || 2*chunks > 16*one {
		t.Errorf("a run of %d chunks in %d bytes, one alone %d: want 16 in under half", k, chunks, one)
	}
}

// TestRecords_CompactHostile: every prefix of each compact form fails
// cleanly, and so do forms with a wrong field count, an impossible first
// chunk, a negative reasoning count or an empty uuid.
func TestRecords_CompactHostile(t *testing.T) {
	ds := []dataset.Sample{{Prompt: "p"}}
	refs := newRefTable()
	refs.samples = ds
	recs := requestEvents("u1", 5, 2)
	recs[0].Data = &event.PromptData{Text: "t", TokenIDs: []int32{1, 2}, ScheduledNS: 3}
	var forms [][]byte
	for i := range recs {
		forms = append(forms, appendEvent(nil, &recs[i], refs))
	}
	for i, f := range forms {
		if _, _, _, err := readCompact(f, nil, ds); err != nil {
			t.Fatalf("form %d: %v", i, err)
		}
		for k := range len(f) - 1 { // the last byte is the index slot
			if _, _, _, err := readCompact(f[:k], nil, ds); err == nil {
				t.Errorf("form %d cut to %d bytes decoded", i, k)
			}
		}
	}
	run, k := appendEvents(nil, recs[1:], refs, maxBatchRecords)
	if k != 2 {
		t.Fatalf("a run of %d chunks, want 2", k)
	}
	body := append([]byte{0x92}, run...)
	if got, _, err := decodeEvents(nil, nil, body, nil, ds); err != nil || len(got) != 2 || got[1].TimestampNS != recs[2].TimestampNS {
		t.Fatalf("a run of 2 chunks: %+v %v", got, err)
	}
	for i := range len(body) {
		if _, _, err := decodeEvents(nil, nil, body[:i], nil, ds); err == nil {
			t.Errorf("a run cut to %d bytes decoded", i)
		}
	}
	// A run expanding beyond a batch's records: zero deltas, a byte each.
	bomb := []byte{0x92, 0x94, byte(event.SampleRecvFirst), 0x01, 0x00, 0xc6}
	bomb = binary.BigEndian.AppendUint32(bomb, maxBatchRecords+1)
	bomb = append(bomb, make([]byte, maxBatchRecords+1)...)
	bomb = append(bomb, 0x00)
	if got, _, err := decodeEvents(nil, nil, bomb, nil, ds); err == nil {
		t.Errorf("a run of %d records decoded", len(got))
	}
	for name, f := range map[string][]byte{
		"chunk with 4 fields":         {0x94, byte(event.SampleRecvFirst), 0x01, 0x00, 0x00},
		"issued with 3 fields":        {0x93, byte(event.SampleIssued), 0x01, 0xa1, 'u'},
		"unknown type":                {0x93, 0x7f, 0x01, 0x00},
		"empty array, unknown type":   {0x90, 0x7f, 0x01, 0x00},
		"chunk with an empty uuid":    {0x93, byte(event.SampleRecvFirst), 0x01, 0xa0},
		"first chunk beyond the text": {0x9a, byte(event.SampleComplete), 0x01, 0x00, 0xa1, 'x', 0xa0, 0xc3, 0x05, 0x00, 0xc0, 0xa0},
		"first chunk, not streamed":   {0x9a, byte(event.SampleComplete), 0x01, 0x00, 0xa1, 'x', 0xa0, 0xc2, 0x01, 0x00, 0xc0, 0xa0},
		"negative reasoning tokens":   {0x9a, byte(event.SampleComplete), 0x01, 0x00, 0xa1, 'x', 0xa0, 0xc2, 0x00, 0x00, 0x93, 0x01, 0x01, 0xff, 0xa0},
		"token ids claim 4G":          {0x98, byte(event.SampleIssued), 0x01, 0xa1, 'u', 0xc0, 0x00, 0x00, 0x00, 0x92, 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff},
		"omitted prompt not in data":  {0x98, byte(event.SampleIssued), 0x01, 0xa1, 'u', 0xc0, 0x07, 0x00, 0x00, 0xc0},
	} {
		if _, _, _, err := readCompact(f, nil, ds); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// FuzzDecodeEvents: an event batch body, whatever its bytes, decodes or
// fails without a panic, and never yields more records than a batch may
// hold. The seeds are real batches in every form (compact, chunks runs,
// generic, with and without sample numbers).
func FuzzDecodeEvents(f *testing.F) {
	ds := []dataset.Sample{{Prompt: "p", TokenIDs: []int32{1, 2}}}
	recs := requestEvents("7a6b5c4d-0000-4000-8000-000000000001", 1_700_000_000_000_000_000, 5)
	recs[0].Data = &event.PromptData{Text: "p", TokenIDs: ds[0].TokenIDs, Index: 1, ScheduledNS: 3}
	multi := append([]event.Record(nil), recs...)
	for i := range multi {
		multi[i].ConversationID, multi[i].Turn = "c1", 2
	}
	for _, set := range [][]event.Record{recs, multi} {
		for _, table := range []bool{true, false} {
			f.Add(batchBody(set, table, true, ds))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, refs, err := decodeEvents(nil, nil, body, nil, ds)
		if len(got) > maxBatchRecords || len(refs) != len(got) {
			t.Fatalf("%d records, %d refs (err %v)", len(got), len(refs), err)
		}
	})
}
