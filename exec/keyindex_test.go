package exec

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/sluice-db/sluice/sql/types"
)

// TestKeyIndexAgainstMap runs random inserts, lookups and removals on a
// keyIndex next to a Go map: the same keys are found with stable ids,
// removed ids are reused, and each visits exactly the live keys, across
// growth and tombstone rehashes.
func TestKeyIndexAgainstMap(t *testing.T) {
	for _, nk := range []int{0, 1, 2} {
		rng := rand.New(rand.NewPCG(uint64(nk), 9))
		m := newKeyIndex(nk, 4)
		ref := map[string]int{}
		owner := map[int]string{} // live id -> key
		key := func(i int) types.Row {
			r := make(types.Row, nk)
			for c := range r {
				if c == 0 {
					r[c] = types.NewText("k" + strconv.Itoa(i))
				} else {
					r[c] = types.NewInt(int64(i % 7))
				}
			}
			return r
		}
		name := func(r types.Row) string { return renderRows([]types.Row{r}) }
		for step := range 20000 {
			k := key(rng.IntN(3000))
			h := hashRow(k)
			id := m.find(h, k)
			want, ok := ref[name(k)]
			if ok != (id >= 0) || ok && id != want {
				t.Fatalf("nk %d step %d: find %v = %d, want %d (present %v)", nk, step, k, id, want, ok)
			}
			switch {
			case !ok && rng.IntN(3) > 0:
				id, added := m.lookup(h, k)
				if !added {
					t.Fatalf("lookup of a new key did not add it")
				}
				if nk > 0 && !types.EqualRows(m.key(id), k) {
					t.Fatalf("stored key %v, want %v", m.key(id), k)
				}
				if o, taken := owner[id]; taken {
					t.Fatalf("id %d handed out again while %s holds it", id, o)
				}
				ref[name(k)] = id
				owner[id] = name(k)
			case ok && rng.IntN(2) == 0:
				if got, added := m.lookup(h, k); added || got != want {
					t.Fatalf("lookup of a present key: %d, %v", got, added)
				}
			case ok:
				m.remove(want)
				delete(ref, name(k))
				delete(owner, want)
			}
			if m.len() != len(ref) {
				t.Fatalf("len %d, want %d", m.len(), len(ref))
			}
		}
		seen := map[int]bool{}
		var order []int
		m.each(func(id int) {
			if seen[id] {
				t.Fatalf("id %d visited twice", id)
			}
			seen[id] = true
			if len(order) > 0 && id < order[len(order)-1] {
				t.Fatalf("each visited id %d after %d: not in ascending order", id, order[len(order)-1])
			}
			order = append(order, id)
			if ref[name(m.key(id))] != id {
				t.Fatalf("each visited id %d of key %v, not live", id, m.key(id))
			}
		})
		if len(seen) != len(ref) {
			t.Fatalf("each visited %d keys, want %d", len(seen), len(ref))
		}
		// A clone (a checkpoint's copy) visits the same ids, removed ones
		// left out, however the original changes after it.
		c := m.clone()
		for i := range 100 {
			if k := key(3000 + i); i%2 == 0 {
				m.lookup(hashRow(k), k)
			} else if len(order) > i {
				m.remove(order[i])
			}
		}
		var again []int
		c.each(func(id int) { again = append(again, id) })
		if !slices.Equal(again, order) {
			t.Fatalf("the clone's each visited %d ids, not the %d of the original at the copy", len(again), len(order))
		}
		if nk > 0 && m.ids() > 3000 {
			t.Fatalf("%d ids for at most 3000 keys: removed ids were not reused", m.ids())
		}
	}
}

// TestRecsPages checks that records keep their contents across page
// growth and that a full page is never moved.
func TestRecsPages(t *testing.T) {
	r := newRecs[int64](3, 5)
	for i := range 5000 {
		if id := r.add(); id != i {
			t.Fatalf("add returned %d, want %d", id, i)
		}
		w := r.at(i)
		w[0], w[1], w[2] = int64(i), int64(-i), 7
	}
	first := &r.at(1<<recPageBits + 1)[0]
	for range 3000 {
		r.add()
	}
	if first != &r.at(1<<recPageBits + 1)[0] {
		t.Fatal("a record of a full page moved")
	}
	for i := range 5000 {
		if w := r.at(i); w[0] != int64(i) || w[1] != int64(-i) || w[2] != 7 {
			t.Fatalf("record %d = %v", i, w)
		}
	}
	if got := len(r.pages); got != 8 {
		t.Fatalf("%d pages for 8000 records, want 8", got)
	}
	var z recs[int64]
	z.add()
	if z.at(0) != nil {
		t.Fatal("a zero-width record is not empty")
	}
}

// TestAscending puts lists of ids in order without repeats, by sorting (a
// short list) and through a bitmap (a long one).
func TestAscending(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	for _, c := range []struct{ n, ids int }{{10, 0}, {10, 5}, {1000, 63}, {1000, 500}, {100000, 200}, {100000, 90000}, {64, 64}} {
		ids := make([]int32, c.ids)
		for i := range ids {
			ids[i] = int32(rng.IntN(c.n))
		}
		want := slices.Compact(slices.Sorted(slices.Values(ids)))
		if got := ascending(slices.Clone(ids), c.n); !slices.Equal(got, want) {
			t.Fatalf("n %d, %d ids: %v, want %v", c.n, c.ids, got, want)
		}
	}
}

// TestByAddress puts entries in address order, by comparison (a short
// list) and by the radix sort (a long one), keeping every entry once.
func TestByAddress(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for _, n := range []int{0, 1, 100, 2047, 2048, 50000} {
		es := make([]*rowEntry[int], n)
		for i := range es {
			es[i] = &rowEntry[int]{val: i}
		}
		rng.Shuffle(n, func(i, j int) { es[i], es[j] = es[j], es[i] })
		byAddress(es)
		seen := make([]bool, n)
		for i, e := range es {
			if i > 0 && uintptr(unsafe.Pointer(es[i-1])) >= uintptr(unsafe.Pointer(e)) {
				t.Fatalf("n %d: entry %d is not above entry %d in memory", n, i, i-1)
			}
			if seen[e.val] {
				t.Fatalf("n %d: entry %d twice", n, e.val)
			}
			seen[e.val] = true
		}
	}
}

// TestKeyIndexText checks the arena of key text (strArena): a key's text
// is copied (the index never refers to the buffer an input string was
// cut from), keys added one after another lie one after another in
// memory, and once removed keys leave more dead text than live (and over
// 1 MiB) the live keys are copied together again, each still found.
func TestKeyIndexText(t *testing.T) {
	const n = 40000
	// Every input key is cut from one buffer, as a decoder may cut them.
	var buf strings.Builder
	for i := range n {
		fmt.Fprintf(&buf, "campaign-%08d-%s", i, strings.Repeat("x", 30))
	}
	in := buf.String()
	w := len(in) / n
	key := func(i int) types.Row { return types.Row{types.NewText(in[i*w : (i+1)*w]), types.NewInt(int64(i))} }
	inBuf := func(s string) bool {
		p, b := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(in)))
		return p >= b && p < b+uintptr(len(in))
	}
	m := newKeyIndex(2, 16)
	for i := range n {
		if _, added := m.lookup(hashRow(key(i)), key(i)); !added {
			t.Fatalf("key %d not added", i)
		}
	}
	adjacent := func(ids []int) int {
		next := 0
		for x := 1; x < len(ids); x++ {
			a, b := m.key(ids[x-1])[0].S, m.key(ids[x])[0].S
			if uintptr(unsafe.Pointer(unsafe.StringData(a)))+uintptr(len(a)) == uintptr(unsafe.Pointer(unsafe.StringData(b))) {
				next++
			}
		}
		return next
	}
	var ids []int
	m.each(func(id int) { ids = append(ids, id) })
	for _, id := range ids {
		if inBuf(m.key(id)[0].S) {
			t.Fatalf("key %d refers to the input's buffer", id)
		}
	}
	// Only a new block breaks the run.
	blocks := n*w/(arenaBlock-w) + 10 // and the first, growing ones
	if got := adjacent(ids); len(ids)-1-got > blocks {
		t.Fatalf("%d of %d keys follow the previous one in memory: more breaks than blocks (%d)", got, len(ids)-1, blocks)
	}
	if m.text.live != n*w || m.text.dead != 0 {
		t.Fatalf("text live %d dead %d, want %d and 0", m.text.live, m.text.dead, n*w)
	}
	// Remove nine keys in ten: past 1 MiB of dead text outweighing the
	// live, the live text is copied together again.
	kept := map[int]bool{}
	compacted := false
	for i := range n {
		if i%10 == 3 {
			kept[i] = true
			continue
		}
		m.remove(m.find(hashRow(key(i)), key(i)))
		if m.text.dead == 0 {
			compacted = true
		}
	}
	if !compacted {
		t.Fatalf("never compacted: text live %d dead %d", m.text.live, m.text.dead)
	}
	if m.text.dead > 1<<20 || m.text.live != len(kept)*w {
		t.Fatalf("text live %d dead %d after removals, want %d live and at most 1 MiB dead", m.text.live, m.text.dead, len(kept)*w)
	}
	for i := range n {
		id := m.find(hashRow(key(i)), key(i))
		if (id >= 0) != kept[i] {
			t.Fatalf("key %d found %v, kept %v", i, id >= 0, kept[i])
		}
		if id >= 0 && !types.EqualRows(m.key(id), key(i)) {
			t.Fatalf("key %d reads %v", i, m.key(id))
		}
	}
	// Copied together: the keys live at the compaction follow one
	// another, but for those removed since.
	m.compactText()
	ids = ids[:0]
	m.each(func(id int) { ids = append(ids, id) })
	if got := adjacent(ids); len(ids)-1-got > len(ids)*w/(arenaBlock-w)+10 {
		t.Fatalf("after compaction %d of %d keys follow the previous one in memory", got, len(ids)-1)
	}
	// A long string gets an allocation of its own, not the input's.
	long := in[:4*arenaLarge]
	id, _ := m.lookup(hashRow(types.Row{types.NewText(long), types.NewInt(0)}), types.Row{types.NewText(long), types.NewInt(0)})
	if s := m.key(id)[0].S; s != long || inBuf(s) {
		t.Fatalf("long key stored as %d bytes, in the input's buffer %v", len(s), inBuf(s))
	}
}
