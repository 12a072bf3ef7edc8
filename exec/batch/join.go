package batch

import (
	"context"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// joinOp is a hash join (with keys) or nested-loop join (without) of a
// streamed left input against a materialized right input, then Cond.
// Equal keys never match NULLs (SQL equality).
type joinOp struct {
	left, right  operator
	kind         plan.JoinKind
	lkeys, rkeys []expr.Expr
	cond         expr.Expr
	// extra is a further match condition over (left, right) rows (the time
	// bound of an interval join); nil when none.
	extra      func(l, r types.Row) bool
	lw, rw     int
	numAsFloat bool
	ectx       *expr.Context

	built    bool
	rrows    []types.Row
	rkeyRows []types.Row
	table    map[uint64][]int32
	matched  []bool
	pending  []types.Row
	leftDone bool
	tail     int
	scratch  types.Row
	lkeyBuf  types.Row
	t        ticker
}

func (r *runner) buildJoin(x *plan.Join, ectx *expr.Context) (operator, error) {
	if len(x.LeftKey) != len(x.RightKey) {
		return nil, sqlerr.New(sqlerr.Internal, "join has %d left keys and %d right keys", len(x.LeftKey), len(x.RightKey))
	}
	return r.newJoin(x.Left, x.Right, x.Kind, x.LeftKey, x.RightKey, x.Cond, nil, ectx)
}

func (r *runner) buildLookupJoin(x *plan.LookupJoin, ectx *expr.Context) (operator, error) {
	rkeys := make([]expr.Expr, len(x.TableKey))
	tcols := x.Table.Schema()
	for i, c := range x.TableKey {
		if c < 0 || c >= len(tcols) {
			return nil, sqlerr.New(sqlerr.Internal, "lookup join key column %d out of range", c)
		}
		rkeys[i] = &expr.ColRef{Idx: c, Name: tcols[c].Name, T: tcols[c].Type}
	}
	if len(rkeys) != len(x.StreamKey) {
		return nil, sqlerr.New(sqlerr.Internal, "lookup join has %d stream keys and %d table keys", len(x.StreamKey), len(rkeys))
	}
	return r.newJoin(x.Stream, x.Table, x.Kind, x.StreamKey, rkeys, x.Residual, nil, ectx)
}

func (r *runner) buildIntervalJoin(x *plan.IntervalJoin, ectx *expr.Context) (operator, error) {
	lo, hi, lt, rt := x.LowerBound, x.UpperBound, x.LeftTime, x.RightTime
	within := func(l, r types.Row) bool {
		a, b := l[lt], r[rt]
		if a.IsNull() || b.IsNull() {
			return false
		}
		d := b.I - a.I
		return d >= lo && d <= hi
	}
	return r.newJoin(x.Left, x.Right, x.Kind, x.LeftKey, x.RightKey, x.Residual, within, ectx)
}

func (r *runner) newJoin(l, rt plan.Node, kind plan.JoinKind, lkeys, rkeys []expr.Expr, cond expr.Expr,
	extra func(l, r types.Row) bool, ectx *expr.Context) (operator, error) {
	left, err := r.build(l, ectx)
	if err != nil {
		return nil, err
	}
	right, err := r.build(rt, ectx)
	if err != nil {
		left.close()
		return nil, err
	}
	j := &joinOp{left: left, right: right, kind: kind, lkeys: lkeys, rkeys: rkeys, cond: cond, extra: extra,
		lw: len(l.Schema()), rw: len(rt.Schema()), ectx: ectx}
	for i := range lkeys {
		if lkeys[i].Type().Kind != rkeys[i].Type().Kind {
			j.numAsFloat = true
		}
	}
	j.scratch = make(types.Row, j.lw+j.rw)
	j.lkeyBuf = make(types.Row, len(lkeys))
	return j, nil
}

func (j *joinOp) build(ctx context.Context) error {
	var err error
	if j.rrows, err = drain(ctx, j.right); err != nil {
		return err
	}
	if j.kind == plan.RightJoin || j.kind == plan.FullJoin {
		j.matched = make([]bool, len(j.rrows))
	}
	if len(j.rkeys) == 0 {
		return nil
	}
	j.table = make(map[uint64][]int32, len(j.rrows))
	j.rkeyRows = make([]types.Row, len(j.rrows))
rows:
	for i, row := range j.rrows {
		if err := j.t.tick(ctx); err != nil {
			return err
		}
		key := make(types.Row, len(j.rkeys))
		for k, e := range j.rkeys {
			if key[k], err = e.Eval(j.ectx, row); err != nil {
				return err
			}
			if key[k].IsNull() {
				continue rows
			}
		}
		j.rkeyRows[i] = key
		h := hashRow(key, j.numAsFloat)
		j.table[h] = append(j.table[h], int32(i))
	}
	return nil
}

func (j *joinOp) next(ctx context.Context) (types.Row, error) {
	if !j.built {
		if err := j.build(ctx); err != nil {
			return nil, err
		}
		j.built = true
	}
	for len(j.pending) == 0 {
		if j.leftDone {
			return j.nextUnmatchedRight(), nil
		}
		l, err := j.left.next(ctx)
		if err != nil {
			return nil, err
		}
		if l == nil {
			j.leftDone = true
			continue
		}
		if err := j.probe(ctx, l); err != nil {
			return nil, err
		}
	}
	r := j.pending[0]
	j.pending[0] = nil
	j.pending = j.pending[1:]
	return r, nil
}

// nextUnmatchedRight returns the right rows no left row matched (right and
// full joins), padded with NULLs on the left.
func (j *joinOp) nextUnmatchedRight() types.Row {
	if j.matched == nil {
		return nil
	}
	for j.tail < len(j.rrows) {
		i := j.tail
		j.tail++
		if !j.matched[i] {
			out := make(types.Row, j.lw+j.rw)
			copy(out[j.lw:], j.rrows[i])
			return out
		}
	}
	return nil
}

func (j *joinOp) probe(ctx context.Context, l types.Row) error {
	var cands []int32
	all := len(j.rkeys) == 0
	if !all {
		for k, e := range j.lkeys {
			v, err := e.Eval(j.ectx, l)
			if err != nil {
				return err
			}
			if v.IsNull() {
				return j.finishLeft(l, false)
			}
			j.lkeyBuf[k] = v
		}
		cands = j.table[hashRow(j.lkeyBuf, j.numAsFloat)]
	}
	n := len(cands)
	if all {
		n = len(j.rrows)
	}
	found := false
	copy(j.scratch, l)
	for c := 0; c < n; c++ {
		if err := j.t.tick(ctx); err != nil {
			return err
		}
		ri := c
		if !all {
			ri = int(cands[c])
			if !keysEqual(j.lkeyBuf, j.rkeyRows[ri]) {
				continue
			}
		}
		r := j.rrows[ri]
		if j.extra != nil && !j.extra(l, r) {
			continue
		}
		copy(j.scratch[j.lw:], r)
		if j.cond != nil {
			v, err := j.cond.Eval(j.ectx, j.scratch)
			if err != nil {
				return err
			}
			if !isTrue(v) {
				continue
			}
		}
		found = true
		if j.matched != nil {
			j.matched[ri] = true
		}
		switch j.kind {
		case plan.SemiJoin, plan.AntiJoin:
			return j.finishLeft(l, true)
		}
		out := make(types.Row, j.lw+j.rw)
		copy(out, j.scratch)
		j.pending = append(j.pending, out)
	}
	return j.finishLeft(l, found)
}

// finishLeft emits what a left row yields besides its matches: itself for a
// semi join with a match or an anti join without one, and a NULL-padded
// row for left and full joins without a match.
func (j *joinOp) finishLeft(l types.Row, found bool) error {
	switch j.kind {
	case plan.SemiJoin:
		if found {
			j.pending = append(j.pending, l)
		}
	case plan.AntiJoin:
		if !found {
			j.pending = append(j.pending, l)
		}
	case plan.LeftJoin, plan.FullJoin:
		if !found {
			out := make(types.Row, j.lw+j.rw)
			copy(out, l)
			j.pending = append(j.pending, out)
		}
	}
	return nil
}

func keysEqual(a, b types.Row) bool {
	if b == nil {
		return false
	}
	for i := range a {
		if types.Compare(a[i], b[i]) != 0 {
			return false
		}
	}
	return true
}

func (j *joinOp) close() {
	j.left.close()
	j.right.close()
	j.rrows, j.table, j.pending = nil, nil, nil
}
