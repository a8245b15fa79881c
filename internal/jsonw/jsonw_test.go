package jsonw_test

import (
	"encoding/json"
	"testing"

	"github.com/inferbench/inferbench/internal/jsonw"
)

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", "quote \" and \\ back", "nl\n cr\r tab\t nul\x00 bell\x07", "héllo ✓ 😀", "bad \xff utf8 \xc3"} {
		out := jsonw.AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q → %s: %v", s, out, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q: round trip %q, encoding/json gives %q", s, back, wantBack)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("a\"b\\c\n\x01\xff")
	f.Fuzz(func(t *testing.T, s string) {
		var back string
		if err := json.Unmarshal(jsonw.AppendString(nil, s), &back); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	})
}
