package types

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/shopspring/decimal"
)

// Value is one SQL value. It is a small struct passed by value; the zero
// Value is SQL NULL.
//
// Representation by kind:
//   - Null: SQL NULL (of any column type).
//   - Bool: I is 0 or 1.
//   - Int16, Int32, Int64: I.
//   - Float32, Float64: I holds math.Float64bits of the value.
//   - Numeric: S holds the canonical decimal text ("-12.50").
//   - Text: S. Bytea: S holds the raw bytes. JSONB: S holds JSON text.
//   - Date: I is days since 1970-01-01.
//   - Timestamp, TimestampTZ: I is microseconds since the Unix epoch, UTC.
//   - Interval: I is microseconds. Months are folded into 30 days and days
//     into 24 hours (see docs/sql.md), because event-time windows need fixed
//     lengths.
type Value struct {
	K Kind
	I int64
	S string
}

// Row is one row of values, in schema order.
type Row []Value

// Constructors.

// NullValue is SQL NULL.
var NullValue = Value{}

// NewBool returns a boolean value.
func NewBool(b bool) Value {
	if b {
		return Value{K: Bool, I: 1}
	}
	return Value{K: Bool}
}

// NewInt returns a BIGINT value.
func NewInt(i int64) Value { return Value{K: Int64, I: i} }

// NewIntKind returns an integer value of the given integer kind.
func NewIntKind(k Kind, i int64) Value { return Value{K: k, I: i} }

// NewFloat returns a DOUBLE PRECISION value.
func NewFloat(f float64) Value { return Value{K: Float64, I: int64(math.Float64bits(f))} }

// NewFloat32 returns a REAL value.
func NewFloat32(f float64) Value {
	return Value{K: Float32, I: int64(math.Float64bits(float64(float32(f))))}
}

// NewText returns a TEXT value.
func NewText(s string) Value { return Value{K: Text, S: s} }

// NewBytea returns a BYTEA value.
func NewBytea(b []byte) Value { return Value{K: Bytea, S: string(b)} }

// NewJSONB returns a JSONB value holding already-validated JSON text.
func NewJSONB(s string) Value { return Value{K: JSONB, S: s} }

// NewNumeric returns a NUMERIC value. The text keeps the decimal's scale
// ("12.50" stays "12.50"), as Postgres' numeric does.
func NewNumeric(d decimal.Decimal) Value {
	if e := d.Exponent(); e < 0 {
		return Value{K: Numeric, S: d.StringFixed(-e)}
	}
	return Value{K: Numeric, S: d.String()}
}

// NewTimestamp returns a TIMESTAMP value from microseconds since the epoch.
func NewTimestamp(micros int64) Value { return Value{K: Timestamp, I: micros} }

// NewTimestampTZ returns a TIMESTAMPTZ value from microseconds since the epoch.
func NewTimestampTZ(micros int64) Value { return Value{K: TimestampTZ, I: micros} }

// NewTime returns a TIMESTAMP value for t.
func NewTime(t time.Time) Value { return NewTimestamp(t.UnixMicro()) }

// NewDate returns a DATE value from days since 1970-01-01.
func NewDate(days int64) Value { return Value{K: Date, I: days} }

// NewInterval returns an INTERVAL value of the given length.
func NewInterval(d time.Duration) Value { return Value{K: Interval, I: d.Microseconds()} }

// NewIntervalMicros returns an INTERVAL value of micros microseconds.
func NewIntervalMicros(micros int64) Value { return Value{K: Interval, I: micros} }

// Accessors.

// IsNull reports whether v is SQL NULL.
func (v Value) IsNull() bool { return v.K == Null }

// Bool returns the boolean of a Bool value (false for NULL).
func (v Value) Bool() bool { return v.I != 0 }

// Float returns the value as float64 for any numeric kind.
func (v Value) Float() float64 {
	switch v.K {
	case Float32, Float64:
		return math.Float64frombits(uint64(v.I))
	case Numeric:
		f, _ := strconv.ParseFloat(v.S, 64)
		return f
	case Null:
		return 0
	}
	return float64(v.I)
}

// Decimal returns the value as a decimal for any numeric kind.
func (v Value) Decimal() decimal.Decimal {
	switch v.K {
	case Numeric:
		d, err := decimal.NewFromString(v.S)
		if err != nil {
			return decimal.Zero
		}
		return d
	case Float32, Float64:
		return decimal.NewFromFloat(v.Float())
	}
	return decimal.NewFromInt(v.I)
}

// Time returns a timestamp value as time.Time in UTC.
func (v Value) Time() time.Time { return time.UnixMicro(v.I).UTC() }

// Bytes returns the bytes of a Bytea value (a copy).
func (v Value) Bytes() []byte { return []byte(v.S) }

// Compare orders two values of comparable kinds: NULL sorts first, numbers
// compare numerically across kinds, everything else by representation.
func Compare(a, b Value) int {
	if a.K == Null || b.K == Null {
		switch {
		case a.K == Null && b.K == Null:
			return 0
		case a.K == Null:
			return -1
		default:
			return 1
		}
	}
	if a.K == b.K {
		switch a.K {
		case Float32, Float64:
			return cmp.Compare(a.Float(), b.Float())
		case Numeric:
			return a.Decimal().Cmp(b.Decimal())
		case Text, Bytea, JSONB:
			return strings.Compare(a.S, b.S)
		}
		return cmp.Compare(a.I, b.I)
	}
	if a.K.IsNumeric() && b.K.IsNumeric() {
		if a.K.IsInteger() && b.K.IsInteger() {
			return cmp.Compare(a.I, b.I)
		}
		if a.K == Numeric || b.K == Numeric {
			return a.Decimal().Cmp(b.Decimal())
		}
		return cmp.Compare(a.Float(), b.Float())
	}
	if a.K.IsTime() && b.K.IsTime() {
		return cmp.Compare(a.I, b.I)
	}
	if (a.K == Date && b.K.IsTime()) || (a.K.IsTime() && b.K == Date) {
		return cmp.Compare(a.timeMicros(), b.timeMicros())
	}
	if a.S != "" || b.S != "" {
		return strings.Compare(a.S, b.S)
	}
	return cmp.Compare(a.I, b.I)
}

func (v Value) timeMicros() int64 {
	if v.K == Date {
		return v.I * MicrosPerDay
	}
	return v.I
}

// Equal reports whether a and b are the same value (NULL equals NULL here:
// this is grouping equality, not SQL '=').
func Equal(a, b Value) bool {
	if a.K == b.K {
		switch a.K {
		case Numeric:
			return a.S == b.S || a.Decimal().Equal(b.Decimal())
		case Text, Bytea, JSONB:
			return a.S == b.S
		}
		return a.I == b.I
	}
	return Compare(a, b) == 0 && a.K != Null && b.K != Null
}

// CompareRows compares rows column by column.
func CompareRows(a, b Row) int {
	for i := range min(len(a), len(b)) {
		if c := Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

// EqualRows reports whether two rows hold equal values.
func EqualRows(a, b Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// Hash returns a 64-bit hash of the value, consistent with Equal for values
// of one kind. Integers of different widths hash alike.
func (v Value) Hash(seed uint64) uint64 {
	var buf [9]byte
	switch v.K {
	case Text, Bytea, JSONB, Numeric:
		h := xxhash.New()
		buf[0] = byte(v.K)
		_, _ = h.Write(buf[:1])
		_, _ = h.WriteString(v.S)
		return h.Sum64() ^ seed*0x9e3779b97f4a7c15
	case Int16, Int32:
		buf[0] = byte(Int64)
	default:
		buf[0] = byte(v.K)
	}
	u := uint64(v.I)
	for i := 1; i < 9; i++ {
		buf[i] = byte(u)
		u >>= 8
	}
	return xxhash.Sum64(buf[:]) ^ seed*0x9e3779b97f4a7c15
}

// HashRow hashes the values of row at the given column indexes.
func HashRow(row Row, cols []int) uint64 {
	var h uint64 = 0xcbf29ce484222325
	for _, c := range cols {
		h = row[c].Hash(h)
	}
	return h
}

// Time constants.
const (
	MicrosPerSecond = int64(1_000_000)
	MicrosPerMinute = 60 * MicrosPerSecond
	MicrosPerHour   = 60 * MicrosPerMinute
	MicrosPerDay    = 24 * MicrosPerHour
)

// Text output in Postgres' text format (what psql prints).

// String returns the Postgres text representation of v ("" for NULL; use
// IsNull to tell NULL from an empty string).
func (v Value) String() string {
	return string(v.AppendText(nil))
}

// AppendText appends the Postgres text representation of v to buf.
func (v Value) AppendText(buf []byte) []byte {
	switch v.K {
	case Null:
		return buf
	case Bool:
		if v.I != 0 {
			return append(buf, 't')
		}
		return append(buf, 'f')
	case Int16, Int32, Int64:
		return strconv.AppendInt(buf, v.I, 10)
	case Float32:
		return appendFloat(buf, v.Float(), 32)
	case Float64:
		return appendFloat(buf, v.Float(), 64)
	case Numeric, Text, JSONB:
		return append(buf, v.S...)
	case Bytea:
		buf = append(buf, '\\', 'x')
		return hex.AppendEncode(buf, []byte(v.S))
	case Date:
		return time.Unix(v.I*86400, 0).UTC().AppendFormat(buf, "2006-01-02")
	case Timestamp:
		return time.UnixMicro(v.I).UTC().AppendFormat(buf, "2006-01-02 15:04:05.999999")
	case TimestampTZ:
		return time.UnixMicro(v.I).UTC().AppendFormat(buf, "2006-01-02 15:04:05.999999-07")
	case Interval:
		return AppendInterval(buf, v.I)
	}
	return fmt.Appendf(buf, "%v", v.I)
}

// AppendTimestampTZIn appends a TIMESTAMPTZ (microseconds since the epoch)
// as Postgres prints it in the time zone loc: local time, then the UTC
// offset as +HH, +HH:MM or +HH:MM:SS ("2024-06-01 14:00:00+02",
// "2024-06-01 17:30:00+05:30").
func AppendTimestampTZIn(buf []byte, micros int64, loc *time.Location) []byte {
	t := time.UnixMicro(micros).In(loc)
	buf = t.AppendFormat(buf, "2006-01-02 15:04:05.999999")
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	buf = append(buf, sign)
	buf = appendTwo(buf, off/3600)
	if mm, ss := off%3600/60, off%60; mm != 0 || ss != 0 {
		buf = appendTwo(append(buf, ':'), mm)
		if ss != 0 {
			buf = appendTwo(append(buf, ':'), ss)
		}
	}
	return buf
}

func appendTwo(buf []byte, n int) []byte {
	if n < 10 {
		buf = append(buf, '0')
	}
	return strconv.AppendInt(buf, int64(n), 10)
}

func appendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	// Postgres prints the shortest exact digits, in positional notation
	// unless the decimal exponent is below -4 or at least the type's
	// precision (15 digits for float8, 6 for float4): 1704067200, not
	// 1.7040672e+09.
	limit := 15
	if bits == 32 {
		limit = 6
	}
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits)
	exp := 0
	if i := strings.LastIndexByte(string(e), 'e'); i >= 0 {
		exp, _ = strconv.Atoi(string(e[i+1:]))
	}
	if exp < -4 || exp >= limit {
		return strconv.AppendFloat(buf, f, 'e', -1, bits)
	}
	return strconv.AppendFloat(buf, f, 'f', -1, bits)
}

// AppendInterval appends micros in Postgres' default IntervalStyle
// ("1 day 02:03:04.5", "-00:00:01").
func AppendInterval(buf []byte, micros int64) []byte {
	neg := micros < 0
	u := micros
	if neg {
		u = -u
	}
	days := u / MicrosPerDay
	u %= MicrosPerDay
	if days > 0 {
		if neg {
			buf = append(buf, '-')
		}
		buf = strconv.AppendInt(buf, days, 10)
		if days == 1 {
			buf = append(buf, " day"...)
		} else {
			buf = append(buf, " days"...)
		}
		if u == 0 {
			return buf
		}
		buf = append(buf, ' ')
	}
	if neg {
		buf = append(buf, '-')
	}
	h := u / MicrosPerHour
	m := (u % MicrosPerHour) / MicrosPerMinute
	s := (u % MicrosPerMinute) / MicrosPerSecond
	f := u % MicrosPerSecond
	buf = fmt.Appendf(buf, "%02d:%02d:%02d", h, m, s)
	if f != 0 {
		frac := strings.TrimRight(fmt.Sprintf("%06d", f), "0")
		buf = append(buf, '.')
		buf = append(buf, frac...)
	}
	return buf
}
