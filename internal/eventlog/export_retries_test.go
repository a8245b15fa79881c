package eventlog_test

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/inferbench/inferbench/internal/eventlog"
)

// TestExport_retries: the retries column holds each request's resends
// ("rt" in requests.jsonl, absent when 0), in CSV and Parquet.
func TestExport_retries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "requests.jsonl")
	log := `{"requests_log":1,"streaming":false,"tokenizer":false}
{"ev":"session.started","ts":1}
{"id":"a","idx":0,"iss":10,"lat":100,"osl":3,"fin":"stop","rt":2}
{"id":"b","idx":1,"iss":20,"lat":100,"osl":3,"fin":"stop"}
{"ev":"session.ended","ts":500}
`
	if err := os.WriteFile(path, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := eventlog.ReadRequests(path)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := rs.Export(&out, eventlog.FormatCSV); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&out).ReadAll()
	if err != nil || len(recs) != 3 {
		t.Fatalf("csv %v (%v), want a header and 2 rows", recs, err)
	}
	col := -1
	for i, h := range recs[0] {
		if h == "retries" {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("csv header %v has no retries column", recs[0])
	}
	if recs[1][col] != "2" || recs[2][col] != "0" {
		t.Errorf("csv retries %q, %q; want 2, 0", recs[1][col], recs[2][col])
	}
	var pq bytes.Buffer
	if err := rs.Export(&pq, eventlog.FormatParquet); err != nil {
		t.Fatal(err)
	}
	rows, err := parquet.Read[eventlog.Row](bytes.NewReader(pq.Bytes()), int64(pq.Len()))
	if err != nil || len(rows) != 2 || rows[0].Retries != 2 || rows[1].Retries != 0 {
		t.Errorf("parquet rows %+v (%v), want retries 2 and 0", rows, err)
	}
}
