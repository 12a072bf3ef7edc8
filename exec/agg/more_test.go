package agg

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

func init() {
	allCases = func() []aggCase { return append(baseCases(), moreCases()...) }
}

func genBool(r *rand.Rand) types.Value {
	switch r.IntN(5) {
	case 0:
		return types.NullValue
	case 1:
		return types.NewBool(false)
	}
	return types.NewBool(true)
}

func genSmallInt(r *rand.Rand) types.Value {
	if r.IntN(10) == 0 {
		return types.NullValue
	}
	return types.NewInt(r.Int64N(20))
}

func distinctCall(fn string, t types.Type) plan.AggCall {
	c := call(fn, t)
	c.Distinct = true
	return c
}

func stringAgg(sep string) plan.AggCall {
	c := call("string_agg", types.TText)
	c.Params = []types.Value{types.NewText(sep)}
	return c
}

func percentile(f float64) plan.AggCall {
	c := call("approx_percentile", types.TFloat64)
	c.Params = []types.Value{types.NewFloat(f)}
	return c
}

func moreCases() []aggCase {
	return []aggCase{
		{name: "bool_and", call: call("bool_and", types.TBool), gen: genBool},
		{name: "bool_or", call: call("bool_or", types.TBool), gen: genBool},
		{name: "first_value", call: call("first_value", types.TInt64), gen: genInt},
		{name: "last_value", call: call("last_value", types.TInt64), gen: genInt},
		{name: "last_value_retract", call: call("last_value", types.TInt64), opt: Options{Retract: true}, gen: genInt},
		{name: "string_agg", call: stringAgg(","), gen: genText},
		{name: "count_distinct", call: distinctCall("count", types.TInt64), gen: genSmallInt},
		{name: "sum_distinct", call: distinctCall("sum", types.TInt64), gen: genSmallInt},
		{name: "avg_distinct_numeric", call: distinctCall("avg", types.TNumeric), gen: genNumeric},
		{name: "approx_count_distinct", call: call("approx_count_distinct", types.TInt64), gen: genInt, approx: true},
		{name: "approx_percentile", call: percentile(0.9), gen: genFloat, approx: true},
	}
}

// string_agg is order-sensitive: merging (p0⊕p1)⊕p2 keeps arrival order, so
// it equals the whole; TestMergeAssociative covers it through allCases.

func TestBoolAndOr(t *testing.T) {
	and, or := call("bool_and", types.TBool), call("bool_or", types.TBool)
	tr, fa := types.NewBool(true), types.NewBool(false)
	require.True(t, result(t, and, Options{}).IsNull())
	require.True(t, result(t, or, Options{}, types.NullValue).IsNull())
	require.Equal(t, tr, result(t, and, Options{}, tr, types.NullValue, tr))
	require.Equal(t, fa, result(t, and, Options{}, tr, fa))
	require.Equal(t, tr, result(t, or, Options{}, fa, tr))
	require.Equal(t, fa, result(t, or, Options{}, fa, types.NullValue))

	s := mustCompile(t, and, Options{}).NewState()
	feed(t, s, chunk.Insert, tr, fa)
	feed(t, s, chunk.Delete, fa)
	require.Equal(t, tr, s.Result(), "retracting the only false makes bool_and true")
	_, err := Compile(call("bool_and", types.TInt64))
	require.Equal(t, sqlerr.UndefinedFunction, sqlerr.Code(err))
}

func TestFirstLastByEventTime(t *testing.T) {
	for _, opt := range []Options{{}, {Retract: true}} {
		first := mustCompile(t, call("first_value", types.TText), opt).NewState()
		last := mustCompile(t, call("last_value", types.TText), opt).NewState()
		in := []struct {
			v string
			t int64
		}{{"b", 20}, {"a", 10}, {"a2", 10}, {"c", 30}, {"c2", 30}, {"x", 15}}
		for _, r := range in {
			row := types.Row{types.NewText(r.v)}
			require.NoError(t, first.UpdateAt(nil, row, chunk.Insert, r.t))
			require.NoError(t, last.UpdateAt(nil, row, chunk.Insert, r.t))
		}
		require.NoError(t, first.UpdateAt(nil, types.Row{types.NullValue}, chunk.Insert, 1))
		require.Equal(t, types.NewText("a"), first.Result(), "earliest time, then first arrival")
		require.Equal(t, types.NewText("c2"), last.Result(), "latest time, then last arrival")

		// Without event times, arrival order decides.
		f2 := mustCompile(t, call("first_value", types.TInt64), opt).NewState()
		l2 := mustCompile(t, call("last_value", types.TInt64), opt).NewState()
		feed(t, f2, chunk.Insert, ints(5, 3, 9)...)
		feed(t, l2, chunk.Insert, ints(5, 3, 9)...)
		require.Equal(t, types.NewInt(5), f2.Result())
		require.Equal(t, types.NewInt(9), l2.Result())

		// Merge: the receiver's rows arrived first.
		a := mustCompile(t, call("first_value", types.TInt64), opt)
		x, y := a.NewState(), a.NewState()
		require.NoError(t, x.UpdateAt(nil, types.Row{types.NewInt(1)}, chunk.Insert, 100))
		require.NoError(t, y.UpdateAt(nil, types.Row{types.NewInt(2)}, chunk.Insert, 100))
		require.NoError(t, y.UpdateAt(nil, types.Row{types.NewInt(3)}, chunk.Insert, 50))
		require.NoError(t, x.Merge(y))
		require.Equal(t, types.NewInt(3), x.Result())
	}

	// Retraction of the current first value falls back to the next.
	a := mustCompile(t, call("first_value", types.TInt64), Options{Retract: true})
	require.True(t, a.Retractable())
	s := a.NewState()
	require.NoError(t, s.UpdateAt(nil, types.Row{types.NewInt(1)}, chunk.Insert, 10))
	require.NoError(t, s.UpdateAt(nil, types.Row{types.NewInt(2)}, chunk.Insert, 20))
	require.NoError(t, s.UpdateAt(nil, types.Row{types.NewInt(1)}, chunk.Delete, 10))
	require.Equal(t, types.NewInt(2), s.Result())
	require.False(t, mustCompile(t, call("first_value", types.TInt64), Options{}).Retractable())
}

func TestFirstValueOrderBy(t *testing.T) {
	c := plan.AggCall{Func: "first_value", Args: []expr.Expr{col(0, types.TText)},
		OrderBy: []plan.SortKey{{Expr: col(1, types.TInt64), Desc: true}}}
	s := mustCompile(t, c, Options{}).NewState()
	for _, r := range []types.Row{
		{types.NewText("low"), types.NewInt(1)},
		{types.NewText("high"), types.NewInt(9)},
		{types.NewText("null"), types.NullValue},
		{types.NewText("mid"), types.NewInt(5)},
	} {
		require.NoError(t, s.Update(nil, r, chunk.Insert))
	}
	require.Equal(t, types.NewText("high"), s.Result(), "ORDER BY x DESC: NULLS LAST unless asked")

	c.OrderBy[0].NullsFirst = true
	s = mustCompile(t, c, Options{}).NewState()
	require.NoError(t, s.Update(nil, types.Row{types.NewText("high"), types.NewInt(9)}, chunk.Insert))
	require.NoError(t, s.Update(nil, types.Row{types.NewText("null"), types.NullValue}, chunk.Insert))
	require.Equal(t, types.NewText("null"), s.Result())
}

func TestStringAgg(t *testing.T) {
	c := stringAgg(", ")
	require.True(t, result(t, c, Options{}).IsNull())
	require.True(t, result(t, c, Options{}, types.NullValue).IsNull())
	require.Equal(t, types.NewText("a, b, c"),
		result(t, c, Options{}, types.NewText("a"), types.NullValue, types.NewText("b"), types.NewText("c")))

	// Event time orders the pieces, then arrival.
	s := mustCompile(t, c, Options{}).NewState()
	for _, r := range []struct {
		v string
		t int64
	}{{"late", 30}, {"early", 10}, {"mid", 20}, {"mid2", 20}} {
		require.NoError(t, s.UpdateAt(nil, types.Row{types.NewText(r.v)}, chunk.Insert, r.t))
	}
	require.Equal(t, types.NewText("early, mid, mid2, late"), s.Result())
	require.NoError(t, s.UpdateAt(nil, types.Row{types.NewText("mid")}, chunk.Delete, 20))
	require.Equal(t, types.NewText("early, mid2, late"), s.Result())

	// A per-row separator (second argument not constant) precedes its value.
	c2 := plan.AggCall{Func: "string_agg", Args: []expr.Expr{col(0, types.TText), col(1, types.TText)}}
	s = mustCompile(t, c2, Options{}).NewState()
	require.NoError(t, s.Update(nil, types.Row{types.NewText("a"), types.NewText("-")}, chunk.Insert))
	require.NoError(t, s.Update(nil, types.Row{types.NewText("b"), types.NewText("+")}, chunk.Insert))
	require.Equal(t, types.NewText("a+b"), s.Result())

	// ORDER BY the value itself.
	c3 := stringAgg("")
	c3.OrderBy = []plan.SortKey{{Expr: col(0, types.TText)}}
	require.Equal(t, types.NewText("abc"), result(t, c3, Options{}, types.NewText("c"), types.NewText("a"), types.NewText("b")))

	_, err := Compile(call("string_agg", types.TText))
	require.Equal(t, sqlerr.UndefinedFunction, sqlerr.Code(err), "string_agg needs a separator")
}

func TestDistinct(t *testing.T) {
	cd := distinctCall("count", types.TInt64)
	require.Equal(t, types.NewInt(0), result(t, cd, Options{}))
	require.Equal(t, types.NewInt(3), result(t, cd, Options{}, append(ints(1, 2, 2, 3, 1), types.NullValue)...))

	s := mustCompile(t, cd, Options{}).NewState()
	feed(t, s, chunk.Insert, ints(1, 2, 2)...)
	feed(t, s, chunk.Delete, types.NewInt(2))
	require.Equal(t, types.NewInt(2), s.Result(), "one 2 is left")
	feed(t, s, chunk.Delete, types.NewInt(2))
	require.Equal(t, types.NewInt(1), s.Result())

	require.Equal(t, num("6"), result(t, distinctCall("sum", types.TInt64), Options{}, ints(1, 2, 3, 3, 2)...))
	// Numerics compare by value: 1.5 and 1.50 are one value.
	require.Equal(t, types.NewInt(2), result(t, distinctCall("count", types.TNumeric), Options{}, num("1.5"), num("1.50"), num("2")))
	sd := stringAgg(",")
	sd.Distinct = true
	require.Equal(t, types.NewText("x,y"), result(t, sd, Options{}, types.NewText("x"), types.NewText("y"), types.NewText("x")))
	// min(DISTINCT) is min.
	require.Equal(t, types.NewInt(1), result(t, distinctCall("min", types.TInt64), Options{}, ints(3, 1, 1)...))
}

func TestApproxCountDistinct(t *testing.T) {
	c := call("approx_count_distinct", types.TInt64)
	require.Equal(t, types.NewInt(0), result(t, c, Options{}))
	a := mustCompile(t, c, Options{})
	x, y := a.NewState(), a.NewState()
	for i := range int64(20000) {
		feed(t, x, chunk.Insert, types.NewInt(i%5000))
		feed(t, y, chunk.Insert, types.NewInt(2500+i%5000))
	}
	require.InDelta(t, 5000, float64(x.Result().I), 5000*0.03)
	require.NoError(t, x.Merge(y))
	require.InDelta(t, 7500, float64(x.Result().I), 7500*0.03)

	err := x.Update(nil, types.Row{types.NewInt(1)}, chunk.Delete)
	require.Equal(t, sqlerr.FeatureNotSupported, sqlerr.Code(err))
	_, err = CompileOptions(c, Options{Retract: true})
	require.Equal(t, sqlerr.FeatureNotSupported, sqlerr.Code(err))

	small := a.NewState()
	feed(t, small, chunk.Insert, ints(1, 2, 3, 2)...)
	require.Equal(t, types.NewInt(3), small.Result())
	require.LessOrEqual(t, small.SizeBytes(), 200, "a sparse sketch of a few values is small")
}

func TestApproxPercentile(t *testing.T) {
	// Exact while small: percentile_cont(0.5) of 1..4 is 2.5.
	require.Equal(t, types.NewFloat(2.5), result(t, percentile(0.5), Options{}, floats(4, 1, 3, 2)...))
	require.Equal(t, types.NewFloat(4), result(t, percentile(1), Options{}, floats(4, 1, 3, 2)...))
	require.True(t, result(t, percentile(0.5), Options{}, types.NullValue).IsNull())
	// Integer input.
	ci := call("approx_percentile", types.TInt64)
	ci.Params = []types.Value{types.NewFloat(0.5)}
	require.Equal(t, types.NewFloat(2), result(t, ci, Options{}, ints(1, 2, 3)...))

	// Large inputs go to the t-digest.
	a := mustCompile(t, percentile(0.9), Options{})
	x, y := a.NewState(), a.NewState()
	r := rand.New(rand.NewPCG(9, 9))
	var all []float64
	for i := range 20000 {
		v := r.Float64() * 1000
		all = append(all, v)
		if i%2 == 0 {
			feed(t, x, chunk.Insert, types.NewFloat(v))
		} else {
			feed(t, y, chunk.Insert, types.NewFloat(v))
		}
	}
	require.NoError(t, x.Merge(y))
	slices.Sort(all)
	require.InDelta(t, all[int(0.9*float64(len(all)-1))], x.Result().Float(), 10)

	for _, bad := range []types.Value{types.NewFloat(1.5), types.NewFloat(-0.1), types.NewText("half"), types.NewFloat(math.NaN())} {
		c := percentile(0)
		c.Params = []types.Value{bad}
		_, err := Compile(c)
		require.Equal(t, sqlerr.InvalidParameterValue, sqlerr.Code(err), bad.String())
	}
	_, err := Compile(call("approx_percentile", types.TFloat64))
	require.Equal(t, sqlerr.InvalidParameterValue, sqlerr.Code(err))
}

func TestResultTypes(t *testing.T) {
	for _, tc := range []struct {
		fn   string
		args []types.Type
		want types.Type
	}{
		{"count", nil, types.TInt64},
		{"sum", []types.Type{types.TInt16}, types.TInt64},
		{"sum", []types.Type{types.TInt64}, types.TNumeric},
		{"sum", []types.Type{types.TFloat32}, types.TFloat32},
		{"avg", []types.Type{types.TInt32}, types.TNumeric},
		{"avg", []types.Type{types.TFloat32}, types.TFloat64},
		{"max", []types.Type{types.TTimestamp}, types.TTimestamp},
		{"string_agg", []types.Type{types.TText, types.TText}, types.TText},
		{"bool_or", []types.Type{types.TBool}, types.TBool},
		{"approx_count_distinct", []types.Type{types.TText}, types.TInt64},
		{"approx_percentile", []types.Type{types.TInt32}, types.TFloat64},
		{"last_value", []types.Type{types.TDate}, types.TDate},
	} {
		got, err := ResultType(tc.fn, tc.args)
		require.NoError(t, err, tc.fn)
		require.Equal(t, tc.want, got, tc.fn)
	}
}

func TestApproxCountDistinctKinds(t *testing.T) {
	// Numerics that differ only in trailing zeros are one value; others are
	// distinct (the HLL is exact at these sizes).
	c := call("approx_count_distinct", types.TNumeric)
	var vals []types.Value
	for i := range 50 {
		vals = append(vals, num(decimalFromInt(int64(i), 2).String()), num(decimalFromInt(int64(i)*10, 3).StringFixed(3)))
	}
	require.Equal(t, types.NewInt(50), result(t, c, Options{}, vals...))
	ct := call("approx_count_distinct", types.TText)
	require.Equal(t, types.NewInt(3), result(t, ct, Options{}, types.NewText("a"), types.NewText("b"), types.NewText("a"), types.NewText("c")))
	cd := distinctCall("count", types.TNumeric)
	require.Equal(t, types.NewInt(50), result(t, cd, Options{}, vals...))
}
