package agg

import (
	"math"
	"math/bits"
	"slices"
	"unsafe"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
	"github.com/influxdata/tdigest"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// ---- approx_count_distinct ----

// hllState is a HyperLogLog sketch (precision 14, sparse while small),
// created on the first input so that empty groups cost nothing.
type hllState struct {
	a  *Agg
	sk *hyperloglog.Sketch
	// ins bounds the sketch's size for SizeBytes without encoding it:
	// inputs seen (or encoded bytes after a restore).
	ins int64
}

func (s *hllState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	v, ok, err := s.a.input(ctx, row)
	if !ok {
		return err
	}
	if op == chunk.Delete {
		return s.a.errNoRetract()
	}
	if s.sk == nil {
		s.sk = hyperloglog.New14()
	}
	s.sk.InsertHash(hashKey(distinctKey(v)))
	s.ins++
	return nil
}
func (s *hllState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	return s.Update(ctx, row, op)
}
func (s *hllState) Merge(other State) error {
	o, ok := other.(*hllState)
	if !ok {
		return mismatch(s, other)
	}
	s.ins += o.ins
	switch {
	case o.sk == nil:
	case s.sk == nil:
		s.sk = o.sk.Clone() // other stays usable (hop panes merge into many windows)
	default:
		return s.sk.Merge(o.sk)
	}
	return nil
}
func (s *hllState) Result() types.Value {
	if s.sk == nil {
		return types.NewInt(0)
	}
	return types.NewInt(int64(s.sk.Estimate()))
}

// hllDenseBytes is the size of a dense precision-14 sketch's registers.
const hllDenseBytes = 1 << 14

// SizeBytes approximates the sketch cheaply: a sparse sketch takes a few
// bytes per input, a dense one 16 KiB of registers.
func (s *hllState) SizeBytes() int {
	n := int(unsafe.Sizeof(*s))
	if s.sk != nil {
		n += int(unsafe.Sizeof(*s.sk)) + int(min(4*s.ins, hllDenseBytes))
	}
	return n
}
func (s *hllState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagHLL)
	e.bool(s.sk != nil)
	if s.sk != nil {
		b, err := s.sk.MarshalBinary()
		if err != nil {
			return nil, err
		}
		e.str(string(b))
	}
	return e.b, nil
}
func (s *hllState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagHLL)
	var sk *hyperloglog.Sketch
	if d.bool() {
		raw := d.bytes()
		if d.err == nil {
			sk = new(hyperloglog.Sketch)
			if err := sk.UnmarshalBinary(raw); err != nil {
				return err
			}
		}
	}
	if err := d.done(); err != nil {
		return err
	}
	s.sk, s.ins = sk, int64(len(b))
	return nil
}

// ---- approx_percentile ----

// exactLimit is how many inputs approx_percentile keeps exactly before it
// switches to a t-digest (whose buffers cost ~16 KiB).
const exactLimit = 32

// tdCompression is the t-digest compression (accuracy/size trade-off).
const tdCompression = 100

// percentileState answers exactly (linear interpolation, as
// percentile_cont) while it holds at most exactLimit values, then
// approximately with a t-digest.
type percentileState struct {
	a    *Agg
	vals []float64
	td   *tdigest.TDigest
}

func (s *percentileState) Update(ctx *expr.Context, row types.Row, op chunk.Op) error {
	v, ok, err := s.a.input(ctx, row)
	if !ok {
		return err
	}
	if op == chunk.Delete {
		return s.a.errNoRetract()
	}
	s.add(v.Float(), 1)
	return nil
}

func (s *percentileState) add(x, w float64) {
	if math.IsNaN(x) {
		return
	}
	if s.td == nil && w == 1 && len(s.vals) < exactLimit {
		s.vals = append(s.vals, x)
		return
	}
	if s.td == nil {
		s.td = tdigest.NewWithCompression(tdCompression)
		for _, v := range s.vals {
			s.td.Add(v, 1)
		}
		s.vals = nil
	}
	s.td.Add(x, w)
}

func (s *percentileState) UpdateAt(ctx *expr.Context, row types.Row, op chunk.Op, _ int64) error {
	return s.Update(ctx, row, op)
}
func (s *percentileState) Merge(other State) error {
	o, ok := other.(*percentileState)
	if !ok {
		return mismatch(s, other)
	}
	for _, v := range o.vals {
		s.add(v, 1)
	}
	if o.td != nil {
		for _, c := range o.td.Centroids() {
			s.add(c.Mean, c.Weight)
		}
	}
	return nil
}
func (s *percentileState) Result() types.Value {
	f := s.a.fraction
	if s.td != nil {
		return types.NewFloat(s.td.Quantile(f))
	}
	if len(s.vals) == 0 {
		return types.NullValue
	}
	v := slices.Clone(s.vals)
	slices.Sort(v)
	pos := f * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return types.NewFloat(v[lo] + (v[hi]-v[lo])*(pos-float64(lo)))
}
func (s *percentileState) SizeBytes() int {
	n := int(unsafe.Sizeof(*s)) + 8*cap(s.vals)
	if s.td != nil {
		// processed, unprocessed and cumulative buffers of 16-byte centroids.
		n += int(unsafe.Sizeof(*s.td)) + 16*(2+8+2)*tdCompression
	}
	return n
}
func (s *percentileState) MarshalBinary() ([]byte, error) {
	e := newEncoder(tagTDigest)
	e.uvarint(uint64(len(s.vals)))
	for _, v := range s.vals {
		e.float(v)
	}
	var cs tdigest.CentroidList
	if s.td != nil {
		cs = s.td.Centroids()
	}
	e.bool(s.td != nil)
	e.uvarint(uint64(len(cs)))
	for _, c := range cs {
		e.float(c.Mean)
		e.float(c.Weight)
	}
	return e.b, nil
}
func (s *percentileState) UnmarshalBinary(b []byte) error {
	d := newDecoder(b, tagTDigest)
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
	}
	var vals []float64
	for i := uint64(0); i < n && d.err == nil; i++ {
		vals = append(vals, d.float())
	}
	hasTD := d.bool()
	nc := d.uvarint()
	if nc > uint64(len(d.b)) {
		d.fail()
	}
	var td *tdigest.TDigest
	if hasTD && d.err == nil {
		td = tdigest.NewWithCompression(tdCompression)
		for i := uint64(0); i < nc && d.err == nil; i++ {
			m, w := d.float(), d.float()
			td.Add(m, w)
		}
	}
	if err := d.done(); err != nil {
		return err
	}
	s.vals, s.td = vals, td
	return nil
}

// hashKey hashes a distinctKey-normalised value over all its fields (kind,
// I and S), well mixed as HyperLogLog needs, without allocating.
func hashKey(v types.Value) uint64 {
	h := xxhash.Sum64String(v.S)
	hi, lo := bits.Mul64(h^0xa0761d6478bd642f, uint64(v.I)^0xe7037ed1a0b428db^uint64(v.K)<<56)
	return hi ^ lo
}
