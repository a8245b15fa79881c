package metrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/msgpskip"
)

// State is the session state a snapshot was taken in. States only move
// forward: initialize → live → draining → complete | interrupted.
type State string

// The session states, in order.
const (
	StateInitialize  State = "initialize"
	StateLive        State = "live"
	StateDraining    State = "draining"
	StateComplete    State = "complete"
	StateInterrupted State = "interrupted"
)

// Terminal reports whether s ends a session (complete or interrupted).
func (s State) Terminal() bool { return s == StateComplete || s == StateInterrupted }

// Rank orders the states: initialize 0 … complete and interrupted 3; -1 for an
// unknown state.
func (s State) Rank() int {
	switch s {
	case StateInitialize:
		return 0
	case StateLive:
		return 1
	case StateDraining:
		return 2
	case StateComplete, StateInterrupted:
		return 3
	}
	return -1
}

// Kind tells a counter metric from a series metric.
type Kind uint8

// The metric kinds.
const (
	KindCounter Kind = iota + 1
	KindSeries
)

// Percentile is one entry of a series' percentile grid.
type Percentile struct {
	Key   string // the grid entry as Python's str(float): "99.9", "50.0"
	Value float64
	// Lo and Hi bound a 95 % confidence interval of the percentile (see
	// [CIRanks]); ES is the early-stopping estimate (see [ESRank]). Only a
	// terminal snapshot with exact values has them (Metric.Bounds); NaN
	// where the samples are too few.
	Lo, Hi, ES float64
}

// Bucket is one histogram bucket: [Lo, Hi) holding Count values (the last
// bucket is closed).
type Bucket struct {
	Lo, Hi float64
	Count  int64
}

// Metric is one counter or series in a snapshot.
type Metric struct {
	Kind  Kind
	Name  string
	Value Num // counters

	// Series fields.
	Count                  int64
	Total, Min, Max, SumSq Num
	Percentiles            []Percentile
	Histogram              []Bucket
	// Approximate marks a terminal snapshot's percentiles and histogram as
	// HDR estimates (±0.1 % at 3 significant figures) instead of exact order
	// statistics: the raw values could not be spilled (disk full,
	// unwritable) or read back. Live snapshots are always HDR and never set it.
	Approximate bool
	// Bounds says the percentiles carry confidence bounds and
	// early-stopping estimates (a terminal snapshot's exact series).
	Bounds bool
}

// Percentile returns the value at grid key k ("50.0", or "50").
func (m *Metric) Percentile(k string) (float64, bool) {
	for _, p := range m.Percentiles {
		if p.Key == k || p.Key == k+".0" {
			return p.Value, true
		}
	}
	return math.NaN(), false
}

// Snapshot is the state of a registry at one moment.
type Snapshot struct {
	Counter       uint64 // the producer's emit count (diagnostic, not an ordering key)
	TimestampNS   int64  // the producer's monotonic clock
	State         State
	NPendingTasks int64
	Metrics       []Metric // counters first, then series, in registration order
	// Fleet holds the live counters of each worker of a fleet run (see
	// fleet.go); nil otherwise.
	Fleet []FleetWorker
	// Server holds the latest server-side gauges when the run scrapes the
	// server's own metrics (nil otherwise); see [ServerGauges]. It is the
	// snapshot's optional seventh element on the wire.
	Server *ServerGauges
}

// Complete reports a clean run: state complete with nothing pending.
func (s Snapshot) Complete() bool { return s.State == StateComplete && s.NPendingTasks == 0 }

// Find returns the metric called name.
func (s Snapshot) Find(name string) (*Metric, bool) {
	for i := range s.Metrics {
		if s.Metrics[i].Name == name {
			return &s.Metrics[i], true
		}
	}
	return nil, false
}

// CounterInt returns the integer value of counter name (0 when absent).
func (s Snapshot) CounterInt(name string) int64 {
	if m, ok := s.Find(name); ok && m.Kind == KindCounter {
		v, _ := m.Value.Int64()
		return v
	}
	return 0
}

// SnapshotTopic is the topic of snapshot frames.
const SnapshotTopic = "MET"

// SnapshotCodec encodes snapshots to the msgpack wire form and back; it
// satisfies bus.Codec[Snapshot]. Malformed snapshots are dropped.
type SnapshotCodec struct{}

// Encode appends the wire form of s to dst.
func (SnapshotCodec) Encode(dst []byte, s *Snapshot) (string, []byte, error) {
	return SnapshotTopic, AppendSnapshot(dst, s), nil
}

// Decode parses a wire snapshot.
func (SnapshotCodec) Decode(p []byte) (Snapshot, error) { return DecodeSnapshot(p) }

// OnDecodeError drops a malformed snapshot: the next tick replaces it.
func (SnapshotCodec) OnDecodeError([]byte, error) (Snapshot, bool) { return Snapshot{}, false }

// AppendSnapshot appends the msgpack array form of s to b.
func AppendSnapshot(b []byte, s *Snapshot) []byte {
	// Optional trailing elements: the 6th is the fleet section (nil when
	// only the 7th, the server gauges, is present).
	fields := uint32(5)
	switch {
	case s.Server != nil:
		fields = 7
	case len(s.Fleet) > 0:
		fields = 6
	}
	b = msgp.AppendArrayHeader(b, fields)
	b = msgp.AppendUint64(b, s.Counter)
	b = msgp.AppendInt64(b, s.TimestampNS)
	b = msgp.AppendString(b, string(s.State))
	b = msgp.AppendInt64(b, s.NPendingTasks)
	b = msgp.AppendArrayHeader(b, uint32(len(s.Metrics)))
	for i := range s.Metrics {
		m := &s.Metrics[i]
		if m.Kind == KindCounter {
			b = msgp.AppendArrayHeader(b, 3)
			b = msgp.AppendString(b, "counter")
			b = msgp.AppendString(b, m.Name)
			b = appendNumMsgp(b, m.Value)
			continue
		}
		// Fields after the 9th are appended (decoders skip the ones they do
		// not know): the 10th is the Python tool's optional
		// early_stopping_percentiles ({key: estimate or nil}; nil without
		// bounds), the 11th the approximate mark, the 12th the 95 % intervals
		// [[lo, hi], ...] in grid order. A series writes as many as it needs:
		// 12 with bounds (exact values, so the mark is false), 11 when
		// approximate.
		fields := uint32(9)
		switch {
		case m.Bounds:
			fields = 12
		case m.Approximate:
			fields = 11
		}
		b = msgp.AppendArrayHeader(b, fields)
		b = msgp.AppendString(b, "series")
		b = msgp.AppendString(b, m.Name)
		b = msgp.AppendInt64(b, m.Count)
		b = appendNumMsgp(b, m.Total)
		b = appendNumMsgp(b, m.Min)
		b = appendNumMsgp(b, m.Max)
		b = appendNumMsgp(b, m.SumSq)
		b = msgp.AppendMapHeader(b, uint32(len(m.Percentiles)))
		for _, p := range m.Percentiles {
			b = msgp.AppendString(b, p.Key)
			b = msgp.AppendFloat64(b, p.Value)
		}
		b = msgp.AppendArrayHeader(b, uint32(len(m.Histogram)))
		for _, h := range m.Histogram {
			b = msgp.AppendArrayHeader(b, 2)
			b = msgp.AppendArrayHeader(b, 2)
			b = msgp.AppendFloat64(b, h.Lo)
			b = msgp.AppendFloat64(b, h.Hi)
			b = msgp.AppendInt64(b, h.Count)
		}
		if m.Bounds {
			b = msgp.AppendMapHeader(b, uint32(len(m.Percentiles)))
			for _, p := range m.Percentiles {
				b = msgp.AppendString(b, p.Key)
				if math.IsNaN(p.ES) {
					b = msgp.AppendNil(b)
				} else {
					b = msgp.AppendFloat64(b, p.ES)
				}
			}
			b = msgp.AppendBool(b, m.Approximate)
			b = msgp.AppendArrayHeader(b, uint32(len(m.Percentiles)))
			for _, p := range m.Percentiles {
				b = msgp.AppendArrayHeader(b, 2)
				b = msgp.AppendFloat64(b, p.Lo)
				b = msgp.AppendFloat64(b, p.Hi)
			}
		} else if m.Approximate {
			b = msgp.AppendNil(b)
			b = msgp.AppendBool(b, true)
		}
	}
	switch {
	case len(s.Fleet) > 0:
		b = appendFleet(b, s.Fleet)
	case fields > 6:
		b = msgp.AppendNil(b)
	}
	if s.Server != nil {
		b = appendServerMsgp(b, s.Server)
	}
	return b
}

// appendNumMsgp writes an integer as a msgpack integer when it fits 64 bits
// and as a float otherwise (msgpack has no bigger integers).
func appendNumMsgp(b []byte, n Num) []byte {
	switch {
	case n.isFloat:
		return msgp.AppendFloat64(b, n.f)
	case n.big != nil:
		if n.big.Sign() > 0 && n.big.IsUint64() {
			return msgp.AppendUint64(b, n.big.Uint64())
		}
		return msgp.AppendFloat64(b, n.Float64())
	}
	return msgp.AppendInt64(b, n.i)
}

// ErrSnapshot wraps every failure to decode a wire snapshot.
var ErrSnapshot = errors.New("metrics: malformed snapshot")

// DecodeSnapshot parses the msgpack array form. Every length read from p is
// checked against the bytes that remain before anything is allocated for it,
// so a hostile frame cannot make it allocate more than a small multiple of its
// own size; fields it does not know are skipped.
func DecodeSnapshot(p []byte) (Snapshot, error) {
	var s Snapshot
	fail := func(what string, err error) (Snapshot, error) {
		return Snapshot{}, fmt.Errorf("%w: %s: %v", ErrSnapshot, what, err)
	}
	n, p, err := msgp.ReadArrayHeaderBytes(p)
	if err != nil || n < 5 {
		return fail("header", err)
	}
	if err := fits(n, 1, p); err != nil {
		return fail("header", err)
	}
	if s.Counter, p, err = msgp.ReadUint64Bytes(p); err != nil {
		return fail("counter", err)
	}
	if s.TimestampNS, p, err = msgp.ReadInt64Bytes(p); err != nil {
		return fail("timestamp_ns", err)
	}
	var st string
	if st, p, err = msgp.ReadStringBytes(p); err != nil {
		return fail("state", err)
	}
	s.State = State(st)
	if s.NPendingTasks, p, err = msgp.ReadInt64Bytes(p); err != nil {
		return fail("n_pending_tasks", err)
	}
	var nm uint32
	if nm, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
		return fail("metrics", err)
	}
	if err := fits(nm, minMetricBytes, p); err != nil {
		return fail("metrics", err)
	}
	s.Metrics = make([]Metric, nm)
	for i := range s.Metrics {
		if p, err = decodeMetric(p, &s.Metrics[i]); err != nil {
			return fail(fmt.Sprintf("metric %d", i), err)
		}
	}
	if n >= 6 {
		if msgp.NextType(p) == msgp.NilType {
			p, err = msgp.ReadNilBytes(p)
		} else {
			s.Fleet, p, err = decodeFleet(p)
		}
		if err != nil {
			return fail("fleet", err)
		}
	}
	if n >= 7 {
		if s.Server, _, err = decodeServerMsgp(p); err != nil {
			return fail("server", err)
		}
	}
	return s, nil
}

func decodeMetric(p []byte, m *Metric) ([]byte, error) {
	n, p, err := msgp.ReadArrayHeaderBytes(p)
	if err != nil {
		return p, err
	}
	if n < 3 {
		return p, fmt.Errorf("metric array of %d fields", n)
	}
	if err := fits(n, 1, p); err != nil {
		return p, err
	}
	tag, p, err := msgp.ReadStringBytes(p)
	if err != nil {
		return p, err
	}
	if m.Name, p, err = msgp.ReadStringBytes(p); err != nil {
		return p, err
	}
	switch tag {
	case "counter":
		m.Kind = KindCounter
		if m.Value, p, err = readNumMsgp(p); err != nil {
			return p, err
		}
		return skipFields(p, n, 3)
	case "series":
		if n < 9 {
			return p, fmt.Errorf("series array of %d fields", n)
		}
		m.Kind = KindSeries
		if m.Count, p, err = msgp.ReadInt64Bytes(p); err != nil {
			return p, err
		}
		for _, dst := range []*Num{&m.Total, &m.Min, &m.Max, &m.SumSq} {
			if *dst, p, err = readNumMsgp(p); err != nil {
				return p, err
			}
		}
		var np uint32
		if np, p, err = msgp.ReadMapHeaderBytes(p); err != nil {
			return p, err
		}
		if err := fits(np, minPercentileBytes, p); err != nil {
			return p, err
		}
		m.Percentiles = make([]Percentile, np)
		for i := range m.Percentiles {
			if m.Percentiles[i].Key, p, err = msgp.ReadStringBytes(p); err != nil {
				return p, err
			}
			var v Num
			if v, p, err = readNumMsgp(p); err != nil {
				return p, err
			}
			m.Percentiles[i].Value = v.Float64()
		}
		var nb uint32
		if nb, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
			return p, err
		}
		if err := fits(nb, minBucketBytes, p); err != nil {
			return p, err
		}
		m.Histogram = make([]Bucket, nb)
		for i := range m.Histogram {
			h := &m.Histogram[i]
			var lo, hi Num
			if _, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
				return p, err
			}
			if _, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
				return p, err
			}
			if lo, p, err = readNumMsgp(p); err != nil {
				return p, err
			}
			if hi, p, err = readNumMsgp(p); err != nil {
				return p, err
			}
			if h.Count, p, err = msgp.ReadInt64Bytes(p); err != nil {
				return p, err
			}
			h.Lo, h.Hi = lo.Float64(), hi.Float64()
		}
		if n >= 12 {
			if p, err = decodeBounds(p, m); err != nil {
				return p, err
			}
			return skipFields(p, n, 12)
		}
		// Field 10 (early_stopping_percentiles of the Python tool) is
		// skipped; field 11, when a bool, is the approximate mark.
		if n >= 11 {
			if p, err = msgpskip.Skip(p); err != nil {
				return p, err
			}
			if msgp.NextType(p) == msgp.BoolType {
				if m.Approximate, p, err = msgp.ReadBoolBytes(p); err != nil {
					return p, err
				}
				return skipFields(p, n, 11)
			}
			return skipFields(p, n, 10)
		}
		return skipFields(p, n, 9)
	}
	return p, fmt.Errorf("unknown metric tag %q", tag)
}

// The fewest bytes one element can take on the wire: a counter is
// [tag, name, value] (fixarray, "counter", a 1-byte name, a fixint), a
// percentile a 1-byte key and a fixint, a bucket [[lo, hi], count] five
// fixed-size bytes. A length is checked against them before anything is
// allocated for it, so a frame cannot claim more elements than it can hold.
const (
	minMetricBytes     = 1 + 8 + 1 + 1
	minPercentileBytes = 2
	minBucketBytes     = 5
)

// fits reports an error when n elements of at least size bytes each cannot
// fit in the bytes that remain.
func fits(n uint32, size int, p []byte) error {
	if uint64(n)*uint64(size) > uint64(len(p)) {
		return fmt.Errorf("%d elements in %d bytes", n, len(p))
	}
	return nil
}

// decodeBounds reads the 10th to 12th fields of a terminal series: the
// early-stopping map, the approximate mark and one [lo, hi] per percentile,
// in grid order.
func decodeBounds(p []byte, m *Metric) ([]byte, error) {
	for i := range m.Percentiles {
		pc := &m.Percentiles[i]
		pc.Lo, pc.Hi, pc.ES = math.NaN(), math.NaN(), math.NaN()
	}
	var ne uint32
	var err error
	if msgp.NextType(p) == msgp.NilType {
		p, err = msgp.ReadNilBytes(p) // a series without estimates
	} else {
		ne, p, err = msgp.ReadMapHeaderBytes(p)
	}
	if err != nil {
		return p, err
	}
	if err := fits(ne, minPercentileBytes, p); err != nil {
		return p, err
	}
	for range ne {
		var k string
		var v Num
		if k, p, err = msgp.ReadStringBytes(p); err != nil {
			return p, err
		}
		if v, p, err = readNumMsgp(p); err != nil {
			return p, err
		}
		for i := range m.Percentiles {
			if m.Percentiles[i].Key == k {
				m.Percentiles[i].ES = v.Float64()
			}
		}
	}
	if msgp.NextType(p) == msgp.BoolType {
		if m.Approximate, p, err = msgp.ReadBoolBytes(p); err != nil {
			return p, err
		}
	} else if p, err = msgpskip.Skip(p); err != nil {
		return p, err
	}
	nb, p, err := msgp.ReadArrayHeaderBytes(p)
	if err != nil {
		return p, err
	}
	if int(nb) != len(m.Percentiles) {
		return p, fmt.Errorf("%d intervals for %d percentiles", nb, len(m.Percentiles))
	}
	for i := range m.Percentiles {
		pc := &m.Percentiles[i]
		var k uint32
		if k, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
			return p, err
		}
		if k != 2 {
			return p, fmt.Errorf("interval of %d fields", k)
		}
		for _, dst := range []*float64{&pc.Lo, &pc.Hi} {
			var v Num
			if v, p, err = readNumMsgp(p); err != nil {
				return p, err
			}
			*dst = v.Float64()
		}
	}
	m.Bounds = true
	return p, nil
}

func skipFields(p []byte, have, known uint32) ([]byte, error) {
	var err error
	for i := known; i < have; i++ {
		if p, err = msgpskip.Skip(p); err != nil {
			return p, err
		}
	}
	return p, nil
}

func readNumMsgp(p []byte) (Num, []byte, error) {
	switch msgp.NextType(p) {
	case msgp.Float64Type, msgp.Float32Type:
		f, p, err := msgp.ReadFloat64Bytes(p)
		return Float(f), p, err
	case msgp.UintType:
		u, p, err := msgp.ReadUint64Bytes(p)
		if u > math.MaxInt64 {
			return BigInt(new(big.Int).SetUint64(u)), p, err
		}
		return Int(int64(u)), p, err
	case msgp.NilType:
		p, err := msgp.ReadNilBytes(p)
		return Float(math.NaN()), p, err
	}
	i, p, err := msgp.ReadInt64Bytes(p)
	return Int(i), p, err
}

// MarshalJSON writes the dict form, indented by two spaces.
func (s Snapshot) MarshalJSON() ([]byte, error) {
	var out bytes.Buffer
	if err := json.Indent(&out, s.AppendJSON(nil), "", "  "); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// AppendJSON appends the compact dict form of s to b.
func (s Snapshot) AppendJSON(b []byte) []byte {
	b = append(b, `{"counter":`...)
	b = strconv.AppendUint(b, s.Counter, 10)
	b = append(b, `,"timestamp_ns":`...)
	b = strconv.AppendInt(b, s.TimestampNS, 10)
	b = append(b, `,"state":`...)
	b = strconv.AppendQuote(b, string(s.State))
	b = append(b, `,"n_pending_tasks":`...)
	b = strconv.AppendInt(b, s.NPendingTasks, 10)
	b = append(b, `,"metrics":[`...)
	for i := range s.Metrics {
		m := &s.Metrics[i]
		if i > 0 {
			b = append(b, ',')
		}
		if m.Kind == KindCounter {
			b = append(b, `{"type":"counter","name":`...)
			b = appendJSONString(b, m.Name)
			b = append(b, `,"value":`...)
			b = m.Value.AppendJSON(b)
			b = append(b, '}')
			continue
		}
		b = append(b, `{"type":"series","name":`...)
		b = appendJSONString(b, m.Name)
		b = append(b, `,"count":`...)
		b = strconv.AppendInt(b, m.Count, 10)
		for _, f := range []struct {
			k string
			v Num
		}{{"total", m.Total}, {"min", m.Min}, {"max", m.Max}, {"sum_sq", m.SumSq}} {
			b = append(b, `,"`...)
			b = append(b, f.k...)
			b = append(b, `":`...)
			b = f.v.AppendJSON(b)
		}
		b = append(b, `,"percentiles":{`...)
		for j, p := range m.Percentiles {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, p.Key)
			b = append(b, ':')
			b = appendJSONFloat(b, p.Value)
		}
		b = append(b, `},"histogram":[`...)
		for j, h := range m.Histogram {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, "[["...)
			b = appendJSONFloat(b, h.Lo)
			b = append(b, ',')
			b = appendJSONFloat(b, h.Hi)
			b = append(b, "],"...)
			b = strconv.AppendInt(b, h.Count, 10)
			b = append(b, ']')
		}
		b = append(b, ']')
		if m.Bounds {
			b = appendBoundsJSON(b, m)
		}
		if m.Approximate {
			b = append(b, `,"approximate":true`...)
		}
		b = append(b, '}')
	}
	b = append(b, ']')
	if s.Server != nil {
		b = appendServerJSON(b, s.Server)
	}
	return append(b, '}')
}

// appendBoundsJSON appends "percentile_ci95" ({key: [lo, hi]}, a side null
// when the samples are too few) and "early_stopping_percentiles" ({key:
// estimate or null}, as the Python tool names it).
func appendBoundsJSON(b []byte, m *Metric) []byte {
	b = append(b, `,"percentile_ci95":{`...)
	for j, p := range m.Percentiles {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, p.Key)
		b = append(b, ":["...)
		b = appendJSONFloat(b, p.Lo)
		b = append(b, ',')
		b = appendJSONFloat(b, p.Hi)
		b = append(b, ']')
	}
	b = append(b, `},"early_stopping_percentiles":{`...)
	for j, p := range m.Percentiles {
		if j > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, p.Key)
		b = append(b, ':')
		b = appendJSONFloat(b, p.ES)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}
