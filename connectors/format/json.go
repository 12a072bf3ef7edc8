package format

import (
	"math"
	"strings"

	"github.com/shopspring/decimal"
	"github.com/valyala/fastjson"

	"github.com/sluice-db/sluice/sql/types"
)

// JSONDecoder decodes one JSON object per event. It reuses a fastjson.Parser
// between calls, so it is not safe for concurrent use.
type JSONDecoder struct {
	schema  types.Schema
	exact   map[string]int
	folded  map[string]int
	notNull []bool
	seen    []bool
	p       fastjson.Parser
	err     error
	row     types.Row
	buf     []byte
	keys    []fieldKey // decodeFast: the keys by position in the last objects
	day     dayCache   // decodeFast: the date of the last timestamp
	spots   []spot     // decodeFast: where the values of the object are
	shape   shape      // decodeShape: the shape of the last object decodeFast decoded
	// slowOnly disables decodeFast (differential tests).
	slowOnly bool
}

// NewJSONDecoder returns a JSON decoder for schema. With the option
// json_missing = 'null', missing fields of NOT NULL columns decode to NULL
// instead of failing (the engine checks constraints later).
func NewJSONDecoder(schema types.Schema, opts map[string]string) (*JSONDecoder, error) {
	d := &JSONDecoder{
		schema:  schema,
		exact:   make(map[string]int, len(schema)),
		folded:  make(map[string]int, len(schema)),
		notNull: make([]bool, len(schema)),
		seen:    make([]bool, len(schema)),
	}
	relaxed := false
	switch v := opts["json_missing"]; v {
	case "", "error":
	case "null":
		relaxed = true
	default:
		return nil, fieldOptError("json_missing", v, "error, null")
	}
	for i, c := range schema {
		d.exact[c.Name] = i
		if _, dup := d.folded[strings.ToLower(c.Name)]; !dup {
			d.folded[strings.ToLower(c.Name)] = i
		}
		d.notNull[i] = !c.Nullable && !relaxed
	}
	return d, nil
}

// Decode implements Decoder.
func (d *JSONDecoder) Decode(raw []byte, row types.Row) error {
	if len(row) < len(d.schema) {
		return errRowWidth(len(row), len(d.schema))
	}
	if !d.slowOnly && (d.decodeShape(raw, row) || d.decodeFast(raw, row)) {
		return nil
	}
	v, err := d.p.ParseBytes(raw)
	if err != nil {
		return wrapDecode("invalid JSON: %v", err)
	}
	o, err := v.Object()
	if err != nil {
		return wrapDecode("expected a JSON object, got %s", v.Type())
	}
	for i := range d.seen {
		d.seen[i] = false
		row[i] = types.Value{}
	}
	d.err = nil
	d.row = row
	o.Visit(d.visit)
	d.row = nil
	if d.err != nil {
		return d.err
	}
	for i, nn := range d.notNull {
		if nn && row[i].K == types.Null {
			if d.seen[i] {
				return fieldError(d.schema[i].Name, "null in a NOT NULL column")
			}
			return fieldError(d.schema[i].Name, "missing in a NOT NULL column")
		}
	}
	return nil
}

func (d *JSONDecoder) visit(key []byte, v *fastjson.Value) {
	if d.err != nil {
		return
	}
	i, ok := d.exact[string(key)]
	if !ok {
		i, ok = d.folded[strings.ToLower(string(key))]
		if !ok {
			return
		}
	}
	d.seen[i] = true
	val, err := d.value(d.schema[i], v)
	if err != nil {
		d.err = err
		return
	}
	d.row[i] = val
}

func (d *JSONDecoder) value(c types.Column, v *fastjson.Value) (types.Value, error) {
	t := c.Type
	jt := v.Type()
	if jt == fastjson.TypeNull {
		return types.Value{}, nil
	}
	wrong := func() (types.Value, error) {
		return types.Value{}, fieldError(c.Name, "expected %s, got JSON %s", t, jt)
	}
	switch t.Kind {
	case types.Bool:
		switch jt {
		case fastjson.TypeTrue:
			return types.NewBool(true), nil
		case fastjson.TypeFalse:
			return types.NewBool(false), nil
		}
		return wrong()
	case types.Int16, types.Int32, types.Int64:
		if jt != fastjson.TypeNumber {
			return wrong()
		}
		i, err := v.Int64()
		if err != nil {
			f, ferr := v.Float64()
			if ferr != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
				return types.Value{}, fieldError(c.Name, "%s is not a %s", v, t)
			}
			i = int64(f)
		}
		val, err := types.CheckIntRange(t.Kind, i)
		if err != nil {
			return types.Value{}, fieldError(c.Name, "%d: %s out of range", i, t)
		}
		return val, nil
	case types.Float32, types.Float64:
		if jt != fastjson.TypeNumber {
			return wrong()
		}
		f, err := v.Float64()
		if err != nil {
			return types.Value{}, fieldError(c.Name, "%s is not a number", v)
		}
		if t.Kind == types.Float32 {
			return types.NewFloat32(f), nil
		}
		return types.NewFloat(f), nil
	case types.Numeric:
		var s string
		switch jt {
		case fastjson.TypeNumber:
			d.buf = v.MarshalTo(d.buf[:0])
			s = string(d.buf)
		case fastjson.TypeString:
			s = string(v.GetStringBytes())
		default:
			return wrong()
		}
		dec, err := decimal.NewFromString(strings.TrimSpace(s))
		if err != nil {
			return types.Value{}, fieldError(c.Name, "%q is not a numeric", s)
		}
		val, err := types.CoerceNumeric(t, dec)
		if err != nil {
			return types.Value{}, fieldError(c.Name, "%v", err)
		}
		return val, nil
	case types.Text:
		if jt != fastjson.TypeString {
			return wrong()
		}
		b := v.GetStringBytes()
		if t.Width > 0 && len(b) > t.Width && len([]rune(string(b))) > t.Width {
			return types.Value{}, fieldError(c.Name, "value too long for %s", t)
		}
		return types.Value{K: types.Text, S: string(b)}, nil
	case types.Timestamp, types.TimestampTZ:
		switch jt {
		case fastjson.TypeNumber:
			ms, err := v.Int64()
			if err != nil {
				f, ferr := v.Float64()
				if ferr != nil || math.IsInf(f, 0) || math.Abs(f) > 9e15 {
					return types.Value{}, fieldError(c.Name, "%s is not epoch milliseconds", v)
				}
				return types.Value{K: t.Kind, I: int64(math.Round(f * 1000))}, nil
			}
			if ms > math.MaxInt64/1000 || ms < math.MinInt64/1000 {
				return types.Value{}, fieldError(c.Name, "%d: epoch milliseconds out of range", ms)
			}
			return types.Value{K: t.Kind, I: ms * 1000}, nil
		case fastjson.TypeString:
			us, err := parseTimestamp(v.GetStringBytes())
			if err != nil {
				return types.Value{}, fieldError(c.Name, "%q is not a timestamp (RFC 3339, YYYY-MM-DD HH:MM:SS[.fff] or epoch milliseconds)", clip(v.GetStringBytes()))
			}
			return types.Value{K: t.Kind, I: us}, nil
		}
		return wrong()
	case types.Date:
		switch jt {
		case fastjson.TypeNumber:
			days, err := v.Int64()
			if err != nil {
				return types.Value{}, fieldError(c.Name, "%s is not a day number", v)
			}
			return types.NewDate(days), nil
		case fastjson.TypeString:
			val, err := types.ParseText(t, string(v.GetStringBytes()))
			if err != nil {
				return types.Value{}, fieldError(c.Name, "%v", err)
			}
			return val, nil
		}
		return wrong()
	case types.JSONB:
		d.buf = v.MarshalTo(d.buf[:0])
		return types.NewJSONB(string(d.buf)), nil
	case types.Bytea, types.Interval:
		if jt != fastjson.TypeString {
			return wrong()
		}
		val, err := types.ParseText(t, string(v.GetStringBytes()))
		if err != nil {
			return types.Value{}, fieldError(c.Name, "%v", err)
		}
		return val, nil
	}
	return types.Value{}, fieldError(c.Name, "columns of type %s cannot be decoded from JSON", t)
}
