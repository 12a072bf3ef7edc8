package exec

import (
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/sluice-db/sluice/sql/types"
)

// TestRowMapModel runs random inserts, lookups and removals (some while
// iterating) against a Go map, with hashes narrowed so that distinct keys
// share hashes and probe sequences collide.
func TestRowMapModel(t *testing.T) {
	for _, hashBits := range []uint{3, 8, 64} {
		rng := rand.New(rand.NewPCG(uint64(hashBits), 9))
		hash := func(k int64) uint64 {
			h := hashRow(types.Row{types.NewInt(k)})
			if hashBits < 64 {
				h &= 1<<hashBits - 1
			}
			return h
		}
		m := newRowMap[int64](0)
		model := map[int64]int64{}
		for step := range 20000 {
			k := rng.Int64N(500)
			key := types.Row{types.NewInt(k)}
			e := m.get(hash(k), key)
			v, ok := model[k]
			if (e != nil) != ok || (ok && e.val != v) {
				t.Fatalf("bits %d step %d: key %d: map has %v, model %v %v", hashBits, step, k, e != nil, v, ok)
			}
			switch op := rng.IntN(10); {
			case op < 5 && e == nil:
				m.insert(hash(k), key).val = int64(step)
				model[k] = int64(step)
			case op < 8 && e != nil:
				m.remove(e)
				delete(model, k)
			case op == 9 && step%50 == 0:
				// Remove about half the entries while iterating.
				seen, before := 0, m.len()
				m.each(func(e *rowEntry[int64]) {
					seen++
					if e.key[0].I%2 == int64(step/50%2) {
						delete(model, e.key[0].I)
						m.remove(e)
					}
				})
				if seen != before || m.len() != len(model) {
					t.Fatalf("bits %d step %d: each saw %d, len %d, model %d", hashBits, step, seen, m.len(), len(model))
				}
			}
			if m.len() != len(model) {
				t.Fatalf("bits %d step %d: len %d, model %d", hashBits, step, m.len(), len(model))
			}
		}
		n := 0
		m.each(func(e *rowEntry[int64]) {
			n++
			if v, ok := model[e.key[0].I]; !ok || v != e.val {
				t.Fatalf("bits %d: each gave %d=%d, model %d %v", hashBits, e.key[0].I, e.val, v, ok)
			}
		})
		if n != len(model) {
			t.Fatalf("bits %d: each saw %d entries, model has %d", hashBits, n, len(model))
		}
	}
}

// TestRowMapProbesStayShortBehindShuffle: the keys a copy behind a shuffle
// sees all share their hash bits from 17 up modulo the copies; the map's
// probe sequences must stay short for them (they ran through half the
// table when the probe started at the hash's low bits).
func TestRowMapProbesStayShortBehindShuffle(t *testing.T) {
	for _, copies := range []uint64{2, 3} {
		m := newRowMap[struct{}](64)
		for i := 0; m.len() < 300_000; i++ {
			key := types.Row{types.NewText("k" + strconv.Itoa(i))}
			if h := hashRow(key); (h>>17)%copies == 1 {
				m.insert(h, key)
			}
		}
		mask := uint64(len(m.tab) - 1)
		longest := uint64(0)
		for i, s := range m.tab {
			if s.e != nil {
				longest = max(longest, (uint64(i)-probeStart(s.h, mask))&mask)
			}
		}
		if longest > 200 {
			t.Errorf("%d copies: a probe of %d slots in a table of %d", copies, longest, len(m.tab))
		}
	}
}

// TestRowLogAndSlabRows checks an append-only store's row log (pages that
// are never copied) from every starting index, and that the rows it cuts
// from a slab are copies that an append to cannot overwrite a neighbour of.
func TestRowLogAndSlabRows(t *testing.T) {
	s := &viewStore{appendOnly: true}
	in := types.Row{types.NewInt(0), types.NewText("a"), types.NewInt(0)}
	const n = 3*rowLogPage + 77
	var stored []types.Row
	for i := range n {
		in[0], in[2] = types.NewInt(int64(i)), types.NewInt(int64(-i))
		cp := s.appendRow(in)
		s.app.add(cp)
		stored = append(stored, cp)
	}
	in[0] = types.NewInt(-1) // the input's buffer is reused: the copies stay
	if s.app.len() != n {
		t.Fatalf("len %d, want %d", s.app.len(), n)
	}
	for _, from := range []int{0, 1, 15, 16, rowLogPage - 1, rowLogPage, rowLogPage + 1, n - 1, n} {
		next := from
		s.app.each(from, func(i int, r types.Row) {
			if i != next || r[0].I != int64(i) || r[2].I != int64(-i) {
				t.Fatalf("from %d: row %d is %v, want index %d", from, i, r, next)
			}
			next++
		})
		if next != n {
			t.Fatalf("from %d: visited up to %d, want %d", from, next, n)
		}
	}
	grown := append(stored[5], types.NewInt(99))
	if stored[6][0].I != 6 || len(grown) != 4 || cap(stored[5]) != 3 {
		t.Fatalf("an append to a stored row reached its neighbour: %v", stored[6])
	}
}
