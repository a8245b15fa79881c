// Package fleet runs one benchmark across many processes, usually on many
// hosts: workers issue the load, one coordinator aggregates. It is the
// seed's separation carried across machines: a worker is a load generator
// without an aggregator, the coordinator an aggregator (and run directory)
// without a load generator, and the coordinator publishes the workers'
// events on the run's bus (see bench.Runner.NewSource), so the aggregator,
// the event log and the report see exactly the stream one process would
// have produced.
//
// Channels. The coordinator binds one ZeroMQ ROUTER socket
// (--fleet-listen); each worker connects two DEALER sockets to it: the
// control channel (register, job, start, warmup done, track, done, stop,
// release, heartbeats both ways, clock pings) and the event channel
// (batches of records with a per-worker sequence number; a gap is
// reported, never silent; a full queue blocks the worker's sender rather
// than drop). Messages are msgpack (wire.go); every length read is bounded.
// Off loopback both channels use CURVE (package zcurve, applied through
// Options.Secure and WorkerOptions.Secure).
//
// A run. Workers register (a duplicate name, a full fleet and a worker
// arriving during a run are refused); when the fleet is full the
// coordinator splits the load ([Split]), sends each worker its job (the
// endpoint configuration, its share of the load, the samples it draws),
// estimates every worker's clock offset (NTP-style exchanges every 100 ms,
// the smallest round trip of the recent ones wins), and announces one start
// time for the warmup and, once every warmup event is in, one for the
// tracked phase; the coordinator itself publishes the session records. Per
// sample durations are the worker's own; each sample's records are shifted
// onto the coordinator's timeline by the offset in force when it was
// issued, which places rates and lateness on one clock without touching a
// duration.
//
// Faults. A worker silent for the timeout is lost: its in-flight samples
// are counted failed with the error class [ClassWorkerLost], and the run
// continues (the report says which worker, when, how many samples, and
// that the load was not delivered) or aborts ([OnLossAbort]). A worker
// whose coordinator goes silent stops issuing, cancels its requests and
// returns [ErrCoordinatorLost]. A coordinator whose consumer is slow or
// stalls (everything behind the run's bus) is neither: it stops reading
// the workers' events until there is room, ZeroMQ's queues fill and push
// back on the workers, and heartbeats and pings go on both ways.
package fleet
