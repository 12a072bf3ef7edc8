package exec

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// errSnapshotCorrupt is returned when an operator snapshot cannot be decoded.
var errSnapshotCorrupt = errors.New("corrupt operator snapshot")

// snapEnc appends the checkpoint encoding of operator state: varints,
// length-prefixed strings and values (kind byte, varint I, string S).
type snapEnc struct{ b []byte }

func (e *snapEnc) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *snapEnc) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *snapEnc) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *snapEnc) bytes(b []byte) {
	e.uvarint(uint64(len(b)))
	e.b = append(e.b, b...)
}
func (e *snapEnc) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *snapEnc) value(v types.Value) { e.b = appendValue(e.b, v) }

// row encodes a row; a nil row is distinct from an empty one.
func (e *snapEnc) row(r types.Row) { e.b = appendRow(e.b, r) }

// appendValue and appendRow are snapEnc.value and snapEnc.row on a plain
// slice: working on a local slice saves a write barrier per append while
// the garbage collector runs.
func appendValue(b []byte, v types.Value) []byte {
	b = append(b, byte(v.K))
	b = binary.AppendVarint(b, v.I)
	b = binary.AppendUvarint(b, uint64(len(v.S)))
	return append(b, v.S...)
}

func appendRow(b []byte, r types.Row) []byte {
	if r == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(r))+1)
	for _, v := range r {
		b = appendValue(b, v)
	}
	return b
}

// acc encodes an accumulator through its MarshalBinary.
func (e *snapEnc) acc(s accState) error {
	m, ok := s.(encoding.BinaryMarshaler)
	if !ok {
		return fmt.Errorf("aggregate state %T cannot be checkpointed", s)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("encode aggregate state: %w", err)
	}
	e.bytes(b)
	return nil
}

func (e *snapEnc) accs(ss []accState) error {
	e.uvarint(uint64(len(ss)))
	for _, s := range ss {
		if err := e.acc(s); err != nil {
			return err
		}
	}
	return nil
}

// spill writes the bytes e holds to w once there are viewChunk of them,
// and empties e (w nil: e keeps them).
func (e *snapEnc) spill(w io.Writer) error {
	if w == nil || len(e.b) < viewChunk {
		return nil
	}
	_, err := w.Write(e.b)
	e.b = e.b[:0]
	return err
}

// snapDec reads what snapEnc wrote; the first error sticks.
type snapDec struct {
	b   []byte
	err error
}

func (d *snapDec) fail() {
	if d.err == nil {
		d.err = errSnapshotCorrupt
	}
	d.b = nil
}

func (d *snapDec) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *snapDec) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *snapDec) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *snapDec) bool() bool {
	if len(d.b) < 1 {
		d.fail()
		return false
	}
	v := d.b[0] != 0
	d.b = d.b[1:]
	return v
}

// count reads a length and checks it against the bytes left (each item
// takes at least min bytes), so a corrupt length cannot allocate wildly.
func (d *snapDec) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/max(min, 1)+1) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *snapDec) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}

func (d *snapDec) str() string { return string(d.bytes()) }

func (d *snapDec) value() types.Value {
	if len(d.b) < 1 {
		d.fail()
		return types.Value{}
	}
	k := types.Kind(d.b[0])
	d.b = d.b[1:]
	return types.Value{K: k, I: d.varint(), S: d.str()}
}

func (d *snapDec) row() types.Row {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	n--
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	r := make(types.Row, n)
	for i := range r {
		r[i] = d.value()
	}
	return r
}

// accs decodes accumulators into fresh states of aggs.
func (d *snapDec) accs(aggs []aggFn) []accState {
	n := d.count(1)
	if d.err != nil {
		return nil
	}
	if n != len(aggs) {
		d.err = fmt.Errorf("%w: %d aggregate states for %d aggregates", errSnapshotCorrupt, n, len(aggs))
		return nil
	}
	out := make([]accState, n)
	for i, a := range aggs {
		s := a.NewState()
		b := d.bytes()
		if d.err != nil {
			return nil
		}
		u, ok := s.(encoding.BinaryUnmarshaler)
		if !ok {
			d.err = fmt.Errorf("aggregate state %T cannot be restored", s)
			return nil
		}
		if err := u.UnmarshalBinary(b); err != nil {
			d.err = fmt.Errorf("decode aggregate state: %w", err)
			return nil
		}
		out[i] = s
	}
	return out
}

func (d *snapDec) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d trailing bytes", errSnapshotCorrupt, len(d.b))
	}
	return d.err
}

// viewChunk is how much encoded view data is buffered before it is
// written out.
const viewChunk = 64 << 10

// viewBufs recycles the buffers of writeViewBase and writeViewDelta.
var viewBufs = sync.Pool{New: func() any { b := make([]byte, 0, viewChunk+4<<10); return &b }}

// writeViewBase writes a view's contents as captured by
// viewStore.captureBase, with its watermark, in the format restoreView
// reads, to w in chunks.
func writeViewBase(w io.Writer, wm int64, rows []viewChange) error {
	return writeViewRows(w, binary.AppendVarint(nil, wm), rows, func(b []byte, c viewChange) []byte {
		return binary.AppendVarint(appendRow(b, c.row), c.n)
	})
}

// writeViewRows writes head, the number of rows, and each row as enc
// encodes it, to w in pieces of about viewChunk bytes.
func writeViewRows(w io.Writer, head []byte, rows []viewChange, enc func([]byte, viewChange) []byte) error {
	bp := viewBufs.Get().(*[]byte)
	defer viewBufs.Put(bp)
	b := append((*bp)[:0], head...)
	defer func() { *bp = b[:0] }()
	b = binary.AppendUvarint(b, uint64(len(rows)))
	for _, c := range rows {
		b = enc(b, c)
		if len(b) >= viewChunk {
			if _, err := w.Write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	_, err := w.Write(b)
	return err
}

// writeViewDelta writes changes captured by viewStore.captureDelta as
// (count, row) pairs, applied in order by restoreViewDelta.
func writeViewDelta(w io.Writer, changes []viewChange) error {
	return writeViewRows(w, nil, changes, func(b []byte, c viewChange) []byte {
		return appendRow(binary.AppendVarint(b, c.n), c.row)
	})
}

// restoreView replaces a view's contents with a snapshot's.
func restoreView(r *relation, b []byte) error {
	d := &snapDec{b: b}
	wm := d.varint()
	n := d.count(2)
	s := newViewStoreSized(r.key, r.appendOnly, n)
	for range n {
		row, k := d.row(), d.varint()
		if d.err != nil {
			break
		}
		if k <= 0 {
			continue
		}
		_, stored := s.apply(chunk.Insert, row)
		switch {
		case s.appendOnly:
			for range k - 1 { // a base written by a multiset store counts copies
				s.apply(chunk.Insert, row)
			}
		case s.multi != nil:
			e := s.multi.get(hashRow(stored), stored)
			e.val.n = k
		}
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("restore view %s: %w", r.name, err)
	}
	r.mu.Lock()
	s.indexed = len(r.indexes) > 0
	r.store = s
	r.lastWM = wm
	r.mu.Unlock()
	return nil
}

// restoreViewDelta applies a delta written by encodeViewDelta (the
// caller holds the relation's write lock).
func restoreViewDelta(r *relation, b []byte) error {
	d := &snapDec{b: b}
	nc := d.count(2)
	for range nc {
		k := d.varint()
		row := d.row()
		if d.err != nil {
			break
		}
		op := chunk.Insert
		if k < 0 {
			op, k = chunk.Delete, -k
		}
		for _, c := range r.key {
			if c >= len(row) {
				return fmt.Errorf("%w: view delta row of %d values", errSnapshotCorrupt, len(row))
			}
		}
		for range k {
			r.store.apply(op, row)
		}
	}
	return d.done()
}

// encSizer guesses the bytes n entries (groups, keys) of a snapshot or
// delta encode to from the last one, so that the encoder's buffer is not
// regrown (and copied) a dozen times on the way to tens of megabytes.
// A base encoded by the checkpoint writer (baseLater) notes its size from
// that goroutine, hence the atomic.
type encSizer struct{ per atomic.Int64 }

// encoder returns an encoder with room for n entries.
func (s *encSizer) encoder(n int) *snapEnc {
	return &snapEnc{b: make([]byte, 0, 64+n*int(max(s.per.Load(), 16))*9/8)}
}

// note records that n entries encoded to bytes.
func (s *encSizer) note(bytes, n int) {
	if n > 0 {
		s.per.Store(int64(bytes / n))
	}
}
