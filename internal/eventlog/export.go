package eventlog

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// Export formats.
const (
	FormatCSV     = "csv"
	FormatParquet = "parquet"
)

// Row is one request as exported: a column per field, times in nanoseconds
// since session.started (issued, first/last chunk, completed) or as
// durations; absent values are empty (CSV) or null (Parquet).
type Row struct {
	SampleID     string   `parquet:"sample_id"`
	DatasetIndex *int64   `parquet:"dataset_index,optional"`
	Tracked      bool     `parquet:"tracked"`
	Window       int64    `parquet:"tracking_window"`
	ScheduledNS  *int64   `parquet:"scheduled_ns,optional"`
	IssuedNS     int64    `parquet:"issued_ns"`
	FirstChunkNS *int64   `parquet:"first_chunk_ns,optional"`
	LastChunkNS  *int64   `parquet:"last_chunk_ns,optional"`
	CompletedNS  *int64   `parquet:"completed_ns,optional"`
	LatenessNS   *int64   `parquet:"issue_lateness_ns,optional"`
	TTFTNS       *int64   `parquet:"ttft_ns,optional"`
	LatencyNS    *int64   `parquet:"latency_ns,optional"`
	TPOTNS       *float64 `parquet:"tpot_ns,optional"`
	Chunks       int64    `parquet:"chunks"`
	ISL          *int64   `parquet:"isl,optional"`
	OSL          *int64   `parquet:"osl,optional"`
	OSLUsage     *int64   `parquet:"osl_usage,optional"`
	FinishReason string   `parquet:"finish_reason"`
	ErrorClass   string   `parquet:"error_class"`
	ErrorExcerpt string   `parquet:"error_excerpt"`
	// Retries is how many times the client resent the request on a new
	// connection (counted in retried_requests).
	Retries int64 `parquet:"retries"`
	// QueueWaitNS is the wait for a --max-concurrency slot (send −
	// release); absent without a cap.
	QueueWaitNS *int64 `parquet:"queue_wait_ns,optional"`
	// ConversationID and Turn place a turn of a multi-turn conversation
	// ("" and null for a single-turn request).
	ConversationID string `parquet:"conversation_id"`
	Turn           *int64 `parquet:"turn,optional"`
}

// Rows converts the requests of a log into export rows.
func (rs *Requests) Rows() []Row {
	rows := make([]Row, len(rs.Requests))
	for i := range rs.Requests {
		r := &rs.Requests[i]
		at := func(d *int64) *int64 {
			if d == nil {
				return nil
			}
			v := r.Iss + *d
			return &v
		}
		row := Row{
			SampleID: r.ID, DatasetIndex: r.Idx, Tracked: r.Tracked(), Window: int64(r.Blk),
			IssuedNS: r.Iss, FirstChunkNS: at(r.TTFT), LastChunkNS: at(r.Last), CompletedNS: at(r.Lat),
			LatenessNS: r.Late, TTFTNS: r.TTFT, LatencyNS: r.Lat, Chunks: r.Chunks,
			ISL: r.ISL, OSL: r.OSL, OSLUsage: r.UOSL, FinishReason: r.Fin, ErrorClass: r.Err, ErrorExcerpt: r.Msg,
			QueueWaitNS: r.QW,
			Retries:     r.Rt,
		}
		if r.Late != nil {
			v := r.Iss - *r.Late
			if r.QW != nil {
				v -= *r.QW
			}
			row.ScheduledNS = &v
		}
		if r.Turn > 0 {
			v := int64(r.Turn)
			row.ConversationID, row.Turn = r.Conv, &v
		}
		if dec := r.DecodeTokens(); dec > 0 && r.Lat != nil && rs.Streaming {
			v := float64(*r.Lat-*r.TTFT) / float64(dec)
			row.TPOTNS = &v
		}
		rows[i] = row
	}
	return rows
}

var csvHeader = []string{"sample_id", "dataset_index", "tracked", "tracking_window", "scheduled_ns", "issued_ns",
	"first_chunk_ns", "last_chunk_ns", "completed_ns", "issue_lateness_ns", "ttft_ns", "latency_ns", "tpot_ns",
	"chunks", "isl", "osl", "osl_usage", "finish_reason", "error_class", "error_excerpt", "retries", "queue_wait_ns",
	"conversation_id", "turn"}

// Export writes the requests of a log to w as CSV (with a header row) or
// Parquet.
func (rs *Requests) Export(w io.Writer, format string) error {
	rows := rs.Rows()
	switch format {
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(csvHeader); err != nil {
			return err
		}
		rec := make([]string, len(csvHeader))
		i64 := func(p *int64) string {
			if p == nil {
				return ""
			}
			return strconv.FormatInt(*p, 10)
		}
		for i := range rows {
			r := &rows[i]
			tpot := ""
			if r.TPOTNS != nil {
				tpot = strconv.FormatFloat(*r.TPOTNS, 'g', -1, 64)
			}
			rec = append(rec[:0], r.SampleID, i64(r.DatasetIndex), strconv.FormatBool(r.Tracked),
				strconv.FormatInt(r.Window, 10), i64(r.ScheduledNS), strconv.FormatInt(r.IssuedNS, 10),
				i64(r.FirstChunkNS), i64(r.LastChunkNS), i64(r.CompletedNS), i64(r.LatenessNS), i64(r.TTFTNS),
				i64(r.LatencyNS), tpot, strconv.FormatInt(r.Chunks, 10), i64(r.ISL), i64(r.OSL), i64(r.OSLUsage),
				r.FinishReason, r.ErrorClass, r.ErrorExcerpt, strconv.FormatInt(r.Retries, 10), i64(r.QueueWaitNS),
				r.ConversationID, i64(r.Turn))
			if err := cw.Write(rec); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case FormatParquet:
		pw := parquet.NewGenericWriter[Row](w)
		if _, err := pw.Write(rows); err != nil {
			return err
		}
		return pw.Close()
	}
	return fmt.Errorf("export format %q: want csv or parquet", format)
}
