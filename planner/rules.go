package planner

import (
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// Rule rewrites one plan node (not its children); it returns the node and
// whether it changed anything. Rules are applied bottom-up over the tree,
// repeatedly, until none changes the plan (OctoSQL's optimizer shape).
type Rule func(plan.Node) (plan.Node, bool)

// streamRules and batchRules are the rule sets; order matters only for
// speed, not for the fixed point.
func rules(stream bool) []Rule {
	rs := []Rule{
		ruleFold,
		ruleDropTrueFilter,
		ruleMergeFilters,
		rulePushFilterThroughProject,
		rulePushFilterThroughSort,
		rulePushFilterThroughWindowAssign,
		rulePushFilterIntoJoin,
		ruleMergeProjects,
		ruleDropIdentityProject,
	}
	if stream {
		rs = append(rs, ruleTopNFromFilter(true), ruleDropJoinedConjuncts) // joins: ruleDropJoinedConjuncts
	} else {
		rs = append(rs, ruleTopNFromFilter(false))
	}
	return rs
}

// Optimize runs the rewrite rules to a fixed point, then the final passes
// (scan predicates and projection pruning for batch plans).
func Optimize(n plan.Node, stream bool) plan.Node {
	rs := rules(stream)
	for range 64 {
		var changed bool
		n, changed = applyRules(n, rs)
		if !changed {
			break
		}
	}
	if !stream {
		n = pushScanPredicates(n)
	}
	return n
}

func applyRules(n plan.Node, rs []Rule) (plan.Node, bool) {
	changed := false
	kids := n.Children()
	if len(kids) > 0 {
		nk := make([]plan.Node, len(kids))
		kc := false
		for i, k := range kids {
			c, ch := applyRules(k, rs)
			nk[i] = c
			kc = kc || ch
		}
		if kc {
			n = withInputs(n, nk)
			changed = true
		}
	}
	for i := 0; i < 16; i++ {
		any := false
		for _, r := range rs {
			out, ch := r(n)
			if ch {
				n, any, changed = out, true, true
			}
		}
		if !any {
			break
		}
	}
	return n, changed
}

// withInputs returns a shallow copy of n with new children.
func withInputs(n plan.Node, k []plan.Node) plan.Node {
	switch x := n.(type) {
	case *plan.Filter:
		c := *x
		c.Input = k[0]
		return &c
	case *plan.Project:
		c := *x
		c.Input = k[0]
		return &c
	case *plan.WindowAgg:
		c := *x
		c.Input = k[0]
		return &c
	case *plan.WindowAssign:
		c := *x
		c.Input = k[0]
		return &c
	case *plan.GroupAgg:
		c := *x
		c.Input = k[0]
		return &c
	case *plan.LookupJoin:
		c := *x
		c.Stream, c.Table = k[0], k[1]
		return &c
	case *plan.IntervalJoin:
		c := *x
		c.Left, c.Right = k[0], k[1]
		return &c
	case *plan.StreamJoin: // joins:
		c := *x
		c.Left, c.Right = k[0], k[1]
		return &c
	case *plan.WindowJoin: // joins:
		c := *x
		c.Left, c.Right = k[0], k[1]
		return &c
	case *plan.Join:
		c := *x
		c.Left, c.Right = k[0], k[1]
		return &c
	case *plan.TopN:
		c := *x
		c.Input = k[0]
		return &c
	case *plan.Dedup:
		c := *x
		c.Input = k[0]
		return &c
	case *plan.Union:
		return &plan.Union{Inputs: k}
	case *plan.Sort:
		c := *x
		c.Input = k[0]
		return &c
	case *plan.Limit:
		c := *x
		c.Input = k[0]
		return &c
	case *plan.Materialize:
		c := *x
		c.Input = k[0]
		return &c
	case *plan.Sink:
		c := *x
		c.Input = k[0]
		return &c
	}
	return n
}

// forEachExpr calls f on every expression a node holds.
func forEachExpr(n plan.Node, f func(expr.Expr)) {
	each := func(es []expr.Expr) {
		for _, e := range es {
			if e != nil {
				f(e)
			}
		}
	}
	aggs := func(as []plan.AggCall) {
		for _, a := range as {
			each(a.Args)
			if a.Filter != nil {
				f(a.Filter)
			}
			for _, k := range a.OrderBy {
				f(k.Expr)
			}
		}
	}
	switch x := n.(type) {
	case *plan.Scan:
		each(x.Pushed)
		for _, g := range x.Generated {
			f(g.Expr)
		}
	case *plan.Filter:
		f(x.Pred)
	case *plan.Project:
		each(x.Exprs)
	case *plan.WindowAgg:
		each(x.GroupBy)
		aggs(x.Aggs)
	case *plan.GroupAgg:
		each(x.GroupBy)
		aggs(x.Aggs)
	case *plan.LookupJoin:
		each(x.StreamKey)
		each([]expr.Expr{x.Residual})
	case *plan.IntervalJoin:
		each(x.LeftKey)
		each(x.RightKey)
		each([]expr.Expr{x.Residual})
	case *plan.StreamJoin: // joins:
		each(x.LeftKey)
		each(x.RightKey)
		each([]expr.Expr{x.Residual})
	case *plan.WindowJoin: // joins:
		each(x.LeftKey)
		each(x.RightKey)
		each([]expr.Expr{x.Residual})
	case *plan.Join:
		each(x.LeftKey)
		each(x.RightKey)
		each([]expr.Expr{x.Cond})
	case *plan.TopN:
		each(x.PartitionBy)
		for _, k := range x.OrderBy {
			f(k.Expr)
		}
	case *plan.Dedup:
		each(x.Keys)
	case *plan.Values:
		for _, r := range x.Rows {
			each(r)
		}
	case *plan.Sort:
		for _, k := range x.Keys {
			f(k.Expr)
		}
	case *plan.TableFunc:
		each(x.Args)
	case *plan.Limit:
		if x.CountParam != nil {
			f(x.CountParam)
		}
		if x.OffsetParam != nil {
			f(x.OffsetParam)
		}
	}
}

func hasSubquery(e expr.Expr) bool {
	found := false
	expr.Walk(e, func(x expr.Expr) bool {
		if _, ok := x.(*expr.Subquery); ok {
			found = true
		}
		return !found
	})
	return found
}

func isVolatile(e expr.Expr) bool {
	v := false
	expr.Walk(e, func(x expr.Expr) bool {
		switch y := x.(type) {
		case *expr.Func:
			if y.Def != nil && y.Def.Volatile {
				v = true
			}
		case *expr.Subquery:
			v = true
		}
		return !v
	})
	return v
}

// ruleFold folds constant sub-expressions of filters and projections.
func ruleFold(n plan.Node) (plan.Node, bool) {
	switch x := n.(type) {
	case *plan.Filter:
		p := expr.Fold(x.Pred)
		if p != x.Pred {
			return &plan.Filter{Input: x.Input, Pred: p}, true
		}
	case *plan.Project:
		changed := false
		es := make([]expr.Expr, len(x.Exprs))
		for i, e := range x.Exprs {
			es[i] = expr.Fold(e)
			changed = changed || es[i] != e
		}
		if changed {
			c := *x
			c.Exprs = es
			return &c, true
		}
	}
	return n, false
}

func isTrue(e expr.Expr) bool {
	c, ok := e.(*expr.Const)
	return ok && c.V.K == types.Bool && c.V.I != 0
}

// ruleDropTrueFilter removes WHERE true and true conjuncts.
func ruleDropTrueFilter(n plan.Node) (plan.Node, bool) {
	f, ok := n.(*plan.Filter)
	if !ok {
		return n, false
	}
	if isTrue(f.Pred) {
		return f.Input, true
	}
	cs := expr.Conjuncts(f.Pred)
	var keep []expr.Expr
	for _, c := range cs {
		if !isTrue(c) {
			keep = append(keep, c)
		}
	}
	if len(keep) < len(cs) {
		return &plan.Filter{Input: f.Input, Pred: expr.NewAnd(keep...)}, true
	}
	return n, false
}

// ruleMergeFilters merges stacked filters into one conjunction.
func ruleMergeFilters(n plan.Node) (plan.Node, bool) {
	f, ok := n.(*plan.Filter)
	if !ok {
		return n, false
	}
	in, ok := f.Input.(*plan.Filter)
	if !ok {
		return n, false
	}
	return &plan.Filter{Input: in.Input, Pred: expr.NewAnd(in.Pred, f.Pred)}, true
}

// substitute replaces column i of e by exprs[i].
func substitute(e expr.Expr, exprs []expr.Expr) expr.Expr {
	out, _ := expr.Transform(e, func(x expr.Expr) (expr.Expr, error) {
		if c, ok := x.(*expr.ColRef); ok && c.Idx < len(exprs) {
			return exprs[c.Idx], nil
		}
		return x, nil
	})
	return out
}

// rulePushFilterThroughProject moves a filter below a projection by
// substituting the projected expressions.
func rulePushFilterThroughProject(n plan.Node) (plan.Node, bool) {
	f, ok := n.(*plan.Filter)
	if !ok {
		return n, false
	}
	p, ok := f.Input.(*plan.Project)
	if !ok || hasSubquery(f.Pred) {
		return n, false
	}
	var down, up []expr.Expr
	for _, c := range expr.Conjuncts(f.Pred) {
		ok := true
		expr.Walk(c, func(x expr.Expr) bool {
			if r, isCol := x.(*expr.ColRef); isCol && (r.Idx >= len(p.Exprs) || isVolatile(p.Exprs[r.Idx])) {
				ok = false
			}
			return ok
		})
		if ok {
			down = append(down, substitute(c, p.Exprs))
		} else {
			up = append(up, c)
		}
	}
	if len(down) == 0 {
		return n, false
	}
	np := *p
	np.Input = &plan.Filter{Input: p.Input, Pred: expr.NewAnd(down...)}
	return withResidual(&np, up), true
}

// withResidual puts the conjuncts that could not be pushed down back above
// n (n itself when there are none).
func withResidual(n plan.Node, up []expr.Expr) plan.Node {
	if len(up) == 0 {
		return n
	}
	return &plan.Filter{Input: n, Pred: expr.NewAnd(up...)}
}

func rulePushFilterThroughSort(n plan.Node) (plan.Node, bool) {
	f, ok := n.(*plan.Filter)
	if !ok {
		return n, false
	}
	s, ok := f.Input.(*plan.Sort)
	if !ok {
		return n, false
	}
	return &plan.Sort{Input: &plan.Filter{Input: s.Input, Pred: f.Pred}, Keys: s.Keys}, true
}

// maxCol returns the highest column index e reads (-1 none).
func maxCol(e expr.Expr) int {
	m := -1
	expr.Walk(e, func(x expr.Expr) bool {
		if c, ok := x.(*expr.ColRef); ok && c.Idx > m {
			m = c.Idx
		}
		return true
	})
	return m
}

// rulePushFilterThroughWindowAssign moves conjuncts that do not read the
// window columns below the window assignment.
func rulePushFilterThroughWindowAssign(n plan.Node) (plan.Node, bool) {
	f, ok := n.(*plan.Filter)
	if !ok {
		return n, false
	}
	wa, ok := f.Input.(*plan.WindowAssign)
	if !ok {
		return n, false
	}
	w := len(wa.Input.Schema())
	var down, up []expr.Expr
	for _, c := range expr.Conjuncts(f.Pred) {
		if maxCol(c) < w && !hasSubquery(c) {
			down = append(down, c)
		} else {
			up = append(up, c)
		}
	}
	if len(down) == 0 {
		return n, false
	}
	nw := *wa
	nw.Input = &plan.Filter{Input: wa.Input, Pred: expr.NewAnd(down...)}
	return withResidual(&nw, up), true
}

// rulePushFilterIntoJoin pushes conjuncts over one join input into that
// input (and, for batch inner joins, conditions over both into the join).
func rulePushFilterIntoJoin(n plan.Node) (plan.Node, bool) {
	f, ok := n.(*plan.Filter)
	if !ok {
		return n, false
	}
	var left, right plan.Node
	var kind plan.JoinKind
	rightOK := true
	switch j := f.Input.(type) {
	case *plan.Join:
		left, right, kind = j.Left, j.Right, j.Kind
	case *plan.IntervalJoin:
		left, right, kind = j.Left, j.Right, j.Kind
	case *plan.StreamJoin: // joins:
		left, right, kind = j.Left, j.Right, j.Kind
	case *plan.WindowJoin: // joins:
		left, right, kind = j.Left, j.Right, j.Kind
	case *plan.LookupJoin:
		left, right, kind = j.Stream, j.Table, j.Kind
		rightOK = false // the table side stays a plain relation for lookups
	default:
		return n, false
	}
	nl := len(left.Schema())
	var lp, rp, both, up []expr.Expr
	for _, c := range expr.Conjuncts(f.Pred) {
		if hasSubquery(c) || isVolatile(c) {
			up = append(up, c)
			continue
		}
		switch sides(c, nl) {
		case sideLeft, sideNone:
			if kind == plan.RightJoin || kind == plan.FullJoin {
				up = append(up, c)
			} else {
				lp = append(lp, c)
			}
		case sideRight:
			if rightOK && (kind == plan.InnerJoin || kind == plan.CrossJoin) {
				rp = append(rp, shift(c, -nl))
			} else {
				up = append(up, c)
			}
		default:
			if j, isJoin := f.Input.(*plan.Join); isJoin && (j.Kind == plan.InnerJoin || j.Kind == plan.CrossJoin) {
				both = append(both, c)
			} else {
				up = append(up, c)
			}
		}
	}
	if len(lp) == 0 && len(rp) == 0 && len(both) == 0 {
		return n, false
	}
	if len(lp) > 0 {
		left = &plan.Filter{Input: left, Pred: expr.NewAnd(lp...)}
	}
	if len(rp) > 0 {
		right = &plan.Filter{Input: right, Pred: expr.NewAnd(rp...)}
	}
	var out plan.Node
	switch j := f.Input.(type) {
	case *plan.Join:
		c := *j
		c.Left, c.Right = left, right
		if len(both) > 0 {
			cond := expr.NewAnd(append([]expr.Expr{c.Cond}, both...)...)
			if c.Cond == nil {
				cond = expr.NewAnd(both...)
			}
			lk, rk, res := splitEqui(cond, nl)
			c.LeftKey = append(append([]expr.Expr(nil), c.LeftKey...), lk...)
			c.RightKey = append(append([]expr.Expr(nil), c.RightKey...), rk...)
			c.Cond = res
			if c.Kind == plan.CrossJoin {
				c.Kind = plan.InnerJoin
			}
		}
		out = &c
	case *plan.IntervalJoin:
		c := *j
		c.Left, c.Right = left, right
		out = &c
	case *plan.StreamJoin: // joins:
		c := *j
		c.Left, c.Right = left, right
		out = &c
	case *plan.WindowJoin: // joins:
		c := *j
		c.Left, c.Right = left, right
		out = &c
	case *plan.LookupJoin:
		c := *j
		c.Stream, c.Table = left, right
		out = &c
	}
	if len(up) > 0 {
		return &plan.Filter{Input: out, Pred: expr.NewAnd(up...)}, true
	}
	return out, true
}

// ruleMergeProjects merges a projection into the one below it when that
// does not duplicate work (the inner expressions are columns or
// constants, or each is used once).
func ruleMergeProjects(n plan.Node) (plan.Node, bool) {
	p, ok := n.(*plan.Project)
	if !ok {
		return n, false
	}
	in, ok := p.Input.(*plan.Project)
	if !ok {
		return n, false
	}
	uses := make([]int, len(in.Exprs))
	for _, e := range p.Exprs {
		if hasSubquery(e) {
			return n, false
		}
		expr.Walk(e, func(x expr.Expr) bool {
			if c, ok := x.(*expr.ColRef); ok && c.Idx < len(uses) {
				uses[c.Idx]++
			}
			return true
		})
	}
	for i, e := range in.Exprs {
		switch e.(type) {
		case *expr.ColRef, *expr.Const, *expr.Param:
			continue
		}
		if uses[i] > 1 || hasSubquery(e) || isVolatile(e) {
			return n, false
		}
	}
	es := make([]expr.Expr, len(p.Exprs))
	for i, e := range p.Exprs {
		es[i] = substitute(e, in.Exprs)
	}
	return &plan.Project{Input: in.Input, Exprs: es, Cols: p.Cols}, true
}

// ruleDropIdentityProject removes a projection that returns its input
// unchanged (same columns, names and types).
func ruleDropIdentityProject(n plan.Node) (plan.Node, bool) {
	p, ok := n.(*plan.Project)
	if !ok {
		return n, false
	}
	in := p.Input.Schema()
	if len(in) != len(p.Exprs) {
		return n, false
	}
	for i, e := range p.Exprs {
		c, ok := e.(*expr.ColRef)
		if !ok || c.Idx != i || in[i].Name != p.Cols[i].Name || in[i].Type != p.Cols[i].Type || in[i].Hidden != p.Cols[i].Hidden {
			return n, false
		}
	}
	return p.Input, true
}

// ruleTopNFromFilter folds a filter on ROW_NUMBER() (rn <= k, rn < k,
// rn = 1) into the TopN below it. In streaming plans, a Top-1 ordered by
// the event-time column becomes a Dedup (keep first, or keep last when
// descending) followed by a projection adding row_number = 1.
func ruleTopNFromFilter(stream bool) Rule {
	return func(n plan.Node) (plan.Node, bool) {
		f, ok := n.(*plan.Filter)
		if !ok {
			return n, false
		}
		t, ok := f.Input.(*plan.TopN)
		if !ok || !t.RankCol {
			return n, false
		}
		rank := len(t.Cols) - 1
		bound := int64(-1)
		var rest []expr.Expr
		for _, c := range expr.Conjuncts(f.Pred) {
			k := rankBound(c, rank)
			if k >= 0 {
				if bound < 0 || k < bound {
					bound = k
				}
				continue
			}
			rest = append(rest, c)
		}
		if bound < 0 {
			return n, false
		}
		nt := *t
		if nt.N < 0 || bound < nt.N {
			nt.N = bound
		}
		var out plan.Node = &nt
		if stream && nt.N == 1 && len(nt.OrderBy) == 1 {
			if c, ok := nt.OrderBy[0].Expr.(*expr.ColRef); ok && c.Idx == timeCol(nt.Input) && c.Idx >= 0 {
				in := nt.Input.Schema()
				d := &plan.Dedup{Input: nt.Input, Keys: nt.PartitionBy, KeepLast: nt.OrderBy[0].Desc, Cols: in}
				exprs := make([]expr.Expr, 0, len(in)+1)
				for i, col := range in {
					exprs = append(exprs, &expr.ColRef{Idx: i, Name: col.Name, T: col.Type})
				}
				exprs = append(exprs, &expr.Const{V: types.NewInt(1), T: types.TInt64})
				out = &plan.Project{Input: d, Exprs: exprs, Cols: nt.Cols}
			}
		}
		if len(rest) > 0 {
			return &plan.Filter{Input: out, Pred: expr.NewAnd(rest...)}, true
		}
		return out, true
	}
}

// rankBound returns k when c is rank <= k, rank < k+1, rank = 1 or the
// commuted forms; -1 otherwise.
func rankBound(c expr.Expr, rank int) int64 {
	cmp, ok := c.(*expr.Cmp)
	if !ok {
		return -1
	}
	op, l, r := cmp.Op, cmp.L, cmp.R
	if _, isCol := r.(*expr.ColRef); isCol {
		op, l, r = op.Commute(), r, l
	}
	col, ok := l.(*expr.ColRef)
	if !ok || col.Idx != rank {
		return -1
	}
	k, ok := r.(*expr.Const)
	if !ok || !k.V.K.IsInteger() {
		return -1
	}
	switch op {
	case expr.LE:
		return max(k.V.I, 0)
	case expr.LT:
		return max(k.V.I-1, 0)
	case expr.EQ:
		if k.V.I == 1 {
			return 1
		}
	}
	return -1
}

// pushScanPredicates copies the conjuncts of a filter directly over a
// snapshot scan into Scan.Pushed (the filter stays: providers may ignore
// Pushed). Batch plans only.
func pushScanPredicates(n plan.Node) plan.Node {
	kids := n.Children()
	if len(kids) > 0 {
		nk := make([]plan.Node, len(kids))
		for i, k := range kids {
			nk[i] = pushScanPredicates(k)
		}
		n = withInputs(n, nk)
	}
	f, ok := n.(*plan.Filter)
	if !ok {
		return n
	}
	s, ok := f.Input.(*plan.Scan)
	if !ok || s.Kind == plan.RelSource {
		return n
	}
	var pushed []expr.Expr
	for _, c := range expr.Conjuncts(f.Pred) {
		if !hasSubquery(c) && !isVolatile(c) && !hasOuter(c) {
			pushed = append(pushed, c)
		}
	}
	if len(pushed) == 0 {
		return n
	}
	ns := *s
	ns.Pushed = pushed
	return &plan.Filter{Input: &ns, Pred: f.Pred}
}

func hasOuter(e expr.Expr) bool {
	found := false
	expr.Walk(e, func(x expr.Expr) bool {
		if _, ok := x.(*expr.OuterRef); ok {
			found = true
		}
		return !found
	})
	return found
}
