package fleet_test

import (
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/fleet"
	"github.com/inferbench/inferbench/internal/loadgen"
)

// TestSplit: the shares add up to the single-host run exactly.
func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name             string
		load             loadgen.Config
		n, dsLen         int
		warm, tracked    int // totals the shares must add up to
		qps              float64
		conc, inFlight   int // totals
		idle             int
		phases           []time.Duration // constant only
		distinctSeeds    bool
		durationPreserve bool
		stageSums        []float64 // per stage, over the shares
		maxConc          int       // total
	}{
		{name: "offline one pass", load: loadgen.Config{Mode: loadgen.ModeOffline}, n: 3, dsLen: 100, tracked: 100, inFlight: loadgen.DefaultMaxInFlight},
		{name: "offline warmup", load: loadgen.Config{Mode: loadgen.ModeOffline, NumSamples: 301, WarmupSamples: 7, MaxInFlight: 10}, n: 3, dsLen: 50, warm: 7, tracked: 301, inFlight: 10},
		{name: "fewer samples than workers", load: loadgen.Config{Mode: loadgen.ModeOffline, NumSamples: 2, MaxInFlight: 8}, n: 4, dsLen: 50, tracked: 2, inFlight: 8, idle: 2},
		{name: "poisson", load: loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 90, NumSamples: 1000, Seed: 5}, n: 3, dsLen: 10, tracked: 1000, qps: 90, distinctSeeds: true},
		{name: "constant phases", load: loadgen.Config{Mode: loadgen.ModeConstant, TargetQPS: 100, NumSamples: 10, WarmupSamples: 1}, n: 4, dsLen: 10, warm: 1, tracked: 10, qps: 100,
			// tracked positions 1.. → worker i's first is i (k = i−1 mod 4)
			phases: []time.Duration{30 * time.Millisecond, 0, 10 * time.Millisecond, 20 * time.Millisecond}},
		{name: "concurrency stages", load: loadgen.Config{Mode: loadgen.ModeConcurrency, Stages: []loadgen.Stage{{QPS: 4, Duration: time.Second}, {QPS: 7, Duration: time.Second}}}, n: 3, dsLen: 10,
			stageSums: []float64{4, 7}, durationPreserve: true},
		{name: "poisson capped", load: loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 30, MaxConcurrency: 8, NumSamples: 100}, n: 3, dsLen: 10, tracked: 100, qps: 30, maxConc: 8, distinctSeeds: true},
		// A replay deals the trace's positions: warmup (from the sample
		// order) apart, the tracked counts are the trace's first requests.
		{name: "replay whole trace with warmup", load: loadgen.Config{Mode: loadgen.ModeReplay, WarmupSamples: 4}, n: 3, dsLen: 10, warm: 4, tracked: 10},
		{name: "replay first requests capped", load: loadgen.Config{Mode: loadgen.ModeReplay, NumSamples: 5, MaxConcurrency: 7}, n: 3, dsLen: 100, tracked: 5, maxConc: 7},
		{name: "replay shorter than the fleet", load: loadgen.Config{Mode: loadgen.ModeReplay}, n: 4, dsLen: 3, tracked: 3, idle: 1},
		{name: "concurrency remainder", load: loadgen.Config{Mode: loadgen.ModeConcurrency, Concurrency: 11, Duration: time.Minute}, n: 3, dsLen: 10, conc: 11, durationPreserve: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parts, err := fleet.Split(tc.load, tc.dsLen, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			var warm, tracked, conc, inFlight, idle int
			var qps float64
			seeds := map[uint64]bool{}
			for i, p := range parts {
				if p.Load.Share == nil || p.Load.Share.Index != i || p.Load.Share.Of != tc.n {
					t.Errorf("part %d share %+v", i, p.Load.Share)
				}
				if err := p.Load.Validate(); err != nil && !p.Idle {
					t.Errorf("part %d: %v", i, err)
				}
				warm += p.Load.WarmupSamples
				tracked += p.Load.NumSamples
				conc += p.Load.Concurrency
				inFlight += p.Load.MaxInFlight
				qps += p.Load.TargetQPS
				if p.Idle {
					idle++
				}
				seeds[p.Load.Seed] = true
				if tc.phases != nil && p.Load.Share.Phase != tc.phases[i] {
					t.Errorf("part %d phase %v, want %v", i, p.Load.Share.Phase, tc.phases[i])
				}
				if tc.durationPreserve && p.Load.Duration != tc.load.Duration {
					t.Errorf("part %d duration %v", i, p.Load.Duration)
				}
			}
			for si, want := range tc.stageSums {
				sum := 0.0
				for _, p := range parts {
					sum += p.Load.Stages[si].QPS
					if q := p.Load.Stages[si].QPS; q != float64(int(q)) {
						t.Errorf("stage %d share %v is not a whole worker count", si, q)
					}
				}
				if sum != want {
					t.Errorf("stage %d shares sum to %v, want %v", si, sum, want)
				}
			}
			if tc.maxConc > 0 {
				sum := 0
				for _, p := range parts {
					sum += p.Load.MaxConcurrency
				}
				if sum != tc.maxConc {
					t.Errorf("max_concurrency shares sum to %d, want %d", sum, tc.maxConc)
				}
			}
			if warm != tc.warm || tracked != tc.tracked && !tc.durationPreserve {
				t.Errorf("warmup %d tracked %d, want %d and %d", warm, tracked, tc.warm, tc.tracked)
			}
			if tc.conc != 0 && conc != tc.conc {
				t.Errorf("concurrency sums to %d, want %d", conc, tc.conc)
			}
			if tc.inFlight != 0 && inFlight != tc.inFlight {
				t.Errorf("max in flight sums to %d, want %d", inFlight, tc.inFlight)
			}
			if tc.qps != 0 && (qps < tc.qps*0.999999 || qps > tc.qps*1.000001) {
				t.Errorf("rates sum to %v, want %v", qps, tc.qps)
			}
			if idle != tc.idle {
				t.Errorf("%d idle shares, want %d", idle, tc.idle)
			}
			if tc.distinctSeeds && len(seeds) != tc.n {
				t.Errorf("%d distinct seeds for %d poisson streams", len(seeds), tc.n)
			}
		})
	}
}

func TestSplit_Bad(t *testing.T) {
	for _, tc := range []struct {
		load loadgen.Config
		n    int
		want string
	}{
		{loadgen.Config{Mode: loadgen.ModeConcurrency, Concurrency: 2}, 3, "concurrency 2 is less than the fleet size 3"},
		{loadgen.Config{Mode: loadgen.ModeOffline, MaxInFlight: 2}, 3, "max_in_flight 2 is less than the fleet size 3"},
		{loadgen.Config{Mode: loadgen.ModeOffline}, 0, "fleet size 0"},
		{loadgen.Config{Mode: loadgen.ModeConcurrency, Stages: []loadgen.Stage{{QPS: 4, Duration: time.Second}, {QPS: 2, Duration: time.Second}}}, 3, "stages[1]: concurrency 2 is less than the fleet size 3"},
		{loadgen.Config{Mode: loadgen.ModePoisson, TargetQPS: 5, MaxConcurrency: 2}, 3, "max_concurrency 2 is less than the fleet size 3"},
		{loadgen.Config{Mode: "bursts"}, 2, `mode "bursts": a fleet run cannot split it`},
		{loadgen.Config{Mode: loadgen.ModeReplay, MaxConcurrency: 2}, 3, "max_concurrency 2 is less than the fleet size 3"},
	} {
		if _, err := fleet.Split(tc.load, 10, tc.n); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v over %d: %v, want %q", tc.load, tc.n, err, tc.want)
		}
	}
}
