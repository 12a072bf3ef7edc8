package batch

import (
	"context"
	"slices"

	"github.com/sluice-db/sluice/exec/agg"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// isTrue is SQL WHERE truth: NULL and false reject.
func isTrue(v types.Value) bool { return v.K != types.Null && v.I != 0 }

// scanOp reads a relation's snapshot from the provider on first use.
type scanOp struct {
	r      *runner
	scan   *plan.Scan
	ectx   *expr.Context
	rows   []types.Row
	i      int
	loaded bool
	t      ticker
	// skipPushed is set when a Filter right above applies scan.Pushed.
	skipPushed bool
}

func (s *scanOp) next(ctx context.Context) (types.Row, error) {
	if !s.loaded {
		rows, err := s.r.scanRows(ctx, s.scan, s.ectx)
		if err != nil {
			return nil, err
		}
		s.rows, s.loaded = rows, true
	}
outer:
	for s.i < len(s.rows) {
		if err := s.t.tick(ctx); err != nil {
			return nil, err
		}
		row := s.rows[s.i]
		s.i++
		if len(s.scan.Generated) > 0 && len(row) < len(s.scan.Cols) {
			full := make(types.Row, len(s.scan.Cols))
			copy(full, row)
			phys := row[:min(len(row), s.scan.NumPhysical)]
			for _, g := range s.scan.Generated {
				v, err := g.Expr.Eval(s.ectx, phys)
				if err != nil {
					return nil, err
				}
				full[g.Col] = v
			}
			row = full
		}
		if s.skipPushed {
			return row, nil
		}
		for _, p := range s.scan.Pushed {
			v, err := p.Eval(s.ectx, row)
			if err != nil {
				return nil, err
			}
			if !isTrue(v) {
				continue outer
			}
		}
		return row, nil
	}
	return nil, nil
}

func (s *scanOp) close() { s.rows = nil }

// valuesOp produces constant rows.
type valuesOp struct {
	n    *plan.Values
	ectx *expr.Context
	i    int
}

func (v *valuesOp) next(context.Context) (types.Row, error) {
	if v.i >= len(v.n.Rows) {
		return nil, nil
	}
	es := v.n.Rows[v.i]
	v.i++
	row := make(types.Row, len(es))
	for i, e := range es {
		x, err := e.Eval(v.ectx, nil)
		if err != nil {
			return nil, err
		}
		row[i] = x
	}
	return row, nil
}

func (v *valuesOp) close() {}

type filterOp struct {
	in   operator
	pred expr.Expr
	ectx *expr.Context
	t    ticker
}

func (f *filterOp) next(ctx context.Context) (types.Row, error) {
	for {
		row, err := f.in.next(ctx)
		if row == nil || err != nil {
			return nil, err
		}
		v, err := f.pred.Eval(f.ectx, row)
		if err != nil {
			return nil, err
		}
		if isTrue(v) {
			return row, nil
		}
		if err := f.t.tick(ctx); err != nil {
			return nil, err
		}
	}
}

func (f *filterOp) close() { f.in.close() }

type projectOp struct {
	in    operator
	exprs []expr.Expr
	ectx  *expr.Context
}

func (p *projectOp) next(ctx context.Context) (types.Row, error) {
	row, err := p.in.next(ctx)
	if row == nil || err != nil {
		return nil, err
	}
	out := make(types.Row, len(p.exprs))
	for i, e := range p.exprs {
		if out[i], err = e.Eval(p.ectx, row); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (p *projectOp) close() { p.in.close() }

// limitOp skips offset rows, then passes at most count (-1: all).
type limitOp struct {
	in            operator
	count, offset int64
	seen          int64
}

func (l *limitOp) next(ctx context.Context) (types.Row, error) {
	for ; l.offset > 0; l.offset-- {
		row, err := l.in.next(ctx)
		if row == nil || err != nil {
			return nil, err
		}
	}
	if l.count >= 0 && l.seen >= l.count {
		return nil, nil
	}
	row, err := l.in.next(ctx)
	if row == nil || err != nil {
		return nil, err
	}
	l.seen++
	return row, nil
}

func (l *limitOp) close() { l.in.close() }

type unionOp struct {
	ins []operator
	i   int
}

func (u *unionOp) next(ctx context.Context) (types.Row, error) {
	for u.i < len(u.ins) {
		row, err := u.ins[u.i].next(ctx)
		if err != nil {
			return nil, err
		}
		if row != nil {
			return row, nil
		}
		u.i++
	}
	return nil, nil
}

func (u *unionOp) close() {
	for _, in := range u.ins {
		in.close()
	}
}

// sortOp reads its whole input and sorts it stably by keys (agg.CompareKeys:
// NULLs last unless NullsFirst).
type sortOp struct {
	in     operator
	keys   []plan.SortKey
	ectx   *expr.Context
	rows   []types.Row
	i      int
	sorted bool
}

type keyed struct {
	key types.Row
	row types.Row
}

func (s *sortOp) next(ctx context.Context) (types.Row, error) {
	if !s.sorted {
		rows, err := sortRows(ctx, s.in, s.keys, s.ectx)
		if err != nil {
			return nil, err
		}
		s.rows, s.sorted = rows, true
	}
	if s.i >= len(s.rows) {
		return nil, nil
	}
	row := s.rows[s.i]
	s.rows[s.i] = nil
	s.i++
	return row, nil
}

func (s *sortOp) close() { s.in.close(); s.rows = nil }

// evalKeys evaluates the sort keys over row.
func evalKeys(ectx *expr.Context, keys []plan.SortKey, row types.Row) (types.Row, error) {
	k := make(types.Row, len(keys))
	for i, sk := range keys {
		v, err := sk.Expr.Eval(ectx, row)
		if err != nil {
			return nil, err
		}
		k[i] = v
	}
	return k, nil
}

func sortRows(ctx context.Context, in operator, keys []plan.SortKey, ectx *expr.Context) ([]types.Row, error) {
	var items []keyed
	var t ticker
	for {
		row, err := in.next(ctx)
		if err != nil {
			return nil, err
		}
		if row == nil {
			break
		}
		k, err := evalKeys(ectx, keys, row)
		if err != nil {
			return nil, err
		}
		items = append(items, keyed{key: k, row: row})
		if err := t.tick(ctx); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(items, func(a, b keyed) int { return agg.CompareKeys(keys, a.key, b.key) })
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	out := make([]types.Row, len(items))
	for i := range items {
		out[i] = items[i].row
	}
	return out, nil
}

// tableFuncOp yields the rows of a function in FROM (generate_series,
// unnest, ...), evaluated once on first use.
type tableFuncOp struct {
	n      *plan.TableFunc
	ectx   *expr.Context
	rows   []types.Row
	i      int
	loaded bool
}

func (o *tableFuncOp) next(ctx context.Context) (types.Row, error) {
	if !o.loaded {
		if err := checkCtx(ctx); err != nil {
			return nil, err
		}
		rows, err := o.n.Rows(o.ectx)
		if err != nil {
			return nil, err
		}
		o.rows, o.loaded = rows, true
	}
	if o.i >= len(o.rows) {
		return nil, nil
	}
	r := o.rows[o.i]
	o.i++
	return r, nil
}

func (o *tableFuncOp) close() { o.rows = nil }
