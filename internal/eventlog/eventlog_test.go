package eventlog_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/rundir"
)

// script is a small run: two tracked requests (one streamed, one failed), a
// warmup request, an error of no request, and records after session.ended.
func script() []event.Record {
	return []event.Record{
		{Type: event.SessionStarted, TimestampNS: 1000},
		{Type: event.SampleIssued, TimestampNS: 1100, SampleUUID: "w1", Data: &event.PromptData{Text: "warm", Index: 3}},
		{Type: event.SampleComplete, TimestampNS: 1200, SampleUUID: "w1", Data: &event.Output{Text: "x", Usage: &event.Usage{CompletionTokens: 1}}},
		{Type: event.SessionStartTracking, TimestampNS: 1300},
		{Type: event.SampleIssued, TimestampNS: 2000, SampleUUID: "u1", Data: &event.PromptData{Text: "héllo \"world\"\n\x01\xff", TokenIDs: []int32{1, 2}, ScheduledNS: 1990, Index: 1}},
		{Type: event.SampleIssued, TimestampNS: 2500, SampleUUID: "u2", Data: &event.PromptData{Text: "p", Index: 2}},
		{Type: event.SampleRecvFirst, TimestampNS: 3000, SampleUUID: "u1"},
		{Type: event.SampleRecvNonFirst, TimestampNS: 3500, SampleUUID: "u1"},
		{Type: event.SampleRecvNonFirst, TimestampNS: 4000, SampleUUID: "u1"},
		{Type: event.ErrorClient, TimestampNS: 4100, SampleUUID: "u2", Data: &event.ErrorData{Type: "timeout", Message: strings.Repeat("read: i/o timeout ", 10)}},
		{Type: event.SampleComplete, TimestampNS: 4100, SampleUUID: "u2"},
		{Type: event.ErrorLoadgen, TimestampNS: 4200, Data: &event.ErrorData{Type: "loadgen", Message: "late"}},
		{Type: event.SampleComplete, TimestampNS: 5000, SampleUUID: "u1", Data: &event.Output{Text: "a\tbcd", Streamed: true, FirstChunkLen: 1,
			Usage: &event.Usage{PromptTokens: 3, CompletionTokens: 3}, FinishReason: "stop"}},
		{Type: event.SessionEnded, TimestampNS: 6000},
		{Type: event.SampleIssued, TimestampNS: 7000, SampleUUID: "after-ended"},
	}
}

func runLog(t *testing.T, o eventlog.Options) (*eventlog.Log, error) {
	t.Helper()
	b := bus.NewInProc[event.Record](0)
	sub := b.Subscribe()
	_ = b.PublishBatch(script())
	l, err := eventlog.Open(o)
	if err != nil {
		return nil, err
	}
	err = l.Run(context.Background(), sub)
	return l, errors.Join(err, l.Close())
}

func readLines(t *testing.T, r io.Reader) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v: %s", len(lines)+1, err, sc.Bytes())
		}
		lines = append(lines, m)
	}
	return lines
}

func TestLog_compact(t *testing.T) {
	dir := t.TempDir()
	l, err := runLog(t, eventlog.Options{Dir: dir, Streaming: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, rundir.EventsFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("compact mode wrote %s (err %v)", rundir.EventsFile, err)
	}
	f, err := os.Open(filepath.Join(dir, rundir.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := readLines(t, f)
	want := []map[string]any{
		{"requests_log": 1.0, "streaming": true, "tokenizer": false},
		{"ev": "session.started", "ts": 1000.0},
		{"id": "w1", "idx": 2.0, "untracked": 1.0, "iss": 100.0, "lat": 100.0, "osl": 1.0},
		{"ev": "session.start_performance_tracking", "ts": 1300.0},
		{"id": "u2", "idx": 1.0, "iss": 1500.0, "lat": 1600.0, "err": "timeout", "msg": strings.Repeat("read: i/o timeout ", 10)[:64] + "…"},
		{"ev": "error.loadgen", "ts": 4200.0, "err": "loadgen", "msg": "late"},
		// 3 output tokens, the first chunk holds 1 of 5 bytes → 1 token: dec = 2 = osl − 1.
		{"id": "u1", "idx": 0.0, "iss": 1000.0, "late": 10.0, "ttft": 1000.0, "last": 2000.0, "lat": 3000.0, "chunks": 3.0,
			"isl": 2.0, "osl": 3.0, "fin": "stop"},
		{"ev": "session.ended", "ts": 6000.0},
	}
	if d := cmp.Diff(want, lines); d != "" {
		t.Errorf("requests.jsonl (-want +got):\n%s", d)
	}
	if l.Requests() != 3 {
		t.Errorf("Requests() = %d, want 3", l.Requests())
	}
	rs, err := eventlog.ReadRequests(filepath.Join(dir, rundir.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(rs.Requests) != 3 || len(rs.Marks) != 4 || !rs.Streaming || rs.Truncated {
		t.Errorf("ReadRequests: %d requests, %d marks, streaming %v, truncated %v", len(rs.Requests), len(rs.Marks), rs.Streaming, rs.Truncated)
	}
	if got := rs.Requests[2].DecodeTokens(); got != 2 {
		t.Errorf("u1 DecodeTokens = %d, want 2", got)
	}
}

// The full log holds every record up to session.ended, decodable by the
// zstd package and by the zstdcat tool.
func TestLog_full(t *testing.T) {
	dir := t.TempDir()
	l, err := runLog(t, eventlog.Options{Dir: dir, Mode: eventlog.ModeFull, Streaming: true})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, rundir.EventsFile)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	lines := readLines(t, dec)
	if len(lines) != 14 || l.Events() != 14 {
		t.Fatalf("%d lines, %d counted; want 14 (up to and including session.ended)", len(lines), l.Events())
	}
	want := map[string]any{"event_type": "sample.issued", "timestamp_ns": 2000.0, "sample_uuid": "u1",
		"data": map[string]any{"text": "héllo \"world\"\n\x01\ufffd", "token_ids": []any{1.0, 2.0}, "scheduled_ns": 1990.0, "dataset_index": 0.0}}
	if d := cmp.Diff(want, lines[4]); d != "" {
		t.Errorf("issued line (-want +got):\n%s", d)
	}
	out := lines[12]["data"].(map[string]any)
	if out["output"] != "a\tbcd" || out["finish_reason"] != "stop" || out["usage"].(map[string]any)["completion_tokens"] != 3.0 {
		t.Errorf("complete line data %v", out)
	}
	zstdcat, err := exec.LookPath("zstdcat")
	if err != nil {
		t.Fatal("zstdcat not found: install zstd (scripts/deps.sh --test)")
	}
	cat, err := exec.Command(zstdcat, path).Output()
	if err != nil {
		t.Fatalf("zstdcat %s: %v", path, err)
	}
	if got := readLines(t, bytes.NewReader(cat)); !cmp.Equal(got, lines) {
		t.Errorf("zstdcat output differs from the zstd package's")
	}
	if _, err := os.Stat(filepath.Join(dir, rundir.RequestsFile)); err != nil {
		t.Errorf("full mode must keep requests.jsonl: %v", err)
	}
}

func TestLog_off(t *testing.T) {
	dir := t.TempDir()
	if _, err := runLog(t, eventlog.Options{Dir: dir, Mode: eventlog.ModeOff}); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("mode off wrote %d files", len(ents))
	}
}

// failAfter fails every write once n bytes went through, as a full disk does.
type failAfter struct {
	w io.Writer
	n int
}

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n, _ := f.w.Write(p[:f.n]) // a partial write reaches the file
		f.n -= n
		return n, syscall.ENOSPC
	}
	f.n -= len(p)
	return f.w.Write(p)
}

// A write failure stops the log with an error naming the file and the cause,
// and leaves only whole lines (or frames) behind, or no file.
func TestLog_writeFailure(t *testing.T) {
	for _, tc := range []struct {
		name     string
		file     string
		limit    int
		openFail bool
	}{
		{"requests header", rundir.RequestsFile, 10, true},
		{"requests mid-run", rundir.RequestsFile, 120, false},
		{"full log first frame", rundir.EventsFile, 5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			wrap := func(name string, w io.Writer) io.Writer {
				if name == tc.file {
					return &failAfter{w: w, n: tc.limit}
				}
				return w
			}
			_, err := runLog(t, eventlog.Options{Dir: dir, Mode: eventlog.ModeFull, Streaming: true, WrapWriter: wrap})
			var we *eventlog.WriteError
			if !errors.As(err, &we) || !errors.Is(err, syscall.ENOSPC) || we.Path != filepath.Join(dir, tc.file) {
				t.Fatalf("err = %v; want a WriteError for %s wrapping ENOSPC", err, tc.file)
			}
			if !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), "no space left on device") {
				t.Errorf("message %q should name the file and the cause", err)
			}
			data, statErr := os.ReadFile(filepath.Join(dir, tc.file))
			switch {
			case tc.openFail || tc.file == rundir.EventsFile:
				if !errors.Is(statErr, os.ErrNotExist) {
					t.Errorf("%s holds %d bytes, want no file", tc.file, len(data))
				}
			default:
				if len(data) == 0 || data[len(data)-1] != '\n' {
					t.Errorf("%s: %q does not end with a whole line", tc.file, data)
				}
				readLines(t, bytes.NewReader(data))
			}
		})
	}
}

func TestExport(t *testing.T) {
	dir := t.TempDir()
	if _, err := runLog(t, eventlog.Options{Dir: dir, Streaming: true}); err != nil {
		t.Fatal(err)
	}
	rs, err := eventlog.ReadRequests(filepath.Join(dir, rundir.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	var csvOut bytes.Buffer
	if err := rs.Export(&csvOut, eventlog.FormatCSV); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 || recs[0][0] != "sample_id" || recs[3][0] != "u1" {
		t.Fatalf("csv rows %v", recs)
	}
	col := map[string]string{}
	for i, h := range recs[0] {
		col[h] = recs[3][i]
	}
	// u1: issued 1000 ns after the start, first chunk 1000 ns later, TPOT
	// (3000−1000)/2 tokens.
	for k, v := range map[string]string{"issued_ns": "1000", "first_chunk_ns": "2000", "ttft_ns": "1000",
		"tpot_ns": "1000", "scheduled_ns": "990", "finish_reason": "stop", "dataset_index": "0", "tracked": "true"} {
		if col[k] != v {
			t.Errorf("csv %s = %q, want %q", k, col[k], v)
		}
	}
	var pq bytes.Buffer
	if err := rs.Export(&pq, eventlog.FormatParquet); err != nil {
		t.Fatal(err)
	}
	rows, err := parquet.Read[eventlog.Row](bytes.NewReader(pq.Bytes()), int64(pq.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(rs.Rows(), rows); d != "" {
		t.Errorf("parquet round trip (-want +got):\n%s", d)
	}
	if err := rs.Export(io.Discard, "xlsx"); err == nil {
		t.Error("unknown format accepted")
	}
}
