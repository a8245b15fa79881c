package fleet

import (
	"encoding/binary"
	"fmt"

	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
)

// The event batch header: kind, worker index (uint32), sequence (uint64),
// all big-endian; then a msgpack array of 2·n elements, each record
// followed by its index slot.
//
// A record takes one of two forms. The compact forms are positional arrays
// whose first element is the record type; they carry the records of a
// plain (single-turn) sample, nearly every record of a run:
//
//	chunk    [type, timestamp_ns, ref | uuid]
//	chunks   [type, timestamp_ns, ref | uuid, later]
//	issued   [type, timestamp_ns, uuid, ref | nil, index, scheduled_ns, released_ns, prompt]
//	complete [type, timestamp_ns, ref | uuid, text, reasoning, streamed, first_chunk_len, retries, usage, finish_reason]
//
// where ref is the sample's number (refTable), prompt is nil when it was
// left out because it is dataset sample index's, else [text, token ids |
// nil], and usage is nil or [prompt, completion, reasoning]. A run of a
// sample's chunk records, one after the other in the stream (a response's
// chunks are read and published together), travels as one chunks form:
// the first record, then in later (bin) each further recv_non_first
// record's time as a signed varint, the difference from the record
// before: two or three bytes a chunk instead of thirteen. Their index
// slot is 0. Every other record is its payload (bin, event.AppendRecord's
// map) followed by an index slot: its dataset index (PromptData.Index,
// which that form does not carry; 0 for other records), or for an issued
// record given a number, [index, ref, prompt omitted].
//
// The compact forms decode to exactly the record the generic form would
// (TestRecords_CompactMatchesGeneric), in a fraction of the bytes and the
// time: a 16-token request is about a third of its generic size.
//
// A worker sends a frame when it reaches eventBatchBytes or
// maxBatchRecords, or eventLinger after its first record.
const eventHeader = 1 + 4 + 8

// The compact forms' lengths.
const (
	compactChunk    = 3
	compactChunks   = 4
	compactIssued   = 8
	compactComplete = 10
)

func appendEventHeader(b []byte, index uint32, seq uint64) []byte {
	b = append(b, kindEvents)
	b = binary.BigEndian.AppendUint32(b, index)
	return binary.BigEndian.AppendUint64(b, seq)
}

// maxRefs bounds the reference numbers of a worker's samples in flight
// (beyond it a worker sends records with their uuid).
const maxRefs = 1 << 22

// refTable numbers a worker's samples in flight, so that their chunk and
// complete records carry a small number instead of the 36-byte uuid: fewer
// bytes to send, encrypt and decrypt, and no uuid hashing at the
// coordinator. A number is given at the sample's issued record (which
// carries it) and freed at its complete record, then reused; the
// coordinator reads the records in order, so it always knows which sample
// a number stands for.
//
// The table also holds the worker's dataset: an issued record whose prompt
// is its dataset sample's travels without the prompt's text and token ids
// (the coordinator keeps the samples it sent in the worker's job, and
// takes the prompt from there).
type refTable struct {
	ids     map[string]uint32
	free    []uint32
	next    uint32
	samples []dataset.Sample
	// The last sample looked up: a response's chunks arrive together, so
	// most lookups are of the sample before (and compare equal by
	// pointer, without hashing).
	lastID  string
	lastRef uint32
	lastOK  bool
}

func newRefTable() *refTable { return &refTable{ids: make(map[string]uint32, 256)} }

// appendEvent appends one record of a batch and its index slot (the
// array header is written by the caller once the count is known); t (nil:
// none) numbers the samples in flight.
func appendEvent(b []byte, r *event.Record, t *refTable) []byte {
	if plain(r) {
		switch r.Type {
		case event.SampleRecvFirst, event.SampleRecvNonFirst:
			if r.Data == nil {
				b = msgp.AppendArrayHeader(b, compactChunk)
				b = msgp.AppendUint8(b, uint8(r.Type))
				b = msgp.AppendInt64(b, r.TimestampNS)
				b = t.appendSample(b, r.SampleUUID)
				return msgp.AppendInt(b, 0)
			}
		case event.SampleIssued:
			if p, ok := r.Data.(*event.PromptData); ok && p != nil {
				return appendIssued(b, r, p, t)
			}
		case event.SampleComplete:
			if o, ok := r.Data.(*event.Output); ok && o != nil {
				return appendComplete(b, r, o, t)
			}
		}
	}
	idx := 0
	p, _ := r.Data.(*event.PromptData)
	if p != nil {
		idx = p.Index
	}
	omit := r.Type == event.SampleIssued && t.fromDataset(r, p)
	// bin32 header, patched once the payload's length is known.
	at := len(b)
	b = append(b, 0xc6, 0, 0, 0, 0)
	if omit {
		rr, pp := *r, *p
		pp.Text, pp.TokenIDs = "", nil
		rr.Data = &pp
		b = event.AppendRecord(b, &rr)
	} else {
		b = event.AppendRecord(b, r)
	}
	binary.BigEndian.PutUint32(b[at+1:], uint32(len(b)-at-5))
	switch r.Type {
	case event.SampleIssued:
		if ref, ok := t.give(r.SampleUUID); ok {
			b = msgp.AppendArrayHeader(b, 3)
			b = msgp.AppendInt(b, idx)
			b = msgp.AppendUint32(b, ref)
			return msgp.AppendBool(b, omit)
		}
	case event.SampleComplete:
		t.release(r.SampleUUID)
	}
	return msgp.AppendInt(b, idx)
}

// plain reports whether a record is of a single-turn sample.
func plain(r *event.Record) bool {
	return r.ConversationID == "" && r.Turn == 0 && !r.LastTurn && !r.RecordedHistory && r.SampleUUID != ""
}

// chunk reports whether a record takes the compact chunk form.
func chunk(r *event.Record) bool {
	return (r.Type == event.SampleRecvFirst || r.Type == event.SampleRecvNonFirst) && r.Data == nil && plain(r)
}

// appendEvents appends recs[0] and, when it is a chunk record, the
// recv_non_first records of its sample right after it, at most limit
// records in all, as one chunks form; it returns how many records it took.
func appendEvents(b []byte, recs []event.Record, t *refTable, limit int) ([]byte, int) {
	r := &recs[0]
	if !chunk(r) {
		return appendEvent(b, r, t), 1
	}
	k := 1
	for k < len(recs) && k < limit && recs[k].Type == event.SampleRecvNonFirst && chunk(&recs[k]) && recs[k].SampleUUID == r.SampleUUID {
		k++
	}
	if k == 1 {
		return appendEvent(b, r, t), 1
	}
	b = msgp.AppendArrayHeader(b, compactChunks)
	b = msgp.AppendUint8(b, uint8(r.Type))
	b = msgp.AppendInt64(b, r.TimestampNS)
	b = t.appendSample(b, r.SampleUUID)
	// bin32 header, patched once the length is known.
	at := len(b)
	b = append(b, 0xc6, 0, 0, 0, 0)
	prev := r.TimestampNS
	for i := 1; i < k; i++ {
		b = binary.AppendVarint(b, recs[i].TimestampNS-prev)
		prev = recs[i].TimestampNS
	}
	binary.BigEndian.PutUint32(b[at+1:], uint32(len(b)-at-5))
	return msgp.AppendInt(b, 0), k
}

// appendIssued appends the compact form of a plain sample's issued record.
func appendIssued(b []byte, r *event.Record, p *event.PromptData, t *refTable) []byte {
	omit := t.fromDataset(r, p)
	b = msgp.AppendArrayHeader(b, compactIssued)
	b = msgp.AppendUint8(b, uint8(event.SampleIssued))
	b = msgp.AppendInt64(b, r.TimestampNS)
	b = msgp.AppendString(b, r.SampleUUID)
	if ref, ok := t.give(r.SampleUUID); ok {
		b = msgp.AppendUint32(b, ref)
	} else {
		b = msgp.AppendNil(b)
	}
	b = msgp.AppendInt(b, p.Index)
	b = msgp.AppendInt64(b, p.ScheduledNS)
	b = msgp.AppendInt64(b, p.ReleasedNS)
	if omit {
		b = msgp.AppendNil(b)
	} else {
		b = msgp.AppendArrayHeader(b, 2)
		b = msgp.AppendString(b, p.Text)
		b = appendTokenIDs(b, p.TokenIDs)
	}
	return msgp.AppendInt(b, 0)
}

// appendComplete appends the compact form of a plain sample's complete
// record, normalized as the generic form's round trip would: the first
// chunk's length counts only for a streamed response and within its field
// (the reasoning when there is one), and usage keeps only positive
// reasoning tokens.
func appendComplete(b []byte, r *event.Record, o *event.Output, t *refTable) []byte {
	b = msgp.AppendArrayHeader(b, compactComplete)
	b = msgp.AppendUint8(b, uint8(event.SampleComplete))
	b = msgp.AppendInt64(b, r.TimestampNS)
	b = t.appendSample(b, r.SampleUUID)
	t.release(r.SampleUUID)
	b = msgp.AppendString(b, o.Text)
	b = msgp.AppendString(b, o.Reasoning)
	b = msgp.AppendBool(b, o.Streamed)
	first := 0
	if o.Streamed {
		field := o.Text
		if o.Reasoning != "" {
			field = o.Reasoning
		}
		first = min(max(o.FirstChunkLen, 0), len(field))
	}
	b = msgp.AppendInt(b, first)
	b = msgp.AppendInt32(b, o.Retries)
	if u := o.Usage; u == nil {
		b = msgp.AppendNil(b)
	} else {
		b = msgp.AppendArrayHeader(b, 3)
		b = msgp.AppendInt64(b, u.PromptTokens)
		b = msgp.AppendInt64(b, u.CompletionTokens)
		b = msgp.AppendInt64(b, max(u.ReasoningTokens, 0))
	}
	b = msgp.AppendString(b, o.FinishReason)
	return msgp.AppendInt(b, 0)
}

// appendSample appends a sample's number, or its uuid when it has none.
func (t *refTable) appendSample(b []byte, id string) []byte {
	if ref, ok := t.lookup(id); ok {
		return msgp.AppendUint32(b, ref)
	}
	return msgp.AppendString(b, id)
}

// fromDataset reports whether an issued record's prompt is its dataset
// sample's, text and token ids (a single-turn sample: a conversation's
// turn carries its own message).
func (t *refTable) fromDataset(r *event.Record, p *event.PromptData) bool {
	if t == nil || p == nil || p.Index < 1 || p.Index > len(t.samples) || r.ConversationID != "" || r.Turn != 0 || r.SampleUUID == "" {
		return false
	}
	s := &t.samples[p.Index-1]
	return p.Text == s.Prompt && len(p.TokenIDs) == len(s.TokenIDs) && (p.TokenIDs == nil) == (s.TokenIDs == nil) &&
		(len(p.TokenIDs) == 0 || &p.TokenIDs[0] == &s.TokenIDs[0])
}

// lookup returns a sample's number.
func (t *refTable) lookup(id string) (uint32, bool) {
	if t == nil {
		return 0, false
	}
	if t.lastOK && id == t.lastID {
		return t.lastRef, true
	}
	ref, ok := t.ids[id]
	if ok {
		t.lastID, t.lastRef, t.lastOK = id, ref, true
	}
	return ref, ok
}

// give numbers a sample (false: no table, no uuid, or out of numbers).
func (t *refTable) give(id string) (uint32, bool) {
	if t == nil || id == "" {
		return 0, false
	}
	if ref, ok := t.ids[id]; ok {
		return ref, true
	}
	var ref uint32
	if n := len(t.free); n > 0 {
		ref = t.free[n-1]
		t.free = t.free[:n-1]
	} else if t.next < maxRefs {
		ref = t.next
		t.next++
	} else {
		return 0, false
	}
	t.ids[id] = ref
	t.lastID, t.lastRef, t.lastOK = id, ref, true
	return ref, true
}

// release frees a completed sample's number.
func (t *refTable) release(id string) {
	if t == nil {
		return
	}
	if ref, ok := t.ids[id]; ok {
		delete(t.ids, id)
		t.free = append(t.free, ref)
		if t.lastOK && t.lastRef == ref {
			t.lastOK, t.lastID = false, ""
		}
	}
}

// readEventHeader parses the header of an event batch.
func readEventHeader(f []byte) (index uint32, seq uint64, body []byte, err error) {
	if len(f) < eventHeader || f[0] != kindEvents {
		return 0, 0, nil, errShort
	}
	return binary.BigEndian.Uint32(f[1:]), binary.BigEndian.Uint64(f[5:]), f[eventHeader:], nil
}

// decodeEvents appends the records of an event batch body to dst, and to
// refs each record's sample number plus one (0: none; see refTable): a
// chunk or complete record given by number has no SampleUUID yet, the
// caller fills it in. intern (nil: none) turns a record's uuid bytes into
// its string, so a sample in flight reuses the string of its issued
// record. samples is the worker's job dataset, where an issued record
// that omitted its prompt takes it back from.
func decodeEvents(dst []event.Record, refs []uint32, body []byte, intern func([]byte) string, samples []dataset.Sample) ([]event.Record, []uint32, error) {
	n, p, err := msgp.ReadArrayHeaderBytes(body)
	if err != nil {
		return dst, refs, err
	}
	if n%2 != 0 || uint64(n)*3 > uint64(len(p)) || n/2 > maxBatchRecords {
		return dst, refs, errShort
	}
	limit := len(dst) + maxBatchRecords // the records a batch may hold, runs expanded
	for range n / 2 {
		if len(p) > 0 && p[0] == 0x90|compactChunks {
			if dst, refs, p, err = readChunks(dst, refs, p, intern, limit); err != nil {
				return dst, refs, err
			}
			if p, err = msgp.Skip(p); err != nil { // the index slot
				return dst, refs, err
			}
			continue
		}
		if len(dst) >= limit {
			return dst, refs, fmt.Errorf("fleet: a batch of more than %d records", maxBatchRecords)
		}
		if msgp.NextType(p) == msgp.ArrayType {
			var r event.Record
			var ref uint32
			if r, ref, p, err = readCompact(p, intern, samples); err != nil {
				return dst, refs, err
			}
			if p, err = msgp.Skip(p); err != nil { // the index slot
				return dst, refs, err
			}
			dst = append(dst, r)
			refs = append(refs, ref)
			continue
		}
		var payload []byte
		if payload, p, err = msgp.ReadBytesZC(p); err != nil {
			return dst, refs, err
		}
		var idx int
		var ref uint32
		omitted := false
		if msgp.NextType(p) == msgp.ArrayType {
			var k uint32
			if k, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
				return dst, refs, err
			}
			if k != 3 {
				return dst, refs, errShort
			}
			if idx, p, err = msgp.ReadIntBytes(p); err != nil {
				return dst, refs, err
			}
			if ref, p, err = readRef(p); err != nil {
				return dst, refs, err
			}
			if omitted, p, err = msgp.ReadBoolBytes(p); err != nil {
				return dst, refs, err
			}
		} else if idx, p, err = msgp.ReadIntBytes(p); err != nil {
			return dst, refs, err
		}
		r, err := event.DecodeRecord(payload)
		if err != nil {
			return dst, refs, err
		}
		if ref != 0 && (r.Type != event.SampleIssued || r.SampleUUID == "") {
			return dst, refs, fmt.Errorf("fleet: a sample number on a record of type %d", r.Type)
		}
		pd, _ := r.Data.(*event.PromptData)
		if pd != nil && idx > 0 {
			pd.Index = idx
		}
		if omitted {
			if err := fromSamples(pd, idx, samples); err != nil {
				return dst, refs, err
			}
		}
		dst = append(dst, r)
		refs = append(refs, ref)
	}
	return dst, refs, nil
}

// fromSamples gives an issued record the prompt it left out: dataset
// sample idx's.
func fromSamples(pd *event.PromptData, idx int, samples []dataset.Sample) error {
	if pd == nil || idx < 1 || idx > len(samples) {
		return fmt.Errorf("fleet: an issued record omits the prompt of dataset sample %d of %d", idx, len(samples))
	}
	pd.Text, pd.TokenIDs = samples[idx-1].Prompt, samples[idx-1].TokenIDs
	return nil
}

// readRef reads a sample number, returning it plus one.
func readRef(p []byte) (uint32, []byte, error) {
	ref, p, err := msgp.ReadUint32Bytes(p)
	if err == nil && ref >= maxRefs {
		err = fmt.Errorf("fleet: sample number %d exceeds %d", ref, maxRefs)
	}
	return ref + 1, p, err
}

// readCompact reads a record's compact form, and its sample number plus
// one (0: the record carries its uuid).
func readCompact(p []byte, intern func([]byte) string, samples []dataset.Sample) (event.Record, uint32, []byte, error) {
	var r event.Record
	n, p, err := msgp.ReadArrayHeaderBytes(p)
	if err != nil {
		return r, 0, p, err
	}
	var t uint8
	if t, p, err = msgp.ReadUint8Bytes(p); err != nil {
		return r, 0, p, err
	}
	r.Type = event.Type(t)
	want := uint32(0)
	switch r.Type {
	case event.SampleRecvFirst, event.SampleRecvNonFirst:
		want = compactChunk
	case event.SampleIssued:
		want = compactIssued
	case event.SampleComplete:
		want = compactComplete
	}
	if want == 0 || n != want {
		return r, 0, p, fmt.Errorf("fleet: compact record of type %d with %d fields", t, n)
	}
	if r.TimestampNS, p, err = msgp.ReadInt64Bytes(p); err != nil {
		return r, 0, p, err
	}
	var ref uint32
	switch r.Type {
	case event.SampleIssued:
		r.Data, ref, p, err = readIssued(&r, p, samples)
	case event.SampleComplete:
		if ref, p, err = readSample(&r, p, intern); err == nil {
			r.Data, p, err = readOutput(p)
		}
	default:
		ref, p, err = readSample(&r, p, intern)
	}
	return r, ref, p, err
}

// readChunks appends the records of a chunks form to dst (and their
// sample number plus one to refs), at most up to limit records.
func readChunks(dst []event.Record, refs []uint32, p []byte, intern func([]byte) string, limit int) ([]event.Record, []uint32, []byte, error) {
	var r event.Record
	p = p[1:] // the array header, checked by the caller
	t, p, err := msgp.ReadUint8Bytes(p)
	if err != nil {
		return dst, refs, p, err
	}
	r.Type = event.Type(t)
	if r.Type != event.SampleRecvFirst && r.Type != event.SampleRecvNonFirst {
		return dst, refs, p, fmt.Errorf("fleet: chunks form of type %d", t)
	}
	if r.TimestampNS, p, err = msgp.ReadInt64Bytes(p); err != nil {
		return dst, refs, p, err
	}
	var ref uint32
	if ref, p, err = readSample(&r, p, intern); err != nil {
		return dst, refs, p, err
	}
	var later []byte
	if later, p, err = msgp.ReadBytesZC(p); err != nil {
		return dst, refs, p, err
	}
	if len(dst) >= limit {
		return dst, refs, p, fmt.Errorf("fleet: a batch of more than %d records", maxBatchRecords)
	}
	dst, refs = append(dst, r), append(refs, ref)
	r.Type = event.SampleRecvNonFirst
	for len(later) > 0 {
		d, k := binary.Varint(later)
		if k <= 0 {
			return dst, refs, p, errShort
		}
		later = later[k:]
		if len(dst) >= limit {
			return dst, refs, p, fmt.Errorf("fleet: a batch of more than %d records", maxBatchRecords)
		}
		r.TimestampNS += d
		dst, refs = append(dst, r), append(refs, ref)
	}
	return dst, refs, p, nil
}

// readSample reads a compact record's sample: its number (returned plus
// one) or its uuid (into r).
func readSample(r *event.Record, p []byte, intern func([]byte) string) (uint32, []byte, error) {
	if t := msgp.NextType(p); t == msgp.UintType || t == msgp.IntType {
		return readRef(p)
	}
	id, p, err := msgp.ReadStringZC(p)
	if err != nil {
		return 0, p, err
	}
	if len(id) == 0 {
		return 0, p, errShort
	}
	if intern != nil {
		r.SampleUUID = intern(id)
	} else {
		r.SampleUUID = string(id)
	}
	return 0, p, nil
}

// readIssued reads the rest of an issued record's compact form.
func readIssued(r *event.Record, p []byte, samples []dataset.Sample) (*event.PromptData, uint32, []byte, error) {
	var err error
	var id []byte
	if id, p, err = msgp.ReadStringZC(p); err != nil {
		return nil, 0, p, err
	}
	if len(id) == 0 {
		return nil, 0, p, errShort
	}
	r.SampleUUID = string(id) // a new sample: nothing to intern
	var ref uint32
	if msgp.IsNil(p) {
		p, err = msgp.ReadNilBytes(p)
	} else {
		ref, p, err = readRef(p)
	}
	if err != nil {
		return nil, 0, p, err
	}
	pd := &event.PromptData{}
	var idx int
	if idx, p, err = msgp.ReadIntBytes(p); err != nil {
		return nil, 0, p, err
	}
	pd.Index = max(idx, 0)
	if pd.ScheduledNS, p, err = msgp.ReadInt64Bytes(p); err != nil {
		return nil, 0, p, err
	}
	if pd.ReleasedNS, p, err = msgp.ReadInt64Bytes(p); err != nil {
		return nil, 0, p, err
	}
	if msgp.IsNil(p) {
		if p, err = msgp.ReadNilBytes(p); err != nil {
			return nil, 0, p, err
		}
		return pd, ref, p, fromSamples(pd, idx, samples)
	}
	var k uint32
	if k, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
		return nil, 0, p, err
	}
	if k != 2 {
		return nil, 0, p, errShort
	}
	if pd.Text, p, err = msgp.ReadStringBytes(p); err != nil {
		return nil, 0, p, err
	}
	if msgp.IsNil(p) {
		p, err = msgp.ReadNilBytes(p)
		return pd, ref, p, err
	}
	if k, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
		return nil, 0, p, err
	}
	if uint64(k) > uint64(len(p)) { // each id takes a byte at least
		return nil, 0, p, errShort
	}
	pd.TokenIDs = make([]int32, k)
	for i := range pd.TokenIDs {
		if pd.TokenIDs[i], p, err = msgp.ReadInt32Bytes(p); err != nil {
			return nil, 0, p, err
		}
	}
	return pd, ref, p, nil
}

// outputUsage holds an output and its usage in one allocation.
type outputUsage struct {
	o event.Output
	u event.Usage
}

// readOutput reads the output fields of a complete record's compact form,
// checking them as the generic form's decoder would leave them.
func readOutput(p []byte) (*event.Output, []byte, error) {
	ou := &outputUsage{}
	o := &ou.o
	var err error
	if o.Text, p, err = msgp.ReadStringBytes(p); err != nil {
		return nil, p, err
	}
	if o.Reasoning, p, err = msgp.ReadStringBytes(p); err != nil {
		return nil, p, err
	}
	if o.Streamed, p, err = msgp.ReadBoolBytes(p); err != nil {
		return nil, p, err
	}
	if o.FirstChunkLen, p, err = msgp.ReadIntBytes(p); err != nil {
		return nil, p, err
	}
	field := o.Text
	if o.Reasoning != "" {
		field = o.Reasoning
	}
	if o.FirstChunkLen < 0 || o.FirstChunkLen > len(field) || (!o.Streamed && o.FirstChunkLen != 0) {
		return nil, p, fmt.Errorf("fleet: first chunk of %d bytes in an output of %d", o.FirstChunkLen, len(field))
	}
	if o.Retries, p, err = msgp.ReadInt32Bytes(p); err != nil {
		return nil, p, err
	}
	if msgp.IsNil(p) {
		p, err = msgp.ReadNilBytes(p)
	} else {
		var k uint32
		if k, p, err = msgp.ReadArrayHeaderBytes(p); err == nil && k != 3 {
			err = errShort
		}
		u := &ou.u
		if err == nil {
			u.PromptTokens, p, err = msgp.ReadInt64Bytes(p)
		}
		if err == nil {
			u.CompletionTokens, p, err = msgp.ReadInt64Bytes(p)
		}
		if err == nil {
			u.ReasoningTokens, p, err = msgp.ReadInt64Bytes(p)
		}
		if err == nil && u.ReasoningTokens < 0 {
			err = errShort
		}
		o.Usage = u
	}
	if err != nil {
		return nil, p, err
	}
	var fr []byte
	if fr, p, err = msgp.ReadStringZC(p); err != nil {
		return nil, p, err
	}
	o.FinishReason = event.FinishReason(fr)
	return o, p, nil
}
