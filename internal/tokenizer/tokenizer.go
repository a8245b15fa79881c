package tokenizer

import "sync"

// Tokenizer encodes text into token ids exactly as Hugging Face tokenizers
// does for the same tokenizer.json. Build one with [Load] or [Parse]. It is
// safe for concurrent use by multiple goroutines.
type Tokenizer struct {
	norm      normalizer
	pre       *preChain
	fastScan  scanner
	model     *bpe
	added     *addedMatcher // matched on the raw text
	addedNorm *addedMatcher // matched on normalized text
	prefix    []int32       // added by the post-processor with addSpecial
	suffix    []int32
	pool      sync.Pool
}

// workspace holds the scratch buffers of one encode call, recycled through
// a pool so that steady-state calls allocate only their result.
type workspace struct {
	ids      []int32
	syms     []int32
	ranks    []uint64
	next     []int32
	prev     []int32
	heap     []uint64
	segs     []segment
	normSegs []segment
	pieces   []piece
	tmp      []piece
}

func (t *Tokenizer) getWS() *workspace {
	if ws, ok := t.pool.Get().(*workspace); ok {
		return ws
	}
	return &workspace{}
}

// Encode returns the token ids of text. With addSpecial the post-processor's
// special tokens (e.g. a BOS) are added; special-token strings inside text
// are recognised either way, as Hugging Face does by default.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int32 {
	ws := t.getWS()
	ws.ids = t.encode(ws, text, addSpecial, ws.ids[:0])
	out := append([]int32(nil), ws.ids...)
	t.pool.Put(ws)
	return out
}

// AppendEncode appends the token ids of text to dst and returns the
// extended slice, for callers that reuse a buffer.
func (t *Tokenizer) AppendEncode(dst []int32, text string, addSpecial bool) []int32 {
	ws := t.getWS()
	dst = t.encode(ws, text, addSpecial, dst)
	t.pool.Put(ws)
	return dst
}

// Count returns len(Encode(text, addSpecial)) without allocating the result.
func (t *Tokenizer) Count(text string, addSpecial bool) int {
	ws := t.getWS()
	ws.ids = t.encode(ws, text, addSpecial, ws.ids[:0])
	n := len(ws.ids)
	t.pool.Put(ws)
	return n
}

func (t *Tokenizer) encode(ws *workspace, text string, addSpecial bool, out []int32) []int32 {
	if addSpecial {
		out = append(out, t.prefix...)
	}
	if t.added == nil {
		out = t.encodeText(ws, text, true, out)
	} else {
		segs := t.added.split(text, ws.segs[:0])
		for _, sg := range segs {
			if sg.tok >= 0 {
				out = append(out, sg.tok)
			} else {
				out = t.encodeText(ws, text[sg.start:sg.end], sg.start == 0, out)
			}
		}
		ws.segs = segs[:0]
	}
	if addSpecial {
		out = append(out, t.suffix...)
	}
	return out
}

// encodeText runs normalizer, normalized added tokens, pre-tokenizer and
// model on a text segment; first says it starts the original input.
func (t *Tokenizer) encodeText(ws *workspace, s string, first bool, out []int32) []int32 {
	if s == "" {
		return out
	}
	if t.norm != nil {
		s = t.norm.normalize(s)
	}
	if t.addedNorm == nil {
		return t.pretokenize(ws, s, first, out)
	}
	segs := t.addedNorm.split(s, ws.normSegs[:0])
	for _, sg := range segs {
		if sg.tok >= 0 {
			out = append(out, sg.tok)
		} else {
			out = t.pretokenize(ws, s[sg.start:sg.end], first && sg.start == 0, out)
		}
	}
	ws.normSegs = segs[:0]
	return out
}

func (t *Tokenizer) pretokenize(ws *workspace, s string, first bool, out []int32) []int32 {
	if scan := t.fastScan; scan != nil {
		for i := 0; i < len(s); {
			j := scan(s, i)
			if j <= i { // cannot happen for a total pattern; never loop forever
				_, n := runeAt(s, i)
				j = i + n
			}
			out = t.model.encodeWord(ws, s[i:j], out)
			i = j
		}
		return out
	}
	pieces, tmp := t.pre.run(ws.pieces[:0], piece{s, first}, ws.tmp[:0])
	for _, p := range pieces {
		out = t.model.encodeWord(ws, p.s, out)
	}
	ws.pieces, ws.tmp = pieces[:0], tmp[:0]
	return out
}
