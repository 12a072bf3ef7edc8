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

// rowMap is a hash map keyed by rows: buckets by hash, chained on collision.
// It never builds string keys.
type rowMap[V any] struct {
	m map[uint64]*rowEntry[V]
	n int
}

type rowEntry[V any] struct {
	key  types.Row
	hash uint64
	val  V
	next *rowEntry[V]
}

func newRowMap[V any](size int) *rowMap[V] {
	return &rowMap[V]{m: make(map[uint64]*rowEntry[V], size)}
}

func (m *rowMap[V]) get(h uint64, key types.Row) *rowEntry[V] {
	for e := m.m[h]; e != nil; e = e.next {
		if types.EqualRows(e.key, key) {
			return e
		}
	}
	return nil
}

// insert adds key (which the map keeps; pass a copy) with a zero value.
func (m *rowMap[V]) insert(h uint64, key types.Row) *rowEntry[V] {
	e := &rowEntry[V]{key: key, hash: h, next: m.m[h]}
	m.m[h] = e
	m.n++
	return e
}

func (m *rowMap[V]) remove(e *rowEntry[V]) {
	p := m.m[e.hash]
	if p == e {
		if e.next == nil {
			delete(m.m, e.hash)
		} else {
			m.m[e.hash] = e.next
		}
		m.n--
		return
	}
	for ; p != nil; p = p.next {
		if p.next == e {
			p.next = e.next
			m.n--
			return
		}
	}
}

func (m *rowMap[V]) each(f func(e *rowEntry[V])) {
	for _, e := range m.m {
		for e != nil {
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
