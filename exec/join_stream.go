package exec

import (
	"fmt"
	"sort"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// sjRow is one kept input row of a regular join. Equal rows are kept once
// each (a multiset).
type sjRow struct {
	row types.Row
	t   int64
	// matches counts the other side's rows it joins with (left rows of a
	// left join only: zero means its NULL-padded row is out).
	matches int
}

// sjKey is the rows of one join key on one side.
type sjKey struct {
	rows   []sjRow
	last   int64 // processing time of the last update (state TTL)
	dead   bool  // removed from the map (a TTL queue entry to skip)
	queued bool  // has an entry in the TTL queue
	win    int64 // window join: the window bound's value
	ck     uint8 // checkpoint flags (keyCkDirty, keyCkSaved)
}

// sjTouch is a TTL queue entry: key entry e is due for a check at time
// at + TTL.
type sjTouch struct {
	e  *rowEntry[sjKey]
	at int64
	s  int
}

// joinCore is the state and row logic shared by the regular and window
// joins: per key, the current rows of both inputs. An inserted row joins
// the other side's rows of its key; a retracted row retracts the rows it
// joined; in a left join a left row without matches is out NULL-padded,
// and that row is retracted when its first match arrives (and re-emitted
// when its last match goes).
type joinCore struct {
	j        *job
	kind     plan.JoinKind
	residual expr.Expr
	joined   types.Schema // the columns residual reads: left's, then right's
	keys     [2]*keyEval
	side     [2]*rowMap[sjKey]
	lw       int
	scratch  types.Row
	bytes    int64
	stats    *opStats

	// touched is called with every key entry a row changes, dropped with
	// every key entry removed.
	touched func(s int, e *rowEntry[sjKey], key types.Row)
	dropped func(s int, e *rowEntry[sjKey])

	ck  [2]entryTracker[sjKey] // incremental checkpoints, per side
	enc encSizer

	keyFilter // rescale: the keys this copy takes
}

func sjFlags(e *rowEntry[sjKey]) *uint8 { return &e.val.ck }

func newJoinCore(j *job, kind plan.JoinKind, lk, rk []expr.Expr, residual expr.Expr, left, right plan.Node) joinCore {
	st := &opStats{}
	j.stats = append(j.stats, st)
	lw := len(left.Schema())
	return joinCore{j: j, kind: kind, residual: residual, stats: st,
		joined:  append(append(types.Schema{}, left.Schema()...), right.Schema()...),
		keys:    [2]*keyEval{newKeyEval(lk).deadLetters(j, left.Schema(), clauseOn), newKeyEval(rk).deadLetters(j, right.Schema(), clauseOn)},
		side:    [2]*rowMap[sjKey]{newRowMap[sjKey](64), newRowMap[sjKey](64)},
		lw:      lw,
		scratch: make(types.Row, lw+len(right.Schema())),
		ck:      [2]entryTracker[sjKey]{{flags: sjFlags}, {flags: sjFlags}},
	}
}

// match reports whether l and r satisfy the residual condition. A pair
// on which it fails does not match under on_error = 'dead_letter' (the
// pair goes to the dead letters when it is joined, op Insert: residual).
func (c *joinCore) match(l, r types.Row, op chunk.Op) (bool, error) {
	if c.residual == nil {
		return true, nil
	}
	copy(c.scratch, l)
	copy(c.scratch[c.lw:], r)
	return residual(c.j, c.residual, c.joined, c.scratch, op)
}

// residual evaluates a join's condition beyond its equal keys over a
// joined row. A pair on which it fails with a data exception counts as
// not matching under on_error = 'dead_letter', and the joined row goes to
// the dead letters (job.rowError: once, when the pair is joined; its
// retraction, op Delete, writes none); otherwise the error fails the view.
func residual(j *job, cond expr.Expr, schema types.Schema, row types.Row, op chunk.Op) (bool, error) {
	v, err := cond.Eval(nil, row)
	if err != nil {
		if j.rowError(schema, row, op, clauseOn, err) {
			return false, nil
		}
		return false, fmt.Errorf("evaluate join condition: %w", err)
	}
	return !v.IsNull() && v.Bool(), nil
}

func (c *joinCore) emit(out *emitter, op chunk.Op, t int64, l, r types.Row) {
	row := out.row(op, t)
	copy(row, l)
	if r != nil {
		copy(row[c.lw:], r)
	}
}

func sjBytes(r types.Row) int64 { return int64(rowBytes(r) + 24) }

// removeRow takes one row equal to row out of e and returns it.
func (c *joinCore) removeRow(e *rowEntry[sjKey], row types.Row) (sjRow, bool) {
	for k, x := range e.val.rows {
		if types.EqualRows(x.row, row) {
			last := len(e.val.rows) - 1
			e.val.rows[k] = e.val.rows[last]
			e.val.rows[last] = sjRow{}
			e.val.rows = e.val.rows[:last]
			c.bytes -= sjBytes(x.row)
			return x, true
		}
	}
	return sjRow{}, false
}

// drop removes a key entry from side s.
func (c *joinCore) drop(s int, e *rowEntry[sjKey]) {
	for _, x := range e.val.rows {
		c.bytes -= sjBytes(x.row)
	}
	c.bytes -= int64(64 + rowBytes(e.key))
	e.val.dead = true
	c.side[s].remove(e)
	c.ck[s].removed(e)
	if c.dropped != nil {
		c.dropped(s, e)
	}
}

// onData applies a chunk from input in.
func (c *joinCore) onData(in int, ch *chunk.Chunk, out *emitter) error {
	left := c.kind == plan.LeftJoin
	for i := range ch.Len() {
		row := ch.Row(i)
		op, t := ch.Ops[i], ch.Times[i]
		key, h, err := c.keys[in].eval(row)
		if err != nil {
			if c.keys[in].skip(row, op, err) {
				continue
			}
			return err
		}
		null := false
		for _, v := range key {
			null = null || v.IsNull()
		}
		if null {
			// A NULL key matches nothing; a left join's left row is out
			// NULL-padded and needs no state to be retracted.
			if in == 0 && left {
				c.emit(out, op, t, row, nil)
			}
			if err := out.maybeFlush(); err != nil {
				return err
			}
			continue
		}
		own := c.side[in].get(h, key)
		other := c.side[1-in].get(h, key)
		// matches is, for a retracted left row, how many rows it joined.
		matches := 0
		if op == chunk.Delete {
			// A retraction of a row the join does not hold (never seen,
			// or forgotten by the TTL or a closed window) changes
			// nothing: the rows it joined, if any, stay as they are, and
			// retracting pairs it never formed would corrupt the output.
			var x sjRow
			ok := false
			if own != nil {
				x, ok = c.removeRow(own, row)
			}
			if !ok {
				if err := out.maybeFlush(); err != nil {
					return err
				}
				continue
			}
			t, matches = x.t, x.matches
		}
		if in == 0 {
			n := 0
			if other != nil {
				for _, r := range other.val.rows {
					ok, err := c.match(row, r.row, op)
					if err != nil {
						return err
					}
					if ok {
						c.emit(out, op, max(t, r.t), row, r.row)
						n++
					}
				}
			}
			if op == chunk.Delete {
				// Every right row held now was joined with this row; the
				// count also covers partners the TTL has forgotten.
				n = matches
			}
			if left && n == 0 {
				c.emit(out, op, t, row, nil)
			}
			if op == chunk.Insert {
				if own == nil {
					own = c.side[0].insert(h, copyRow(key))
					c.bytes += int64(64 + rowBytes(key))
				}
				own.val.rows = append(own.val.rows, sjRow{row: copyRow(row), t: t, matches: n})
				c.bytes += sjBytes(row)
			}
		} else {
			if other != nil {
				// The left rows' match counts change: the entry is saved again.
				c.ck[0].mark(other)
				for k := range other.val.rows {
					l := &other.val.rows[k]
					ok, err := c.match(l.row, row, op)
					if err != nil {
						return err
					}
					if !ok {
						continue
					}
					if op == chunk.Insert {
						if left && l.matches == 0 {
							c.emit(out, chunk.Delete, l.t, l.row, nil)
						}
						l.matches++
						c.emit(out, chunk.Insert, max(t, l.t), l.row, row)
					} else {
						c.emit(out, chunk.Delete, max(t, l.t), l.row, row)
						if l.matches > 0 {
							l.matches--
							if left && l.matches == 0 {
								c.emit(out, chunk.Insert, l.t, l.row, nil)
							}
						}
					}
				}
			}
			if op == chunk.Insert {
				if own == nil {
					own = c.side[1].insert(h, copyRow(key))
					c.bytes += int64(64 + rowBytes(key))
				}
				own.val.rows = append(own.val.rows, sjRow{row: copyRow(row), t: t})
				c.bytes += sjBytes(row)
			}
		}
		if own != nil {
			if len(own.val.rows) == 0 {
				c.drop(in, own)
			} else {
				if c.touched != nil {
					c.touched(in, own, key)
				}
				c.ck[in].mark(own)
			}
		}
		if err := out.maybeFlush(); err != nil {
			return err
		}
	}
	c.stats.stateBytes.Store(max(c.bytes, 0))
	return nil
}

// streamJoinOp is a regular equi-join of two changelogs (plan.StreamJoin).
// With a TTL, a key's rows on one side are forgotten once that side has
// not updated the key for TTL of processing time (checked on watermarks
// and barriers); the joined rows already emitted stay.
type streamJoinOp struct {
	joinCore
	j     *job
	n     *plan.StreamJoin
	now   int64
	queue []sjTouch // TTL: updates in processing-time order
	head  int
}

func newStreamJoinOp(j *job, n *plan.StreamJoin) *streamJoinOp {
	o := &streamJoinOp{j: j, n: n, joinCore: newJoinCore(j, n.Kind, n.LeftKey, n.RightKey, n.Residual, n.Left, n.Right)}
	if n.TTL > 0 {
		o.touched = func(s int, e *rowEntry[sjKey], _ types.Row) {
			e.val.last = o.now
			if !e.val.queued {
				e.val.queued = true
				o.queue = append(o.queue, sjTouch{e: e, at: o.now, s: s})
			}
		}
	}
	return o
}

func (o *streamJoinOp) OnData(in int, c *chunk.Chunk, out *emitter) error {
	if o.n.TTL > 0 {
		o.now = o.j.e.now().UnixMicro()
	}
	return o.onData(in, c, out)
}

// expire forgets the keys idle for the TTL. Each key entry has at most one
// queue entry (so the queue is no longer than the state): a key updated
// since it was queued goes back to the end of the queue, due at its last
// update. The queue is then only roughly ordered, so a key may outlive
// its TTL by up to another TTL, never by less.
func (o *streamJoinOp) expire() {
	if o.n.TTL <= 0 {
		return
	}
	now := o.j.e.now().UnixMicro()
	for o.head < len(o.queue) {
		q := o.queue[o.head]
		if now-q.at < o.n.TTL {
			break
		}
		o.queue[o.head] = sjTouch{}
		o.head++
		switch {
		case q.e.val.dead:
		case now-q.e.val.last >= o.n.TTL:
			q.e.val.queued = false
			o.drop(q.s, q.e)
		default:
			o.queue = append(o.queue, sjTouch{e: q.e, at: q.e.val.last, s: q.s})
		}
	}
	if o.head > 1024 && o.head*2 > len(o.queue) {
		o.queue = append(o.queue[:0], o.queue[o.head:]...)
		o.head = 0
	}
	o.stats.stateBytes.Store(max(o.bytes, 0))
}

func (o *streamJoinOp) OnWatermark(wm int64, _ *emitter) (int64, error) {
	o.expire()
	return wm, nil
}

func (o *streamJoinOp) OnBarrier(uint64, *emitter) error {
	o.expire()
	return nil
}

// buildJoin adds the nodes of a regular, window or interval join and
// builds its inputs (called from builder.build): at a parallelism above
// 1, copies of the join behind a shuffle per input (builder.keyed).
func (b *builder) buildJoin(p plan.Node, out outlet) error {
	var (
		mk          func() (operator, error)
		name        string
		left, right plan.Node
		lk, rk      []expr.Expr
		width       int
	)
	switch n := p.(type) {
	case *plan.StreamJoin:
		mk = func() (operator, error) { return newStreamJoinOp(b.j, n), nil }
		name, left, right, lk, rk, width = "stream-join", n.Left, n.Right, n.LeftKey, n.RightKey, len(n.Cols)
	case *plan.WindowJoin:
		mk = func() (operator, error) { return newWindowJoinOp(b.j, n) }
		name, left, right, lk, rk, width = "window-join", n.Left, n.Right, n.LeftKey, n.RightKey, len(n.Cols)
	case *plan.IntervalJoin:
		mk = func() (operator, error) { return newIntervalJoinOp(b.j, n), nil }
		name, left, right, lk, rk, width = "interval-join", n.Left, n.Right, n.LeftKey, n.RightKey, len(n.Cols)
	default:
		return fmt.Errorf("build join: unexpected %T", p)
	}
	// Equal keys hash alike on both sides (the join's own lookups rely on
	// it), so a key's rows of both inputs reach the same copy.
	return b.keyed(name, width, []plan.Node{left, right}, [][]expr.Expr{lk, rk}, mk, out)
}

// joinRetracts reports whether p is a regular or window left join, which
// retracts NULL-padded rows even over append-only inputs.
func joinRetracts(p plan.Node) bool {
	switch n := p.(type) {
	case *plan.StreamJoin:
		return n.Kind == plan.LeftJoin
	case *plan.WindowJoin:
		return n.Kind == plan.LeftJoin
	}
	return false
}

// snapshot encodes both sides' rows (and each key's last update time);
// with saved, every entry is marked as saved and unchanged on the way.
func (c *joinCore) snapshot(saved bool) []byte {
	e := c.enc.encoder(c.side[0].len() + c.side[1].len())
	for s := range 2 {
		e.uvarint(uint64(c.side[s].len()))
		c.side[s].eachByAddress(func(x *rowEntry[sjKey]) {
			encSJKey(e, x)
			if saved {
				c.ck[s].saved(x)
			}
		})
	}
	c.enc.note(len(e.b), c.side[0].len()+c.side[1].len())
	return e.b
}

func encSJKey(e *snapEnc, x *rowEntry[sjKey]) {
	e.row(x.key)
	e.varint(x.val.last)
	e.uvarint(uint64(len(x.val.rows)))
	for _, r := range x.val.rows {
		e.row(r.row)
		e.varint(r.t)
		e.varint(int64(r.matches))
	}
}

// restore replaces both sides' rows with a snapshot's, calling each(s, e,
// true) for every restored key entry; with more, it adds them to the rows
// held instead (a rescale: the snapshot of another old copy, whose keys
// are not held).
func (c *joinCore) restore(b []byte, more bool, each func(s int, e *rowEntry[sjKey], added bool)) error {
	d := &snapDec{b: b}
	if !more {
		c.bytes = 0
	}
	for s := range 2 {
		if !more {
			c.ck[s].reset()
			c.side[s] = newRowMap[sjKey](64)
		}
		n := d.count(2)
		for range n {
			if !c.decodeKey(d, s, each) {
				break
			}
		}
	}
	if err := d.done(); err != nil {
		return err
	}
	c.stats.stateBytes.Store(max(c.bytes, 0))
	return nil
}

// decodeKey reads a key entry of side s as encSJKey wrote it and keeps
// it: a key already kept (a delta) has its rows replaced in place, and
// each is called with added false. It reports false on an error (in d.err).
func (c *joinCore) decodeKey(d *snapDec, s int, each func(s int, e *rowEntry[sjKey], added bool)) bool {
	key := d.row()
	last := d.varint()
	nr := d.count(3)
	if d.err != nil {
		return false
	}
	rows := make([]sjRow, 0, nr)
	for range nr {
		r := sjRow{row: d.row(), t: d.varint(), matches: int(d.varint())}
		if d.err != nil {
			return false
		}
		rows = append(rows, r)
	}
	h := hashRow(key)
	if c.drops(h) {
		return true // another copy's (rescale)
	}
	for _, r := range rows {
		c.bytes += sjBytes(r.row)
	}
	e := c.side[s].get(h, key)
	added := e == nil
	if added {
		e = c.side[s].insert(h, key)
		e.val = sjKey{rows: rows, last: last}
		c.bytes += int64(64 + rowBytes(key))
	} else {
		for _, x := range e.val.rows {
			c.bytes -= sjBytes(x.row)
		}
		e.val.rows, e.val.last = rows, last
	}
	each(s, e, added)
	return true
}

// The joins keep every key's rows (until a TTL or a closed window frees
// them), so their checkpoints are incremental (incSnapshotter): the core
// encodes and applies the deltas, the operators their own headers.
const snapJoinDeltaVersion = 1

// snapshotBase is snapshot(true), after which the changes start again
// from none.
func (c *joinCore) snapshotBase() []byte {
	b := c.snapshot(true)
	c.ck[0].reset()
	c.ck[1].reset()
	return b
}

// pending is how many entries the next delta may hold.
func (c *joinCore) pending() int { return c.ck[0].pending() + c.ck[1].pending() }

// delta appends to e, per side, the keys of the saved entries dropped
// since the last capture and then every entry changed since.
func (c *joinCore) delta(e *snapEnc) (changes, superseded int) {
	for s := range 2 {
		n, sup := c.ck[s].delta(e, encSJKey)
		changes, superseded = changes+n, superseded+sup
	}
	return changes, superseded
}

// restoreDelta applies what delta wrote: dropped keys are dropped (their
// entries marked dead), changed ones replaced or added (see decodeKey).
func (c *joinCore) restoreDelta(d *snapDec, each func(s int, e *rowEntry[sjKey], added bool)) {
	for s := range 2 {
		restoreEntries(d, func(key types.Row) {
			if e := c.side[s].get(hashRow(key), key); e != nil {
				c.ck[s].quietly(func() { c.drop(s, e) })
			}
		}, func(d *snapDec) bool { return c.decodeKey(d, s, each) })
	}
	c.stats.stateBytes.Store(max(c.bytes, 0))
}

func (c *joinCore) startTracking() { c.ck[0].on, c.ck[1].on = true, true }
func (c *joinCore) stateLen() int  { return c.side[0].len() + c.side[1].len() }
func (c *joinCore) needBase() bool { return false } // entries never move

// Snapshot encodes the join's state.
func (o *streamJoinOp) Snapshot() ([]byte, error) { return o.snapshot(false), nil }

// Restore replaces the join's state with a snapshot's; TTL clocks restart
// from the keys' recorded update times.
func (o *streamJoinOp) Restore(b []byte) error {
	o.queue, o.head = o.queue[:0], 0
	if err := o.restore(b, false, o.restored); err != nil {
		return fmt.Errorf("restore stream join: %w", err)
	}
	o.sortQueue()
	return nil
}

// restoreMore adds a snapshot's keys to those held (rescaler).
func (o *streamJoinOp) restoreMore(b []byte) error {
	if err := o.restore(b, true, o.restored); err != nil {
		return fmt.Errorf("restore stream join: %w", err)
	}
	o.sortQueue()
	return nil
}

func (o *streamJoinOp) rescaled() { o.stats.stateBytes.Store(max(o.bytes, 0)) }

// restored queues a restored key entry for its TTL (one already queued
// is requeued by expire at its new last update).
func (o *streamJoinOp) restored(s int, e *rowEntry[sjKey], _ bool) {
	if o.n.TTL > 0 && !e.val.queued {
		e.val.queued = true
		o.queue = append(o.queue, sjTouch{e: e, at: e.val.last, s: s})
	}
}

func (o *streamJoinOp) sortQueue() {
	q := o.queue[o.head:]
	sort.Slice(q, func(i, k int) bool { return q[i].at < q[k].at })
}

func (o *streamJoinOp) SnapshotBase() ([]byte, error) { return o.snapshotBase(), nil }

func (o *streamJoinOp) SnapshotDelta() (b []byte, changes, superseded int, err error) {
	e := o.enc.encoder(o.pending())
	e.uvarint(snapJoinDeltaVersion)
	changes, superseded = o.delta(e)
	return e.b, changes, superseded, nil
}

func (o *streamJoinOp) RestoreDelta(b []byte) error {
	d := &snapDec{b: b}
	if v := d.uvarint(); d.err == nil && v != snapJoinDeltaVersion {
		return fmt.Errorf("restore stream join delta: %w", errSnapshotVersion(v, snapJoinDeltaVersion))
	}
	o.restoreDelta(d, o.restored)
	if err := d.done(); err != nil {
		return fmt.Errorf("restore stream join delta: %w", err)
	}
	o.sortQueue()
	return nil
}
