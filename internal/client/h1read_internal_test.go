package client

import (
	"strings"
	"testing"
)

func TestHasControl(t *testing.T) {
	for c := range 256 {
		for _, at := range []int{0, 3, 7, 8, 12, 15, 16} {
			b := []byte(strings.Repeat("a", 17))
			b[at] = byte(c)
			want := c < 0x20 && c != '\t' || c == 0x7f
			if got := hasControl(b); got != want {
				t.Fatalf("hasControl with byte %#x at %d = %v, want %v", c, at, got, want)
			}
		}
	}
	if hasControl([]byte("text/event-stream; charset=utf-8\t")) {
		t.Error("a tab is not a control byte here")
	}
}
