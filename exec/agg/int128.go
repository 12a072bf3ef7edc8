package agg

import (
	"math/big"
	"math/bits"

	"github.com/shopspring/decimal"
)

// int128 is a signed 128-bit integer (two's complement, hi:lo). Integer
// sums accumulate in it so that sum(bigint) and avg never overflow and the
// hot path never allocates.
type int128 struct {
	hi int64
	lo uint64
}

func (x int128) add(v int64) int128 {
	lo, carry := bits.Add64(x.lo, uint64(v), 0)
	return int128{hi: x.hi + int64(carry) + (v >> 63), lo: lo}
}

func (x int128) sub(v int64) int128 {
	lo, borrow := bits.Sub64(x.lo, uint64(v), 0)
	return int128{hi: x.hi - int64(borrow) - (v >> 63), lo: lo}
}

func (x int128) plus(y int128) int128 {
	lo, carry := bits.Add64(x.lo, y.lo, 0)
	return int128{hi: x.hi + y.hi + int64(carry), lo: lo}
}

// fits reports whether x is within int64.
func (x int128) fits() bool { return x.hi == int64(x.lo)>>63 }

func (x int128) big() *big.Int {
	b := new(big.Int).SetInt64(x.hi)
	b.Lsh(b, 64)
	return b.Add(b, new(big.Int).SetUint64(x.lo))
}

func (x int128) decimal() decimal.Decimal {
	if x.fits() {
		return decimal.NewFromInt(int64(x.lo))
	}
	return decimal.NewFromBigInt(x.big(), 0)
}

func (x int128) float() float64 {
	if x.fits() {
		return float64(int64(x.lo))
	}
	f, _ := new(big.Float).SetInt(x.big()).Float64()
	return f
}
