package scrape

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
)

// stat is a gauge's running mean and maximum.
type stat struct {
	n        int
	sum, max float64
}

func (s *stat) add(v float64) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if s.n == 0 || v > s.max {
		s.max = v
	}
	s.n++
	s.sum += v
}

func (s *stat) view() *metrics.GaugeStat {
	if s == nil || s.n == 0 {
		return nil
	}
	return &metrics.GaugeStat{Mean: s.sum / float64(s.n), Max: s.max}
}

// gpuAcc is one GPU over the window.
type gpuAcc struct {
	util, mem, power stat
	energy           float64 // joules
	hasEnergy        bool
	firstT, lastT    time.Time
	firstP, lastP    float64
}

// window tells where a scrape lies relative to the tracking window.
type window uint8

const (
	outside window = iota
	opening        // the scrape taken when the window opened
	inside
	closing // the scrape taken when the window closed
)

func (w window) String() string {
	return [...]string{"out", "start", "in", "stop"}[w]
}

// accumulator folds one target's readings inside the tracking window.
type accumulator struct {
	n          int
	t0, tLast  time.Time
	gauges     map[Role]*stat
	counters   map[Role]float64 // increments over the window
	prevCount  map[Role]float64 // the counter at the previous reading
	histFirst  map[Role]*hist
	histLast   map[Role]*hist
	gpus       map[string]*gpuAcc
	gpuOrder   []string
	hasCounter map[Role]bool
}

func newAccumulator() *accumulator {
	return &accumulator{
		gauges: map[Role]*stat{}, counters: map[Role]float64{}, prevCount: map[Role]float64{},
		histFirst: map[Role]*hist{}, histLast: map[Role]*hist{}, gpus: map[string]*gpuAcc{},
		hasCounter: map[Role]bool{},
	}
}

// counterRoles are the roles whose values are counters: the window keeps
// their increments.
var counterRoles = []Role{RolePrefixHits, RolePrefixQueries, RolePromptTokens, RoleGenTokens, RoleCachedPromptTokens}

// add folds a reading taken at t inside the window.
func (a *accumulator) add(t time.Time, r *reading) {
	if a.n == 0 {
		a.t0 = t
	}
	a.n++
	for role, v := range r.values {
		if slices.Contains(counterRoles, role) {
			if prev, ok := a.prevCount[role]; ok {
				d := v - prev
				if d < 0 { // a counter reset (server restart): count from 0
					d = v
				}
				a.counters[role] += d
			}
			a.prevCount[role] = v
			a.hasCounter[role] = true
			continue
		}
		s := a.gauges[role]
		if s == nil {
			s = &stat{}
			a.gauges[role] = s
		}
		s.add(v)
	}
	for role, h := range r.hists {
		if a.histFirst[role] == nil {
			a.histFirst[role] = h
		}
		a.histLast[role] = h
	}
	for id, g := range r.gpus {
		ga := a.gpus[id]
		if ga == nil {
			ga = &gpuAcc{}
			a.gpus[id] = ga
			a.gpuOrder = append(a.gpuOrder, id)
		}
		ga.util.add(g.util)
		ga.mem.add(g.mem)
		ga.power.add(g.power)
		if !math.IsNaN(g.power) {
			// Trapezoids between consecutive power readings.
			if ga.lastT.IsZero() {
				ga.firstT, ga.firstP = t, g.power
			} else {
				ga.energy += (ga.lastP + g.power) / 2 * t.Sub(ga.lastT).Seconds()
			}
			ga.hasEnergy = true
			ga.lastT, ga.lastP = t, g.power
		}
	}
	a.tLast = t
}

// summarize builds the view over the targets' windows.
func summarize(targets []*target) *metrics.ServerView {
	v := &metrics.ServerView{}
	var running, waiting *metrics.GaugeStat
	var kvs, hitRates []*metrics.GaugeStat
	var hits, queries float64
	var hasHits bool
	var prompt, gen float64
	var hasPrompt, hasGen bool
	hists := map[Role]*hist{}
	var energy float64
	var hasEnergy bool
	// The window's span over every target: a GPU whose readings start late
	// or end early (a failed scrape at an end) is held at its nearest
	// reading to the span's edges, so that its energy covers the window.
	var start, end time.Time
	for _, t := range targets {
		if a := t.acc; a.n > 0 {
			if start.IsZero() || a.t0.Before(start) {
				start = a.t0
			}
			if a.tLast.After(end) {
				end = a.tLast
			}
		}
	}
	for _, t := range targets {
		v.Targets = append(v.Targets, metrics.ServerTarget{URL: t.url, Family: string(t.kindOrUnknown()), Scrapes: t.scrapes, Failures: t.failures})
		v.Scrapes += t.scrapes
		v.Failures += t.failures
		if t.lastErr != "" {
			v.LastError = t.lastErr
		}
		a := t.acc
		if a.n == 0 {
			continue
		}
		v.WindowS = end.Sub(start).Seconds()
		running = addSum(running, a.gauges[RoleRunning].view())
		waiting = addSum(waiting, a.gauges[RoleWaiting].view())
		if g := a.gauges[RoleKVCache].view(); g != nil {
			kvs = append(kvs, g)
		}
		if g := a.gauges[RolePrefixHitRate].view(); g != nil {
			hitRates = append(hitRates, g)
		}
		cached := a.counters[RoleCachedPromptTokens]
		switch {
		case a.hasCounter[RolePrefixHits] && a.hasCounter[RolePrefixQueries]:
			hits += a.counters[RolePrefixHits]
			queries += a.counters[RolePrefixQueries]
			hasHits = true
		case a.hasCounter[RoleCachedPromptTokens] && a.hasCounter[RolePromptTokens]:
			hits += cached
			queries += cached + a.counters[RolePromptTokens]
			hasHits = true
		}
		if a.hasCounter[RolePromptTokens] {
			prompt += a.counters[RolePromptTokens] + cached
			hasPrompt = true
		}
		if a.hasCounter[RoleGenTokens] {
			gen += a.counters[RoleGenTokens]
			hasGen = true
		}
		for _, role := range []Role{RoleTTFT, RoleTPOT, RoleE2E} {
			last := a.histLast[role]
			if last == nil {
				continue
			}
			d := last.sub(a.histFirst[role])
			if a.histFirst[role] == last {
				// One reading in the window: nothing was observed inside it.
				d = &hist{les: last.les, cum: make([]float64, len(last.les))}
			}
			hists[role] = mergeInto(hists[role], d)
		}
		slices.SortFunc(a.gpuOrder, gpuCompare)
		for _, id := range a.gpuOrder {
			g := a.gpus[id]
			gs := metrics.GPUStat{GPU: id, Target: t.url, UtilPct: g.util.view(), MemMiB: g.mem.view(), PowerW: g.power.view()}
			if g.hasEnergy {
				e := g.energy + g.firstP*g.firstT.Sub(start).Seconds() + g.lastP*end.Sub(g.lastT).Seconds()
				gs.EnergyJ = &e
				energy += e
				hasEnergy = true
			}
			v.GPUs = append(v.GPUs, gs)
		}
	}
	v.Running, v.Waiting, v.KVCache = running, waiting, fractions(kvs)
	switch {
	case hasHits && queries > 0:
		r := hits / queries
		v.PrefixHitRate = &r
	case len(hitRates) > 0:
		r := fractions(hitRates).Mean
		v.PrefixHitRate = &r
	}
	if hasPrompt {
		v.PromptTokens = &metrics.TokenCount{Server: prompt}
	}
	if hasGen {
		v.GenerationTokens = &metrics.TokenCount{Server: gen}
	}
	for role, dst := range map[Role]**metrics.LatencyCompare{RoleTTFT: &v.TTFT, RoleTPOT: &v.TPOT, RoleE2E: &v.Latency} {
		h := hists[role]
		if h == nil {
			continue
		}
		lc := &metrics.LatencyCompare{Count: h.total()}
		if p, ok := h.quantile(0.5); ok {
			lc.ServerP50 = &p
		}
		if p, ok := h.quantile(0.99); ok {
			lc.ServerP99 = &p
		}
		*dst = lc
	}
	if hasEnergy {
		v.EnergyJ = &energy
	}
	return v
}

// gpuCompare orders GPU ids numerically when both are numbers ("2" < "10").
func gpuCompare(a, b string) int {
	x, errA := strconv.Atoi(a)
	y, errB := strconv.Atoi(b)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// total is the number of observations in h.
func (h *hist) total() float64 {
	if n := len(h.cum); n > 0 && math.IsInf(h.les[n-1], 1) {
		return h.cum[n-1]
	}
	return h.count
}

// mergeInto adds d to h when their buckets agree; otherwise the first one
// found stays.
func mergeInto(h, d *hist) *hist {
	if h == nil {
		return d
	}
	if !slices.Equal(h.les, d.les) {
		return h
	}
	m := &hist{les: h.les, cum: make([]float64, len(h.cum)), count: h.count + d.count, sum: h.sum + d.sum}
	for i := range h.cum {
		m.cum[i] = h.cum[i] + d.cum[i]
	}
	return m
}

// addSum adds gauge b to a (servers side by side: their queues add up).
func addSum(a, b *metrics.GaugeStat) *metrics.GaugeStat {
	switch {
	case b == nil:
		return a
	case a == nil:
		return b
	}
	return &metrics.GaugeStat{Mean: a.Mean + b.Mean, Max: a.Max + b.Max}
}

// fractions combines a fraction (KV-cache use, hit rate) of several
// servers: the mean of their means, the largest maximum; nil for none.
func fractions(gs []*metrics.GaugeStat) *metrics.GaugeStat {
	if len(gs) == 0 {
		return nil
	}
	out := &metrics.GaugeStat{Max: gs[0].Max}
	for _, g := range gs {
		out.Mean += g.Mean / float64(len(gs))
		out.Max = math.Max(out.Max, g.Max)
	}
	return out
}
