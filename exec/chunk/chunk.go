package chunk

import (
	"math"

	"github.com/sluice-db/sluice/sql/types"
)

// Op is the sign of a row in a changelog: +1 inserts it, -1 retracts it.
type Op int8

// Row operations.
const (
	Insert Op = 1
	Delete Op = -1
)

func (o Op) String() string {
	if o == Delete {
		return "-"
	}
	return "+"
}

// NoTime marks a row without an event time.
const NoTime = math.MinInt64

// Chunk is a batch of rows travelling between operators: row-major values
// with a stride of Width, plus a sign and an event time (microseconds) per
// row. Row-major keeps a row's values on one cache line for the per-row
// expression evaluator, and one backing slice makes a chunk reusable without
// allocation (Reset keeps the capacity).
//
// A Chunk is owned by one goroutine at a time: an operator that sends a
// chunk downstream gives it away and must not touch it again.
type Chunk struct {
	Width int
	Vals  []types.Value
	Ops   []Op
	Times []int64
	// Partition is the source partition all rows came from, or -1 when the
	// chunk is not from one partition.
	Partition int
	// More says that the sender has more rows ready right behind this
	// chunk: it split one batch (a source read of many rows) into several
	// chunks, and the batch ends with a chunk without More or with a
	// control message. An operator that gathers updates over chunks
	// (mini-batching) need not emit them after a chunk with More. It is
	// only a hint: false is always correct.
	More bool
}

// New returns an empty chunk for rows of width columns with room for capRows.
func New(width, capRows int) *Chunk {
	return &Chunk{
		Width:     width,
		Vals:      make([]types.Value, 0, width*capRows),
		Ops:       make([]Op, 0, capRows),
		Times:     make([]int64, 0, capRows),
		Partition: -1,
	}
}

// Len is the number of rows.
func (c *Chunk) Len() int { return len(c.Ops) }

// Row returns row i. The slice aliases the chunk and is valid until the
// chunk is reset or given away.
func (c *Chunk) Row(i int) types.Row { return c.Vals[i*c.Width : (i+1)*c.Width : (i+1)*c.Width] }

// Append adds a row (copying its values).
func (c *Chunk) Append(op Op, t int64, row types.Row) {
	c.Vals = append(c.Vals, row...)
	c.Ops = append(c.Ops, op)
	c.Times = append(c.Times, t)
}

// AppendEmpty adds a row of NULLs and returns it for the caller to fill.
func (c *Chunk) AppendEmpty(op Op, t int64) types.Row {
	n := len(c.Vals)
	if m := n + c.Width; m <= cap(c.Vals) {
		c.Vals = c.Vals[:m]
		clear(c.Vals[n:m])
	} else {
		c.Vals = append(c.Vals, make([]types.Value, c.Width)...)
	}
	c.Ops = append(c.Ops, op)
	c.Times = append(c.Times, t)
	return c.Vals[n : n+c.Width : n+c.Width]
}

// AppendRow adds a row and returns it for the caller to fill. Unlike
// AppendEmpty it does not clear the row, which may hold the values of a
// row dropped by Truncate: the caller must set every value (a
// format.Decoder does). It spares a decoder that overwrites every value
// the cost of clearing them first.
func (c *Chunk) AppendRow(op Op, t int64) types.Row {
	n := len(c.Vals)
	m := n + c.Width
	if m <= cap(c.Vals) {
		c.Vals = c.Vals[:m]
	} else {
		c.Vals = append(c.Vals, make([]types.Value, c.Width)...)
	}
	c.Ops = append(c.Ops, op)
	c.Times = append(c.Times, t)
	return c.Vals[n:m:m]
}

// Truncate drops the rows from n on (used to undo an AppendEmpty whose row
// failed to decode).
func (c *Chunk) Truncate(n int) {
	c.Vals = c.Vals[:n*c.Width]
	c.Ops = c.Ops[:n]
	c.Times = c.Times[:n]
}

// Reset empties the chunk, keeping its capacity.
func (c *Chunk) Reset() {
	clear(c.Vals) // drop string references so the GC can free them
	c.Vals = c.Vals[:0]
	c.Ops = c.Ops[:0]
	c.Times = c.Times[:0]
	c.Partition = -1
	c.More = false
}

// Clone returns a deep copy of the chunk (values are immutable, so copying
// the slice suffices). The copy is not part of a batch: More is false.
func (c *Chunk) Clone() *Chunk {
	return &Chunk{
		Width:     c.Width,
		Vals:      append([]types.Value(nil), c.Vals...),
		Ops:       append([]Op(nil), c.Ops...),
		Times:     append([]int64(nil), c.Times...),
		Partition: c.Partition,
	}
}

// Kind is the kind of a stream message.
type Kind uint8

// Message kinds. Control messages travel in the same stream as data, so an
// operator sees them in order with the rows (Arroyo, RisingWave).
const (
	// Data carries a Chunk.
	Data Kind = iota
	// Watermark says no row with event time below Watermark will follow
	// (rows that still do are late).
	Watermark
	// Barrier marks checkpoint Epoch: state after all rows before it.
	Barrier
	// EndOfStream says the input is finished (a bounded source reached its
	// end); an implicit final watermark of +infinity precedes it.
	EndOfStream
	// Idle says the input has had nothing for the idle timeout and should
	// not hold back the watermark until its next message.
	Idle
)

func (k Kind) String() string {
	return [...]string{"data", "watermark", "barrier", "eos", "idle"}[k]
}

// Message is what flows on an edge of the dataflow.
type Message struct {
	Kind      Kind
	Chunk     *Chunk // Data
	Watermark int64  // Watermark (microseconds)
	Epoch     uint64 // Barrier
}

// MaxWatermark is the watermark of a finished input.
const MaxWatermark = math.MaxInt64
