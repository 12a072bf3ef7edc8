package agg

import (
	"cmp"
	"slices"
	"strings"
	"unsafe"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// bindMore picks the state of the functions beyond count/sum/avg/min/max.
func (a *Agg) bindMore(opt Options) error {
	switch a.fn {
	case "bool_and", "every", "bool_or":
		a.max = a.fn == "bool_or"
		a.retract = true
		a.flat = flatBool
		a.mk = func(a *Agg) State { return &boolState{a: a} }
		return nil
	case "first_value", "last_value":
		a.max = a.fn == "last_value"
		if opt.Retract || len(a.call.OrderBy) > 0 {
			a.retract = true
			a.mk = func(a *Agg) State { return &orderedState{a: a} }
		} else {
			a.mk = func(a *Agg) State { return &firstLastState{a: a} }
		}
		return nil
	case "string_agg":
		if err := a.bindSeparator(); err != nil {
			return err
		}
		a.retract = true
		a.mk = func(a *Agg) State { return &orderedState{a: a} }
		return nil
	case "approx_count_distinct":
		if opt.Retract {
			return sqlerr.New(sqlerr.FeatureNotSupported, "approx_count_distinct cannot retract rows").
				WithHint("use count(DISTINCT ...) over an updating input")
		}
		a.mk = func(a *Agg) State { return &hllState{a: a} }
		return nil
	case "approx_percentile":
		if opt.Retract {
			return sqlerr.New(sqlerr.FeatureNotSupported, "approx_percentile cannot retract rows")
		}
		if err := a.bindFraction(); err != nil {
			return err
		}
		a.mk = func(a *Agg) State { return &percentileState{a: a} }
		return nil
	}
	return sqlerr.New(sqlerr.UndefinedFunction, "aggregate function %s does not exist", a.fn)
}

// constParam returns the constant parameter i: call.Params first, else a
// constant second argument.
func (a *Agg) constParam() (types.Value, expr.Expr, bool) {
	if len(a.call.Params) > 0 {
		return a.call.Params[0], nil, true
	}
	if len(a.call.Args) > 1 {
		if c, ok := a.call.Args[1].(*expr.Const); ok {
			return c.V, nil, true
		}
		return types.Value{}, a.call.Args[1], false
	}
	return types.Value{}, nil, false
}

func (a *Agg) bindSeparator() error {
	v, e, ok := a.constParam()
	switch {
	case ok:
		a.sep = v.S // NULL separator: empty
	case e != nil:
		a.sepExpr = e
	default:
		return sqlerr.New(sqlerr.UndefinedFunction, "function string_agg(%s) does not exist", a.argKind).
			WithHint("string_agg takes a value and a separator: string_agg(x, ',')")
	}
	return nil
}

func (a *Agg) bindFraction() error {
	v, _, ok := a.constParam()
	if !ok {
		return sqlerr.New(sqlerr.InvalidParameterValue, "approx_percentile needs a constant fraction: approx_percentile(x, 0.5)")
	}
	if !v.K.IsNumeric() {
		return sqlerr.New(sqlerr.InvalidParameterValue, "approx_percentile fraction must be a number, not %s", v.K)
	}
	f := v.Float()
	if !(f >= 0 && f <= 1) {
		return sqlerr.New(sqlerr.InvalidParameterValue, "percentile value %g is not between 0 and 1", f)
	}
	a.fraction = f
	return nil
}

// ---- bool_and / bool_or ----

// boolState counts true and false inputs, which makes it retractable: the
// flat form [trues, falses].
type boolState struct {
	a *Agg
	w [2]int64
}

func (s *boolState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	return s.a.FlatUpdate(s.w[:], ctx, row, op)
}
func (s *boolState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	return s.Update(ctx, row, op)
}
func (s *boolState) Merge(other State) error {
	o, ok := other.(*boolState)
	if !ok {
		return mismatch(s, other)
	}
	return s.a.FlatMerge(s.w[:], o.w[:])
}
func (s *boolState) Result() types.Value { return s.a.FlatResult(s.w[:]) }
func (s *boolState) SizeBytes() int      { return int(unsafe.Sizeof(*s)) }
func (s *boolState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagBool)
	e.varint(s.w[0])
	e.varint(s.w[1])
	return e.b, nil
}
func (s *boolState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagBool)
	tr, fa := d.varint(), d.varint()
	if err := d.done(); err != nil {
		return err
	}
	s.w = [2]int64{tr, fa}
	return nil
}

// ---- first_value / last_value, append-only ----

// firstLastState keeps one value: the earliest (first_value) or latest
// (last_value) by event time, ties broken by arrival. NULL inputs are
// skipped, as Flink's FIRST_VALUE/LAST_VALUE do.
type firstLastState struct {
	a   *Agg
	v   types.Value
	t   int64
	set bool
}

func (s *firstLastState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	return s.UpdateAt(ctx, row, op, chunk.NoTime)
}
func (s *firstLastState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, t int64) error {
	v, ok, err := s.a.input(ctx, row)
	if !ok {
		return err
	}
	if op == chunk.Delete {
		return s.a.errNoRetract()
	}
	s.add(v, t)
	return nil
}

// add takes v at time t as arriving after everything already seen.
func (s *firstLastState) add(v types.Value, t int64) {
	if !s.set || (s.a.max && t >= s.t) || (!s.a.max && t < s.t) {
		s.v, s.t, s.set = v, t, true
	}
}
func (s *firstLastState) Merge(other State) error {
	o, ok := other.(*firstLastState)
	if !ok {
		return mismatch(s, other)
	}
	if o.set {
		s.add(o.v, o.t)
	}
	return nil
}
func (s *firstLastState) Result() types.Value {
	if !s.set {
		return types.NullValue
	}
	return s.v
}
func (s *firstLastState) SizeBytes() int { return int(unsafe.Sizeof(*s)) + len(s.v.S) }
func (s *firstLastState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagFirstLast)
	e.bool(s.set)
	e.varint(s.t)
	e.value(s.v)
	return e.b, nil
}
func (s *firstLastState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagFirstLast)
	set, t, v := d.bool(), d.varint(), d.value()
	if err := d.done(); err != nil {
		return err
	}
	s.set, s.t, s.v = set, t, v
	return nil
}

// ---- ordered inputs: string_agg, and first/last_value with ORDER BY or retraction ----

// ordEntry is one input of an orderedState. Entries are kept in arrival
// order.
type ordEntry struct {
	v   types.Value
	t   int64
	key types.Row // ORDER BY values; nil without ORDER BY
	sep string    // string_agg separator, when not constant
}

// orderedState keeps its inputs (the function needs them): string_agg
// concatenates them in order, first_value/last_value pick an end.
// Deleting removes one matching entry.
type orderedState struct {
	a *Agg
	e []ordEntry
	// heap is the bytes the entries reference (strings, keys), kept up to
	// date for an O(1) SizeBytes.
	heap int
}

func (x *ordEntry) heapBytes() int {
	return len(x.v.S) + len(x.sep) + len(x.key)*int(unsafe.Sizeof(types.Value{}))
}

func (s *orderedState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	return s.UpdateAt(ctx, row, op, chunk.NoTime)
}

func (s *orderedState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, t int64) error {
	v, ok, err := s.a.input(ctx, row)
	if !ok {
		return err
	}
	ent := ordEntry{v: v, t: t}
	if s.a.sepExpr != nil {
		sv, err := s.a.sepExpr.Eval(ctx, row)
		if err != nil {
			return err
		}
		ent.sep = sv.S
	}
	if ob := s.a.call.OrderBy; len(ob) > 0 {
		ent.key = make(types.Row, len(ob))
		for i, k := range ob {
			if ent.key[i], err = k.Expr.Eval(ctx, row); err != nil {
				return err
			}
		}
	}
	if op == chunk.Delete {
		return s.remove(ent)
	}
	s.e = append(s.e, ent)
	s.heap += ent.heapBytes()
	return nil
}

// remove deletes the latest entry equal to ent.
func (s *orderedState) remove(ent ordEntry) error {
	for i := len(s.e) - 1; i >= 0; i-- {
		x := &s.e[i]
		if types.Equal(x.v, ent.v) && x.v.K == ent.v.K && x.sep == ent.sep &&
			(ent.t == chunk.NoTime || x.t == ent.t) && types.EqualRows(x.key, ent.key) {
			s.heap -= x.heapBytes()
			s.e = slices.Delete(s.e, i, i+1)
			return nil
		}
	}
	return errRetractMissing(s.a.fn, ent.v)
}

func (s *orderedState) Merge(other State) error {
	o, ok := other.(*orderedState)
	if !ok {
		return mismatch(s, other)
	}
	s.e = append(s.e, o.e...)
	s.heap += o.heap
	return nil
}

// compareEntries orders entries by ORDER BY keys, or by event time when
// there are none.
func (s *orderedState) compareEntries(x, y *ordEntry) int {
	if ob := s.a.call.OrderBy; len(ob) > 0 {
		return CompareKeys(ob, x.key, y.key)
	}
	return cmp.Compare(x.t, y.t)
}

func (s *orderedState) Result() types.Value {
	if len(s.e) == 0 {
		return types.NullValue
	}
	if s.a.fn != "string_agg" {
		best := 0
		for i := 1; i < len(s.e); i++ {
			c := s.compareEntries(&s.e[i], &s.e[best])
			if (s.a.max && c >= 0) || (!s.a.max && c < 0) {
				best = i
			}
		}
		return s.e[best].v
	}
	order := make([]int, len(s.e))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return s.compareEntries(&s.e[i], &s.e[j]) })
	var b strings.Builder
	for n, i := range order {
		if n > 0 {
			if s.a.sepExpr != nil {
				b.WriteString(s.e[i].sep)
			} else {
				b.WriteString(s.a.sep)
			}
		}
		b.WriteString(s.e[i].v.S)
	}
	return types.Value{K: s.a.typ.Kind, S: b.String()}
}

func (s *orderedState) SizeBytes() int {
	return int(unsafe.Sizeof(*s)) + cap(s.e)*int(unsafe.Sizeof(ordEntry{})) + s.heap
}

func (s *orderedState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagOrdered)
	e.uvarint(uint64(len(s.e)))
	for i := range s.e {
		x := &s.e[i]
		e.value(x.v)
		e.varint(x.t)
		e.str(x.sep)
		e.uvarint(uint64(len(x.key)))
		for _, k := range x.key {
			e.value(k)
		}
	}
	return e.b, nil
}

func (s *orderedState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagOrdered)
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
	}
	var es []ordEntry
	for i := uint64(0); i < n && d.err == nil; i++ {
		x := ordEntry{v: d.value(), t: d.varint(), sep: d.str()}
		if nk := d.uvarint(); nk > 0 {
			if nk > uint64(len(d.b)) {
				d.fail()
				break
			}
			x.key = make(types.Row, nk)
			for j := range x.key {
				x.key[j] = d.value()
			}
		}
		es = append(es, x)
	}
	if err := d.done(); err != nil {
		return err
	}
	s.e, s.heap = es, 0
	for i := range es {
		s.heap += es[i].heapBytes()
	}
	return nil
}

// CompareKeys compares two rows of ORDER BY values under keys: ascending
// unless Desc, NULLs last unless NullsFirst. The batch executor's Sort uses
// the same order.
func CompareKeys(keys []plan.SortKey, x, y types.Row) int {
	for i, k := range keys {
		a, b := x[i], y[i]
		var c int
		switch {
		case a.IsNull() && b.IsNull():
			c = 0
		case a.IsNull() != b.IsNull():
			// NULL placement follows NullsFirst, whatever the direction.
			if a.IsNull() == k.NullsFirst {
				return -1
			}
			return 1
		default:
			c = types.Compare(a, b)
			if k.Desc {
				c = -c
			}
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
