package exec

import (
	"fmt"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// Views derived from their GROUP BY state.
//
// A view fed by GROUP BY aggregates through nothing but projections,
// filters (HAVING) and the merge of parallel copies holds, at a
// checkpoint barrier, exactly the rows those aggregates emitted last,
// passed through those operators: an aggregate emits its pending changes
// when the barrier reaches it (groupAggOp.OnBarrier) and keeps each
// group's last emitted results, to retract them. The checkpoint of such a
// view therefore leaves its contents out, and a restore rebuilds them from
// the restored aggregates (rebuildView). When every group changes between
// two checkpoints, saving the view as well doubled each checkpoint's work
// (BenchmarkCheckpointCost/groupby).
//
// Not derived: a GROUP BY with a state TTL or a window key (the last rows
// of the groups it frees stay in the view), and a view behind any other
// operator (window aggregates, joins, top-N and dedup emit rows that are
// not their state). Projections and filters are deterministic in a
// continuous query (volatile functions are refused there), so evaluating
// them again gives the rows they gave.

// viewFeed is one GROUP BY aggregate of a derived view and the stateless
// operators between it and the view, in the order its rows pass them.
type viewFeed struct {
	agg   *groupAggOp
	chain []operator // *projectOp, *filterOp, unionOp
}

// unwrapOp returns the operator a checkpoint wrapper wraps, or op.
func unwrapOp(op operator) operator {
	if w, ok := op.(*ckptOp); ok {
		return w.operator
	}
	return op
}

// derivedFeeds returns the aggregates a view's contents derive from, or
// nil when they do not (see above). term is the view's node.
func derivedFeeds(j *job, term *node) []viewFeed {
	var feeds []viewFeed
	var walk func(to *node, chain []operator) bool
	walk = func(to *node, chain []operator) bool {
		found := 0
		for _, n := range j.nodes {
			if n.out == nil || n.out.ch == nil || n.out.ch != to.inbox {
				continue
			}
			found++
			switch op := unwrapOp(n.op).(type) {
			case *groupAggOp:
				if op.n.Window != nil || op.n.TTL > 0 {
					return false
				}
				feeds = append(feeds, viewFeed{agg: op, chain: chain})
			case *projectOp, *filterOp, unionOp:
				if !walk(n, append([]operator{op}, chain...)) {
					return false
				}
			default:
				return false
			}
		}
		return found == to.nIn
	}
	if !walk(term, nil) || len(feeds) == 0 {
		return nil
	}
	return feeds
}

// through passes one row of the aggregate through the feed's operators:
// keep false when a filter drops it. An expression that fails on it with
// a data exception under on_error = 'dead_letter' drops it too: the run
// that emitted the row sent it to the dead letters then, and does not
// again (rowError, asked as for a retraction, which writes no letter).
func (f *viewFeed) through(row types.Row) (out types.Row, keep bool, err error) {
	for _, op := range f.chain {
		switch op := op.(type) {
		case *filterOp:
			keep, err := op.keeps(row)
			if err != nil {
				if op.j.rowError(op.in, row, chunk.Delete, "WHERE", err) {
					return nil, false, nil
				}
				return nil, false, err
			}
			if !keep {
				return nil, false, nil
			}
		case *projectOp:
			next := make(types.Row, len(op.exprs))
			if err := op.eval(next, row); err != nil {
				if op.j.rowError(op.in, row, chunk.Delete, "SELECT", err) {
					return nil, false, nil
				}
				return nil, false, err
			}
			row = next
		}
	}
	return row, true, nil
}

// rebuildView replaces the contents of a derived view (w is its node) by
// the rows its restored aggregates emitted last; the view keeps the
// watermark its node part restored.
func (w *ckptOp) rebuildView(feeds []viewFeed) error {
	r := w.mat.rel
	n := 0
	for _, f := range feeds {
		n += f.agg.m.len()
	}
	s := newViewStoreSized(r.key, r.appendOnly, n)
	var err error
	for _, f := range feeds {
		o := f.agg
		scratch := make(types.Row, o.nk+o.naggs)
		o.m.each(func(id int) {
			if err != nil || o.grp(id).flags&groupEmitted == 0 {
				return
			}
			copy(scratch, o.m.key(id))
			copy(scratch[o.nk:], o.prev.at(id))
			row, keep, e := f.through(scratch)
			if e != nil {
				err = e
				return
			}
			if keep {
				s.apply(chunk.Insert, row) // stores a copy
			}
		})
		if err != nil {
			return fmt.Errorf("rebuild view %s from its aggregate: %w", r.name, err)
		}
	}
	r.mu.Lock()
	s.indexed = len(r.indexes) > 0
	r.store = s
	r.mu.Unlock()
	return nil
}
