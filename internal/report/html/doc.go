// Package html renders inferbench's reports as self-contained web pages:
// one report.html per run directory ([RenderRun], [WriteRunDir]), one per
// sweep directory ([RenderSweep], [WriteSweepDir]) and the page of a
// comparison ([RenderCompare], [RenderCompareSweeps]).
//
// A page is one file: inline SVG charts, inline CSS with system fonts, and a
// few lines of vanilla JavaScript (sortable tables, and a status attribute
// on <body> that a browser test reads). It refers to nothing outside itself;
// [CheckSelfContained] states the rule and the tests hold every page to it.
// Text from users and files (endpoints, model names, warnings) is escaped,
// with its colons written as character references, so that the file's bytes
// never hold a URL scheme.
//
// A run's page is built from its report (internal/report: percentiles with
// confidence intervals, histograms, the verdict), its configuration and its
// time series (metrics/timeseries.jsonl); it shows what it has and says what
// is missing. The time series is read line by line, each curve held in
// bounded memory (the lowest and highest of ever larger groups of points)
// and downsampled to [MaxTimePoints] points (largest-triangle-three-buckets,
// which keeps peaks), so a page stays a few hundred kilobytes, and its
// making a few megabytes of memory, whatever the run's length.
//
// A sweep's page reads sweep.json, the file internal/sweep writes (not that
// package: sweep drives bench, which writes every run's page with this
// one), and the SLOs of its first point's config.yaml. It marks the knee
// ([FindKnee]):
//
//   - for a search (--search), the rate it found;
//   - when the points carry SLO verdicts, the point of highest achieved QPS
//     that met every SLO (the highest load the server sustains within its
//     targets); none when no point met them;
//   - otherwise the point of maximum curvature of TTFT p99 (latency p99 when
//     there is no TTFT) against achieved QPS: with both axes scaled to
//     [0, 1] over the points, the point farthest below the chord from the
//     first point to the last, where the flat part of the curve turns into
//     its steep rise; none with fewer than three points.
//
// Rendering is a pure function of its input: safe for concurrent use.
package html
