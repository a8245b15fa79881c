package event_test

import (
	"fmt"

	"github.com/inferbench/inferbench/internal/event"
)

// A record encodes to the Python tool's wire form: a msgpack map, under the
// record's topic; decoding gives it back.
func ExampleCodec() {
	var c event.Codec
	r := event.Record{Type: event.SampleIssued, TimestampNS: 42, SampleUUID: "u1", Data: &event.PromptData{Text: "hi"}}
	topic, payload, _ := c.Encode(nil, &r)
	back, _ := c.Decode(payload)
	fmt.Println(topic, len(event.PadTopic(topic)), back.Type, back.TimestampNS, back.Data.(*event.PromptData).Text)
	// Output: sample.issued 40 sample.issued 42 hi
}
