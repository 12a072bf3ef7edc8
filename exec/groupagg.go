package exec

import (
	"math"
	"slices"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// aggGroup is the accumulators of one GROUP BY key.
type aggGroup struct {
	states []accState
	n      int64     // net number of rows (inserts minus retractions)
	win    int64     // event time of the group's last row: the time its output rows carry
	prev   types.Row // the output row last emitted
	dirty  bool
}

// groupAggOp is a non-windowed GROUP BY with updating results: each chunk
// emits, per changed group, a retraction of the old row and the new row.
// With a TTL, a group idle that long in processing time is forgotten
// (its last result stays in the view).
//
// When the plan marks a group key as a window bound of the input
// (plan.GroupAgg.Window), a group is freed once the watermark reaches its
// window's close (the key's value plus the close offset plus the allowed
// lateness): its result stays in the view, and rows that arrive for it
// afterwards are recorded as late instead of starting the group again.
//
// bytes is the groups' overhead plus the states of the groups not dirty:
// a group's state size is taken out when it turns dirty and put back when
// it is emitted, so growing states (min/max over retractions, distinct)
// are counted as they are.
type groupAggOp struct {
	j     *job
	n     *plan.GroupAgg
	stats *opStats
	aggs  []aggFn
	keys  *keyEval
	nk    int
	m     *rowMap[aggGroup]
	dirty []*rowEntry[aggGroup]
	last  map[*rowEntry[aggGroup]]int64 // TTL: processing time of the last update
	bytes int64

	// Windowed groups (n.Window != nil).
	wm      int64 // the last watermark; math.MinInt64 before the first
	late    lateRecorder
	byClose map[int64][]*rowEntry[aggGroup] // groups by their window's close (stale entries are skipped)
	closes  []int64                         // the keys of byClose, ascending
	indexed *rowMap[aggGroup]               // the map byClose indexes: Restore replaces m, and the index is rebuilt from its keys
}

func newGroupAggOp(j *job, n *plan.GroupAgg, retract bool) (*groupAggOp, error) {
	aggs, err := compileAggs(n.Aggs, retract)
	if err != nil {
		return nil, err
	}
	st := &opStats{}
	j.stats = append(j.stats, st)
	o := &groupAggOp{j: j, n: n, stats: st, aggs: aggs, keys: newKeyEval(n.GroupBy), nk: len(n.GroupBy), m: newRowMap[aggGroup](64)}
	if n.TTL > 0 {
		o.last = map[*rowEntry[aggGroup]]int64{}
	}
	o.wm = math.MinInt64
	if n.Window != nil {
		o.late = lateRecorder{j: j, schema: n.Input.Schema()}
		o.byClose = map[int64][]*rowEntry[aggGroup]{}
		o.indexed = o.m
	}
	return o, nil
}

// overhead is the bytes a group takes besides its states.
func (o *groupAggOp) overhead(key types.Row) int64 {
	return int64(64 + rowBytes(key) + 16*len(o.aggs))
}

// closeOf returns when the window of a group with key closes; ok is false
// for a NULL window key (such a group is never freed).
func (o *groupAggOp) closeOf(key types.Row) (int64, bool) {
	v := key[o.n.Window.Col]
	if v.IsNull() {
		return 0, false
	}
	return o.n.Window.Close(v.I), true
}

// index files a new group under its window's close.
func (o *groupAggOp) index(e *rowEntry[aggGroup]) {
	c, ok := o.closeOf(e.key)
	if !ok {
		return
	}
	es, found := o.byClose[c]
	if !found {
		if n := len(o.closes); n == 0 || o.closes[n-1] < c {
			o.closes = append(o.closes, c)
		} else {
			i, _ := slices.BinarySearch(o.closes, c)
			o.closes = slices.Insert(o.closes, i, c)
		}
	}
	o.byClose[c] = append(es, e)
}

// reindex rebuilds the close index after Restore replaced the groups.
func (o *groupAggOp) reindex() {
	if o.n.Window == nil || o.indexed == o.m {
		return
	}
	o.indexed = o.m
	clear(o.byClose)
	o.closes = o.closes[:0]
	o.m.each(o.index)
}

// live reports whether e is still the map's group for its key (a group
// removed when its count reached zero, or by the TTL, may still be filed
// in byClose).
func (o *groupAggOp) live(e *rowEntry[aggGroup]) bool {
	return o.m.get(e.hash, e.key) == e
}

// freeClosed frees the groups whose window closed at or before wm. It runs
// after emitDirty, so every group is clean.
func (o *groupAggOp) freeClosed(wm int64) {
	if o.n.Window == nil {
		return
	}
	k := 0
	for ; k < len(o.closes) && o.closes[k] <= wm; k++ {
		c := o.closes[k]
		for _, e := range o.byClose[c] {
			if !o.live(e) {
				continue
			}
			o.m.remove(e)
			delete(o.last, e)
			o.bytes -= o.overhead(e.key) + stateSize(e.val.states)
		}
		delete(o.byClose, c)
	}
	if k > 0 {
		o.closes = append(o.closes[:0], o.closes[k:]...)
	}
	// The windows held are not added to the view's OpenWindows, which
	// counts the windows of window aggregates and joins.
}

func (o *groupAggOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	var now int64
	if o.last != nil {
		now = o.j.e.now().UnixMicro()
	}
	o.reindex()
	for i := range c.Len() {
		row := c.Row(i)
		key, h, err := o.keys.eval(row)
		if err != nil {
			return err
		}
		if o.n.Window != nil {
			if cl, ok := o.closeOf(key); ok && cl <= o.wm {
				o.late.record(row, c.Times[i], o.wm) // its window's group was freed
				continue
			}
		}
		e := o.m.get(h, key)
		if e == nil {
			e = o.m.insert(h, copyRow(key))
			e.val.states = make([]accState, len(o.aggs))
			for k, a := range o.aggs {
				e.val.states[k] = a.NewState()
			}
			o.bytes += o.overhead(key) + stateSize(e.val.states)
			if o.n.Window != nil {
				o.index(e)
			}
		}
		g := &e.val
		if !g.dirty {
			g.dirty = true
			o.dirty = append(o.dirty, e)
			o.bytes -= stateSize(g.states) // counted again when emitted
		}
		op := c.Ops[i]
		for _, s := range g.states {
			if err := s.UpdateAt(nil, row, op, c.Times[i]); err != nil {
				return err
			}
		}
		g.n += int64(op)
		g.win = c.Times[i]
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
			o.bytes -= o.overhead(e.key) // its states were taken out when it turned dirty
			continue
		}
		o.bytes += stateSize(g.states)
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
	o.stats.stateBytes.Store(max(o.bytes, 0))
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
			o.bytes -= o.overhead(e.key) + stateSize(e.val.states)
		}
	}
	o.stats.stateBytes.Store(max(o.bytes, 0))
}

// OnWatermark emits the pending updates, then frees the groups the TTL
// or the watermark (windowed groups) expired, and forwards wm.
func (o *groupAggOp) OnWatermark(wm int64, out *emitter) (int64, error) {
	o.emitDirty(out)
	o.reindex()
	o.expire()
	if wm > o.wm {
		o.wm = wm
	}
	o.freeClosed(o.wm)
	o.stats.stateBytes.Store(max(o.bytes, 0))
	return wm, nil
}

func (o *groupAggOp) OnBarrier(_ uint64, out *emitter) error {
	o.emitDirty(out)
	o.expire()
	return nil
}
