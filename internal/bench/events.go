package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
)

// EventsWaitTimeout bounds the wait for event subscribers before the first
// request (config Metrics.EventsSubscribers).
const EventsWaitTimeout = 60 * time.Second

// newEventPublisher binds the event stream publisher of --events-addr: the
// Python tool's settings (batches of bus.DefaultBatchSize, unlimited queues,
// Close waits for delivery), so that no event is dropped for a subscriber.
func newEventPublisher(addr string) (*bus.ZMQPublisher[event.Record], error) {
	pub, err := bus.NewZMQPublisher[event.Record](addr, event.Codec{}, bus.EventPublisherOptions())
	if err != nil {
		return nil, fmt.Errorf("metrics.events_addr %s: %w", addr, err)
	}
	return pub, nil
}

// waitEventSubscribers waits until n subscribers are connected to pub, so a
// subscriber started before the run receives all of it.
func waitEventSubscribers(ctx context.Context, pub *bus.ZMQPublisher[event.Record], n int) error {
	if n <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, EventsWaitTimeout)
	defer cancel()
	if err := pub.WaitSubscribers(ctx, n); err != nil {
		return fmt.Errorf("metrics.events_addr %s: waiting for %d subscribers: %w", pub.Endpoint(), n, err)
	}
	return nil
}

// forwardEvents publishes every record of sub on pub until the bus ends. Session
// records are sent at once with everything before them, as the Python tool
// flushes them, so a subscriber sees the end of a run without delay.
func forwardEvents(sub bus.Subscriber[event.Record], pub *bus.ZMQPublisher[event.Record]) error {
	for {
		batch, err := sub.Next(context.Background())
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, bus.ErrClosed) {
				return pub.Flush()
			}
			return err
		}
		for i := range batch {
			if batch[i].Type.Category() == event.CategorySession {
				err = pub.PublishFlush(batch[i])
			} else {
				err = pub.Publish(batch[i])
			}
			if err != nil {
				return fmt.Errorf("events_addr %s: %w", pub.Endpoint(), err)
			}
		}
	}
}
