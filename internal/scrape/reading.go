package scrape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// DefaultMaxBody bounds a /metrics response; a longer one fails the scrape.
const DefaultMaxBody = 16 << 20

// ErrTooLarge is wrapped by the error of a scrape whose body exceeds the
// bound.
var ErrTooLarge = errors.New("scrape: /metrics response too large")

// acceptHeader asks for the classic text format, the one parsed here.
const acceptHeader = "text/plain;version=0.0.4;q=1,*/*;q=0.1"

// Fetch GETs url and returns its body, at most maxBody bytes: a longer body
// is an error wrapping ErrTooLarge, read no further. A status other than 200
// is an error naming it.
func Fetch(ctx context.Context, hc *http.Client, url string, maxBody int64) ([]byte, error) {
	var buf bytes.Buffer
	return fetch(ctx, hc, url, maxBody, &buf)
}

// fetch is Fetch into buf (reset first, reused across scrapes); the body
// returned is buf's.
func fetch(ctx context.Context, hc *http.Client, url string, maxBody int64, buf *bytes.Buffer) ([]byte, error) {
	buf.Reset()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", acceptHeader)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	if resp.ContentLength > maxBody {
		return nil, fmt.Errorf("%w: Content-Length %d, at most %d", ErrTooLarge, resp.ContentLength, maxBody)
	}
	if resp.ContentLength > 0 {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if n > maxBody {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxBody)
	}
	return buf.Bytes(), nil
}

// Parse parses a Prometheus text exposition with expfmt.
func Parse(body []byte) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	return fams, nil
}

// hist is a histogram merged over a family's series: cumulative counts by
// upper bound, ascending, +Inf last when the server sent it.
type hist struct {
	les   []float64
	cum   []float64
	count float64
	sum   float64
}

// gpuReading is one GPU's gauges at one scrape (NaN: not exported).
type gpuReading struct{ util, mem, power float64 }

// reading is one successful scrape reduced to what the summary reads:
// gauges and counters by role summed over their series (the KV-cache use
// and hit-rate gauges averaged), histograms merged, GPUs by their label.
type reading struct {
	kind   Kind
	values map[Role]float64
	hists  map[Role]*hist
	gpus   map[string]*gpuReading
}

// averaged roles are fractions: their series are averaged, not summed.
func averaged(r Role) bool { return r == RoleKVCache || r == RolePrefixHitRate }

// reduce turns parsed families into a reading and the families to keep in
// server.jsonl (the table's, or for an unknown server every gauge and
// counter up to MaxUnknownSeries series), sorted by name.
func reduce(fams map[string]*dto.MetricFamily, kind Kind) (*reading, []*dto.MetricFamily) {
	if kind == "" {
		names := make([]string, 0, len(fams))
		for n := range fams {
			names = append(names, n)
		}
		kind = Detect(names)
	}
	r := &reading{kind: kind, values: map[Role]float64{}, hists: map[Role]*hist{}, gpus: map[string]*gpuReading{}}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	var keep []*dto.MetricFamily
	unknownSeries := 0
	seen := map[Role]string{} // the name a role was read from (one per role)
	counts := map[Role]int{}
	for _, name := range names {
		mf := fams[name]
		f, known := lookup(name)
		if !known {
			if kind != KindUnknown || strings.HasSuffix(name, "_created") {
				continue
			}
			t := mf.GetType()
			if t != dto.MetricType_GAUGE && t != dto.MetricType_COUNTER && t != dto.MetricType_UNTYPED {
				continue
			}
			if unknownSeries >= MaxUnknownSeries {
				continue
			}
			if room := MaxUnknownSeries - unknownSeries; len(mf.Metric) > room {
				mf.Metric = mf.Metric[:room]
			}
			unknownSeries += len(mf.Metric)
			keep = append(keep, mf)
			continue
		}
		if len(mf.Metric) > MaxSeriesPerFamily {
			mf.Metric = mf.Metric[:MaxSeriesPerFamily]
		}
		keep = append(keep, mf)
		if f.Role == RoleKeep {
			continue
		}
		// Two names for one role (a V0 and a V1 name both exported): the
		// first in name order is read, the other only kept.
		if prev, ok := seen[f.Role]; ok && prev != name {
			continue
		}
		seen[f.Role] = name
		switch f.Role {
		case RoleGPUUtil, RoleGPUMem, RoleGPUPower:
			for _, m := range mf.Metric {
				id := gpuID(m)
				g := r.gpus[id]
				if g == nil {
					g = &gpuReading{math.NaN(), math.NaN(), math.NaN()}
					r.gpus[id] = g
				}
				v := scalar(m)
				switch f.Role {
				case RoleGPUUtil:
					g.util = v
				case RoleGPUMem:
					g.mem = v
				default:
					g.power = v
				}
			}
		case RoleTTFT, RoleTPOT, RoleE2E:
			if h := mergeHist(mf); h != nil {
				r.hists[f.Role] = h
			}
		case RolePromptTokensHist, RoleGenTokensHist:
			// The sum of a per-request token histogram is the token count.
			if h := mergeHist(mf); h != nil {
				role := RolePromptTokens
				if f.Role == RoleGenTokensHist {
					role = RoleGenTokens
				}
				r.values[role] = h.sum
			}
		default:
			for _, m := range mf.Metric {
				v := scalar(m)
				if math.IsNaN(v) {
					continue
				}
				r.values[f.Role] += v
				counts[f.Role]++
			}
		}
	}
	for role, n := range counts {
		if averaged(role) && n > 0 {
			r.values[role] /= float64(n)
		}
	}
	return r, keep
}

// gpuID names the GPU of a DCGM series: its gpu label, else UUID, else
// device, else "0".
func gpuID(m *dto.Metric) string {
	var uuid, dev string
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "gpu":
			return l.GetValue()
		case "UUID":
			uuid = l.GetValue()
		case "device":
			dev = l.GetValue()
		}
	}
	switch {
	case uuid != "":
		return uuid
	case dev != "":
		return dev
	}
	return "0"
}

// scalar is the value of a gauge, counter or untyped series (NaN otherwise).
func scalar(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return math.NaN()
}

// mergeHist adds up a histogram family's series bucket by bucket.
func mergeHist(mf *dto.MetricFamily) *hist {
	byLE := map[float64]float64{}
	h := &hist{}
	any := false
	for _, m := range mf.Metric {
		hm := m.GetHistogram()
		if hm == nil {
			continue
		}
		any = true
		h.count += float64(hm.GetSampleCount())
		if hm.SampleCountFloat != nil {
			h.count += hm.GetSampleCountFloat()
		}
		h.sum += hm.GetSampleSum()
		for _, b := range hm.GetBucket() {
			c := float64(b.GetCumulativeCount())
			if b.CumulativeCountFloat != nil {
				c += b.GetCumulativeCountFloat()
			}
			byLE[b.GetUpperBound()] += c
		}
	}
	if !any {
		return nil
	}
	for le := range byLE {
		h.les = append(h.les, le)
	}
	slices.Sort(h.les)
	for _, le := range h.les {
		h.cum = append(h.cum, byLE[le])
	}
	return h
}

// sub returns h − first bucket by bucket (the observations between two
// scrapes); a counter reset (a bucket that went down, or other bounds)
// yields h itself.
func (h *hist) sub(first *hist) *hist {
	if first == nil || !slices.Equal(h.les, first.les) || h.count < first.count {
		return h
	}
	d := &hist{les: h.les, cum: make([]float64, len(h.cum)), count: h.count - first.count, sum: h.sum - first.sum}
	for i := range h.cum {
		d.cum[i] = h.cum[i] - first.cum[i]
		if d.cum[i] < 0 {
			return h
		}
	}
	return d
}

// quantile estimates the q-quantile (0–1) as Prometheus' histogram_quantile
// does: linear within the bucket holding the rank, the first bucket's lower
// edge 0; a rank in the +Inf bucket yields the highest finite bound. ok is
// false without observations.
func (h *hist) quantile(q float64) (v float64, ok bool) {
	total := h.count
	if n := len(h.cum); n > 0 && math.IsInf(h.les[n-1], 1) {
		total = h.cum[n-1]
	}
	if !(total > 0) || len(h.les) == 0 {
		return 0, false
	}
	rank := q * total
	prevLE, prevCum := 0.0, 0.0
	for i, le := range h.les {
		c := h.cum[i]
		if c >= rank && c > prevCum {
			if math.IsInf(le, 1) {
				return prevLE, true
			}
			if le <= 0 {
				return le, true
			}
			return prevLE + (le-prevLE)*(rank-prevCum)/(c-prevCum), true
		}
		prevLE, prevCum = le, c
	}
	// The rank lies above every bucket (no +Inf bucket was sent).
	return prevLE, true
}

// fmtFloat writes a number compactly for server.jsonl.
func fmtFloat(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(b, `"+Inf"`...)
	case math.IsInf(f, -1):
		return append(b, `"-Inf"`...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
