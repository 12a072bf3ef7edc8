package planner

import (
	"errors"
	"strings"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// unboundedJoin reports whether err is intervalJoin's refusal of a join
// without event-time bounds (as opposed to a malformed one).
func unboundedJoin(err error) bool {
	var e *sqlerr.Error
	return errors.As(err, &e) && e.Code == sqlerr.FeatureNotSupported && strings.HasPrefix(e.Message, "unbounded stream-stream join")
}

// regularJoin plans a stream-stream join that is neither a lookup nor an
// interval join: a WindowJoin when both inputs are windowed and the ON
// clause equates their window bounds, otherwise a StreamJoin.
//
// The state rule of a StreamJoin: it keeps every current row of both
// inputs. That is bounded when both inputs are keyed changelogs (a GROUP
// BY, Top-N or dedup result, or a keyed view: at most one row per key,
// which their own operators already keep), so such joins plan as they
// are. An append-only input would grow the state forever, so the view
// needs WITH (state_ttl = '...'), which forgets a key's rows on a side
// after that much processing time without updates.
func (b *binder) regularJoin(left, right plan.Node, kind plan.JoinKind, cond expr.Expr, nl int, cols types.Schema, why error) (plan.Node, error) {
	if kind == plan.CrossJoin {
		kind = plan.InnerJoin
	}
	lk, rk, residual := splitEqui(cond, nl)
	if c, ok := residual.(*expr.Const); ok && c.V.Bool() {
		residual = nil
	}
	if len(lk) == 0 {
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "a stream-stream join needs an equality between columns of both inputs").
			WithHint("join on keys, e.g. ON a.id = b.id")
	}
	if lw, rw, expire, ok := windowPair(left, right, lk, rk); ok {
		return &plan.WindowJoin{Left: left, Right: right, Kind: kind, LeftKey: lk, RightKey: rk, Residual: residual,
			LeftWindow: lw, RightWindow: rw, Expire: expire, Cols: cols}, nil
	}
	var ttl int64
	if s, ok := b.viewOpts["state_ttl"]; ok {
		us, err := types.ParseInterval(s)
		if err != nil || us <= 0 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid state_ttl %q", s).WithHint("write it as state_ttl = '1 hour'")
		}
		ttl = us
	}
	if ttl == 0 && !(keyBounded(left) && keyBounded(right)) {
		msg := "the join would keep every row of an append-only input forever"
		var e *sqlerr.Error
		if errors.As(why, &e) {
			msg = strings.TrimPrefix(e.Message, "unbounded stream-stream join: ") + ", or a state TTL"
		}
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "unbounded stream-stream join: %s", msg).
			WithHint("add WITH (state_ttl = '1 hour') to the view to forget a key's rows after an hour without updates, " +
				"or bound the join in event time, e.g. ON a.id = b.id AND b.ts BETWEEN a.ts AND a.ts + INTERVAL '30' MINUTE")
	}
	return &plan.StreamJoin{Left: left, Right: right, Kind: kind, LeftKey: lk, RightKey: rk, Residual: residual, TTL: ttl, Cols: cols}, nil
}

// keyBounded reports whether n is a changelog with at most one row per
// key whose operator already keeps that state: a GROUP BY, Top-N or dedup
// result, or a keyed view.
func keyBounded(n plan.Node) bool {
	switch x := n.(type) {
	case *plan.GroupAgg, *plan.TopN, *plan.Dedup:
		return true
	case *plan.Filter:
		return keyBounded(x.Input)
	case *plan.Project:
		return keyBounded(x.Input)
	}
	return false
}

// windowPair finds an equality between window bounds of the two inputs
// among the join keys. It returns the columns and the expiry after the
// bound's value (the larger of the two sides').
func windowPair(left, right plan.Node, lk, rk []expr.Expr) (lw, rw int, expire int64, ok bool) {
	for i := range lk {
		lc, ok1 := lk[i].(*expr.ColRef)
		rc, ok2 := rk[i].(*expr.ColRef)
		if !ok1 || !ok2 {
			continue
		}
		le, lok := windowBound(left, lc.Idx)
		re, rok := windowBound(right, rc.Idx)
		if lok && rok {
			return lc.Idx, rc.Idx, max(le, re), true
		}
	}
	return 0, 0, 0, false
}

// windowBound reports whether column col of n holds a window bound
// (window_start, window_end or window_time of a window aggregate or window
// TVF, possibly passed through projections, filters and GROUP BY keys),
// and how long after the bound's value the window's rows stop changing:
// the window length plus allowed lateness for window_start, the lateness
// for window_end.
func windowBound(n plan.Node, col int) (int64, bool) {
	switch x := n.(type) {
	case *plan.Filter:
		return windowBound(x.Input, col)
	case *plan.TopN:
		return windowBound(x.Input, col)
	case *plan.Dedup:
		return windowBound(x.Input, col)
	case *plan.Project:
		if c, ok := x.Exprs[col].(*expr.ColRef); ok {
			return windowBound(x.Input, c.Idx)
		}
	case *plan.GroupAgg:
		if col < len(x.GroupBy) {
			if c, ok := x.GroupBy[col].(*expr.ColRef); ok {
				return windowBound(x.Input, c.Idx)
			}
		}
	case *plan.WindowAgg:
		if x.Window.Kind == plan.Session {
			return 0, false
		}
		ng := len(x.GroupBy)
		switch col - ng {
		case 0:
			return x.Window.Size + x.Lateness, true
		case 1, 2:
			return x.Lateness + 1, true
		}
		if col < ng {
			if c, ok := x.GroupBy[col].(*expr.ColRef); ok {
				return windowBound(x.Input, c.Idx)
			}
		}
	case *plan.WindowAssign:
		if x.Window.Kind == plan.Session {
			return 0, false
		}
		w := len(x.Input.Schema())
		switch col - w {
		case 0:
			return x.Window.Size, true
		case 1, 2:
			return 1, true
		}
		if col < w {
			return windowBound(x.Input, col)
		}
	}
	return 0, false
}

// pruneJoin narrows the inputs of a StreamJoin or WindowJoin to the
// columns the join and the plan above read (see prune), so that the join
// keeps narrower rows.
func pruneJoin(n plan.Node, need []bool) (plan.Node, []int) {
	var (
		left, right plan.Node
		lk, rk      []expr.Expr
		residual    expr.Expr
		cols        types.Schema
	)
	switch x := n.(type) {
	case *plan.StreamJoin:
		left, right, lk, rk, residual, cols = x.Left, x.Right, x.LeftKey, x.RightKey, x.Residual, x.Cols
	case *plan.WindowJoin:
		left, right, lk, rk, residual, cols = x.Left, x.Right, x.LeftKey, x.RightKey, x.Residual, x.Cols
	default:
		return n, identity(len(n.Schema()))
	}
	nl := len(left.Schema())
	all := append([]bool(nil), need...)
	markCols(all, residual)
	ln := append([]bool(nil), all[:nl]...)
	rn := append([]bool(nil), all[nl:]...)
	markCols(ln, lk...)
	markCols(rn, rk...)
	l, lm := prune(left, ln)
	r, rm := prune(right, rn)
	nlNew := len(l.Schema())
	full := append([]int(nil), lm...)
	for _, v := range rm {
		if v >= 0 {
			v += nlNew
		}
		full = append(full, v)
	}
	switch x := n.(type) {
	case *plan.StreamJoin:
		c := *x
		c.Left, c.Right = l, r
		c.LeftKey, c.RightKey = remapAll(lk, lm), remapAll(rk, rm)
		c.Residual = remap(residual, full)
		c.Cols = keptSchema(cols, full)
		return &c, full
	case *plan.WindowJoin:
		c := *x
		c.Left, c.Right = l, r
		c.LeftKey, c.RightKey = remapAll(lk, lm), remapAll(rk, rm)
		c.LeftWindow, c.RightWindow = lm[x.LeftWindow], rm[x.RightWindow]
		c.Residual = remap(residual, full)
		c.Cols = keptSchema(cols, full)
		return &c, full
	}
	return n, identity(len(n.Schema()))
}

// ruleDropJoinedConjuncts drops, from a filter right above an inner
// stream or window join, the conjuncts the join already applies: WHERE
// conditions over both inputs are folded into an inner join's condition
// when it is planned (the binder keeps the WHERE filter as well).
func ruleDropJoinedConjuncts(n plan.Node) (plan.Node, bool) {
	f, ok := n.(*plan.Filter)
	if !ok {
		return n, false
	}
	var (
		kind     plan.JoinKind
		lk, rk   []expr.Expr
		residual expr.Expr
		nl       int
	)
	switch j := f.Input.(type) {
	case *plan.StreamJoin:
		kind, lk, rk, residual, nl = j.Kind, j.LeftKey, j.RightKey, j.Residual, len(j.Left.Schema())
	case *plan.WindowJoin:
		kind, lk, rk, residual, nl = j.Kind, j.LeftKey, j.RightKey, j.Residual, len(j.Left.Schema())
	default:
		return n, false
	}
	if kind != plan.InnerJoin {
		return n, false
	}
	applied := map[string]bool{}
	for _, c := range expr.Conjuncts(residual) {
		applied[c.String()] = true
	}
	for i := range lk {
		if c, err := expr.NewCmp(expr.EQ, lk[i], shift(rk[i], nl)); err == nil {
			applied[c.String()] = true
		}
		if c, err := expr.NewCmp(expr.EQ, shift(rk[i], nl), lk[i]); err == nil {
			applied[c.String()] = true
		}
	}
	var keep []expr.Expr
	for _, c := range expr.Conjuncts(f.Pred) {
		if !applied[c.String()] || isVolatile(c) {
			keep = append(keep, c)
		}
	}
	if len(keep) == len(expr.Conjuncts(f.Pred)) {
		return n, false
	}
	if len(keep) == 0 {
		return f.Input, true
	}
	return &plan.Filter{Input: f.Input, Pred: expr.NewAnd(keep...)}, true
}
