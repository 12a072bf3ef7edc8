package planner

import (
	"strings"
	"testing"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

func scanOf(name string, kind plan.RelKind, cols ...string) *plan.Scan {
	s := &plan.Scan{Name: name, Kind: kind}
	for _, c := range cols {
		s.Cols = append(s.Cols, types.Column{Name: c, Type: types.TInt64})
	}
	s.NumPhysical = len(cols)
	return s
}

func cref(i int, name string) *expr.ColRef { return &expr.ColRef{Idx: i, Name: name, T: types.TInt64} }
func ci(v int64) *expr.Const               { return &expr.Const{V: types.NewInt(v), T: types.TInt64} }
func gt(l, r expr.Expr) expr.Expr          { return &expr.Cmp{Op: expr.GT, L: l, R: r} }
func eq(l, r expr.Expr) expr.Expr          { return &expr.Cmp{Op: expr.EQ, L: l, R: r} }

func TestRules(t *testing.T) {
	a := scanOf("a", plan.RelTable, "x", "y")
	b := scanOf("b", plan.RelTable, "k", "v")
	joinCols := append(append(types.Schema(nil), a.Cols...), b.Cols...)
	cases := []struct {
		name string
		in   plan.Node
		want string
	}{
		{
			name: "filter through project substitutes expressions",
			in: &plan.Filter{
				Input: &plan.Project{Input: a, Exprs: []expr.Expr{&expr.Arith{Op: expr.Add, L: cref(0, "x"), R: ci(1), T: types.TInt64}}, Cols: types.Schema{{Name: "x1", Type: types.TInt64}}},
				Pred:  gt(cref(0, "x1"), ci(5)),
			},
			want: `
Project (x#0 + 1) AS x1
  └─ Filter ((x#0 + 1) > 5)
    └─ Scan table a`,
		},
		{
			name: "conjuncts go to their join side; cross-side equalities become keys",
			in: &plan.Filter{
				Input: &plan.Join{Left: a, Right: b, Kind: plan.CrossJoin, Cols: joinCols},
				Pred:  expr.NewAnd(gt(cref(0, "x"), ci(1)), gt(cref(3, "v"), ci(2)), eq(cref(1, "y"), cref(2, "k"))),
			},
			want: `
Join inner keys=[y#1]=[k#0]
  └─ Filter (x#0 > 1)
    └─ Scan table a
  └─ Filter (v#1 > 2)
    └─ Scan table b`,
		},
		{
			name: "right-side conditions stay above a left join",
			in: &plan.Filter{
				Input: &plan.Join{Left: a, Right: b, Kind: plan.LeftJoin, LeftKey: []expr.Expr{cref(1, "y")}, RightKey: []expr.Expr{cref(0, "k")}, Cols: joinCols},
				Pred:  expr.NewAnd(gt(cref(0, "x"), ci(1)), gt(cref(3, "v"), ci(2))),
			},
			want: `
Filter (v#3 > 2)
  └─ Join left keys=[y#1]=[k#0]
    └─ Filter (x#0 > 1)
      └─ Scan table a
    └─ Scan table b`,
		},
		{
			name: "constants fold and true filters vanish",
			in: &plan.Filter{
				Input: a,
				Pred:  expr.NewAnd(gt(ci(3), ci(2)), gt(cref(0, "x"), &expr.Arith{Op: expr.Mul, L: ci(2), R: ci(3), T: types.TInt64})),
			},
			want: `
Filter (x#0 > 6)
  └─ Scan table a`,
		},
		{
			name: "stacked projections merge, identity projection disappears",
			in: &plan.Project{
				Input: &plan.Project{Input: a, Exprs: []expr.Expr{cref(1, "y"), cref(0, "x")}, Cols: types.Schema{{Name: "y", Type: types.TInt64}, {Name: "x", Type: types.TInt64}}},
				Exprs: []expr.Expr{cref(1, "x"), cref(0, "y")},
				Cols:  types.Schema{{Name: "x", Type: types.TInt64}, {Name: "y", Type: types.TInt64}},
			},
			want: `
Scan table a`,
		},
		{
			name: "rank filter bounds the Top-N",
			in: &plan.Filter{
				Input: &plan.TopN{Input: a, PartitionBy: []expr.Expr{cref(0, "x")}, OrderBy: []plan.SortKey{{Expr: cref(1, "y")}}, N: -1, RankCol: true,
					Cols: append(append(types.Schema(nil), a.Cols...), types.Column{Name: "row_number", Type: types.TInt64})},
				Pred: &expr.Cmp{Op: expr.LT, L: cref(2, "row_number"), R: ci(4)},
			},
			want: `
TopN n=3 partition=[x#0] order=[y#1]
  └─ Scan table a`,
		},
	}
	for _, c := range cases {
		got := strings.TrimSpace(plan.Format(Optimize(c.in, false)))
		if got != strings.TrimSpace(c.want) {
			t.Errorf("%s:\ngot\n%s\nwant%s", c.name, got, c.want)
		}
	}
}

func TestPruneSourceScan(t *testing.T) {
	s := scanOf("s", plan.RelSource, "a", "b", "c", "ts")
	s.Connector = "plannertest"
	s.Cols[3].Type = types.TTimestamp
	s.Cols = append(s.Cols, types.Column{Name: "g", Type: types.TInt64})
	s.Generated = []plan.Generated{{Col: 4, Expr: &expr.Arith{Op: expr.Add, L: cref(2, "c"), R: ci(1), T: types.TInt64}}}
	s.Watermark = &plan.Watermark{Col: 3, Delay: 1000}
	p := &plan.Project{Input: &plan.Filter{Input: s, Pred: gt(cref(4, "g"), ci(0))}, Exprs: []expr.Expr{cref(0, "a")}, Cols: types.Schema{{Name: "a", Type: types.TInt64}}}
	out := PruneSourceScans(p)
	ns := out.(*plan.Project).Input.(*plan.Filter).Input.(*plan.Scan)
	if got := strings.Join(ns.Cols.Names(), ","); got != "a,c,ts,g" || ns.NumPhysical != 3 {
		t.Fatalf("pruned scan columns %s (physical %d)", got, ns.NumPhysical)
	}
	if ns.Watermark.Col != 2 || ns.Generated[0].Col != 3 || ns.Generated[0].Expr.String() != "(c#1 + 1)" {
		t.Errorf("watermark %d, generated %d = %s", ns.Watermark.Col, ns.Generated[0].Col, ns.Generated[0].Expr)
	}
	if f := out.(*plan.Project).Input.(*plan.Filter); f.Pred.String() != "(g#3 > 0)" {
		t.Errorf("filter %s", f.Pred)
	}
	// The original plan is untouched.
	if len(s.Cols) != 5 {
		t.Error("pruning changed its input")
	}
}
