package bus_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
)

// ipcAddr returns a fresh ipc:// address under /tmp: t.TempDir() paths can
// exceed the unix socket limit.
func ipcAddr(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := os.MkdirTemp("/tmp", "ib")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	addr, err := bus.IPCAddr(dir, name)
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

const prompt = "Summarize the following article in three sentences. The quick brown fox jumps over the lazy dog; " +
	"the committee met on Tuesday to discuss the budget for the next fiscal year and agreed on most items."

// sampleRecords returns n records shaped like a benchmark run: per request an
// issued, a recv_first, sometimes recv_non_first chunks or an error, and a
// complete, with realistic payloads and increasing timestamps.
func sampleRecords(n int) []event.Record {
	out := make([]event.Record, 0, n)
	ts := int64(1_000_000_000)
	add := func(r event.Record) {
		if len(out) < n {
			ts += 1234
			r.TimestampNS = ts
			out = append(out, r)
		}
	}
	add(event.Record{Type: event.SessionStarted})
	for i := 0; len(out) < n; i++ {
		uuid := fmt.Sprintf("%032x", i*2654435761)
		var pd *event.PromptData
		switch i % 3 {
		case 0:
			pd = &event.PromptData{Text: prompt}
		case 1:
			pd = &event.PromptData{TokenIDs: []int32{128000, 791, 4062, 14198, 39935, int32(i), -1}}
		default:
			pd = &event.PromptData{Text: "héllo wörld ✓ " + uuid, TokenIDs: []int32{1, 2, 3}, ScheduledNS: int64(1000 + i)}
		}
		issued := event.Record{Type: event.SampleIssued, SampleUUID: uuid, Data: pd}
		if i%7 == 3 { // a turn of a multi-turn conversation
			issued.ConversationID, issued.Turn, issued.LastTurn = fmt.Sprint("conv-", i%11), int32(1+i%5), i%2 == 0
		}
		add(issued)
		add(event.Record{Type: event.SampleRecvFirst, SampleUUID: uuid})
		if i%5 == 0 {
			add(event.Record{Type: event.SampleRecvNonFirst, SampleUUID: uuid})
		}
		var o *event.Output
		switch i % 4 {
		case 0:
			o = &event.Output{Text: "The committee agreed on the budget. " + uuid, Streamed: true, FirstChunkLen: 4,
				Usage: &event.Usage{PromptTokens: 45, CompletionTokens: 128}, FinishReason: "stop"}
		case 1:
			o = &event.Output{Text: "answer", Reasoning: "let me think about it", Streamed: true, FirstChunkLen: 3,
				Usage: &event.Usage{PromptTokens: 12, CompletionTokens: 30, ReasoningTokens: 20}, FinishReason: "length"}
		case 2:
			o = &event.Output{Text: "unstreamed ünïcode ✓"}
		default:
			o = &event.Output{Text: "partial", Streamed: true, FirstChunkLen: 7, Reasoning: ""}
			add(event.Record{Type: event.ErrorClient, SampleUUID: uuid,
				Data: &event.ErrorData{Type: "http_status", Message: "500 Internal Server Error"}})
		}
		add(event.Record{Type: event.SampleComplete, SampleUUID: uuid, Data: o})
	}
	if n > 1 {
		out[n-1] = event.Record{Type: event.SessionEnded, TimestampNS: ts + 1}
	}
	return out
}

// collect reads from sub until it has n items or the deadline passes.
func collect[T any](tb testing.TB, sub bus.Subscriber[T], n int, within time.Duration) []T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	got := make([]T, 0, n)
	for len(got) < n {
		items, err := sub.Next(ctx)
		if err != nil {
			tb.Fatalf("Next after %d of %d items: %v", len(got), n, err)
		}
		got = append(got, items...)
	}
	return got
}

// deliverCodec is the event codec, except that a malformed payload becomes an
// error.generic record (the seed's behaviour), to test that path of the bus.
type deliverCodec struct{ event.Codec }

func (deliverCodec) OnDecodeError(_ []byte, err error) (event.Record, bool) {
	return event.Record{Type: event.ErrorGeneric, Data: &event.ErrorData{Type: "DecodeError", Message: err.Error()}}, true
}

// envHelper names the environment variable that turns the test binary into a
// subscriber helper process.
const envHelper = "INFERBENCH_BUS_TEST_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(envHelper); spec != "" {
		if err := runSubscriberHelper(spec); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func splitSpec(spec string) (addr string, n int, err error) {
	i := strings.LastIndexByte(spec, ' ')
	if i < 0 {
		return "", 0, fmt.Errorf("bad helper spec %q", spec)
	}
	_, err = fmt.Sscan(spec[i+1:], &n)
	return spec[:i], n, err
}
