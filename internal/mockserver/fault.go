package mockserver

// Fault is a kind of injected fault; see [FaultRates] for what each does.
type Fault uint8

// Fault kinds, indexes of Stats.Faults.
const (
	// FaultNone is a normal answer.
	FaultNone Fault = iota
	// FaultHTTP429 is an injected 429 Too Many Requests.
	FaultHTTP429
	// FaultHTTP500 is an injected 500 Internal Server Error.
	FaultHTTP500
	// FaultReset is a connection closed with TCP RST.
	FaultReset
	// FaultTruncate is a response cut short.
	FaultTruncate
	// FaultMalformed is a chunk or body that is not JSON.
	FaultMalformed
	// FaultStall is a response that stops without ending.
	FaultStall
	numFaults
)

var faultNames = [numFaults]string{"none", "http_429", "http_500", "reset", "truncate", "malformed", "stall"}

// String returns the fault's YAML name under "faults" ("http_429", "stall", ...).
func (f Fault) String() string {
	if f < numFaults {
		return faultNames[f]
	}
	return "unknown"
}

// Stats counts what a [Server] did since [New]. It is a copy; fields do not
// change after [Server.Stats] returns.
type Stats struct {
	// Requests is the number of completion requests received (both APIs),
	// including malformed and faulted ones.
	Requests uint64
	// BadRequests is the number answered 4xx for bad input (not injected).
	BadRequests uint64
	// Faults counts injected faults by kind, indexed by [Fault];
	// Faults[FaultNone] stays 0.
	Faults [numFaults]uint64
}

// TotalFaults returns the number of injected faults of all kinds.
func (s Stats) TotalFaults() uint64 {
	var n uint64
	for _, v := range s.Faults {
		n += v
	}
	return n
}

// pickFault maps u in [0, 1) onto the cumulative fault rates.
func pickFault(rates *[numFaults]float64, u float64) Fault {
	acc := 0.0
	for f := FaultHTTP429; f < numFaults; f++ {
		acc += rates[f]
		if u < acc {
			return f
		}
	}
	return FaultNone
}
