package planner

import (
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

func (b *binder) join(x *ast.Join, outer *scope) (plan.Node, *scope, error) {
	left, lsc, err := b.tableRef(x.Left, outer)
	if err != nil {
		return nil, nil, err
	}
	right, rsc, err := b.tableRef(x.Right, outer)
	if err != nil {
		return nil, nil, err
	}
	kind := plan.InnerJoin
	switch x.Tp {
	case ast.LeftJoin:
		kind = plan.LeftJoin
	case ast.RightJoin:
		kind = plan.RightJoin
	}
	sc := lsc.concat(rsc)
	sc.parent = outer
	nl := len(lsc.cols)
	var cond expr.Expr
	switch {
	case x.On != nil:
		b.clause = "JOIN conditions"
		c, err := b.bind(x.On.Expr, sc)
		b.clause = ""
		if err != nil {
			return nil, nil, err
		}
		if err := wantBool(c, "JOIN/ON"); err != nil {
			return nil, nil, err
		}
		cond = c
	case len(x.Using) > 0 || x.NaturalJoin:
		names := make([]string, 0, len(x.Using))
		for _, u := range x.Using {
			names = append(names, u.Name.O)
		}
		if x.NaturalJoin {
			for _, c := range lsc.cols {
				if i, _ := rsc.find("", c.name); i >= 0 {
					names = append(names, c.name)
				}
			}
		}
		var terms []expr.Expr
		for _, n := range names {
			li, err := lsc.find("", n)
			if err != nil {
				return nil, nil, err
			}
			ri, err := rsc.find("", n)
			if err != nil {
				return nil, nil, err
			}
			if li < 0 || ri < 0 {
				return nil, nil, sqlerr.New(sqlerr.UndefinedColumn, "column %q specified in USING clause does not exist in both tables", n)
			}
			t, err := expr.NewCmp(expr.EQ,
				&expr.ColRef{Idx: li, Name: lsc.cols[li].name, T: lsc.cols[li].t},
				&expr.ColRef{Idx: nl + ri, Name: rsc.cols[ri].name, T: rsc.cols[ri].t})
			if err != nil {
				return nil, nil, err
			}
			terms = append(terms, t)
			// The right copy of a USING column is not visible by name.
			sc.cols[nl+ri].hidden = true
			sc.cols[nl+ri].table = "\x00using"
		}
		cond = expr.NewAnd(terms...)
	default:
		if x.Tp == ast.CrossJoin {
			kind = plan.CrossJoin
		}
	}
	cols := sc.schema()
	if b.stream && b.joinWhere != nil && (kind == plan.InnerJoin || kind == plan.CrossJoin) {
		saveG, saveS, saveC := b.group, b.subst, b.clause
		b.group, b.subst, b.clause = nil, nil, "WHERE"
		w, err := b.bind(b.joinWhere, sc)
		b.group, b.subst, b.clause = saveG, saveS, saveC
		if err == nil {
			var extra []expr.Expr
			for _, c := range expr.Conjuncts(w) {
				if sides(c, nl) == sideBoth && !hasSubquery(c) {
					extra = append(extra, c)
				}
			}
			if len(extra) > 0 {
				if cond != nil {
					extra = append([]expr.Expr{cond}, extra...)
				}
				cond = expr.NewAnd(extra...)
				kind = plan.InnerJoin
			}
		}
	}
	if b.stream {
		n, err := b.streamJoin(left, right, kind, cond, nl, cols)
		return n, sc, err
	}
	if kind == plan.LeftJoin && cond != nil {
		// ON conditions over the right input alone filter that input.
		var keep, rightOnly []expr.Expr
		for _, c := range expr.Conjuncts(cond) {
			if sides(c, nl) == sideRight && !isVolatile(c) && !hasOuter(c) {
				rightOnly = append(rightOnly, shift(c, -nl))
			} else {
				keep = append(keep, c)
			}
		}
		if len(rightOnly) > 0 {
			right = &plan.Filter{Input: right, Pred: expr.NewAnd(rightOnly...)}
			cond = nil
			if len(keep) > 0 {
				cond = expr.NewAnd(keep...)
			}
		}
	}
	lk, rk, residual := splitEqui(cond, nl)
	if kind == plan.CrossJoin && cond != nil {
		kind = plan.InnerJoin
	}
	return &plan.Join{Left: left, Right: right, Kind: kind, LeftKey: lk, RightKey: rk, Cond: residual, Cols: cols}, sc, nil
}

// splitEqui splits cond (over left columns 0..nl-1, then right columns)
// into equality keys (right keys re-indexed to the right input) and the
// residual.
func splitEqui(cond expr.Expr, nl int) (lk, rk []expr.Expr, residual expr.Expr) {
	var rest []expr.Expr
	for _, c := range expr.Conjuncts(cond) {
		if cmp, ok := c.(*expr.Cmp); ok && cmp.Op == expr.EQ {
			ls, rs := sides(cmp.L, nl), sides(cmp.R, nl)
			switch {
			case ls == sideLeft && rs == sideRight:
				lk = append(lk, cmp.L)
				rk = append(rk, shift(cmp.R, -nl))
				continue
			case ls == sideRight && rs == sideLeft:
				lk = append(lk, cmp.R)
				rk = append(rk, shift(cmp.L, -nl))
				continue
			}
		}
		rest = append(rest, c)
	}
	if len(rest) > 0 {
		residual = expr.NewAnd(rest...)
	}
	return lk, rk, residual
}

const (
	sideNone  = 0
	sideLeft  = 1
	sideRight = 2
	sideBoth  = 3
)

// sides reports which join inputs e reads (columns < nl are left).
func sides(e expr.Expr, nl int) int {
	s := sideNone
	expr.Walk(e, func(x expr.Expr) bool {
		switch c := x.(type) {
		case *expr.ColRef:
			if c.Idx < nl {
				s |= sideLeft
			} else {
				s |= sideRight
			}
		case *expr.Subquery:
			s = sideBoth
		}
		return true
	})
	return s
}

// shift adds d to every column index of e.
func shift(e expr.Expr, d int) expr.Expr {
	if d == 0 {
		return e
	}
	out, _ := expr.Transform(e, func(x expr.Expr) (expr.Expr, error) {
		if c, ok := x.(*expr.ColRef); ok {
			return &expr.ColRef{Idx: c.Idx + d, Name: c.Name, T: c.T}, nil
		}
		return x, nil
	})
	return out
}

// isLookupSide reports whether n is a table or view (a relation with
// contents to look up), possibly filtered.
func isLookupSide(n plan.Node) bool {
	switch x := n.(type) {
	case *plan.Scan:
		return x.Kind == plan.RelTable || x.Kind == plan.RelView
	case *plan.Filter:
		return isLookupSide(x.Input)
	}
	return false
}

func (b *binder) streamJoin(left, right plan.Node, kind plan.JoinKind, cond expr.Expr, nl int, cols types.Schema) (plan.Node, error) {
	if kind == plan.RightJoin || kind == plan.FullJoin {
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "%s joins are not supported in streaming queries", kind).
			WithHint("put the stream on the left and use LEFT JOIN")
	}
	leftTable, rightTable := isLookupSide(left), isLookupSide(right)
	_, leftSrc := left.(*plan.Scan)
	switch {
	case rightTable && !(leftTable && !leftSrc):
		return lookupJoin(left, right, kind, cond, nl, cols)
	case leftTable && !rightTable && kind == plan.InnerJoin:
		// table JOIN stream: look up from the stream, then restore the
		// written column order.
		nr := len(cols) - nl
		swapped := shiftSides(cond, nl, nr)
		sc := append(append(types.Schema(nil), cols[nl:]...), cols[:nl]...)
		j, err := lookupJoin(right, left, kind, swapped, nr, sc)
		if err != nil {
			return nil, err
		}
		exprs := make([]expr.Expr, len(cols))
		for i, c := range cols {
			src := nr + i
			if i >= nl {
				src = i - nl
			}
			exprs[i] = &expr.ColRef{Idx: src, Name: c.Name, T: c.Type}
		}
		return &plan.Project{Input: j, Exprs: exprs, Cols: cols}, nil
	}
	n, err := intervalJoin(left, right, kind, cond, nl, cols)
	if err != nil && unboundedJoin(err) { // joins: regular and window joins
		return b.regularJoin(left, right, kind, cond, nl, cols, err)
	}
	return n, err
}

// shiftSides rewrites cond over (left nl cols, right nr cols) to be over
// (right, left).
func shiftSides(cond expr.Expr, nl, nr int) expr.Expr {
	if cond == nil {
		return nil
	}
	out, _ := expr.Transform(cond, func(x expr.Expr) (expr.Expr, error) {
		if c, ok := x.(*expr.ColRef); ok {
			if c.Idx < nl {
				return &expr.ColRef{Idx: c.Idx + nr, Name: c.Name, T: c.T}, nil
			}
			return &expr.ColRef{Idx: c.Idx - nl, Name: c.Name, T: c.T}, nil
		}
		return x, nil
	})
	return out
}

func lookupJoin(stream, table plan.Node, kind plan.JoinKind, cond expr.Expr, nl int, cols types.Schema) (plan.Node, error) {
	if kind == plan.CrossJoin {
		kind = plan.InnerJoin
	}
	// exec looks rows up in the relation itself: a filter on the table side
	// becomes part of the residual condition.
	var tableConds []expr.Expr
	for {
		f, ok := table.(*plan.Filter)
		if !ok {
			break
		}
		tableConds = append(tableConds, shift(f.Pred, nl))
		table = f.Input
	}
	if len(tableConds) > 0 {
		if cond != nil {
			tableConds = append([]expr.Expr{cond}, tableConds...)
		}
		cond = expr.NewAnd(tableConds...)
	}
	lk, rk, residual := splitEqui(cond, nl)
	j := &plan.LookupJoin{Stream: stream, Table: table, Kind: kind, Residual: residual, Cols: cols}
	for i, k := range rk {
		c, ok := k.(*expr.ColRef)
		if !ok {
			return nil, sqlerr.New(sqlerr.FeatureNotSupported, "a lookup join must compare table columns directly, not %s", k).
				WithHint("write ON stream_expr = table.column")
		}
		j.StreamKey = append(j.StreamKey, lk[i])
		j.TableKey = append(j.TableKey, c.Idx)
	}
	if len(j.TableKey) == 0 {
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "a join between a stream and a table or view needs an equality on table columns").
			WithHint("add ON stream.key = table.key")
	}
	return j, nil
}

// linTime matches e as a time column plus a constant interval:
// col, offset (microseconds).
func linTime(e expr.Expr) (int, int64, bool) {
	switch x := e.(type) {
	case *expr.ColRef:
		if x.T.Kind.IsTime() {
			return x.Idx, 0, true
		}
	case *expr.Arith:
		c, ok := expr.Fold(x.R).(*expr.Const)
		if !ok || c.V.K != types.Interval {
			return 0, 0, false
		}
		col, off, ok := linTime(x.L)
		if !ok {
			return 0, 0, false
		}
		switch x.Op {
		case expr.Add:
			return col, off + c.V.I, true
		case expr.Sub:
			return col, off - c.V.I, true
		}
	}
	return 0, 0, false
}

func intervalJoin(left, right plan.Node, kind plan.JoinKind, cond expr.Expr, nl int, cols types.Schema) (plan.Node, error) {
	lt, rt := timeCol(left), timeCol(right)
	unbounded := func(why string) error {
		return sqlerr.New(sqlerr.FeatureNotSupported, "unbounded stream-stream join: %s", why).
			WithHint("bound the join in event time, e.g. ON a.id = b.id AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '30' MINUTE")
	}
	if lt < 0 || rt < 0 {
		return nil, unbounded("both streams need a watermark")
	}
	if kind == plan.CrossJoin {
		kind = plan.InnerJoin
	}
	lo, hi := int64(-1<<62), int64(1<<62)
	haveLo, haveHi := false, false
	var rest []expr.Expr
	for _, c := range expr.Conjuncts(cond) {
		cmp, ok := c.(*expr.Cmp)
		if ok {
			lc, lo1, ok1 := linTime(cmp.L)
			rc, ro1, ok2 := linTime(cmp.R)
			if ok1 && ok2 {
				// Normalise to right_time - left_time op k.
				op := cmp.Op
				var k int64
				switch {
				case lc == nl+rt && rc == lt:
					// r + lo1 op l + ro1  =>  r - l op ro1 - lo1
					k = ro1 - lo1
				case lc == lt && rc == nl+rt:
					// l + lo1 op r + ro1  =>  r - l (commuted op) lo1 - ro1
					k = lo1 - ro1
					op = op.Commute()
				default:
					rest = append(rest, c)
					continue
				}
				switch op {
				case expr.GE, expr.GT:
					if !haveLo || k > lo {
						lo = k
					}
					if op == expr.GT {
						lo = k + 1
					}
					haveLo = true
				case expr.LE, expr.LT:
					if !haveHi || k < hi {
						hi = k
					}
					if op == expr.LT {
						hi = k - 1
					}
					haveHi = true
				case expr.EQ:
					lo, hi, haveLo, haveHi = k, k, true, true
				default:
					rest = append(rest, c)
				}
				continue
			}
		}
		rest = append(rest, c)
	}
	if !haveLo || !haveHi {
		return nil, unbounded("the ON clause needs both a lower and an upper bound on the difference of the event-time columns " +
			left.Schema()[lt].Name + " and " + right.Schema()[rt].Name)
	}
	if lo > hi {
		return nil, sqlerr.New(sqlerr.InvalidParameterValue, "the interval join bounds are empty")
	}
	lk, rk, residual := splitEqui(expr.NewAnd(rest...), nl)
	if c, ok := residual.(*expr.Const); ok && c.V.Bool() {
		residual = nil
	}
	return &plan.IntervalJoin{Left: left, Right: right, Kind: kind, LeftKey: lk, RightKey: rk,
		LeftTime: lt, RightTime: rt, LowerBound: lo, UpperBound: hi, Residual: residual, Cols: cols}, nil
}
