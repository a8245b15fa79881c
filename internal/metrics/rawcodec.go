package metrics

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
)

// Keys map values to uint64s whose unsigned order is the order a full sort
// gives (slices.Sort): integers by flipping the sign bit; floats with every
// NaN first (key 0, where slices.Sort puts NaNs), then -Inf … +Inf, with -0
// and +0 one key (they compare equal).
const signBit = 1 << 63

func intKey(v int64) uint64    { return uint64(v) ^ signBit }
func keyInt(k uint64) int64    { return int64(k ^ signBit) }
func keyIntF(k uint64) float64 { return float64(keyInt(k)) }

func floatKey(v float64) uint64 {
	switch {
	case v != v: // NaN
		return 0
	case v == 0:
		return signBit
	}
	b := math.Float64bits(v)
	if b&signBit != 0 {
		return ^b
	}
	return b | signBit
}

func keyFloat(k uint64) float64 {
	switch {
	case k == 0:
		return math.NaN()
	case k&signBit != 0:
		return math.Float64frombits(k &^ signBit)
	}
	return math.Float64frombits(^k)
}

// radixSort sorts keys in place (LSD, one byte per pass, skipping bytes that
// are the same in every key: realistic gaps differ in 3–4 low bytes only). It
// returns the scratch buffer for reuse.
func radixSort(keys, scratch []uint64) []uint64 {
	if len(keys) < 2 {
		return scratch
	}
	if len(keys) <= 64 {
		insertionSort(keys)
		return scratch
	}
	and, or := ^uint64(0), uint64(0)
	for _, k := range keys {
		and &= k
		or |= k
	}
	diff := and ^ or
	if cap(scratch) < len(keys) {
		scratch = make([]uint64, len(keys))
	}
	src, dst := keys, scratch[:len(keys)]
	var counts [256]int
	for shift := uint(0); shift < 64; shift += 8 {
		if (diff>>shift)&0xff == 0 {
			continue
		}
		counts = [256]int{}
		for _, k := range src {
			counts[(k>>shift)&0xff]++
		}
		pos := 0
		for i, c := range counts {
			counts[i] = pos
			pos += c
		}
		for _, k := range src {
			b := (k >> shift) & 0xff
			dst[counts[b]] = k
			counts[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
	return scratch
}

func insertionSort(a []uint64) {
	for i := 1; i < len(a); i++ {
		v := a[i]
		j := i
		for j > 0 && a[j-1] > v {
			a[j] = a[j-1]
			j--
		}
		a[j] = v
	}
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// appendBlock appends one framed block of sorted keys to b.
func appendBlock(b []byte, sorted []uint64) []byte {
	b = binary.AppendUvarint(b, uint64(len(sorted)))
	// The payload length is only known after encoding: encode after a
	// maximal-size gap, then move it down.
	lenAt := len(b)
	b = append(b, make([]byte, binary.MaxVarintLen64+4)...)
	start := len(b)
	prev := uint64(0)
	for _, k := range sorted {
		b = binary.AppendUvarint(b, k-prev)
		prev = k
	}
	payload := len(b) - start
	var hdr [binary.MaxVarintLen64 + 4]byte
	h := binary.PutUvarint(hdr[:], uint64(payload))
	binary.LittleEndian.PutUint32(hdr[h:], crc32.Checksum(b[start:], crcTable))
	h += 4
	copy(b[lenAt:], hdr[:h])
	copy(b[lenAt+h:], b[start:])
	return b[:lenAt+h+payload]
}

// ErrRawFile wraps every problem reading a raw file.
var ErrRawFile = errors.New("metrics: raw values")

// rawReader reads the blocks of one raw file.
type rawReader struct {
	path    string
	f       *os.File
	r       *bufio.Reader
	isFloat bool
	payload []byte
	keys    []uint64
	off     int64 // offset of the next block
	size    int64 // file size when opened: no block may claim more
}

func openRaw(path string) (*rawReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRawFile, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %v", ErrRawFile, err)
	}
	rr := &rawReader{path: path, f: f, r: bufio.NewReaderSize(f, 1<<16), size: st.Size()}
	var h [8]byte
	if _, err := io.ReadFull(rr.r, h[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: no header: %v", ErrRawFile, path, err)
	}
	switch string(h[:]) {
	case rawHeader[0]:
	case rawHeader[1]:
		rr.isFloat = true
	default:
		f.Close()
		return nil, fmt.Errorf("%w: %s: not a raw value file (header %q)", ErrRawFile, path, h[:])
	}
	rr.off = 8
	return rr, nil
}

func (rr *rawReader) Close() error { return rr.f.Close() }

// next returns the next block's sorted keys (valid until the next call), or
// io.EOF after the last complete block. A torn or corrupt block is an error
// naming its offset.
func (rr *rawReader) next() ([]uint64, error) {
	at := rr.off
	bad := func(what string) ([]uint64, error) {
		return nil, fmt.Errorf("%w: %s: block at byte %d: %s", ErrRawFile, rr.path, at, what)
	}
	n, err := binary.ReadUvarint(rr.r)
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return bad("torn count")
	}
	if n == 0 || n > maxSpillBlock {
		return bad(fmt.Sprintf("count %d not in 1..%d", n, maxSpillBlock))
	}
	pl, err := binary.ReadUvarint(rr.r)
	if err != nil {
		return bad("torn length")
	}
	if pl < n || pl > n*binary.MaxVarintLen64 {
		return bad(fmt.Sprintf("payload of %d bytes for %d values", pl, n))
	}
	// Nothing is allocated for more bytes than the file holds.
	if int64(pl) > rr.size-rr.off {
		return bad(fmt.Sprintf("torn payload (%d bytes claimed, %d left)", pl, rr.size-rr.off))
	}
	var crc [4]byte
	if _, err := io.ReadFull(rr.r, crc[:]); err != nil {
		return bad("torn checksum")
	}
	if uint64(cap(rr.payload)) < pl {
		rr.payload = make([]byte, pl)
	}
	p := rr.payload[:pl]
	if _, err := io.ReadFull(rr.r, p); err != nil {
		return bad("torn payload")
	}
	if crc32.Checksum(p, crcTable) != binary.LittleEndian.Uint32(crc[:]) {
		return bad("checksum mismatch")
	}
	rr.off += int64(uvarintLen(n) + uvarintLen(pl) + 4 + int(pl))
	if uint64(cap(rr.keys)) < n {
		rr.keys = make([]uint64, n)
	}
	keys := rr.keys[:n]
	prev := uint64(0)
	for i := range keys {
		d, w := binary.Uvarint(p)
		if w <= 0 {
			return bad("bad value encoding")
		}
		p = p[w:]
		if prev+d < prev {
			return bad("values out of order")
		}
		prev += d
		keys[i] = prev
	}
	if len(p) != 0 {
		return bad("trailing bytes")
	}
	return keys, nil
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
