package metrics

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"
)

// Num is a snapshot number: an exact integer (of any size) or a float64. Sums
// of squares of nanosecond latencies exceed 64 bits quickly, and the report's
// standard deviation needs them exact.
type Num struct {
	f       float64
	i       int64
	big     *big.Int // set when the integer does not fit in an int64
	isFloat bool
}

// Int returns the integer i as a Num.
func Int(i int64) Num { return Num{i: i} }

// Float returns f as a Num.
func Float(f float64) Num { return Num{f: f, isFloat: true} }

// BigInt returns b as a Num, kept in an int64 when it fits.
func BigInt(b *big.Int) Num {
	if b.IsInt64() {
		return Num{i: b.Int64()}
	}
	return Num{big: new(big.Int).Set(b)}
}

// IsFloat reports whether n is a float.
func (n Num) IsFloat() bool { return n.isFloat }

// Float64 returns n as a float64 (NaN stays NaN).
func (n Num) Float64() float64 {
	switch {
	case n.isFloat:
		return n.f
	case n.big != nil:
		f, _ := new(big.Float).SetInt(n.big).Float64()
		return f
	}
	return float64(n.i)
}

// Int64 returns n as an int64 and whether that is exact.
func (n Num) Int64() (int64, bool) {
	switch {
	case n.isFloat:
		return int64(n.f), n.f == math.Trunc(n.f) && math.Abs(n.f) < 1<<63
	case n.big != nil:
		return 0, false
	}
	return n.i, true
}

// Big returns an integer n as a *big.Int, or nil for a float.
func (n Num) Big() *big.Int {
	switch {
	case n.isFloat:
		return nil
	case n.big != nil:
		return new(big.Int).Set(n.big)
	}
	return big.NewInt(n.i)
}

// IsNull reports whether n is a float that JSON cannot hold (NaN, ±Inf).
func (n Num) IsNull() bool { return n.isFloat && (math.IsNaN(n.f) || math.IsInf(n.f, 0)) }

// String formats n as it appears in JSON.
func (n Num) String() string { return string(n.AppendJSON(nil)) }

// AppendJSON appends n as a JSON number; NaN and ±Inf become null. Integral
// floats keep a ".0" so that they read back as floats.
func (n Num) AppendJSON(b []byte) []byte {
	switch {
	case n.isFloat:
		return appendJSONFloat(b, n.f)
	case n.big != nil:
		return n.big.Append(b, 10)
	}
	return strconv.AppendInt(b, n.i, 10)
}

func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		b = strconv.AppendFloat(b, f, 'f', -1, 64)
		return append(b, ".0"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// int128 is a signed 128-bit accumulator: value = hi·2⁶⁴ + lo.
type int128 struct {
	hi int64
	lo uint64
}

func (a *int128) add(x int64) {
	var c uint64
	a.lo, c = bits.Add64(a.lo, uint64(x), 0)
	a.hi += int64(c) + (x >> 63) // x>>63 is -1 for negative x: sign extension
}

func (a int128) num() Num {
	if (a.hi == 0 && a.lo < 1<<63) || (a.hi == -1 && a.lo >= 1<<63) {
		return Int(int64(a.lo))
	}
	b := new(big.Int).SetInt64(a.hi)
	b.Lsh(b, 64)
	b.Add(b, new(big.Int).SetUint64(a.lo))
	return Num{big: b}
}

// uint128 accumulates sums of squares.
type uint128 struct{ hi, lo uint64 }

func (a *uint128) addSquare(x int64) {
	ux := uint64(x)
	if x < 0 {
		ux = uint64(-x)
	}
	h, l := bits.Mul64(ux, ux)
	var c uint64
	a.lo, c = bits.Add64(a.lo, l, 0)
	a.hi += h + c
}

func (a uint128) num() Num {
	if a.hi == 0 && a.lo < 1<<63 {
		return Int(int64(a.lo))
	}
	b := new(big.Int).SetUint64(a.hi)
	b.Lsh(b, 64)
	b.Add(b, new(big.Int).SetUint64(a.lo))
	return Num{big: b}
}
