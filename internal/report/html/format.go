package html

import (
	"math"
	"strconv"
	"strings"

	"github.com/inferbench/inferbench/internal/verdict"
)

// fmtNum shows a number with about three significant figures, with k/M
// suffixes for large ones.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return "N/A"
	case a == 0:
		return "0"
	case a >= 1e9:
		return trimZeros(strconv.FormatFloat(v/1e9, 'f', 2, 64)) + "G"
	case a >= 1e6:
		return trimZeros(strconv.FormatFloat(v/1e6, 'f', 2, 64)) + "M"
	case a >= 1e4:
		return trimZeros(strconv.FormatFloat(v/1e3, 'f', 1, 64)) + "k"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return trimZeros(strconv.FormatFloat(v, 'f', 1, 64))
	case a >= 1:
		return trimZeros(strconv.FormatFloat(v, 'f', 2, 64))
	case a >= 0.001:
		return trimZeros(strconv.FormatFloat(v, 'f', 3+int(-math.Floor(math.Log10(a)))-1, 64))
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// durText shows nanoseconds as ms, s or µs.
func durText(ns float64) string {
	switch {
	case !finite(ns):
		return "N/A"
	case math.Abs(ns) >= 1e9:
		return fmtNum(ns/1e9) + " s"
	case math.Abs(ns) < 1e5:
		return fmtNum(ns/1e3) + " µs"
	}
	return fmtNum(ns/1e6) + " ms"
}

func pctText(f float64) string {
	if !finite(f) {
		return "N/A"
	}
	return trimZeros(strconv.FormatFloat(100*f, 'f', 2, 64)) + "%"
}

// unitText shows an SLO value in its unit.
func unitText(v float64, u verdict.Unit) string {
	switch u {
	case verdict.UnitNS:
		return durText(v)
	case verdict.UnitRatio:
		return pctText(v)
	case verdict.UnitPerSec:
		return fmtNum(v) + "/s"
	case verdict.UnitTokens:
		return fmtNum(v) + " tokens"
	}
	return fmtNum(v)
}
