package agg

import (
	"math"
	"math/bits"
	"strconv"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// numericSumState is sum/avg over NUMERIC. It keeps the largest input scale,
// as Postgres does for the result's display scale. While inputs have at
// most 18 digits it sums exactly in 128 bits at that scale (no allocation);
// otherwise it switches, for good, to arbitrary precision.
type numericSumState struct {
	a     *Agg
	fast  int128 // the sum times 10^scale, while !big
	dec   decimal.Decimal
	big   bool
	n     int64
	scale int32
}

// parseNumeric parses canonical numeric text ("-12.50") of at most 18
// digits into a coefficient and a scale.
func parseNumeric(s string) (coef int64, scale int32, ok bool) {
	i, neg := 0, false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg, i = s[0] == '-', 1
	}
	var c uint64
	digits := 0
	scale = -1
	for ; i < len(s); i++ {
		ch := s[i]
		if ch == '.' {
			if scale >= 0 {
				return 0, 0, false
			}
			scale = 0
			continue
		}
		if ch < '0' || ch > '9' {
			return 0, 0, false
		}
		digits++
		if digits > 18 {
			return 0, 0, false
		}
		c = c*10 + uint64(ch-'0')
		if scale >= 0 {
			scale++
		}
	}
	if digits == 0 {
		return 0, 0, false
	}
	if scale < 0 {
		scale = 0
	}
	if neg {
		return -int64(c), scale, true
	}
	return int64(c), scale, true
}

var pow10 = func() (p [19]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

func (x int128) neg() int128 {
	lo, b := bits.Sub64(0, x.lo, 0)
	return int128{hi: -x.hi - int64(b), lo: lo}
}

// mulSmall multiplies by m; ok is false on overflow.
func (x int128) mulSmall(m uint64) (int128, bool) {
	neg := x.hi < 0
	if neg {
		x = x.neg()
	}
	h1, l := bits.Mul64(x.lo, m)
	h2, h := bits.Mul64(uint64(x.hi), m)
	h, c := bits.Add64(h, h1, 0)
	if h2 != 0 || c != 0 || h > math.MaxInt64 {
		return int128{}, false
	}
	r := int128{hi: int64(h), lo: l}
	if neg {
		r = r.neg()
	}
	return r, true
}

// addChecked adds y; ok is false on overflow.
func (x int128) addChecked(y int128) (int128, bool) {
	r := x.plus(y)
	if (x.hi < 0) == (y.hi < 0) && (r.hi < 0) != (x.hi < 0) {
		return int128{}, false
	}
	return r, true
}

// rescale returns x (at scale from) at scale to >= from.
func rescale(x int128, from, to int32) (int128, bool) {
	for d := to - from; d > 0; {
		k := min(d, 18)
		var ok bool
		if x, ok = x.mulSmall(pow10[k]); !ok {
			return int128{}, false
		}
		d -= k
	}
	return x, true
}

func (x int128) decimalAt(scale int32) decimal.Decimal {
	if x.fits() {
		return decimal.New(int64(x.lo), -scale)
	}
	return decimal.NewFromBigInt(x.big(), -scale)
}

// toBig leaves the exact fast path.
func (s *numericSumState) toBig() {
	if !s.big {
		s.dec = s.fast.decimalAt(s.scale)
		s.big = true
	}
}

func (s *numericSumState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	v, ok, err := s.a.input(ctx, row)
	if !ok {
		return err
	}
	if !s.big && v.K == types.Numeric {
		if c, sc, ok := parseNumeric(v.S); ok && s.addFast(c, sc, op) {
			s.n += int64(op)
			return nil
		}
	}
	s.toBig()
	d := v.Decimal()
	if sc := -d.Exponent(); sc > s.scale {
		s.scale = sc
	}
	if op == chunk.Delete {
		s.dec = s.dec.Sub(d)
	} else {
		s.dec = s.dec.Add(d)
	}
	s.n += int64(op)
	return nil
}

// addFast adds (or retracts) c × 10^-sc on the exact path; false when it
// does not fit (the state is then unchanged).
func (s *numericSumState) addFast(c int64, sc int32, op chunk.Op) bool {
	sum, scale := s.fast, s.scale
	if sc > scale {
		var ok bool
		if sum, ok = rescale(sum, scale, sc); !ok {
			return false
		}
		scale = sc
	}
	x, ok := rescale(int128{hi: c >> 63, lo: uint64(c)}, sc, scale)
	if !ok {
		return false
	}
	if op == chunk.Delete {
		x = x.neg()
	}
	if sum, ok = sum.addChecked(x); !ok {
		return false
	}
	s.fast, s.scale = sum, scale
	return true
}

func (s *numericSumState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	return s.Update(ctx, row, op)
}

func (s *numericSumState) Merge(other State) error {
	o, ok := other.(*numericSumState)
	if !ok {
		return mismatch(s, other)
	}
	if !s.big && !o.big {
		scale := max(s.scale, o.scale)
		a, ok1 := rescale(s.fast, s.scale, scale)
		b, ok2 := rescale(o.fast, o.scale, scale)
		if ok1 && ok2 {
			if sum, ok := a.addChecked(b); ok {
				s.fast, s.scale = sum, scale
				s.n += o.n
				return nil
			}
		}
	}
	s.toBig()
	s.dec = s.dec.Add(o.sum())
	s.n += o.n
	s.scale = max(s.scale, o.scale)
	return nil
}

// sum returns the sum as a decimal.
func (s *numericSumState) sum() decimal.Decimal {
	if s.big {
		return s.dec
	}
	return s.fast.decimalAt(s.scale)
}

func (s *numericSumState) Result() types.Value {
	if s.n <= 0 {
		return types.NullValue
	}
	k := s.a.typ.Kind
	if k == types.Float32 || k == types.Float64 {
		f, _ := s.sum().Float64()
		if s.a.avg {
			f /= float64(s.n)
		}
		return floatResult(k, f)
	}
	if s.a.avg {
		return divNumeric(s.sum(), s.scale, s.n)
	}
	if !s.big && s.fast.fits() {
		return types.Value{K: types.Numeric, S: formatScaled(int64(s.fast.lo), s.scale)}
	}
	return types.Value{K: types.Numeric, S: s.sum().StringFixed(s.scale)}
}

// formatScaled renders c × 10^-scale with exactly scale decimals.
func formatScaled(c int64, scale int32) string {
	neg := c < 0
	u := uint64(c)
	if neg {
		u = -u
	}
	digits := strconv.FormatUint(u, 10)
	for int32(len(digits)) <= scale {
		digits = "0" + digits
	}
	out := digits
	if scale > 0 {
		cut := len(digits) - int(scale)
		out = digits[:cut] + "." + digits[cut:]
	}
	if neg {
		out = "-" + out
	}
	return out
}

func (s *numericSumState) SizeBytes() int {
	n := int(unsafe.Sizeof(*s))
	if s.big {
		n += 48 // the big.Int behind the decimal
	}
	return n
}

func (s *numericSumState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagNumericSum)
	e.str(s.sum().String())
	e.varint(s.n)
	e.varint(int64(s.scale))
	return e.b, nil
}

func (s *numericSumState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagNumericSum)
	txt, n, scale := d.str(), d.varint(), d.varint()
	if err := d.done(); err != nil {
		return err
	}
	if scale < 0 || scale > 1000 {
		return errCorrupt
	}
	sum, err := decimal.NewFromString(txt)
	if err != nil {
		return err
	}
	*s = numericSumState{a: s.a, n: n, scale: int32(scale)}
	if c := sum.Shift(int32(scale)); c.IsInteger() && c.BigInt().IsInt64() && -sum.Exponent() <= int32(scale) {
		s.fast = int128{hi: c.IntPart() >> 63, lo: uint64(c.IntPart())}
		return nil
	}
	s.big, s.dec = true, sum
	return nil
}
