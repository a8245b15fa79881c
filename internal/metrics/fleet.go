package metrics

import (
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// FleetWorker is one worker's live counters in a fleet run's snapshots:
// what the fleet table of the dashboard and `inferbench watch` shows. The
// counters cover warmup and tracked samples alike.
type FleetWorker struct {
	Name                      string
	Issued, Completed, Failed int64
	InFlight                  int64
	QPS                       float64 // completions per second since the start
	LatenessP99NS             int64   // scheduler lateness, recent samples
	Lost                      bool
	// ClockOffsetNS is the coordinator's estimate of the worker's clock
	// offset (worker − coordinator) and ClockUncertaintyNS its
	// uncertainty; an uncertainty of 0 means no estimate yet (a real one is
	// at least 1 ns).
	ClockOffsetNS, ClockUncertaintyNS int64
}

// appendFleet writes the fleet section: the optional 6th element of the
// snapshot array, present only in fleet runs (so the 5-element form of
// every other run is unchanged; nil when only the 7th, the server gauges,
// follows), an array of
// [name, issued, completed, failed, in_flight, qps, lateness_p99_ns, lost,
// clock_offset_ns, clock_uncertainty_ns] (the last two added later: a
// decoder takes 8 fields as no clock estimate).
func appendFleet(b []byte, ws []FleetWorker) []byte {
	b = msgp.AppendArrayHeader(b, uint32(len(ws)))
	for i := range ws {
		w := &ws[i]
		b = msgp.AppendArrayHeader(b, fleetWorkerFields)
		b = msgp.AppendString(b, w.Name)
		b = msgp.AppendInt64(b, w.Issued)
		b = msgp.AppendInt64(b, w.Completed)
		b = msgp.AppendInt64(b, w.Failed)
		b = msgp.AppendInt64(b, w.InFlight)
		b = msgp.AppendFloat64(b, w.QPS)
		b = msgp.AppendInt64(b, w.LatenessP99NS)
		b = msgp.AppendBool(b, w.Lost)
		b = msgp.AppendInt64(b, w.ClockOffsetNS)
		b = msgp.AppendInt64(b, w.ClockUncertaintyNS)
	}
	return b
}

// fleetWorkerFields is how many fields a FleetWorker has on the wire.
const fleetWorkerFields = 10

// minFleetWorkerBytes is the smallest encoding of a FleetWorker.
const minFleetWorkerBytes = 1 + 1 + 6 + 9 + 1

// decodeFleet reads the fleet section; lengths are checked before anything
// is allocated, the clock fields are optional, and fields after the 10th
// are skipped.
func decodeFleet(p []byte) ([]FleetWorker, []byte, error) {
	n, p, err := msgp.ReadArrayHeaderBytes(p)
	if err != nil {
		return nil, p, err
	}
	if err := fits(n, minFleetWorkerBytes, p); err != nil {
		return nil, p, err
	}
	out := make([]FleetWorker, n)
	for i := range out {
		w := &out[i]
		var f uint32
		if f, p, err = msgp.ReadArrayHeaderBytes(p); err != nil {
			return nil, p, err
		}
		if f < 8 {
			return nil, p, fmt.Errorf("fleet worker of %d fields", f)
		}
		if w.Name, p, err = msgp.ReadStringBytes(p); err != nil {
			return nil, p, err
		}
		for _, dst := range []*int64{&w.Issued, &w.Completed, &w.Failed, &w.InFlight} {
			if *dst, p, err = msgp.ReadInt64Bytes(p); err != nil {
				return nil, p, err
			}
		}
		if w.QPS, p, err = msgp.ReadFloat64Bytes(p); err != nil {
			return nil, p, err
		}
		if w.LatenessP99NS, p, err = msgp.ReadInt64Bytes(p); err != nil {
			return nil, p, err
		}
		if w.Lost, p, err = msgp.ReadBoolBytes(p); err != nil {
			return nil, p, err
		}
		known := uint32(8)
		if f >= fleetWorkerFields {
			for _, dst := range []*int64{&w.ClockOffsetNS, &w.ClockUncertaintyNS} {
				if *dst, p, err = msgp.ReadInt64Bytes(p); err != nil {
					return nil, p, err
				}
			}
			known = fleetWorkerFields
		}
		if p, err = skipFields(p, f, known); err != nil {
			return nil, p, err
		}
	}
	return out, p, nil
}
