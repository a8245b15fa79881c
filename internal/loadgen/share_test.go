package loadgen

import "testing"

// TestShare_Order: shares of one seeded order deal its positions round
// robin, so their union is the single order, position for position.
func TestShare_Order(t *testing.T) {
	const n, ds, take = 3, 7, 40
	whole := newSampleOrder(ds, 9)
	var want []int
	for range take {
		want = append(want, whole.next())
	}
	for i := range n {
		o := newSampleOrder(ds, 9).share(&Share{Index: i, Of: n})
		for p := i; p < take; p += n {
			if got := o.next(); got != want[p] {
				t.Fatalf("share %d position %d: %d, want %d", i, p, got, want[p])
			}
		}
	}
}

// TestShare_Indices: Indices lists what the shared order draws.
func TestShare_Indices(t *testing.T) {
	sh := &Share{Index: 1, Of: 3}
	got := sh.Indices(7, 9, 5)
	o := newSampleOrder(7, 9).share(&Share{Index: 1, Of: 3})
	for i, idx := range got {
		if want := o.next(); idx != want {
			t.Fatalf("draw %d: %d, want %d", i, idx, want)
		}
	}
}
