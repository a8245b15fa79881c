package metrics

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
)

// Defaults for series; the aggregator and the CLI refer to these.
const (
	DefaultSigFigs = 3
	DefaultBuckets = 30
	// TimeLow and TimeHigh bound the HDR view of nanosecond series: 1 ns to 1 h.
	TimeLow  = 1
	TimeHigh = 3_600_000_000_000
	// TokenLow and TokenHigh bound the HDR view of token-count series.
	TokenLow  = 1
	TokenHigh = 10_000_000
)

// DefaultPercentiles is the percentile grid of every series unless told otherwise.
var DefaultPercentiles = []float64{99.9, 99, 97, 95, 90, 80, 75, 50, 25, 10, 5, 1}

// ErrDuplicate is returned when a name is registered twice (counters and
// series share one namespace).
var ErrDuplicate = errors.New("metrics: name already registered")

// Registry holds counters and series in registration order and builds
// snapshots of them. It is not safe for concurrent use.
type Registry struct {
	counters []*Counter
	series   []*Series
	names    map[string]struct{}
	emitted  uint64
	spill    *spiller // nil: raw values stay in memory
	// Logger receives the one warning per series whose values were clamped
	// into the HDR range; nil means slog.Default().
	Logger *slog.Logger
	// Vet, when set, checks every name before it is registered: the
	// aggregator sets [VetName], so that only dictionary names reach its
	// snapshots. nil accepts any name.
	Vet func(name string) error
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]struct{}{}} }

func (r *Registry) claim(name string) error {
	if name == "" {
		return errors.New("metrics: empty metric name")
	}
	if r.Vet != nil {
		if err := r.Vet(name); err != nil {
			return err
		}
	}
	if _, ok := r.names[name]; ok {
		return fmt.Errorf("%w: %q", ErrDuplicate, name)
	}
	r.names[name] = struct{}{}
	return nil
}

// NewCounter registers an integer counter (or a float one when isFloat).
func (r *Registry) NewCounter(name string, isFloat bool) (*Counter, error) {
	if err := r.claim(name); err != nil {
		return nil, err
	}
	c := &Counter{name: name, isFloat: isFloat}
	r.counters = append(r.counters, c)
	return c, nil
}

// NewSeries registers a series; see [SeriesOpts] for the defaults.
func (r *Registry) NewSeries(name string, opts SeriesOpts) (*Series, error) {
	s, err := newSeries(name, opts, r)
	if err != nil {
		return nil, err
	}
	if err := r.claim(name); err != nil {
		return nil, err
	}
	r.series = append(r.series, s)
	if r.spill != nil && !r.spill.closed {
		s.attachSpill(r.spill)
	}
	return s, nil
}

// Counters returns the counters in registration order.
func (r *Registry) Counters() []*Counter { return r.counters }

// SeriesList returns the series in registration order.
func (r *Registry) SeriesList() []*Series { return r.series }

func (r *Registry) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// Snapshot builds a snapshot stamped with timestampNS. Terminal states get
// exact percentiles and histograms from the raw values (series are computed in
// parallel: sorting is the cost); other states get HDR estimates. Each call
// increments the emit counter.
func (r *Registry) Snapshot(state State, pending int64, timestampNS int64) Snapshot {
	r.emitted++
	snap := Snapshot{
		Counter:       r.emitted,
		TimestampNS:   timestampNS,
		State:         state,
		NPendingTasks: pending,
		Metrics:       make([]Metric, len(r.counters)+len(r.series)),
	}
	for i, c := range r.counters {
		snap.Metrics[i] = c.stat()
	}
	base := len(r.counters)
	if !state.Terminal() {
		for i, s := range r.series {
			snap.Metrics[base+i] = s.stat(false)
		}
		return snap
	}
	if r.spill != nil {
		r.spill.flush() // the files hold every full block before they are read
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i, s := range r.series {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			snap.Metrics[base+i] = s.stat(true)
		}()
	}
	wg.Wait()
	return snap
}

// Counter is an integer or float counter.
type Counter struct {
	name    string
	isFloat bool
	i       int64
	f       float64
}

// Name returns the counter's name.
func (c *Counter) Name() string { return c.name }

// Add adds d.
func (c *Counter) Add(d int64) {
	if c.isFloat {
		c.f += float64(d)
		return
	}
	c.i += d
}

// Set sets the value to v.
func (c *Counter) Set(v int64) {
	if c.isFloat {
		c.f = float64(v)
		return
	}
	c.i = v
}

// AddFloat adds d to a float counter (truncated for an integer counter).
func (c *Counter) AddFloat(d float64) {
	if c.isFloat {
		c.f += d
		return
	}
	c.i += int64(d)
}

// Value returns the current value.
func (c *Counter) Value() Num {
	if c.isFloat {
		return Float(c.f)
	}
	return Int(c.i)
}

// Int returns the value of an integer counter.
func (c *Counter) Int() int64 { return c.i }

func (c *Counter) stat() Metric {
	return Metric{Kind: KindCounter, Name: c.name, Value: c.Value()}
}
