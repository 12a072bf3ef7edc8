package exec

import (
	"context"
	"math"
	"sync"

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
		s.push(m, r)
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
// else as a multiset of rows.
type viewStore struct {
	key   []int
	keyed *rowMap[types.Row]
	multi *rowMap[multiRow]
	kbuf  types.Row
	// prefix is set when the key columns are 0..len(key)-1, so that a
	// stored row's leading values can serve as its key.
	prefix bool
}

type multiRow struct {
	row types.Row
	n   int64
}

func newViewStore(key []int) *viewStore {
	s := &viewStore{key: key}
	if len(key) > 0 {
		s.keyed = newRowMap[types.Row](64)
		s.kbuf = make(types.Row, len(key))
		s.prefix = true
		for i, c := range key {
			s.prefix = s.prefix && c == i
		}
	} else {
		s.multi = newRowMap[multiRow](64)
	}
	return s
}

// apply applies one change; it returns the row instance removed (old) and
// the one stored (stored), for indexes.
func (s *viewStore) apply(op chunk.Op, row types.Row) (old, stored types.Row) {
	if s.keyed != nil {
		for i, c := range s.key {
			s.kbuf[i] = row[c]
		}
		h := hashRow(s.kbuf)
		e := s.keyed.get(h, s.kbuf)
		if op == chunk.Delete {
			if e != nil {
				old = e.val
				s.keyed.remove(e)
			}
			return old, nil
		}
		stored = copyRow(row)
		if e == nil {
			key := stored[:len(s.key):len(s.key)] // the key columns lead the row: share them
			if !s.prefix {
				key = copyRow(s.kbuf)
			}
			e = s.keyed.insert(h, key)
		} else {
			old = e.val
			if s.prefix {
				e.key = stored[:len(s.key):len(s.key)] // do not keep the old row alive
			}
		}
		e.val = stored
		return old, e.val
	}
	h := hashRow(row)
	e := s.multi.get(h, row)
	if op == chunk.Delete {
		if e != nil {
			old = e.val.row
			e.val.n--
			if e.val.n <= 0 {
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
	return nil, e.val.row
}

func (s *viewStore) rows() []types.Row {
	var out []types.Row
	if s.keyed != nil {
		out = make([]types.Row, 0, s.keyed.len())
		s.keyed.each(func(e *rowEntry[types.Row]) { out = append(out, e.val) })
		return out
	}
	s.multi.each(func(e *rowEntry[multiRow]) {
		for range e.val.n {
			out = append(out, e.val.row)
		}
	})
	return out
}
