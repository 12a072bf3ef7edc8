package batch

import (
	"context"
	"testing"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// indexedProvider serves one relation with a hash index on column 0 and
// uses PushedEquals to look rows up; served counts the rows it returned.
type indexedProvider struct {
	rows   []types.Row
	index  map[int64][]types.Row
	served int
}

func newIndexed(rows []types.Row) *indexedProvider {
	p := &indexedProvider{rows: rows, index: map[int64][]types.Row{}}
	for _, r := range rows {
		p.index[r[0].I] = append(p.index[r[0].I], r)
	}
	return p
}

func (p *indexedProvider) Rows(ctx context.Context, s *plan.Scan) ([]types.Row, error) {
	eq, err := PushedEquals(ctx, s)
	if err != nil {
		return nil, err
	}
	out := p.rows
	if v, ok := eq[0]; ok {
		out = nil
		if !v.IsNull() {
			out = p.index[v.I]
		}
	}
	p.served += len(out)
	return out, nil
}

func TestPushedEquals(t *testing.T) {
	p := newIndexed(benchRows(1000, 10))
	param := &expr.Param{Idx: 0, T: types.TInt64}
	for _, tc := range []struct {
		name   string
		pred   expr.Expr
		params []types.Value
		want   string
		served int
	}{
		{"param", &expr.Cmp{Op: expr.EQ, L: cref(benchS, 0), R: param}, []types.Value{i64(42)}, "42|key-2|42", 1},
		{"reversed const", &expr.Cmp{Op: expr.EQ, L: cnst(i64(7)), R: cref(benchS, 0)}, nil, "7|key-7|7", 1},
		{"null", &expr.Cmp{Op: expr.EQ, L: cref(benchS, 0), R: &expr.Const{V: null, T: types.TInt64}}, nil, "", 0},
		{"not a key equality", &expr.Cmp{Op: expr.EQ, L: cref(benchS, 2), R: cnst(i64(999))}, nil, "999|key-9|999", 1000},
		{"range", &expr.Cmp{Op: expr.LT, L: cref(benchS, 0), R: cnst(i64(2))}, nil, "0|key-0|0;1|key-1|1", 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p.served = 0
			s := scan("view", benchS)
			s.Pushed = []expr.Expr{tc.pred}
			root := &plan.Project{Input: s, Exprs: []expr.Expr{cref(benchS, 0), cref(benchS, 1), cref(benchS, 2)}, Cols: benchS[:3]}
			rows, err := Collect(context.Background(), &expr.Context{Params: tc.params}, root, p)
			if err != nil {
				t.Fatal(err)
			}
			expectRows(t, rows, tc.want)
			if p.served != tc.served {
				t.Fatalf("provider served %d rows, want %d", p.served, tc.served)
			}
		})
	}
	if ExprContext(context.Background()) != nil {
		t.Fatal("no expression context outside Rows")
	}
}
