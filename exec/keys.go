package exec

import (
	"github.com/cespare/xxhash/v2"
	"github.com/sluice-db/sluice/sql/types"
)

// hashValue mixes v into h without allocating. Values that types.Equal
// considers equal within one kind family hash alike (integers of every
// width share a family).
func hashValue(h uint64, v types.Value) uint64 {
	var x uint64
	switch v.K {
	case types.Null:
		x = 0x51ed27
	case types.Text, types.Bytea, types.JSONB, types.Numeric:
		x = xxhash.Sum64String(v.S) ^ uint64(v.K)<<56
	case types.Int16, types.Int32, types.Int64:
		x = uint64(v.I) ^ uint64(types.Int64)<<59
	default:
		x = uint64(v.I) ^ uint64(v.K)<<59
	}
	return mix(h ^ x)
}

func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func hashRow(row types.Row) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, v := range row {
		h = hashValue(h, v)
	}
	return h
}

// rowMap is a hash map keyed by rows: an open-addressing table (linear
// probing) of 64-bit hashes, each slot holding the chain of the keys with
// that hash. It never builds string keys. Removing entries while each runs
// is allowed (removed slots become tombstones until the next rehash);
// inserting while each runs is not.
type rowMap[V any] struct {
	tab  []rowSlot[V] // length a power of two, never full
	used int          // slots live or tombstoned
	n    int          // entries
}

type rowSlot[V any] struct {
	h    uint64
	e    *rowEntry[V] // nil: empty, or a tombstone when dead
	dead bool
}

type rowEntry[V any] struct {
	key  types.Row
	hash uint64
	val  V
	next *rowEntry[V]
}

func newRowMap[V any](size int) *rowMap[V] {
	n := 8
	for n*3 < size*4 {
		n <<= 1
	}
	return &rowMap[V]{tab: make([]rowSlot[V], n)}
}

// slot returns the index of the slot of hash h, or -1.
func (m *rowMap[V]) slot(h uint64) int {
	if len(m.tab) == 0 {
		return -1
	}
	mask := uint64(len(m.tab) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &m.tab[i]
		if s.e != nil {
			if s.h == h {
				return int(i)
			}
		} else if !s.dead {
			return -1
		}
	}
}

func (m *rowMap[V]) get(h uint64, key types.Row) *rowEntry[V] {
	i := m.slot(h)
	if i < 0 {
		return nil
	}
	for e := m.tab[i].e; e != nil; e = e.next {
		if types.EqualRows(e.key, key) {
			return e
		}
	}
	return nil
}

// insert adds key (which the map keeps; pass a copy) with a zero value.
func (m *rowMap[V]) insert(h uint64, key types.Row) *rowEntry[V] {
	m.n++
	if i := m.slot(h); i >= 0 {
		e := &rowEntry[V]{key: key, hash: h, next: m.tab[i].e}
		m.tab[i].e = e
		return e
	}
	if (m.used+1)*4 > len(m.tab)*3 {
		m.rehash()
	}
	e := &rowEntry[V]{key: key, hash: h}
	m.place(h, e)
	return e
}

// place puts a new chain in the first free slot of its probe sequence.
func (m *rowMap[V]) place(h uint64, e *rowEntry[V]) {
	mask := uint64(len(m.tab) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &m.tab[i]
		if s.e == nil {
			if !s.dead {
				m.used++
			}
			*s = rowSlot[V]{h: h, e: e}
			return
		}
	}
}

// rehash rebuilds the table without tombstones, at most half full.
func (m *rowMap[V]) rehash() {
	live := 0
	for i := range m.tab {
		if m.tab[i].e != nil {
			live++
		}
	}
	n := max(len(m.tab), 8)
	for (live+1)*2 > n {
		n <<= 1
	}
	old := m.tab
	m.tab = make([]rowSlot[V], n)
	m.used = 0
	for i := range old {
		if old[i].e != nil {
			m.place(old[i].h, old[i].e)
		}
	}
}

func (m *rowMap[V]) remove(e *rowEntry[V]) {
	i := m.slot(e.hash)
	if i < 0 {
		return
	}
	s := &m.tab[i]
	if s.e == e {
		s.e = e.next
		if s.e == nil {
			s.dead = true
		}
		m.n--
		return
	}
	for p := s.e; p != nil; p = p.next {
		if p.next == e {
			p.next = e.next
			m.n--
			return
		}
	}
}

func (m *rowMap[V]) each(f func(e *rowEntry[V])) {
	tab := m.tab
	for i := range tab {
		for e := tab[i].e; e != nil; {
			next := e.next
			f(e)
			e = next
		}
	}
}

func (m *rowMap[V]) len() int { return m.n }

// rowBytes approximates the heap size of a row.
func rowBytes(r types.Row) int {
	n := 24 + 40*len(r)
	for _, v := range r {
		n += len(v.S)
	}
	return n
}

func copyRow(r types.Row) types.Row { return append(types.Row(nil), r...) }
