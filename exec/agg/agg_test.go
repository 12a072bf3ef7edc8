package agg

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// col is a ColRef to column i of type t.
func col(i int, t types.Type) expr.Expr { return &expr.ColRef{Idx: i, Name: "c", T: t} }

// call builds an aggregate call over column 0 of type t.
func call(fn string, t types.Type) plan.AggCall {
	return plan.AggCall{Func: fn, Args: []expr.Expr{col(0, t)}}
}

func mustCompile(t testing.TB, c plan.AggCall, opt Options) *Agg {
	t.Helper()
	a, err := CompileOptions(c, opt)
	require.NoError(t, err)
	return a
}

// feed updates s with one single-column row per value.
func feed(t testing.TB, s State, op chunk.Op, vals ...types.Value) {
	t.Helper()
	for _, v := range vals {
		require.NoError(t, s.Update(nil, types.Row{v}, op))
	}
}

func ints(xs ...int64) []types.Value {
	out := make([]types.Value, len(xs))
	for i, x := range xs {
		out[i] = types.NewInt(x)
	}
	return out
}

func floats(xs ...float64) []types.Value {
	out := make([]types.Value, len(xs))
	for i, x := range xs {
		out[i] = types.NewFloat(x)
	}
	return out
}

func num(s string) types.Value { return types.Value{K: types.Numeric, S: s} }

// result computes fn over vals from scratch.
func result(t testing.TB, c plan.AggCall, opt Options, vals ...types.Value) types.Value {
	t.Helper()
	s := mustCompile(t, c, opt).NewState()
	feed(t, s, chunk.Insert, vals...)
	return s.Result()
}

func TestCount(t *testing.T) {
	star := plan.AggCall{Func: "count"}
	require.Equal(t, types.NewInt(0), result(t, star, Options{}))
	require.Equal(t, types.NewInt(3), result(t, star, Options{}, types.NewInt(1), types.NullValue, types.NewInt(2)))
	cx := call("count", types.TInt64)
	require.Equal(t, types.NewInt(0), result(t, cx, Options{}))
	require.Equal(t, types.NewInt(2), result(t, cx, Options{}, types.NewInt(1), types.NullValue, types.NewInt(2)))

	// FILTER (WHERE x > 1) on count(*): NULL predicate does not count.
	gt := &gtConst{c: 1}
	f := plan.AggCall{Func: "count", Filter: gt}
	require.Equal(t, types.NewInt(2), result(t, f, Options{}, ints(0, 1, 2, 3)...))
	s := mustCompile(t, f, Options{}).NewState()
	feed(t, s, chunk.Insert, types.NullValue, types.NewInt(5))
	require.Equal(t, types.NewInt(1), s.Result())

	// Retraction.
	s = mustCompile(t, cx, Options{}).NewState()
	feed(t, s, chunk.Insert, ints(1, 2, 3)...)
	feed(t, s, chunk.Delete, types.NewInt(2), types.NullValue)
	require.Equal(t, types.NewInt(2), s.Result())
}

// gtConst is "#0 > c" with SQL NULL semantics.
type gtConst struct{ c int64 }

func (g *gtConst) Type() types.Type { return types.TBool }
func (g *gtConst) Eval(_ *expr.Context, row types.Row) (types.Value, error) {
	if row[0].IsNull() {
		return types.NullValue, nil
	}
	return types.NewBool(row[0].I > g.c), nil
}
func (g *gtConst) String() string { return "#0 > c" }

func TestSumInt(t *testing.T) {
	c := call("sum", types.TInt32)
	a := mustCompile(t, c, Options{})
	require.Equal(t, types.TInt64, a.Type())
	require.True(t, a.Retractable())
	require.True(t, result(t, c, Options{}).IsNull())
	require.True(t, result(t, c, Options{}, types.NullValue).IsNull())
	vals := []types.Value{types.NewIntKind(types.Int32, 5), types.NullValue, types.NewIntKind(types.Int32, -2)}
	require.Equal(t, types.NewInt(3), result(t, c, Options{}, vals...))

	s := a.NewState()
	feed(t, s, chunk.Insert, ints(1, 2, 3)...)
	feed(t, s, chunk.Delete, ints(1, 2, 3)...)
	require.True(t, s.Result().IsNull(), "all rows retracted: sum is NULL again")

	// bigint result overflows with 22003 and leaves the state as it was.
	big := plan.AggCall{Func: "sum", Args: []expr.Expr{col(0, types.TInt64)}, Type: types.TInt64}
	s = mustCompile(t, big, Options{}).NewState()
	feed(t, s, chunk.Insert, types.NewInt(math.MaxInt64))
	err := s.Update(nil, types.Row{types.NewInt(1)}, chunk.Insert)
	require.Error(t, err)
	require.Equal(t, sqlerr.NumericOutOfRange, sqlerr.Code(err))
	require.Equal(t, types.NewInt(math.MaxInt64), s.Result())

	// sum(bigint) is numeric by default (Postgres) and does not overflow.
	c8 := call("sum", types.TInt64)
	require.Equal(t, num("18446744073709551614"), result(t, c8, Options{}, ints(math.MaxInt64, math.MaxInt64)...))
	require.Equal(t, num("-18446744073709551616"), result(t, c8, Options{}, ints(math.MinInt64, math.MinInt64)...))
	require.Equal(t, num("7"), result(t, c8, Options{}, ints(math.MaxInt64, math.MinInt64, 8)...))

	// Interval sums stay intervals.
	ci := call("sum", types.TInterval)
	require.Equal(t, types.NewIntervalMicros(3_000_000),
		result(t, ci, Options{}, types.NewIntervalMicros(1_000_000), types.NewIntervalMicros(2_000_000)))
}

func TestSumFloatNumeric(t *testing.T) {
	cf := call("sum", types.TFloat64)
	require.Equal(t, types.NewFloat(4), result(t, cf, Options{}, floats(1.5, 2.5)...))
	require.True(t, result(t, cf, Options{}, types.NullValue).IsNull())
	cr := call("sum", types.TFloat32)
	require.Equal(t, types.Float32, result(t, cr, Options{}, types.NewFloat32(1)).K)

	cn := call("sum", types.TNumeric)
	require.Equal(t, num("4.00"), result(t, cn, Options{}, num("1.50"), num("2.5")))
	s := mustCompile(t, cn, Options{}).NewState()
	feed(t, s, chunk.Insert, num("1.5"), num("2.25"), types.NullValue)
	feed(t, s, chunk.Delete, num("2.25"))
	require.Equal(t, num("1.50"), s.Result())
}

func TestAvg(t *testing.T) {
	c := call("avg", types.TInt32)
	require.Equal(t, types.TNumeric, mustCompile(t, c, Options{}).Type())
	require.True(t, result(t, c, Options{}).IsNull())
	// Postgres: select avg(x) from (values (1),(2)) v(x) → 1.5000000000000000
	require.Equal(t, num("1.5000000000000000"), result(t, c, Options{}, ints(1, 2)...))
	require.Equal(t, num("2.0000000000000000"), result(t, c, Options{}, ints(1, 2, 3)...))
	require.Equal(t, num("0.33333333333333333333"), result(t, c, Options{}, ints(1, 0, 0)...))
	require.Equal(t, num("12345.6780000000000000"), result(t, call("avg", types.TNumeric), Options{}, num("12345.678")))
	require.Equal(t, num("-1.00000000000000000000"), result(t, c, Options{}, ints(-1)...))

	cf := call("avg", types.TFloat64)
	require.Equal(t, types.TFloat64, mustCompile(t, cf, Options{}).Type())
	require.Equal(t, types.NewFloat(2), result(t, cf, Options{}, append(floats(1, 3), types.NullValue)...))

	ci := call("avg", types.TInterval)
	require.Equal(t, types.NewIntervalMicros(1_500_000),
		result(t, ci, Options{}, types.NewIntervalMicros(1_000_000), types.NewIntervalMicros(2_000_000)))
}

func TestMinMax(t *testing.T) {
	for _, opt := range []Options{{}, {Retract: true}} {
		mn, mx := call("min", types.TInt64), call("max", types.TInt64)
		require.True(t, result(t, mn, opt).IsNull())
		require.True(t, result(t, mx, opt, types.NullValue).IsNull())
		require.Equal(t, types.NewInt(-4), result(t, mn, opt, append(ints(3, -4, 9), types.NullValue)...))
		require.Equal(t, types.NewInt(9), result(t, mx, opt, append(ints(3, -4, 9), types.NullValue)...))

		tm, tx := call("min", types.TText), call("max", types.TText)
		words := []types.Value{types.NewText("pear"), types.NewText("apple"), types.NullValue, types.NewText("zucchini")}
		require.Equal(t, types.NewText("apple"), result(t, tm, opt, words...))
		require.Equal(t, types.NewText("zucchini"), result(t, tx, opt, words...))

		ts := call("max", types.TTimestamp)
		require.Equal(t, types.NewTimestamp(20), result(t, ts, opt, types.NewTimestamp(10), types.NewTimestamp(20)))
		fl := call("min", types.TFloat64)
		require.Equal(t, types.NewFloat(-0.5), result(t, fl, opt, floats(2, -0.5, 1)...))
	}

	// The cheap state refuses retraction.
	s := mustCompile(t, call("max", types.TInt64), Options{}).NewState()
	feed(t, s, chunk.Insert, ints(1, 5)...)
	err := s.Update(nil, types.Row{types.NewInt(5)}, chunk.Delete)
	require.Equal(t, sqlerr.FeatureNotSupported, sqlerr.Code(err))
	require.False(t, mustCompile(t, call("max", types.TInt64), Options{}).Retractable())

	// The retractable state falls back to the next value.
	a := mustCompile(t, call("max", types.TInt64), Options{Retract: true})
	require.True(t, a.Retractable())
	s = a.NewState()
	feed(t, s, chunk.Insert, ints(1, 5, 5, 3)...)
	feed(t, s, chunk.Delete, types.NewInt(5))
	require.Equal(t, types.NewInt(5), s.Result())
	feed(t, s, chunk.Delete, types.NewInt(5))
	require.Equal(t, types.NewInt(3), s.Result())
	feed(t, s, chunk.Delete, ints(3, 1)...)
	require.True(t, s.Result().IsNull())
	err = s.Update(nil, types.Row{types.NewInt(7)}, chunk.Delete)
	require.Error(t, err, "retracting a value never added is an inconsistency")
}

func TestCompileErrors(t *testing.T) {
	_, err := Compile(call("sum", types.TText))
	require.Equal(t, sqlerr.UndefinedFunction, sqlerr.Code(err))
	require.Contains(t, err.Error(), "sum(text)")
	_, err = Compile(call("median_of_medians", types.TInt64))
	require.Equal(t, sqlerr.UndefinedFunction, sqlerr.Code(err))
	_, err = Compile(plan.AggCall{Func: "avg"})
	require.Equal(t, sqlerr.UndefinedFunction, sqlerr.Code(err))
	_, err = Compile(call("max", types.TJSONB))
	require.Equal(t, sqlerr.UndefinedFunction, sqlerr.Code(err))
}

// aggCase is one aggregate with an input generator, for the properties that
// every function must have (merge associativity, marshal round trip).
type aggCase struct {
	name string
	call plan.AggCall
	opt  Options
	gen  func(r *rand.Rand) types.Value
	// approx results are compared loosely (sketch merges are not exact).
	approx bool
}

func genInt(r *rand.Rand) types.Value {
	if r.IntN(10) == 0 {
		return types.NullValue
	}
	return types.NewInt(r.Int64N(2000) - 1000)
}

func genFloat(r *rand.Rand) types.Value {
	if r.IntN(10) == 0 {
		return types.NullValue
	}
	// Quarter steps keep float sums exact, so merge order cannot matter.
	return types.NewFloat(float64(r.IntN(400)-200) / 4)
}

func genNumeric(r *rand.Rand) types.Value {
	if r.IntN(10) == 0 {
		return types.NullValue
	}
	return types.NewNumeric(decimalFromInt(r.Int64N(100000)-50000, 2))
}

func decimalFromInt(v int64, scale int32) decimal.Decimal { return decimal.New(v, -scale) }

func genText(r *rand.Rand) types.Value {
	if r.IntN(10) == 0 {
		return types.NullValue
	}
	return types.NewText(string(rune('a' + r.IntN(26))))
}

func baseCases() []aggCase {
	return []aggCase{
		{name: "count_star", call: plan.AggCall{Func: "count"}, gen: genInt},
		{name: "count", call: call("count", types.TInt64), gen: genInt},
		{name: "sum_int", call: call("sum", types.TInt64), gen: genInt},
		{name: "sum_float", call: call("sum", types.TFloat64), gen: genFloat},
		{name: "sum_numeric", call: call("sum", types.TNumeric), gen: genNumeric},
		{name: "avg_int", call: call("avg", types.TInt64), gen: genInt},
		{name: "avg_float", call: call("avg", types.TFloat64), gen: genFloat},
		{name: "avg_numeric", call: call("avg", types.TNumeric), gen: genNumeric},
		{name: "min_int", call: call("min", types.TInt64), gen: genInt},
		{name: "max_int", call: call("max", types.TInt64), gen: genInt},
		{name: "min_text", call: call("min", types.TText), gen: genText},
		{name: "max_float", call: call("max", types.TFloat64), gen: genFloat},
		{name: "max_int_retract", call: call("max", types.TInt64), opt: Options{Retract: true}, gen: genInt},
		{name: "min_text_retract", call: call("min", types.TText), opt: Options{Retract: true}, gen: genText},
	}
}

// allCases is extended by the files testing the other functions.
var allCases = baseCases

func TestMergeAssociative(t *testing.T) {
	for _, tc := range allCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			a := mustCompile(t, tc.call, tc.opt)
			for trial := range 20 {
				n := r.IntN(60)
				vals := make([]types.Value, n)
				for i := range vals {
					vals[i] = tc.gen(r)
				}
				i, j := r.IntN(n+1), r.IntN(n+1)
				if i > j {
					i, j = j, i
				}
				parts := [3][]types.Value{vals[:i], vals[i:j], vals[j:]}
				mk := func(k int) State {
					s := a.NewState()
					feed(t, s, chunk.Insert, parts[k]...)
					return s
				}
				whole := a.NewState()
				feed(t, whole, chunk.Insert, vals...)
				// (p0 ⊕ p1) ⊕ p2
				left := mk(0)
				require.NoError(t, left.Merge(mk(1)))
				require.NoError(t, left.Merge(mk(2)))
				// p0 ⊕ (p1 ⊕ p2)
				right := mk(1)
				require.NoError(t, right.Merge(mk(2)))
				r0 := mk(0)
				require.NoError(t, r0.Merge(right))
				if tc.approx {
					requireClose(t, whole.Result(), left.Result())
					requireClose(t, whole.Result(), r0.Result())
					continue
				}
				require.Equal(t, whole.Result(), left.Result(), "trial %d", trial)
				require.Equal(t, whole.Result(), r0.Result(), "trial %d", trial)
			}
		})
	}
}

func requireClose(t *testing.T, want, got types.Value) {
	t.Helper()
	if want.IsNull() || got.IsNull() {
		require.Equal(t, want.IsNull(), got.IsNull())
		return
	}
	w, g := want.Float(), got.Float()
	require.InDelta(t, w, g, math.Max(1, math.Abs(w)*0.05), "want %v got %v", want, got)
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, tc := range allCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			a := mustCompile(t, tc.call, tc.opt)
			for _, n := range []int{0, 1, 7, 200} {
				s := a.NewState()
				for range n {
					feed(t, s, chunk.Insert, tc.gen(r))
				}
				b, err := s.MarshalBinary()
				require.NoError(t, err)
				back := a.NewState()
				require.NoError(t, back.UnmarshalBinary(b))
				require.Equal(t, s.Result(), back.Result())
				// The restored state keeps working like the original.
				more := tc.gen(r)
				feed(t, s, chunk.Insert, more)
				feed(t, back, chunk.Insert, more)
				if tc.approx {
					requireClose(t, s.Result(), back.Result())
				} else {
					require.Equal(t, s.Result(), back.Result())
				}
				require.Error(t, back.UnmarshalBinary(append(b, 0xff)), "trailing garbage is rejected")
				require.Error(t, back.UnmarshalBinary(nil))
			}
		})
	}
}

func TestRetractEqualsRecompute(t *testing.T) {
	for _, tc := range allCases() {
		a := mustCompile(t, tc.call, tc.opt)
		if !a.Retractable() || tc.approx {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, 6))
			for range 20 {
				var kept []types.Value
				s := a.NewState()
				for range r.IntN(80) {
					v := tc.gen(r)
					feed(t, s, chunk.Insert, v)
					kept = append(kept, v)
					if r.IntN(3) == 0 {
						// A retraction removes the latest equal row (equal rows
						// are indistinguishable; order-sensitive functions see it).
						v := kept[r.IntN(len(kept))]
						k := len(kept) - 1
						for !types.Equal(kept[k], v) || kept[k].K != v.K {
							k--
						}
						feed(t, s, chunk.Delete, v)
						kept = append(kept[:k], kept[k+1:]...)
					}
				}
				fresh := a.NewState()
				feed(t, fresh, chunk.Insert, kept...)
				require.Equal(t, fresh.Result(), s.Result())
			}
		})
	}
}

func TestSizeBytesSmall(t *testing.T) {
	for _, tc := range baseCases() {
		s := mustCompile(t, tc.call, tc.opt).NewState()
		r := rand.New(rand.NewPCG(7, 8))
		for range 3 {
			feed(t, s, chunk.Insert, tc.gen(r))
		}
		require.Positive(t, s.SizeBytes(), tc.name)
		if tc.opt.Retract {
			continue // a multiset grows with the distinct values: TestSizeBytesTracksContents
		}
		require.LessOrEqual(t, s.SizeBytes(), 200, tc.name)
	}
}

// TestSizeBytesTracksContents checks that states holding values report
// their growth and shrinkage.
func TestSizeBytesTracksContents(t *testing.T) {
	long := types.NewText(strings.Repeat("x", 1000))
	for _, c := range []plan.AggCall{call("min", types.TText), call("first_value", types.TText)} {
		s := mustCompile(t, c, Options{Retract: true}).NewState()
		feed(t, s, chunk.Insert, types.NewText("a"))
		small := s.SizeBytes()
		feed(t, s, chunk.Insert, long)
		require.True(t, s.SizeBytes() >= small+1000, "%s grows by the value", c.Func)
		feed(t, s, chunk.Delete, long)
		require.True(t, s.SizeBytes() < small+1000, "%s shrinks after the retraction", c.Func)
		b, _ := s.MarshalBinary()
		back := mustCompile(t, c, Options{Retract: true}).NewState()
		require.NoError(t, back.UnmarshalBinary(b))
		require.True(t, back.SizeBytes() > 0)
	}
	d := mustCompile(t, distinctCall("count", types.TText), Options{}).NewState()
	feed(t, d, chunk.Insert, types.NewText("a"))
	before := d.SizeBytes()
	feed(t, d, chunk.Insert, long)
	require.True(t, d.SizeBytes() >= before+1000)
	feed(t, d, chunk.Delete, long)
	require.Equal(t, before, d.SizeBytes())
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	for _, tc := range []aggCase{
		{name: "count_star", call: plan.AggCall{Func: "count"}},
		{name: "count", call: call("count", types.TInt64)},
		{name: "sum_int", call: call("sum", types.TInt64)},
		{name: "sum_float", call: call("sum", types.TFloat64)},
		{name: "avg_int", call: call("avg", types.TInt64)},
		{name: "min_int", call: call("min", types.TInt64)},
		{name: "max_float", call: call("max", types.TFloat64)},
	} {
		s := mustCompile(t, tc.call, Options{}).NewState()
		row := types.Row{types.NewInt(3)}
		if tc.call.Args != nil && tc.call.Args[0].Type().Kind == types.Float64 {
			row = types.Row{types.NewFloat(3)}
		}
		allocs := testing.AllocsPerRun(100, func() { _ = s.Update(nil, row, chunk.Insert) })
		require.Zero(t, allocs, tc.name)
	}
}

// TestMergeLeavesOtherIntact: a pane merged into several windows keeps its
// result, and updating a window afterwards does not change the pane.
func TestMergeLeavesOtherIntact(t *testing.T) {
	for _, tc := range allCases() {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(13, 14))
			a := mustCompile(t, tc.call, tc.opt)
			for _, n := range []int{1, 5, 100} {
				pane := a.NewState()
				for range n {
					feed(t, pane, chunk.Insert, tc.gen(r))
				}
				before := pane.Result()
				w1, w2 := a.NewState(), a.NewState()
				feed(t, w2, chunk.Insert, tc.gen(r))
				require.NoError(t, w1.Merge(pane))
				require.NoError(t, w2.Merge(pane))
				for range 50 {
					v := tc.gen(r)
					feed(t, w1, chunk.Insert, v)
					feed(t, w2, chunk.Insert, v)
				}
				require.Equal(t, before, pane.Result(), "n=%d", n)
			}
		})
	}
}

// TestCheckRow: an aggregate checks over a row only what can fail (an
// argument, FILTER or ORDER BY key that is neither a column nor a
// constant), and reports that expression's error.
func TestCheckRow(t *testing.T) {
	div, err := expr.NewArith(expr.Div, &expr.Const{V: types.NewInt(10), T: types.TInt64}, col(0, types.TInt64))
	require.NoError(t, err)
	gt, err := expr.NewCmp(expr.GT, div, &expr.Const{V: types.NewInt(2), T: types.TInt64})
	require.NoError(t, err)
	for _, c := range []struct {
		name   string
		call   plan.AggCall
		checks bool
	}{
		{"count(*)", plan.AggCall{Func: "count"}, false},
		{"sum(c)", call("sum", types.TInt64), false},
		{"sum(10 / c)", plan.AggCall{Func: "sum", Args: []expr.Expr{div}}, true},
		{"count(*) FILTER (WHERE 10 / c > 2)", plan.AggCall{Func: "count", Filter: gt}, true},
		{"first_value(c ORDER BY 10 / c)", plan.AggCall{Func: "first_value", Args: []expr.Expr{col(0, types.TInt64)},
			OrderBy: []plan.SortKey{{Expr: div}}}, true},
	} {
		a := mustCompile(t, c.call, Options{Retract: true})
		require.Equal(t, c.checks, a.Checks(), c.name)
		require.NoError(t, a.CheckRow(types.Row{types.NewInt(5)}), c.name)
		err := a.CheckRow(types.Row{types.NewInt(0)})
		if c.checks {
			require.Equal(t, "22012", sqlerr.Code(err), c.name)
		} else {
			require.NoError(t, err, c.name)
		}
	}
}
