package loadgen_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/loadgen"
)

func TestParseThinkTime(t *testing.T) {
	tests := []struct {
		in   string
		want loadgen.ThinkTime
		err  string
	}{
		{"", loadgen.ThinkTime{}, ""},
		{"dataset", loadgen.ThinkTime{}, ""},
		{"2s", loadgen.ThinkTime{Kind: loadgen.ThinkFixed, A: 2 * time.Second}, ""},
		{"0", loadgen.ThinkTime{Kind: loadgen.ThinkFixed}, ""},
		{"exp:1.5s", loadgen.ThinkTime{Kind: loadgen.ThinkExp, A: 1500 * time.Millisecond}, ""},
		{"uniform:1s-3s", loadgen.ThinkTime{Kind: loadgen.ThinkUniform, A: time.Second, B: 3 * time.Second}, ""},
		{"uniform:200ms-200ms", loadgen.ThinkTime{Kind: loadgen.ThinkUniform, A: 200 * time.Millisecond, B: 200 * time.Millisecond}, ""},
		{"soon", loadgen.ThinkTime{}, "not a duration"},
		{"-1s", loadgen.ThinkTime{}, "not a duration"},
		{"2h", loadgen.ThinkTime{}, "not a duration from 0 to 1h"},
		{"exp:", loadgen.ThinkTime{}, "not a duration"},
		{"uniform:3s", loadgen.ThinkTime{}, "uniform:LOW-HIGH"},
		{"uniform:3s-1s", loadgen.ThinkTime{}, "below"},
		{"gamma:2s", loadgen.ThinkTime{}, `unknown distribution "gamma"`},
	}
	for _, tc := range tests {
		got, err := loadgen.ParseThinkTime(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.in) {
				t.Errorf("ParseThinkTime(%q) = %v, %v; want an error naming the value and %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseThinkTime(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if back, err := loadgen.ParseThinkTime(got.String()); err != nil || back != got {
			t.Errorf("%q: String %q does not parse back (%+v, %v)", tc.in, got.String(), back, err)
		}
	}
}
