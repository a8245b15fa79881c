package scrape

import (
	"math"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// MaxLine bounds one line of server.jsonl, newline included: families that
// would make it longer are left out and the line says "truncated": true.
const MaxLine = 256 << 10

// appendLine appends one server.jsonl line:
//
//	{"time":"2026-12-02T00:10:00.25Z","elapsed_s":1.25,"target":"http://…/metrics",
//	 "kind":"vllm","window":"start|in|stop|out","error":"…",
//	 "families":{"NAME":[{"labels":{…},"value":V} | {"labels":{…},"count":N,"sum":S,"buckets":[[LE,CUM],…]}],…},
//	 "truncated":true}
//
// elapsed_s counts from the scraper's start; window tells where the scrape
// lies relative to the tracking window.
func appendLine(b []byte, at time.Time, elapsed time.Duration, target string, kind Kind, window string, errText string, fams []*dto.MetricFamily) []byte {
	start := len(b)
	b = append(b, `{"time":`...)
	b = strconv.AppendQuote(b, at.UTC().Format(time.RFC3339Nano))
	b = append(b, `,"elapsed_s":`...)
	b = strconv.AppendFloat(b, elapsed.Seconds(), 'f', 3, 64)
	b = append(b, `,"target":`...)
	b = strconv.AppendQuote(b, target)
	if kind != "" {
		b = append(b, `,"kind":`...)
		b = strconv.AppendQuote(b, string(kind))
	}
	b = append(b, `,"window":`...)
	b = strconv.AppendQuote(b, window)
	if errText != "" {
		if len(errText) > 512 {
			errText = errText[:512]
		}
		b = append(b, `,"error":`...)
		b = strconv.AppendQuote(b, errText)
	}
	if fams != nil {
		b = append(b, `,"families":{`...)
		truncated := false
		first := true
		for _, mf := range fams {
			mark := len(b)
			if !first {
				b = append(b, ',')
			}
			b = strconv.AppendQuote(b, mf.GetName())
			b = append(b, ":["...)
			for i, m := range mf.Metric {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendSeries(b, m)
			}
			b = append(b, ']')
			// Room is kept for the closing and the truncation mark.
			if len(b)-start > MaxLine-64 {
				b = b[:mark]
				truncated = true
				break
			}
			first = false
		}
		b = append(b, '}')
		if truncated {
			b = append(b, `,"truncated":true`...)
		}
	}
	return append(b, "}\n"...)
}

func appendSeries(b []byte, m *dto.Metric) []byte {
	b = append(b, `{"labels":{`...)
	for i, l := range m.GetLabel() {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, l.GetName())
		b = append(b, ':')
		b = strconv.AppendQuote(b, l.GetValue())
	}
	b = append(b, '}')
	if h := m.GetHistogram(); h != nil {
		b = append(b, `,"count":`...)
		b = strconv.AppendUint(b, h.GetSampleCount(), 10)
		b = append(b, `,"sum":`...)
		b = fmtFloat(b, h.GetSampleSum())
		b = append(b, `,"buckets":[`...)
		for i, bk := range h.GetBucket() {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = fmtFloat(b, bk.GetUpperBound())
			b = append(b, ',')
			b = strconv.AppendUint(b, bk.GetCumulativeCount(), 10)
			b = append(b, ']')
		}
		b = append(b, ']')
	} else if s := m.GetSummary(); s != nil {
		b = append(b, `,"count":`...)
		b = strconv.AppendUint(b, s.GetSampleCount(), 10)
		b = append(b, `,"sum":`...)
		b = fmtFloat(b, s.GetSampleSum())
	} else {
		b = append(b, `,"value":`...)
		v := scalar(m)
		if math.IsNaN(v) {
			b = append(b, "null"...)
		} else {
			b = fmtFloat(b, v)
		}
	}
	return append(b, '}')
}
