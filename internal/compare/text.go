package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteText writes the comparison as a table: one row per figure, the
// baseline's value, then for each later run its value, its delta and
// relative delta, and "*" when the delta is significant.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	for i, label := range r.Runs {
		fmt.Fprintf(&b, "%s = %s\n", runName(i), label)
	}
	b.WriteString("\n")
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := []string{"metric", "unit", runName(0)}
	for i := 1; i < len(r.Runs); i++ {
		n := runName(i)
		head = append(head, n, "Δ "+n, "Δ% "+n, "")
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, row := range r.Rows {
		cols := []string{row.Name, row.Unit, num(row.Cells[0].Value)}
		for _, c := range row.Cells[1:] {
			mark := ""
			if c.Significant {
				mark = "*"
			}
			cols = append(cols, num(c.Value), signed(c.Delta), pct(c.RelDelta), mark)
		}
		fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for l := range strings.Lines(table.String()) {
		b.WriteString(strings.TrimRight(l, " \n") + "\n")
	}
	fmt.Fprintf(&b, "\n* significant: the %s.\n", r.Rule)
	for _, g := range r.Regressions {
		fmt.Fprintf(&b, "REGRESSION %s: %s is %s worse than %s (%s vs %s; allowed %s)\n",
			g.Bound, g.Run, strings.TrimPrefix(pct(absV(g.RelDelta)), "+"), r.Runs[0], num(g.Value), num(g.Baseline), strconv.FormatFloat(g.Limit*100, 'f', -1, 64)+"%")
	}
	if len(r.Bounds) > 0 && r.Pass {
		fmt.Fprintf(&b, "no regression beyond %s\n", strings.Join(r.Bounds, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the comparison as indented JSON.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// runName is the column name of run i: A, B, C…, then R27, R28….
func runName(i int) string {
	if i < 26 {
		return string(rune('A' + i))
	}
	return "R" + strconv.Itoa(i+1)
}

func absV(v Value) Value { return Value(math.Abs(float64(v))) }

func num(v Value) string {
	if !v.Valid() {
		return "N/A"
	}
	return strconv.FormatFloat(float64(v), 'f', decimals(float64(v)), 64)
}

func signed(v Value) string {
	if !v.Valid() {
		return "N/A"
	}
	s := num(v)
	if v >= 0 {
		s = "+" + s
	}
	return s
}

func pct(v Value) string {
	switch {
	case math.IsInf(float64(v), 1):
		return "+inf%"
	case math.IsInf(float64(v), -1):
		return "-inf%"
	case !v.Valid():
		return "N/A"
	}
	return fmt.Sprintf("%+.1f%%", float64(v)*100)
}

// decimals keeps about four significant figures.
func decimals(f float64) int {
	a := math.Abs(f)
	switch {
	case a == 0 || a >= 1000:
		return 0
	case a >= 100:
		return 1
	case a >= 10:
		return 2
	case a >= 1:
		return 3
	}
	return 4
}
