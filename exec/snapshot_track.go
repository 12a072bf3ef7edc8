package exec

import (
	"errors"
	"math/bits"
	"slices"

	"github.com/sluice-db/sluice/sql/types"
)

// The checkpoint flags of a key or entry of incrementally checkpointed
// state (sessionOp.ckKey, entryTracker).
const (
	keyCkDirty = 1 << iota // changed since the last capture, listed as such
	keyCkSaved             // in the last base or a delta since
)

// goneKeys lists the keys of the saved state removed since the last
// capture (the group aggregate's and the sessions'), one after the other
// in one slice: a million sessions closing at once cost no allocation
// each. Every key has the same number of values (nk).
//
// Once the list holds goneMin keys and as many as the state still holds
// (a mass expiry: sessions closing at the end of a stream, a TTL), a base
// of what is left is smaller to write and quicker to restore than a delta
// listing every removed key: the list is dropped and stops (over), and the
// operator's next capture must be a base (needBase).
type goneKeys struct {
	nk   int
	vals []types.Value
	n    int
	over bool
}

const goneMin = 4096

// add records a removed saved key; live is how many keys the state holds
// after its removal.
func (g *goneKeys) add(key types.Row, live int) {
	if g.over {
		return
	}
	if g.n >= goneMin && g.n >= live {
		g.vals, g.n, g.over = nil, 0, true
		return
	}
	g.nk = len(key)
	g.vals = append(g.vals, key...)
	g.n++
}

func (g *goneKeys) len() int { return g.n }

// key returns the i-th key listed (valid until reset).
func (g *goneKeys) key(i int) types.Row { return g.vals[i*g.nk : (i+1)*g.nk : (i+1)*g.nk] }

// reset empties the list, giving its memory back, after a capture.
func (g *goneKeys) reset() { g.vals, g.n, g.over = nil, 0, false }

// errBaseDue is a delta asked for while a base is due (needBase): the
// changes since the last capture were not all kept, or ids moved.
var errBaseDue = errors.New("a base is due, not a delta")

// entryTracker keeps, for the incremental checkpoints (incSnapshotter) of
// state held in a rowMap (dedup, top-N, the joins), the entries changed
// since the last capture and the keys of the saved entries removed since.
// Each entry carries its own flags (keyCkDirty, keyCkSaved), which flags
// returns. An entry removed from its map is never reused, so it is listed
// at most once; removed clears its flags, so a listed entry that went is
// skipped.
type entryTracker[V any] struct {
	on    bool // tracking: set by startTracking, off while a restore drops entries
	flags func(*rowEntry[V]) *uint8
	dirty []*rowEntry[V]
	gone  []types.Row
}

// mark records that e changed since the last capture.
func (t *entryTracker[V]) mark(e *rowEntry[V]) {
	if !t.on {
		return // no checkpoints: the row path pays one branch
	}
	if f := t.flags(e); *f&keyCkDirty == 0 {
		*f |= keyCkDirty
		t.dirty = append(t.dirty, e)
	}
}

// removed records that e left its map: its key, when a checkpoint holds it.
func (t *entryTracker[V]) removed(e *rowEntry[V]) {
	f := t.flags(e)
	if t.on && *f&keyCkSaved != 0 {
		t.gone = append(t.gone, e.key) // the entry's own copy, never reused
	}
	*f = 0
}

// saved marks e as held by the base being written.
func (t *entryTracker[V]) saved(e *rowEntry[V]) { *t.flags(e) = keyCkSaved }

// reset forgets the changes: after a base, or a restore.
func (t *entryTracker[V]) reset() {
	clear(t.dirty)
	t.dirty, t.gone = t.dirty[:0], nil
}

// pending is how many entries the next delta may hold.
func (t *entryTracker[V]) pending() int { return len(t.dirty) + len(t.gone) }

// quietly runs f (a restore dropping entries) without tracking.
func (t *entryTracker[V]) quietly(f func()) {
	on := t.on
	t.on = false
	f()
	t.on = on
}

// delta appends to e the keys removed, then the entries changed, each as
// enc encodes it, marks those saved and resets; superseded counts the
// entries of earlier parts they replace or remove.
func (t *entryTracker[V]) delta(e *snapEnc, enc func(*snapEnc, *rowEntry[V])) (changes, superseded int) {
	e.uvarint(uint64(len(t.gone)))
	for _, k := range t.gone {
		e.row(k)
	}
	superseded = 2 * len(t.gone)
	live := t.dirty[:0]
	for _, x := range t.dirty {
		if *t.flags(x)&keyCkDirty != 0 {
			live = append(live, x)
		}
	}
	e.uvarint(uint64(len(live)))
	for _, x := range live {
		f := t.flags(x)
		if *f&keyCkSaved != 0 {
			superseded++
		}
		*f = keyCkSaved
		enc(e, x)
	}
	changes = len(t.gone) + len(live)
	t.reset()
	return changes, superseded
}

// restoreEntries reads what entryTracker.delta wrote: drop gets each
// removed key, decode reads each changed entry (false: an error, in d.err).
func restoreEntries(d *snapDec, drop func(key types.Row), decode func(*snapDec) bool) {
	gone := d.count(1)
	for range gone {
		key := d.row()
		if d.err != nil {
			return
		}
		drop(key)
	}
	n := d.count(2)
	for range n {
		if !decode(d) {
			return
		}
	}
}

// ascending sorts a list of record ids below n into ascending order and
// drops repeats, in place, so that a delta reads the records it encodes in
// the order they lie in memory (see keyIndex.each): an operator changes its
// keys in the order their rows arrive, which for many keys is random, and
// reading 1 M records at random costs a cache miss each. A long list (one
// id in 16 or more) is put in order through a bitmap of n bits, a short
// one by sorting.
func ascending[T int | int32](ids []T, n int) []T {
	if len(ids) < 64 || len(ids)*16 < n {
		slices.Sort(ids)
		return slices.Compact(ids)
	}
	set := make([]uint64, (n+63)/64)
	for _, id := range ids {
		set[id/64] |= 1 << (id % 64)
	}
	out := ids[:0]
	for w, word := range set {
		for word != 0 {
			out = append(out, T(w*64+bits.TrailingZeros64(word)))
			word &= word - 1
		}
	}
	return out
}
