package exec

import (
	"cmp"
	"math"
	"slices"
	"strings"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// dedupOp keeps the first row per key, or with KeepLast the latest one
// (retracting the row it replaces).
//
// When the keys include window_start (dedup within a window) and the input
// has window_end, a key's state is freed once the watermark passes its
// window's end, and rows of freed windows are recorded as late.
type dedupOp struct {
	keyFilter // rescale: the keys this copy takes
	stateless
	n      *plan.Dedup
	stats  *opStats
	keys   *keyEval
	seen   *rowMap[dedupVal]
	bytes  int64
	endCol int   // input column holding window_end, -1 if none
	minEnd int64 // smallest window end kept (math.MinInt64: unknown)
	wm     int64
	late   lateRecorder

	ck  entryTracker[dedupVal] // incremental checkpoints
	enc encSizer
}

// dedupVal is the row kept for a key and its checkpoint flags (keyCkDirty,
// keyCkSaved).
type dedupVal struct {
	row types.Row
	ck  uint8
}

// remove drops entry e.
func (o *dedupOp) remove(e *rowEntry[dedupVal]) {
	o.bytes -= int64(64 + rowBytes(e.key) + rowBytes(e.val.row))
	o.seen.remove(e)
	o.ck.removed(e)
}

func newDedupOp(j *job, n *plan.Dedup) *dedupOp {
	st := &opStats{}
	j.stats = append(j.stats, st)
	o := &dedupOp{n: n, stats: st, keys: newKeyEval(n.Keys).deadLetters(j, n.Input.Schema(), keyClause(n)), seen: newRowMap[dedupVal](64),
		endCol: -1, minEnd: math.MinInt64, wm: math.MinInt64, late: lateRecorder{j: j, schema: n.Input.Schema()}}
	o.ck.flags = func(e *rowEntry[dedupVal]) *uint8 { return &e.val.ck }
	for _, k := range n.Keys {
		if s := strings.ToLower(k.String()); strings.HasPrefix(s, "window_start") || strings.HasPrefix(s, "window_end") {
			o.endCol = n.Input.Schema().Index("window_end")
		}
	}
	return o
}

// OnWatermark frees the keys of windows the watermark passed.
func (o *dedupOp) OnWatermark(wm int64, _ *emitter) (int64, error) {
	o.wm = wm
	if o.endCol < 0 || (o.minEnd != math.MinInt64 && o.minEnd > wm) {
		return wm, nil
	}
	next := int64(math.MaxInt64)
	o.seen.each(func(e *rowEntry[dedupVal]) {
		end := e.val.row[o.endCol].I
		if end <= wm {
			o.remove(e)
			return
		}
		next = min(next, end)
	})
	o.minEnd = next
	o.stats.stateBytes.Store(o.bytes)
	return wm, nil
}

func (o *dedupOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	return o.OnSelected(c, nil, nil, out)
}

// OnSelected handles the rows of c listed in rows (every row when rows is
// nil), taking their keys and key hashes from r when it is not nil (a copy
// behind a shuffle: selReceiver).
func (o *dedupOp) OnSelected(c *chunk.Chunk, rows []int32, r *routed, out *emitter) error {
	for x := range selLen(c, rows) {
		i := selRow(rows, x)
		row := c.Row(i)
		if o.endCol >= 0 && row[o.endCol].I <= o.wm {
			o.late.record(row, c.Times[i], o.wm) // its window's keys were freed
			continue
		}
		key, h, err := o.keys.evalHashed(row, r, i)
		if err != nil {
			if o.keys.skip(row, c.Ops[i], err) {
				continue
			}
			return err
		}
		e := o.seen.get(h, key)
		if c.Ops[i] == chunk.Delete {
			if e != nil && e.val.row != nil && types.EqualRows(e.val.row, row) {
				out.append(chunk.Delete, c.Times[i], row)
				o.remove(e)
			}
			continue
		}
		if e == nil {
			e = o.seen.insert(h, copyRow(key))
			e.val.row = copyRow(row)
			if o.endCol >= 0 && o.minEnd != math.MinInt64 {
				o.minEnd = min(o.minEnd, row[o.endCol].I)
			}
			o.bytes += int64(64 + rowBytes(e.key) + rowBytes(e.val.row))
			o.ck.mark(e)
			out.append(chunk.Insert, c.Times[i], row)
			continue
		}
		if o.n.KeepLast {
			out.append(chunk.Delete, c.Times[i], e.val.row)
			out.append(chunk.Insert, c.Times[i], row)
			o.bytes += int64(rowBytes(row) - rowBytes(e.val.row))
			e.val.row = copyRow(row)
			o.ck.mark(e)
		}
	}
	o.stats.stateBytes.Store(o.bytes)
	return nil
}

// lookupJoinOp enriches stream rows with the rows of a table or view as it
// is when the stream row arrives.
type lookupJoinOp struct {
	stateless
	j      *job
	n      *plan.LookupJoin
	rel    *relation
	ix     *relIndex
	keys   *keyEval
	sw, tw int
}

func newLookupJoinOp(j *job, n *plan.LookupJoin, r *relation) *lookupJoinOp {
	return &lookupJoinOp{j: j, n: n, rel: r, ix: r.index(n.TableKey), keys: newKeyEval(n.StreamKey).deadLetters(j, n.Stream.Schema(), clauseOn),
		sw: len(n.Stream.Schema()), tw: len(r.schema)}
}

func (o *lookupJoinOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	o.rel.mu.RLock()
	defer o.rel.mu.RUnlock()
	for i := range c.Len() {
		row := c.Row(i)
		key, _, err := o.keys.eval(row)
		if err != nil {
			if o.keys.skip(row, c.Ops[i], err) {
				continue
			}
			return err
		}
		matched := false
		for _, tr := range o.ix.lookup(key) {
			r := out.row(c.Ops[i], c.Times[i])
			copy(r, row)
			copy(r[o.sw:], tr)
			if o.n.Residual != nil {
				ok, err := residual(o.j, o.n.Residual, o.n.Cols, r, c.Ops[i])
				if err != nil {
					return err
				}
				if !ok {
					out.cur.Truncate(out.cur.Len() - 1)
					continue
				}
			}
			matched = true
		}
		if !matched && o.n.Kind == plan.LeftJoin {
			r := out.row(c.Ops[i], c.Times[i])
			copy(r, row)
		}
		if err := out.maybeFlush(); err != nil {
			return err
		}
	}
	return nil
}

// ijRow is a row kept by an interval join.
type ijRow struct {
	row     types.Row
	t       int64
	matched bool
}

// intervalJoinOp joins two streams on equal keys where
// lower <= right_time - left_time <= upper. A kept row is freed once the
// watermark makes further matches impossible; a left join then emits the
// left rows that never matched.
type intervalJoinOp struct {
	j      *job
	n      *plan.IntervalJoin
	stats  *opStats
	keys   [2]*keyEval
	side   [2]*rowMap[ijKey]
	lw, rw int
	wm     int64
	bytes  int64

	due  [2]ijDueHeap           // per side: when each kept row may be freed
	ck   [2]entryTracker[ijKey] // incremental checkpoints, per side
	ckWM int64                  // wm at the last capture
	enc  encSizer

	keyFilter // rescale: the keys this copy takes

	inWMs   []int64      // each input's own watermark (the node's)
	late    lateRecorder // rows behind their input's watermark
	schemas [2]types.Schema
}

func (o *intervalJoinOp) rescaled()                      { o.publish() }
func (o *intervalJoinOp) useInputWatermarks(wms []int64) { o.inWMs = wms }
func (o *intervalJoinOp) lateRec() *lateRecorder         { return &o.late }

// ijKey is the rows an interval join keeps for one key on one side, and
// their checkpoint flags (keyCkDirty, keyCkSaved).
type ijKey struct {
	rows []ijRow
	ck   uint8
	dead bool // removed from the map (its ijDueHeap entries are skipped)
}

// ijDueHeap holds, per side, key entries by when their earliest row may be
// freed, with an entry at or before the earliest row of every key entry
// held: a watermark frees what is due before it in time proportional to
// that, where a scan of every kept row at every watermark made an interval
// join over a few seconds of rows ten times slower than the other
// operators. An entry may be stale (its row left early, or a row inserted
// before it has an entry of its own): popping it frees nothing, and the
// key's earliest row gets a new one.
type ijDueHeap = dueHeap[*rowEntry[ijKey]]

// ijInsert adds r to rows, which are kept in time order (a key's rows
// arrive nearly in order, so this looks back a step or two), after the
// rows of its time; it returns r's index.
func ijInsert(rows *[]ijRow, r ijRow) int {
	x := append(*rows, r)
	i := len(x) - 1
	for i > 0 && x[i-1].t > r.t {
		x[i] = x[i-1]
		i--
	}
	x[i] = r
	*rows = x
	return i
}

// ijFirstAt returns the index of the first of rows (in time order) at t
// or later.
func ijFirstAt(rows []ijRow, t int64) int {
	i, _ := slices.BinarySearchFunc(rows, t, func(r ijRow, t int64) int { return cmp.Compare(r.t, t) })
	return i
}

// publish reports the state's bytes: the rows and keys, and 16 bytes an
// entry of the due-time heaps.
func (o *intervalJoinOp) publish() {
	o.stats.stateBytes.Store(max(o.bytes, 0) + 16*int64(len(o.due[0])+len(o.due[1])))
}

// dueAt is when a row of side s at time t may be freed: a left row can
// match right rows up to t + upper, a right row left rows down to
// t - lower. It grows with t, so a key's rows are due in their order.
func (o *intervalJoinOp) dueAt(s int, t int64) int64 {
	if s == 0 {
		return satAdd(t, o.n.UpperBound)
	}
	return satAdd(t, -o.n.LowerBound)
}

func ijFlags(e *rowEntry[ijKey]) *uint8 { return &e.val.ck }

// remove drops key entry e of side s with its rows.
func (o *intervalJoinOp) remove(s int, e *rowEntry[ijKey]) {
	for _, x := range e.val.rows {
		o.bytes -= int64(rowBytes(x.row) + 16)
	}
	e.val.dead = true
	o.side[s].remove(e)
	o.ck[s].removed(e)
}

func newIntervalJoinOp(j *job, n *plan.IntervalJoin) *intervalJoinOp {
	st := &opStats{}
	j.stats = append(j.stats, st)
	return &intervalJoinOp{j: j, n: n, stats: st,
		keys: [2]*keyEval{newKeyEval(n.LeftKey).deadLetters(j, n.Left.Schema(), keyClause(n)), newKeyEval(n.RightKey).deadLetters(j, n.Right.Schema(), keyClause(n))},
		side: [2]*rowMap[ijKey]{newRowMap[ijKey](64), newRowMap[ijKey](64)},
		ck:   [2]entryTracker[ijKey]{{flags: ijFlags}, {flags: ijFlags}},
		lw:   len(n.Left.Schema()), rw: len(n.Right.Schema()), wm: chunk.NoTime,
		late:    lateRecorder{j: j},
		schemas: [2]types.Schema{n.Left.Schema(), n.Right.Schema()}}
}

func (o *intervalJoinOp) emit(out *emitter, op chunk.Op, l, r types.Row, t int64) error {
	row := out.row(op, t)
	copy(row, l)
	if r != nil {
		copy(row[o.lw:], r)
	}
	if o.n.Residual != nil && r != nil {
		ok, err := residual(o.j, o.n.Residual, o.n.Cols, row, op)
		if err != nil {
			return err
		}
		if !ok {
			out.cur.Truncate(out.cur.Len() - 1)
		}
	}
	return nil
}

func (o *intervalJoinOp) OnData(in int, c *chunk.Chunk, out *emitter) error {
	timeCol := o.n.LeftTime
	if in == 1 {
		timeCol = o.n.RightTime
	}
	other := 1 - in
	for i := range c.Len() {
		row := c.Row(i)
		t := eventTime(row[timeCol])
		if t == chunk.NoTime {
			continue
		}
		if c.Ops[i] == chunk.Insert && o.inWMs != nil && t < o.inWMs[in] {
			// Late on its own input. Such a row may find its partners
			// freed or not depending on how far the other input had got
			// (the freeing follows the lower of the two watermarks), so
			// it is recorded as late instead of joined: what a row on
			// time on its input joins does not depend on that.
			o.late.recordAs(o.schemas[in], row, t, o.inWMs[in])
			continue
		}
		key, h, err := o.keys[in].eval(row)
		if err != nil {
			if o.keys[in].skip(row, c.Ops[i], err) {
				continue
			}
			return err
		}
		null := false
		for _, v := range key {
			null = null || v.IsNull()
		}
		op := c.Ops[i]
		held := -1 // a retracted row's index among its key's rows
		if op == chunk.Delete {
			// As in the regular join: a retraction of a row the join does
			// not hold (never seen, late, or freed) changes nothing; the
			// pairs it would take back were never emitted, or are final.
			if e := o.side[in].get(h, key); e != nil {
				rows := e.val.rows
				for k := ijFirstAt(rows, t); k < len(rows) && rows[k].t == t; k++ {
					if types.EqualRows(rows[k].row, row) {
						held = k
						break
					}
				}
			}
			if held < 0 {
				continue
			}
		}
		matched := false
		if !null {
			if oe := o.side[other].get(h, key); oe != nil {
				// The other side's rows in time range: a right row at
				// t+lower .. t+upper for a left row, a left row at
				// t-upper .. t-lower for a right row.
				lo, hi := satAdd(t, o.n.LowerBound), satAdd(t, o.n.UpperBound)
				if in == 1 {
					lo, hi = satAdd(t, -o.n.UpperBound), satAdd(t, -o.n.LowerBound)
				}
				rows := oe.val.rows
				for k := ijFirstAt(rows, lo); k < len(rows) && rows[k].t <= hi; k++ {
					x := &rows[k]
					before := out.curLen()
					if in == 0 {
						err = o.emit(out, op, row, x.row, max(t, x.t))
					} else {
						err = o.emit(out, op, x.row, row, max(t, x.t))
					}
					if err != nil {
						return err
					}
					if out.curLen() > before {
						matched = true
						if in == 1 && !x.matched && o.n.Kind == plan.LeftJoin {
							x.matched = true
							o.ck[0].mark(oe)
						}
					}
				}
			}
		}
		if op == chunk.Delete {
			// Held (above), so the lookup finds it; a match it emitted
			// above has not moved it.
			e := o.side[in].get(h, key)
			o.bytes -= int64(rowBytes(e.val.rows[held].row) + 16)
			e.val.rows = slices.Delete(e.val.rows, held, held+1)
			o.ck[in].mark(e)
			continue
		}
		if null && !(in == 0 && o.n.Kind == plan.LeftJoin) {
			continue
		}
		e := o.side[in].get(h, key)
		if e == nil {
			e = o.side[in].insert(h, copyRow(key))
		}
		if ijInsert(&e.val.rows, ijRow{row: copyRow(row), t: t, matched: matched}) == 0 {
			o.due[in].push(o.dueAt(in, t), e) // its earliest row
		}
		o.bytes += int64(rowBytes(row) + 16)
		o.ck[in].mark(e)
		if err := out.maybeFlush(); err != nil {
			return err
		}
	}
	o.publish()
	return nil
}

func (e *emitter) curLen() int {
	if e.cur == nil {
		return 0
	}
	return e.cur.Len()
}

func (o *intervalJoinOp) OnWatermark(wm int64, out *emitter) (int64, error) {
	o.wm = wm
	for s := range 2 {
		for h := &o.due[s]; len(*h) > 0 && (*h)[0].at < wm; {
			e := h.pop().v
			if e.val.dead {
				continue
			}
			if err := o.free(s, e, wm, out); err != nil {
				return 0, err
			}
		}
	}
	o.publish()
	if o.n.Kind == plan.LeftJoin {
		return satSub(wm, max(o.n.UpperBound, 0)+1), nil
	}
	return wm, nil
}

// free drops the rows of key entry e of side s that no row on time can
// match at watermark wm, its earliest ones (the entry too when none is
// left), and files the entry under its new earliest row; a left join
// emits the left rows among them that never matched, NULL-padded.
func (o *intervalJoinOp) free(s int, e *rowEntry[ijKey], wm int64, out *emitter) error {
	rows := e.val.rows
	k := 0
	for ; k < len(rows) && o.dueAt(s, rows[k].t) < wm; k++ {
		x := rows[k]
		o.bytes -= int64(rowBytes(x.row) + 16)
		if s == 0 && o.n.Kind == plan.LeftJoin && !x.matched {
			if err := o.emit(out, chunk.Insert, x.row, nil, x.t); err != nil {
				return err
			}
		}
	}
	switch {
	case k == len(rows):
		clear(rows)
		e.val.rows = rows[:0] // their bytes are out already
		o.remove(s, e)
		return nil
	case k > 0:
		// Dropped from the front without moving the rest (a key may hold
		// many rows while the other input's watermark lags): the freed
		// slots are reused when an append moves the rows.
		clear(rows[:k])
		e.val.rows = rows[k:]
		o.ck[s].mark(e)
	}
	o.due[s].push(o.dueAt(s, e.val.rows[0].t), e)
	return nil
}

func (o *intervalJoinOp) OnBarrier(uint64, *emitter) error { return nil }

func (o *dedupOp) lateRec() *lateRecorder { return &o.late }
