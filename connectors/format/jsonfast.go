package format

import (
	"encoding/binary"
	"math"
	"math/bits"
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
//
// It records where the values are in d.spots, and on success learns the
// object's shape for decodeShape.
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
	d.spots = d.spots[:0]
	learn := true // every value is a number or a string
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
			d.spots = append(d.spots, spot{start: vs, end: ve, col: col, known: known, str: true})
			i = ve + 1
			if known {
				ok = d.fastString(col, b[vs:ve], row)
			} else {
				ok = true
			}
		case c == '-' || (c >= '0' && c <= '9'):
			ne, n := scanNumberValue(b, i)
			if ne < 0 {
				return false
			}
			d.spots = append(d.spots, spot{start: i, end: ne, col: col, known: known})
			if known {
				ok = d.fastNumber(col, b[i:ne], n, row)
			} else {
				ok = true
			}
			i = ne
		case c == 't' && hasLit(b, i, "true"), c == 'f' && hasLit(b, i, "false"):
			learn = false
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
			learn = false
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
			if !d.finishFast(b, i+1, row) {
				return false
			}
			if learn {
				d.learnShape(b)
			}
			return true
		}
		if b[i] != ',' {
			return false
		}
		i = skipWS(b, i+1)
	}
}

// spot is where decodeFast found a value: b[start:end] (a string without
// its quotes), the column it goes to, and whether it is a string.
type spot struct {
	start, end int
	col        int
	known, str bool
	_          [6]byte
}

// maxShapeFields bounds the fields of a learned shape.
const maxShapeFields = 64

// shape is the shape of the last object decodeFast decoded whose values
// are numbers and strings: the bytes between its values (lit), each
// value's column and kind, and the bytes after the last value (tail).
// Objects of one stream mostly have one shape, so decodeShape checks each
// run of punctuation, keys and whitespace with one comparison and parses
// only the values.
type shape struct {
	fields []shapeField
	tail   []byte
	buf    []byte // backing array of the literals
	ok     bool
	// cover says that the fields set every column: decodeShape then
	// neither clears the row first nor looks for NULLs after (the fast
	// conversions never produce NULL).
	cover bool
}

type shapeField struct {
	lit        []byte // the bytes before the value (with a string's opening quote)
	words      bool   // lit fits in pat and mask
	pat, mask  [2]uint64
	col        int
	kind       types.Kind // of the column
	known, str bool
}

// learnShape records the shape of b from d.spots.
func (d *JSONDecoder) learnShape(b []byte) {
	sh := &d.shape
	sh.ok = false
	if len(d.spots) == 0 || len(d.spots) > maxShapeFields {
		return
	}
	sh.buf = sh.buf[:0]
	prev := 0
	for _, sp := range d.spots {
		sh.buf = append(sh.buf, b[prev:sp.start]...)
		prev = sp.end
	}
	sh.buf = append(sh.buf, b[prev:]...)
	sh.fields = sh.fields[:0]
	off, prev := 0, 0
	for _, sp := range d.spots {
		n := sp.start - prev
		f := shapeField{lit: sh.buf[off : off+n : off+n], col: sp.col, known: sp.known, str: sp.str}
		if sp.known {
			f.kind = d.schema[sp.col].Type.Kind
		}
		if n <= 16 {
			var p [16]byte
			copy(p[:], f.lit)
			for w := range 2 {
				for j := range 8 {
					if w*8+j < n {
						f.mask[w] |= 0xff << (8 * j)
					}
				}
				f.pat[w] = binary.LittleEndian.Uint64(p[w*8:]) & f.mask[w]
			}
			f.words = true
		}
		sh.fields = append(sh.fields, f)
		off += n
		prev = sp.end
	}
	sh.tail = sh.buf[off:]
	sh.ok = true
	// decodeFast set the columns of the known fields only.
	sh.cover = true
	for _, seen := range d.seen {
		sh.cover = sh.cover && seen
	}
}

// decodeShape decodes b when it has the learned shape: the same bytes
// between values, and values of the same kinds that convert on the fast
// path. Otherwise it returns false, having possibly written to row, and
// decodeFast decides. On the bytes of one shape both paths take the same
// steps, so they decode the same rows.
func (d *JSONDecoder) decodeShape(b []byte, row types.Row) bool {
	sh := &d.shape
	if !sh.ok {
		return false
	}
	if !sh.cover {
		for c := range d.seen {
			d.seen[c] = false
			row[c] = types.Value{}
		}
	}
	i := 0
	for fi := range sh.fields {
		f := &sh.fields[fi]
		n := len(f.lit)
		if f.words && i+16 <= len(b) {
			if binary.LittleEndian.Uint64(b[i:])&f.mask[0] != f.pat[0] || (n > 8 && binary.LittleEndian.Uint64(b[i+8:])&f.mask[1] != f.pat[1]) {
				return false
			}
		} else if i+n > len(b) || string(b[i:i+n]) != string(f.lit) {
			return false
		}
		i += n
		if f.str {
			ve := plainEnd(b, i)
			if ve >= len(b) || b[ve] != '"' {
				return false
			}
			if f.known {
				// As fastString, for the common kinds without the schema.
				if f.kind == types.Timestamp || f.kind == types.TimestampTZ {
					us, ok := fastTimestampDay(b[i:ve], &d.day)
					if !ok {
						return false
					}
					row[f.col] = types.Value{K: f.kind, I: us}
				} else if !d.fastString(f.col, b[i:ve], row) {
					return false
				}
			}
			i = ve
			continue
		}
		if i >= len(b) || (b[i] != '-' && (b[i] < '0' || b[i] > '9')) {
			return false
		}
		if f.kind == types.Int64 && f.known && b[i] != '0' && b[i] != '-' {
			// A plain positive integer: its digits, then a byte that
			// ends a JSON number (a fraction or an exponent goes to
			// scanNumberValue).
			var v uint64
			j := i
			for j < len(b) && j-i < 19 && b[j]-'0' <= 9 {
				v = v*10 + uint64(b[j]-'0')
				j++
			}
			if j-i <= 18 && (j >= len(b) || (b[j]-'0' > 9 && b[j] != '.' && b[j] != 'e' && b[j] != 'E')) {
				row[f.col] = types.Value{K: types.Int64, I: int64(v)}
				i = j
				continue
			}
		}
		ne, num := scanNumberValue(b, i)
		if ne < 0 {
			return false
		}
		if f.known {
			// As fastNumber, for the common kinds without the schema.
			switch f.kind {
			case types.Int64:
				if !num.isInt() || ne-i > 18 {
					return false
				}
				v := int64(num.mant)
				if num.flags&numNeg != 0 {
					v = -v
				}
				row[f.col] = types.Value{K: types.Int64, I: v}
			case types.Float64:
				if fl, ok := num.exactFloat(); ok {
					row[f.col] = types.NewFloat(fl)
				} else if !d.fastNumber(f.col, b[i:ne], num, row) {
					return false
				}
			default:
				if !d.fastNumber(f.col, b[i:ne], num, row) {
					return false
				}
			}
		}
		i = ne
	}
	if rest := b[i:]; len(rest) != len(sh.tail) || (len(rest) > 0 && rest[0] != sh.tail[0]) || string(rest) != string(sh.tail) {
		return false
	}
	if sh.cover {
		return true // the tail is what followed the last value in the learned object
	}
	return d.finishFast(b, len(b), row)
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

// fastNumber converts the number s, scanned by scanNumberValue into n,
// for column col.
func (d *JSONDecoder) fastNumber(col int, s []byte, n number, row types.Row) bool {
	t := d.schema[col].Type
	switch t.Kind {
	case types.Int16, types.Int32, types.Int64, types.Timestamp, types.TimestampTZ:
		if !n.isInt() || len(s) > 18 {
			return false
		}
		v := int64(n.mant) // at most 18 digits: no overflow
		if n.flags&numNeg != 0 {
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
		f, ok := n.exactFloat()
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
	// pat and mask hold the name and its closing quote as two
	// little-endian words (when they fit in 16 bytes): sameKey compares
	// words instead of bytes.
	pat, mask [2]uint64
	words     bool
}

// newFieldKey returns the fieldKey of name.
func newFieldKey(name string, col int, known bool) fieldKey {
	k := fieldKey{name: name, col: col, known: known}
	if len(name)+1 <= 16 {
		var p [16]byte
		n := copy(p[:], name)
		p[n] = '"'
		for w := range 2 {
			for j := range 8 {
				if w*8+j <= n {
					k.mask[w] |= 0xff << (8 * j)
				}
			}
			k.pat[w] = binary.LittleEndian.Uint64(p[w*8:]) & k.mask[w]
		}
		k.words = true
	}
	return k
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
	if k.words && ks+16 <= len(b) {
		if binary.LittleEndian.Uint64(b[ks:])&k.mask[0] != k.pat[0] || binary.LittleEndian.Uint64(b[ks+8:])&k.mask[1] != k.pat[1] {
			return nil, false
		}
		return k, true
	}
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
		d.keys[field] = newFieldKey(name, col, known)
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

// foldMatch reports whether key names a column case-insensitively by the
// general path's rule (visit: the key lowered, looked up among the lowered
// column names). strings.EqualFold is not that rule: "İ" lowers to "i"
// but does not fold to it, and a lowered key may change its length.
func (d *JSONDecoder) foldMatch(key []byte) bool {
	_, ok := d.folded[strings.ToLower(string(key))]
	return ok
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
// plain (len(b) if none). It tests eight bytes at a time.
func plainEnd(b []byte, i int) int {
	for i+8 <= len(b) {
		if m := notPlain(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for i < len(b) && plainByte[b[i]] {
		i++
	}
	return i
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// notPlain returns a word whose lowest set bit is the high bit of the
// first byte of x (little-endian) that is not plain: a control character,
// a quote or a backslash. (The subtractions can set bits above a byte
// they find, never below, so the lowest bit is exact.)
func notPlain(x uint64) uint64 {
	q := x ^ (ones * '"')
	s := x ^ (ones * '\\')
	return ((x-ones*0x20)&^x | (q-ones)&^q | (s-ones)&^s) & highs
}

func skipWS(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func hasLit(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// number is a JSON number as scanNumberValue found it: its digits as an
// integer (wrapped when there are more than 19), how many digits there
// are, integer and fraction, and how many of them form the fraction, and
// its shape (numNeg, numFrac, numExp).
type number struct {
	mant     uint64
	nd, frac int
	flags    uint8
}

// Flags of a number.
const (
	numNeg  = 1 << iota // a minus sign
	numFrac             // a fraction
	numExp              // an exponent
)

func (n number) isInt() bool { return n.flags&(numFrac|numExp) == 0 }

// scanNumberValue checks the JSON number grammar from i and returns its
// end (-1 when it is none) and its digits, so that the common numbers
// convert without a second pass.
func scanNumberValue(b []byte, i int) (int, number) {
	var flags uint8
	if i < len(b) && b[i] == '-' {
		flags = numNeg
		i++
	}
	if i >= len(b) {
		return -1, number{}
	}
	var mant uint64
	nd := 0
	if b[i] == '0' {
		nd = 1
		i++
	} else if b[i] >= '1' && b[i] <= '9' {
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			mant = mant*10 + uint64(b[i]-'0')
			i++
		}
		nd = i - s
	} else {
		return -1, number{}
	}
	frac := 0
	if i < len(b) && b[i] == '.' {
		flags |= numFrac
		i++
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			mant = mant*10 + uint64(b[i]-'0')
			i++
		}
		if i == s {
			return -1, number{}
		}
		frac = i - s
		nd += frac
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		flags |= numExp
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == s {
			return -1, number{}
		}
	}
	return i, number{mant: mant, nd: nd, frac: frac, flags: flags}
}

// exactFloat is exactFloat (Clinger's fast path) on the scanned digits.
func (n number) exactFloat() (float64, bool) {
	if n.flags&numExp != 0 || n.nd == 0 || n.nd > 15 {
		return 0, false
	}
	f := float64(n.mant)
	if n.frac > 0 {
		f /= pow10[n.frac]
	}
	if n.flags&numNeg != 0 {
		f = -f
	}
	return f, true
}
