package agg

import (
	"math"
	"slices"
	"unsafe"

	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// bindDistinct compiles fn(DISTINCT x): a value→count map in front of an
// inner state of the plain function over the distinct values. The map makes
// it retractable whenever the inner state is.
func (a *Agg) bindDistinct(opt Options) error {
	if a.arg == nil {
		return sqlerr.New(sqlerr.SyntaxError, "count(DISTINCT *) is not valid")
	}
	if len(a.call.OrderBy) > 0 {
		return sqlerr.New(sqlerr.FeatureNotSupported, "ORDER BY in an aggregate with DISTINCT is not supported")
	}
	inner := plan.AggCall{
		Func:   a.fn,
		Args:   []expr.Expr{&expr.ColRef{Idx: 0, Name: "distinct", T: a.arg.Type()}},
		Params: a.call.Params,
		Type:   a.typ,
	}
	if len(a.call.Args) > 1 {
		if c, ok := a.call.Args[1].(*expr.Const); ok {
			inner.Args = append(inner.Args, c)
		} else {
			inner.Args = append(inner.Args, &expr.ColRef{Idx: 1, Name: "arg2", T: a.call.Args[1].Type()})
		}
	}
	// The inner state retracts when a distinct value's last copy goes.
	in, err := CompileOptions(inner, Options{Retract: opt.Retract || canRetractCheaply(a.fn)})
	if err != nil {
		return err
	}
	a.retract = in.retract
	a.mk = func(a *Agg) State { return &distinctState{a: a, in: in} }
	return nil
}

func canRetractCheaply(fn string) bool {
	switch fn {
	case "count", "sum", "avg", "string_agg":
		return true
	}
	return false
}

// numericScaleKeys mark a normalised short numeric key by its scale.
var numericScaleKeys = func() (k [19]string) {
	for i := range k {
		k[i] = "\x00scale" + string(rune('a'+i))
	}
	return k
}()

// distinctKey normalises v for DISTINCT: integers of any width are one
// kind, numerics compare by value, -0 is 0.
func distinctKey(v types.Value) types.Value {
	switch v.K {
	case types.Int16, types.Int32:
		return types.Value{K: types.Int64, I: v.I}
	case types.Numeric:
		if c, sc, ok := parseNumeric(v.S); ok {
			// Normalised coefficient and scale, without allocating: the
			// scale marker strings cannot be decimal text.
			for sc > 0 && c%10 == 0 {
				c /= 10
				sc--
			}
			return types.Value{K: types.Numeric, I: c, S: numericScaleKeys[sc]}
		}
		d, err := decimal.NewFromString(v.S)
		if err == nil {
			if c, sc, ok := parseNumeric(d.String()); ok {
				for sc > 0 && c%10 == 0 {
					c /= 10
					sc--
				}
				return types.Value{K: types.Numeric, I: c, S: numericScaleKeys[sc]}
			}
			return types.Value{K: types.Numeric, S: d.String()}
		}
	case types.Float32, types.Float64:
		if f := v.Float(); f == 0 {
			return types.NewFloat(0)
		} else if math.IsNaN(f) {
			return types.NewFloat(math.NaN())
		}
		return types.Value{K: types.Float64, I: v.I}
	}
	return v
}

// distinctEntry is one distinct value: how many input rows carry it and the
// first row's representation (fed to the inner state).
type distinctEntry struct {
	n   int64
	row [2]types.Value // value, and the second argument when not constant
	t   int64
}

type distinctState struct {
	a  *Agg
	in *Agg
	m  map[types.Value]*distinctEntry
	st State
	// mapBytes approximates the map's heap size, kept up to date so that
	// SizeBytes is O(1).
	mapBytes int
}

// entryBytes approximates the heap cost of one map element: key, pointer,
// entry and map overhead, plus the strings.
func entryBytes(k types.Value, e *distinctEntry) int {
	return int(unsafe.Sizeof(types.Value{})) + 8 + int(unsafe.Sizeof(distinctEntry{})) + 16 +
		len(k.S) + len(e.row[0].S) + len(e.row[1].S)
}

func (s *distinctState) inner() State {
	if s.st == nil {
		s.st = s.in.NewState()
		s.m = make(map[types.Value]*distinctEntry)
	}
	return s.st
}

func (s *distinctState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	return s.UpdateAt(ctx, row, op, chunk.NoTime)
}

func (s *distinctState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, t int64) error {
	v, ok, err := s.a.input(ctx, row)
	if !ok {
		return err
	}
	var arg2 types.Value
	if len(s.a.call.Args) > 1 {
		if arg2, err = s.a.call.Args[1].Eval(ctx, row); err != nil {
			return err
		}
	}
	k := distinctKey(v)
	// Fast path: another copy of a value already present, no allocation.
	if cur := s.m[k]; cur != nil && cur.n+int64(op) > 0 {
		cur.n += int64(op)
		return nil
	}
	ent := &distinctEntry{n: int64(op), t: t}
	ent.row[0], ent.row[1] = v, arg2
	return s.add(k, ent)
}

// add folds ent (n copies of a value, n may be negative) into the map,
// telling the inner state when a value appears or disappears.
func (s *distinctState) add(k types.Value, ent *distinctEntry) error {
	in := s.inner()
	cur := s.m[k]
	switch {
	case cur == nil && ent.n < 0:
		return errRetractMissing(s.a.fn, ent.row[0])
	case cur == nil:
		if err := in.UpdateAt(nil, ent.row[:], chunk.Insert, ent.t); err != nil {
			return err
		}
		s.m[k] = ent
		s.mapBytes += entryBytes(k, ent)
	case cur.n+ent.n < 0:
		return errRetractMissing(s.a.fn, ent.row[0])
	case cur.n+ent.n == 0:
		if err := in.UpdateAt(nil, cur.row[:], chunk.Delete, cur.t); err != nil {
			return err
		}
		delete(s.m, k)
		s.mapBytes -= entryBytes(k, cur)
	default:
		cur.n += ent.n
	}
	return nil
}

func (s *distinctState) Merge(other State) error {
	o, ok := other.(*distinctState)
	if !ok {
		return mismatch(s, other)
	}
	for _, k := range o.sortedKeys() {
		e := *o.m[k]
		if err := s.add(k, &e); err != nil {
			return err
		}
	}
	return nil
}

// sortedKeys returns the map's keys in value order (deterministic merges
// and encodings).
func (s *distinctState) sortedKeys() []types.Value {
	keys := make([]types.Value, 0, len(s.m))
	for k := range s.m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, types.Compare)
	return keys
}

func (s *distinctState) Result() types.Value { return s.inner().Result() }

func (s *distinctState) SizeBytes() int {
	n := int(unsafe.Sizeof(*s)) + s.mapBytes
	if s.st != nil {
		n += s.st.SizeBytes()
	}
	return n
}

func (s *distinctState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagDistinct)
	s.inner()
	keys := s.sortedKeys()
	e.uvarint(uint64(len(keys)))
	for _, k := range keys {
		x := s.m[k]
		e.value(k)
		e.varint(x.n)
		e.varint(x.t)
		e.value(x.row[0])
		e.value(x.row[1])
	}
	b, err := s.st.MarshalBinary()
	if err != nil {
		return nil, err
	}
	e.str(string(b))
	return e.b, nil
}

func (s *distinctState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagDistinct)
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
	}
	m := make(map[types.Value]*distinctEntry)
	size := 0
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.value()
		x := &distinctEntry{n: d.varint(), t: d.varint()}
		x.row[0], x.row[1] = d.value(), d.value()
		m[k] = x
		size += entryBytes(k, x)
	}
	raw := d.bytes()
	if err := d.done(); err != nil {
		return err
	}
	st := s.in.NewState()
	if err := st.UnmarshalBinary(raw); err != nil {
		return err
	}
	s.m, s.st, s.mapBytes = m, st, size
	return nil
}
