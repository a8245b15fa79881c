package bus

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/tinylib/msgp/msgp"
)

// hostileBatches are batch bodies whose lengths claim more than they hold.
var hostileBatches = map[string][]byte{
	"array 0xffffffff":   {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc4, 0x01, 0x00},
	"array one past":     {0x93, 0xc4, 0x00, 0xc4},
	"bin 0xffffffff":     {0x91, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00},
	"str 0xffffffff":     {0x91, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x00},
	"not an array":       {0xc1},
	"element not a bin":  {0x91, 0x01},
	"empty":              {},
	"bin16 one past":     {0x91, 0xc5, 0x00, 0x03, 'a', 'b'},
	"array16 0xffff":     {0xdc, 0xff, 0xff, 0xa0},
	"nested array claim": {0x91, 0xdd, 0xff, 0xff, 0xff, 0xff},
}

func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestSplitBatch_Hostile checks that every hostile batch is refused and
// allocates next to nothing.
func TestSplitBatch_Hostile(t *testing.T) {
	for name, body := range hostileBatches {
		t.Run(name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = splitBatch(nil, body) })
			if err == nil {
				t.Error("accepted")
			}
			if n > 64<<10 {
				t.Errorf("a %d-byte batch allocated %d bytes", len(body), n)
			}
		})
	}
}

// FuzzSplitBatch checks that no batch body makes the splitter panic or
// allocate more than a small multiple of its size, and that what it accepts
// re-encodes to payloads it splits the same way.
func FuzzSplitBatch(f *testing.F) {
	good := msgp.AppendArrayHeader(nil, 3)
	good = msgp.AppendBytes(good, []byte("first payload"))
	good = msgp.AppendBytes(good, nil)
	good = msgp.AppendString(good, "a str payload")
	f.Add(good)
	for _, body := range hostileBatches {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got [][]byte
		var err error
		if n := allocated(func() { got, err = splitBatch(nil, body) }); n > 64*uint64(len(body))+64<<10 {
			t.Fatalf("a %d-byte batch allocated %d bytes", len(body), n)
		}
		if err != nil {
			return
		}
		again := msgp.AppendArrayHeader(nil, uint32(len(got)))
		for _, p := range got {
			again = msgp.AppendBytes(again, p)
		}
		got2, err := splitBatch(nil, again)
		if err != nil || len(got2) != len(got) {
			t.Fatalf("re-encoded batch: %d payloads, %v; want %d", len(got2), err, len(got))
		}
		for i := range got {
			if !bytes.Equal(got[i], got2[i]) {
				t.Fatalf("payload %d changed", i)
			}
		}
	})
}
