package html

import (
	"math"
	"testing"
)

// TestDownsample keeps at most n points, the first and the last, and the
// peaks a plain stride would skip.
func TestDownsample(t *testing.T) {
	p := make([]pt, 100_000)
	for i := range p {
		p[i] = pt{float64(i), math.Sin(float64(i) / 5000)}
	}
	p[31_337].Y = 50 // a one-sample spike
	got := downsample(p, 1000)
	if len(got) != 1000 {
		t.Fatalf("%d points, want 1000", len(got))
	}
	if got[0] != p[0] || got[len(got)-1] != p[len(p)-1] {
		t.Errorf("ends %v %v, want %v %v", got[0], got[len(got)-1], p[0], p[len(p)-1])
	}
	spike := false
	for i, q := range got {
		if q.Y == 50 {
			spike = true
		}
		if i > 0 && q.X <= got[i-1].X {
			t.Fatalf("points out of order at %d", i)
		}
	}
	if !spike {
		t.Error("the spike was dropped")
	}
	if short := p[:10]; len(downsample(short, 1000)) != 10 {
		t.Error("a short curve was changed")
	}
}

// TestScaleTicks checks the axes: 1-2-5 steps covering the range, and log
// ticks at decades.
func TestScaleTicks(t *testing.T) {
	cases := []struct {
		lo, hi float64
		log    bool
		want   []float64
	}{
		{0, 100, false, []float64{0, 20, 40, 60, 80, 100}},
		{0, 1, false, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{1, 1e6, true, []float64{1, 10, 100, 1e3, 1e4, 1e5, 1e6}},
		{1, 100, true, []float64{1, 2, 5, 10, 20, 50, 100}},
	}
	for _, tc := range cases {
		got := scale{lo: tc.lo, hi: tc.hi, log: tc.log}.ticks()
		if len(got) != len(tc.want) {
			t.Errorf("ticks(%v, %v, log %v) = %v, want %v", tc.lo, tc.hi, tc.log, got, tc.want)
			continue
		}
		for i := range got {
			if math.Abs(got[i]-tc.want[i]) > 1e-9*math.Max(1, tc.want[i]) {
				t.Errorf("ticks(%v, %v, log %v) = %v, want %v", tc.lo, tc.hi, tc.log, got, tc.want)
				break
			}
		}
	}
}

// TestFmtNum checks the numbers of axes and tables.
func TestFmtNum(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 1234567: "1.23M", 25000: "25k", 512: "512", 38.42: "38.4", 4.99: "4.99", 0.0123: "0.0123", math.NaN(): "N/A"} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestSafeHref: only plain relative paths become links.
func TestSafeHref(t *testing.T) {
	for h, want := range map[string]bool{
		"point-01-rate-2/report.html": true, "a.b_c/report.html": true,
		"": false, "/etc/passwd": false, "../x/report.html": false, "a//b": false, "javascript:alert(1)": false,
		"http://x/y": false, "//x/y": false, "a b/report.html": false, `a"b`: false, "a/./b": false,
	} {
		if got := safeHref(h); got != want {
			t.Errorf("safeHref(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestDecimator: a curve of a million points is held in bounded memory,
// in order, keeping its spike and its ends' range.
func TestDecimator(t *testing.T) {
	var d decimator
	const n = 1_000_000
	for i := range n {
		y := math.Sin(float64(i) / 20000)
		if i == 654_321 {
			y = 50
		}
		d.add(pt{float64(i), y})
		if len(d.pts) > keepPoints+2 {
			t.Fatalf("%d points held after %d added, bound %d", len(d.pts), i+1, keepPoints)
		}
	}
	got := d.points()
	if len(got) > MaxTimePoints {
		t.Fatalf("%d points, want at most %d", len(got), MaxTimePoints)
	}
	spike := false
	for i, q := range got {
		spike = spike || q.Y == 50
		if i > 0 && q.X < got[i-1].X {
			t.Fatalf("out of order at %d", i)
		}
	}
	if !spike {
		t.Error("the spike was dropped")
	}
	if got[0].X > 100 || got[len(got)-1].X < n-1000 {
		t.Errorf("the curve spans [%v, %v], want about [0, %d]", got[0].X, got[len(got)-1].X, n)
	}
}
