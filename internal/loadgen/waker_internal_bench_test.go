package loadgen

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/event"
)

// BenchmarkTurnLateness measures how late the turn waker wakes 1,000
// conversations of 8 turns, each waiting a think time of 50–150 ms and
// then "sending" for 1 ms, against plain per-goroutine timers: p50 and p99
// of wake-up − intended time. Run with -benchtime 1x on a quiet machine.
func BenchmarkTurnLateness(b *testing.B) {
	for _, mode := range []string{"waker", "timer"} {
		b.Run(mode, func(b *testing.B) {
			var late []int64
			for range b.N {
				late = append(late, turnLateness(mode == "waker", 1000, 8)...)
			}
			slices.Sort(late)
			b.ReportMetric(float64(late[len(late)/2]), "p50-ns")
			b.ReportMetric(float64(late[len(late)*99/100]), "p99-ns")
		})
	}
}

func turnLateness(waker bool, convs, turns int) []int64 {
	var w turnWaker
	stop := make(chan struct{})
	var mu sync.Mutex
	late := make([]int64, 0, convs*turns)
	var wg sync.WaitGroup
	for i := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for range turns {
				at := event.Now() + int64(50*time.Millisecond) + r.Int64N(int64(100*time.Millisecond))
				if waker {
					w.wait(at, stop)
				} else {
					time.Sleep(time.Duration(at - event.Now()))
				}
				l := event.Now() - at
				mu.Lock()
				late = append(late, l)
				mu.Unlock()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	return late
}
