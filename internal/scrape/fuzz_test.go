package scrape

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// FuzzScrapePage feeds hostile /metrics pages through what a scrape does
// with a body (filter, parse, reduce, fold, write the line): no panic, and
// a line never longer than MaxLine.
func FuzzScrapePage(f *testing.F) {
	for _, name := range []string{"vllm_start.txt", "vllm_end.txt", "llamacpp_end.txt"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{a=\"\\\"\"} NaN\n"))
	f.Add([]byte("# TYPE x histogram\nx_bucket{le=\"+Inf\"} 1e308\nx_count 1\nx_sum -Inf\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, kind := range []Kind{KindVLLM, KindUnknown} {
			page := prefilterUnknown(nil, body)
			if kind != KindUnknown {
				page = prefilter(nil, body, true)
			}
			fams, err := Parse(page)
			if err != nil {
				continue
			}
			r, keep := reduce(fams, kind)
			a := newAccumulator()
			a.add(time.Unix(0, 0), r)
			a.add(time.Unix(1, 0), r)
			summarize([]*target{{url: "u", kind: kind, acc: a, scrapes: 2}})
			line := appendLine(nil, time.Unix(1, 0), time.Second, "u", kind, "in", "", keep)
			if len(line) > MaxLine {
				t.Fatalf("line of %d bytes", len(line))
			}
		}
	})
}

// FuzzRead feeds hostile server.jsonl files to the report's rebuild.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"time":"2026-12-02T00:00:00Z","target":"u","kind":"vllm","window":"start","families":{"vllm:num_requests_running":[{"labels":{},"value":3}]}}` + "\n"))
	f.Add([]byte(`{"time":"2026-12-02T00:00:00Z","target":"u","kind":"dcgm","window":"in","families":{"DCGM_FI_DEV_POWER_USAGE":[{"labels":{"gpu":"0"},"value":"NaN"}],"vllm:time_to_first_token_seconds":[{"labels":{},"count":1,"sum":"+Inf","buckets":[["+Inf",1],[0.1,2]]}]}}` + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = Read(bytes.NewReader(data))
	})
}
