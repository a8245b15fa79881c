package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	const pkg = `"Package":"p"`
	tests := []struct {
		name                    string
		events                  []string
		passed, failed, skipped int
		out                     []string // lines the report must contain
		notOut                  []string // and must not
	}{
		{
			name: "pass, skip and a failing subtest",
			events: []string{
				`{"Action":"run",` + pkg + `,"Test":"TestA"}`,
				`{"Action":"output",` + pkg + `,"Test":"TestA","Output":"=== RUN   TestA\n"}`,
				`{"Action":"output",` + pkg + `,"Test":"TestA","Output":"    a_test.go:3: chatter\n"}`,
				`{"Action":"pass",` + pkg + `,"Test":"TestA"}`,
				`{"Action":"output",` + pkg + `,"Test":"TestB","Output":"    b_test.go:4: fixture x not found\n"}`,
				`{"Action":"output",` + pkg + `,"Test":"TestB","Output":"--- SKIP: TestB (0.00s)\n"}`,
				`{"Action":"skip",` + pkg + `,"Test":"TestB"}`,
				`{"Action":"output",` + pkg + `,"Test":"TestC/s","Output":"    c_test.go:5: boom\n"}`,
				`{"Action":"fail",` + pkg + `,"Test":"TestC/s"}`,
				`{"Action":"fail",` + pkg + `,"Test":"TestC"}`,
				`{"Action":"output",` + pkg + `,"Output":"FAIL\tp\t0.1s\n"}`,
				`{"Action":"fail",` + pkg + `}`,
			},
			passed: 1, failed: 2, skipped: 1,
			out:    []string{"--- SKIP: TestB (0.00s) in p", "fixture x not found", "c_test.go:5: boom", "FAIL\tp\t0.1s"},
			notOut: []string{"chatter", "=== RUN"},
		},
		{
			name: "a build failure counts as a failure",
			events: []string{
				`{"ImportPath":"p [p.test]","Action":"build-output","Output":"./x.go:2:12: undefined: y\n"}`,
				`{"Action":"output",` + pkg + `,"Output":"FAIL\tp [build failed]\n"}`,
				`{"Action":"fail",` + pkg + `}`,
			},
			failed: 1,
			out:    []string{"undefined: y", "FAIL\tp [build failed]"},
		},
		{
			name: "plain text from go test is passed through",
			events: []string{
				`go: unknown flag -bogus`,
				`{"Action":"output",` + pkg + `,"Output":"ok  \tp\t0.2s\n"}`,
				`{"Action":"pass",` + pkg + `}`,
			},
			out: []string{"go: unknown flag -bogus", "ok  \tp\t0.2s"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			c, err := summarize(strings.NewReader(strings.Join(tc.events, "\n")+"\n"), &out)
			if err != nil {
				t.Fatal(err)
			}
			if c.passed != tc.passed || c.failed != tc.failed || c.skipped != tc.skipped {
				t.Errorf("passed %d failed %d skipped %d; want %d %d %d", c.passed, c.failed, c.skipped, tc.passed, tc.failed, tc.skipped)
			}
			for _, s := range tc.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("report lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tc.notOut {
				if strings.Contains(out.String(), s) {
					t.Errorf("report has %q:\n%s", s, out.String())
				}
			}
		})
	}
}
