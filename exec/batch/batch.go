package batch

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// Provider supplies the rows of scanned relations.
type Provider interface {
	// Rows returns a consistent snapshot of a scanned relation (view, table,
	// system/catalog table). The executor never modifies the returned rows.
	// A row may have only the relation's physical columns (scan.NumPhysical);
	// the executor then computes the generated ones. scan.Pushed predicates
	// may be used to narrow the result (see PushedEquals; ExprContext(ctx)
	// is the statement's expression context); the executor applies them
	// anyway.
	Rows(ctx context.Context, scan *plan.Scan) ([]types.Row, error)
}

// Iterator yields the rows of a running plan.
type Iterator interface {
	// Next returns the next row, or nil, nil at the end. The row belongs to
	// the caller and stays valid after later calls.
	Next(ctx context.Context) (types.Row, error)
	// Close releases the iterator; it is safe to call more than once.
	Close()
}

// Run prepares root for execution over p and returns an iterator over its
// rows. Nothing is read before the first Next. ectx is copied; the copy's
// RunSubquery runs subquery plans (uncorrelated ones once per Run). A plan
// the batch executor cannot run (Sink) is a 0A000 error.
func Run(ctx context.Context, ectx *expr.Context, root plan.Node, p Provider) (it Iterator, err error) {
	if root == nil || p == nil {
		return nil, sqlerr.New(sqlerr.Internal, "batch.Run needs a plan and a provider")
	}
	defer recoverTo(&err)
	r := newRunner(ectx, p)
	op, err := r.build(root, r.ectx)
	if err != nil {
		return nil, err
	}
	return &iterator{op: op, r: r}, nil
}

// Collect runs root to completion and returns all its rows.
func Collect(ctx context.Context, ectx *expr.Context, root plan.Node, p Provider) (rows []types.Row, err error) {
	it, err := Run(ctx, ectx, root, p)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	defer recoverTo(&err)
	i := it.(*iterator)
	i.r.ctx = ctx
	return drain(ctx, i.op)
}

// recoverTo turns a panic in an operator or expression into an internal
// error (XX000) for the statement, so that one bad query cannot take the
// server down (the edge of the executor, as TiDB's executor wrapper does).
func recoverTo(err *error) {
	if p := recover(); p != nil {
		*err = &sqlerr.Error{Code: sqlerr.Internal, Message: fmt.Sprintf("internal error while executing the query: %v", p),
			Detail: string(debug.Stack())}
	}
}

type iterator struct {
	op     operator
	r      *runner
	closed bool
}

func (it *iterator) Next(ctx context.Context) (row types.Row, err error) {
	defer recoverTo(&err)
	if it.closed {
		return nil, nil
	}
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	it.r.ctx = ctx
	return it.op.next(ctx)
}

func (it *iterator) Close() {
	if !it.closed {
		it.closed = true
		it.op.close()
	}
}

// operator is one running plan node (Volcano: pull one row at a time).
type operator interface {
	// next returns the next row or nil at the end.
	next(ctx context.Context) (types.Row, error)
	close()
}

func drain(ctx context.Context, op operator) ([]types.Row, error) {
	var out []types.Row
	for n := 0; ; n++ {
		if n&1023 == 1023 {
			if err := checkCtx(ctx); err != nil {
				return nil, err
			}
		}
		row, err := op.next(ctx)
		if err != nil {
			return nil, err
		}
		if row == nil {
			return out, nil
		}
		out = append(out, row)
	}
}

// checkCtx turns a cancelled or expired context into the error Postgres
// sends (57014).
func checkCtx(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	msg := "canceling statement due to user request"
	if errors.Is(err, context.DeadlineExceeded) {
		msg = "canceling statement due to statement timeout"
	}
	return &sqlerr.Error{Code: sqlerr.QueryCanceled, Message: msg, Err: err}
}

// ticker checks the context every 1024 calls, for loops over many rows.
type ticker uint32

func (t *ticker) tick(ctx context.Context) error {
	*t++
	if *t&1023 == 0 {
		return checkCtx(ctx)
	}
	return nil
}

// topKMax is the largest LIMIT+OFFSET that ORDER BY ... LIMIT runs as a
// bounded heap (topKOp) rather than a full sort.
const topKMax = 1 << 16

// runner holds what one Run shares: the provider, the expression context
// and the subquery cache.
type runner struct {
	p    Provider
	ectx *expr.Context
	// ctx is the context of the Next call in progress, for subqueries run
	// from inside expression evaluation (expr.Context has no context.Context).
	ctx context.Context
	// correlated memoises whether a subquery plan reads outer rows; cache
	// holds the rows of uncorrelated ones.
	correlated map[plan.Node]bool
	cache      map[plan.Node][]types.Row
	// scans holds the provider's rows per Scan node whose pushed
	// predicates do not depend on an outer row, so that a scan inside a
	// correlated subquery reads its relation once per statement (one
	// snapshot, one provider call).
	scans map[*plan.Scan][]types.Row
}

func newRunner(ectx *expr.Context, p Provider) *runner {
	// The maps are made on first write: most statements have no subquery.
	r := &runner{p: p, ctx: context.Background()}
	c := expr.Context{}
	if ectx != nil {
		c = *ectx
	}
	c.RunSubquery = r.runSubquery
	r.ectx = &c
	return r
}

// runSubquery is expr.Context.RunSubquery: it runs the subquery plan with
// ctx.Outer extended by outer.
func (r *runner) runSubquery(ctx *expr.Context, p any, outer types.Row) ([]types.Row, error) {
	node, ok := p.(plan.Node)
	if !ok {
		return nil, fmt.Errorf("subquery plan is a %T, not a plan.Node", p)
	}
	corr, known := r.correlated[node]
	if !known {
		corr = planIsCorrelated(node, 1)
		if r.correlated == nil {
			r.correlated = map[plan.Node]bool{}
		}
		r.correlated[node] = corr
	}
	if !corr {
		if rows, ok := r.cache[node]; ok {
			return rows, nil
		}
	}
	child := *ctx
	child.Outer = append(ctx.Outer[:len(ctx.Outer):len(ctx.Outer)], outer)
	op, err := r.build(node, &child)
	if err != nil {
		return nil, err
	}
	defer op.close()
	rows, err := drain(r.ctx, op)
	if err != nil {
		return nil, err
	}
	if !corr {
		if r.cache == nil {
			r.cache = map[plan.Node][]types.Row{}
		}
		r.cache[node] = rows
	}
	return rows, nil
}

// planIsCorrelated reports whether n reads a row of a query enclosing it:
// an OuterRef deeper than level, where level counts the subquery nestings
// from the plan being asked about (1 at its top).
func planIsCorrelated(n plan.Node, level int) bool {
	for _, e := range nodeExprs(n) {
		if exprIsCorrelated(e, level) {
			return true
		}
	}
	for _, c := range n.Children() {
		if planIsCorrelated(c, level) {
			return true
		}
	}
	return false
}

func exprIsCorrelated(e expr.Expr, level int) bool {
	if e == nil {
		return false
	}
	switch x := e.(type) {
	case *expr.OuterRef:
		return x.Depth >= level
	case *expr.Subquery:
		if x.Test != nil && exprIsCorrelated(x.Test, level) {
			return true
		}
		if p, ok := x.Plan.(plan.Node); ok && planIsCorrelated(p, level+1) {
			return true
		}
		return false
	}
	for _, c := range expr.Children(e) {
		if exprIsCorrelated(c, level) {
			return true
		}
	}
	return false
}

// nodeExprs lists every expression a node evaluates.
func nodeExprs(n plan.Node) []expr.Expr {
	var out []expr.Expr
	aggs := func(as []plan.AggCall) {
		for _, a := range as {
			out = append(out, a.Args...)
			out = append(out, a.Filter)
			for _, k := range a.OrderBy {
				out = append(out, k.Expr)
			}
		}
	}
	switch x := n.(type) {
	case *plan.Scan:
		out = append(out, x.Pushed...)
		for _, g := range x.Generated {
			out = append(out, g.Expr)
		}
	case *plan.Filter:
		out = append(out, x.Pred)
	case *plan.Project:
		out = append(out, x.Exprs...)
	case *plan.WindowAgg:
		out = append(out, x.GroupBy...)
		aggs(x.Aggs)
	case *plan.GroupAgg:
		out = append(out, x.GroupBy...)
		aggs(x.Aggs)
	case *plan.LookupJoin:
		out = append(out, x.StreamKey...)
		out = append(out, x.Residual)
	case *plan.IntervalJoin:
		out = append(out, x.LeftKey...)
		out = append(out, x.RightKey...)
		out = append(out, x.Residual)
	case *plan.Join:
		out = append(out, x.LeftKey...)
		out = append(out, x.RightKey...)
		out = append(out, x.Cond)
	case *plan.TopN:
		out = append(out, x.PartitionBy...)
		for _, k := range x.OrderBy {
			out = append(out, k.Expr)
		}
	case *plan.Dedup:
		out = append(out, x.Keys...)
	case *plan.Values:
		for _, r := range x.Rows {
			out = append(out, r...)
		}
	case *plan.Sort:
		for _, k := range x.Keys {
			out = append(out, k.Expr)
		}
	case *plan.TableFunc:
		out = append(out, x.Args...)
	}
	return out
}

// build turns a plan node into a running operator whose expressions
// evaluate under ectx.
func (r *runner) build(n plan.Node, ectx *expr.Context) (operator, error) {
	child := func(c plan.Node) (operator, error) { return r.build(c, ectx) }
	switch x := n.(type) {
	case *plan.Scan:
		return &scanOp{r: r, scan: x, ectx: ectx}, nil
	case *plan.Values:
		return &valuesOp{n: x, ectx: ectx}, nil
	case *plan.Filter:
		in, err := child(x.Input)
		if err != nil {
			return nil, err
		}
		if s, ok := in.(*scanOp); ok && coversPushed(x.Pred, s.scan.Pushed) {
			// The planner keeps the WHERE above a scan it pushed into; do
			// not evaluate the same conjuncts twice.
			s.skipPushed = true
		}
		return &filterOp{in: in, pred: x.Pred, ectx: ectx}, nil
	case *plan.Project:
		in, err := child(x.Input)
		if err != nil {
			return nil, err
		}
		return &projectOp{in: in, exprs: x.Exprs, ectx: ectx}, nil
	case *plan.Limit:
		count, offset, err := limitOf(x, ectx)
		if err != nil {
			return nil, err
		}
		if srt, ok := x.Input.(*plan.Sort); ok && count >= 0 && offset >= 0 && count+offset <= topKMax {
			in, err := child(srt.Input)
			if err != nil {
				return nil, err
			}
			top := &topKOp{in: in, keys: srt.Keys, k: int(count + offset), ectx: ectx}
			return &limitOp{in: top, count: count, offset: offset}, nil
		}
		in, err := child(x.Input)
		if err != nil {
			return nil, err
		}
		return &limitOp{in: in, count: count, offset: offset}, nil
	case *plan.Sort:
		in, err := child(x.Input)
		if err != nil {
			return nil, err
		}
		return &sortOp{in: in, keys: x.Keys, ectx: ectx}, nil
	case *plan.Union:
		ins := make([]operator, len(x.Inputs))
		for i, c := range x.Inputs {
			in, err := child(c)
			if err != nil {
				return nil, err
			}
			ins[i] = in
		}
		return &unionOp{ins: ins}, nil
	case *plan.Materialize:
		return child(x.Input)
	case *plan.GroupAgg:
		in, err := child(x.Input)
		if err != nil {
			return nil, err
		}
		return newGroupAgg(in, x.GroupBy, x.Aggs, ectx)
	case *plan.WindowAgg:
		in, err := child(x.Input)
		if err != nil {
			return nil, err
		}
		return newWindowAgg(in, x, ectx)
	case *plan.WindowAssign:
		in, err := child(x.Input)
		if err != nil {
			return nil, err
		}
		if x.Window.Kind == plan.Session {
			return nil, sqlerr.New(sqlerr.FeatureNotSupported, "session windows cannot be assigned without aggregation")
		}
		return &windowAssignOp{in: in, w: x.Window, kind: windowTimeKind(x.Cols)}, nil
	case *plan.TopN:
		in, err := child(x.Input)
		if err != nil {
			return nil, err
		}
		return &topNOp{in: in, n: x, ectx: ectx}, nil
	case *plan.Dedup:
		in, err := child(x.Input)
		if err != nil {
			return nil, err
		}
		return &dedupOp{in: in, n: x, ectx: ectx}, nil
	case *plan.Join:
		return r.buildJoin(x, ectx)
	case *plan.LookupJoin:
		return r.buildLookupJoin(x, ectx)
	case *plan.IntervalJoin:
		return r.buildIntervalJoin(x, ectx)
	case *plan.TableFunc:
		return &tableFuncOp{n: x, ectx: ectx}, nil
	case *plan.Sink:
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "a sink cannot run as a query")
	}
	return nil, sqlerr.New(sqlerr.FeatureNotSupported, "the batch executor cannot run %T", n)
}

// coversPushed reports whether every pushed conjunct is also a conjunct of
// pred.
func coversPushed(pred expr.Expr, pushed []expr.Expr) bool {
	if len(pushed) == 0 {
		return true
	}
	terms := []expr.Expr{pred}
	if a, ok := pred.(*expr.And); ok {
		terms = a.Terms
	}
	var have map[string]bool
outer:
	for _, p := range pushed {
		for _, t := range terms {
			if t == p { // the planner usually shares the expression
				continue outer
			}
		}
		if have == nil {
			have = make(map[string]bool, len(terms))
			for _, t := range terms {
				have[t.String()] = true
			}
		}
		if !have[p.String()] {
			return false
		}
	}
	return true
}

// scanRows returns the provider's rows for s, reusing an earlier read of
// the same Scan node in this Run when its pushed predicates read no outer
// row.
func (r *runner) scanRows(ctx context.Context, s *plan.Scan, ectx *expr.Context) ([]types.Row, error) {
	reuse := true
	for _, p := range s.Pushed {
		if exprIsCorrelated(p, 1) {
			reuse = false
			break
		}
	}
	if reuse {
		if rows, ok := r.scans[s]; ok {
			return rows, nil
		}
	}
	rows, err := r.p.Rows(withExprContext(ctx, ectx), s)
	if err != nil {
		return nil, err
	}
	if reuse {
		if r.scans == nil {
			r.scans = map[*plan.Scan][]types.Row{}
		}
		r.scans[s] = rows
	}
	return rows, nil
}

// limitOf returns a Limit's count (-1: none) and offset, reading them from
// the statement's parameters when they are parameters (LIMIT $1): as in
// Postgres, NULL means no limit (no offset), a negative value is an error.
func limitOf(l *plan.Limit, ectx *expr.Context) (count, offset int64, err error) {
	count, offset = l.Count, l.Offset
	read := func(p *expr.Param, none int64, what, code string) (int64, error) {
		v, err := p.Eval(ectx, nil)
		switch {
		case err != nil:
			return 0, err
		case v.IsNull():
			return none, nil
		case !v.K.IsInteger():
			return 0, sqlerr.New(sqlerr.DatatypeMismatch, "argument of %s must be type bigint, not %s", what, v.K)
		case v.I < 0:
			return 0, sqlerr.New(code, "%s must not be negative", what)
		}
		return v.I, nil
	}
	if l.CountParam != nil {
		if count, err = read(l.CountParam, -1, "LIMIT", sqlerr.InvalidRowCountInLimit); err != nil {
			return 0, 0, err
		}
	}
	if l.OffsetParam != nil {
		if offset, err = read(l.OffsetParam, 0, "OFFSET", sqlerr.InvalidRowCountInOffset); err != nil {
			return 0, 0, err
		}
	}
	return count, offset, nil
}
