package exec

import (
	"cmp"
	"slices"
	"strings"
	"unsafe"

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

// probeStart is where the probe sequence of hash h starts: its low bits
// folded with its high ones. A copy of a keyed operator behind a shuffle
// sees only hashes whose bits from 17 up name that copy ((h >> 17) mod
// copies); indexed by the low bits alone, a table of more than 2^17 slots
// would fill half its index space and probe through long runs (a dedup of
// 1 M keys ran 20 times slower as two copies than as one).
func probeStart(h, mask uint64) uint64 { return (h ^ h>>32) & mask }

// slot returns the index of the slot of hash h, or -1.
func (m *rowMap[V]) slot(h uint64) int {
	if len(m.tab) == 0 {
		return -1
	}
	mask := uint64(len(m.tab) - 1)
	for i := probeStart(h, mask); ; i = (i + 1) & mask {
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
	for i := probeStart(h, mask); ; i = (i + 1) & mask {
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

// eachByAddress calls f with every entry in the order the entries lie in
// memory, which for a map filled over time is about the order they were
// inserted in, and so is that of the rows they hold (allocated with them).
// A pass over a large map in table order reads every entry at a random
// place and misses the cache each time: encoding a base of 1 M entries
// takes 1.2 µs an entry that way and 0.15 µs in memory order, the sort
// included (BenchmarkEntryOrder). f must not insert or remove entries.
func (m *rowMap[V]) eachByAddress(f func(e *rowEntry[V])) {
	heads := make([]*rowEntry[V], 0, m.n)
	for i := range m.tab {
		if e := m.tab[i].e; e != nil {
			heads = append(heads, e) // the chain's head only: reading e.next would miss the cache
		}
	}
	byAddress(heads)
	for _, e := range heads {
		for ; e != nil; e = e.next {
			f(e)
		}
	}
}

// byAddress sorts entries by address (see eachByAddress). The order only
// makes reading them faster: nothing depends on it, and the Go heap does
// not move objects, so it holds while they live. A long list is put in
// order by a radix sort (11 bits a pass over the range of its addresses,
// three passes for 8 GiB): sorting 1 M entries by comparison cost 0.22 µs
// an entry more, a quarter of what reading them in order saves.
func byAddress[V any](es []*rowEntry[V]) {
	addr := func(e *rowEntry[V]) uintptr { return uintptr(unsafe.Pointer(e)) }
	if len(es) < 2048 {
		slices.SortFunc(es, func(a, b *rowEntry[V]) int { return cmp.Compare(addr(a), addr(b)) })
		return
	}
	lo, hi := addr(es[0]), addr(es[0])
	for _, e := range es {
		lo, hi = min(lo, addr(e)), max(hi, addr(e))
	}
	const bits = 11
	var count [1 << bits]int
	src, dst := es, make([]*rowEntry[V], len(es))
	for shift := uint(0); (hi-lo)>>shift > 0; shift += bits {
		clear(count[:])
		for _, e := range src {
			count[(addr(e)-lo)>>shift&(1<<bits-1)]++
		}
		at := 0
		for i, n := range count {
			count[i] = at
			at += n
		}
		for _, e := range src {
			d := (addr(e) - lo) >> shift & (1<<bits - 1)
			dst[count[d]] = e
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &es[0] {
		copy(es, src)
	}
}

// rowBytes approximates the heap size of a row.
func rowBytes(r types.Row) int {
	n := 24 + 40*len(r)
	for _, v := range r {
		n += len(v.S)
	}
	return n
}

func copyRow(r types.Row) types.Row { return append(types.Row(nil), r...) }

// recPageBits sets the records per full page of a recs store (1024).
const recPageBits = 10

// recs stores records of w values of T by dense id (0, 1, ...), in pages
// of 1<<recPageBits records. Adding a record never moves the records of
// full pages, and the store over-allocates at most one page: the first
// page starts at the size hint and doubles until it is full, later pages
// are allocated full. A slice returned by at is valid until the next add.
type recs[T any] struct {
	w     int
	pages [][]T
	n     int // records
}

func newRecs[T any](w, hint int) recs[T] {
	r := recs[T]{w: w}
	if w > 0 && hint > 0 {
		r.pages = append(r.pages, make([]T, 0, min(hint, 1<<recPageBits)*w))
	}
	return r
}

// add appends a zero record and returns its id.
func (r *recs[T]) add() int {
	id := r.n
	r.n++
	if r.w == 0 {
		return id
	}
	p := id >> recPageBits
	full := r.w << recPageBits
	if p == len(r.pages) {
		c := full
		if p == 0 {
			c = 16 * r.w
		}
		r.pages = append(r.pages, make([]T, 0, c))
	}
	pg := r.pages[p]
	if len(pg)+r.w > cap(pg) {
		np := make([]T, len(pg), min(2*cap(pg), full))
		copy(np, pg)
		pg = np
	}
	r.pages[p] = pg[:len(pg)+r.w]
	return id
}

// clone returns a copy of the records that later changes to r do not
// reach (a checkpoint's frozen state, see baseLater): a copy of every page.
func (r *recs[T]) clone() recs[T] {
	c := recs[T]{w: r.w, n: r.n, pages: make([][]T, len(r.pages))}
	for i, pg := range r.pages {
		c.pages[i] = append(make([]T, 0, len(pg)), pg...)
	}
	return c
}

// at returns the record id.
func (r *recs[T]) at(id int) []T {
	if r.w == 0 {
		return nil
	}
	p := r.pages[id>>recPageBits]
	o := (id & (1<<recPageBits - 1)) * r.w
	return p[o : o+r.w : o+r.w]
}

// keyIndex maps keys (rows of nk values) to dense int ids. It stores the
// keys by value, nk values per id in pages (recs), and finds them through
// an open-addressing table (linear probing) of 8-byte slots, each holding
// the top 32 bits of the key's hash and its id + 1. A slot's position is
// taken from the top bits of the hash as well, so growing the table needs
// neither the keys nor their hashes. Per key it costs nk values plus 10 to
// 21 bytes of table, against a 24-byte slot and a separately allocated
// entry for rowMap.
//
// Without removals the ids are 0 .. ids()-1 in insertion order. Removed
// ids are reused by later inserts. Hashes must come from hashRow (or
// keyEval, which computes the same).
type keyIndex struct {
	nk    int
	slots []uint64 // 0: empty; low 32 bits tombSlot: removed
	bits  uint     // log2(len(slots))
	used  int      // slots live or tombstoned
	live  int
	keys  recs[types.Value]
	free  []int32  // removed ids, reused first
	gone  []uint64 // each's bitmap of the removed ids, kept for reuse
	text  strArena // the text of the keys
}

// strArena holds the strings of a keyIndex's keys one after the other in
// blocks, in the order the keys were added, instead of wherever the rows
// that brought them were allocated. Ids are handed out in the same order,
// so a pass over the keys in id order (keyIndex.each: a checkpoint, a
// restore, a rescale) reads their text sequentially: a checkpoint of a
// GROUP BY over 1 M text keys spent most of its time on one cache miss per
// key string when the strings lay where the input rows had put them. It
// also keeps the index from pinning whatever larger buffer an input
// string was cut from, and gives the collector a few large blocks to mark
// instead of one object per key.
//
// Written bytes are never changed (the strings handed out are immutable);
// a block stays alive while any string in it is used, by the index or by
// rows built from its keys. Removed keys leave their bytes behind (dead);
// once those outweigh the live ones (and 1 MiB), the live keys are copied
// into new blocks (keyIndex.compactText), so the index's own space is at
// most about twice the keys' text. A row emitted before a compaction (a
// view's row of a group that has not changed since) still holds its
// block: blocks are small (4 KiB) so that such a row cannot hold much
// more than its own text.
type strArena struct {
	block      []byte
	live, dead int // bytes
}

const (
	arenaBlock = 4 << 10 // bytes per block, at most
	arenaLarge = 1 << 10 // longer strings get an allocation of their own
)

// copy returns a copy of s in the arena.
func (a *strArena) copy(s string) string {
	n := len(s)
	if n == 0 {
		return ""
	}
	a.live += n
	if n > arenaLarge {
		return strings.Clone(s)
	}
	if len(a.block)+n > cap(a.block) {
		// Blocks grow from 256 bytes, so a small index (a window's keys)
		// takes little.
		a.block = make([]byte, 0, max(min(2*cap(a.block), arenaBlock), 256, n))
	}
	off := len(a.block)
	a.block = append(a.block, s...)
	return unsafe.String(&a.block[off], n)
}

const tombSlot = 1<<32 - 1

func newKeyIndex(nk, hint int) *keyIndex {
	m := &keyIndex{nk: nk, keys: newRecs[types.Value](nk, hint)}
	m.resize(hint)
	return m
}

// resize makes a table for live keys (at most half full) and places the
// live slots in it.
func (m *keyIndex) resize(live int) {
	bits := uint(3)
	for 1<<bits < 2*(live+1) {
		bits++
	}
	old := m.slots
	m.slots = make([]uint64, 1<<bits)
	m.bits = bits
	m.used = 0
	mask := len(m.slots) - 1
	for _, s := range old {
		if s == 0 || uint32(s) == tombSlot {
			continue
		}
		i := int(uint32(s>>32) >> (32 - bits))
		for m.slots[i] != 0 {
			i = (i + 1) & mask
		}
		m.slots[i] = s
		m.used++
	}
}

func (m *keyIndex) pos(h uint64) int { return int(uint32(h>>32) >> (32 - m.bits)) }

// find returns the id of key, or -1.
func (m *keyIndex) find(h uint64, key types.Row) int {
	tag := h >> 32
	mask := len(m.slots) - 1
	for i := m.pos(h); ; i = (i + 1) & mask {
		s := m.slots[i]
		if s == 0 {
			return -1
		}
		if s>>32 == tag && uint32(s) != tombSlot {
			id := int(uint32(s)) - 1
			if types.EqualRows(m.key(id), key) {
				return id
			}
		}
	}
}

// lookup returns the id of key, adding a copy of key when it is absent
// (added is then true).
func (m *keyIndex) lookup(h uint64, key types.Row) (id int, added bool) {
	tag := h >> 32
	mask := len(m.slots) - 1
	hole := -1
	i := m.pos(h)
	for ; ; i = (i + 1) & mask {
		s := m.slots[i]
		if s == 0 {
			break
		}
		if uint32(s) == tombSlot {
			if hole < 0 {
				hole = i
			}
			continue
		}
		if s>>32 == tag {
			id := int(uint32(s)) - 1
			if types.EqualRows(m.key(id), key) {
				return id, false
			}
		}
	}
	if hole < 0 && (m.used+1)*4 > len(m.slots)*3 {
		m.resize(m.live)
		mask = len(m.slots) - 1
		i = m.pos(h)
		for m.slots[i] != 0 {
			i = (i + 1) & mask
		}
	}
	if hole >= 0 {
		i = hole
	} else {
		m.used++
	}
	if n := len(m.free); n > 0 {
		id = int(m.free[n-1])
		m.free = m.free[:n-1]
	} else {
		id = m.keys.add()
	}
	rec := m.keys.at(id)
	for j, v := range key {
		v.S = m.text.copy(v.S)
		rec[j] = v
	}
	m.slots[i] = tag<<32 | uint64(id+1)
	m.live++
	return id, true
}

// remove removes the key of id; id may be reused by a later lookup.
func (m *keyIndex) remove(id int) {
	key := m.key(id)
	h := hashRow(key)
	mask := len(m.slots) - 1
	want := h>>32<<32 | uint64(id+1)
	for i := m.pos(h); m.slots[i] != 0; i = (i + 1) & mask {
		if m.slots[i] == want {
			m.slots[i] |= tombSlot
			for _, v := range key {
				m.text.live -= len(v.S)
				m.text.dead += len(v.S)
			}
			clear(key) // drop the strings the key refers to
			m.free = append(m.free, int32(id))
			m.live--
			if m.text.dead > 1<<20 && m.text.dead > m.text.live {
				m.compactText()
			}
			return
		}
	}
}

// compactText copies the text of the live keys into new blocks (see
// strArena): the old blocks go once no row uses their strings any more.
// A removed key's values are cleared, so every non-empty string belongs
// to a live key.
func (m *keyIndex) compactText() {
	m.text = strArena{}
	for id := range m.keys.n {
		for j, v := range m.keys.at(id) {
			if v.S != "" {
				m.keys.at(id)[j].S = m.text.copy(v.S)
			}
		}
	}
}

// clone returns a copy of the index for reading (find, key, each, len)
// that later changes to m do not reach: its table, keys and removed ids.
func (m *keyIndex) clone() *keyIndex {
	return &keyIndex{nk: m.nk, slots: append([]uint64(nil), m.slots...), bits: m.bits, used: m.used, live: m.live,
		keys: m.keys.clone(), free: slices.Clone(m.free)}
}

// key returns the key of id (the index's own copy: do not modify it).
func (m *keyIndex) key(id int) types.Row {
	if m.nk == 0 {
		return types.Row{}
	}
	return m.keys.at(id)
}

// len is the number of keys.
func (m *keyIndex) len() int { return m.live }

// ids is one more than the largest id handed out.
func (m *keyIndex) ids() int { return m.keys.n }

// each calls f with the id of every key, in ascending id order: the
// order the keys' records (and the per-id slices of their owner) lie in
// memory, so a pass over a large state reads it sequentially. Table order
// would visit the ids at random and miss the cache once per record read
// (a checkpoint of 1 M keys took 1.6 µs per key that way; see
// BenchmarkBaseCopy). f must not add or remove keys, nor call each.
func (m *keyIndex) each(f func(id int)) {
	n := m.keys.n
	if len(m.free) == 0 { // every id handed out is live
		for id := range n {
			f(id)
		}
		return
	}
	gone := slices.Grow(m.gone[:0], (n+63)/64)[:(n+63)/64]
	clear(gone)
	for _, id := range m.free {
		gone[id/64] |= 1 << (id % 64)
	}
	m.gone = gone // a TTL's expiry calls each at every watermark: no allocation each time
	for id := range n {
		if gone[id/64]&(1<<(id%64)) == 0 {
			f(id)
		}
	}
}
