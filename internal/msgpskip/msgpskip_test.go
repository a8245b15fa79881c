package msgpskip_test

import (
	"testing"

	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/msgpskip"
)

func TestSkip(t *testing.T) {
	nested := []byte{}
	for range msgpskip.MaxDepth + 1 {
		nested = msgp.AppendArrayHeader(nested, 1)
	}
	nested = msgp.AppendNil(nested)
	valid := msgp.AppendMapHeader(nil, 2)
	valid = msgp.AppendString(valid, "a")
	valid = msgp.AppendArrayHeader(valid, 3)
	valid = msgp.AppendInt64(valid, -1<<40)
	valid = msgp.AppendString(valid, "a longer string than a fixstr holds, to take the slow path")
	valid = msgp.AppendBytes(valid, []byte{1, 2, 3})
	valid = msgp.AppendString(valid, "b")
	valid = msgp.AppendFloat64(valid, 1.5)
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"valid map", valid, true},
		{"array claiming 0xffffffff elements", []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0}, false},
		{"map claiming 0xffffffff pairs", []byte{0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0}, false},
		{"one element past the end", []byte{0x93, 0xc0, 0xc0}, false},
		{"short fixstr", []byte{0xa5, 'a'}, false},
		{"str32 claiming 4 GiB", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, false},
		{"nested too deep", nested, false},
		{"empty", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ok {
				// A value after the skipped one stays.
				rest, err := msgpskip.Skip(append(tc.in, 0x01))
				if err != nil || len(rest) != 1 || rest[0] != 0x01 {
					t.Fatalf("Skip = %x, %v; want the trailing byte and no error", rest, err)
				}
				return
			}
			rest, err := msgpskip.Skip(tc.in)
			if err == nil {
				t.Fatalf("Skip = %x, nil; want an error", rest)
			}
		})
	}
}
