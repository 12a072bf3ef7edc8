package batch

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// TestJoinRandomHashVsNestedLoop runs every join kind over random inputs
// with duplicate and NULL keys twice — as a hash join on keys and as a
// nested loop on the equivalent condition — and requires the same rows.
func TestJoinRandomHashVsNestedLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	ls, rs := schema("lk", "lv"), schema("rk", "rv")
	joined := append(append(types.Schema{}, ls...), rs...)
	gen := func(n int) []types.Row {
		rows := make([]types.Row, n)
		for i := range rows {
			k := i64(r.Int64N(6))
			if r.IntN(5) == 0 {
				k = null
			}
			rows[i] = types.Row{k, i64(int64(i))}
		}
		return rows
	}
	// residual: lv + rv is even
	even := ex(expr.NewCmp(expr.EQ,
		ex(expr.NewArith(expr.Mod, ex(expr.NewArith(expr.Add, cref(joined, 1), cref(joined, 3))), cnst(i64(2)))),
		cnst(i64(0))))
	for trial := range 30 {
		p := newMem()
		p.rel["l"], p.rel["r"] = gen(r.IntN(25)), gen(r.IntN(25))
		for _, kind := range []plan.JoinKind{plan.InnerJoin, plan.LeftJoin, plan.RightJoin, plan.FullJoin, plan.SemiJoin, plan.AntiJoin} {
			for _, residual := range []bool{false, true} {
				cols := joined
				if kind == plan.SemiJoin || kind == plan.AntiJoin {
					cols = ls
				}
				eq := cmp(t, expr.EQ, cref(joined, 0), cref(joined, 2))
				var cond expr.Expr
				if residual {
					cond = even
				}
				hash := &plan.Join{Left: scan("l", ls), Right: scan("r", rs), Kind: kind,
					LeftKey: []expr.Expr{cref(ls, 0)}, RightKey: []expr.Expr{cref(rs, 0)}, Cond: cond, Cols: cols}
				loopCond := eq
				if residual {
					loopCond = expr.NewAnd(eq, even)
				}
				loop := &plan.Join{Left: scan("l", ls), Right: scan("r", rs), Kind: kind, Cond: loopCond, Cols: cols}
				a, b := sorted(collect(t, p, hash)), sorted(collect(t, p, loop))
				if render(a) != render(b) {
					t.Fatalf("trial %d kind %v residual %v:\nhash: %s\nloop: %s", trial, kind, residual, render(a), render(b))
				}
			}
		}
	}
}

func sorted(rows []types.Row) []types.Row {
	slices.SortFunc(rows, types.CompareRows)
	return rows
}

// TestGroupAggRandom checks the hash aggregate against a direct
// computation over random rows with NULL keys and values.
func TestGroupAggRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	s := schema("k text", "v")
	for range 20 {
		var rows []types.Row
		type acc struct {
			n, nv, sum int64
			first      int
		}
		want := map[string]*acc{}
		var order []string
		for i := range r.IntN(300) {
			k, ks := txt(string(rune('a'+r.IntN(8)))), ""
			if r.IntN(6) == 0 {
				k, ks = null, "NULL"
			} else {
				ks = k.S
			}
			v := i64(r.Int64N(100))
			if r.IntN(4) == 0 {
				v = null
			}
			rows = append(rows, types.Row{k, v})
			a := want[ks]
			if a == nil {
				a = &acc{first: i}
				want[ks] = a
				order = append(order, ks)
			}
			a.n++
			if !v.IsNull() {
				a.nv++
				a.sum += v.I
			}
		}
		p := newMem()
		p.rel["t"] = rows
		g := &plan.GroupAgg{Input: scan("t", s), GroupBy: []expr.Expr{cref(s, 0)},
			Aggs: []plan.AggCall{aggCall("count", nil, types.TInt64), aggCall("count", cref(s, 1), types.TInt64),
				aggCall("sum", cref(s, 1), types.TInt64)},
			Cols: schema("k text", "n", "nv", "sum")}
		var exp []types.Row
		for _, ks := range order {
			a := want[ks]
			k := txt(ks)
			if ks == "NULL" {
				k = null
			}
			sum := i64(a.sum)
			if a.nv == 0 {
				sum = null
			}
			exp = append(exp, types.Row{k, i64(a.n), i64(a.nv), sum})
		}
		if got := collect(t, p, g); render(got) != render(exp) {
			t.Fatalf("got  %s\nwant %s", render(got), render(exp))
		}
	}
}
