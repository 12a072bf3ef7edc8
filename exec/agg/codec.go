package agg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/sluice-db/sluice/sql/types"
)

// The checkpoint encoding of a state: a tag byte naming the state type, then
// the state's fields as varints, raw 8-byte floats and length-prefixed
// strings. It is private to this package; only a state of the same Agg reads
// it back.

var errCorrupt = errors.New("corrupt aggregate state")

type encoder struct{ b []byte }

func newEncoder(tag byte) *encoder { return &encoder{b: []byte{tag}} }

func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) float(f float64)  { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f)) }
func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}
func (e *encoder) str(s string) {
	e.uvarint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *encoder) value(v types.Value) {
	e.b = append(e.b, byte(v.K))
	e.varint(v.I)
	e.str(v.S)
}

type decoder struct {
	b   []byte
	err error
}

func newDecoder(b []byte, tag byte) *decoder {
	d := &decoder{b: b}
	if len(b) == 0 || b[0] != tag {
		d.err = fmt.Errorf("%w: expected tag %d", errCorrupt, tag)
		return d
	}
	d.b = b[1:]
	return d
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) float() float64 {
	if d.err != nil || len(d.b) < 8 {
		d.fail()
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return f
}

func (d *decoder) bool() bool {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return false
	}
	v := d.b[0] != 0
	d.b = d.b[1:]
	return v
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.err != nil || uint64(len(d.b)) < n {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil || uint64(len(d.b)) < n {
		d.fail()
		return nil
	}
	s := d.b[:n:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) value() types.Value {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return types.Value{}
	}
	k := types.Kind(d.b[0])
	d.b = d.b[1:]
	i := d.varint()
	s := d.str()
	return types.Value{K: k, I: i, S: s}
}

// done returns the decoding error, or an error when bytes are left over.
func (d *decoder) done() error {
	if d.err != nil {
		return fmt.Errorf("unmarshal aggregate state: %w", d.err)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("unmarshal aggregate state: %w: %d trailing bytes", errCorrupt, len(d.b))
	}
	return nil
}

// State tags.
const (
	tagCount byte = iota + 1
	tagCountStar
	tagIntSum
	tagFloatSum
	tagNumericSum
	tagMinMaxInt
	tagMinMax
	tagMultiset
	tagBool
	tagDistinct
	tagFirstLast
	tagOrdered
	tagStringAgg
	tagHLL
	tagTDigest
)
