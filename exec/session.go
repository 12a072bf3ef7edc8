package exec

import (
	"fmt"
	"math"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// session is one open session window of one key (32 bytes). Sessions
// live by value in the operator's slab, under an index that also names
// their accumulators (aggLayout words and states) and, on update, their
// last output row. A freed index is reused by a later session.
type session struct {
	start, last int64 // first and last event time
	key         int32 // id of the session's key in byKey
	next        int32 // next open session of the same key, -1 at the end
	flags       uint8 // sessOpen, groupDirty, groupEmitted
}

// sessOpen marks an index that holds an open session.
const sessOpen = 1 << 7

// sessionOp aggregates session windows per key with a gap and an optional
// maximum duration. A row joins every session it is within gap of; an
// out-of-order row that bridges two sessions merges them. A row whose event
// time is behind the watermark minus the allowed lateness is late: a
// session it would extend may already have been emitted, so it is recorded
// instead (this keeps the output equal to sessionizing the on-time rows).
// Sessions close when the watermark passes their end (last event + gap,
// capped at start + max duration) plus the allowed lateness.
//
// Per open session it keeps the session (32 bytes), its accumulators, an
// end-heap entry (16 bytes) and, per key, the key by value in a keyIndex
// and the index of its first session.
//
// The end heap holds, for every open session, an entry no later than the
// session's end. An entry (end, index) whose end the watermark passed
// closes the session at index if that session's own end is not later;
// otherwise the session is queued again under its end. A session whose
// end moves earlier (a row before its start, under a maximum duration)
// gets a new entry. Entries of sessions merged away or closed are left in
// the heap: when one pops, the index is free, or holds a later session
// that the same rule closes only when it is due.
type sessionOp struct {
	j         *job
	keyFilter // rescale: the keys this copy takes
	n         *plan.WindowAgg
	stats     *opStats
	lay       *aggLayout
	keys      *keyEval
	nk        int
	kind      types.Kind
	upd       bool // emit on update
	width     int  // output row width
	late      lateRecorder
	gap       int64
	maxDur    int64

	byKey  *keyIndex
	head   recs[int32] // per key id: its first open session
	ss     recs[session]
	words  recs[int64]
	states recs[accState]
	prev   recs[types.Value] // on update: per session, the start, end and aggregate results of the row last emitted
	free   []int32           // freed session indexes
	ends   endHeap
	wm     int64
	open   int64
	bytes  int64

	hits    []int
	dirty   []int
	retired []types.Value // rows of sessions merged away since the last emit: retract them

	// Incremental checkpoints (see incSnapshotter), once track is set. The
	// unit is a key with all its open sessions: per key id its flags
	// (keyCkDirty, keyCkSaved), the ids of the keys changed since the last
	// capture (an id freed and reused may be listed twice; one whose flag
	// is clear is skipped), the saved keys whose last session closed
	// since, and whether a compaction moved the ids.
	track   bool
	ckKey   []uint8
	ckDirty []int32
	ckGone  goneKeys
	ckMoved bool
	enc     encSizer
}

func newSessionOp(j *job, n *plan.WindowAgg, lay *aggLayout, kind types.Kind, st *opStats) *sessionOp {
	st.keyedWindows = true
	o := &sessionOp{j: j, n: n, stats: st, lay: lay, keys: newKeyEval(n.GroupBy).deadLetters(j, n.Input.Schema(), keyClause(n)), nk: len(n.GroupBy), kind: kind,
		upd: n.Emit == plan.EmitOnUpdate, width: len(n.GroupBy) + 3 + len(n.Aggs),
		late: lateRecorder{j: j, schema: n.Input.Schema()}, gap: n.Window.Gap, maxDur: n.Window.MaxDuration, wm: math.MinInt64}
	o.reset()
	return o
}

// reset drops every session.
func (o *sessionOp) reset() {
	o.byKey = newKeyIndex(o.nk, 256)
	o.head = newRecs[int32](1, 256)
	o.ss = newRecs[session](1, 256)
	o.words = newRecs[int64](o.lay.words, 256)
	o.states = newRecs[accState](len(o.lay.states), 256)
	if o.upd {
		o.prev = newRecs[types.Value](o.width-o.nk-1, 256)
	}
	o.free = nil
	o.ckKey, o.ckDirty = o.ckKey[:0], o.ckDirty[:0]
	o.ckGone.reset()
	o.ends = o.ends[:0]
	o.open, o.bytes = 0, 0
	o.dirty = o.dirty[:0]
	o.retired = o.retired[:0]
}

// sess returns session i; the pointer is valid until the next newSession.
func (o *sessionOp) sess(i int) *session { return &o.ss.at(i)[0] }

func (o *sessionOp) end(s *session) int64 {
	e := s.last + o.gap
	if o.maxDur > 0 && s.start+o.maxDur < e {
		e = s.start + o.maxDur
	}
	return e
}

// fits reports whether a session spanning [lo, hi] respects the maximum
// duration.
func (o *sessionOp) fits(lo, hi int64) bool { return o.maxDur <= 0 || hi-lo < o.maxDur }

// sessionBytes is the state-bytes estimate of one session besides its
// accumulators: the session and its end-heap entry.
const sessionBytes = 32 + 16

// addKey returns the id of key, adding it with no session when absent.
func (o *sessionOp) addKey(h uint64, key types.Row) int {
	k, added := o.byKey.lookup(h, key)
	if added {
		if k == o.head.n {
			o.head.add()
		}
		o.head.at(k)[0] = -1
		if k == len(o.ckKey) {
			o.ckKey = append(o.ckKey, 0)
		} else {
			o.ckKey[k] = 0
		}
		o.bytes += 16 + 4 + keyBytes(key)
	}
	return k
}

// markKey records that key k changed since the last capture.
func (o *sessionOp) markKey(k int) {
	if o.track && o.ckKey[k]&keyCkDirty == 0 {
		o.ckKey[k] |= keyCkDirty
		o.ckDirty = append(o.ckDirty, int32(k))
	}
}

// newSession opens a session of key k at time t, last in the key's list.
func (o *sessionOp) newSession(k int, t int64) int {
	var i int
	if n := len(o.free); n > 0 {
		i = int(o.free[n-1])
		o.free = o.free[:n-1]
		clear(o.words.at(i))
	} else {
		i = o.ss.add()
		o.words.add()
		o.states.add()
		if o.upd {
			o.prev.add()
		}
	}
	s := o.sess(i)
	*s = session{start: t, last: t, key: int32(k), next: -1, flags: sessOpen}
	ss := o.states.at(i)
	o.lay.init(ss)
	o.bytes += sessionBytes + o.lay.groupBytes(ss)
	if o.upd {
		o.bytes += int64(32 * (o.width - o.nk - 1))
	}
	o.open++
	// Append to the key's list: sessions stay in opening order.
	h := &o.head.at(k)[0]
	if *h < 0 {
		*h = int32(i)
		return i
	}
	p := o.sess(int(*h))
	for p.next >= 0 {
		p = o.sess(int(p.next))
	}
	p.next = int32(i)
	return i
}

// unlink takes session i out of its key's list and frees it; it frees
// the key too when that was its last session.
func (o *sessionOp) unlink(i int) {
	s := o.sess(i)
	k := int(s.key)
	h := &o.head.at(k)[0]
	if int(*h) == i {
		*h = s.next
	} else {
		for p := o.sess(int(*h)); p.next >= 0; p = o.sess(int(p.next)) {
			if int(p.next) == i {
				p.next = s.next
				break
			}
		}
	}
	if *h < 0 {
		if o.track && o.ckKey[k]&keyCkSaved != 0 {
			o.ckGone.add(o.byKey.key(k), o.byKey.len()-1)
		}
		o.ckKey[k] = 0 // a stale ckDirty entry is skipped
		o.bytes -= 16 + 4 + keyBytes(o.byKey.key(k))
		o.byKey.remove(k)
	} else {
		o.markKey(k)
	}
	ss := o.states.at(i)
	o.bytes -= sessionBytes + o.lay.groupBytes(ss)
	if o.upd {
		o.bytes -= int64(32 * (o.width - o.nk - 1))
		clear(o.prev.at(i))
	}
	clear(ss)
	*s = session{next: -1}
	o.free = append(o.free, int32(i))
	o.open--
}

func (o *sessionOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	return o.OnSelected(c, nil, nil, out)
}

// OnSelected applies the rows of c listed in rows (every row when rows is
// nil), taking their keys and key hashes from r when it is not nil.
func (o *sessionOp) OnSelected(c *chunk.Chunk, rows []int32, r *routed, out *emitter) error {
	tc := o.n.Window.TimeCol
	for x := range selLen(c, rows) {
		i := selRow(rows, x)
		row := c.Row(i)
		t := eventTime(row[tc])
		if t == chunk.NoTime {
			continue
		}
		if o.wm != math.MinInt64 && t < o.wm-o.n.Lateness {
			// Behind the watermark (minus the grace): any session the row
			// could have joined or bridged may already be emitted.
			o.late.record(row, t, o.wm)
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
		k := o.byKey.find(h, key)
		hits := o.hits[:0]
		if k >= 0 {
			for x := int(o.head.at(k)[0]); x >= 0; x = int(o.sess(x).next) {
				s := o.sess(x)
				if t >= s.start-o.gap && t < s.last+o.gap && t < o.end(s)+o.gap {
					hits = append(hits, x)
				}
			}
		}
		// Keep the longest prefix of hits that fits the maximum duration.
		lo, hi := t, t
		n := 0
		for _, x := range hits {
			s := o.sess(x)
			nlo, nhi := min(lo, s.start), max(hi, s.last)
			if !o.fits(nlo, nhi) {
				break
			}
			lo, hi = nlo, nhi
			n++
		}
		hits = hits[:n]
		op := c.Ops[i]
		if len(hits) == 0 {
			if op == chunk.Delete {
				o.hits = hits
				continue // retraction of a row whose session is gone
			}
			if k < 0 {
				k = o.addKey(h, key)
			}
			hits = append(hits, o.newSession(k, t))
		}
		o.hits = hits
		x := hits[0]
		end0 := int64(math.MaxInt64) // a new session gets its first entry
		if n > 0 {
			end0 = o.end(o.sess(x))
		}
		w, ss := o.words.at(x), o.states.at(x)
		for _, y := range hits[1:] {
			if err := o.lay.merge(w, ss, o.words.at(y), o.states.at(y)); err != nil {
				return err
			}
			s, other := o.sess(x), o.sess(y)
			s.start = min(s.start, other.start)
			s.last = max(s.last, other.last)
			o.kill(y)
		}
		if err := o.lay.update(w, ss, row, op, t); err != nil {
			return err
		}
		s := o.sess(x)
		s.start = min(s.start, t)
		s.last = max(s.last, t)
		if e := o.end(s); e < end0 {
			o.ends.push(e, int32(x))
		}
		if o.upd && s.flags&groupDirty == 0 {
			s.flags |= groupDirty
			o.dirty = append(o.dirty, x)
		}
		o.markKey(k)
	}
	if len(o.dirty) >= maxDirty {
		o.emitUpdates(out)
	}
	o.publish()
	return nil
}

// FlushBatch emits the updates gathered since the last flush.
func (o *sessionOp) FlushBatch(out *emitter) error {
	o.emitUpdates(out)
	return nil
}

// kill frees a session merged into another; on update, the row it last
// emitted is retracted by the next emitUpdates.
func (o *sessionOp) kill(i int) {
	if o.upd && o.sess(i).flags&groupEmitted != 0 {
		o.retired = append(o.retired, o.prevRow(i)...)
	}
	o.unlink(i)
}

// output appends the output row of session i.
func (o *sessionOp) output(out *emitter, op chunk.Op, i int) types.Row {
	s := o.sess(i)
	end := o.end(s)
	row := out.row(op, end-1)
	copy(row, o.byKey.key(int(s.key)))
	row[o.nk] = types.Value{K: o.kind, I: s.start}
	row[o.nk+1] = types.Value{K: o.kind, I: end}
	row[o.nk+2] = types.Value{K: o.kind, I: end - 1}
	o.lay.results(row[o.nk+3:], o.words.at(i), o.states.at(i))
	return row
}

// fillPrev writes the row session i last emitted to row.
func (o *sessionOp) fillPrev(row types.Row, i int) {
	prev := o.prev.at(i)
	copy(row, o.byKey.key(int(o.sess(i).key)))
	row[o.nk], row[o.nk+1] = prev[0], prev[1]
	row[o.nk+2] = types.Value{K: o.kind, I: prev[1].I - 1}
	copy(row[o.nk+3:], prev[2:])
}

// prevRow returns a new copy of the row session i last emitted.
func (o *sessionOp) prevRow(i int) types.Row {
	row := make(types.Row, o.width)
	o.fillPrev(row, i)
	return row
}

func (o *sessionOp) emitUpdates(out *emitter) {
	for r := o.retired; len(r) > 0; r = r[o.width:] {
		row := r[:o.width]
		out.append(chunk.Delete, row[o.nk+2].I, row)
	}
	clear(o.retired)
	o.retired = o.retired[:0]
	for _, i := range o.dirty {
		s := o.sess(i)
		if s.flags&groupDirty == 0 {
			continue // merged away (and maybe reused) since it was changed
		}
		s.flags &^= groupDirty
		prev := o.prev.at(i)
		if s.flags&groupEmitted != 0 {
			row := out.row(chunk.Delete, prev[1].I-1)
			o.fillPrev(row, i)
			s.flags &^= groupEmitted
		}
		if o.words.at(i)[0] > 0 {
			row := o.output(out, chunk.Insert, i)
			prev[0], prev[1] = row[o.nk], row[o.nk+1]
			copy(prev[2:], row[o.nk+3:])
			s.flags |= groupEmitted
		}
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
}

func (o *sessionOp) OnWatermark(wm int64, out *emitter) (int64, error) {
	o.emitUpdates(out)
	o.wm = wm
	for len(o.ends) > 0 {
		it := o.ends[0]
		if it.at+o.n.Lateness > wm {
			break
		}
		o.ends.pop()
		i := int(it.v)
		s := o.sess(i)
		if s.flags&sessOpen == 0 {
			continue // the session was merged away or closed
		}
		if e := o.end(s); e > it.at {
			o.ends.push(e, it.v) // the session grew: wait for its end
			continue
		}
		if !o.upd && o.words.at(i)[0] > 0 {
			o.output(out, chunk.Insert, i)
			if err := out.maybeFlush(); err != nil {
				return 0, err
			}
		}
		o.unlink(i)
	}
	if o.ss.n >= compactMin && int(o.open)*4 < o.ss.n {
		// Key ids move: the next capture is a base, and the keys removed
		// since the last one need not be listed.
		o.ckMoved = o.ckMoved || o.track
		o.ckGone.reset()
		if err := compact(o); err != nil {
			return 0, err
		}
	}
	o.publish()
	return satSub(wm, o.n.Lateness), nil
}

// compactMin is the slab size (groups or sessions) below which an operator
// never compacts.
const compactMin = 4096

// compact rebuilds an operator's slabs and key index around its live
// groups or sessions, by a snapshot and a restore, when most of what it
// had allocated was freed: freed slots are reused but never returned, so
// without it a burst of keys would hold its memory for good. It runs when
// nothing is dirty (after the emits of a watermark or barrier).
func compact(o snapshotter) error {
	b, err := o.Snapshot()
	if err != nil {
		return fmt.Errorf("compact operator state: %w", err)
	}
	if err := o.Restore(b); err != nil {
		return fmt.Errorf("compact operator state: %w", err)
	}
	return nil
}

func (o *sessionOp) OnBarrier(_ uint64, out *emitter) error {
	o.emitUpdates(out)
	return nil
}

func (o *sessionOp) publish() {
	o.stats.openWindows.Store(o.open)
	// Heap entries beyond one per session are stale ones not popped yet.
	o.stats.stateBytes.Store(max(o.bytes, 0) + int64(max(len(o.ends)-int(o.open), 0))*16)
}

// endHeap orders sessions (their indexes) by end; entries go stale when a
// session grows, merges or closes, and are skipped when popped.
type endHeap = dueHeap[int32]

func (o *sessionOp) lateRec() *lateRecorder { return &o.late }
