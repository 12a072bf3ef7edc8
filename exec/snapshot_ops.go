package exec

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/sluice-db/sluice/sql/types"
)

// snapshotter is implemented by operators with state that a checkpoint
// must keep. Snapshot is called on the operator's goroutine at a barrier,
// when no chunk is half processed; Restore before the job's goroutines
// start. The bytes returned by Snapshot are the caller's.
type snapshotter interface {
	Snapshot() ([]byte, error)
	Restore(b []byte) error
}

// incSnapshotter is implemented by operators whose state is checkpointed
// incrementally, as views are: a base (SnapshotBase) and then, at each
// checkpoint, the changes since the previous one (SnapshotDelta), until
// the deltas outweigh the state and a new base replaces them. A restore
// applies the base (Restore) and the deltas in order (RestoreDelta).
// Every method runs on the operator's goroutine (Restore* before it
// starts). A checkpoint then costs in proportion to what changed, not to
// the state: a GROUP BY over a million keys does not encode all of them
// every second.
type incSnapshotter interface {
	snapshotter
	// startTracking makes the operator keep its changes from now on.
	startTracking()
	SnapshotBase() ([]byte, error)
	// SnapshotDelta returns the changes since the last capture: how many
	// entries it holds, and how many entries of earlier parts it replaces
	// or removes.
	SnapshotDelta() (b []byte, changes, superseded int, err error)
	RestoreDelta(b []byte) error
	// stateLen is the number of entries the state holds; needBase says
	// that the next capture must be a base.
	stateLen() int
	needBase() bool
}

// baseLater is implemented by incremental operators that can take a base
// at the barrier as a copy of their state and leave its encoding to the
// job's checkpoint writer: write encodes the copy to w (on the writer's
// goroutine, possibly again after a failed save). For a large state the
// encoding is most of what a base costs, and the operator's goroutine is
// the pipeline's. ok false: the state cannot be copied (an accumulator
// that cannot be merged into a new one) and nothing changed; take
// SnapshotBase. Like SnapshotBase it starts the changes again from none.
type baseLater interface {
	snapshotBaseLater() (write func(w io.Writer) error, ok bool)
}

// encodeLater returns the write function of a base copied for the writer
// (baseLater): encode encodes the copy into e, writing e's bytes to w in
// pieces on the way (snapEnc.spill); the rest goes out at the end.
//
// The base's size per entry (n of them) goes to s, which sizes the deltas
// encoded after it: without it the first delta after a base grew its
// buffer from a guess, copying it a dozen times (a churning GROUP BY's
// deltas hold every group).
func encodeLater(encode func(e *snapEnc, w io.Writer) error, s *encSizer, n int) func(io.Writer) error {
	return func(w io.Writer) error {
		cw := &countWriter{w: w}
		e := &snapEnc{b: make([]byte, 0, viewChunk+viewChunk/4)}
		if err := encode(e, cw); err != nil {
			return err
		}
		if _, err := cw.Write(e.b); err != nil {
			return err
		}
		s.note(int(cw.n), n)
		return nil
	}
}

var (
	_ baseLater = (*windowAggOp)(nil)
	_ baseLater = (*sessionOp)(nil)
	_ baseLater = (*groupAggOp)(nil)
)

// wmRestorer is implemented by operators that judge rows by the last
// watermark they were given (dedup, top-N and a GROUP BY with a window
// key free a window's keys once it passed, and a later row of it is late)
// but do not keep it in their snapshot: a restore gives it back, from the
// node's restored input watermark, which is the one they were last given
// (node.advance). Without it a restored operator took such a row as the
// first of a new key until a higher watermark came.
type wmRestorer interface {
	restoreWatermark(wm int64)
}

var (
	_ wmRestorer = (*dedupOp)(nil)
	_ wmRestorer = (*topNOp)(nil)
	_ wmRestorer = (*groupAggOp)(nil)
)

func (o *dedupOp) restoreWatermark(wm int64)    { o.wm = wm }
func (o *topNOp) restoreWatermark(wm int64)     { o.wm = wm }
func (o *groupAggOp) restoreWatermark(wm int64) { o.wm = wm }

// Every stateful operator is checkpointed incrementally; a new one should
// be too (a state snapshotted whole costs in proportion to its size at
// every checkpoint, which stops a query once the state is large).
var (
	_ incSnapshotter = (*windowAggOp)(nil)
	_ incSnapshotter = (*sessionOp)(nil)
	_ incSnapshotter = (*groupAggOp)(nil)
	_ incSnapshotter = (*topNOp)(nil)
	_ incSnapshotter = (*dedupOp)(nil)
	_ incSnapshotter = (*intervalJoinOp)(nil)
	_ incSnapshotter = (*streamJoinOp)(nil)
	_ incSnapshotter = (*windowJoinOp)(nil)
)

// The version bytes that start the window and session snapshots: a
// checkpoint of another layout fails to restore instead of misreading.
const (
	snapWindowVersion       = 4
	snapSessionVersion      = 5
	snapSessionDeltaVersion = 2
)

// errSnapshotVersion reports an operator snapshot of another layout.
func errSnapshotVersion(got, want uint64) error {
	return fmt.Errorf("%w: operator snapshot version %d, want %d", errSnapshotCorrupt, got, want)
}

// version reads the version a snapshot or delta starts with: want, or the
// one before it, whose layout every decoder of these versions still reads
// (prevNone and prevRow are the bytes of the bool it wrote). Anything
// else is errSnapshotVersion; an empty input is left to done.
func (d *snapDec) version(want uint64) error {
	if v := d.uvarint(); d.err == nil && v != want && v != want-1 {
		return errSnapshotVersion(v, want)
	}
	return nil
}

// Snapshot encodes the open windows (or hop panes) and their groups: per
// group its key, accumulators and, on update, the row last emitted.
func (o *windowAggOp) Snapshot() ([]byte, error) {
	n := o.stateLen()
	e := o.enc.encoder(n)
	if err := o.encodeState(e, nil); err != nil {
		return nil, err
	}
	o.enc.note(len(e.b), n)
	return e.b, nil
}

// encodeState encodes the tables into e (see Snapshot); with w, it writes
// what e holds to w in pieces on the way (e.spill) and the caller writes
// the rest.
func (o *windowAggOp) encodeState(e *snapEnc, w io.Writer) error {
	e.uvarint(snapWindowVersion)
	e.varint(o.wm)
	e.varint(o.nextEnd)
	e.uvarint(uint64(len(o.order)))
	for _, k := range o.order {
		t := o.tables[k]
		e.varint(t.key)
		e.varint(t.start)
		e.varint(t.end)
		e.uvarint(uint64(t.groups()))
		for id := range t.groups() {
			err := o.encodeGroup(e, t, id)
			if err == nil {
				err = e.spill(w)
			}
			if err != nil {
				return fmt.Errorf("snapshot window aggregate: %w", err)
			}
		}
	}
	return nil
}

func (o *windowAggOp) encodeGroup(e *snapEnc, t *winTable, id int) error {
	e.row(t.idx.key(id))
	if err := o.lay.encode(e, t.words.at(id), t.states.at(id)); err != nil {
		return err
	}
	if o.upd {
		emitted := prevKind(t.flags[id], o.lay)
		e.b = append(e.b, emitted)
		if emitted == prevRow {
			e.row(t.prev.at(id))
		}
	}
	return nil
}

// snapWindowDeltaVersion starts a window aggregate delta (SnapshotDelta).
const snapWindowDeltaVersion = 2

// Window state is checkpointed incrementally too: a window of an hour over
// a million keys is not re-encoded every second.

func (o *windowAggOp) startTracking() { o.track = true }
func (o *windowAggOp) needBase() bool { return false } // group ids never move

func (o *windowAggOp) stateLen() int {
	n := 0
	for _, t := range o.tables {
		n += t.groups()
	}
	return n
}

// resetTracking forgets the changes recorded so far (they are saved).
func (o *windowAggOp) resetTracking() {
	for _, t := range o.ckTables {
		clear(t.ckBit)
		t.ck, t.ckTouched = t.ck[:0], false
	}
	clear(o.ckTables)
	o.ckTables, o.ckDropped, o.ckDroppedGroups = o.ckTables[:0], nil, 0
	o.ckWM, o.ckNext = o.wm, o.nextEnd
}

// SnapshotBase is Snapshot, after which every table counts as saved and
// the changes start again from none.
func (o *windowAggOp) SnapshotBase() ([]byte, error) {
	b, err := o.Snapshot()
	if err != nil {
		return nil, err
	}
	o.resetTracking()
	for _, t := range o.tables {
		t.ckIn, t.ckSaved = true, t.groups()
	}
	return b, nil
}

// snapshotBaseLater is SnapshotBase with the encoding left to the
// checkpoint writer (baseLater), as the sessions' is: it copies every
// table.
func (o *windowAggOp) snapshotBaseLater() (func(io.Writer) error, bool) {
	f := &windowAggOp{lay: o.lay, upd: o.upd, wm: o.wm, nextEnd: o.nextEnd, order: slices.Clone(o.order),
		tables: make(map[int64]*winTable, len(o.tables))}
	for _, k := range o.order {
		t := o.tables[k]
		states, err := o.lay.cloneStates(&t.states)
		if err != nil {
			return nil, false
		}
		f.tables[k] = &winTable{start: t.start, end: t.end, key: t.key, idx: t.idx.clone(), words: t.words.clone(),
			states: states, flags: slices.Clone(t.flags)}
		if len(o.dirty) > 0 || !o.lay.pure() {
			f.tables[k].prev = t.prev.clone() // else never read, as for a GROUP BY
		}
	}
	o.resetTracking()
	for _, t := range o.tables {
		t.ckIn, t.ckSaved = true, t.groups()
	}
	return encodeLater(f.encodeState, &o.enc, o.stateLen()), true
}

// SnapshotDelta encodes the watermark and the next window end, the keys of
// the saved tables dropped since the last capture, and per table changed
// since, its bounds and its changed groups (new ones in id order, as a
// restore adds them). superseded counts the groups of earlier parts these
// replace or drop. With nothing changed, not even the watermark, it
// encodes nothing (changes is 0).
func (o *windowAggOp) SnapshotDelta() (b []byte, changes, superseded int, err error) {
	n, live := 0, 0 // changed groups, tables holding them
	for _, t := range o.ckTables {
		if !t.dropped {
			n += len(t.ck)
			live++
		}
	}
	if n == 0 && len(o.ckDropped) == 0 && o.wm == o.ckWM && o.nextEnd == o.ckNext {
		o.resetTracking()
		return nil, 0, 0, nil
	}
	e := o.enc.encoder(n)
	e.uvarint(snapWindowDeltaVersion)
	e.varint(o.wm)
	e.varint(o.nextEnd)
	e.uvarint(uint64(len(o.ckDropped)))
	for _, k := range o.ckDropped {
		e.varint(k)
	}
	superseded = o.ckDroppedGroups
	e.uvarint(uint64(live))
	for _, t := range o.ckTables {
		if t.dropped {
			continue
		}
		e.varint(t.key)
		e.varint(t.start)
		e.varint(t.end)
		t.ck = ascending(t.ck, t.groups())
		e.uvarint(uint64(len(t.ck)))
		for _, id := range t.ck {
			if int(id) < t.ckSaved {
				superseded++
			}
			if err := o.encodeGroup(e, t, int(id)); err != nil {
				return nil, 0, 0, fmt.Errorf("snapshot window aggregate: %w", err)
			}
		}
		t.ckIn, t.ckSaved = true, t.groups()
	}
	changes = 1 + len(o.ckDropped) + n // the header counts: the watermark moved
	o.enc.note(len(e.b), n)
	o.resetTracking()
	return e.b, changes, superseded, nil
}

// RestoreDelta applies a delta written by SnapshotDelta.
func (o *windowAggOp) RestoreDelta(b []byte) error {
	d := &snapDec{b: b}
	if err := d.version(snapWindowDeltaVersion); err != nil {
		return fmt.Errorf("restore window aggregate delta: %w", err)
	}
	o.wm = d.varint()
	o.nextEnd = d.varint()
	nd := d.count(1)
	for range nd {
		k := d.varint()
		if d.err != nil {
			break
		}
		if t := o.tables[k]; t != nil {
			o.free(t)
			delete(o.tables, k)
			i, _ := slices.BinarySearch(o.order, k)
			o.order = slices.Delete(o.order, i, i+1)
		}
	}
	o.decodeTables(d, true)
	if err := d.done(); err != nil {
		return fmt.Errorf("restore window aggregate delta: %w", err)
	}
	o.publishStats()
	return nil
}

// groupKey reads a group key of nk values; it reports false (with d.err
// set) when it cannot.
func (d *snapDec) groupKey(nk int) (types.Row, bool) {
	k := d.row()
	if d.err != nil {
		return nil, false
	}
	if len(k) != nk {
		d.err = fmt.Errorf("%w: group key of %d values, want %d", errSnapshotCorrupt, len(k), nk)
		return nil, false
	}
	return k, true
}

// decodeTables reads tables as Snapshot and SnapshotDelta write them and
// adds their groups; with replace (a delta) a group already held is
// overwritten, else a key met twice in a table is an error.
func (o *windowAggOp) decodeTables(d *snapDec, replace bool) {
	nt := d.count(4)
	for range nt {
		key, start, end := d.varint(), d.varint(), d.varint()
		ng := d.count(2)
		if d.err != nil {
			return
		}
		if !replace {
			o.lastSize = ng
		}
		t := o.table(key, start, end)
		for range ng {
			if !o.decodeGroup(d, t, replace) {
				return
			}
		}
	}
}

// decodeGroup reads one group as encodeGroup wrote it into t; it reports
// false on an error (in d.err).
func (o *windowAggOp) decodeGroup(d *snapDec, t *winTable, replace bool) bool {
	k, ok := d.groupKey(o.nk)
	if !ok {
		return false
	}
	h := hashRow(k)
	if o.drops(h) {
		o.lay.skip(d)
		if o.upd {
			d.skipPrev()
		}
		return d.err == nil
	}
	id, added := t.idx.lookup(h, k)
	switch {
	case added:
		o.newGroup(t, id)
	case !replace:
		d.err = fmt.Errorf("%w: group key %v twice", errSnapshotCorrupt, k)
		return false
	default:
		ss := t.states.at(id)
		clear(ss)
		o.lay.init(ss)
		if o.upd {
			t.flags[id] &^= groupEmitted
			clear(t.prev.at(id))
		}
	}
	o.lay.decode(d, t.words.at(id), t.states.at(id))
	if !o.upd {
		return d.err == nil
	}
	if emitted, _ := d.prev(o.lay, t.prev.at(id), 0, t.words.at(id), t.states.at(id)); emitted {
		t.flags[id] |= groupEmitted
	}
	return d.err == nil
}

// Restore replaces the operator's windows with a snapshot's.
func (o *windowAggOp) Restore(b []byte) error { return o.restoreFrom(b, true) }

// restoreMore adds a snapshot's groups to those held (rescaler).
func (o *windowAggOp) restoreMore(b []byte) error { return o.restoreFrom(b, false) }

func (o *windowAggOp) restoreFrom(b []byte, reset bool) error {
	d := &snapDec{b: b}
	if err := d.version(snapWindowVersion); err != nil {
		return fmt.Errorf("restore window aggregate: %w", err)
	}
	o.wm = d.varint()
	o.nextEnd = d.varint()
	if reset {
		o.tables = map[int64]*winTable{}
		o.order = nil
		o.dirty = o.dirty[:0]
		o.bytes = 0
	}
	o.decodeTables(d, false)
	if err := d.done(); err != nil {
		return fmt.Errorf("restore window aggregate: %w", err)
	}
	o.publishStats()
	return nil
}

// Snapshot encodes every open session, key by key.
func (o *sessionOp) Snapshot() ([]byte, error) { return o.snapshot(false) }

// snapshot is Snapshot; with saved, every key is marked as saved and
// unchanged on the way (SnapshotBase).
func (o *sessionOp) snapshot(saved bool) ([]byte, error) {
	e := o.enc.encoder(o.byKey.len())
	if err := o.encodeState(e, nil, saved); err != nil {
		return nil, err
	}
	o.enc.note(len(e.b), o.byKey.len())
	return e.b, nil
}

// encodeState encodes every open session into e (see Snapshot); with w,
// it writes what e holds to w in pieces on the way (e.spill) and the
// caller writes the rest.
func (o *sessionOp) encodeState(e *snapEnc, w io.Writer, saved bool) error {
	e.uvarint(snapSessionVersion)
	e.varint(o.wm)
	e.uvarint(uint64(o.byKey.len()))
	var err error
	o.byKey.each(func(k int) {
		if err == nil {
			err = o.encodeKey(e, k)
		}
		if err == nil {
			err = e.spill(w)
		}
		if saved {
			o.ckKey[k] = keyCkSaved
		}
	})
	if err != nil {
		return fmt.Errorf("snapshot session aggregate: %w", err)
	}
	return nil
}

// encodeKey encodes key k and its open sessions in opening order.
func (o *sessionOp) encodeKey(e *snapEnc, k int) error {
	e.row(o.byKey.key(k))
	n := 0
	for i := int(o.head.at(k)[0]); i >= 0; i = int(o.sess(i).next) {
		n++
	}
	e.uvarint(uint64(n))
	for i := int(o.head.at(k)[0]); i >= 0; i = int(o.sess(i).next) {
		s := o.sess(i)
		e.varint(s.start)
		e.varint(s.last)
		if err := o.lay.encode(e, o.words.at(i), o.states.at(i)); err != nil {
			return err
		}
		if o.upd {
			kind := prevKind(s.flags, o.lay)
			e.b = append(e.b, kind)
			if kind == prevRow {
				e.row(o.prev.at(i))
			}
		}
	}
	return nil
}

// Restore replaces the open sessions with a snapshot's.
func (o *sessionOp) Restore(b []byte) error { return o.restoreFrom(b, true) }

// restoreMore adds a snapshot's sessions to those held (rescaler).
func (o *sessionOp) restoreMore(b []byte) error { return o.restoreFrom(b, false) }

func (o *sessionOp) restoreFrom(b []byte, reset bool) error {
	d := &snapDec{b: b}
	if err := d.version(snapSessionVersion); err != nil {
		return fmt.Errorf("restore session aggregate: %w", err)
	}
	o.wm = d.varint()
	if reset {
		o.reset()
	}
	nk := d.count(2)
	for range nk {
		if !o.decodeKey(d, false) {
			break
		}
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("restore session aggregate: %w", err)
	}
	o.ends.init()
	o.publish()
	return nil
}

// decodeKey reads a key and its sessions as encodeKey wrote them and adds
// them, each with an end-heap entry (the caller re-heapifies); with
// replace, the sessions of a key already there are dropped first (a
// delta), else that is an error (a snapshot lists each key once). It
// reports false on an error (in d.err).
func (o *sessionOp) decodeKey(d *snapDec, replace bool) bool {
	key := d.row()
	ns := d.count(4)
	if d.err != nil {
		return false
	}
	if len(key) != o.nk || ns == 0 {
		d.err = fmt.Errorf("%w: session key of %d values with %d sessions", errSnapshotCorrupt, len(key), ns)
		return false
	}
	h := hashRow(key)
	if o.drops(h) {
		for range ns {
			d.varint() // start
			d.varint() // last
			o.lay.skip(d)
			if o.upd {
				d.skipPrev()
			}
		}
		return d.err == nil
	}
	if k := o.byKey.find(h, key); k >= 0 {
		if !replace {
			d.err = fmt.Errorf("%w: session key %v twice", errSnapshotCorrupt, key)
			return false
		}
		o.dropKey(k)
	}
	k := o.addKey(h, key)
	for range ns {
		start, last := d.varint(), d.varint()
		i := o.newSession(k, start)
		s := o.sess(i)
		s.last = last
		o.lay.decode(d, o.words.at(i), o.states.at(i))
		if o.upd {
			prev := o.prev.at(i)
			emitted, current := d.prev(o.lay, prev, 2, o.words.at(i), o.states.at(i))
			if current { // the row it emitted: its bounds, then its results
				prev[0], prev[1] = types.Value{K: o.kind, I: s.start}, types.Value{K: o.kind, I: o.end(s)}
			}
			if emitted {
				s.flags |= groupEmitted
			}
		}
		if d.err != nil {
			return false
		}
		o.ends = append(o.ends, dueItem[int32]{at: o.end(s), v: int32(i)})
	}
	return true
}

// dropKey frees every session of key k, and so the key, without counting
// it as a change (a restore).
func (o *sessionOp) dropKey(k int) {
	track := o.track
	o.track = false
	for {
		i := o.head.at(k)[0]
		if i < 0 {
			break
		}
		o.unlink(int(i))
	}
	o.track = track
}

// Sessions are checkpointed incrementally too (incSnapshotter): per key
// with all its sessions, so that a sessionization over a million users
// does not encode all of them every second.

func (o *sessionOp) startTracking() { o.track = true }
func (o *sessionOp) stateLen() int  { return o.byKey.len() }
func (o *sessionOp) needBase() bool { return o.ckMoved || o.ckGone.over }

// SnapshotBase is Snapshot, after which every key counts as saved and the
// changes start again from none.
func (o *sessionOp) SnapshotBase() ([]byte, error) {
	b, err := o.snapshot(true)
	if err != nil {
		return nil, err
	}
	o.captured()
	return b, nil
}

// captured starts the changes again from none after a capture (a base or
// a delta).
func (o *sessionOp) captured() {
	o.ckDirty, o.ckMoved = o.ckDirty[:0], false
	o.ckGone.reset()
}

// snapshotBaseLater is SnapshotBase with the encoding left to the
// checkpoint writer (baseLater): it copies the sessions, their keys and
// accumulators, which costs a memory copy of the state (and a new object
// per accState) instead of an encoding of it on the operator's goroutine.
func (o *sessionOp) snapshotBaseLater() (func(io.Writer) error, bool) {
	states, err := o.lay.cloneStates(&o.states)
	if err != nil {
		return nil, false
	}
	f := &sessionOp{lay: o.lay, upd: o.upd, nk: o.nk, wm: o.wm, byKey: o.byKey.clone(),
		head: o.head.clone(), ss: o.ss.clone(), words: o.words.clone(), states: states, prev: o.prev.clone()}
	o.byKey.each(func(k int) { o.ckKey[k] = keyCkSaved })
	o.captured()
	return encodeLater(func(e *snapEnc, w io.Writer) error { return f.encodeState(e, w, false) }, &o.enc, f.byKey.len()), true
}

// SnapshotDelta encodes the watermark, the saved keys whose sessions all
// closed since the last capture, then every key changed since with all
// its open sessions (as Snapshot does); superseded counts the entries of
// earlier parts these replace.
func (o *sessionOp) SnapshotDelta() (b []byte, changes, superseded int, err error) {
	if o.needBase() {
		return nil, 0, 0, fmt.Errorf("snapshot session aggregate: %w", errBaseDue)
	}
	e := o.enc.encoder(len(o.ckDirty) + o.ckGone.len())
	e.uvarint(snapSessionDeltaVersion)
	e.varint(o.wm)
	e.uvarint(uint64(o.ckGone.len()))
	for i := range o.ckGone.len() {
		e.row(o.ckGone.key(i))
	}
	superseded = 2 * o.ckGone.len()
	ids := o.ckDirty[:0]
	for _, k := range ascending(o.ckDirty, o.byKey.ids()) {
		if o.ckKey[k]&keyCkDirty != 0 {
			o.ckKey[k] &^= keyCkDirty
			ids = append(ids, k)
		}
	}
	e.uvarint(uint64(len(ids)))
	for _, k := range ids {
		if o.ckKey[k]&keyCkSaved != 0 {
			superseded++
		}
		o.ckKey[k] |= keyCkSaved
		if err := o.encodeKey(e, int(k)); err != nil {
			return nil, 0, 0, fmt.Errorf("snapshot session aggregate: %w", err)
		}
	}
	changes = o.ckGone.len() + len(ids)
	o.enc.note(len(e.b), changes)
	o.captured()
	return e.b, changes, superseded, nil
}

// RestoreDelta applies a delta written by SnapshotDelta to the sessions.
func (o *sessionOp) RestoreDelta(b []byte) error {
	d := &snapDec{b: b}
	if err := d.version(snapSessionDeltaVersion); err != nil {
		return fmt.Errorf("restore session aggregate delta: %w", err)
	}
	o.wm = d.varint()
	gone := d.count(1)
	for range gone {
		key := d.row()
		if d.err != nil {
			break
		}
		if k := o.byKey.find(hashRow(key), key); k >= 0 {
			o.dropKey(k)
		}
	}
	n := d.count(2)
	for range n {
		if !o.decodeKey(d, true) {
			break
		}
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("restore session aggregate delta: %w", err)
	}
	o.ends.init()
	o.publish()
	return nil
}

// snapGroupVersion starts the group aggregate snapshot;
// snapGroupDeltaVersion a delta of one (SnapshotDelta).
const (
	snapGroupVersion      = 3
	snapGroupDeltaVersion = 2
)

// Snapshot encodes the groups: per group its key, accumulators, the time
// of its last row, the results last emitted and (with a TTL) its last
// update time.
func (o *groupAggOp) Snapshot() ([]byte, error) { return o.snapshot(false) }

// snapshot is Snapshot; with saved, every group is marked as saved and
// unchanged on the way (SnapshotBase).
func (o *groupAggOp) snapshot(saved bool) ([]byte, error) {
	e := o.enc.encoder(o.m.len())
	if err := o.encodeState(e, nil, saved); err != nil {
		return nil, err
	}
	o.enc.note(len(e.b), o.m.len())
	return e.b, nil
}

// encodeState encodes every group into e (see Snapshot); with w, it
// writes what e holds to w in pieces on the way (e.spill) and the caller
// writes the rest.
func (o *groupAggOp) encodeState(e *snapEnc, w io.Writer, saved bool) error {
	e.uvarint(snapGroupVersion)
	e.uvarint(uint64(o.m.len()))
	var err error
	o.m.each(func(id int) {
		if err == nil {
			err = o.encodeGroup(e, id)
		}
		if err == nil {
			err = e.spill(w)
		}
		if saved {
			g := o.grp(id)
			g.flags = g.flags&^groupCkDirty | groupCkSaved
		}
	})
	if err != nil {
		return fmt.Errorf("snapshot group aggregate: %w", err)
	}
	return nil
}

func (o *groupAggOp) encodeGroup(e *snapEnc, id int) error {
	g := o.grp(id)
	var last int64
	if o.last != nil {
		last = o.last[id]
	}
	kind := prevKind(g.flags, o.lay)
	var prev types.Row
	if kind == prevRow {
		prev = o.prev.at(id) // a base's copy holds prev only when one may (snapshotBaseLater)
	}
	return encGroup(e, o.lay, o.m.key(id), o.words.at(id), o.states.at(id), g.win, kind, prev, last)
}

// How a group's snapshot gives the results it last emitted: none (it did
// not emit), the row itself, or "the results of the accumulators" — a
// group not changed since it emitted, whose results are a pure function of
// its flat words (aggLayout.pure), does not repeat them: at a barrier
// every group has emitted (OnBarrier), so a checkpoint of a churning
// GROUP BY, or of an updating window, leaves out a row per group. Versions
// before snapGroupVersion 3 and snapGroupDeltaVersion 2 (snapWindowVersion
// 4 and snapWindowDeltaVersion 2, snapSessionVersion 5 and
// snapSessionDeltaVersion 2) wrote prevNone or prevRow only, as a bool.
const (
	prevNone byte = iota
	prevRow
	prevCurrent
)

// prevKind is how a group of these flags (groupEmitted, groupDirty) and
// layout gives its emitted results in a snapshot.
func prevKind(flags uint8, lay *aggLayout) byte {
	switch {
	case flags&groupEmitted == 0:
		return prevNone
	case flags&groupDirty == 0 && lay.pure():
		return prevCurrent
	}
	return prevRow
}

// skipPrev reads past what prevKind chose (a group this copy drops).
func (d *snapDec) skipPrev() {
	if d.byte() == prevRow {
		d.row()
	}
}

// prev reads what prevKind chose and fills prev with the emitted row: as
// written (prevRow), or for prevCurrent with the results of the
// accumulators w and ss from index off on (a session's row starts with
// its bounds, which the caller fills when current says so). emitted
// reports whether the group had emitted.
func (d *snapDec) prev(lay *aggLayout, prev types.Row, off int, w []int64, ss []accState) (emitted, current bool) {
	switch d.byte() {
	case prevNone:
	case prevRow:
		r := d.row()
		if d.err == nil && len(r) != len(prev) {
			d.err = fmt.Errorf("%w: emitted results of %d values, want %d", errSnapshotCorrupt, len(r), len(prev))
		}
		if d.err != nil {
			return false, false
		}
		copy(prev, r)
		return true, false
	case prevCurrent:
		if !lay.pure() {
			d.err = fmt.Errorf("%w: emitted results left out for aggregates that keep objects", errSnapshotCorrupt)
			return false, false
		}
		lay.results(prev[off:], w, ss)
		return true, true
	default:
		d.fail()
	}
	return false, false
}

// encGroup encodes one group: its key, accumulators, time, emitted row
// (as emitted says) and last update (0 without a TTL).
func encGroup(e *snapEnc, lay *aggLayout, key types.Row, w []int64, ss []accState, win int64, emitted byte, prev types.Row, last int64) error {
	e.row(key)
	if err := lay.encode(e, w, ss); err != nil {
		return err
	}
	e.varint(win)
	e.b = append(e.b, emitted)
	if emitted == prevRow {
		e.row(prev)
	}
	e.varint(last)
	return nil
}

// Restore replaces the groups with a snapshot's.
func (o *groupAggOp) Restore(b []byte) error { return o.restoreFrom(b, true) }

// restoreMore adds a snapshot's groups to those held (rescaler).
func (o *groupAggOp) restoreMore(b []byte) error { return o.restoreFrom(b, false) }

func (o *groupAggOp) restoreFrom(b []byte, reset bool) error {
	d := &snapDec{b: b}
	if err := d.version(snapGroupVersion); err != nil {
		return fmt.Errorf("restore group aggregate: %w", err)
	}
	n := d.count(4)
	if reset {
		o.reset(max(n, 64))
	}
	for range n {
		if !o.decodeGroup(d, false) {
			break
		}
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("restore group aggregate: %w", err)
	}
	o.stats.stateBytes.Store(o.bytes)
	return nil
}

// decodeGroup reads one group as encodeGroup wrote it and adds it; with
// replace, a group of the same key is replaced (a delta), else it is an
// error (a snapshot lists each key once). It reports false on an error
// (in d.err).
func (o *groupAggOp) decodeGroup(d *snapDec, replace bool) bool {
	key, ok := d.groupKey(o.nk)
	if !ok {
		return false
	}
	h := hashRow(key)
	if o.drops(h) {
		o.lay.skip(d)
		d.varint() // win
		d.skipPrev()
		d.varint() // last
		return d.err == nil
	}
	id := o.m.find(h, key)
	switch {
	case id >= 0 && !replace:
		d.err = fmt.Errorf("%w: group key %v twice", errSnapshotCorrupt, key)
		return false
	case id >= 0:
		// Replaced in place: the group keeps its id (and its entry in the
		// close index, which depends on the key only).
		ss := o.states.at(id)
		o.bytes -= stateSize(ss)
		clear(ss)
		o.lay.init(ss)
		o.bytes += stateSize(ss)
		clear(o.prev.at(id))
		g := o.grp(id)
		*g = aggGroup{gen: g.gen}
	default:
		id = o.newGroup(h, key)
	}
	ss := o.states.at(id)
	o.bytes -= stateSize(ss)
	o.lay.decode(d, o.words.at(id), ss)
	o.bytes += stateSize(ss)
	g := o.grp(id)
	g.win = d.varint()
	if emitted, _ := d.prev(o.lay, o.prev.at(id), 0, o.words.at(id), ss); emitted {
		g.flags |= groupEmitted
	}
	if last := d.varint(); o.last != nil {
		o.last[id] = last
	}
	return d.err == nil
}

// The group aggregate's state grows with its keys, not with open windows,
// so its checkpoints are incremental (incSnapshotter).

func (o *groupAggOp) startTracking() { o.track = true }
func (o *groupAggOp) stateLen() int  { return o.m.len() }
func (o *groupAggOp) needBase() bool { return o.ckMoved || o.ckGone.over }

// SnapshotBase is Snapshot, after which every group counts as saved and
// the changes start again from none.
func (o *groupAggOp) SnapshotBase() ([]byte, error) {
	b, err := o.snapshot(true)
	if err != nil {
		return nil, err
	}
	// Listed ids not visited were freed: their flags are clear already.
	o.captured()
	return b, nil
}

// captured starts the changes again from none after a capture (a base or
// a delta).
func (o *groupAggOp) captured() {
	clear(o.ckDirty)
	o.ckDirty, o.ckMoved = o.ckDirty[:0], false
	o.ckGone.reset()
}

// snapshotBaseLater is SnapshotBase with the encoding left to the
// checkpoint writer (baseLater), as the sessions' is.
func (o *groupAggOp) snapshotBaseLater() (func(io.Writer) error, bool) {
	states, err := o.lay.cloneStates(&o.states)
	if err != nil {
		return nil, false
	}
	f := &groupAggOp{lay: o.lay, nk: o.nk, m: o.m.clone(), g: o.g.clone(), words: o.words.clone(), states: states}
	if len(o.dirty) > 0 || !o.lay.pure() {
		// Else no group is encoded with its emitted row (prevKind): at a
		// barrier every group has emitted, and flat accumulators give the
		// results again. The copy of a million groups' rows was a third of
		// the base's.
		f.prev = o.prev.clone()
	}
	if o.last != nil {
		f.last = slices.Clone(o.last)
	}
	o.m.each(func(id int) {
		g := o.grp(id)
		g.flags = g.flags&^groupCkDirty | groupCkSaved
	})
	o.captured()
	return encodeLater(func(e *snapEnc, w io.Writer) error { return f.encodeState(e, w, false) }, &o.enc, f.m.len()), true
}

// changedGroups returns the groups changed since the last capture, each
// once and in id order, and leaves o.ckDirty listing just those: an id
// listed twice was freed and reused, one no longer marked was removed
// since. The caller clears their marks as it saves them (markSaved).
func (o *groupAggOp) changedGroups() []int {
	ids := o.ckDirty[:0]
	for _, id := range ascending(o.ckDirty, o.m.ids()) {
		if o.grp(id).flags&groupCkDirty != 0 {
			ids = append(ids, id)
		}
	}
	o.ckDirty = ids
	return ids
}

// markSaved marks a changed group as saved by the delta being taken, and
// reports whether an earlier part held it (the delta supersedes it).
func (g *aggGroup) markSaved() (superseded bool) {
	superseded = g.flags&groupCkSaved != 0
	g.flags = g.flags&^groupCkDirty | groupCkSaved
	return superseded
}

// SnapshotDelta encodes the keys of the saved groups removed since the
// last capture, then every group changed since (as Snapshot does);
// superseded counts the entries of earlier parts these replace.
func (o *groupAggOp) SnapshotDelta() (b []byte, changes, superseded int, err error) {
	if o.needBase() {
		return nil, 0, 0, fmt.Errorf("snapshot group aggregate: %w", errBaseDue)
	}
	e := o.enc.encoder(len(o.ckDirty) + o.ckGone.len())
	e.uvarint(snapGroupDeltaVersion)
	e.uvarint(uint64(o.ckGone.len()))
	for i := range o.ckGone.len() {
		e.row(o.ckGone.key(i))
	}
	superseded = 2 * o.ckGone.len()
	ids := o.changedGroups()
	live := len(ids)
	e.uvarint(uint64(live))
	for _, id := range ids {
		if o.grp(id).markSaved() {
			superseded++
		}
		if err := o.encodeGroup(e, id); err != nil {
			return nil, 0, 0, fmt.Errorf("snapshot group aggregate: %w", err)
		}
	}
	o.enc.note(len(e.b), o.ckGone.len()+live)
	changes = o.ckGone.len() + live
	o.captured()
	return e.b, changes, superseded, nil
}

// RestoreDelta applies a delta written by SnapshotDelta to the groups.
func (o *groupAggOp) RestoreDelta(b []byte) error {
	d := &snapDec{b: b}
	if err := d.version(snapGroupDeltaVersion); err != nil {
		return fmt.Errorf("restore group aggregate delta: %w", err)
	}
	gone := d.count(1)
	for range gone {
		key := d.row()
		if d.err != nil {
			break
		}
		if id := o.m.find(hashRow(key), key); id >= 0 {
			o.removeGroup(id, true)
		}
	}
	n := d.count(4)
	for range n {
		if !o.decodeGroup(d, true) {
			break
		}
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("restore group aggregate delta: %w", err)
	}
	o.stats.stateBytes.Store(o.bytes)
	return nil
}

func encTopEntries(e *snapEnc, es []topEntry) {
	e.uvarint(uint64(len(es)))
	for _, x := range es {
		e.row(x.row)
		e.row(x.sort)
		e.varint(x.t)
	}
}

func decTopEntries(d *snapDec) []topEntry {
	n := d.count(3)
	out := make([]topEntry, 0, n)
	for range n {
		x := topEntry{row: d.row(), sort: d.row(), t: d.varint()}
		if d.err != nil {
			return nil
		}
		out = append(out, x)
	}
	return out
}

// Snapshot encodes every partition's kept rows and emitted rows.
func (o *topNOp) Snapshot() ([]byte, error) { return o.snapshot(false) }

// snapshot is Snapshot; with saved, every partition is marked as saved and
// unchanged on the way (SnapshotBase).
func (o *topNOp) snapshot(saved bool) ([]byte, error) {
	e := o.enc.encoder(o.parts.len())
	e.uvarint(uint64(o.parts.len()))
	o.parts.eachByAddress(func(p *rowEntry[topPart]) {
		encTopPart(e, p)
		if saved {
			o.ck.saved(p)
		}
	})
	o.enc.note(len(e.b), o.parts.len())
	return e.b, nil
}

func encTopPart(e *snapEnc, p *rowEntry[topPart]) {
	e.row(p.key)
	e.varint(p.val.end)
	encTopEntries(e, p.val.rows)
	// Emitted rows are the first of rows or earlier versions of them:
	// store them by value.
	encTopEntries(e, p.val.out)
}

func (o *topNOp) Restore(b []byte) error {
	o.parts = newRowMap[topPart](64)
	o.byEnd = map[int64][]*rowEntry[topPart]{}
	o.bytes = 0
	o.ck.reset()
	return o.restoreMore(b)
}

// restoreMore adds a snapshot's partitions to those held (rescaler).
func (o *topNOp) restoreMore(b []byte) error {
	d := &snapDec{b: b}
	n := d.count(4)
	for range n {
		if !o.decodePart(d) {
			break
		}
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("restore top-n: %w", err)
	}
	o.publishStats()
	return nil
}

func (o *topNOp) publishStats() {
	o.stats.stateBytes.Store(max(o.bytes, 0))
	o.stats.openWindows.Store(int64(len(o.byEnd)))
}

// decodePart reads a partition as encTopPart wrote it and keeps it,
// replacing a partition of the same key (a delta). It reports false on an
// error (in d.err).
func (o *topNOp) decodePart(d *snapDec) bool {
	key := d.row()
	end := d.varint()
	rows, out := decTopEntries(d), decTopEntries(d)
	if d.err != nil {
		return false
	}
	h := hashRow(key)
	if o.drops(h) {
		return true // another copy's (rescale)
	}
	if p := o.parts.get(h, key); p != nil {
		o.dropPart(p)
	}
	p := o.parts.insert(h, key)
	p.val = topPart{rows: rows, out: out, end: end}
	if end != math.MaxInt64 {
		o.byEnd[end] = append(o.byEnd[end], p)
	}
	for _, x := range rows {
		o.bytes += int64(rowBytes(x.row) + rowBytes(x.sort))
	}
	return true
}

// dropPart frees partition p and its byEnd entry without counting it as
// a change (a restore).
func (o *topNOp) dropPart(p *rowEntry[topPart]) {
	if ps, ok := o.byEnd[p.val.end]; ok {
		ps = slices.DeleteFunc(ps, func(x *rowEntry[topPart]) bool { return x == p })
		if len(ps) == 0 {
			delete(o.byEnd, p.val.end)
		} else {
			o.byEnd[p.val.end] = ps
		}
	}
	o.ck.quietly(func() { o.removePart(p) })
}

// A top-N without a window keeps every partition it has seen, so its
// checkpoints are incremental (incSnapshotter).

// snapTopNDeltaVersion starts a top-N delta (SnapshotDelta).
const snapTopNDeltaVersion = 1

func (o *topNOp) startTracking() { o.ck.on = true }
func (o *topNOp) stateLen() int  { return o.parts.len() }
func (o *topNOp) needBase() bool { return false } // partitions never move

// SnapshotBase is Snapshot, after which every partition counts as saved
// and the changes start again from none.
func (o *topNOp) SnapshotBase() ([]byte, error) {
	b, err := o.snapshot(true)
	o.ck.reset()
	return b, err
}

// SnapshotDelta encodes the keys of the saved partitions freed since the
// last capture, then every partition changed since.
func (o *topNOp) SnapshotDelta() (b []byte, changes, superseded int, err error) {
	e := o.enc.encoder(o.ck.pending())
	e.uvarint(snapTopNDeltaVersion)
	changes, superseded = o.ck.delta(e, encTopPart)
	o.enc.note(len(e.b), changes)
	return e.b, changes, superseded, nil
}

// RestoreDelta applies a delta written by SnapshotDelta.
func (o *topNOp) RestoreDelta(b []byte) error {
	d := &snapDec{b: b}
	if v := d.uvarint(); d.err == nil && v != snapTopNDeltaVersion {
		return fmt.Errorf("restore top-n delta: %w", errSnapshotVersion(v, snapTopNDeltaVersion))
	}
	restoreEntries(d, func(key types.Row) {
		if p := o.parts.get(hashRow(key), key); p != nil {
			o.dropPart(p)
		}
	}, o.decodePart)
	if err := d.done(); err != nil {
		return fmt.Errorf("restore top-n delta: %w", err)
	}
	o.publishStats()
	return nil
}

// Snapshot encodes every key kept and its row.
func (o *dedupOp) Snapshot() ([]byte, error) { return o.snapshot(false) }

// snapshot is Snapshot; with saved, every entry is marked as saved and
// unchanged on the way (SnapshotBase).
func (o *dedupOp) snapshot(saved bool) ([]byte, error) {
	e := o.enc.encoder(o.seen.len())
	e.uvarint(uint64(o.seen.len()))
	o.seen.eachByAddress(func(x *rowEntry[dedupVal]) {
		encDedupEntry(e, x)
		if saved {
			o.ck.saved(x)
		}
	})
	o.enc.note(len(e.b), o.seen.len())
	return e.b, nil
}

func encDedupEntry(e *snapEnc, x *rowEntry[dedupVal]) {
	e.row(x.key)
	e.row(x.val.row)
}

func (o *dedupOp) Restore(b []byte) error {
	o.seen = newRowMap[dedupVal](64)
	o.bytes = 0
	o.ck.reset()
	return o.restoreMore(b)
}

// restoreMore adds a snapshot's keys to those held (rescaler).
func (o *dedupOp) restoreMore(b []byte) error {
	d := &snapDec{b: b}
	n := d.count(2)
	for range n {
		if !o.decodeEntry(d) {
			break
		}
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("restore dedup: %w", err)
	}
	o.stats.stateBytes.Store(o.bytes)
	return nil
}

// decodeEntry reads a key and its row and keeps them, replacing the row
// of a key already kept (a delta). It reports false on an error (in d.err).
func (o *dedupOp) decodeEntry(d *snapDec) bool {
	key, val := d.row(), d.row()
	if d.err != nil {
		return false
	}
	h := hashRow(key)
	if o.drops(h) {
		return true // another copy's (rescale)
	}
	x := o.seen.get(h, key)
	if x == nil {
		x = o.seen.insert(h, key)
		o.bytes += int64(64 + rowBytes(key))
	} else {
		o.bytes -= int64(rowBytes(x.val.row))
	}
	x.val.row = val
	o.bytes += int64(rowBytes(val))
	return true
}

// A dedup keeps every key it has seen (until its window closes), so its
// checkpoints are incremental (incSnapshotter).

// snapDedupDeltaVersion starts a dedup delta (SnapshotDelta).
const snapDedupDeltaVersion = 1

func (o *dedupOp) startTracking() { o.ck.on = true }
func (o *dedupOp) stateLen() int  { return o.seen.len() }
func (o *dedupOp) needBase() bool { return false } // entries never move

// SnapshotBase is Snapshot, after which every entry counts as saved and
// the changes start again from none.
func (o *dedupOp) SnapshotBase() ([]byte, error) {
	b, err := o.snapshot(true)
	o.ck.reset()
	return b, err
}

// SnapshotDelta encodes the keys of the saved entries removed since the
// last capture, then every entry added or replaced since.
func (o *dedupOp) SnapshotDelta() (b []byte, changes, superseded int, err error) {
	e := o.enc.encoder(o.ck.pending())
	e.uvarint(snapDedupDeltaVersion)
	changes, superseded = o.ck.delta(e, encDedupEntry)
	o.enc.note(len(e.b), changes)
	return e.b, changes, superseded, nil
}

// RestoreDelta applies a delta written by SnapshotDelta.
func (o *dedupOp) RestoreDelta(b []byte) error {
	d := &snapDec{b: b}
	if v := d.uvarint(); d.err == nil && v != snapDedupDeltaVersion {
		return fmt.Errorf("restore dedup delta: %w", errSnapshotVersion(v, snapDedupDeltaVersion))
	}
	restoreEntries(d, func(key types.Row) {
		if x := o.seen.get(hashRow(key), key); x != nil {
			o.ck.quietly(func() { o.remove(x) })
		}
	}, o.decodeEntry)
	if err := d.done(); err != nil {
		return fmt.Errorf("restore dedup delta: %w", err)
	}
	o.stats.stateBytes.Store(o.bytes)
	return nil
}

// Snapshot encodes the watermark and both sides' kept rows.
func (o *intervalJoinOp) Snapshot() ([]byte, error) { return o.snapshot(false), nil }

// snapshot is Snapshot; with saved, every entry is marked as saved and
// unchanged on the way (SnapshotBase).
func (o *intervalJoinOp) snapshot(saved bool) []byte {
	n := o.side[0].len() + o.side[1].len()
	e := o.enc.encoder(n)
	e.varint(o.wm)
	for s := range 2 {
		e.uvarint(uint64(o.side[s].len()))
		o.side[s].eachByAddress(func(x *rowEntry[ijKey]) {
			encIJKey(e, x)
			if saved {
				o.ck[s].saved(x)
			}
		})
	}
	o.enc.note(len(e.b), n)
	return e.b
}

func encIJKey(e *snapEnc, x *rowEntry[ijKey]) {
	e.row(x.key)
	e.uvarint(uint64(len(x.val.rows)))
	for _, r := range x.val.rows {
		e.row(r.row)
		e.varint(r.t)
		e.bool(r.matched)
	}
}

func (o *intervalJoinOp) Restore(b []byte) error {
	o.bytes = 0
	for s := range 2 {
		o.ck[s].reset()
		o.side[s] = newRowMap[ijKey](64)
		o.due[s] = o.due[s][:0]
	}
	o.wm = math.MinInt64 // chunk.NoTime
	return o.restoreMore(b)
}

// restoreMore adds a snapshot's keys to those held (rescaler). Every old
// copy saw the same watermarks, so its watermark is the one held.
func (o *intervalJoinOp) restoreMore(b []byte) error {
	d := &snapDec{b: b}
	o.wm = max(o.wm, d.varint())
	for s := range 2 {
		n := d.count(2)
		for range n {
			if !o.decodeKey(d, s) {
				break
			}
		}
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("restore interval join: %w", err)
	}
	o.publish()
	return nil
}

// decodeKey reads a key entry of side s as encIJKey wrote it and keeps it,
// replacing the rows of a key already kept (a delta). It reports false on
// an error (in d.err).
func (o *intervalJoinOp) decodeKey(d *snapDec, s int) bool {
	key := d.row()
	nr := d.count(3)
	if d.err != nil {
		return false
	}
	rows := make([]ijRow, 0, nr)
	for range nr {
		r := ijRow{row: d.row(), t: d.varint(), matched: d.bool()}
		if d.err != nil {
			return false
		}
		rows = append(rows, r)
	}
	h := hashRow(key)
	if o.drops(h) {
		return true // another copy's (rescale)
	}
	for _, r := range rows {
		o.bytes += int64(rowBytes(r.row) + 16)
	}
	e := o.side[s].get(h, key)
	if e == nil {
		e = o.side[s].insert(h, key)
	} else {
		for _, x := range e.val.rows {
			o.bytes -= int64(rowBytes(x.row) + 16)
		}
	}
	// Saved in time order, and kept so (a checkpoint of an earlier Sluice
	// kept them in arrival order).
	slices.SortStableFunc(rows, func(a, b ijRow) int { return cmp.Compare(a.t, b.t) })
	e.val.rows = rows
	if len(rows) > 0 {
		o.due[s].push(o.dueAt(s, rows[0].t), e)
	}
	return true
}

// An interval join keeps rows for as long as the interval lets them
// match, so its checkpoints are incremental too (incSnapshotter).

// snapIntervalDeltaVersion starts an interval join delta (SnapshotDelta).
const snapIntervalDeltaVersion = 1

func (o *intervalJoinOp) startTracking() { o.ck[0].on, o.ck[1].on = true, true }
func (o *intervalJoinOp) stateLen() int  { return o.side[0].len() + o.side[1].len() }
func (o *intervalJoinOp) needBase() bool { return false } // entries never move

// SnapshotBase is Snapshot, after which every entry counts as saved and
// the changes start again from none.
func (o *intervalJoinOp) SnapshotBase() ([]byte, error) {
	b := o.snapshot(true)
	o.ck[0].reset()
	o.ck[1].reset()
	o.ckWM = o.wm
	return b, nil
}

// SnapshotDelta encodes the watermark and, per side, the keys of the
// saved entries removed since the last capture and every entry changed
// since.
func (o *intervalJoinOp) SnapshotDelta() (b []byte, changes, superseded int, err error) {
	e := o.enc.encoder(o.ck[0].pending() + o.ck[1].pending())
	e.uvarint(snapIntervalDeltaVersion)
	e.varint(o.wm)
	for s := range 2 {
		n, sup := o.ck[s].delta(e, encIJKey)
		changes, superseded = changes+n, superseded+sup
	}
	if o.wm != o.ckWM {
		changes++ // the header counts: the watermark moved
		o.ckWM = o.wm
	}
	o.enc.note(len(e.b), changes)
	return e.b, changes, superseded, nil
}

// RestoreDelta applies a delta written by SnapshotDelta.
func (o *intervalJoinOp) RestoreDelta(b []byte) error {
	d := &snapDec{b: b}
	if v := d.uvarint(); d.err == nil && v != snapIntervalDeltaVersion {
		return fmt.Errorf("restore interval join delta: %w", errSnapshotVersion(v, snapIntervalDeltaVersion))
	}
	o.wm = d.varint()
	for s := range 2 {
		restoreEntries(d, func(key types.Row) {
			if x := o.side[s].get(hashRow(key), key); x != nil {
				o.ck[s].quietly(func() { o.remove(s, x) })
			}
		}, func(d *snapDec) bool { return o.decodeKey(d, s) })
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("restore interval join delta: %w", err)
	}
	o.publish()
	return nil
}

// stateSize sums the sizes of accumulators (for state-bytes accounting).
func stateSize(ss []accState) int64 {
	n := int64(0)
	for _, s := range ss {
		n += int64(s.SizeBytes())
	}
	return n
}

// keyFilter is the keys a copy of a keyed operator takes while a restore
// rescales its job (restoreRescaled); nil keeps every key.
type keyFilter struct{ keep func(h uint64) bool }

func (f *keyFilter) setKeep(keep func(h uint64) bool) { f.keep = keep }

// drops reports whether the copy leaves the key of hash h to another.
func (f *keyFilter) drops(h uint64) bool { return f.keep != nil && !f.keep(h) }

// rescaler is a keyed operator whose copies can be restored from a
// checkpoint taken at another parallelism (restoreRescaled): each new copy
// reads the state of every old copy, keeping the keys it now owns.
type rescaler interface {
	incSnapshotter
	// setKeep sets the keys the copy keeps from what it restores (nil:
	// all).
	setKeep(keep func(h uint64) bool)
	// restoreMore adds a base of another old copy to the state restored
	// so far (Restore replaces the state).
	restoreMore(b []byte) error
	// rescaled ends the restore.
	rescaled()
}

func (o *groupAggOp) rescaled() { o.stats.stateBytes.Store(o.bytes) }

// chainEnder is a rescaler told when the state of one old copy is
// restored (its base and deltas).
type chainEnder interface{ chainEnded() }

// chainEnded notes the watermark and next window end of the old copy just
// restored: each restore sets them, and the merged state takes the
// latest (every old copy saw the same watermarks; one that held no panes
// kept an older next end). Unset (math.MinInt64) is the least.
func (o *windowAggOp) chainEnded() {
	if !o.rescaling {
		o.rescaling, o.rescaleWM, o.rescaleNext = true, o.wm, o.nextEnd
		return
	}
	o.rescaleWM = max(o.rescaleWM, o.wm)
	o.rescaleNext = max(o.rescaleNext, o.nextEnd)
}

// rescaled takes the old copies' latest watermark and next window end,
// and drops the windows in which the copy kept no key.
func (o *windowAggOp) rescaled() {
	if o.rescaling {
		o.wm, o.nextEnd, o.rescaling = o.rescaleWM, o.rescaleNext, false
	}
	for _, k := range slices.Clone(o.order) {
		if t := o.tables[k]; t != nil && t.groups() == 0 {
			o.free(t)
			delete(o.tables, k)
			i, _ := slices.BinarySearch(o.order, k)
			o.order = slices.Delete(o.order, i, i+1)
		}
	}
	o.publishStats()
}

func (o *sessionOp) rescaled() { o.ends.init(); o.publish() }

func (o *topNOp) rescaled() { o.publishStats() }

func (o *dedupOp) rescaled() { o.stats.stateBytes.Store(o.bytes) }
