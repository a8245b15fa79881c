package scrape

import (
	"bytes"
	"strings"
)

// Parsing a whole /metrics page with expfmt costs about 20 µs per family
// (it allocates a protobuf tree per sample); a vLLM page has a few hundred
// families, of which the table needs twenty. So the text is first cut down,
// line by line and without allocating per line, to the families the table
// knows: only those reach the parser. Histograms are most of what remains,
// and the summary reads them only at the window's ends (bucket deltas), so
// the other scrapes leave their series out too. An unknown server's page
// is cut to its first MaxUnknownSeries gauge, counter and untyped samples.

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

// histSeries are the names of a table family's histogram series (_bucket,
// _count, _sum), unless a table family has that name itself.
var histSeries = func() map[string]bool {
	m := map[string]bool{}
	for _, f := range Families {
		for _, s := range []string{"_bucket", "_count", "_sum"} {
			if _, ok := byName[f.Name+s]; !ok {
				m[f.Name+s] = true
			}
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
// (comments and samples), in order, histogram series only withHists; dst is
// reused. (A histogram left without series is dropped by the parser.)
func prefilter(dst, body []byte, withHists bool) []byte {
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
		n := name[:end]
		if end == 0 || sampleNames[string(n)] && (withHists || !histSeries[string(n)]) {
			dst = append(dst, line...)
		}
	}
	return dst
}

// maxSkipped bounds the histogram and summary names prefilterUnknown
// remembers (a hostile page may declare millions).
const maxSkipped = 4096

// prefilterUnknown cuts an unknown server's page to its gauges, counters
// and untyped samples (no histogram, summary or _created series), at most
// MaxUnknownSeries sample lines with their comments, so that parsing costs
// the same whatever the page's size.
func prefilterUnknown(dst, body []byte) []byte {
	dst = dst[:0]
	skip := map[string]bool{}
	for line := range bytes.Lines(body) {
		rest, ok := bytes.CutPrefix(line, []byte("# TYPE "))
		if !ok || len(skip) >= maxSkipped {
			continue
		}
		fields := bytes.Fields(rest)
		if len(fields) == 2 {
			switch string(fields[1]) {
			case "histogram", "summary", "gaugehistogram":
				skip[string(fields[0])] = true
			}
		}
	}
	samples := 0
	for line := range bytes.Lines(body) {
		name, comment := line, false
		if rest, ok := bytes.CutPrefix(line, []byte("# ")); ok {
			_, after, found := bytes.Cut(rest, []byte(" "))
			if !found {
				continue
			}
			name, comment = after, true
		}
		end := bytes.IndexAny(name, "{ \t\n")
		if end < 0 {
			end = len(name)
		}
		n := string(name[:end])
		if end == 0 || skip[n] || strings.HasSuffix(n, "_created") {
			continue
		}
		if !comment {
			base := n
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				if b, ok := strings.CutSuffix(n, suf); ok {
					base = b
					break
				}
			}
			if skip[base] {
				continue
			}
			if samples++; samples > MaxUnknownSeries {
				break
			}
		}
		dst = append(dst, line...)
	}
	return dst
}
