package exec

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

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

	// Where a row whose key expression fails goes (deadLetters).
	j      *job
	in     types.Schema
	clause string
}

// deadLetters makes a row whose key expression fails with a data exception
// (SQLSTATE class 22: x / 0 in GROUP BY x / y) go to the dead letters
// under the view's on_error = 'dead_letter', as a failing WHERE or SELECT
// does (job.rowError): skip then says so. in is the schema of the rows,
// clause names the key's clause in the letter (keyClause). Only operators
// judge: a shuffle hands a row whose key failed to the first copy
// (shuffleOp.route), so that it is judged as at parallelism 1, once.
func (k *keyEval) deadLetters(j *job, in types.Schema, clause string) *keyEval {
	k.j, k.in, k.clause = j, in, clause
	return k
}

// skip reports whether row, whose key failed with err, is to be left out
// (dead-lettered, or skipped as the retraction of a dead-lettered row)
// instead of failing the view.
func (k *keyEval) skip(row types.Row, op chunk.Op, err error) bool {
	return k.j.rowError(k.in, row, op, k.clause, err)
}

// keyClause is the clause of a keyed operator's key expressions, as a dead
// letter names it.
func keyClause(p plan.Node) string {
	switch p.(type) {
	case *plan.GroupAgg, *plan.WindowAgg:
		return "GROUP BY"
	case *plan.TopN, *plan.Dedup:
		return "PARTITION BY"
	}
	return clauseOn
}

// clauseOn names a join's keys and condition in a dead letter.
const clauseOn = "ON"

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

// evalHashed is eval for row i of a chunk that a shuffle routed (r; nil:
// not routed): it takes the hash, and an expression key's values, that
// the shuffle computed instead of computing them again.
func (k *keyEval) evalHashed(row types.Row, r *routed, i int) (types.Row, uint64, error) {
	if r == nil || (r.bad != nil && r.bad[i]) {
		return k.eval(row) // a failed key fails again, for the caller to judge
	}
	if k.cols != nil {
		for j, c := range k.cols {
			k.buf[j] = row[c]
		}
		return k.buf, r.hashes[i], nil
	}
	if nk := len(k.buf); len(r.keys) >= (i+1)*nk {
		// The shuffle's values themselves, not a copy: callers only read
		// a key (keeping one, they copy it), and each row goes to one copy.
		return r.keys[i*nk : (i+1)*nk : (i+1)*nk], r.hashes[i], nil
	}
	for j, e := range k.exprs {
		v, err := e.Eval(nil, row)
		if err != nil {
			return nil, 0, err
		}
		k.buf[j] = v
	}
	return k.buf, r.hashes[i], nil
}

// winTable is the groups of one window (or hop pane): their keys in a
// keyIndex and their accumulators in two slabs (aggLayout), all indexed by
// the group's id. Ids are dense, in arrival order: a window's groups are
// freed together, never one by one.
type winTable struct {
	start, end int64
	key        int64 // window end, or pane start
	idx        *keyIndex
	words      recs[int64]
	states     recs[accState]
	bytes      int64 // state-bytes estimate of the groups

	// On-update emit mode only: per group, the aggregate results of the
	// row last emitted (its key and window bounds are the group's) and the
	// groupDirty and groupEmitted flags.
	prev  recs[types.Value]
	flags []uint8

	// Incremental checkpoints (windowAggOp.track): the groups changed since
	// the last capture (ck, each once: ckBit), whether the table is on the
	// operator's ckTables list, whether a saved part holds it (dropping it
	// must then be recorded), and whether it was dropped since.
	ck        []int32
	ckBit     []uint64
	ckTouched bool
	ckIn      bool
	ckSaved   int // groups (ids below it) that saved parts hold
	dropped   bool
}

const (
	groupDirty   = 1 << iota // changed since the last emit
	groupEmitted             // prev holds a row the view has
	// Incremental checkpoints (groupAggOp): the group changed since the
	// last capture (it is on ckDirty), and the group is in a part saved
	// since the last base (its removal must be recorded).
	groupCkDirty
	groupCkSaved
)

// groupRef names a group of a window table.
type groupRef struct {
	t  *winTable
	id int
}

// groups is the number of groups of the table.
func (t *winTable) groups() int { return t.idx.ids() }

// lateRecorder turns rows that missed every window into LateEvents. It
// also keeps what a checkpoint saves of them (snapshot): how many it
// recorded and the newest of them (as many as the engine's late-events
// table holds), so that a restart shows the same count and events as a
// run that did not stop, and the rows replayed after the checkpoint are
// recorded once, not twice.
type lateRecorder struct {
	j       *job
	schema  types.Schema
	n       int64    // rows recorded, since the view started (with checkpoints only)
	kept    lateRing // the newest of them (likewise)
	changed bool     // since the last checkpoint
}

// lateKeeper is an operator with a lateRecorder (the checkpoint saves it).
type lateKeeper interface{ lateRec() *lateRecorder }

func (l *lateRecorder) record(row types.Row, t, wm int64) { l.recordAs(l.schema, row, t, wm) }

// recordAs records a late row of the given schema (an operator of several
// inputs records rows of each).
func (l *lateRecorder) recordAs(schema types.Schema, row types.Row, t, wm int64) {
	l.j.late.Add(1)
	ev := LateEvent{View: l.j.name, Row: rowJSON(schema, row), EventTime: t, Watermark: wm, Lateness: wm - t, Arrival: l.j.e.now()}
	if l.j.ck != nil {
		l.n++
		l.kept.add(ev, l.j.e.cfg.MaxLateEvents)
		l.changed = true
	}
	l.j.e.recordLate(ev)
}

// rowJSON renders a row as a JSON object of column name to text value
// (null for NULL); a column beyond the schema is named colN.
func rowJSON(schema types.Schema, row types.Row) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, v := range row {
		if i > 0 {
			b.WriteByte(',')
		}
		name := "col" + strconv.Itoa(i)
		if i < len(schema) {
			name = schema[i].Name
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
	return b.String()
}

// snapshot encodes the count and the kept events.
func (l *lateRecorder) snapshot() []byte {
	e := &snapEnc{}
	e.uvarint(uint64(l.n))
	evs := l.kept.list()
	e.uvarint(uint64(len(evs)))
	for _, ev := range evs {
		e.str(ev.Row)
		e.varint(ev.EventTime)
		e.varint(ev.Watermark)
		e.varint(ev.Arrival.UnixMicro())
	}
	return e.b
}

// restore reads a snapshot back, and adds its count to the view's and its
// events to the engine's table. With add (a restore at another
// parallelism: one copy takes the late rows of every old copy) it adds to
// what the recorder holds instead of replacing it.
func (l *lateRecorder) restore(b []byte, add bool) error {
	d := &snapDec{b: b}
	n := int64(d.uvarint())
	k := d.count(4)
	evs := make([]LateEvent, 0, k)
	for range k {
		ev := LateEvent{View: l.j.name, Row: d.str(), EventTime: d.varint(), Watermark: d.varint()}
		ev.Lateness = ev.Watermark - ev.EventTime
		ev.Arrival = time.UnixMicro(d.varint()).UTC()
		evs = append(evs, ev)
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("late events: %w", err)
	}
	if !add {
		l.j.late.Add(-l.n)
		l.n, l.kept = 0, lateRing{}
	}
	l.j.late.Add(n)
	l.n += n
	l.changed = false
	for _, ev := range evs {
		l.kept.add(ev, l.j.e.cfg.MaxLateEvents)
		l.j.e.recordLate(ev)
	}
	return nil
}

// windowAggOp aggregates tumble, hop and cumulate windows. Each row updates
// the accumulators of its (window, key) groups, or for a hop emitted on
// window close, of its (pane, key) group: panes of gcd(size, slide) are
// merged when a window closes, so a row costs one update whatever the
// size/slide ratio. Only accumulators are kept, never rows.
type windowAggOp struct {
	j                      *job
	keyFilter                    // rescale: the keys this copy takes
	rescaleWM, rescaleNext int64 // rescale: the latest of the old copies'
	rescaling              bool  // rescaleWM and rescaleNext hold a copy's
	n                      *plan.WindowAgg
	stats                  *opStats
	w                      windows
	lay                    *aggLayout
	keys                   *keyEval
	nk                     int
	upd                    bool // emit on update
	naggs                  int
	late                   lateRecorder

	tables map[int64]*winTable // by window end (panes: by pane start)
	order  []int64             // sorted keys of tables
	wm     int64

	paned   bool  // hop + emit on window close: pane mode
	pane    int64 // pane width
	nextEnd int64 // pane mode: earliest window end not yet fired

	dirty    []groupRef
	lastSize int            // groups of the last window freed
	slots    []mergeSlot    // pane mode: per-key gathering, reused by every firing
	slotOf   map[uint64]int // first slot of a hash
	mwords   []int64        // pane mode: merged accumulators of keys found in several panes
	mstates  []accState
	bytes    int64

	// Incremental checkpoints (see incSnapshotter), once track is set: the
	// tables changed since the last capture and the keys of saved tables
	// dropped since.
	track           bool
	ckTables        []*winTable
	ckDropped       []int64
	ckDroppedGroups int   // saved groups of the tables in ckDropped
	ckWM, ckNext    int64 // wm and nextEnd at the last capture
	enc             encSizer
}

// mergeSlot gathers one key's pane groups while a hop window fires.
type mergeSlot struct {
	g    groupRef
	m    int // merged accumulators in mwords/mstates, -1 while the key was found in one pane only
	next int // next slot with the same hash, -1 at the end
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
	lay, err := newAggLayout(n.Aggs, retract)
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
		return newSessionOp(j, n, lay, kind, st), nil
	}
	op := &windowAggOp{j: j, n: n, stats: st, w: windows{spec: n.Window, kind: kind}, lay: lay,
		keys: newKeyEval(n.GroupBy).deadLetters(j, n.Input.Schema(), keyClause(n)), nk: nk, upd: n.Emit == plan.EmitOnUpdate, naggs: len(n.Aggs),
		late: lateRecorder{j: j, schema: n.Input.Schema()}, tables: map[int64]*winTable{}, wm: math.MinInt64, nextEnd: math.MinInt64}
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
		// Size a new window like the last one filled, to skip growing.
		hint := max(16, o.lastSize)
		t = &winTable{start: start, end: end, key: key, idx: newKeyIndex(o.nk, hint),
			words: newRecs[int64](o.lay.words, hint), states: newRecs[accState](len(o.lay.states), hint)}
		if o.upd {
			t.prev = newRecs[types.Value](o.naggs, hint)
		}
		o.tables[key] = t
		i, _ := slices.BinarySearch(o.order, key)
		o.order = slices.Insert(o.order, i, key)
	}
	return t
}

// newGroup makes the accumulators of the group id just added to t.idx.
func (o *windowAggOp) newGroup(t *winTable, id int) {
	t.words.add()
	t.states.add()
	ss := t.states.at(id)
	o.lay.init(ss)
	size := 16 + keyBytes(t.idx.key(id)) + o.lay.groupBytes(ss)
	if o.upd {
		t.prev.add()
		t.flags = append(t.flags, 0)
		size += int64(32*o.naggs + 1)
	}
	t.bytes += size
	o.bytes += size
}

// update adds row to the group of key in table t.
func (o *windowAggOp) update(t *winTable, key types.Row, h uint64, row types.Row, op chunk.Op, ts int64) error {
	id, added := t.idx.lookup(h, key)
	if added {
		o.newGroup(t, id)
	}
	if err := o.lay.update(t.words.at(id), t.states.at(id), row, op, ts); err != nil {
		return err
	}
	if o.upd && t.flags[id]&groupDirty == 0 {
		t.flags[id] |= groupDirty
		o.dirty = append(o.dirty, groupRef{t: t, id: id})
	}
	if o.track {
		o.touch(t, id)
	}
	return nil
}

// touch records that group id of t changed since the last capture.
func (o *windowAggOp) touch(t *winTable, id int) {
	w, bit := id>>6, uint64(1)<<(id&63)
	for len(t.ckBit) <= w {
		t.ckBit = append(t.ckBit, 0)
	}
	if t.ckBit[w]&bit != 0 {
		return
	}
	t.ckBit[w] |= bit
	t.ck = append(t.ck, int32(id))
	if !t.ckTouched {
		t.ckTouched = true
		o.ckTables = append(o.ckTables, t)
	}
}

// drop removes table t (freed by the watermark), recording it for the
// next delta when a saved part holds it.
func (o *windowAggOp) drop(t *winTable) {
	o.free(t)
	delete(o.tables, t.key)
	t.dropped = true
	if o.track && t.ckIn {
		o.ckDropped = append(o.ckDropped, t.key)
		o.ckDroppedGroups += t.ckSaved
	}
}
func (o *windowAggOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	return o.OnSelected(c, nil, nil, out)
}

// OnSelected applies the rows of c listed in rows (every row when rows is
// nil), taking their keys and key hashes from r when it is not nil.
func (o *windowAggOp) OnSelected(c *chunk.Chunk, rows []int32, r *routed, out *emitter) error {
	tc := o.w.spec.TimeCol
	lateness := o.n.Lateness
	// Tumble: the table of the last row's window. No table is freed while
	// a chunk is applied, and consecutive rows mostly share a window.
	var last *winTable
	for x := range selLen(c, rows) {
		i := selRow(rows, x)
		row := c.Row(i)
		t := eventTime(row[tc])
		if t == chunk.NoTime {
			continue
		}
		key, h, err := o.keys.evalHashed(row, r, i)
		if err != nil || o.lay.checked != nil {
			if skip, err := aggRowFails(o.keys, o.lay, row, c.Ops[i], err); skip {
				continue
			} else if err != nil {
				return err
			}
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
func (o *windowAggOp) output(out *emitter, op chunk.Op, key types.Row, start, end int64, w []int64, ss []accState) types.Row {
	row := o.outputBounds(out, op, key, start, end)
	o.lay.results(row[o.nk+3:], w, ss)
	return row
}

// outputBounds appends an output row with its key and window bounds set;
// the caller fills in the aggregate results.
func (o *windowAggOp) outputBounds(out *emitter, op chunk.Op, key types.Row, start, end int64) types.Row {
	row := out.row(op, end-1)
	copy(row, key)
	k := o.w.kind
	row[o.nk] = types.Value{K: k, I: start}
	row[o.nk+1] = types.Value{K: k, I: end}
	row[o.nk+2] = types.Value{K: k, I: end - 1}
	return row
}

// outputGroup appends the output row of group id of t.
func (o *windowAggOp) outputGroup(out *emitter, op chunk.Op, t *winTable, id int) types.Row {
	return o.output(out, op, t.idx.key(id), t.start, t.end, t.words.at(id), t.states.at(id))
}

// emitDirty emits, for each group changed since the last call, a
// retraction of its previous row and its new row.
func (o *windowAggOp) emitDirty(out *emitter) {
	for _, g := range o.dirty {
		t, id := g.t, g.id
		t.flags[id] &^= groupDirty
		prev := t.prev.at(id)
		if t.flags[id]&groupEmitted != 0 {
			row := o.outputBounds(out, chunk.Delete, t.idx.key(id), t.start, t.end)
			copy(row[o.nk+3:], prev)
		}
		if t.words.at(id)[0] <= 0 {
			t.flags[id] &^= groupEmitted
			clear(prev)
			continue
		}
		copy(prev, o.outputGroup(out, chunk.Insert, t, id)[o.nk+3:])
		t.flags[id] |= groupEmitted
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
}

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
				for id := range t.groups() {
					if t.words.at(id)[0] <= 0 {
						continue
					}
					o.outputGroup(out, chunk.Insert, t, id)
					if err := out.maybeFlush(); err != nil {
						return 0, err
					}
				}
			}
			o.drop(t)
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
	o.lastSize = t.idx.len()
	o.bytes -= t.bytes
}

// firePanes emits every hop window whose end (plus lateness) the watermark
// passed, merging its panes, and frees panes no later window needs.
func (o *windowAggOp) firePanes(wm int64, out *emitter) error {
	s := o.w.spec
	nw, ns := o.lay.words, len(o.lay.states)
	for len(o.order) > 0 && o.nextEnd != math.MinInt64 && o.nextEnd+o.n.Lateness <= wm {
		// Skip windows without panes.
		if first := o.order[0]; first >= o.nextEnd {
			o.nextEnd = max(o.nextEnd+s.Slide, o.firstEnd(first))
			continue
		}
		end := o.nextEnd
		start := end - s.Size
		// Gather each key's pane groups; only keys found in several panes
		// get merged accumulators, the others are emitted from their pane.
		o.slots = o.slots[:0]
		clear(o.slotOf)
		o.mwords = o.mwords[:0]
		clear(o.mstates)
		o.mstates = o.mstates[:0]
		for _, ps := range o.order {
			if ps >= end {
				break
			}
			if ps < start {
				continue
			}
			t := o.tables[ps]
			for id := range t.groups() {
				key := t.idx.key(id)
				h := hashRow(key)
				first, had := o.slotOf[h]
				idx, ok := first, had
				for ok && !types.EqualRows(o.slots[idx].g.t.idx.key(o.slots[idx].g.id), key) {
					idx = o.slots[idx].next
					ok = idx >= 0
				}
				if !ok {
					next := -1
					if had {
						next = first
					}
					o.slotOf[h] = len(o.slots)
					o.slots = append(o.slots, mergeSlot{g: groupRef{t: t, id: id}, m: -1, next: next})
					continue
				}
				sl := &o.slots[idx]
				if sl.m < 0 {
					// The key's second pane: start its merged accumulators
					// from its first pane's.
					sl.m = len(o.mwords) / nw
					g := sl.g
					o.mwords = append(o.mwords, g.t.words.at(g.id)...)
					base := len(o.mstates)
					o.mstates = slices.Grow(o.mstates, ns)[:base+ns]
					ms := o.mstates[base : base+ns]
					o.lay.init(ms)
					for i, st := range g.t.states.at(g.id) {
						if err := ms[i].Merge(st); err != nil {
							return err
						}
					}
				}
				m := sl.m
				if err := o.lay.merge(o.mwords[m*nw:(m+1)*nw], o.mstates[m*ns:(m+1)*ns], t.words.at(id), t.states.at(id)); err != nil {
					return err
				}
			}
		}
		for i := range o.slots {
			sl := &o.slots[i]
			w, ss := sl.g.t.words.at(sl.g.id), sl.g.t.states.at(sl.g.id)
			if m := sl.m; m >= 0 {
				w, ss = o.mwords[m*nw:(m+1)*nw], o.mstates[m*ns:(m+1)*ns]
			}
			if w[0] <= 0 {
				continue
			}
			o.output(out, chunk.Insert, sl.g.t.idx.key(sl.g.id), start, end, w, ss)
			if err := out.maybeFlush(); err != nil {
				return err
			}
		}
		clear(o.slots)
		o.nextEnd += s.Slide
		// Panes before the next window's start are no longer needed.
		for len(o.order) > 0 && o.order[0]+o.pane <= o.nextEnd-s.Size {
			o.drop(o.tables[o.order[0]])
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
	o.stats.stateBytes.Store(o.bytes)
	o.stats.openWindows.Store(int64(len(o.tables)))
}

func (o *windowAggOp) lateRec() *lateRecorder { return &o.late }
