package exec

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// relation is a table (push source) or a materialized view: its current
// contents, the feeds of the jobs that read it as a stream, its subscribers
// and lookup indexes.
//
// Locking: pubMu orders publication (and a new reader's snapshot plus
// registration) against changes; mu guards contents and is only held
// briefly, so lookups never wait behind a blocked publisher.
type relation struct {
	name       string
	schema     types.Schema
	wm         *plan.Watermark
	isTable    bool
	appendOnly bool
	key        []int

	pubMu sync.Mutex
	feeds map[*feed]struct{}
	subs  map[*Subscription]struct{}
	ended bool // a view whose stream ended (its sources are bounded and done): nothing follows

	mu      sync.RWMutex
	rows    []types.Row // tables: every row, in insertion order
	store   *viewStore  // views
	indexes []*relIndex
	lastWM  int64

	job *job // the job that maintains a view
}

// feed is one reading job's input from a relation.
type feed struct {
	ch   chan chunk.Message
	done <-chan struct{}
}

func newRelation(name string, schema types.Schema, isTable bool) *relation {
	r := &relation{name: name, schema: schema, isTable: isTable, feeds: map[*feed]struct{}{},
		subs: map[*Subscription]struct{}{}, lastWM: math.MinInt64}
	if !isTable {
		r.store = newViewStore(nil)
	}
	return r
}

// endSubs ends every subscription with err, after the updates they have
// queued.
func (r *relation) endSubs(err error) {
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	for s := range r.subs {
		delete(r.subs, s)
		s.closeWith(err)
	}
}

// publish sends m to every feed (a copy of the chunk each) and subscriber.
// The caller holds pubMu. A feed whose job ended is dropped.
func (r *relation) publish(ctx context.Context, m chunk.Message) error {
	for f := range r.feeds {
		mm := m
		if m.Kind == chunk.Data {
			mm.Chunk = m.Chunk.Clone()
		}
		select {
		case f.ch <- mm:
		case <-f.done:
			delete(r.feeds, f)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for s := range r.subs {
		if !s.push(m, r) {
			delete(r.subs, s)
		}
	}
	return nil
}

// contents returns a copy of the current rows (caller holds mu).
func (r *relation) contentsLocked() []types.Row {
	if r.isTable {
		return append([]types.Row(nil), r.rows...)
	}
	return r.store.rows()
}

// applyLocked applies a chunk of changes to the contents (caller holds mu).
func (r *relation) applyLocked(c *chunk.Chunk) {
	for i := range c.Len() {
		row := c.Row(i)
		op := c.Ops[i]
		if r.isTable {
			cp := copyRow(row)
			r.rows = append(r.rows, cp)
			for _, ix := range r.indexes {
				ix.add(cp)
			}
			continue
		}
		if op == chunk.Delete && r.store.keyed != nil && i+1 < c.Len() && c.Ops[i+1] == chunk.Insert && r.store.sameKey(row, c.Row(i+1)) {
			// A retraction followed by the key's new row: the insert
			// replaces the row on its own, with one lookup.
			continue
		}
		old, stored := r.store.apply(op, row)
		for _, ix := range r.indexes {
			if old != nil {
				ix.remove(old)
			}
			if stored != nil {
				ix.add(stored)
			}
		}
	}
}

// appendLocked keeps copies of rows appended to a table, as given (a push
// source's rows may lack their generated columns; snapshot readers compute
// them). The caller holds mu.
func (r *relation) appendLocked(rows []types.Row) {
	for _, row := range rows {
		cp := copyRow(row)
		r.rows = append(r.rows, cp)
		for _, ix := range r.indexes {
			ix.add(cp)
		}
	}
}

// index returns (building if needed) the lookup index on cols.
func (r *relation) index(cols []int) *relIndex {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ix := range r.indexes {
		if equalInts(ix.cols, cols) {
			return ix
		}
	}
	ix := &relIndex{cols: cols, m: newRowMap[[]types.Row](64)}
	if r.store != nil {
		r.store.indexed = true
	}
	for _, row := range r.contentsLocked() {
		ix.add(row)
	}
	r.indexes = append(r.indexes, ix)
	return ix
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// relIndex maps the values of cols to the rows holding them.
type relIndex struct {
	cols []int
	m    *rowMap[[]types.Row]
}

func (ix *relIndex) keyOf(row types.Row) types.Row {
	k := make(types.Row, len(ix.cols))
	for i, c := range ix.cols {
		if c < len(row) {
			k[i] = row[c]
		}
	}
	return k
}

func (ix *relIndex) add(row types.Row) {
	k := ix.keyOf(row)
	h := hashRow(k)
	e := ix.m.get(h, k)
	if e == nil {
		e = ix.m.insert(h, k)
	}
	e.val = append(e.val, row)
}

func (ix *relIndex) remove(row types.Row) {
	k := ix.keyOf(row)
	e := ix.m.get(hashRow(k), k)
	if e == nil {
		return
	}
	for i, r := range e.val {
		if types.EqualRows(r, row) {
			e.val = append(e.val[:i], e.val[i+1:]...)
			break
		}
	}
	if len(e.val) == 0 {
		ix.m.remove(e)
	}
}

// lookup returns the rows whose index columns equal key (caller holds the
// relation's read lock; the slice must not be kept).
func (ix *relIndex) lookup(key types.Row) []types.Row {
	for _, v := range key {
		if v.IsNull() {
			return nil // NULL never joins
		}
	}
	e := ix.m.get(hashRow(key), key)
	if e == nil {
		return nil
	}
	return e.val
}

// viewStore keeps a view's contents: by key when key columns are given,
// else as a multiset of rows, or, for an unkeyed view the planner marks
// append-only (a filter or projection over a source: inserts only), as a
// plain list of rows in arrival order: no hashing, no map, and a
// checkpoint's delta is the rows after the last capture. A retraction reaching an append-only
// store (the planner says none can) turns it into a multiset first, so
// contents stay right regardless.
//
// Stored rows are shared with readers (snapshots, subscriptions, lookups,
// the checkpoint writer) and never change once a reader may hold them:
// every hand-out bumps gen, and a keyed row is overwritten in place only
// when it was stored after the last hand-out and no index refers to it.
// Otherwise a change stores a new row.
//
// With track set (the view is checkpointed), the store keeps the changes
// since the last capture (captureDelta, captureBase) itself: a dirty mark
// on each changed entry plus a list of the dirty entries, and the keys (or
// row counts) removed.
type viewStore struct {
	key    []int
	keyed  *rowMap[keyedRow]
	multi  *rowMap[multiRow]
	kbuf   types.Row
	kbuf2  types.Row
	prefix bool // the key columns are 0..len(key)-1: a stored row's leading values serve as its key

	gen     atomic.Uint64 // bumped whenever stored rows are handed out
	indexed bool          // indexes hold stored rows: never overwrite one

	// appendOnly mode: app holds the rows; captured is how many of them
	// the last capture covered.
	appendOnly bool
	app        rowLog
	captured   int
	slab       []types.Value // what appended rows' values are cut from (appendRow)

	track  bool
	dirty  []*rowEntry[keyedRow]
	gone   []types.Row // keyed: keys removed since the last capture
	mdirty []*rowEntry[multiRow]
	mgone  []viewChange // multiset: net counts of rows removed since the last capture
}

type keyedRow struct {
	row   types.Row // nil once the entry was removed
	gen   uint64    // store gen when row was allocated
	dirty bool
	fresh bool // inserted since the last capture (no earlier version captured)
}

type multiRow struct {
	row   types.Row // nil once the entry was removed
	n     int64
	n0    int64 // n at the last capture
	dirty bool
}

// viewChange is one change of a captured delta: n copies of row (n < 0:
// removals; for a keyed view -1 and a row holding the key).
type viewChange struct {
	n   int64
	row types.Row
}

func newViewStore(key []int) *viewStore {
	s := &viewStore{key: key}
	if len(key) > 0 {
		s.keyed = newRowMap[keyedRow](64)
		s.kbuf = make(types.Row, len(key))
		s.kbuf2 = make(types.Row, len(key))
		s.prefix = true
		for i, c := range key {
			s.prefix = s.prefix && c == i
		}
	} else {
		s.multi = newRowMap[multiRow](64)
	}
	return s
}

// newViewStoreFor returns the store of a view with the given key that is
// (or is not) append-only.
func newViewStoreFor(key []int, appendOnly bool) *viewStore {
	if !appendOnly || len(key) > 0 {
		return newViewStore(key)
	}
	return &viewStore{appendOnly: true}
}

// newViewStoreSized is newViewStoreFor with its table sized for n rows
// (a restore): growing the table on the way moved every entry once per
// doubling.
func newViewStoreSized(key []int, appendOnly bool, n int) *viewStore {
	s := newViewStoreFor(key, appendOnly)
	switch {
	case s.keyed != nil:
		s.keyed = newRowMap[keyedRow](n)
	case s.multi != nil:
		s.multi = newRowMap[multiRow](n)
	}
	return s
}

// toMultiset turns an append-only store into a multiset one, keeping what
// the last capture covered as captured (n0) and the rest as changes.
func (s *viewStore) toMultiset() {
	s.multi = newRowMap[multiRow](s.app.len())
	s.app.each(0, func(i int, row types.Row) {
		h := hashRow(row)
		e := s.multi.get(h, row)
		if e == nil {
			e = s.multi.insert(h, row)
			e.val.row = row
		}
		e.val.n++
		if i < s.captured {
			e.val.n0++
		}
	})
	s.multi.each(func(e *rowEntry[multiRow]) {
		if e.val.n != e.val.n0 {
			s.markMulti(e)
		}
	})
	s.appendOnly, s.app, s.captured, s.slab = false, rowLog{}, 0, nil
}

// sameKey reports whether rows a and b have equal key columns.
func (s *viewStore) sameKey(a, b types.Row) bool {
	for i, c := range s.key {
		s.kbuf[i], s.kbuf2[i] = a[c], b[c]
	}
	return types.EqualRows(s.kbuf, s.kbuf2)
}

// apply applies one change; it returns the row instance removed (old) and
// the one stored (stored), for indexes.
func (s *viewStore) apply(op chunk.Op, row types.Row) (old, stored types.Row) {
	if s.keyed != nil {
		return s.applyKeyed(op, row)
	}
	if s.appendOnly {
		if op == chunk.Insert {
			cp := s.appendRow(row)
			s.app.add(cp)
			return nil, cp
		}
		s.toMultiset()
	}
	h := hashRow(row)
	e := s.multi.get(h, row)
	if op == chunk.Delete {
		if e != nil {
			old = e.val.row
			e.val.n--
			s.markMulti(e)
			if e.val.n <= 0 {
				if s.track && e.val.n0 != 0 {
					s.mgone = append(s.mgone, viewChange{n: -e.val.n0, row: e.val.row})
				}
				e.val.row = nil
				s.multi.remove(e)
			}
		}
		return old, nil
	}
	if e == nil {
		cp := copyRow(row)
		e = s.multi.insert(h, cp)
		e.val.row = cp
	}
	e.val.n++
	s.markMulti(e)
	return nil, e.val.row
}

func (s *viewStore) markMulti(e *rowEntry[multiRow]) {
	if s.track && !e.val.dirty {
		e.val.dirty = true
		s.mdirty = append(pruneDirty(s.mdirty, s.multi.len(), func(x *rowEntry[multiRow]) bool { return x.val.row == nil }), e)
	}
}

// pruneDirty drops the dead entries (removed keys or rows) from a dirty
// list once it has outgrown twice the live entries: keys inserted and
// removed again between captures would otherwise pile up (amortised; the
// list stays within twice the live entries).
func pruneDirty[T any](list []*rowEntry[T], live int, dead func(*rowEntry[T]) bool) []*rowEntry[T] {
	if len(list) < 2*live+4096 {
		return list
	}
	kept := list[:0]
	for _, x := range list {
		if !dead(x) {
			kept = append(kept, x)
		}
	}
	clear(list[len(kept):])
	return kept
}

func (s *viewStore) applyKeyed(op chunk.Op, row types.Row) (old, stored types.Row) {
	for i, c := range s.key {
		s.kbuf[i] = row[c]
	}
	h := hashRow(s.kbuf)
	e := s.keyed.get(h, s.kbuf)
	if op == chunk.Delete {
		if e != nil {
			old = e.val.row
			if s.track && !e.val.fresh {
				// Only a key captured before needs its removal recorded
				// (so each key is listed at most once).
				s.gone = append(s.gone, e.key)
			}
			e.val.row = nil
			s.keyed.remove(e)
		}
		return old, nil
	}
	gen := s.gen.Load()
	if e != nil && !s.indexed && e.val.gen == gen && len(e.val.row) == len(row) {
		// Nobody else can hold the row: overwrite it (the key columns,
		// which the entry's key may share, are equal).
		copy(e.val.row, row)
		s.markKeyed(e)
		return nil, e.val.row
	}
	stored = copyRow(row)
	if e == nil {
		key := stored[:len(s.key):len(s.key)] // the key columns lead the row: share them
		if !s.prefix {
			key = copyRow(s.kbuf)
		}
		e = s.keyed.insert(h, key)
		e.val.fresh = s.track
	} else {
		old = e.val.row
		if s.prefix {
			e.key = stored[:len(s.key):len(s.key)] // do not keep the old row alive
		}
	}
	e.val.row, e.val.gen = stored, gen
	s.markKeyed(e)
	return old, stored
}

func (s *viewStore) markKeyed(e *rowEntry[keyedRow]) {
	if s.track && !e.val.dirty {
		e.val.dirty = true
		s.dirty = append(pruneDirty(s.dirty, s.keyed.len(), func(x *rowEntry[keyedRow]) bool { return x.val.row == nil }), e)
	}
}

// rows returns the stored rows (shared: the caller must not modify them).
// The caller holds the relation's lock, read or write.
func (s *viewStore) rows() []types.Row {
	s.gen.Add(1)
	if s.appendOnly {
		out := make([]types.Row, 0, s.app.len())
		s.app.each(0, func(_ int, r types.Row) { out = append(out, r) })
		return out
	}
	var out []types.Row
	if s.keyed != nil {
		out = make([]types.Row, 0, s.keyed.len())
		s.keyed.each(func(e *rowEntry[keyedRow]) { out = append(out, e.val.row) })
		return out
	}
	s.multi.each(func(e *rowEntry[multiRow]) {
		for range e.val.n {
			out = append(out, e.val.row)
		}
	})
	return out
}

// captureDelta returns the changes since the last capture and starts
// anew: for a keyed view the removed keys (as -1 and a row holding the
// key) followed by the current row of every changed key (+1); for a
// multiset view each changed row with its net count. The rows are shared
// and stay valid (unchanged) after the call. superseded counts the
// changes that replace or remove rows captured before (what a compaction
// would drop). The caller holds the relation's write lock.
func (s *viewStore) captureDelta(width int) (out []viewChange, superseded int) {
	s.gen.Add(1)
	if s.appendOnly {
		return s.captureApp(), 0
	}
	if s.keyed != nil {
		out = make([]viewChange, 0, len(s.gone)+len(s.dirty))
		superseded = 2 * len(s.gone)
		for _, k := range s.gone {
			del := k
			if !s.prefix {
				del = make(types.Row, width)
				for j, col := range s.key {
					del[col] = k[j]
				}
			}
			out = append(out, viewChange{n: -1, row: del})
		}
		for i, e := range s.dirty {
			if e.val.row != nil {
				out = append(out, viewChange{n: 1, row: e.val.row})
				if !e.val.fresh {
					superseded++
				}
				e.val.dirty, e.val.fresh = false, false
			}
			s.dirty[i] = nil
		}
		s.dirty, s.gone = s.dirty[:0], nil
		return out, superseded
	}
	out = append(make([]viewChange, 0, len(s.mgone)+len(s.mdirty)), s.mgone...)
	superseded = 2 * len(s.mgone)
	for i, e := range s.mdirty {
		if e.val.row != nil {
			if d := e.val.n - e.val.n0; d != 0 {
				out = append(out, viewChange{n: d, row: e.val.row})
				if e.val.n0 != 0 {
					superseded++
				}
			}
			e.val.n0, e.val.dirty = e.val.n, false
		}
		s.mdirty[i] = nil
	}
	s.mdirty, s.mgone = s.mdirty[:0], nil
	return out, superseded
}

// captureBase returns every stored row with its count and clears the
// changes kept for captureDelta. The rows are shared and stay valid. The
// caller holds the relation's write lock.
func (s *viewStore) captureBase() []viewChange {
	s.gen.Add(1)
	var out []viewChange
	if s.appendOnly {
		s.captured = 0
		return s.captureApp()
	}
	if s.keyed != nil {
		out = make([]viewChange, 0, s.keyed.len())
		s.keyed.eachByAddress(func(e *rowEntry[keyedRow]) {
			out = append(out, viewChange{n: 1, row: e.val.row})
			e.val.dirty, e.val.fresh = false, false
		})
	} else {
		out = make([]viewChange, 0, s.multi.len())
		s.multi.eachByAddress(func(e *rowEntry[multiRow]) {
			out = append(out, viewChange{n: e.val.n, row: e.val.row})
			e.val.n0, e.val.dirty = e.val.n, false
		})
	}
	clear(s.dirty)
	clear(s.mdirty)
	s.dirty, s.mdirty, s.gone, s.mgone = s.dirty[:0], s.mdirty[:0], nil, nil
	return out
}

// captureApp returns an append-only store's rows since the last capture,
// which they now belong to.
func (s *viewStore) captureApp() []viewChange {
	out := make([]viewChange, 0, s.app.len()-s.captured)
	s.app.each(s.captured, func(_ int, row types.Row) { out = append(out, viewChange{n: 1, row: row}) })
	s.captured = s.app.len()
	return out
}

// appendRow copies a row appended to an append-only store. The copies are
// cut from slabs of slabValues values: an append-only view never frees a
// row by itself (a retraction turns it into a multiset, which keeps the
// rows it has), so one allocation serves many rows instead of one each,
// which the single goroutine applying a view's rows paid for every row.
// A copy's capacity is its length: an append to it reallocates.
func (s *viewStore) appendRow(row types.Row) types.Row {
	w := len(row)
	if w == 0 || w > slabValues/16 {
		return copyRow(row)
	}
	if cap(s.slab)-len(s.slab) < w {
		s.slab = make([]types.Value, 0, slabValues)
	}
	n := len(s.slab)
	s.slab = append(s.slab, row...)
	return s.slab[n : n+w : n+w]
}

// slabValues is the size of appendRow's slabs (64 KiB of values).
const slabValues = 2048

// rowLog is the rows of an append-only store in order, in pages of
// rowLogPage: appending never copies the rows held (a slice doubling
// copied them all, with a write barrier per row while the collector ran).
type rowLog struct {
	pages [][]types.Row
	n     int
}

const rowLogPage = 4096

func (l *rowLog) len() int { return l.n }

func (l *rowLog) add(r types.Row) {
	if k := len(l.pages); k == 0 || len(l.pages[k-1]) == cap(l.pages[k-1]) {
		l.pages = append(l.pages, make([]types.Row, 0, min(rowLogPage, max(16, 2*l.n))))
	}
	k := len(l.pages) - 1
	l.pages[k] = append(l.pages[k], r)
	l.n++
}

// each calls f with every row from index from on, in order.
func (l *rowLog) each(from int, f func(i int, r types.Row)) {
	i := 0
	for _, p := range l.pages {
		if i+len(p) <= from {
			i += len(p)
			continue
		}
		for j, r := range p {
			if i+j >= from {
				f(i+j, r)
			}
		}
		i += len(p)
	}
}

// len is the number of distinct stored rows (of stored rows, for an
// append-only store).
func (s *viewStore) len() int {
	if s.keyed != nil {
		return s.keyed.len()
	}
	if s.appendOnly {
		return s.app.len()
	}
	return s.multi.len()
}
