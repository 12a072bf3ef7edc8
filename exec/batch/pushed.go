package batch

import (
	"context"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

type ectxKey struct{}

// withExprContext attaches the statement's expression context to ctx for
// Provider.Rows.
func withExprContext(ctx context.Context, ectx *expr.Context) context.Context {
	return context.WithValue(ctx, ectxKey{}, ectx)
}

// ExprContext returns the expression context of the statement that a
// Provider.Rows call serves (to evaluate scan.Pushed, which may hold $n
// parameters and outer references), or nil outside such a call.
func ExprContext(ctx context.Context) *expr.Context {
	e, _ := ctx.Value(ectxKey{}).(*expr.Context)
	return e
}

// PushedEquals looks in scan.Pushed for conjuncts "column = value" where
// value reads no column of the scan (a constant, a $n parameter, an outer
// reference or a function of them), evaluates the values with the
// statement's context, and returns them by column index. A Provider calls
// it inside Rows to turn an equality on a view's key into an index lookup;
// a NULL value matches no row. The executor applies Pushed again, so using
// a subset of the equalities is always correct.
func PushedEquals(ctx context.Context, scan *plan.Scan) (map[int]types.Value, error) {
	var out map[int]types.Value
	ectx := ExprContext(ctx)
	for _, p := range scan.Pushed {
		c, ok := p.(*expr.Cmp)
		if !ok || c.Op != expr.EQ {
			continue
		}
		col, val := c.L, c.R
		ref, ok := col.(*expr.ColRef)
		if !ok || !readsNoColumn(val) {
			col, val = c.R, c.L
			if ref, ok = col.(*expr.ColRef); !ok || !readsNoColumn(val) {
				continue
			}
		}
		if ref.Idx < 0 || ref.Idx >= len(scan.Cols) {
			continue
		}
		v, err := val.Eval(ectx, nil)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = make(map[int]types.Value)
		}
		out[ref.Idx] = v
	}
	return out, nil
}

// readsNoColumn reports whether e can be evaluated without an input row.
func readsNoColumn(e expr.Expr) bool {
	ok := true
	expr.Walk(e, func(x expr.Expr) bool {
		switch x.(type) {
		case *expr.ColRef, *expr.Subquery:
			ok = false
		}
		return ok
	})
	return ok
}
