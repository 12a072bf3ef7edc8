package agg

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// State is the running accumulator of one aggregate for one group (one
// window pane, session, or GROUP BY key). A State is used by one goroutine
// at a time.
type State interface {
	// Update evaluates the call's arguments and FILTER over row and adds
	// (op Insert) or retracts (op Delete) the row. A state whose Agg is not
	// Retractable returns a 0A000 error for Delete. On error the state is
	// unchanged.
	Update(ctx *expr.Context, row types.Row, op chunk.Op) error
	// UpdateAt is Update for a row with event time t (microseconds, or
	// chunk.NoTime). first_value, last_value and string_agg without ORDER BY
	// order their inputs by it, then by arrival; the other functions ignore it.
	UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, t int64) error
	// Merge folds other (a state of the same Agg) into the receiver: hop
	// panes, merged sessions, parallel partials. For order-sensitive
	// functions the receiver's rows count as arriving first. other keeps
	// its contents and stays usable (a hop pane is merged into every window
	// that holds it); it shares no mutable memory with the receiver.
	Merge(other State) error
	// Result is the aggregate's value under SQL semantics: sum, avg, min,
	// max etc. of no rows are NULL, count of no rows is 0.
	Result() types.Value
	// SizeBytes approximates the heap bytes the state holds.
	SizeBytes() int
	// MarshalBinary encodes the state for a checkpoint.
	MarshalBinary() ([]byte, error)
	// UnmarshalBinary restores a state encoded by MarshalBinary of a state
	// of the same Agg (compiled from the same call).
	UnmarshalBinary([]byte) error
}

// Options tune Compile.
type Options struct {
	// Retract makes every state accept Delete. count, sum, avg, bool_and,
	// bool_or and DISTINCT aggregates retract at no extra cost and always
	// do; min, max, first_value, last_value and string_agg then keep a small
	// ordered multiset of their inputs instead of one value. The approximate
	// sketches cannot retract: compiling them with Retract is an error.
	Retract bool
}

// Agg is a compiled aggregate call: it validates the call once and makes
// states for it. An Agg is immutable and safe for concurrent use.
type Agg struct {
	call    plan.AggCall
	fn      string
	arg     expr.Expr // first argument; nil for count(*)
	argKind types.Kind
	filter  expr.Expr
	typ     types.Type
	retract bool
	max     bool // max, last_value, bool_or: which end wins
	avg     bool // avg rather than sum

	// sep is the constant separator of string_agg (sepExpr when it is not
	// constant).
	sep      string
	sepExpr  expr.Expr
	fraction float64 // approx_percentile

	mk   func(a *Agg) State
	flat flatKind // the flat form of mk's states, if any (flat.go)

	// risky is what the states evaluate over a row that can fail: FILTER,
	// arguments, separator and ORDER BY keys that are neither columns nor
	// constants (CheckRow).
	risky []expr.Expr
}

// Compile validates call and returns an Agg making cheap (append-only for
// min/max-like functions) states. It is CompileOptions with zero Options.
func Compile(call plan.AggCall) (*Agg, error) { return CompileOptions(call, Options{}) }

// CompileOptions validates call and returns its Agg. An unknown function or
// an argument of a type the function does not take is a *sqlerr.Error
// (42883); a bad constant parameter is 22023.
func CompileOptions(call plan.AggCall, opt Options) (*Agg, error) {
	fn := strings.ToLower(call.Func)
	a := &Agg{call: call, fn: fn, filter: call.Filter, retract: opt.Retract}
	argTypes := make([]types.Type, len(call.Args))
	for i, e := range call.Args {
		argTypes[i] = e.Type()
	}
	rt, err := ResultType(fn, argTypes)
	if err != nil {
		return nil, err
	}
	a.typ = rt
	if call.Type.Kind != types.Null {
		a.typ = call.Type
	}
	if len(call.Args) > 0 {
		a.arg = call.Args[0]
		a.argKind = argTypes[0].Kind
	}
	if err := a.bind(opt); err != nil {
		return nil, err
	}
	exprs := append([]expr.Expr{a.filter, a.sepExpr}, call.Args...)
	for _, k := range call.OrderBy {
		exprs = append(exprs, k.Expr)
	}
	for _, e := range exprs {
		switch e.(type) {
		case nil, *expr.ColRef, *expr.Const:
		default:
			a.risky = append(a.risky, e)
		}
	}
	return a, nil
}

// Checks reports whether CheckRow has anything to evaluate.
func (a *Agg) Checks() bool { return len(a.risky) > 0 }

// CheckRow evaluates what the aggregate's states would evaluate over row
// and can fail (see risky: most aggregates have nothing to check), and
// returns the first error. An operator calls it before any state takes the
// row, so that a row whose input fails with a data exception (sum(10 / v)
// with v = 0) can be left out whole (on_error = 'dead_letter') instead of
// failing the view with some states updated and others not. An error
// from a state itself (a sum that overflows) comes from Update as before.
func (a *Agg) CheckRow(row types.Row) error {
	for _, e := range a.risky {
		if _, err := e.Eval(nil, row); err != nil {
			return err
		}
	}
	return nil
}

// Call returns the call the Agg was compiled from.
func (a *Agg) Call() plan.AggCall { return a.call }

// Type is the result type.
func (a *Agg) Type() types.Type { return a.typ }

// Retractable reports whether states accept Delete.
func (a *Agg) Retractable() bool { return a.retract }

// NewState returns an empty state.
func (a *Agg) NewState() State { return a.mk(a) }

// input evaluates FILTER and the first argument over row. ok is false when
// the row does not count: filtered out, or a NULL argument (count(*) counts
// NULLs: it has no argument).
func (a *Agg) input(ctx *expr.Context, row types.Row) (v types.Value, ok bool, err error) {
	if a.filter != nil {
		f, err := a.filter.Eval(ctx, row)
		if err != nil {
			return types.Value{}, false, err
		}
		if f.IsNull() || !f.Bool() {
			return types.Value{}, false, nil
		}
	}
	if a.arg == nil {
		return types.Value{}, true, nil
	}
	v, err = a.arg.Eval(ctx, row)
	if err != nil {
		return types.Value{}, false, err
	}
	return v, !v.IsNull(), nil
}

// errNoRetract is returned for a Delete on a state that cannot retract.
func (a *Agg) errNoRetract() error {
	return sqlerr.New(sqlerr.FeatureNotSupported, "aggregate %s cannot retract rows", a.fn).
		WithHint("compile it with agg.Options{Retract: true}")
}

var errStateMismatch = errors.New("merge states of different aggregates")

func mismatch(a, b State) error {
	return fmt.Errorf("%w: %T and %T", errStateMismatch, a, b)
}

func undefinedFunction(fn string, args []types.Type) error {
	names := make([]string, len(args))
	for i, t := range args {
		names[i] = t.String()
	}
	if fn == "count" && len(args) == 0 {
		names = []string{"*"}
	}
	return sqlerr.New(sqlerr.UndefinedFunction, "function %s(%s) does not exist", fn, strings.Join(names, ", ")).
		WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
}

// ResultType returns the result type of aggregate fn over arguments of the
// given types, as Postgres types it: count → bigint; sum(smallint|integer)
// → bigint, sum(bigint|numeric) → numeric, sum(real) → real,
// sum(double) → double precision, sum(interval) → interval; avg of integers
// or numeric → numeric, of floats → double precision, of interval →
// interval; min, max, first_value, last_value → the argument type;
// bool_and, bool_or → boolean; string_agg → text (bytea for bytea);
// approx_count_distinct → bigint; approx_percentile → double precision.
// The planner may call it to type an AggCall.
func ResultType(fn string, args []types.Type) (types.Type, error) {
	fn = strings.ToLower(fn)
	kind := func(i int) types.Kind { return args[i].Kind }
	switch fn {
	case "count":
		if len(args) <= 1 {
			return types.TInt64, nil
		}
	case "sum":
		if len(args) != 1 {
			break
		}
		switch kind(0) {
		case types.Int16, types.Int32:
			return types.TInt64, nil
		case types.Int64, types.Numeric, types.Null:
			return types.TNumeric, nil
		case types.Float32:
			return types.TFloat32, nil
		case types.Float64:
			return types.TFloat64, nil
		case types.Interval:
			return types.TInterval, nil
		}
	case "avg":
		if len(args) != 1 {
			break
		}
		switch kind(0) {
		case types.Int16, types.Int32, types.Int64, types.Numeric, types.Null:
			return types.TNumeric, nil
		case types.Float32, types.Float64:
			return types.TFloat64, nil
		case types.Interval:
			return types.TInterval, nil
		}
	case "min", "max", "first_value", "last_value":
		if len(args) != 1 {
			break
		}
		if fn == "min" || fn == "max" {
			if kind(0) == types.JSONB {
				break
			}
		}
		t := args[0]
		if t.Kind == types.Null {
			t = types.TText
		}
		return t, nil
	case "bool_and", "bool_or", "every":
		if len(args) == 1 && (kind(0) == types.Bool || kind(0) == types.Null) {
			return types.TBool, nil
		}
	case "string_agg":
		if len(args) < 1 || len(args) > 2 {
			break
		}
		switch kind(0) {
		case types.Text, types.Null:
			return types.TText, nil
		case types.Bytea:
			return types.TBytea, nil
		}
	case "approx_count_distinct":
		if len(args) == 1 {
			return types.TInt64, nil
		}
	case "approx_percentile":
		if (len(args) == 1 || len(args) == 2) && (kind(0).IsNumeric() || kind(0) == types.Null) {
			return types.TFloat64, nil
		}
	default:
		return types.Type{}, sqlerr.New(sqlerr.UndefinedFunction, "aggregate function %s does not exist", fn)
	}
	return types.Type{}, undefinedFunction(fn, args)
}

// bind picks the state constructor for the call.
func (a *Agg) bind(opt Options) error {
	call := a.call
	distinct := call.Distinct
	switch a.fn {
	case "min", "max", "bool_and", "bool_or", "every", "approx_count_distinct":
		distinct = false // DISTINCT does not change these results
	}
	if len(call.OrderBy) > 0 && a.fn != "first_value" && a.fn != "last_value" && a.fn != "string_agg" {
		return sqlerr.New(sqlerr.FeatureNotSupported, "ORDER BY in aggregate %s is not supported", a.fn)
	}
	if distinct {
		return a.bindDistinct(opt)
	}
	return a.bindPlain(opt)
}

// bindPlain picks the state of a non-DISTINCT call.
func (a *Agg) bindPlain(opt Options) error {
	ak := a.argKind
	rk := a.typ.Kind
	switch a.fn {
	case "count":
		if a.arg == nil && a.filter == nil {
			a.flat = flatCountStar
			a.mk = func(a *Agg) State { return &countStarState{} }
		} else {
			a.flat = flatCount
			a.mk = func(a *Agg) State { return &countState{a: a} }
		}
		a.retract = true
		return nil
	case "sum", "avg":
		a.retract = true
		a.avg = a.fn == "avg"
		switch {
		case rk == types.Float32 || rk == types.Float64 || ak == types.Float32 || ak == types.Float64:
			a.flat = flatFloatSum
			a.mk = func(a *Agg) State { return &floatSumState{a: a} }
		case ak.IsInteger() || ak == types.Interval:
			a.flat = flatIntSum
			a.mk = func(a *Agg) State { return &intSumState{a: a} }
		default:
			a.mk = func(a *Agg) State { return &numericSumState{a: a} }
		}
		return nil
	case "min", "max":
		a.max = a.fn == "max"
		if opt.Retract {
			a.mk = func(a *Agg) State { return &multisetState{a: a} }
		} else if ak.IsInteger() || ak.IsTime() || ak == types.Date || ak == types.Interval || ak == types.Bool {
			a.flat = flatMinMaxInt
			a.mk = func(a *Agg) State { return &minMaxIntState{a: a} }
		} else {
			a.mk = func(a *Agg) State { return &minMaxState{a: a} }
		}
		return nil
	}
	return a.bindMore(opt)
}
