//go:build ignore

// gen writes mooncake_500.jsonl: a Mooncake-format trace of 500 requests
// over about three seconds, deterministic. Run: cd internal/trace && go run testdata/gen.go
//
// Requests belong to 40 sessions; a session's requests share its first
// blocks (a system prompt and history) and add blocks of their own, so
// that hash_ids prefixes are shared the way they are in Mooncake's traces.
package main

import (
	"bufio"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
)

func main() {
	rng := rand.New(rand.NewPCG(2024, 12))
	f, err := os.Create("testdata/mooncake_500.jsonl")
	if err != nil {
		panic(err)
	}
	w := bufio.NewWriter(f)
	next := int64(0)
	newID := func() int64 { next++; return next - 1 }
	sessions := make([][]int64, 40)
	for i := range sessions {
		for range 1 + rng.IntN(3) {
			sessions[i] = append(sessions[i], newID())
		}
	}
	ms := 0.0
	for range 500 {
		ms += rng.ExpFloat64() * 6 // ~167 requests a second
		s := rng.IntN(len(sessions))
		ids := append([]int64(nil), sessions[s]...)
		for range rng.IntN(3) {
			ids = append(ids, newID())
		}
		// A session's history grows: its next request shares this one's blocks.
		if rng.IntN(2) == 0 && len(ids) <= 5 {
			sessions[s] = ids
		}
		in := 512*(len(ids)-1) + 1 + rng.IntN(512)
		out := 1 + rng.IntN(64)
		parts := make([]string, len(ids))
		for i, id := range ids {
			parts[i] = fmt.Sprint(id)
		}
		fmt.Fprintf(w, "{\"timestamp\": %d, \"input_length\": %d, \"output_length\": %d, \"hash_ids\": [%s]}\n",
			int64(math.Round(ms)), in, out, strings.Join(parts, ", "))
	}
	if err := w.Flush(); err != nil {
		panic(err)
	}
	if err := f.Close(); err != nil {
		panic(err)
	}
}
