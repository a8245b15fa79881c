package tui

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/metrics"
)

// TestRun drives a whole program on buffers through the channel bridge: it
// ends on the terminal snapshot with the final frame drawn.
func TestRun(t *testing.T) {
	for _, name := range []string{"complete", "interrupted"} {
		t.Run(name, func(t *testing.T) {
			seq := sessions(t)[name]
			in := make(chan metrics.Snapshot, 1)
			go func() {
				for _, s := range seq {
					in <- s
				}
			}()
			var out bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			m, err := Run(ctx, in, Options{Title: "run test"}, nil, &out)
			if err != nil {
				t.Fatal(err)
			}
			last, ok := m.Last()
			if !ok || !m.Final() || last.State != seq[len(seq)-1].State || m.frames != len(seq) {
				t.Fatalf("final model: state %s final %v frames %d of %d", last.State, m.Final(), m.frames, len(seq))
			}
			if want := strings.ToUpper(string(last.State)); !strings.Contains(out.String(), want) {
				t.Fatalf("output never shows %s:\n%s", want, out.String())
			}
		})
	}
}

func TestRun_Offer(t *testing.T) {
	seq := sessions(t)["complete"]
	in := make(chan metrics.Snapshot, 1)
	// Offer never blocks, and the last snapshot always survives.
	for _, s := range seq {
		Offer(in, s)
	}
	if got := <-in; got.State != metrics.StateComplete {
		t.Fatalf("channel holds %s, want the terminal snapshot", got.State)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go Offer(in, seq[len(seq)-1])
	m, err := Run(ctx, in, Options{}, nil, &out)
	if err != nil || !m.Final() {
		t.Fatalf("Run: %v, final %v", err, m.Final())
	}
}

func TestRun_Closed(t *testing.T) {
	in := make(chan metrics.Snapshot, 1)
	in <- sessions(t)["complete"][0]
	close(in)
	var out bytes.Buffer
	m, err := Run(context.Background(), in, Options{}, nil, &out)
	if err != nil || m.Final() || !m.closed {
		t.Fatalf("Run: %v, final %v closed %v", err, m.Final(), m.closed)
	}
	if !strings.Contains(out.String(), "closed before the run ended") {
		t.Fatalf("no closed notice:\n%s", out.String())
	}
}

func TestRun_Context(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	_, err := Run(ctx, make(chan metrics.Snapshot), Options{}, nil, &out)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run after the deadline: %v, want context.DeadlineExceeded", err)
	}
}
