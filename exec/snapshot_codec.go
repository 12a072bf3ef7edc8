package exec

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"

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
func (e *snapEnc) value(v types.Value) {
	e.b = append(e.b, byte(v.K))
	e.varint(v.I)
	e.str(v.S)
}

// row encodes a row; a nil row is distinct from an empty one.
func (e *snapEnc) row(r types.Row) {
	if r == nil {
		e.uvarint(0)
		return
	}
	e.uvarint(uint64(len(r)) + 1)
	for _, v := range r {
		e.value(v)
	}
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
