package cli_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
)

// TestWatch_HostileFrames sends `inferbench watch` (a real child process)
// snapshot frames whose lengths claim 0xffffffff elements (a 50-byte one used
// to kill it with "out of memory"), then a valid terminal snapshot: watch
// skips the bad frames, says how many it skipped, and ends with the report.
func TestWatch_HostileFrames(t *testing.T) {
	dir := shortDir(t)
	addr := "ipc://" + filepath.Join(dir, "metrics.sock")
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
	c := startInferbench(t, "watch", "--no-tui", "--every", "0", addr)
	if _, err := pub.RecvBytes(0); err != nil {
		t.Fatalf("watch never subscribed: %v\n%s", err, c.stderr.String())
	}
	frame := func(body []byte) []byte {
		pad := event.PadTopic(metrics.SnapshotTopic)
		return append(pad[:], body...)
	}
	head := []byte{0x95, 0x01, 0x02, 0xa4, 'l', 'i', 'v', 'e', 0x00}
	hostile := [][]byte{
		frame(append(append([]byte(nil), head...), 0xdd, 0xff, 0xff, 0xff, 0xff, 0x93)),                                                                     // 0xffffffff metrics
		frame(append(append([]byte(nil), head...), 0x91, 0xdd, 0xff, 0xff, 0xff, 0xff)),                                                                     // a metric of 0xffffffff fields
		frame(append(append([]byte(nil), head...), 0x91, 0x99, 0xa6, 's', 'e', 'r', 'i', 'e', 's', 0xa1, 'x', 1, 1, 1, 1, 1, 0xdf, 0xff, 0xff, 0xff, 0xff)), // 0xffffffff percentiles
	}
	final := metrics.Snapshot{Counter: 9, TimestampNS: 5, State: metrics.StateComplete, Metrics: []metrics.Metric{
		{Kind: metrics.KindCounter, Name: "tracked_samples_completed", Value: metrics.Int(3)},
	}}
	// Snapshots are conflated: pace the frames so that each is read.
	for _, f := range append(hostile, frame(metrics.AppendSnapshot(nil, &final))) {
		if _, err := pub.SendBytes(f, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code := c.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("watch exited %d\nstdout:\n%s\nstderr:\n%s", code, c.stdout.String(), c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "run ended: complete") {
		t.Errorf("no end of run in the output:\n%s", c.stdout.String())
	}
	// Conflation may replace a bad frame by the next one before watch reads
	// it, so at least one and at most three are counted.
	if !regexp.MustCompile(`skipped [123] bad frames`).MatchString(c.stderr.String()) {
		t.Errorf("stderr does not count the bad frames:\n%s", c.stderr.String())
	}
}
