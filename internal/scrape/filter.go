package scrape

import (
	"bytes"
	"strings"
)

// Parsing a whole /metrics page with expfmt costs about 40 µs per family
// (it allocates a protobuf tree per sample); a vLLM page has a few hundred
// families, of which the table needs twenty. So the text is first cut down,
// line by line and without allocating per line, to the families the table
// knows: only those reach the parser. An unknown server's page is parsed
// whole (its gauges and counters are kept, capped).

// sampleNames are the names a table family's lines may carry: the family
// itself (gauges, counters as exposed with _total), a counter's name
// without _total (OpenMetrics TYPE lines), and a histogram's series.
var sampleNames = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range Families {
		for _, s := range []string{"", "_bucket", "_count", "_sum"} {
			m[f.Name+s] = true
		}
		if base, ok := strings.CutSuffix(f.Name, "_total"); ok {
			m[base] = true
		}
	}
	return m
}()

// familyNames returns the names of the families a page declares in its
// TYPE lines (for Detect), without parsing it.
func familyNames(body []byte) []string {
	var names []string
	for line := range bytes.Lines(body) {
		if rest, ok := bytes.CutPrefix(line, []byte("# TYPE ")); ok {
			if i := bytes.IndexAny(rest, " \t\n"); i > 0 {
				names = append(names, string(rest[:i]))
			}
		}
	}
	return names
}

// prefilter keeps the lines of body that belong to families of the table
// (comments and samples), in order; dst is reused.
func prefilter(dst, body []byte) []byte {
	dst = dst[:0]
	for line := range bytes.Lines(body) {
		name := line
		if rest, ok := bytes.CutPrefix(line, []byte("# ")); ok {
			// # HELP name … / # TYPE name …; other comments go.
			_, after, found := bytes.Cut(rest, []byte(" "))
			if !found {
				continue
			}
			name = after
		}
		end := bytes.IndexAny(name, "{ \t\n")
		if end < 0 {
			end = len(name)
		}
		// A quoted UTF-8 name ({"name",…}) is kept: the parser decides.
		if end == 0 || sampleNames[string(name[:end])] {
			dst = append(dst, line...)
		}
	}
	return dst
}
