package exec

import (
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// groupAggOp is a non-windowed GROUP BY with updating results: each chunk
// emits, per changed group, a retraction of the old row and the new row.
// With a TTL, a group idle that long in processing time is forgotten
// (its last result stays in the view).
type groupAggOp struct {
	j     *job
	n     *plan.GroupAgg
	stats *opStats
	aggs  []aggFn
	keys  *keyEval
	nk    int
	m     *rowMap[group]
	dirty []*rowEntry[group]
	last  map[*rowEntry[group]]int64 // TTL: processing time of the last update
	bytes int64
}

func newGroupAggOp(j *job, n *plan.GroupAgg, retract bool) (*groupAggOp, error) {
	aggs, err := compileAggs(n.Aggs, retract)
	if err != nil {
		return nil, err
	}
	st := &opStats{}
	j.stats = append(j.stats, st)
	o := &groupAggOp{j: j, n: n, stats: st, aggs: aggs, keys: newKeyEval(n.GroupBy), nk: len(n.GroupBy), m: newRowMap[group](64)}
	if n.TTL > 0 {
		o.last = map[*rowEntry[group]]int64{}
	}
	return o, nil
}

func (o *groupAggOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	var now int64
	if o.last != nil {
		now = o.j.e.now().UnixMicro()
	}
	for i := range c.Len() {
		row := c.Row(i)
		key, h, err := o.keys.eval(row)
		if err != nil {
			return err
		}
		e := o.m.get(h, key)
		if e == nil {
			e = o.m.insert(h, copyRow(key))
			e.val.states = make([]accState, len(o.aggs))
			o.bytes += int64(64 + rowBytes(key) + 16*len(o.aggs))
			for k, a := range o.aggs {
				e.val.states[k] = a.NewState()
				o.bytes += int64(e.val.states[k].SizeBytes())
			}
		}
		g := &e.val
		op := c.Ops[i]
		for _, s := range g.states {
			if err := s.UpdateAt(nil, row, op, c.Times[i]); err != nil {
				return err
			}
		}
		g.n += int64(op)
		g.win = c.Times[i]
		if !g.dirty {
			g.dirty = true
			o.dirty = append(o.dirty, e)
		}
		if o.last != nil {
			o.last[e] = now
		}
	}
	if len(o.dirty) >= maxDirty {
		o.emitDirty(out)
	}
	o.stats.stateBytes.Store(max(o.bytes, 0))
	return nil
}

// FlushBatch emits the updates gathered since the last flush.
func (o *groupAggOp) FlushBatch(out *emitter) error {
	o.emitDirty(out)
	return nil
}

// emitDirty emits, per group changed since the last call, a retraction of
// its previous row and its new row.
func (o *groupAggOp) emitDirty(out *emitter) {
	for _, e := range o.dirty {
		g := &e.val
		g.dirty = false
		if g.prev != nil {
			out.append(chunk.Delete, g.win, g.prev)
		}
		if g.n <= 0 {
			g.prev = nil
			o.m.remove(e)
			delete(o.last, e)
			o.bytes -= int64(64+rowBytes(e.key)+16*len(o.aggs)) + stateSize(e.val.states) // checkpoint: free the states' bytes too
			continue
		}
		row := out.row(chunk.Insert, g.win)
		copy(row, e.key)
		for k, s := range g.states {
			row[o.nk+k] = s.Result()
		}
		if g.prev == nil {
			g.prev = copyRow(row)
		} else {
			copy(g.prev, row)
		}
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
}

func (o *groupAggOp) expire() {
	if o.last == nil {
		return
	}
	now := o.j.e.now().UnixMicro()
	for e, t := range o.last {
		if now-t >= o.n.TTL {
			o.m.remove(e)
			delete(o.last, e)
			o.bytes -= int64(64+rowBytes(e.key)+16*len(o.aggs)) + stateSize(e.val.states) // checkpoint: free the states' bytes too
		}
	}
	o.stats.stateBytes.Store(max(o.bytes, 0))
}

func (o *groupAggOp) OnWatermark(wm int64, out *emitter) (int64, error) {
	o.emitDirty(out)
	o.expire()
	return wm, nil
}

func (o *groupAggOp) OnBarrier(_ uint64, out *emitter) error {
	o.emitDirty(out)
	o.expire()
	return nil
}

var _ = types.Row(nil)
