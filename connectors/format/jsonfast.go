package format

import (
	"math"
	"strconv"
	"strings"

	"github.com/sluice-db/sluice/sql/types"
)

// decodeFast decodes the common shape of events — one flat object whose
// values are numbers, strings without escapes, booleans or null — in a
// single pass without building a tree. It returns false when the input is
// anything else, or when any field fails to convert, and the caller then
// runs the general fastjson path, which produces the same row or the error
// message. decodeFast never reports an error itself.
func (d *JSONDecoder) decodeFast(b []byte, row types.Row) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	for c := range d.seen {
		d.seen[c] = false
		row[c] = types.Value{}
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return d.finishFast(b, i+1, row)
	}
	field := 0
	for {
		// Key.
		if i >= len(b) || b[i] != '"' {
			return false
		}
		ks := i + 1
		var col int
		var known bool
		ke := ks
		if k, ok := d.sameKey(field, b, ks); ok {
			// The key remembered at this position, which holds no quote,
			// backslash or control character: no need to scan it.
			col, known = k.col, k.known
			ke = ks + len(k.name)
		} else {
			ke = plainEnd(b, ks)
			if ke >= len(b) || b[ke] != '"' {
				return false
			}
			var mapped bool
			col, known, mapped = d.lookupKey(field, b[ks:ke])
			if !mapped {
				return false // a case-insensitive match: the general path maps it
			}
		}
		field++
		i = skipWS(b, ke+1)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipWS(b, i+1)
		if i >= len(b) {
			return false
		}
		// Value.
		var ok bool
		switch c := b[i]; {
		case c == '"':
			vs := i + 1
			ve := plainEnd(b, vs)
			if ve >= len(b) || b[ve] != '"' {
				return false // unterminated, or an escape or control character
			}
			i = ve + 1
			if known {
				ok = d.fastString(col, b[vs:ve], row)
			} else {
				ok = true
			}
		case c == '-' || (c >= '0' && c <= '9'):
			ne, isInt := scanNumber(b, i)
			if ne < 0 {
				return false
			}
			if known {
				ok = d.fastNumber(col, b[i:ne], isInt, row)
			} else {
				ok = true
			}
			i = ne
		case c == 't' && hasLit(b, i, "true"), c == 'f' && hasLit(b, i, "false"):
			if known {
				if d.schema[col].Type.Kind != types.Bool {
					return false
				}
				row[col] = types.NewBool(c == 't')
				d.seen[col] = true
			}
			ok = true
			if c == 't' {
				i += 4
			} else {
				i += 5
			}
		case c == 'n' && hasLit(b, i, "null"):
			if known {
				row[col] = types.Value{}
				d.seen[col] = true
			}
			ok = true
			i += 4
		default:
			return false // nested value or invalid: the general path decides
		}
		if !ok {
			return false
		}
		i = skipWS(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return d.finishFast(b, i+1, row)
		}
		if b[i] != ',' {
			return false
		}
		i = skipWS(b, i+1)
	}
}

func (d *JSONDecoder) finishFast(b []byte, i int, row types.Row) bool {
	if skipWS(b, i) != len(b) {
		return false
	}
	for c, nn := range d.notNull {
		if nn && row[c].K == types.Null {
			return false
		}
	}
	return true
}

func (d *JSONDecoder) fastString(col int, s []byte, row types.Row) bool {
	t := d.schema[col].Type
	switch t.Kind {
	case types.Text:
		if t.Width > 0 && len(s) > t.Width {
			return false
		}
		row[col] = types.Value{K: types.Text, S: string(s)}
	case types.Timestamp, types.TimestampTZ:
		us, ok := fastTimestampDay(s, &d.day)
		if !ok {
			return false
		}
		row[col] = types.Value{K: t.Kind, I: us}
	default:
		return false
	}
	d.seen[col] = true
	return true
}

func (d *JSONDecoder) fastNumber(col int, s []byte, isInt bool, row types.Row) bool {
	t := d.schema[col].Type
	switch t.Kind {
	case types.Int16, types.Int32, types.Int64, types.Timestamp, types.TimestampTZ:
		if !isInt || len(s) > 18 {
			return false
		}
		neg := s[0] == '-'
		if neg {
			s = s[1:]
		}
		var v int64
		for _, c := range s {
			v = v*10 + int64(c-'0')
		}
		if neg {
			v = -v
		}
		switch t.Kind {
		case types.Int16:
			if v < math.MinInt16 || v > math.MaxInt16 {
				return false
			}
		case types.Int32:
			if v < math.MinInt32 || v > math.MaxInt32 {
				return false
			}
		case types.Timestamp, types.TimestampTZ:
			if v > math.MaxInt64/1000 || v < math.MinInt64/1000 {
				return false
			}
			row[col] = types.Value{K: t.Kind, I: v * 1000}
			d.seen[col] = true
			return true
		}
		row[col] = types.Value{K: t.Kind, I: v}
	case types.Float64, types.Float32:
		f, ok := exactFloat(s)
		if !ok {
			var err error
			if f, err = strconv.ParseFloat(string(s), 64); err != nil {
				return false
			}
		}
		if t.Kind == types.Float32 {
			row[col] = types.NewFloat32(f)
		} else {
			row[col] = types.NewFloat(f)
		}
	default:
		return false
	}
	d.seen[col] = true
	return true
}

// fieldKey remembers the key last seen at one position of an object and
// what it maps to, so that events of one shape (keys in the same order)
// are decoded without a map lookup per field.
type fieldKey struct {
	name  string
	col   int
	known bool
}

// maxFieldKeys bounds the remembered key positions.
const maxFieldKeys = 64

// sameKey reports whether the key starting at b[ks] (after its opening
// quote) is the one remembered at position field, closing quote included.
func (d *JSONDecoder) sameKey(field int, b []byte, ks int) (*fieldKey, bool) {
	if field >= len(d.keys) {
		return nil, false
	}
	k := &d.keys[field]
	ke := ks + len(k.name)
	if ke >= len(b) || b[ke] != '"' || string(b[ks:ke]) != k.name {
		return nil, false
	}
	return k, true
}

// lookupKey maps the key at position field of an object to its column
// (known) or to no column. ok is false when the key matches a column only
// case-insensitively: the general path maps those.
func (d *JSONDecoder) lookupKey(field int, key []byte) (col int, known, ok bool) {
	if field < len(d.keys) && d.keys[field].name == string(key) {
		k := &d.keys[field]
		return k.col, k.known, true
	}
	col, known = d.exact[string(key)]
	if !known && d.foldMatch(key) {
		return 0, false, false
	}
	if field < maxFieldKeys {
		for len(d.keys) <= field {
			d.keys = append(d.keys, fieldKey{col: -1})
		}
		name := string(key)
		if known {
			name = d.schema[col].Name // no copy of the key
		}
		d.keys[field] = fieldKey{name: name, col: col, known: known}
	}
	return col, known, true
}

// pow10 holds the powers of ten that a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// exactFloat converts a JSON number without exponent and with at most 15
// digits: its digits form an integer below 2^53 and its scale a power of
// ten float64 holds exactly, so one IEEE division rounds it correctly, to
// the value strconv.ParseFloat returns (Clinger's fast path). ok is false
// for other numbers.
func exactFloat(s []byte) (float64, bool) {
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 16 {
		return 0, false
	}
	var m uint64
	nd, frac, dot := 0, 0, false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			nd++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if nd == 0 || nd > 15 {
		return 0, false
	}
	f := float64(m)
	if frac > 0 {
		f /= pow10[frac]
	}
	if neg {
		f = -f
	}
	return f, true
}

func (d *JSONDecoder) foldMatch(key []byte) bool {
	for _, c := range d.schema {
		if len(c.Name) == len(key) && strings.EqualFold(c.Name, string(key)) {
			return true
		}
	}
	return false
}

// plainByte is true for the bytes a JSON string holds as they are: not a
// quote, a backslash or a control character.
var plainByte = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

// plainEnd returns the index of the first byte from i on that is not
// plain (len(b) if none).
func plainEnd(b []byte, i int) int {
	for i < len(b) && plainByte[b[i]] {
		i++
	}
	return i
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func hasLit(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// scanNumber checks the JSON number grammar from i and returns its end (or
// -1) and whether it is an integer (no fraction or exponent).
func scanNumber(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return -1, false
	}
	if b[i] == '0' {
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	} else {
		return -1, false
	}
	isInt := true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == s {
			return -1, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == s {
			return -1, false
		}
	}
	return i, isInt
}
