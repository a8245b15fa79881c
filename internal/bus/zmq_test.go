package bus_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	zmq "github.com/pebbe/zmq4"
	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
)

func newPub(t *testing.T, addr string, opts bus.ZMQOptions) *bus.ZMQPublisher[event.Record] {
	t.Helper()
	p, err := bus.NewZMQPublisher[event.Record](addr, event.Codec{}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newSub[T any](t *testing.T, addr string, codec bus.Codec[T], opts bus.ZMQSubOptions) *bus.ZMQSubscriber[T] {
	t.Helper()
	s, err := bus.NewZMQSubscriber[T](addr, codec, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func waitSubs(t *testing.T, p interface {
	WaitSubscribers(context.Context, int) error
}, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitSubscribers(ctx, n); err != nil {
		t.Fatal(err)
	}
}

func TestZMQ_OrderAndLossless(t *testing.T) {
	for _, tc := range []struct {
		name  string
		batch int
		n     int
		tcp   bool
	}{
		{"unbatched", 1, 20_000, false},
		{"batch7", 7, 100_000, false},
		{"batch1000", 1000, 100_000, false},
		{"batch1000_tcp", 1000, 100_000, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := ipcAddr(t, "ev.sock")
			if tc.tcp {
				addr = "tcp://127.0.0.1:0"
			}
			opts := bus.EventPublisherOptions()
			opts.BatchSize = tc.batch
			pub := newPub(t, addr, opts)
			sub := newSub(t, pub.Endpoint(), bus.Codec[event.Record](event.Codec{}), bus.ZMQSubOptions{})
			waitSubs(t, pub, 1)

			want := sampleRecords(tc.n)
			done := make(chan []event.Record)
			go func() { done <- collect(t, sub, len(want), 60*time.Second) }()
			for i := range want {
				if err := pub.Publish(want[i]); err != nil {
					t.Fatal(err)
				}
			}
			if err := pub.Flush(); err != nil {
				t.Fatal(err)
			}
			got := <-done
			if len(got) != len(want) {
				t.Fatalf("published %d, received %d", len(want), len(got))
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("records differ (-published +received):\n%s", diff)
			}
		})
	}
}

// rawSub is a plain SUB socket that sees the frames as they are on the wire.
func rawSub(t *testing.T, addr string) *zmq.Socket {
	t.Helper()
	s, err := zmq.NewSocket(zmq.SUB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, err := range []error{s.SetLinger(0), s.SetRcvtimeo(5 * time.Second), s.SetSubscribe(""), s.Connect(addr)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestZMQPublisher_WireFrames(t *testing.T) {
	addr := ipcAddr(t, "wire.sock")
	pub := newPub(t, addr, bus.ZMQOptions{BatchSize: 3, Linger: -1})
	raw := rawSub(t, addr)
	waitSubs(t, pub, 1)
	recs := sampleRecords(8)

	type frame struct {
		topic    string
		payloads [][]byte
	}
	var want []frame
	single := func(r event.Record) frame {
		return frame{r.Type.Topic(), [][]byte{event.AppendRecord(nil, &r)}}
	}
	batch := func(rs ...event.Record) frame {
		f := frame{topic: event.BatchTopic}
		for i := range rs {
			f.payloads = append(f.payloads, event.AppendRecord(nil, &rs[i]))
		}
		return f
	}
	// A full batch; then one item flushed alone (a single frame with its own
	// topic); then PublishFlush of a second item (a batch of two); then a
	// session record flushed alone.
	for _, r := range recs[:3] {
		must(t, pub.Publish(r))
	}
	want = append(want, batch(recs[:3]...))
	must(t, pub.Publish(recs[3]))
	must(t, pub.Flush())
	want = append(want, single(recs[3]))
	must(t, pub.Publish(recs[4]))
	must(t, pub.PublishFlush(recs[5]))
	want = append(want, batch(recs[4:6]...))
	must(t, pub.PublishFlush(recs[7]))
	want = append(want, single(recs[7]))
	must(t, pub.Flush()) // empty: sends nothing

	for i, w := range want {
		b, err := raw.RecvBytes(0)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		pad := event.PadTopic(w.topic)
		if !bytes.Equal(b[:event.TopicSize], pad[:]) {
			t.Fatalf("frame %d topic %q, want %q", i, b[:event.TopicSize], w.topic)
		}
		body := b[event.TopicSize:]
		if w.topic != event.BatchTopic {
			if !bytes.Equal(body, w.payloads[0]) {
				t.Fatalf("frame %d payload differs", i)
			}
			continue
		}
		want := msgp.AppendArrayHeader(nil, uint32(len(w.payloads)))
		for _, p := range w.payloads {
			want = msgp.AppendBytes(want, p)
		}
		if !bytes.Equal(body, want) {
			t.Fatalf("frame %d: batch body differs:\n got %x\nwant %x", i, body, want)
		}
	}
	if err := raw.SetRcvtimeo(100 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if b, err := raw.RecvBytes(0); err == nil {
		t.Fatalf("unexpected extra frame of %d bytes", len(b))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// rawPub is a plain XPUB socket for sending hand-made frames; it returns once
// a subscriber is connected.
func rawPub(t *testing.T, addr string) (*zmq.Socket, func()) {
	t.Helper()
	s, err := zmq.NewSocket(zmq.XPUB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, err := range []error{s.SetLinger(-1), s.SetRcvtimeo(10 * time.Second), s.Bind(addr)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return s, func() {
		if _, err := s.RecvBytes(0); err != nil {
			t.Fatalf("no subscription: %v", err)
		}
	}
}

func TestZMQSubscriber_MalformedFrames(t *testing.T) {
	recs := sampleRecords(4)
	enc := func(r event.Record) []byte { return event.AppendRecord(nil, &r) }
	single := func(topic string, payload []byte) []byte {
		pad := event.PadTopic(topic)
		return append(pad[:], payload...)
	}
	batch := func(body []byte) []byte { return single(event.BatchTopic, body) }
	goodBatch := msgp.AppendArrayHeader(nil, 3)
	goodBatch = msgp.AppendBytes(goodBatch, enc(recs[1]))
	goodBatch = msgp.AppendBytes(goodBatch, nil) // empty payloads are skipped
	goodBatch = msgp.AppendBytes(goodBatch, enc(recs[2]))
	badInBatch := msgp.AppendArrayHeader(nil, 1)
	badInBatch = msgp.AppendBytes(badInBatch, []byte{0xc1})
	truncated := msgp.AppendArrayHeader(nil, 2)
	truncated = msgp.AppendBytes(truncated, enc(recs[3]))
	// A batch that claims 0xffffffff payloads in a few bytes.
	hostile := []byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0xc4, 0x01, 0x00}

	frames := [][]byte{
		single("sample.issued", []byte{0xc1, 0x00}), // not msgpack
		[]byte("short frame"),                       // ≤ 40 bytes
		single("sample.issued", enc(recs[0])),
		batch([]byte{0x93, 0xc1}), // batch whose array is malformed: dropped
		batch(truncated),          // batch cut short: dropped whole
		batch(hostile),            // batch claiming more payloads than bytes
		batch(goodBatch),
		batch(badInBatch), // a bad payload inside a valid batch
		single("session.ended", enc(recs[3])),
	}
	malformed := func(r event.Record) bool {
		d, ok := r.Data.(*event.ErrorData)
		return r.Type == event.ErrorGeneric && ok && d.Type == "DecodeError" && r.SampleUUID == ""
	}

	for _, tc := range []struct {
		name  string
		codec bus.Codec[event.Record]
		want  []string // expected records: a uuid, or "!" for a decode error record
		bad   map[string]int64
	}{
		{"event codec drops undecodable payloads", event.Codec{},
			[]string{recs[0].SampleUUID, recs[1].SampleUUID, recs[2].SampleUUID, recs[3].SampleUUID},
			map[string]int64{bus.BadShort: 1, bus.BadBatch: 3, bus.BadPayload: 2}},
		{"a codec may deliver an item instead", deliverCodec{},
			[]string{"!", recs[0].SampleUUID, recs[1].SampleUUID, recs[2].SampleUUID, "!", recs[3].SampleUUID},
			map[string]int64{bus.BadShort: 1, bus.BadBatch: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := ipcAddr(t, "bad.sock")
			pub, waitSub := rawPub(t, addr)
			var log bytes.Buffer
			var seen []string // from OnBadFrame, on the goroutine calling Next
			sub := newSub(t, addr, tc.codec, bus.ZMQSubOptions{
				Logger:     slog.New(slog.NewTextHandler(&log, nil)),
				OnBadFrame: func(kind string) { seen = append(seen, kind) },
			})
			waitSub()
			for _, f := range frames {
				if _, err := pub.SendBytes(f, 0); err != nil {
					t.Fatal(err)
				}
			}
			got := collect(t, sub, len(tc.want), 10*time.Second)
			for i, r := range got {
				if tc.want[i] == "!" {
					if !malformed(r) {
						t.Errorf("item %d = %+v, want an error.generic DecodeError record", i, r)
					}
					continue
				}
				if r.Type == event.ErrorGeneric || r.SampleUUID != tc.want[i] {
					t.Errorf("item %d = %v %q, want uuid %q", i, r.Type, r.SampleUUID, tc.want[i])
				}
			}
			if last := got[len(got)-1]; last.Type != event.SessionEnded {
				t.Errorf("last item %v, want session.ended", last.Type)
			}
			if diff := cmp.Diff(tc.bad, sub.BadFrames(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("BadFrames (-want +got):\n%s", diff)
			}
			var n int64
			for _, c := range tc.bad {
				n += c
			}
			if int64(len(seen)) != n {
				t.Errorf("OnBadFrame called %d times (%v), want %d", len(seen), seen, n)
			}
			// One warning per kind, however many frames of that kind.
			if lines := strings.Count(log.String(), "skipping a bad frame"); lines != len(tc.bad) {
				t.Errorf("%d warnings, want %d (one per kind):\n%s", lines, len(tc.bad), log.String())
			}
		})
	}
}

// TestZMQSubscriber_MaxFrameSize checks that a frame above MaxFrameSize never
// reaches the subscriber: libzmq refuses it before allocating it and drops
// that connection. A publisher that connected to a binding subscriber (a load
// generator feeding `aggregate --bind`) reconnects, and later frames pass.
func TestZMQSubscriber_MaxFrameSize(t *testing.T) {
	addr := ipcAddr(t, "max.sock")
	sub := newSub(t, addr, bus.Codec[event.Record](event.Codec{}), bus.ZMQSubOptions{MaxFrameSize: 1024, Bind: true})
	pub := newPub(t, addr, bus.ZMQOptions{BatchSize: 1, Linger: -1, Connect: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A binding socket attaches new connections (and sends its subscriptions)
	// only while it is used: receive from the start.
	received := make(chan []event.Record, 1)
	go func() {
		items, _ := sub.Next(ctx)
		received <- append([]event.Record(nil), items...)
	}()
	waitSubs(t, pub, 1)
	recs := sampleRecords(2)
	big := recs[0]
	big.SampleUUID = strings.Repeat("x", 4096)
	must(t, pub.Publish(big))
	// Publish small records until one arrives: the first to arrive must not be
	// the oversized one.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case items := <-received:
			if len(items) == 0 {
				t.Fatalf("no record after the oversized frame: %v", ctx.Err())
			}
			for _, r := range items {
				if r.SampleUUID != recs[1].SampleUUID {
					t.Fatalf("received a record of uuid %.20q…, want only the small ones", r.SampleUUID)
				}
			}
			return
		case <-tick.C:
			must(t, pub.Publish(recs[1]))
		}
	}
}

func TestZMQSubscriber_Topics(t *testing.T) {
	addr := ipcAddr(t, "topics.sock")
	pub := newPub(t, addr, bus.ZMQOptions{BatchSize: 1, Linger: -1})
	sub := newSub(t, addr, bus.Codec[event.Record](event.Codec{}), bus.ZMQSubOptions{Topics: []string{"session."}})
	waitSubs(t, pub, 1)
	recs := sampleRecords(6) // started, issued, recv_first, ..., ended
	for _, r := range recs {
		must(t, pub.Publish(r))
	}
	got := collect(t, sub, 2, 10*time.Second)
	if got[0].Type != event.SessionStarted || got[1].Type != event.SessionEnded {
		t.Fatalf("got %v %v, want session.started session.ended", got[0].Type, got[1].Type)
	}
}

func TestZMQ_ConflateKeepsLatest(t *testing.T) {
	addr := ipcAddr(t, "snap.sock")
	pub := newPub(t, addr, bus.ZMQOptions{BatchSize: 1, Linger: time.Second})
	sub := newSub(t, addr, bus.Codec[event.Record](event.Codec{}), bus.ZMQSubOptions{Conflate: true})
	waitSubs(t, pub, 1)
	const n = 200
	for i := 1; i <= n; i++ {
		must(t, pub.Publish(event.Record{Type: event.SampleIssued, TimestampNS: int64(i)}))
	}
	// Nothing reads while the frames arrive; once the newest is received,
	// only a handful (the newest and those delivered while reading) are seen.
	var seen []int64
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	time.Sleep(100 * time.Millisecond)
	for len(seen) == 0 || seen[len(seen)-1] != n {
		items, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("after %v: %v", seen, err)
		}
		for _, r := range items {
			seen = append(seen, r.TimestampNS)
		}
	}
	if len(seen) > 5 {
		t.Fatalf("conflating subscriber received %d of %d frames: %v", len(seen), n, seen)
	}
}

func TestZMQPublisher_WaitSubscribers(t *testing.T) {
	addr := ipcAddr(t, "wait.sock")
	pub := newPub(t, addr, bus.EventPublisherOptions())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := pub.WaitSubscribers(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitSubscribers without subscribers = %v, want DeadlineExceeded", err)
	}
	// Subscribers with overlapping and filtered subscriptions count once each.
	newSub(t, addr, bus.Codec[event.Record](event.Codec{}), bus.ZMQSubOptions{})
	newSub(t, addr, bus.Codec[event.Record](event.Codec{}), bus.ZMQSubOptions{})
	newSub(t, addr, bus.Codec[event.Record](event.Codec{}), bus.ZMQSubOptions{Topics: []string{"session.", "error."}})
	waitSubs(t, pub, 3)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if err := pub.WaitSubscribers(ctx2, 4); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitSubscribers(4) with 3 subscribers = %v, want DeadlineExceeded", err)
	}

	conflating := newPub(t, ipcAddr(t, "c.sock"), bus.ZMQOptions{Conflate: true})
	if err := conflating.WaitSubscribers(context.Background(), 1); err == nil {
		t.Fatal("WaitSubscribers on a conflating publisher succeeded")
	}
}

func TestZMQPublisher_Close(t *testing.T) {
	addr := ipcAddr(t, "close.sock")
	path := strings.TrimPrefix(addr, "ipc://")
	pub, err := bus.NewZMQPublisher[event.Record](addr, event.Codec{}, bus.EventPublisherOptions())
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket file after bind: %v, %v", fi, err)
	}
	sub := newSub(t, addr, bus.Codec[event.Record](event.Codec{}), bus.ZMQSubOptions{})
	waitSubs(t, pub, 1)
	recs := sampleRecords(3)
	must(t, pub.Publish(recs[0]))
	must(t, pub.Publish(recs[1])) // buffered: Close must flush them
	must(t, pub.Close())
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file after Close: %v", err)
	}
	must(t, pub.Close()) // idempotent
	if err := pub.Publish(recs[2]); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Publish after Close = %v, want ErrClosed", err)
	}
	if err := pub.PublishFlush(recs[2]); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("PublishFlush after Close = %v, want ErrClosed", err)
	}
	if err := pub.Flush(); !errors.Is(err, bus.ErrClosed) {
		t.Fatalf("Flush after Close = %v, want ErrClosed", err)
	}
	got := collect(t, sub, 2, 10*time.Second)
	if diff := cmp.Diff(recs[:2], got); diff != "" {
		t.Fatalf("records flushed by Close differ:\n%s", diff)
	}
}

func TestZMQSubscriber_CloseAndContext(t *testing.T) {
	addr := ipcAddr(t, "sub.sock")
	sub, err := bus.NewZMQSubscriber[event.Record](addr, event.Codec{}, bus.ZMQSubOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	if _, err := sub.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next without publisher = %v, want DeadlineExceeded", err)
	}
	// Close from another goroutine ends a blocked Next.
	errc := make(chan error, 1)
	go func() {
		_, err := sub.Next(context.Background())
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	must(t, sub.Close())
	must(t, sub.Close())
	select {
	case err := <-errc:
		if !errors.Is(err, bus.ErrClosed) {
			t.Fatalf("Next after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return after Close")
	}
}

func TestZMQ_SubscriberFirstAndBindingSubscriber(t *testing.T) {
	recs := sampleRecords(50)
	t.Run("publisher binds after the subscriber connects", func(t *testing.T) {
		addr := ipcAddr(t, "late.sock")
		sub := newSub(t, addr, bus.Codec[event.Record](event.Codec{}), bus.ZMQSubOptions{})
		pub := newPub(t, addr, bus.EventPublisherOptions())
		waitSubs(t, pub, 1)
		for _, r := range recs {
			must(t, pub.Publish(r))
		}
		must(t, pub.Flush())
		if diff := cmp.Diff(recs, collect(t, sub, len(recs), 10*time.Second)); diff != "" {
			t.Fatal(diff)
		}
	})
	t.Run("two publishers connect to a binding subscriber", func(t *testing.T) {
		addr := ipcAddr(t, "agg.sock")
		path := strings.TrimPrefix(addr, "ipc://")
		sub, err := bus.NewZMQSubscriber[event.Record](addr, event.Codec{}, bus.ZMQSubOptions{Bind: true})
		if err != nil {
			t.Fatal(err)
		}
		opts := bus.EventPublisherOptions()
		opts.Connect = true
		var wg sync.WaitGroup
		for g := range 2 {
			pub := newPub(t, addr, opts)
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := pub.WaitSubscribers(ctx, 1); err != nil {
					t.Error(err)
					return
				}
				for _, r := range recs[g*25 : g*25+25] {
					if err := pub.Publish(r); err != nil {
						t.Error(err)
					}
				}
				if err := pub.Close(); err != nil {
					t.Error(err)
				}
			})
		}
		got := collect(t, sub, len(recs), 10*time.Second)
		wg.Wait()
		seen := map[int64]bool{}
		for _, r := range got {
			seen[r.TimestampNS] = true
		}
		if len(seen) != len(recs) {
			t.Fatalf("received %d distinct records of %d", len(seen), len(recs))
		}
		must(t, sub.Close())
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("binding subscriber left its socket file: %v", err)
		}
	})
}

func TestIPCAddr(t *testing.T) {
	long := "/tmp/" + strings.Repeat("d", 100)
	for _, tc := range []struct {
		dir, name, want string
		ok              bool
	}{
		{"/run/ib", "metrics.sock", "ipc:///run/ib/metrics.sock", true},
		{"/run/ib/", "events.sock", "ipc:///run/ib/events.sock", true},
		{"rel", "e.sock", "ipc://rel/e.sock", true},
		{long, "metrics.sock", "", false},
		{"/tmp", "", "", false},
	} {
		got, err := bus.IPCAddr(tc.dir, tc.name)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("IPCAddr(%q, %q) = %q, %v", tc.dir, tc.name, got, err)
		}
	}
	if _, err := bus.NewZMQPublisher[event.Record]("ipc://"+long+"/x.sock", event.Codec{}, bus.ZMQOptions{}); err == nil ||
		!strings.Contains(err.Error(), "unix socket limit") {
		t.Errorf("publisher on a too long ipc path: %v", err)
	}
	if _, err := bus.NewZMQPublisher[event.Record]("udp://127.0.0.1:1", event.Codec{}, bus.ZMQOptions{}); err == nil {
		t.Error("publisher on udp:// succeeded")
	}
}

// jsonRecord is how the helper process reports a record.
type jsonRecord struct {
	Type   string
	TS     int64
	UUID   string
	Prompt *event.PromptData `json:",omitempty"`
	Output *event.Output     `json:",omitempty"`
	Error  *event.ErrorData  `json:",omitempty"`
}

func toJSON(r event.Record) jsonRecord {
	j := jsonRecord{Type: r.Type.Topic(), TS: r.TimestampNS, UUID: r.SampleUUID}
	switch d := r.Data.(type) {
	case *event.PromptData:
		j.Prompt = d
	case *event.Output:
		j.Output = d
	case *event.ErrorData:
		j.Error = d
	}
	return j
}

// runSubscriberHelper runs in the child process: it subscribes to the address
// in spec ("ADDR N"), prints N records as JSON lines, and returns.
func runSubscriberHelper(spec string) error {
	addr, n, err := splitSpec(spec)
	if err != nil {
		return err
	}
	sub, err := bus.NewZMQSubscriber[event.Record](addr, event.Codec{}, bus.ZMQSubOptions{})
	if err != nil {
		return err
	}
	defer sub.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	w := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(w)
	for got := 0; got < n; {
		items, err := sub.Next(ctx)
		if err != nil {
			return fmt.Errorf("after %d records: %w", got, err)
		}
		for _, r := range items {
			if err := enc.Encode(toJSON(r)); err != nil {
				return err
			}
		}
		got += len(items)
	}
	return w.Flush()
}

func TestZMQ_SubscriberInAnotherProcess(t *testing.T) {
	addr := ipcAddr(t, "xproc.sock")
	pub := newPub(t, addr, bus.EventPublisherOptions())
	want := sampleRecords(20_000)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d", envHelper, addr, len(want)))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	must(t, cmd.Start())
	waitSubs(t, pub, 1)
	for _, r := range want {
		must(t, pub.Publish(r))
	}
	must(t, pub.Flush())
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v\n%s", err, stderr.String())
	}
	var got []jsonRecord
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var j jsonRecord
		must(t, dec.Decode(&j))
		got = append(got, j)
	}
	wantJSON := make([]jsonRecord, len(want))
	for i, r := range want {
		wantJSON[i] = toJSON(r)
	}
	if diff := cmp.Diff(wantJSON, got); diff != "" {
		t.Fatalf("helper process received (-want +got):\n%s", diff)
	}
}

// pythonView is what the Python tool decodes from a record, with payload
// array fields named as in testdata/pysub.py.
func pythonView(r event.Record) map[string]any {
	var data any
	streamed := func(s string, first int) any {
		k := min(first, len(s))
		return []any{s[:k], s[k:]}
	}
	orNil := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	rec := map[string]any{"event_type": r.Type.Topic(), "timestamp_ns": r.TimestampNS,
		"sample_uuid": r.SampleUUID, "conversation_id": r.ConversationID, "turn": nil}
	if r.Turn != 0 {
		rec["turn"] = r.Turn
	}
	if r.LastTurn {
		rec["last_turn"] = true
	}
	switch d := r.Data.(type) {
	case *event.PromptData:
		m := map[string]any{"tag": "PromptData", "text": d.Text, "token_ids": nil, "messages": nil, "tools": nil,
			"chat_template_kwargs": nil, "chat_template": nil, "tool_choice": nil}
		if d.ScheduledNS != 0 {
			rec["scheduled_ns"] = d.ScheduledNS
		}
		if d.TokenIDs != nil {
			m["text"] = orNil(d.Text)
			ids := make([]any, len(d.TokenIDs))
			for i, id := range d.TokenIDs {
				ids[i] = id
			}
			m["token_ids"] = ids
		}
		data = m
	case *event.Output:
		m := map[string]any{"tag": "TextModelOutput", "output": d.Text, "reasoning": orNil(d.Reasoning), "field_3": nil}
		if d.Streamed && d.Reasoning == "" {
			m["output"] = streamed(d.Text, d.FirstChunkLen)
		}
		if d.Streamed && d.Reasoning != "" {
			m["reasoning"] = streamed(d.Reasoning, d.FirstChunkLen)
		}
		if d.FinishReason != "" {
			rec["finish_reason"] = d.FinishReason
		}
		if u := d.Usage; u != nil {
			um := map[string]any{"prompt_tokens": u.PromptTokens, "completion_tokens": u.CompletionTokens}
			if u.ReasoningTokens > 0 {
				um["reasoning_tokens"] = u.ReasoningTokens
			}
			rec["usage"] = um
		}
		data = m
	case *event.ErrorData:
		data = map[string]any{"tag": "ErrorData", "error_type": d.Type, "error_message": d.Message}
	}
	rec["data"] = data
	return rec
}

// normJSON re-reads v through JSON with exact numbers, so that Go values and
// the Python output compare alike.
func normJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// TestZMQ_PythonSubscriber sends inferbench's own records (issued with
// scheduled_ns, complete with usage and finish reasons, errors) to a Python
// subscriber that checks them against the Python tool's current structs with
// plain msgpack, independently of inferbench's decoder: record map keys of the
// Python types, an 8-element PromptData and a 4-element TextModelOutput with
// every field of its Python type, so no extension sits at a positional slot.
func TestZMQ_PythonSubscriber(t *testing.T) {
	const py = "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import zmq, msgpack").CombinedOutput(); err != nil {
		t.Skipf("wire compatibility needs %s with the zmq and msgpack modules (apt install python3-zmq python3-msgpack): %v %s", py, err, out)
	}
	script, err := filepath.Abs("testdata/pysub.py")
	must(t, err)
	addr := ipcAddr(t, "py.sock")
	pub := newPub(t, addr, bus.ZMQOptions{BatchSize: 100, Linger: -1})
	want := sampleRecords(1_000)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, script, addr, fmt.Sprint(len(want)))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	must(t, cmd.Start())
	waitSubs(t, pub, 1)
	// Batches of 100, a few single frames (one buffered item flushed alone),
	// and session records flushed at once.
	for i, r := range want {
		switch {
		case r.Type.Category() == event.CategorySession:
			must(t, pub.PublishFlush(r))
		case i%97 == 0:
			must(t, pub.Flush())
			must(t, pub.PublishFlush(r))
		default:
			must(t, pub.Publish(r))
		}
	}
	must(t, pub.Flush())
	if err := cmd.Wait(); err != nil {
		t.Fatalf("python subscriber: %v\n%s", err, stderr.String())
	}
	lines := bytes.Split(bytes.TrimSpace(stdout.Bytes()), []byte("\n"))
	if len(lines) > 0 && bytes.Contains(lines[0], []byte(`"ready"`)) {
		lines = lines[1:]
	}
	if len(lines) != len(want) {
		t.Fatalf("python received %d records, published %d\n%s", len(lines), len(want), stderr.String())
	}
	frames := map[string]int{}
	for i, line := range lines {
		got := normJSON(t, line)
		kind, _ := got["frame"].(string)
		frames[kind]++
		delete(got, "frame")
		if kind == "single" {
			if got["topic"] != want[i].Type.Topic() {
				t.Errorf("record %d: single frame topic %v, want %s", i, got["topic"], want[i].Type.Topic())
			}
			delete(got, "topic")
		}
		b, err := json.Marshal(pythonView(want[i]))
		must(t, err)
		if diff := cmp.Diff(normJSON(t, b), got); diff != "" {
			t.Fatalf("record %d differs (-published +python):\n%s", i, diff)
		}
	}
	if frames["single"] == 0 || frames["batch"] == 0 {
		t.Fatalf("frames seen by python: %v; want both single and batch", frames)
	}
}
