// Package metrics holds the registry of counters and series that the
// aggregator folds events into, and the snapshots it publishes.
//
// A [Counter] is an integer or float value. A [Series] keeps three views of
// every recorded value: exact rollups (count, total, min, max, sum of squares;
// integer series accumulate total and sum of squares in 128 bits so nothing
// overflows or rounds), an HDR histogram (3 significant figures by default) for
// cheap live percentiles, and the raw values for exact final percentiles.
// Raw values stay in memory unless [Registry.EnableSpill] makes the series
// spill them, a block at a time, to per-series files through a background
// writer: memory then stays bounded, and the terminal snapshot selects its
// exact order statistics from the files, guided by the HDR view (see
// select.go). [RecomputeRaw] recomputes a series from its file later.
//
// [Registry.Snapshot] turns the registry into a [Snapshot]. Live snapshots
// (states live, draining) carry HDR percentiles, read from the HDR buckets
// in use only and reused for a series that recorded nothing since the last
// snapshot, so that a short publish interval stays cheap; terminal ones (complete,
// interrupted) carry exact percentiles: the observed value at sorted index
// ⌊(n−1)·p/100⌋, never interpolated. Each series also carries a histogram of
// [DefaultBuckets] log-spaced buckets over its observed range, recomputed for
// every snapshot, so consumers re-render from (lo, hi, count) each frame.
//
// Two encodings exist. The wire form ([AppendSnapshot], [SnapshotCodec]) is
// msgpack, array-encoded, compatible with the Python tool:
//
//	[counter, timestamp_ns, state, n_pending_tasks, [metric, ...]]
//	counter metric: ["counter", name, value]
//	series metric:  ["series", name, count, total, min, max, sum_sq,
//	                 {"99.9": v, ..., "1.0": v}, [[[lo, hi], count], ...]
//	                 (, nil, true: approximate, appended only when set; the
//	                 10th field is the Python tool's early_stopping_percentiles)]
//
// sent under topic "MET" NUL-padded to 40 bytes. The dict form
// ([Snapshot.MarshalJSON], [ParseJSON]) is the final_snapshot.json file and the
// report's input:
//
//	{"counter", "timestamp_ns", "state", "n_pending_tasks",
//	 "metrics": [{"type":"counter","name","value"} |
//	             {"type":"series","name","count","total","min","max","sum_sq",
//	              "percentiles":{...},"histogram":[[[lo,hi],count],...]
//	              (,"approximate":true only when set)}]}
//
// with NaN and ±Inf written as null and integers written exactly.
//
// The metric dictionary ([Dictionary], [Lookup], dictionary.go) is the one
// table of the names the aggregator registers and the consumers read, with
// each one's kind, unit, title, dashboard label and help; [RatesOf] holds the
// QPS and TPS formulas and [InFlight] the in-flight count. A new metric gets
// its constant and its table entry there; a test fails when a consumer
// package names a metric the dictionary does not know.
//
// A terminal series with exact values also carries, for each percentile, a
// distribution-free 95 % confidence interval ([CIRanks]: the order
// statistics whose binomial mass between them is at least 95 %) and, for
// tail-latency series (SeriesOpts.EarlyStopping), MLPerf LoadGen's
// early-stopping estimate ([ESRank]): "percentile_ci95":{key:[lo,hi]} and
// "early_stopping_percentiles":{key:v} in the dict form, appended fields 10
// to 12 on the wire; null where the samples are too few. Both are more ranks
// of the same sorted values, selected with the percentiles.
//
// A Registry and its samplers belong to one goroutine (the aggregator's); they
// are not safe for concurrent use. Snapshots are values and may be shared.
package metrics
