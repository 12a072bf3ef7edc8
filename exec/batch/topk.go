package batch

import (
	"container/heap"
	"context"
	"slices"

	"github.com/sluice-db/sluice/exec/agg"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// topKOp is Sort under a Limit (ORDER BY ... LIMIT k): it keeps only the
// first k rows of the sort order in a bounded heap instead of sorting the
// whole input, with the same (stable) order as sortOp.
type topKOp struct {
	in     operator
	keys   []plan.SortKey
	k      int
	ectx   *expr.Context
	rows   []types.Row
	i      int
	sorted bool
}

type seqKeyed struct {
	keyed
	seq int
}

// maxHeap keeps the k best rows with the worst on top.
type maxHeap struct {
	keys  []plan.SortKey
	items []seqKeyed
}

func (h *maxHeap) less(a, b *seqKeyed) bool { // a sorts before b
	if c := agg.CompareKeys(h.keys, a.key, b.key); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}
func (h *maxHeap) Len() int           { return len(h.items) }
func (h *maxHeap) Less(i, j int) bool { return h.less(&h.items[j], &h.items[i]) }
func (h *maxHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *maxHeap) Push(x any)         { h.items = append(h.items, x.(seqKeyed)) }
func (h *maxHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

func (o *topKOp) next(ctx context.Context) (types.Row, error) {
	if !o.sorted {
		if err := o.load(ctx); err != nil {
			return nil, err
		}
		o.sorted = true
	}
	if o.i >= len(o.rows) {
		return nil, nil
	}
	r := o.rows[o.i]
	o.rows[o.i] = nil
	o.i++
	return r, nil
}

func (o *topKOp) load(ctx context.Context) error {
	h := &maxHeap{keys: o.keys}
	var t ticker
	for seq := 0; ; seq++ {
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
		if o.k == 0 {
			continue
		}
		key, err := evalKeys(o.ectx, o.keys, row)
		if err != nil {
			return err
		}
		it := seqKeyed{keyed: keyed{key: key, row: row}, seq: seq}
		if h.Len() < o.k {
			heap.Push(h, it)
		} else if h.less(&it, &h.items[0]) {
			h.items[0] = it
			heap.Fix(h, 0)
		}
	}
	slices.SortFunc(h.items, func(a, b seqKeyed) int {
		if h.less(&a, &b) {
			return -1
		}
		return 1
	})
	o.rows = make([]types.Row, len(h.items))
	for i := range h.items {
		o.rows[i] = h.items[i].row
	}
	return nil
}

func (o *topKOp) close() { o.in.close(); o.rows = nil }
