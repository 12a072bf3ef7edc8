package agg

import (
	"math/rand/v2"
	"testing"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// TestFlatMatchesState feeds the same random inserts, retractions and
// merges to a flat state (inline words) and to a State of every aggregate
// with a flat form, and checks that their results agree after each step.
func TestFlatMatchesState(t *testing.T) {
	cases := []struct {
		call  plan.AggCall
		kind  types.Kind
		words int
		retr  bool // the aggregate retracts
	}{
		{plan.AggCall{Func: "count"}, types.Int64, 1, true},
		{call("count", types.TInt64), types.Int64, 1, true},
		{call("sum", types.TInt64), types.Int64, 3, true},
		{call("sum", types.TInt32), types.Int32, 3, true},
		{call("avg", types.TInt64), types.Int64, 3, true},
		{call("sum", types.TFloat64), types.Float64, 2, true},
		{call("avg", types.TFloat64), types.Float64, 2, true},
		{call("min", types.TInt64), types.Int64, 2, false},
		{call("max", types.TTimestamp), types.Timestamp, 2, false},
		{call("bool_and", types.TBool), types.Bool, 2, true},
		{call("bool_or", types.TBool), types.Bool, 2, true},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range cases {
		t.Run(c.call.Func+"/"+c.kind.String(), func(t *testing.T) {
			a := mustCompile(t, c.call, Options{})
			if got := a.FlatWords(); got != c.words {
				t.Fatalf("FlatWords = %d, want %d", got, c.words)
			}
			val := func() types.Value {
				if rng.IntN(8) == 0 {
					return types.NullValue
				}
				switch c.kind {
				case types.Float64:
					return types.NewFloat(rng.Float64()*200 - 100)
				case types.Bool:
					return types.NewBool(rng.IntN(2) == 0)
				}
				return types.Value{K: c.kind, I: rng.Int64N(2000) - 1000}
			}
			w, ow := make([]int64, c.words), make([]int64, c.words)
			s, os := a.NewState(), a.NewState()
			var added []types.Value
			for step := range 400 {
				v := val()
				op := chunk.Insert
				if c.retr && len(added) > 0 && rng.IntN(3) == 0 {
					op, v = chunk.Delete, added[len(added)-1]
					added = added[:len(added)-1]
				} else {
					added = append(added, v)
				}
				// Rows alternate between the receiver and the state merged
				// into it every 50 steps.
				fw, fs := w, s
				if step%2 == 1 && op == chunk.Insert {
					fw, fs = ow, os
					added = added[:len(added)-1]
				}
				if err := a.FlatUpdate(fw, nil, types.Row{v}, op); err != nil {
					t.Fatal(err)
				}
				if err := fs.Update(nil, types.Row{v}, op); err != nil {
					t.Fatal(err)
				}
				if step%50 == 49 {
					if err := a.FlatMerge(w, ow); err != nil {
						t.Fatal(err)
					}
					if err := s.Merge(os); err != nil {
						t.Fatal(err)
					}
					clear(ow)
					os = a.NewState()
				}
				if got, want := a.FlatResult(w), s.Result(); !types.Equal(got, want) || got.K != want.K {
					t.Fatalf("step %d: flat result %v (%v), state result %v (%v)", step, got, got.K, want, want.K)
				}
			}
		})
	}
}

// TestNoFlatForm checks that aggregates whose state does not fit in words
// report none, so that callers keep them as States.
func TestNoFlatForm(t *testing.T) {
	distinct := call("count", types.TInt64)
	distinct.Distinct = true
	for _, c := range []struct {
		call plan.AggCall
		opt  Options
	}{
		{call("sum", types.TNumeric), Options{}},
		{call("min", types.TText), Options{}},
		{call("min", types.TInt64), Options{Retract: true}},
		{distinct, Options{}},
		{call("first_value", types.TText), Options{}},
	} {
		if a := mustCompile(t, c.call, c.opt); a.FlatWords() != 0 {
			t.Errorf("%s: FlatWords = %d, want 0", c.call.Func, a.FlatWords())
		}
	}
}
