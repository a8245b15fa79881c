package metrics

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// ParseJSON reads the dict form of a snapshot leniently: missing fields take
// their zero value, a missing state reads as interrupted (nothing says the run
// ended cleanly), metric entries without a type or name are skipped, and null
// numbers read as NaN. Only input that is not a JSON object is an error.
func ParseJSON(data []byte) (*Snapshot, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("metrics: snapshot is not a JSON object: %w", err)
	}
	s := &Snapshot{State: StateInterrupted}
	if v, ok := raw["counter"].(json.Number); ok {
		if i, ok := numOf(v).Int64(); ok && i >= 0 {
			s.Counter = uint64(i)
		}
	}
	s.TimestampNS = intOf(raw["timestamp_ns"])
	if st, ok := raw["state"].(string); ok && st != "" {
		s.State = State(st)
	}
	s.NPendingTasks = intOf(raw["n_pending_tasks"])
	list, _ := raw["metrics"].([]any)
	for _, e := range list {
		obj, ok := e.(map[string]any)
		if !ok {
			continue
		}
		typ, _ := obj["type"].(string)
		name, _ := obj["name"].(string)
		if name == "" {
			continue
		}
		switch typ {
		case "counter":
			s.Metrics = append(s.Metrics, Metric{Kind: KindCounter, Name: name, Value: anyNum(obj["value"])})
		case "series":
			m := Metric{Kind: KindSeries, Name: name, Count: intOf(obj["count"])}
			m.Total, m.Min, m.Max, m.SumSq = anyNum(obj["total"]), anyNum(obj["min"]), anyNum(obj["max"]), anyNum(obj["sum_sq"])
			m.Percentiles = parsePercentiles(obj["percentiles"])
			m.Approximate, _ = obj["approximate"].(bool)
			parseBounds(&m, obj["percentile_ci95"], obj["early_stopping_percentiles"])
			if hs, ok := obj["histogram"].([]any); ok {
				for _, h := range hs {
					if b, ok := parseBucket(h); ok {
						m.Histogram = append(m.Histogram, b)
					}
				}
			}
			s.Metrics = append(s.Metrics, m)
		}
	}
	s.Server = parseServerJSON(raw["server"])
	return s, nil
}

// parsePercentiles reads a percentile object. A Go map loses the file's key
// order, so keys are put back in grid order: descending, as every writer
// (this one and the Python tool's) emits them.
func parsePercentiles(v any) []Percentile {
	obj, ok := v.(map[string]any)
	if !ok || len(obj) == 0 {
		return nil
	}
	out := make([]Percentile, 0, len(obj))
	for k, v := range obj {
		out = append(out, Percentile{Key: k, Value: anyNum(v).Float64()})
	}
	key := func(k string) float64 {
		f, err := strconv.ParseFloat(k, 64)
		if err != nil {
			return math.Inf(-1)
		}
		return f
	}
	slices.SortFunc(out, func(a, b Percentile) int { return cmp.Compare(key(b.Key), key(a.Key)) })
	return out
}

func parseBucket(v any) (Bucket, bool) {
	pair, ok := v.([]any)
	if !ok || len(pair) != 2 {
		return Bucket{}, false
	}
	edges, ok := pair[0].([]any)
	if !ok || len(edges) != 2 {
		return Bucket{}, false
	}
	return Bucket{Lo: anyNum(edges[0]).Float64(), Hi: anyNum(edges[1]).Float64(), Count: intOf(pair[1])}, true
}

func anyNum(v any) Num {
	if n, ok := v.(json.Number); ok {
		return numOf(n)
	}
	return Float(math.NaN())
}

func numOf(n json.Number) Num {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		if b, ok := new(big.Int).SetString(s, 10); ok {
			return BigInt(b)
		}
	}
	f, err := n.Float64()
	if err != nil {
		return Float(math.NaN())
	}
	return Float(f)
}

func intOf(v any) int64 {
	n, ok := v.(json.Number)
	if !ok {
		return 0
	}
	i, _ := numOf(n).Int64()
	return i
}

// parseBounds reads the confidence intervals and early-stopping estimates of
// a terminal series, when the file has them; missing entries read as NaN.
func parseBounds(m *Metric, ci, es any) {
	ciObj, ok := ci.(map[string]any)
	if !ok {
		return
	}
	esObj, _ := es.(map[string]any)
	m.Bounds = true
	for i := range m.Percentiles {
		p := &m.Percentiles[i]
		p.Lo, p.Hi, p.ES = math.NaN(), math.NaN(), math.NaN()
		if pair, ok := ciObj[p.Key].([]any); ok && len(pair) == 2 {
			p.Lo, p.Hi = anyNum(pair[0]).Float64(), anyNum(pair[1]).Float64()
		}
		if esObj != nil {
			p.ES = anyNum(esObj[p.Key]).Float64()
		}
	}
}
