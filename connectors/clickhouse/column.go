package clickhouse

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/sluice-db/sluice/sql/types"
)

// colKind is how a column's values are converted and which typed slice of
// column holds them.
type colKind uint8

const (
	kBool     colKind = iota // u8
	kInt16                   // i16
	kInt32                   // i32
	kInt64                   // i64 (also Interval)
	kFloat32                 // f32
	kFloat64                 // f64
	kDate                    // tm
	kDateTime                // i64: seconds, which clickhouse-go takes for DateTime
	kMicros                  // tm: DateTime64(6)
	kString                  // str (also Numeric, Bytea, JSONB as text)
)

// column buffers one column of the open epoch as the typed slice
// clickhouse-go appends to a batch column: []T, or []*T with nil for NULL
// when the column is nullable. Only the slice of its kind is used.
// Converting at Write keeps no row-major copy of the values (which the
// garbage collector would have to scan) and no second pass at commit; the
// conversion is one pass over the chunk's rows (fillRows), into slices
// grown once per chunk.
//
// A NULL in a column that is not nullable (a ReplacingMergeTree key) is
// stored as the type's zero value: 0, "", false, 1970-01-01. types.Value{}
// (NULL) converts to exactly that, so the loops need no NULL test.
type column struct {
	kind     colKind
	nullable bool
	null     []bool // nullable columns only: row is NULL
	u8       []uint8
	i16      []int16
	i32      []int32
	i64      []int64
	f32      []float32
	f64      []float64
	tm       []time.Time
	str      []string
}

// newColumn returns the buffer of a column of type c.Type.
func newColumn(c types.Column, nullable, dt64 bool) (*column, error) {
	col := &column{nullable: nullable}
	switch c.Type.Kind {
	case types.Bool:
		col.kind = kBool
	case types.Int16:
		col.kind = kInt16
	case types.Int32:
		col.kind = kInt32
	case types.Int64, types.Interval:
		col.kind = kInt64
	case types.Float32:
		col.kind = kFloat32
	case types.Float64:
		col.kind = kFloat64
	case types.Date:
		col.kind = kDate
	case types.Timestamp, types.TimestampTZ:
		col.kind = kDateTime
		if dt64 {
			col.kind = kMicros
		}
	case types.Text, types.Numeric, types.Bytea, types.JSONB:
		col.kind = kString
	default:
		return nil, fmt.Errorf("column %s: type %s cannot be written to ClickHouse", c.Name, c.Type)
	}
	return col, nil
}

// grow extends the buffer by n rows, to be set by fillRows.
func (c *column) grow(n int) {
	switch c.kind {
	case kBool:
		c.u8 = extend(c.u8, n)
	case kInt16:
		c.i16 = extend(c.i16, n)
	case kInt32:
		c.i32 = extend(c.i32, n)
	case kInt64, kDateTime:
		c.i64 = extend(c.i64, n)
	case kFloat32:
		c.f32 = extend(c.f32, n)
	case kFloat64:
		c.f64 = extend(c.f64, n)
	case kDate, kMicros:
		c.tm = extend(c.tm, n)
	case kString:
		c.str = extend(c.str, n)
	}
	if c.nullable {
		c.null = extend(c.null, n)
	}
}

func extend[T any](s []T, n int) []T { return slices.Grow(s, n)[:len(s)+n] }

// fillRows converts the n rows of vals, a row-major chunk of the given
// width, into rows [at, at+n) of cols, grown before. It goes row by row, so
// that each row's values (which share cache lines) are read once, and
// switches on each column's kind inline: a predictable branch per value,
// no call.
func fillRows(cols []*column, at int, vals []types.Value, width, n int) {
	for r := range n {
		row := vals[r*width : r*width+len(cols)]
		i := at + r
		for ci, c := range cols {
			v := &row[ci]
			switch c.kind {
			case kInt64:
				c.i64[i] = v.I
			case kString:
				c.str[i] = v.S
			case kFloat64:
				c.f64[i] = math.Float64frombits(uint64(v.I))
			case kDateTime:
				// Floor division by a constant: a multiply, not a divide.
				s := v.I / 1e6
				if v.I%1e6 < 0 {
					s--
				}
				c.i64[i] = s
			case kBool:
				c.u8[i] = uint8(v.I & 1)
			case kInt16:
				c.i16[i] = int16(v.I)
			case kInt32:
				c.i32[i] = int32(v.I)
			case kFloat32:
				c.f32[i] = float32(math.Float64frombits(uint64(v.I)))
			case kDate:
				c.tm[i] = time.Unix(v.I*86400, 0).UTC()
			case kMicros:
				c.tm[i] = time.UnixMicro(v.I).UTC()
			}
			if c.nullable {
				c.null[i] = v.IsNull()
			}
		}
	}
}

// block returns rows [from, to) in the form clickhouse-go appends; it stays
// valid until reset.
func (c *column) block(from, to int) any {
	switch c.kind {
	case kBool:
		return blockOf(c, c.u8, from, to)
	case kInt16:
		return blockOf(c, c.i16, from, to)
	case kInt32:
		return blockOf(c, c.i32, from, to)
	case kInt64, kDateTime:
		return blockOf(c, c.i64, from, to)
	case kFloat32:
		return blockOf(c, c.f32, from, to)
	case kFloat64:
		return blockOf(c, c.f64, from, to)
	case kDate, kMicros:
		return blockOf(c, c.tm, from, to)
	default:
		return blockOf(c, c.str, from, to)
	}
}

func blockOf[T any](c *column, vals []T, from, to int) any {
	if !c.nullable {
		return vals[from:to]
	}
	out := make([]*T, to-from)
	for i := range out {
		if !c.null[from+i] {
			out[i] = &vals[from+i]
		}
	}
	return out
}

// reset empties the buffer and keeps its capacity.
func (c *column) reset() {
	clear(c.str) // drop references to the chunks' strings
	c.null, c.u8, c.i16, c.i32, c.i64 = c.null[:0], c.u8[:0], c.i16[:0], c.i32[:0], c.i64[:0]
	c.f32, c.f64, c.tm, c.str = c.f32[:0], c.f64[:0], c.tm[:0], c.str[:0]
}
