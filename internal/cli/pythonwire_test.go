package cli_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
)

// pythonFrames reads testdata/python-wire/frames.jsonl: the ZeroMQ frames one
// real run of the Python tool published (see testdata/python-wire/README.md).
func pythonFrames(t *testing.T, stream string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "python-wire", "frames.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	var out [][]byte
	for sc.Scan() {
		var line struct {
			Stream string `json:"stream"`
			Frame  string `json:"frame_b64"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if line.Stream != stream {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(line.Frame)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no %s frames in frames.jsonl", stream)
	}
	return out
}

// snapshotJSON is the dict form of a snapshot, with every number kept exact.
type snapshotJSON struct {
	State   string `json:"state"`
	Metrics []struct {
		Type        string                 `json:"type"`
		Name        string                 `json:"name"`
		Value       json.Number            `json:"value"`
		Count       json.Number            `json:"count"`
		Total       json.Number            `json:"total"`
		Min         json.Number            `json:"min"`
		Max         json.Number            `json:"max"`
		SumSq       json.Number            `json:"sum_sq"`
		Percentiles map[string]json.Number `json:"percentiles"`
		Histogram   [][]json.RawMessage    `json:"histogram"`
	} `json:"metrics"`
}

func readSnapshotJSON(t *testing.T, path string) snapshotJSON {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var s snapshotJSON
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// sameNumber compares two JSON numbers exactly, whatever their spelling
// ("150", "150.0", "1.5e2").
func sameNumber(a, b json.Number) bool {
	x, okx := new(big.Rat).SetString(string(a))
	y, oky := new(big.Rat).SetString(string(b))
	return okx && oky && x.Cmp(y) == 0
}

// TestAggregate_PythonToolFrames feeds the event frames of a real run of the
// Python tool (its current record layout) over ZeroMQ to `inferbench
// aggregate`, a separate process, with a few hostile frames among them, and
// checks that the final snapshot equals the one the Python tool's own
// aggregator wrote for that run: every counter, and every series' count,
// total, min, max, sum of squares, exact percentiles and histogram counts
// (edges to 1e-12, see below). Counters of the Python tool's current version
// that inferbench does not compute are listed with the reason.
// The hostile frames are counted as bad frames and change nothing else.
func TestAggregate_PythonToolFrames(t *testing.T) {
	frames := pythonFrames(t, "events")
	dir := shortDir(t)
	addr := "ipc://" + filepath.Join(dir, "ev.sock")
	runDir := filepath.Join(dir, "run")
	pub, err := zmq.NewSocket(zmq.XPUB)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for _, err := range []error{pub.SetLinger(-1), pub.SetRcvtimeo(30 * time.Second), pub.Bind(addr)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	c := startInferbench(t, "aggregate", "--events", addr, "--out", runDir, "--publish-interval", "50ms")
	if _, err := pub.RecvBytes(0); err != nil {
		t.Fatalf("aggregate never subscribed: %v\n%s", err, c.stderr.String())
	}
	frame := func(topic string, body []byte) []byte {
		pad := event.PadTopic(topic)
		return append(pad[:], body...)
	}
	hostile := [][]byte{
		// A batch claiming 0xffffffff payloads.
		frame(event.BatchTopic, []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc4, 0x01, 0x00}),
		// An issued record whose token_ids claim 0xffffffff elements.
		frame("sample.issued", append([]byte("\x82\xaaevent_type\xadsample.issued\xa4data\x93\xaaPromptData\xc0"),
			0xdd, 0xff, 0xff, 0xff, 0xff)),
		// Not msgpack at all.
		frame("sample.complete", []byte{0xc1, 0xc1, 0xc1}),
	}
	// The hostile frames go in before session.ended, the last frame.
	for _, f := range append(append(frames[:len(frames)-1:len(frames)-1], hostile...), frames[len(frames)-1]) {
		if _, err := pub.SendBytes(f, 0); err != nil {
			t.Fatal(err)
		}
	}
	if code := c.wait(t, 60*time.Second); code != 0 {
		t.Fatalf("aggregate exited %d\nstderr:\n%s", code, c.stderr.String())
	}
	if !strings.Contains(c.stderr.String(), "skipped 3 bad frames") {
		t.Errorf("stderr does not report the 3 bad frames:\n%s", c.stderr.String())
	}

	want := readSnapshotJSON(t, filepath.Join("testdata", "python-wire", "final_snapshot.json"))
	got := readSnapshotJSON(t, filepath.Join(runDir, "metrics", "final_snapshot.json"))
	if got.State != want.State {
		t.Errorf("state %s, the Python tool's %s", got.State, want.State)
	}
	// Counters of the Python tool's current version that inferbench does not
	// compute yet, and why.
	notComputed := map[string]string{
		// The Python tool's optional legacy-LoadGen QPS window (first tracked
		// issue to the completion of the last-issued sample) for poisson runs.
		"legacy_loadgen_window_duration_ns": "inferbench has no legacy-LoadGen QPS window",
	}
	ours := map[string]int{}
	for i, m := range got.Metrics {
		ours[m.Name] = i
	}
	if n, ok := ours[metrics.BadFrames]; !ok || got.Metrics[n].Value != "3" {
		t.Errorf("bad_frames counter missing or not 3 in the final snapshot")
	}
	for _, w := range want.Metrics {
		i, ok := ours[w.Name]
		if !ok {
			if _, known := notComputed[w.Name]; !known {
				t.Errorf("the Python tool's %s %s is missing from inferbench's snapshot", w.Type, w.Name)
			}
			continue
		}
		if why, listed := notComputed[w.Name]; listed {
			t.Errorf("%s is computed now: remove it from notComputed (%q)", w.Name, why)
		}
		g := got.Metrics[i]
		if g.Type != w.Type {
			t.Errorf("%s is a %s, the Python tool's a %s", w.Name, g.Type, w.Type)
			continue
		}
		if w.Type == "counter" {
			if !sameNumber(g.Value, w.Value) {
				t.Errorf("counter %s = %s, the Python tool's %s", w.Name, g.Value, w.Value)
			}
			continue
		}
		for _, f := range []struct {
			name   string
			gv, wv json.Number
		}{{"count", g.Count, w.Count}, {"total", g.Total, w.Total}, {"min", g.Min, w.Min},
			{"max", g.Max, w.Max}, {"sum_sq", g.SumSq, w.SumSq}} {
			if !sameNumber(f.gv, f.wv) {
				t.Errorf("series %s %s = %s, the Python tool's %s", w.Name, f.name, f.gv, f.wv)
			}
		}
		if len(g.Percentiles) != len(w.Percentiles) {
			t.Errorf("series %s: %d percentiles, the Python tool's %d", w.Name, len(g.Percentiles), len(w.Percentiles))
		}
		for k, wv := range w.Percentiles {
			if gv, ok := g.Percentiles[k]; !ok || !sameNumber(gv, wv) {
				t.Errorf("series %s p%s = %q, the Python tool's %s", w.Name, k, gv, wv)
			}
		}
		if len(g.Histogram) != len(w.Histogram) {
			t.Errorf("series %s: %d histogram buckets, the Python tool's %d", w.Name, len(g.Histogram), len(w.Histogram))
			continue
		}
		// Bucket counts are equal. Edges agree to a few ulps, not to the bit:
		// both compute edge i as exp(ln lo + i·(ln hi − ln lo)/n), but Go's
		// math.Exp and math.Log round differently from numpy's in the last
		// bit, and inferbench pins the first and last edges to lo and hi
		// exactly where numpy gives e.g. 542729.0000000005 for lo = 542729.
		for j := range w.Histogram {
			if string(g.Histogram[j][1]) != string(w.Histogram[j][1]) {
				t.Errorf("series %s bucket %d holds %s, the Python tool's %s", w.Name, j, g.Histogram[j][1], w.Histogram[j][1])
			}
			var ge, we [2]float64
			if json.Unmarshal(g.Histogram[j][0], &ge) != nil || json.Unmarshal(w.Histogram[j][0], &we) != nil {
				t.Fatalf("series %s bucket %d: edges %s and %s", w.Name, j, g.Histogram[j][0], w.Histogram[j][0])
			}
			for k := range ge {
				if math.Abs(ge[k]-we[k]) > 1e-12*math.Abs(we[k]) {
					t.Errorf("series %s bucket %d edge %d = %v, the Python tool's %v", w.Name, j, k, ge[k], we[k])
				}
			}
		}
	}
}
