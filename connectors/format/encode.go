package format

import (
	"encoding/hex"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/sluice-db/sluice/sql/types"
)

// JSONEncoder encodes rows as JSON objects whose keys are the column names:
// timestamps as RFC 3339 text in UTC, dates as YYYY-MM-DD, intervals in
// Postgres text form, NUMERIC as JSON numbers, JSONB embedded as is, BYTEA
// as "\x..." hex text, NaN and infinities as the strings "NaN", "Infinity"
// and "-Infinity", NULL as null. It holds no mutable state, so one encoder
// may be shared.
type JSONEncoder struct {
	keys [][]byte // `"name":` with quoting, one per column
}

// NewJSONEncoder returns the encoder for rows of schema.
func NewJSONEncoder(schema types.Schema) *JSONEncoder {
	e := &JSONEncoder{keys: make([][]byte, len(schema))}
	for i, c := range schema {
		k := appendJSONString(nil, c.Name)
		e.keys[i] = append(k, ':')
	}
	return e
}

// Append appends the JSON object of row to dst and returns the extended
// buffer. Rows shorter than the schema encode their missing columns as null.
func (e *JSONEncoder) Append(dst []byte, row types.Row) []byte {
	dst = append(dst, '{')
	for i, k := range e.keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, k...)
		var v types.Value
		if i < len(row) {
			v = row[i]
		}
		dst = appendJSONValue(dst, v)
	}
	return append(dst, '}')
}

func appendJSONValue(dst []byte, v types.Value) []byte {
	switch v.K {
	case types.Null:
		return append(dst, "null"...)
	case types.Bool:
		return strconv.AppendBool(dst, v.I != 0)
	case types.Int16, types.Int32, types.Int64:
		return strconv.AppendInt(dst, v.I, 10)
	case types.Float32, types.Float64:
		f := math.Float64frombits(uint64(v.I))
		switch {
		case math.IsNaN(f):
			return append(dst, `"NaN"`...)
		case math.IsInf(f, 1):
			return append(dst, `"Infinity"`...)
		case math.IsInf(f, -1):
			return append(dst, `"-Infinity"`...)
		}
		bits := 64
		if v.K == types.Float32 {
			bits = 32
		}
		return strconv.AppendFloat(dst, f, 'g', -1, bits)
	case types.Numeric:
		if v.S == "" || v.S == "NaN" {
			return append(dst, "null"...)
		}
		return append(dst, v.S...)
	case types.Text:
		return appendJSONString(dst, v.S)
	case types.JSONB:
		if v.S == "" {
			return append(dst, "null"...)
		}
		return append(dst, v.S...)
	case types.Bytea:
		dst = append(dst, `"\\x`...)
		dst = hex.AppendEncode(dst, []byte(v.S))
		return append(dst, '"')
	case types.Timestamp, types.TimestampTZ:
		dst = append(dst, '"')
		dst = time.UnixMicro(v.I).UTC().AppendFormat(dst, "2006-01-02T15:04:05.999999Z07:00")
		return append(dst, '"')
	case types.Date:
		dst = append(dst, '"')
		dst = time.Unix(v.I*86400, 0).UTC().AppendFormat(dst, "2006-01-02")
		return append(dst, '"')
	case types.Interval:
		dst = append(dst, '"')
		dst = types.AppendInterval(dst, v.I)
		return append(dst, '"')
	}
	return appendJSONString(dst, v.String())
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
