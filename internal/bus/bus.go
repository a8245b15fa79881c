// Package bus moves items (event records, metrics snapshots) from publishers
// to subscribers. Two implementations share the [Publisher] and [Subscriber]
// interfaces: [InProc], an ordered, lossless, in-process fan-out with
// backpressure, and the ZeroMQ PUB/SUB transport (ipc:// and tcp://) through
// libzmq, which lets other processes and hosts subscribe.
//
// Items cross a process boundary through a [Codec], which maps an item to a
// topic and a payload and back. Order on the bus is the order of publication;
// no implementation reorders.
package bus

import (
	"context"
	"errors"
)

// ErrClosed is returned by Publish and Flush after Close, and by Next once a
// subscriber was closed.
var ErrClosed = errors.New("bus: closed")

// Publisher sends items to every subscriber, in the order Publish is called.
// Implementations are safe for concurrent use.
type Publisher[T any] interface {
	// Publish sends item. It never drops an event: when subscribers are behind
	// it blocks (backpressure) rather than lose it. It may buffer; see Flush.
	Publish(item T) error
	// Flush sends whatever Publish buffered.
	Flush() error
	// Close flushes, releases the transport and makes later calls return ErrClosed.
	// It is idempotent.
	Close() error
}

// Subscriber receives items in publication order, in batches.
type Subscriber[T any] interface {
	// Next blocks until at least one item is available and returns the items
	// received so far. The returned slice is valid until the next call to Next.
	// It returns io.EOF once the publisher closed and every item was returned,
	// ErrClosed after Close, or ctx.Err().
	Next(ctx context.Context) ([]T, error)
	// Close stops the subscription; it is idempotent.
	Close() error
}

// Codec turns an item into a topic and a payload and back, for transports that
// cross a process boundary.
type Codec[T any] interface {
	// Encode appends item's payload to dst and returns its topic (at most 40
	// bytes) and the extended slice.
	Encode(dst []byte, item *T) (topic string, payload []byte, err error)
	// Decode parses one payload.
	Decode(payload []byte) (T, error)
	// OnDecodeError decides what a malformed payload becomes: an item to
	// deliver in its place (true), or nothing (false: dropped).
	OnDecodeError(payload []byte, err error) (T, bool)
}
