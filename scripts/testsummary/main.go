// Command testsummary reads `go test -json` on stdin and prints what a
// reader of scripts/test.sh needs: each package's ok/FAIL line, the full
// output of failed tests, build errors, every skipped test with its reason,
// and a closing "tests: N passed, N failed, N skipped" line. It exits 1 when a
// test or package failed or when a test skipped: on a clone of this
// repository nothing may skip, so a skip means a fixture or a dependency is
// missing. -allow-skip lists skips without failing (for -short runs).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output events
	Test       string
	Output     string
}

type counts struct {
	// failed counts failed tests, plus packages that failed without a failed
	// test (a build error, a panic outside a test, a timeout).
	passed, failed, skipped int
	skips                   []string
}

func main() {
	allowSkip := flag.Bool("allow-skip", false, "list skipped tests but do not fail because of them")
	flag.Parse()
	c, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if c.skipped > 0 && !*allowSkip {
		fmt.Printf("\n%d tests skipped; scripts/test.sh allows none (a skip means a missing fixture or dependency):\n", c.skipped)
		for _, s := range c.skips {
			fmt.Println("  " + s)
		}
	}
	fmt.Printf("tests: %d passed, %d failed, %d skipped\n", c.passed, c.failed, c.skipped)
	if c.failed > 0 || (c.skipped > 0 && !*allowSkip) {
		os.Exit(1)
	}
}

// summarize streams the report of the events read from r to w.
func summarize(r io.Reader, w io.Writer) (counts, error) {
	var c counts
	buffered := map[string][]string{} // package + test -> output lines so far
	testFailed := map[string]bool{}   // packages with a failed test
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			// go test prints some errors (e.g. a bad flag) as plain text.
			fmt.Fprintln(w, string(line))
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(w, e.Output)
		case e.Test == "" && e.Action == "output":
			if e.Output != "PASS\n" && !strings.HasPrefix(e.Output, "=== ") {
				fmt.Fprint(w, e.Output)
			}
		case e.Test == "" && e.Action == "fail":
			if !testFailed[e.Package] {
				c.failed++
			}
		case e.Test == "":
		case e.Action == "output":
			if !strings.HasPrefix(e.Output, "=== ") {
				buffered[key] = append(buffered[key], e.Output)
			}
		case e.Action == "pass":
			c.passed++
			delete(buffered, key)
		case e.Action == "fail":
			c.failed++
			testFailed[e.Package] = true
			fmt.Fprint(w, strings.Join(buffered[key], ""))
			delete(buffered, key)
		case e.Action == "skip":
			c.skipped++
			// The "--- SKIP" line comes last; print it first, with the
			// package, and the reason under it.
			var head, reason []string
			for _, l := range buffered[key] {
				if strings.HasPrefix(strings.TrimSpace(l), "--- SKIP") {
					head = append(head, strings.TrimSuffix(l, "\n")+" in "+e.Package+"\n")
				} else {
					reason = append(reason, l)
				}
			}
			fmt.Fprint(w, strings.Join(head, "")+strings.Join(reason, ""))
			c.skips = append(c.skips, e.Test+" in "+e.Package)
			delete(buffered, key)
		}
	}
	return c, sc.Err()
}
