package fleet

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
)

// TestWire_Hostile: every prefix of a valid message, and messages whose
// counts claim more than they hold, fail cleanly (no panic, no allocation
// beyond the frame).
func TestWire_Hostile(t *testing.T) {
	reg := (&register{Name: "w", PID: 7, Host: "h", Version: "1"}).encode()
	samples := appendSamples(nil, []dataset.Sample{{Prompt: "p", TokenIDs: []int32{1, 2}, MaxTokens: 3}})
	ds := make([]dataset.Sample, 4)
	ds[3] = dataset.Sample{Prompt: "PROMPTQZ", TokenIDs: []int32{8, 9}}
	recs := []event.Record{
		{Type: event.SampleIssued, TimestampNS: 5, SampleUUID: "u", Data: &event.PromptData{Text: "PROMPTQZ", TokenIDs: ds[3].TokenIDs, Index: 4}},
		{Type: event.SampleRecvFirst, TimestampNS: 7, SampleUUID: "u"},
		{Type: event.SampleComplete, TimestampNS: 9, SampleUUID: "u", Data: &event.Output{Text: "y"}},
	}
	ev := appendEventHeader(nil, 1, 1)
	at := len(ev)
	ev = append(ev, 0xdd, 0, 0, 0, 0)
	refs := newRefTable()
	refs.samples = ds
	for i := range recs {
		ev = appendEvent(ev, &recs[i], refs)
	}
	putUint32(ev[at+1:], uint32(2*len(recs)))

	if m, err := decodeRegister(reg[1:]); err != nil || m.Name != "w" || m.PID != 7 {
		t.Fatalf("register round trip: %+v %v", m, err)
	}
	if ss, _, err := readSamples(samples); err != nil || len(ss) != 1 || ss[0].TokenIDs[1] != 2 || ss[0].MaxTokens != 3 {
		t.Fatalf("samples round trip: %+v %v", ss, err)
	}
	_, _, body, err := readEventHeader(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, nums, err := decodeEvents(nil, nil, body, nil, ds)
	if err != nil || len(got) != 3 || got[1].Type != event.SampleRecvFirst || got[1].TimestampNS != 7 || got[0].Data.(*event.PromptData).Index != 4 {
		t.Fatalf("events round trip: %+v %v", got, err)
	}
	// The issued record's prompt is its dataset sample's: it travelled
	// without it and came back from the coordinator's copy.
	if pd := got[0].Data.(*event.PromptData); pd.Text != "PROMPTQZ" || len(pd.TokenIDs) != 2 || pd.TokenIDs[1] != 9 {
		t.Fatalf("prompt from the dataset: %+v", pd)
	}
	if strings.Contains(string(body), "PROMPTQZ") {
		t.Error("the batch carries the prompt text the coordinator has")
	}
	if _, _, err := decodeEvents(nil, nil, body, nil, ds[:3]); err == nil {
		t.Error("a batch omitting the prompt of a sample the coordinator lacks decoded")
	}
	// The chunk and complete records name their sample by the number its
	// issued record gave it; the complete record freed the number for the
	// next sample.
	if len(nums) != 3 || nums[0] != 1 || nums[1] != 1 || nums[2] != 1 || got[1].SampleUUID != "" || got[2].SampleUUID != "" || got[0].SampleUUID != "u" {
		t.Fatalf("sample numbers: %v, uuids %q %q", nums, got[0].SampleUUID, got[1].SampleUUID)
	}
	if ref, ok := refs.give("v"); !ok || ref != 0 {
		t.Fatalf("number of the next sample: %d %v, want 0 (reused)", ref, ok)
	}
	// Without a table, chunks carry their uuid.
	plain := appendEvent(nil, &recs[1], nil)
	if r, ref, _, err := readCompact(plain, nil, nil); err != nil || ref != 0 || r.SampleUUID != "u" {
		t.Fatalf("chunk with its uuid: %+v %d %v", r, ref, err)
	}
	for i := range len(reg) - 1 {
		if _, err := decodeRegister(reg[1 : 1+i]); err == nil {
			t.Errorf("register cut to %d bytes decoded", i)
		}
	}
	for i := range len(samples) {
		if _, _, err := readSamples(samples[:i]); err == nil {
			t.Errorf("samples cut to %d bytes decoded", i)
		}
	}
	convs := appendConversations(nil, []dataset.Conversation{{ID: "c", System: "s", Turns: []dataset.ConvTurn{{User: "u", Reply: "r", Delay: 5, HasDelay: true}, {User: "v"}}}})
	if cs, _, err := readConversations(convs); err != nil || len(cs) != 1 || cs[0].Turns[0].Delay != 5 || cs[0].Turns[1].User != "v" {
		t.Fatalf("conversations round trip: %+v %v", cs, err)
	}
	for i := range len(convs) {
		if _, _, err := readConversations(convs[:i]); err == nil {
			t.Errorf("conversations cut to %d bytes decoded", i)
		}
	}
	if _, _, err := readConversations([]byte{0x91, 0x93, 0xa0, 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff}); err == nil {
		t.Error("a conversation claiming 4G turns decoded")
	}
	for i := range len(body) {
		if _, _, err := decodeEvents(nil, nil, body[:i], nil, nil); err == nil {
			t.Errorf("event batch cut to %d bytes decoded", i)
		}
	}
	for name, p := range map[string][]byte{
		"samples claim 4G":              {0xdd, 0xff, 0xff, 0xff, 0xff},
		"token ids claim 4G":            {0x91, 0x95, 0xa1, 'p', 0xa0, 0xdd, 0xff, 0xff, 0xff, 0xff},
		"events claim 4G":               {0xdd, 0xff, 0xff, 0xfe, 0xfe},
		"odd event array count":         {0x91, 0xc4, 0x00},
		"event sample number too large": {0x92, 0x93, 0x07, 0x01, 0xce, 0xff, 0xff, 0xff, 0xff, 0x00},
	} {
		var err error
		if name[0] == 'e' || name[0] == 'o' {
			_, _, err = decodeEvents(nil, nil, p, nil, nil)
		} else {
			_, _, err = readSamples(p)
		}
		if err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// TestRegister_OtherProtocolRefused: a worker of another inferbench version
// (another fleet protocol) is refused at registration, not admitted to
// misread frames; the refusal says why and is final.
func TestRegister_OtherProtocolRefused(t *testing.T) {
	c, err := Listen(Options{Listen: "tcp://127.0.0.1:0", Size: 1, Timeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, version := range []string{"1", "", "3"} {
		s, err := zmq.NewSocket(zmq.DEALER)
		if err != nil {
			t.Fatal(err)
		}
		_ = s.SetLinger(0)
		_ = s.SetRcvtimeo(5 * time.Second)
		if err := s.Connect(c.Endpoint()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SendBytes((&register{Name: "old", PID: 1, Host: "h", Version: version}).encode(), 0); err != nil {
			t.Fatal(err)
		}
		f, err := s.RecvBytes(0)
		_ = s.Close()
		if err != nil {
			t.Fatalf("version %q: no answer: %v", version, err)
		}
		r := open(f[1:])
		reason, retry := r.str(maxReason), r.bool()
		if f[0] != kindRefuse || retry || !strings.Contains(reason, "fleet protocol") || !strings.Contains(reason, "same inferbench version") {
			t.Errorf("version %q: answer %q %q retry %v, want a final refusal naming the protocol", version, f[0], reason, retry)
		}
	}
	if n := len(c.Workers()); n != 0 {
		t.Errorf("%d workers joined", n)
	}
}
