package exec

import (
	"math"
	"slices"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// aggGroup is the bookkeeping of one GROUP BY group besides its key (in
// the operator's keyIndex) and accumulators (aggLayout words and states),
// all stored by the group's id.
type aggGroup struct {
	win   int64  // event time of the group's last row: the time its output rows carry
	gen   uint32 // bumped when the id is freed: byClose entries of a freed group go stale
	flags uint8  // groupDirty, groupEmitted
}

// groupRefGen names a group of byClose: stale once the group's gen moved on.
type groupRefGen struct {
	id  int32
	gen uint32
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
// A group keeps its key by value in a keyIndex, its accumulators in the
// aggLayout slabs and, to retract its last row, only that row's aggregate
// results (the key is the group's).
//
// bytes is the groups' overhead plus the states of the groups not dirty:
// a group's state size is taken out when it turns dirty and put back when
// it is emitted, so growing states (min/max over retractions, distinct)
// are counted as they are.
type groupAggOp struct {
	j         *job
	keyFilter // rescale: the keys this copy takes
	n         *plan.GroupAgg
	stats     *opStats
	lay       *aggLayout
	keys      *keyEval
	nk        int
	naggs     int
	m         *keyIndex
	g         recs[aggGroup]
	words     recs[int64]
	states    recs[accState]
	prev      recs[types.Value] // per group: the aggregate results last emitted
	last      []int64           // TTL only: per group, the processing time of its last update
	dirty     []int
	bytes     int64

	// Incremental checkpoints (see incSnapshotter), once track is set:
	// the groups changed since the last capture, the keys of saved groups
	// removed since, and whether group ids moved (a compaction), which
	// makes the next capture a base.
	track   bool
	ckDirty []int
	ckGone  goneKeys
	ckMoved bool
	enc     encSizer

	// Windowed groups (n.Window != nil).
	wm      int64 // the last watermark; math.MinInt64 before the first
	late    lateRecorder
	byClose map[int64][]groupRefGen // groups by their window's close (stale entries are skipped)
	closes  []int64                 // the keys of byClose, ascending
}

func newGroupAggOp(j *job, n *plan.GroupAgg, retract bool) (*groupAggOp, error) {
	lay, err := newAggLayout(n.Aggs, retract)
	if err != nil {
		return nil, err
	}
	st := &opStats{}
	j.stats = append(j.stats, st)
	o := &groupAggOp{j: j, n: n, stats: st, lay: lay, keys: newKeyEval(n.GroupBy).deadLetters(j, n.Input.Schema(), keyClause(n)), nk: len(n.GroupBy), naggs: len(n.Aggs)}
	o.reset(64)
	o.wm = math.MinInt64
	if n.Window != nil {
		o.late = lateRecorder{j: j, schema: n.Input.Schema()}
		o.byClose = map[int64][]groupRefGen{}
	}
	return o, nil
}

// reset drops every group, sizing the tables for hint groups.
func (o *groupAggOp) reset(hint int) {
	o.m = newKeyIndex(o.nk, hint)
	o.g = newRecs[aggGroup](1, hint)
	o.words = newRecs[int64](o.lay.words, hint)
	o.states = newRecs[accState](len(o.lay.states), hint)
	o.prev = newRecs[types.Value](o.naggs, hint)
	if o.n.TTL > 0 {
		o.last = make([]int64, 0, hint)
	}
	o.dirty = o.dirty[:0]
	o.bytes = 0
	if o.byClose != nil {
		clear(o.byClose)
		o.closes = o.closes[:0]
	}
}

// grp returns group id; the pointer is valid until the next new group.
func (o *groupAggOp) grp(id int) *aggGroup { return &o.g.at(id)[0] }

// overhead is the bytes a group takes besides its accStates' contents.
func (o *groupAggOp) overhead(key types.Row) int64 {
	return 16 + keyBytes(key) + int64(8*o.lay.words+16*len(o.lay.states)+32*o.naggs+24)
}

// newGroup adds the group of key and returns its id.
func (o *groupAggOp) newGroup(h uint64, key types.Row) int {
	id, _ := o.m.lookup(h, key)
	if id == o.g.n {
		o.g.add()
		o.words.add()
		o.states.add()
		o.prev.add()
		if o.last != nil {
			o.last = append(o.last, 0)
		}
	} else {
		// A freed id: its states and emitted results were cleared.
		clear(o.words.at(id))
		*o.grp(id) = aggGroup{gen: o.grp(id).gen}
	}
	ss := o.states.at(id)
	o.lay.init(ss)
	o.bytes += o.overhead(key) + stateSize(ss)
	if o.n.Window != nil {
		o.index(id)
	}
	return id
}

// removeGroup frees group id; withStates says its states' sizes are still
// counted in bytes (the group is not dirty).
func (o *groupAggOp) removeGroup(id int, withStates bool) {
	ss := o.states.at(id)
	o.bytes -= o.overhead(o.m.key(id))
	if withStates {
		o.bytes -= stateSize(ss)
	}
	clear(ss)
	clear(o.prev.at(id))
	g := o.grp(id)
	if o.track && g.flags&groupCkSaved != 0 {
		o.ckGone.add(o.m.key(id), o.m.len()-1)
	}
	*g = aggGroup{gen: g.gen + 1} // clears groupCkDirty: a stale ckDirty entry is skipped
	o.m.remove(id)
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
func (o *groupAggOp) index(id int) {
	c, ok := o.closeOf(o.m.key(id))
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
	o.byClose[c] = append(es, groupRefGen{id: int32(id), gen: o.grp(id).gen})
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
		for _, r := range o.byClose[c] {
			if o.grp(int(r.id)).gen != r.gen {
				continue // freed already (count back to zero, or TTL)
			}
			o.removeGroup(int(r.id), true)
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
	return o.OnSelected(c, nil, nil, out)
}

// OnSelected applies the rows of c listed in rows (every row when rows is
// nil), taking their keys and key hashes from r when it is not nil.
func (o *groupAggOp) OnSelected(c *chunk.Chunk, rows []int32, r *routed, out *emitter) error {
	var now int64
	if o.last != nil {
		now = o.j.e.now().UnixMicro()
	}
	for x := range selLen(c, rows) {
		i := selRow(rows, x)
		row := c.Row(i)
		key, h, err := o.keys.evalHashed(row, r, i)
		if err != nil || o.lay.checked != nil {
			if skip, err := aggRowFails(o.keys, o.lay, row, c.Ops[i], err); skip {
				continue
			} else if err != nil {
				return err
			}
		}
		if o.n.Window != nil {
			if cl, ok := o.closeOf(key); ok && cl <= o.wm {
				o.late.record(row, c.Times[i], o.wm) // its window's group was freed
				continue
			}
		}
		id := o.m.find(h, key)
		if id < 0 {
			id = o.newGroup(h, key)
		}
		ss := o.states.at(id)
		g := o.grp(id)
		if g.flags&groupDirty == 0 {
			g.flags |= groupDirty
			o.dirty = append(o.dirty, id)
			o.bytes -= stateSize(ss) // counted again when emitted
			if o.track && g.flags&groupCkDirty == 0 {
				g.flags |= groupCkDirty
				o.ckDirty = append(o.ckDirty, id)
			}
		}
		if err := o.lay.update(o.words.at(id), ss, row, c.Ops[i], c.Times[i]); err != nil {
			return err
		}
		g.win = c.Times[i]
		if o.last != nil {
			o.last[id] = now
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
	for _, id := range o.dirty {
		g := o.grp(id)
		g.flags &^= groupDirty
		key, prev := o.m.key(id), o.prev.at(id)
		if g.flags&groupEmitted != 0 {
			row := out.row(chunk.Delete, g.win)
			copy(row, key)
			copy(row[o.nk:], prev)
		}
		w, ss := o.words.at(id), o.states.at(id)
		if w[0] <= 0 {
			o.removeGroup(id, false) // its states were taken out when it turned dirty
			continue
		}
		o.bytes += stateSize(ss)
		row := out.row(chunk.Insert, g.win)
		copy(row, key)
		o.lay.results(row[o.nk:], w, ss)
		copy(prev, row[o.nk:])
		g.flags |= groupEmitted
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
	var old []int
	o.m.each(func(id int) {
		if now-o.last[id] >= o.n.TTL {
			old = append(old, id)
		}
	})
	for _, id := range old {
		o.removeGroup(id, true)
	}
	o.stats.stateBytes.Store(max(o.bytes, 0))
}

// OnWatermark emits the pending updates, then frees the groups the TTL
// or the watermark (windowed groups) expired, and forwards wm.
func (o *groupAggOp) OnWatermark(wm int64, out *emitter) (int64, error) {
	o.emitDirty(out)
	o.expire()
	if wm > o.wm {
		o.wm = wm
	}
	o.freeClosed(o.wm)
	if err := o.maybeCompact(); err != nil {
		return 0, err
	}
	o.stats.stateBytes.Store(max(o.bytes, 0))
	return wm, nil
}

func (o *groupAggOp) OnBarrier(_ uint64, out *emitter) error {
	o.emitDirty(out)
	o.expire()
	return o.maybeCompact()
}

// maybeCompact rebuilds the slabs when most groups were freed (TTL,
// closed windows, counts back to zero).
func (o *groupAggOp) maybeCompact() error {
	if o.g.n >= compactMin && o.m.len()*4 < o.g.n {
		if o.track {
			// Ids move: the changes listed by id mean nothing after, and
			// the next capture is a base.
			o.ckMoved = true
			o.ckDirty = o.ckDirty[:0]
			o.ckGone.reset()
		}
		return compact(o)
	}
	return nil
}

func (o *groupAggOp) lateRec() *lateRecorder { return &o.late }
