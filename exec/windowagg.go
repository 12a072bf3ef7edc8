package exec

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// keyEval evaluates group keys into a reused buffer.
type keyEval struct {
	exprs []expr.Expr
	cols  []int // when every key is a column reference
	buf   types.Row
}

func newKeyEval(exprs []expr.Expr) *keyEval {
	k := &keyEval{exprs: exprs, buf: make(types.Row, len(exprs))}
	cols := make([]int, 0, len(exprs))
	for _, e := range exprs {
		if c, ok := e.(*expr.ColRef); ok {
			cols = append(cols, c.Idx)
		}
	}
	if len(cols) == len(exprs) {
		k.cols = cols
	}
	return k
}

// eval returns the key of row (valid until the next call) and its hash.
func (k *keyEval) eval(row types.Row) (types.Row, uint64, error) {
	h := uint64(0x9e3779b97f4a7c15)
	if k.cols != nil {
		for i, c := range k.cols {
			k.buf[i] = row[c]
			h = hashValue(h, row[c])
		}
		return k.buf, h, nil
	}
	for i, e := range k.exprs {
		v, err := e.Eval(nil, row)
		if err != nil {
			return nil, 0, err
		}
		k.buf[i] = v
		h = hashValue(h, v)
	}
	return k.buf, h, nil
}

// group is the accumulators of one (window, key).
type group struct {
	states []accState
	n      int64     // net number of rows (inserts minus retractions)
	win    int64     // key of the group's window in the operator's tables
	prev   types.Row // on-update: the output row last emitted
	dirty  bool
}

// winTable is the groups of one window (or hop pane).
type winTable struct {
	start, end int64
	key        int64 // window end, or pane start
	groups     *rowMap[group]
	keys       slab[types.Value]
	accs       slab[accState]
}

// slab hands out small slices carved from larger blocks.
type slab[T any] struct{ buf []T }

// take returns a slice of n elements, a copy of from when given.
func (s *slab[T]) take(n int, from ...T) []T {
	if len(from) > 0 {
		n = len(from)
	}
	if cap(s.buf)-len(s.buf) < n {
		s.buf = make([]T, 0, max(256*n, 64))
	}
	l := len(s.buf)
	s.buf = s.buf[:l+n]
	out := s.buf[l : l+n : l+n]
	copy(out, from)
	return out
}

// lateRecorder turns rows that missed every window into LateEvents.
type lateRecorder struct {
	j      *job
	schema types.Schema
}

func (l *lateRecorder) record(row types.Row, t, wm int64) {
	l.j.late.Add(1)
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range row {
		if i > 0 {
			b.WriteByte(',')
		}
		name := "col" + strconv.Itoa(i)
		if i < len(l.schema) {
			name = l.schema[i].Name
		}
		q, _ := json.Marshal(name)
		b.Write(q)
		b.WriteByte(':')
		if v.IsNull() {
			b.WriteString("null")
		} else {
			q, _ = json.Marshal(v.String())
			b.Write(q)
		}
	}
	b.WriteByte('}')
	l.j.e.recordLate(LateEvent{View: l.j.name, Row: b.String(), EventTime: t, Watermark: wm, Lateness: wm - t, Arrival: l.j.e.now()})
}

// windowAggOp aggregates tumble, hop and cumulate windows. Each row updates
// the accumulators of its (window, key) groups, or for a hop emitted on
// window close, of its (pane, key) group: panes of gcd(size, slide) are
// merged when a window closes, so a row costs one update whatever the
// size/slide ratio. Only accumulators are kept, never rows.
type windowAggOp struct {
	j     *job
	n     *plan.WindowAgg
	stats *opStats
	w     windows
	aggs  []aggFn
	keys  *keyEval
	nk    int
	late  lateRecorder

	tables map[int64]*winTable // by window end (panes: by pane start)
	order  []int64             // sorted keys of tables
	wm     int64

	paned   bool  // hop + emit on window close: pane mode
	pane    int64 // pane width
	nextEnd int64 // pane mode: earliest window end not yet fired

	dirty      []*rowEntry[group]
	lastSize   int            // groups of the last window freed
	slots      []mergeSlot    // pane mode: per-key gathering, reused by every firing
	slotOf     map[uint64]int // first slot of a hash
	groupBytes int64
	groupsN    int64
}

// mergeSlot gathers one key's pane groups while a hop window fires.
type mergeSlot struct {
	e      *rowEntry[group]
	merged []accState // nil while the key was found in one pane only
	n      int64
	next   int // next slot with the same hash, -1 at the end
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func newWindowAggOp(j *job, n *plan.WindowAgg, retract bool) (operator, error) {
	if err := validateWindow(n.Window); err != nil {
		return nil, err
	}
	aggs, err := compileAggs(n.Aggs, retract)
	if err != nil {
		return nil, err
	}
	nk := len(n.GroupBy)
	kind := types.Timestamp
	if len(n.Cols) > nk {
		kind = n.Cols[nk].Type.Kind
	}
	st := &opStats{}
	j.stats = append(j.stats, st)
	if n.Window.Kind == plan.Session {
		return newSessionOp(j, n, aggs, kind, st), nil
	}
	op := &windowAggOp{j: j, n: n, stats: st, w: windows{spec: n.Window, kind: kind}, aggs: aggs,
		keys: newKeyEval(n.GroupBy), nk: nk, late: lateRecorder{j: j, schema: n.Input.Schema()},
		tables: map[int64]*winTable{}, wm: math.MinInt64, nextEnd: math.MinInt64}
	if n.Window.Kind == plan.Hop && n.Emit == plan.EmitOnWindowClose && n.Window.Size != n.Window.Slide {
		op.paned = true
		op.pane = gcd(n.Window.Size, n.Window.Slide)
		op.slotOf = map[uint64]int{}
	}
	return op, nil
}

func (o *windowAggOp) table(key, start, end int64) *winTable {
	t := o.tables[key]
	if t == nil {
		// Size a new window like the last one filled, to skip rehashing.
		t = &winTable{start: start, end: end, key: key, groups: newRowMap[group](max(16, o.lastSize))}
		o.tables[key] = t
		i, _ := slices.BinarySearch(o.order, key)
		o.order = slices.Insert(o.order, i, key)
	}
	return t
}

func (o *windowAggOp) newGroup(t *winTable, h uint64, key types.Row) *rowEntry[group] {
	// Keys and state slices come from per-window slabs: one allocation
	// per 256 groups instead of two per group, freed with the window.
	e := t.groups.insert(h, t.keys.take(0, key...))
	e.val.win = t.key
	e.val.states = t.accs.take(len(o.aggs))
	size := int64(64 + rowBytes(key) + 16*len(o.aggs))
	for i, a := range o.aggs {
		e.val.states[i] = a.NewState()
		size += int64(e.val.states[i].SizeBytes())
	}
	o.groupBytes += size
	o.groupsN++
	return e
}

// update adds row to the group of key in table t.
func (o *windowAggOp) update(t *winTable, key types.Row, h uint64, row types.Row, op chunk.Op, ts int64) error {
	e := t.groups.get(h, key)
	if e == nil {
		e = o.newGroup(t, h, key)
	}
	g := &e.val
	for _, s := range g.states {
		if err := s.UpdateAt(nil, row, op, ts); err != nil {
			return err
		}
	}
	g.n += int64(op)
	if o.n.Emit == plan.EmitOnUpdate && !g.dirty {
		g.dirty = true
		o.dirty = append(o.dirty, e)
	}
	return nil
}

func (o *windowAggOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	tc := o.w.spec.TimeCol
	lateness := o.n.Lateness
	// Tumble: the table of the last row's window. No table is freed while
	// a chunk is applied, and consecutive rows mostly share a window.
	var last *winTable
	for i := range c.Len() {
		row := c.Row(i)
		t := eventTime(row[tc])
		if t == chunk.NoTime {
			continue
		}
		key, h, err := o.keys.eval(row)
		if err != nil {
			return err
		}
		op := c.Ops[i]
		if o.paned {
			ps := alignDown(t, o.pane, o.w.spec.Offset)
			if o.lastEnd(ps)+lateness <= o.wm {
				o.late.record(row, t, o.wm)
				continue
			}
			if o.firstEnd(ps)+lateness <= o.wm {
				// Too late for the windows that already fired: recorded,
				// and still counted in the windows to come.
				o.late.record(row, t, o.wm)
			}
			tb := o.tables[ps]
			if tb == nil {
				tb = o.table(ps, ps, ps+o.pane)
				o.notePane(ps)
			}
			if err := o.update(tb, key, h, row, op, t); err != nil {
				return err
			}
			continue
		}
		if o.w.spec.Kind == plan.Tumble {
			st := alignDown(t, o.w.spec.Size, o.w.spec.Offset)
			end := st + o.w.spec.Size
			if end+lateness <= o.wm {
				o.late.record(row, t, o.wm)
				continue
			}
			if last == nil || last.key != end {
				last = o.table(end, st, end)
			}
			if err := o.update(last, key, h, row, op, t); err != nil {
				return err
			}
			continue
		}
		missed := false
		var uerr error
		o.w.each(t, func(st, end int64) {
			if end+lateness <= o.wm {
				missed = true
				return
			}
			if uerr == nil {
				uerr = o.update(o.table(end, st, end), key, h, row, op, t)
			}
		})
		if uerr != nil {
			return uerr
		}
		if missed {
			o.late.record(row, t, o.wm)
		}
	}
	if len(o.dirty) >= maxDirty {
		o.emitDirty(out)
	}
	o.publishStats()
	return out.maybeFlush()
}

// maxDirty bounds the groups an updating operator gathers before it emits.
const maxDirty = 1 << 15

// FlushBatch emits the updates gathered since the last flush.
func (o *windowAggOp) FlushBatch(out *emitter) error {
	o.emitDirty(out)
	return nil
}

// notePane makes sure the window firing starts no later than the first
// unfired window holding a new pane.
func (o *windowAggOp) notePane(ps int64) {
	s := o.w.spec
	fe := o.firstEnd(ps)
	if o.wm != math.MinInt64 && fe+o.n.Lateness <= o.wm {
		fe = alignDown(o.wm-o.n.Lateness-s.Size, s.Slide, s.Offset) + s.Slide + s.Size
	}
	if o.nextEnd == math.MinInt64 || fe < o.nextEnd {
		o.nextEnd = fe
	}
}

// firstEnd and lastEnd are the ends of the first and last hop windows
// that contain the pane starting at ps.
func (o *windowAggOp) firstEnd(ps int64) int64 {
	s := o.w.spec
	return alignDown(ps-s.Size, s.Slide, s.Offset) + s.Slide + s.Size
}

func (o *windowAggOp) lastEnd(ps int64) int64 {
	s := o.w.spec
	return alignDown(ps, s.Slide, s.Offset) + s.Size
}

// output appends the output row of a group.
func (o *windowAggOp) output(out *emitter, op chunk.Op, key types.Row, start, end int64, states []accState) types.Row {
	row := out.row(op, end-1)
	copy(row, key)
	k := o.w.kind
	row[o.nk] = types.Value{K: k, I: start}
	row[o.nk+1] = types.Value{K: k, I: end}
	row[o.nk+2] = types.Value{K: k, I: end - 1}
	for i, s := range states {
		row[o.nk+3+i] = s.Result()
	}
	return row
}

// emitDirty emits, for each group changed by the last chunk, a retraction
// of its previous row and its new row.
func (o *windowAggOp) emitDirty(out *emitter) {
	var t *winTable
	for _, e := range o.dirty {
		g := &e.val
		g.dirty = false
		if t == nil || t.key != g.win {
			t = o.tableOf(e)
		}
		if g.prev != nil {
			out.append(chunk.Delete, t.end-1, g.prev)
		}
		if g.n <= 0 {
			g.prev = nil
			continue
		}
		row := o.output(out, chunk.Insert, e.key, t.start, t.end, g.states)
		if g.prev == nil {
			g.prev = t.keys.take(0, row...) // freed with the window, like the group
		} else {
			copy(g.prev, row)
		}
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
}

func (o *windowAggOp) tableOf(e *rowEntry[group]) *winTable { return o.tables[e.val.win] }

func (o *windowAggOp) OnWatermark(wm int64, out *emitter) (int64, error) {
	o.emitDirty(out)
	o.wm = wm
	lateness := o.n.Lateness
	if o.paned {
		if err := o.firePanes(wm, out); err != nil {
			return 0, err
		}
	} else {
		for len(o.order) > 0 {
			end := o.order[0]
			if end+lateness > wm {
				break
			}
			t := o.tables[end]
			if o.n.Emit == plan.EmitOnWindowClose {
				var err error
				t.groups.each(func(e *rowEntry[group]) {
					if e.val.n > 0 && err == nil {
						o.output(out, chunk.Insert, e.key, t.start, t.end, e.val.states)
						err = out.maybeFlush()
					}
				})
				if err != nil {
					return 0, err
				}
			}
			o.free(t)
			delete(o.tables, end)
			o.order = o.order[1:]
		}
	}
	o.publishStats()
	return satSub(wm, lateness), nil
}

func satSub(a, b int64) int64 {
	if a == math.MaxInt64 || a == math.MinInt64 {
		return a
	}
	return a - b
}

func (o *windowAggOp) free(t *winTable) {
	n := int64(t.groups.len())
	o.lastSize = int(n)
	if o.groupsN > 0 {
		o.groupBytes -= o.groupBytes / o.groupsN * n
	}
	o.groupsN -= n
	if o.groupsN <= 0 {
		o.groupsN, o.groupBytes = 0, 0
	}
}

// firePanes emits every hop window whose end (plus lateness) the watermark
// passed, merging its panes, and frees panes no later window needs.
func (o *windowAggOp) firePanes(wm int64, out *emitter) error {
	s := o.w.spec
	for len(o.order) > 0 && o.nextEnd != math.MinInt64 && o.nextEnd+o.n.Lateness <= wm {
		// Skip windows without panes.
		if first := o.order[0]; first >= o.nextEnd {
			o.nextEnd = max(o.nextEnd+s.Slide, o.firstEnd(first))
			continue
		}
		end := o.nextEnd
		start := end - s.Size
		// Gather each key's pane groups; only keys found in several panes
		// get a merged state, the others are emitted from their pane.
		o.slots = o.slots[:0]
		clear(o.slotOf)
		var err error
		for _, ps := range o.order {
			if ps >= end {
				break
			}
			if ps < start {
				continue
			}
			o.tables[ps].groups.each(func(e *rowEntry[group]) {
				if err != nil {
					return
				}
				idx, ok := o.slotOf[e.hash]
				for ok && !types.EqualRows(o.slots[idx].e.key, e.key) {
					idx = o.slots[idx].next
					ok = idx >= 0
				}
				if !ok {
					next := -1
					if first, had := o.slotOf[e.hash]; had {
						next = first
					}
					o.slotOf[e.hash] = len(o.slots)
					o.slots = append(o.slots, mergeSlot{e: e, n: e.val.n, next: next})
					return
				}
				sl := &o.slots[idx]
				if sl.merged == nil {
					sl.merged = make([]accState, len(o.aggs))
					for i, a := range o.aggs {
						sl.merged[i] = a.NewState()
						if err = sl.merged[i].Merge(sl.e.val.states[i]); err != nil {
							return
						}
					}
				}
				sl.n += e.val.n
				for i, st := range e.val.states {
					if err = sl.merged[i].Merge(st); err != nil {
						return
					}
				}
			})
			if err != nil {
				return err
			}
		}
		for i := range o.slots {
			sl := &o.slots[i]
			if sl.n <= 0 {
				continue
			}
			states := sl.merged
			if states == nil {
				states = sl.e.val.states
			}
			o.output(out, chunk.Insert, sl.e.key, start, end, states)
			if err := out.maybeFlush(); err != nil {
				return err
			}
		}
		clear(o.slots)
		o.nextEnd += s.Slide
		// Panes before the next window's start are no longer needed.
		for len(o.order) > 0 && o.order[0]+o.pane <= o.nextEnd-s.Size {
			t := o.tables[o.order[0]]
			o.free(t)
			delete(o.tables, o.order[0])
			o.order = o.order[1:]
		}
	}
	return nil
}

func (o *windowAggOp) OnBarrier(_ uint64, out *emitter) error {
	o.emitDirty(out)
	return nil
}

func (o *windowAggOp) publishStats() {
	o.stats.stateBytes.Store(o.groupBytes)
	o.stats.openWindows.Store(int64(len(o.tables)))
}
