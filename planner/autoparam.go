package planner

import (
	"reflect"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
)

// AutoParamSafe reports whether a batch plan whose parameters $1..$n stand
// for literals of the original query (sql.Parameterize) plans every value
// of those literals the same way. That holds when each parameter occurs
// only as a direct operand of a comparison with a column, in a Filter
// directly over a Scan or in a Scan's pushed predicates (also inside
// subquery plans): no planning rule looks at the value there (a constant
// elsewhere can, e.g. a rank filter becoming a Top-N), and the executor
// evaluates a parameter there as it would the constant. Every parameter
// must occur at least once.
func AutoParamSafe(n plan.Node, nparams int) bool {
	seen := make([]bool, nparams)
	if !paramsInScanFilters(n, seen) {
		return false
	}
	for _, s := range seen {
		if !s {
			return false
		}
	}
	return true
}

func paramsInScanFilters(n plan.Node, seen []bool) bool {
	ok := true
	walkPlan(n, func(x plan.Node) {
		allowed := false
		switch y := x.(type) {
		case *plan.Scan:
			allowed = true
		case *plan.Filter:
			_, allowed = y.Input.(*plan.Scan)
		}
		forEachExpr(x, func(e expr.Expr) {
			expr.Walk(e, func(z expr.Expr) bool {
				if !ok {
					return false
				}
				switch w := z.(type) {
				case *expr.Cmp:
					if p := colParam(w); p != nil && allowed {
						if p.Idx < 0 || p.Idx >= len(seen) {
							ok = false
							return false
						}
						seen[p.Idx] = true
						return false
					}
				case *expr.Param:
					ok = false
					return false
				case *expr.Subquery:
					if pn, isPlan := w.Plan.(plan.Node); isPlan && !paramsInScanFilters(pn, seen) {
						ok = false
						return false
					}
				}
				return true
			})
		})
	})
	return ok
}

// colParam returns the parameter of `column op $n` or `$n op column`.
func colParam(c *expr.Cmp) *expr.Param {
	if _, isCol := c.L.(*expr.ColRef); isCol {
		p, _ := c.R.(*expr.Param)
		return p
	}
	if _, isCol := c.R.(*expr.ColRef); isCol {
		p, _ := c.L.(*expr.Param)
		return p
	}
	return nil
}

// SameShape reports whether plans a and b have the same operators in the
// same tree with the same output schemas (expressions aside). It tells
// whether replacing literals by parameters changed what the planner
// built.
func SameShape(a, b plan.Node) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	if !reflect.DeepEqual(a.Schema(), b.Schema()) {
		return false
	}
	switch x := a.(type) {
	case *plan.Scan:
		y := b.(*plan.Scan)
		if x.Name != y.Name || len(x.Pushed) != len(y.Pushed) {
			return false
		}
	case *plan.Limit, *plan.TopN, *plan.Dedup:
		if a.Explain() != b.Explain() {
			return false
		}
	}
	ac, bc := a.Children(), b.Children()
	if len(ac) != len(bc) {
		return false
	}
	for i := range ac {
		if !SameShape(ac[i], bc[i]) {
			return false
		}
	}
	return true
}
