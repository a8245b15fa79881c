// Package msgpskip skips msgpack values read from the network or a file,
// which are hostile until checked: every container's length is checked
// against the bytes that remain before it is walked, and nesting is bounded,
// so a frame that claims 0xffffffff elements costs an error, not memory. It
// allocates nothing. The event and snapshot decoders share it; it is a leaf
// and imports no package of the module.
package msgpskip

import (
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// MaxDepth bounds the nesting of the values Skip walks.
const MaxDepth = 32

// Skip skips one value of any type and returns the bytes after it. Scalars,
// strings and bins are skipped by msgp, which checks their lengths.
func Skip(p []byte) ([]byte, error) { return skip(p, 0) }

func skip(p []byte, depth int) ([]byte, error) {
	// Fast paths for the commonest small values: nil, fixints, fixstr.
	if len(p) > 0 {
		switch c := p[0]; {
		case c == 0xc0 || c < 0x80 || c >= 0xe0: // nil, positive and negative fixint
			return p[1:], nil
		case c&0xe0 == 0xa0: // fixstr
			n := 1 + int(c&0x1f)
			if len(p) < n {
				return p, msgp.ErrShortBytes
			}
			return p[n:], nil
		}
	}
	var n uint64
	switch msgp.NextType(p) {
	case msgp.ArrayType:
		m, rest, err := msgp.ReadArrayHeaderBytes(p)
		if err != nil {
			return p, err
		}
		n, p = uint64(m), rest
	case msgp.MapType:
		m, rest, err := msgp.ReadMapHeaderBytes(p)
		if err != nil {
			return p, err
		}
		n, p = 2*uint64(m), rest
	default:
		return msgp.Skip(p)
	}
	// Every element takes at least one byte.
	if n > uint64(len(p)) {
		return p, fmt.Errorf("container of %d elements in %d bytes", n, len(p))
	}
	if depth >= MaxDepth {
		return p, fmt.Errorf("values nested deeper than %d", MaxDepth)
	}
	var err error
	for ; n > 0; n-- {
		if p, err = skip(p, depth+1); err != nil {
			return p, err
		}
	}
	return p, nil
}
