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
