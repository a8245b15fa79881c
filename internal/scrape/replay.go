package scrape

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/inferbench/inferbench/internal/metrics"
)

// ReadFile rebuilds the summary of a run from its server.jsonl (what
// `inferbench report` does for a finished run): the same readings, folded
// the same way, as the scraper did live. Lines that do not decode are
// skipped and counted in the second result. A missing file is an error
// wrapping fs.ErrNotExist.
func ReadFile(path string) (*metrics.ServerView, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	return Read(f)
}

// Read is ReadFile from a reader.
func Read(r io.Reader) (*metrics.ServerView, int, error) {
	var targets []*target
	byURL := map[string]*target{}
	bad := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine+1)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Target == "" {
			bad++
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, l.Time)
		if err != nil {
			bad++
			continue
		}
		t := byURL[l.Target]
		if t == nil {
			if len(targets) >= maxReplayTargets {
				bad++
				continue
			}
			t = &target{url: l.Target, acc: newAccumulator()}
			byURL[l.Target] = t
			targets = append(targets, t)
		}
		t.scrapes++
		if l.Kind != "" && t.kind == "" {
			t.kind = Kind(l.Kind)
		}
		if l.Error != "" || l.Families == nil {
			t.failures++
			t.lastErr = l.Error
			continue
		}
		if l.Window == outside.String() {
			continue
		}
		rd, _ := reduce(l.dto(), t.kindOrUnknown())
		t.acc.add(at, rd)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return nil, bad, fmt.Errorf("server metrics: %w", err)
	}
	if len(targets) == 0 {
		return nil, bad, errors.New("server metrics: no scrape recorded")
	}
	return summarize(targets), bad, nil
}

// maxReplayTargets bounds the targets a file may name (hostile input).
const maxReplayTargets = 64

// line is a server.jsonl line as appendLine writes it.
type line struct {
	Time     string                  `json:"time"`
	Target   string                  `json:"target"`
	Kind     string                  `json:"kind"`
	Window   string                  `json:"window"`
	Error    string                  `json:"error"`
	Families map[string][]lineSeries `json:"families"`
}

type lineSeries struct {
	Labels  map[string]string `json:"labels"`
	Value   *jsonFloat        `json:"value"`
	Count   *jsonFloat        `json:"count"`
	Sum     *jsonFloat        `json:"sum"`
	Buckets [][2]jsonFloat    `json:"buckets"`
}

// jsonFloat reads a number or the strings fmtFloat writes for NaN and
// the infinities.
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return err
		}
		switch s {
		case "NaN":
			*f = jsonFloat(math.NaN())
		case "+Inf":
			*f = jsonFloat(math.Inf(1))
		case "-Inf":
			*f = jsonFloat(math.Inf(-1))
		default:
			return fmt.Errorf("not a number: %q", s)
		}
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*f = jsonFloat(v)
	return err
}

// dto turns the line's families back into parsed form for reduce.
func (l *line) dto() map[string]*dto.MetricFamily {
	out := make(map[string]*dto.MetricFamily, len(l.Families))
	for name, series := range l.Families {
		mf := &dto.MetricFamily{Name: &name}
		for _, s := range series {
			m := &dto.Metric{}
			for k, v := range s.Labels {
				m.Label = append(m.Label, &dto.LabelPair{Name: &k, Value: &v})
			}
			switch {
			case s.Buckets != nil:
				h := &dto.Histogram{}
				if s.Count != nil {
					c := uint64(*s.Count)
					h.SampleCount = &c
				}
				if s.Sum != nil {
					v := float64(*s.Sum)
					h.SampleSum = &v
				}
				for _, b := range s.Buckets {
					le, c := float64(b[0]), uint64(b[1])
					h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: &le, CumulativeCount: &c})
				}
				m.Histogram = h
			case s.Value != nil:
				v := float64(*s.Value)
				m.Untyped = &dto.Untyped{Value: &v}
			default:
				continue
			}
			mf.Metric = append(mf.Metric, m)
		}
		out[name] = mf
	}
	return out
}
