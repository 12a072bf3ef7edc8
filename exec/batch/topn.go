package batch

import (
	"context"
	"slices"
	"sort"

	"github.com/sluice-db/sluice/exec/agg"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// topNOp keeps, per partition, the first N rows by OrderBy (ties in
// arrival order), holding at most N rows per partition. Output: partitions
// in first-seen order, rows in rank order, with a trailing row_number
// (bigint) when RankCol.
type topNOp struct {
	in     operator
	n      *plan.TopN
	ectx   *expr.Context
	out    []types.Row
	i      int
	loaded bool
}

func (o *topNOp) next(ctx context.Context) (types.Row, error) {
	if !o.loaded {
		if err := o.load(ctx); err != nil {
			return nil, err
		}
		o.loaded = true
	}
	if o.i >= len(o.out) {
		return nil, nil
	}
	r := o.out[o.i]
	o.out[o.i] = nil
	o.i++
	return r, nil
}

func (o *topNOp) load(ctx context.Context) error {
	table := newGroupTable()
	var parts [][]keyed
	scratch := make(types.Row, len(o.n.PartitionBy))
	var t ticker
	for {
		row, err := o.in.next(ctx)
		if err != nil {
			return err
		}
		if row == nil {
			break
		}
		if err := t.tick(ctx); err != nil {
			return err
		}
		if o.n.N <= 0 {
			continue
		}
		for i, e := range o.n.PartitionBy {
			if scratch[i], err = e.Eval(o.ectx, row); err != nil {
				return err
			}
		}
		h := hashRow(scratch, false)
		gi := table.find(h, scratch)
		if gi < 0 {
			gi = table.insert(h, slices.Clone(scratch))
			parts = append(parts, nil)
		}
		key, err := evalKeys(o.ectx, o.n.OrderBy, row)
		if err != nil {
			return err
		}
		p := parts[gi]
		// Insert after every row that does not sort after it (stable).
		pos := sort.Search(len(p), func(i int) bool { return agg.CompareKeys(o.n.OrderBy, p[i].key, key) > 0 })
		if int64(pos) >= o.n.N {
			continue
		}
		p = slices.Insert(p, pos, keyed{key: key, row: row})
		if int64(len(p)) > o.n.N {
			p = p[:o.n.N]
		}
		parts[gi] = p
	}
	for _, p := range parts {
		for rank, k := range p {
			row := k.row
			if o.n.RankCol {
				row = append(slices.Clip(slices.Clone(row)), types.NewInt(int64(rank+1)))
			}
			o.out = append(o.out, row)
		}
	}
	return nil
}

func (o *topNOp) close() { o.in.close(); o.out = nil }

// dedupOp keeps the first (or, with KeepLast, the last) row per key, in
// first-seen key order.
type dedupOp struct {
	in     operator
	n      *plan.Dedup
	ectx   *expr.Context
	out    []types.Row
	i      int
	loaded bool
}

func (o *dedupOp) next(ctx context.Context) (types.Row, error) {
	if !o.loaded {
		if err := o.load(ctx); err != nil {
			return nil, err
		}
		o.loaded = true
	}
	if o.i >= len(o.out) {
		return nil, nil
	}
	r := o.out[o.i]
	o.out[o.i] = nil
	o.i++
	return r, nil
}

func (o *dedupOp) load(ctx context.Context) error {
	table := newGroupTable()
	scratch := make(types.Row, len(o.n.Keys))
	var t ticker
	for {
		row, err := o.in.next(ctx)
		if err != nil {
			return err
		}
		if row == nil {
			return nil
		}
		if err := t.tick(ctx); err != nil {
			return err
		}
		for i, e := range o.n.Keys {
			if scratch[i], err = e.Eval(o.ectx, row); err != nil {
				return err
			}
		}
		h := hashRow(scratch, false)
		gi := table.find(h, scratch)
		if gi < 0 {
			table.insert(h, slices.Clone(scratch))
			o.out = append(o.out, row)
		} else if o.n.KeepLast {
			o.out[gi] = row
		}
	}
}

func (o *dedupOp) close() { o.in.close(); o.out = nil }
