package event_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/event"
)

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// issuedWith is a sample.issued record whose data array is given raw.
func issuedWith(data []byte) []byte {
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "event_type")
	b = msgp.AppendString(b, "sample.issued")
	b = msgp.AppendString(b, "data")
	return append(b, data...)
}

// hostileRecords are records whose lengths claim far more than they hold.
func hostileRecords() map[string][]byte {
	prompt := msgp.AppendArrayHeader(nil, 3)
	prompt = msgp.AppendString(prompt, "PromptData")
	prompt = msgp.AppendNil(prompt)
	output := msgp.AppendArrayHeader(nil, 2)
	output = msgp.AppendString(output, "TextModelOutput")
	out := map[string][]byte{
		"map 0xffffffff":       {0xdf, 0xff, 0xff, 0xff, 0xff, 0xaa},
		"data 0xffffffff":      issuedWith([]byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xaa}),
		"token_ids 0xffffffff": issuedWith(append(prompt, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01)),
		"chunks 0xffffffff":    issuedWith(append(output, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x')),
		"text 0xffffffff":      issuedWith(append(prompt[:len(prompt)-1], 0xdb, 0xff, 0xff, 0xff, 0xff, 'x')),
	}
	// token_ids one past what the remaining bytes hold.
	b := msgp.AppendArrayHeader(append([]byte(nil), prompt...), 4)
	out["token_ids one past"] = issuedWith(append(b, 1, 2, 3))
	// A usage key claiming 0xffffffff entries.
	b = msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "event_type")
	b = msgp.AppendString(b, "sample.complete")
	b = msgp.AppendString(b, "usage")
	out["usage 0xffffffff"] = append(b, 0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x', 0x01)
	// An unknown key whose value is nested 1000 deep.
	b = msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "event_type")
	b = msgp.AppendString(b, "session.ended")
	b = msgp.AppendString(b, "future")
	for range 1000 {
		b = append(b, 0x91)
	}
	out["nested 1000 deep"] = append(b, 0xc0)
	return out
}

// TestDecodeRecord_HostileLengths decodes records whose lengths claim up to
// 0xffffffff elements (one such frame once made `aggregate` die with "out of
// memory") and checks that each is an error and allocates under 64 KiB.
func TestDecodeRecord_HostileLengths(t *testing.T) {
	for name, p := range hostileRecords() {
		t.Run(name, func(t *testing.T) {
			var err error
			n := allocated(func() { _, err = event.DecodeRecord(p) })
			if !errors.Is(err, event.ErrDecode) {
				t.Errorf("error %v, want ErrDecode", err)
			}
			if n > 64<<10 {
				t.Errorf("a %d-byte record allocated %d bytes", len(p), n)
			}
		})
	}
}
