package tokenizer

import (
	"fmt"
	"hash/maphash"
	"math"
	"strings"
	"sync"
	"unicode/utf8"
)

// noMerge is the packed merge value of a pair that has no merge rule.
const noMerge = math.MaxUint64

// bpe is the BPE model. In byte-level mode it works directly on the raw
// UTF-8 bytes of a piece: vocabulary keys are decoded from the GPT-2
// byte-to-character alphabet at load time, so no piece is ever re-encoded
// into that alphabet (the mapping is a bijection, so ids are unchanged).
type bpe struct {
	byteLevel    bool
	ignoreMerges bool
	byteFallback bool
	fuseUnk      bool
	unk          int32 // -1: no unknown token
	vocab        map[string]int32
	// merges maps a pair of ids (a<<32 | b) to rank<<32 | merged id.
	merges map[uint64]uint64
	// byteIDs holds, per byte, the id of its byte-level symbol or (char
	// mode) of its <0xNN> fallback token; -1 when missing.
	byteIDs [256]int32
	// splitMeta says that no vocabulary token has a "▁" after another
	// character, so no merge can cross the start of a "▁" run and a long
	// SentencePiece-style piece can be encoded (and cached) word by word
	// with the same result.
	splitMeta bool
	cache     wordCache
}

const metaspace = "▁"

// bytesToUnicode is GPT-2's reversible map from bytes to printable runes.
func bytesToUnicode() [256]rune {
	var t [256]rune
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			t[b] = rune(b)
		} else {
			t[b] = 256 + n
			n++
		}
	}
	return t
}

func buildBPE(m *modelJSON, byteLevel bool) (*bpe, error) {
	if m.Type != "BPE" && !(m.Type == "" && m.Merges != nil) {
		return nil, unsupported("model", m.Type)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, unsupported("BPE option", fmt.Sprintf("dropout=%v", *m.Dropout))
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, unsupported("BPE option", fmt.Sprintf("continuing_subword_prefix=%q", *m.ContinuingSubwordPrefix))
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, unsupported("BPE option", fmt.Sprintf("end_of_word_suffix=%q", *m.EndOfWordSuffix))
	}
	if len(m.Vocab) == 0 {
		return nil, fmt.Errorf("BPE model has an empty vocab")
	}
	b := &bpe{
		byteLevel:    byteLevel,
		ignoreMerges: m.IgnoreMerges,
		byteFallback: m.ByteFallback,
		fuseUnk:      m.FuseUnk,
		unk:          -1,
	}
	if m.UnkToken != nil {
		id, ok := m.Vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("unk_token %q is not in the vocab", *m.UnkToken)
		}
		b.unk = id
	}
	merges, err := parseMerges(m.Merges)
	if err != nil {
		return nil, err
	}
	b.merges = make(map[uint64]uint64, len(merges))
	for rank, mg := range merges {
		a, ok1 := m.Vocab[mg[0]]
		c, ok2 := m.Vocab[mg[1]]
		n, ok3 := m.Vocab[mg[0]+mg[1]]
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("merge %d %q: token not in the vocab", rank, mg[0]+" "+mg[1])
		}
		// A repeated pair keeps its last rank, as the Rust map build does.
		b.merges[uint64(uint32(a))<<32|uint64(uint32(c))] = uint64(rank)<<32 | uint64(uint32(n))
	}
	for i := range b.byteIDs {
		b.byteIDs[i] = -1
	}
	if byteLevel {
		alphabet := bytesToUnicode()
		inverse := make(map[rune]byte, 256)
		for by, r := range alphabet {
			inverse[r] = byte(by)
			if id, ok := m.Vocab[string(r)]; ok {
				b.byteIDs[by] = id
			}
		}
		b.vocab = make(map[string]int32, len(m.Vocab))
		raw := make([]byte, 0, 64)
	keys:
		for k, id := range m.Vocab {
			raw = raw[:0]
			for _, r := range k {
				by, ok := inverse[r]
				if !ok {
					// Not reachable from byte-level text; only merges could
					// name it, and they work on ids.
					continue keys
				}
				raw = append(raw, by)
			}
			b.vocab[string(raw)] = id
		}
	} else {
		b.vocab = m.Vocab
		_, hasMeta := m.Vocab[metaspace]
		b.splitMeta = hasMeta
		for k := range m.Vocab {
			if strings.Contains(strings.TrimLeft(k, metaspace), metaspace) {
				b.splitMeta = false
				break
			}
		}
		if b.byteFallback {
			for by := range b.byteIDs {
				if id, ok := m.Vocab[fmt.Sprintf("<0x%02X>", by)]; ok {
					b.byteIDs[by] = id
				}
			}
		}
	}
	b.cache.init()
	return b, nil
}

func (b *bpe) pair(x, y int32) uint64 {
	if v, ok := b.merges[uint64(uint32(x))<<32|uint64(uint32(y))]; ok {
		return v
	}
	return noMerge
}

// maxCachedWord bounds the length of cached pieces, as the Rust cache does.
const maxCachedWord = 256

// encodeWord appends the ids of one pre-tokenized piece to out.
func (b *bpe) encodeWord(ws *workspace, w string, out []int32) []int32 {
	if !b.splitMeta || len(w) < 2*len(metaspace) {
		return b.encodeOne(ws, w, out)
	}
	start := 0
	for i := len(metaspace); i < len(w); {
		k := strings.Index(w[i:], metaspace)
		if k < 0 {
			break
		}
		i += k
		if !strings.HasSuffix(w[:i], metaspace) {
			out = b.encodeOne(ws, w[start:i], out)
			start = i
		}
		i += len(metaspace)
	}
	return b.encodeOne(ws, w[start:], out)
}

func (b *bpe) encodeOne(ws *workspace, w string, out []int32) []int32 {
	if w == "" {
		return out
	}
	// The small, hot cache comes before the large vocabulary map, whose
	// lookups mostly miss the CPU cache.
	cacheable := len(w) < maxCachedWord
	if cacheable {
		if ids, ok := b.cache.get(w); ok {
			return append(out, ids...)
		}
	}
	syms := ws.syms[:0]
	id, whole := int32(0), false
	if b.ignoreMerges {
		id, whole = b.vocab[w]
	}
	switch {
	case whole:
		syms = append(syms, id)
	default:
		if syms = b.initialSymbols(syms, w); len(syms) <= linearMergeMax {
			syms = b.mergeLinear(ws, syms)
		} else {
			syms = b.mergeHeap(ws, syms)
		}
	}
	ws.syms = syms
	if cacheable {
		b.cache.put(w, syms)
	}
	return append(out, syms...)
}

// initialSymbols splits w into the model's starting symbols: bytes in
// byte-level mode, otherwise characters, with byte fallback and unknown
// tokens handled as the Rust BPE does.
func (b *bpe) initialSymbols(syms []int32, w string) []int32 {
	if b.byteLevel {
		for i := 0; i < len(w); i++ {
			if id := b.byteIDs[w[i]]; id >= 0 {
				syms = append(syms, id)
			} else if b.unk >= 0 {
				syms = append(syms, b.unk) // unreachable with a complete byte alphabet
			}
		}
		return syms
	}
	pendingUnk := false
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRuneInString(w[i:])
		ch := w[i : i+n]
		i += n
		if id, ok := b.vocab[ch]; ok {
			if pendingUnk {
				syms = append(syms, b.unk)
				pendingUnk = false
			}
			syms = append(syms, id)
			continue
		}
		if b.byteFallback {
			all := true
			for k := 0; k < len(ch); k++ {
				if b.byteIDs[ch[k]] < 0 {
					all = false
					break
				}
			}
			if all {
				for k := 0; k < len(ch); k++ {
					syms = append(syms, b.byteIDs[ch[k]])
				}
				continue
			}
		}
		if b.unk >= 0 {
			if pendingUnk && !b.fuseUnk {
				syms = append(syms, b.unk)
			}
			pendingUnk = true
		}
	}
	if pendingUnk {
		syms = append(syms, b.unk)
	}
	return syms
}

// linearMergeMax is the symbol count up to which merging rescans a flat
// rank array instead of using a heap: for short words that is faster, and
// both pick the lowest-ranked, leftmost pair each step.
const linearMergeMax = 48

func (b *bpe) mergeLinear(ws *workspace, ids []int32) []int32 {
	if len(ids) < 2 {
		return ids
	}
	ranks := ws.ranks[:0]
	for k := 0; k+1 < len(ids); k++ {
		ranks = append(ranks, b.pair(ids[k], ids[k+1]))
	}
	for {
		best, bi := uint64(noMerge), -1
		for k, r := range ranks {
			if r < best {
				best, bi = r, k
			}
		}
		if bi < 0 {
			break
		}
		ids[bi] = int32(uint32(best))
		ids = append(ids[:bi+1], ids[bi+2:]...)
		ranks = append(ranks[:bi], ranks[bi+1:]...)
		if bi > 0 {
			ranks[bi-1] = b.pair(ids[bi-1], ids[bi])
		}
		if bi < len(ids)-1 {
			ranks[bi] = b.pair(ids[bi], ids[bi+1])
		}
	}
	ws.ranks = ranks
	return ids
}

// mergeHeap is the Rust algorithm: a min-heap of (rank, position) over a
// linked list of symbols, skipping entries that a merge made stale.
func (b *bpe) mergeHeap(ws *workspace, ids []int32) []int32 {
	n := len(ids)
	if n < 2 {
		return ids
	}
	next := growInt32(ws.next, n)
	prev := growInt32(ws.prev, n)
	h := ws.heap[:0]
	for k := range n {
		next[k], prev[k] = int32(k+1), int32(k-1)
	}
	next[n-1] = -1
	for k := 0; k+1 < n; k++ {
		if v := b.pair(ids[k], ids[k+1]); v != noMerge {
			h = heapPush(h, v&^0xFFFFFFFF|uint64(k))
		}
	}
	const dead = -2
	for len(h) > 0 {
		var top uint64
		top, h = heapPop(h)
		pos := int32(uint32(top))
		nx := next[pos]
		if prev[pos] == dead || nx < 0 {
			continue
		}
		v := b.pair(ids[pos], ids[nx])
		if v == noMerge || v>>32 != top>>32 {
			continue
		}
		ids[pos] = int32(uint32(v))
		nn := next[nx]
		next[pos] = nn
		if nn >= 0 {
			prev[nn] = pos
		}
		prev[nx] = dead
		if p := prev[pos]; p >= 0 {
			if v := b.pair(ids[p], ids[pos]); v != noMerge {
				h = heapPush(h, v&^0xFFFFFFFF|uint64(p))
			}
		}
		if nn >= 0 {
			if v := b.pair(ids[pos], ids[nn]); v != noMerge {
				h = heapPush(h, v&^0xFFFFFFFF|uint64(pos))
			}
		}
	}
	out := ids[:0]
	for k := int32(0); k >= 0; k = next[k] {
		out = append(out, ids[k])
	}
	ws.next, ws.prev, ws.heap = next, prev, h
	return out
}

func growInt32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

func heapPush(h []uint64, v uint64) []uint64 {
	h = append(h, v)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if h[p] <= v {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = v
	return h
}

func heapPop(h []uint64) (uint64, []uint64) {
	top := h[0]
	last := h[len(h)-1]
	h = h[:len(h)-1]
	n := len(h)
	i := 0
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && h[c+1] < h[c] {
			c++
		}
		if last <= h[c] {
			break
		}
		h[i] = h[c]
		i = c
	}
	if n > 0 {
		h[i] = last
	}
	return top, h
}

// wordCache memoizes the ids of pieces. Sharding keeps goroutines on
// different pieces from contending on one lock; each shard stops growing at
// a fixed size so memory stays bounded on endless input.
type wordCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

const (
	cacheShards   = 32
	cacheShardMax = 4096
)

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
	_  [40]byte // keep shards on separate cache lines
}

func (c *wordCache) init() {
	c.seed = maphash.MakeSeed()
	for i := range c.shards {
		c.shards[i].m = make(map[string][]int32)
	}
}

func (c *wordCache) shard(w string) *cacheShard {
	return &c.shards[maphash.String(c.seed, w)%cacheShards]
}

func (c *wordCache) get(w string) ([]int32, bool) {
	s := c.shard(w)
	s.mu.RLock()
	ids, ok := s.m[w]
	s.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(w string, ids []int32) {
	s := c.shard(w)
	s.mu.Lock()
	if len(s.m) < cacheShardMax {
		// Clone both: w may be a slice of a large input, ids a scratch buffer.
		s.m[strings.Clone(w)] = append([]int32(nil), ids...)
	}
	s.mu.Unlock()
}
