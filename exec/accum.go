package exec

import (
	"github.com/sluice-db/sluice/exec/agg"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// accState is one aggregate's accumulator for one group: an exec/agg State.
// The engine relies on Merge leaving its argument intact (hop panes are
// merged into every window that holds them), which exec/agg's states do.
type accState = agg.State

// aggFn makes states for one compiled aggregate call (an *agg.Agg).
type aggFn interface {
	NewState() agg.State
	Retractable() bool
}

// compileAggs compiles the calls with exec/agg; retract says that the input
// may retract, so min/max-like states must keep their inputs.
func compileAggs(calls []plan.AggCall, retract bool) ([]aggFn, error) {
	out := make([]aggFn, len(calls))
	for i, c := range calls {
		a, err := agg.CompileOptions(c, agg.Options{Retract: retract})
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// builtinState is the engine's original private accumulator for count,
// sum, avg, min and max, used before exec/agg landed. It is no longer
// compiled into plans; it stays while the checkpoint encodings in
// snapshot_builtin.go refer to it.
type builtinState interface {
	UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, t int64) error
	Merge(other builtinState) error
	Result() types.Value
	SizeBytes() int
}

// builtinAgg is the engine's private implementation of the common
// aggregates (count, sum, avg, min, max), used until exec/agg lands.
type builtinAgg struct {
	fn      string
	arg     expr.Expr
	filter  expr.Expr
	typ     types.Type
	retract bool
}

func compileBuiltin(c plan.AggCall, retract bool) (*builtinAgg, error) {
	a := &builtinAgg{fn: c.Func, filter: c.Filter, typ: c.Type, retract: retract}
	if len(c.Args) > 0 {
		a.arg = c.Args[0]
	}
	if c.Distinct {
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "%s(DISTINCT ...) is not supported by the streaming engine yet", c.Func)
	}
	switch c.Func {
	case "count":
	case "sum", "avg", "min", "max":
		if a.arg == nil {
			return nil, sqlerr.New(sqlerr.UndefinedFunction, "%s() needs an argument", c.Func)
		}
	default:
		return nil, sqlerr.New(sqlerr.UndefinedFunction, "aggregate function %s is not supported by the streaming engine yet", c.Func)
	}
	return a, nil
}

func (a *builtinAgg) Retractable() bool {
	return a.retract || a.fn == "count" || a.fn == "sum" || a.fn == "avg"
}

func (a *builtinAgg) NewState() builtinState {
	switch a.fn {
	case "count":
		return &countState{a: a}
	case "sum", "avg":
		return &sumState{a: a}
	default:
		return &minMaxState{a: a}
	}
}

// input evaluates FILTER and the argument; ok is false when the row does
// not count (filtered out or NULL argument).
func (a *builtinAgg) input(ctx *expr.Context, row types.Row) (types.Value, bool, error) {
	if a.filter != nil {
		v, err := a.filter.Eval(ctx, row)
		if err != nil {
			return types.Value{}, false, err
		}
		if v.IsNull() || !v.Bool() {
			return types.Value{}, false, nil
		}
	}
	if a.arg == nil {
		return types.Value{}, true, nil
	}
	v, err := a.arg.Eval(ctx, row)
	if err != nil {
		return v, false, err
	}
	return v, !v.IsNull(), nil
}

type countState struct {
	a *builtinAgg
	n int64
}

func (s *countState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	if s.a.arg == nil && s.a.filter == nil {
		s.n += int64(op)
		return nil
	}
	_, ok, err := s.a.input(ctx, row)
	if ok {
		s.n += int64(op)
	}
	return err
}
func (s *countState) Merge(o builtinState) error { s.n += o.(*countState).n; return nil }
func (s *countState) Result() types.Value        { return types.NewInt(s.n) }
func (s *countState) SizeBytes() int             { return 16 }

type sumState struct {
	a     *builtinAgg
	n     int64
	i     int64
	f     float64
	float bool
}

func (s *sumState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	v, ok, err := s.a.input(ctx, row)
	if !ok {
		return err
	}
	s.n += int64(op)
	switch {
	case v.K.IsInteger():
		s.i += int64(op) * v.I
	default:
		s.float = true
		s.f += float64(op) * v.Float()
	}
	return nil
}

func (s *sumState) Merge(o builtinState) error {
	t := o.(*sumState)
	s.n += t.n
	s.i += t.i
	s.f += t.f
	s.float = s.float || t.float
	return nil
}

func (s *sumState) Result() types.Value {
	if s.n == 0 {
		return types.NullValue
	}
	if s.a.fn == "avg" {
		return types.NewFloat((float64(s.i) + s.f) / float64(s.n))
	}
	if s.float || s.a.typ.Kind == types.Float64 || s.a.typ.Kind == types.Float32 {
		return types.NewFloat(float64(s.i) + s.f)
	}
	k := s.a.typ.Kind
	if !k.IsInteger() {
		k = types.Int64
	}
	return types.NewIntKind(k, s.i)
}
func (s *sumState) SizeBytes() int { return 40 }

// minMaxState keeps the extreme value; with retraction it keeps a count per
// distinct value.
type minMaxState struct {
	a    *builtinAgg
	v    types.Value
	set  bool
	bag  map[types.Value]int64
	seen int64
}

func (s *minMaxState) better(x, cur types.Value) bool {
	c := types.Compare(x, cur)
	if s.a.fn == "max" {
		return c > 0
	}
	return c < 0
}

func (s *minMaxState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	v, ok, err := s.a.input(ctx, row)
	if !ok {
		return err
	}
	if s.a.retract {
		if s.bag == nil {
			s.bag = map[types.Value]int64{}
		}
		s.bag[v] += int64(op)
		if s.bag[v] == 0 {
			delete(s.bag, v)
		}
		s.set = false
		for x := range s.bag {
			if !s.set || s.better(x, s.v) {
				s.v, s.set = x, true
			}
		}
		return nil
	}
	if op == chunk.Delete {
		return sqlerr.New(sqlerr.FeatureNotSupported, "%s cannot retract a row here", s.a.fn)
	}
	if !s.set || s.better(v, s.v) {
		s.v, s.set = v, true
	}
	return nil
}

func (s *minMaxState) Merge(o builtinState) error {
	t := o.(*minMaxState)
	for x, n := range t.bag {
		if s.bag == nil {
			s.bag = map[types.Value]int64{}
		}
		s.bag[x] += n
	}
	if t.set && (!s.set || s.better(t.v, s.v)) {
		s.v, s.set = t.v, true
	}
	return nil
}

func (s *minMaxState) Result() types.Value {
	if !s.set {
		return types.NullValue
	}
	return s.v
}
func (s *minMaxState) SizeBytes() int { return 56 + len(s.v.S) + 56*len(s.bag) }
