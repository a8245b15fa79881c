package bus_test

import (
	"context"
	"fmt"

	"github.com/inferbench/inferbench/internal/bus"
)

// The in-process bus fans every item out to every subscriber, in order; a
// subscriber receives what accumulated as one batch, then io.EOF after Close.
func ExampleInProc() {
	b := bus.NewInProc[string](0)
	sub := b.Subscribe()
	_ = b.Publish("issued")
	_ = b.Publish("complete")
	_ = b.Close()
	for {
		batch, err := sub.Next(context.Background())
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(batch)
	}
	// Output:
	// [issued complete]
	// EOF
}
