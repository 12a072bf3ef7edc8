package agg

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// ---- count ----

// countStarState is count(*) without FILTER: it needs no evaluation at all.
type countStarState struct{ n int64 }

func (s *countStarState) Update(_ *expr.Context, _ types.Row, op chunk.Op) error {
	s.n += int64(op)
	return nil
}
func (s *countStarState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	return s.Update(ctx, row, op)
}
func (s *countStarState) Merge(other State) error {
	o, ok := other.(*countStarState)
	if !ok {
		return mismatch(s, other)
	}
	s.n += o.n
	return nil
}
func (s *countStarState) Result() types.Value { return types.NewInt(s.n) }
func (s *countStarState) SizeBytes() int      { return int(unsafe.Sizeof(*s)) }
func (s *countStarState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagCountStar)
	e.varint(s.n)
	return e.b, nil
}
func (s *countStarState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagCountStar)
	n := d.varint()
	if err := d.done(); err != nil {
		return err
	}
	s.n = n
	return nil
}

// countState is count(x) and count(*) FILTER (...): its flat form.
type countState struct {
	a *Agg
	w [1]int64
}

func (s *countState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	return s.a.FlatUpdate(s.w[:], ctx, row, op)
}
func (s *countState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	return s.Update(ctx, row, op)
}
func (s *countState) Merge(other State) error {
	o, ok := other.(*countState)
	if !ok {
		return mismatch(s, other)
	}
	return s.a.FlatMerge(s.w[:], o.w[:])
}
func (s *countState) Result() types.Value { return s.a.FlatResult(s.w[:]) }
func (s *countState) SizeBytes() int      { return int(unsafe.Sizeof(*s)) }
func (s *countState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagCount)
	e.varint(s.w[0])
	return e.b, nil
}
func (s *countState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagCount)
	n := d.varint()
	if err := d.done(); err != nil {
		return err
	}
	s.w[0] = n
	return nil
}

// ---- sum / avg ----

func outOfRange(k types.Kind) error {
	name := "bigint"
	switch k {
	case types.Interval:
		name = "interval"
	case types.Int32:
		name = "integer"
	case types.Int16:
		name = "smallint"
	}
	return sqlerr.New(sqlerr.NumericOutOfRange, "%s out of range", name)
}

// intSumState is sum/avg over integers and intervals, accumulated exactly in
// 128 bits: its flat form [sum.hi, sum.lo, n].
type intSumState struct {
	a *Agg
	w [3]int64
}

func (s *intSumState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	return s.a.FlatUpdate(s.w[:], ctx, row, op)
}
func (s *intSumState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	return s.Update(ctx, row, op)
}
func (s *intSumState) Merge(other State) error {
	o, ok := other.(*intSumState)
	if !ok {
		return mismatch(s, other)
	}
	return s.a.FlatMerge(s.w[:], o.w[:])
}
func (s *intSumState) Result() types.Value { return s.a.FlatResult(s.w[:]) }
func (s *intSumState) SizeBytes() int      { return int(unsafe.Sizeof(*s)) }
func (s *intSumState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagIntSum)
	e.varint(s.w[0])
	e.uvarint(uint64(s.w[1]))
	e.varint(s.w[2])
	return e.b, nil
}
func (s *intSumState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagIntSum)
	hi, lo, n := d.varint(), d.uvarint(), d.varint()
	if err := d.done(); err != nil {
		return err
	}
	s.w = [3]int64{hi, int64(lo), n}
	return nil
}

func floatResult(k types.Kind, f float64) types.Value {
	switch k {
	case types.Float32:
		return types.NewFloat32(f)
	case types.Numeric:
		return types.NewNumeric(decimal.NewFromFloat(f))
	}
	return types.NewFloat(f)
}

// floatSumState is sum/avg over floating point input (or with a floating
// point result): its flat form [float64 bits of sum, n].
type floatSumState struct {
	a *Agg
	w [2]int64
}

func (s *floatSumState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	return s.a.FlatUpdate(s.w[:], ctx, row, op)
}
func (s *floatSumState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	return s.Update(ctx, row, op)
}
func (s *floatSumState) Merge(other State) error {
	o, ok := other.(*floatSumState)
	if !ok {
		return mismatch(s, other)
	}
	return s.a.FlatMerge(s.w[:], o.w[:])
}
func (s *floatSumState) Result() types.Value { return s.a.FlatResult(s.w[:]) }
func (s *floatSumState) SizeBytes() int      { return int(unsafe.Sizeof(*s)) }
func (s *floatSumState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagFloatSum)
	e.float(math.Float64frombits(uint64(s.w[0])))
	e.varint(s.w[1])
	return e.b, nil
}
func (s *floatSumState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagFloatSum)
	sum, n := d.float(), d.varint()
	if err := d.done(); err != nil {
		return err
	}
	s.w = [2]int64{int64(math.Float64bits(sum)), n}
	return nil
}

// divNumeric divides sum (of display scale scale) by n with the result
// scale Postgres' numeric division picks (select_div_scale): at least 16
// significant digits, at least the inputs' display scales.
func divNumeric(sum decimal.Decimal, scale int32, n int64) types.Value {
	cnt := decimal.NewFromInt(n)
	w1, f1 := nbaseWeight(sum)
	w2, f2 := nbaseWeight(cnt)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	rscale := int32(16 - qweight*4)
	rscale = max(rscale, scale, 0)
	rscale = min(rscale, 1000)
	return types.Value{K: types.Numeric, S: sum.DivRound(cnt, rscale).StringFixed(rscale)}
}

// nbaseWeight returns the weight and first digit of d in Postgres' base
// 10000 numeric representation (0, 0 for zero).
func nbaseWeight(d decimal.Decimal) (weight, first int) {
	s := d.Abs().String()
	intPart, frac, _ := strings.Cut(s, ".")
	intPart = strings.TrimLeft(intPart, "0")
	if intPart != "" {
		nd := len(intPart)
		weight = (nd - 1) / 4
		lead := nd - weight*4
		first, _ = strconv.Atoi(intPart[:lead])
		return weight, first
	}
	for g := 0; g*4 < len(frac); g++ {
		grp := frac[g*4:]
		if len(grp) > 4 {
			grp = grp[:4]
		}
		grp += strings.Repeat("0", 4-len(grp))
		if v, _ := strconv.Atoi(grp); v != 0 {
			return -(g + 1), v
		}
	}
	return 0, 0
}

// ---- min / max ----

// minMaxIntState is min/max over kinds whose order is the order of I
// (integers, timestamps, dates, intervals, booleans). Append-only. It is
// the flat form [v, set].
type minMaxIntState struct {
	a *Agg
	w [2]int64
}

func (s *minMaxIntState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	return s.a.FlatUpdate(s.w[:], ctx, row, op)
}
func (s *minMaxIntState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	return s.Update(ctx, row, op)
}
func (s *minMaxIntState) Merge(other State) error {
	o, ok := other.(*minMaxIntState)
	if !ok {
		return mismatch(s, other)
	}
	return s.a.FlatMerge(s.w[:], o.w[:])
}
func (s *minMaxIntState) Result() types.Value { return s.a.FlatResult(s.w[:]) }
func (s *minMaxIntState) SizeBytes() int      { return int(unsafe.Sizeof(*s)) }
func (s *minMaxIntState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagMinMaxInt)
	e.bool(s.w[1] != 0)
	e.varint(s.w[0])
	return e.b, nil
}
func (s *minMaxIntState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagMinMaxInt)
	set, v := d.bool(), d.varint()
	if err := d.done(); err != nil {
		return err
	}
	s.w = [2]int64{v, 0}
	if set {
		s.w[1] = 1
	}
	return nil
}

// minMaxState is min/max over any comparable kind. Append-only.
type minMaxState struct {
	a   *Agg
	v   types.Value
	set bool
}

func (s *minMaxState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	v, ok, err := s.a.input(ctx, row)
	if !ok {
		return err
	}
	if op == chunk.Delete {
		return s.a.errNoRetract()
	}
	s.add(v)
	return nil
}
func (s *minMaxState) add(v types.Value) {
	if !s.set {
		s.v, s.set = v, true
		return
	}
	c := types.Compare(v, s.v)
	if (s.a.max && c > 0) || (!s.a.max && c < 0) {
		s.v = v
	}
}
func (s *minMaxState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	return s.Update(ctx, row, op)
}
func (s *minMaxState) Merge(other State) error {
	o, ok := other.(*minMaxState)
	if !ok {
		return mismatch(s, other)
	}
	if o.set {
		s.add(o.v)
	}
	return nil
}
func (s *minMaxState) Result() types.Value {
	if !s.set {
		return types.NullValue
	}
	return s.v
}
func (s *minMaxState) SizeBytes() int { return int(unsafe.Sizeof(*s)) + len(s.v.S) }
func (s *minMaxState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagMinMax)
	e.bool(s.set)
	e.value(s.v)
	return e.b, nil
}
func (s *minMaxState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagMinMax)
	set, v := d.bool(), d.value()
	if err := d.done(); err != nil {
		return err
	}
	s.set, s.v = set, v
	return nil
}

// msItem is one distinct value of a multiset with its multiplicity.
type msItem struct {
	v types.Value
	n int64
}

// multiset is a small ordered multiset of values (sorted by types.Compare).
// Retractable min/max keep one; it grows only with distinct values.
type multiset []msItem

func (m multiset) find(v types.Value) (int, bool) {
	i := sort.Search(len(m), func(i int) bool { return types.Compare(m[i].v, v) >= 0 })
	return i, i < len(m) && types.Compare(m[i].v, v) == 0
}

// add adds n copies of v (n may be negative); it reports false when that
// would retract a value that is not there. grew is the change in string
// bytes held (a value added or removed).
func (m *multiset) add(v types.Value, n int64) (ok bool, grew int) {
	i, found := m.find(v)
	if found {
		c := (*m)[i].n + n
		switch {
		case c < 0:
			return false, 0
		case c == 0:
			grew = -len((*m)[i].v.S)
			*m = append((*m)[:i], (*m)[i+1:]...)
		default:
			(*m)[i].n = c
		}
		return true, grew
	}
	if n < 0 {
		return false, 0
	}
	*m = append(*m, msItem{})
	copy((*m)[i+1:], (*m)[i:])
	(*m)[i] = msItem{v: v, n: n}
	return true, len(v.S)
}

// strBytes sums the string bytes of the values.
func (m multiset) strBytes() int {
	n := 0
	for _, it := range m {
		n += len(it.v.S)
	}
	return n
}

func (m multiset) encode(e *encoder) {
	e.uvarint(uint64(len(m)))
	for _, it := range m {
		e.value(it.v)
		e.varint(it.n)
	}
}

func decodeMultiset(d *decoder) multiset {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	m := make(multiset, 0, n)
	for range n {
		v := d.value()
		c := d.varint()
		m = append(m, msItem{v: v, n: c})
	}
	return m
}

// errRetractMissing is returned when a Delete names a value the state does
// not hold (the input changelog is inconsistent).
func errRetractMissing(fn string, v types.Value) error {
	return sqlerr.New(sqlerr.Internal, "%s: retraction of a value that was never added: %s", fn, v.String())
}

// multisetState is retractable min/max.
type multisetState struct {
	a    *Agg
	m    multiset
	strs int // string bytes held by m, for an O(1) SizeBytes
}

func (s *multisetState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	v, ok, err := s.a.input(ctx, row)
	if !ok {
		return err
	}
	ok, grew := s.m.add(v, int64(op))
	if !ok {
		return errRetractMissing(s.a.fn, v)
	}
	s.strs += grew
	return nil
}
func (s *multisetState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	return s.Update(ctx, row, op)
}
func (s *multisetState) Merge(other State) error {
	o, ok := other.(*multisetState)
	if !ok {
		return mismatch(s, other)
	}
	for _, it := range o.m {
		ok, grew := s.m.add(it.v, it.n)
		if !ok {
			return errRetractMissing(s.a.fn, it.v)
		}
		s.strs += grew
	}
	return nil
}
func (s *multisetState) Result() types.Value {
	if len(s.m) == 0 {
		return types.NullValue
	}
	if s.a.max {
		return s.m[len(s.m)-1].v
	}
	return s.m[0].v
}
func (s *multisetState) SizeBytes() int {
	return int(unsafe.Sizeof(*s)) + cap(s.m)*int(unsafe.Sizeof(msItem{})) + s.strs
}
func (s *multisetState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagMultiset)
	s.m.encode(e)
	return e.b, nil
}
func (s *multisetState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagMultiset)
	m := decodeMultiset(d)
	if err := d.done(); err != nil {
		return err
	}
	s.m, s.strs = m, m.strBytes()
	return nil
}
