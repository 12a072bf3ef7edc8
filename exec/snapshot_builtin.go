package exec

import "github.com/sluice-db/sluice/sql/types"

// Checkpoint encodings of the engine's built-in accumulators (accum.go).
// When the engine switches to exec/agg, whose states marshal themselves,
// this file goes away with the built-in states.

func (s *countState) MarshalBinary() ([]byte, error) {
	e := snapEnc{b: []byte{'c'}}
	e.varint(s.n)
	return e.b, nil
}

func (s *countState) UnmarshalBinary(b []byte) error {
	d := snapDec{b: b}
	if len(b) == 0 || b[0] != 'c' {
		return errSnapshotCorrupt
	}
	d.b = b[1:]
	s.n = d.varint()
	return d.done()
}

func (s *sumState) MarshalBinary() ([]byte, error) {
	e := snapEnc{b: []byte{'s'}}
	e.varint(s.n)
	e.varint(s.i)
	e.value(types.NewFloat(s.f))
	e.bool(s.float)
	return e.b, nil
}

func (s *sumState) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != 's' {
		return errSnapshotCorrupt
	}
	d := snapDec{b: b[1:]}
	s.n = d.varint()
	s.i = d.varint()
	s.f = d.value().Float()
	s.float = d.bool()
	return d.done()
}

func (s *minMaxState) MarshalBinary() ([]byte, error) {
	e := snapEnc{b: []byte{'m'}}
	e.bool(s.set)
	e.value(s.v)
	e.uvarint(uint64(len(s.bag)))
	for v, n := range s.bag {
		e.value(v)
		e.varint(n)
	}
	return e.b, nil
}

func (s *minMaxState) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != 'm' {
		return errSnapshotCorrupt
	}
	d := snapDec{b: b[1:]}
	s.set = d.bool()
	s.v = d.value()
	n := d.count(3)
	s.bag = nil
	if n > 0 {
		s.bag = make(map[types.Value]int64, n)
	}
	for range n {
		v := d.value()
		s.bag[v] = d.varint()
	}
	return d.done()
}
