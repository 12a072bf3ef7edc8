package format

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/sql/types"
)

// AvroDecoder decodes binary Avro datums of a record writer schema (no
// container or registry header: Pulsar's AVRO schema type sends the bare
// datum). Record fields are matched to columns by name, case-insensitively;
// a column without a field is NULL (or an error when NOT NULL). It is not
// safe for concurrent use.
type AvroDecoder struct {
	schema types.Schema
	rec    *avro.RecordSchema
	// field maps a column index to the record field name ("" if absent).
	field  []string
	unions []bool
	m      map[string]any
}

// NewAvroDecoder returns an Avro decoder for schema. The option avro_schema
// holds the writer schema as Avro JSON (a connector that fetches it from a
// registry passes it the same way).
func NewAvroDecoder(schema types.Schema, opts map[string]string) (*AvroDecoder, error) {
	text := opts["avro_schema"]
	if text == "" {
		return nil, fmt.Errorf("%w: avro_schema is required for format 'avro' (the writer schema as Avro JSON)", ErrBadOption)
	}
	s, err := avro.ParseWithCache(text, "", &avro.SchemaCache{})
	if err != nil {
		return nil, fmt.Errorf("%w: avro_schema: %w", ErrBadOption, err)
	}
	rec, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("%w: avro_schema must be a record schema, got %s", ErrBadOption, s.Type())
	}
	d := &AvroDecoder{schema: schema, rec: rec, field: make([]string, len(schema)), unions: make([]bool, len(schema))}
	for i, c := range schema {
		for _, f := range rec.Fields() {
			if strings.EqualFold(f.Name(), c.Name) {
				d.field[i] = f.Name()
				_, d.unions[i] = f.Type().(*avro.UnionSchema)
				break
			}
		}
	}
	return d, nil
}

// Decode implements Decoder.
func (d *AvroDecoder) Decode(raw []byte, row types.Row) (err error) {
	if len(row) < len(d.schema) {
		return errRowWidth(len(row), len(d.schema))
	}
	defer func() {
		// The Avro library is not expected to panic, but input is hostile.
		if r := recover(); r != nil {
			err = wrapDecode("invalid Avro datum: %v", r)
		}
	}()
	clear(d.m)
	if d.m == nil {
		d.m = map[string]any{}
	}
	if err := avro.Unmarshal(d.rec, raw, &d.m); err != nil {
		return wrapDecode("invalid Avro datum: %v", err)
	}
	for i, c := range d.schema {
		row[i] = types.Value{}
		name := d.field[i]
		var v any
		if name != "" {
			v = d.m[name]
		}
		if u, ok := v.(map[string]any); ok && d.unions[i] && len(u) == 1 {
			for _, inner := range u {
				v = inner
			}
		}
		if v == nil {
			if !c.Nullable {
				return fieldError(c.Name, "null or missing in a NOT NULL column")
			}
			continue
		}
		val, err := fromGo(c, v)
		if err != nil {
			return err
		}
		row[i] = val
	}
	return nil
}

// fromGo converts a decoded Avro value to a value of column c.
func fromGo(c types.Column, v any) (types.Value, error) {
	t := c.Type
	wrong := func() (types.Value, error) {
		return types.Value{}, fieldError(c.Name, "expected %s, got Avro %T", t, v)
	}
	var i int64
	isInt := true
	switch x := v.(type) {
	case int:
		i = int64(x)
	case int32:
		i = int64(x)
	case int64:
		i = x
	default:
		isInt = false
	}
	switch t.Kind {
	case types.Bool:
		if b, ok := v.(bool); ok {
			return types.NewBool(b), nil
		}
		return wrong()
	case types.Int16, types.Int32, types.Int64:
		if !isInt {
			return wrong()
		}
		val, err := types.CheckIntRange(t.Kind, i)
		if err != nil {
			return types.Value{}, fieldError(c.Name, "%d: %s out of range", i, t)
		}
		return val, nil
	case types.Float32, types.Float64:
		var f float64
		switch x := v.(type) {
		case float32:
			f = float64(x)
		case float64:
			f = x
		default:
			if !isInt {
				return wrong()
			}
			f = float64(i)
		}
		if t.Kind == types.Float32 {
			return types.NewFloat32(f), nil
		}
		return types.NewFloat(f), nil
	case types.Numeric:
		var dec decimal.Decimal
		switch x := v.(type) {
		case *big.Rat:
			dec = decimal.NewFromBigRat(x, 18)
		case string:
			var err error
			if dec, err = decimal.NewFromString(x); err != nil {
				return types.Value{}, fieldError(c.Name, "%q is not a numeric", x)
			}
		case float64:
			dec = decimal.NewFromFloat(x)
		default:
			if !isInt {
				return wrong()
			}
			dec = decimal.NewFromInt(i)
		}
		val, err := types.CoerceNumeric(t, dec)
		if err != nil {
			return types.Value{}, fieldError(c.Name, "%v", err)
		}
		return val, nil
	case types.Text:
		if s, ok := v.(string); ok {
			return types.NewText(s), nil
		}
		return wrong()
	case types.Bytea:
		if b, ok := v.([]byte); ok {
			return types.NewBytea(b), nil
		}
		return wrong()
	case types.Timestamp, types.TimestampTZ:
		switch x := v.(type) {
		case time.Time:
			return types.Value{K: t.Kind, I: x.UnixMicro()}, nil
		case string:
			us, err := parseTimestamp([]byte(x))
			if err != nil {
				return types.Value{}, fieldError(c.Name, "%q is not a timestamp", x)
			}
			return types.Value{K: t.Kind, I: us}, nil
		}
		if isInt {
			if i > math.MaxInt64/1000 || i < math.MinInt64/1000 {
				return types.Value{}, fieldError(c.Name, "%d: epoch milliseconds out of range", i)
			}
			return types.Value{K: t.Kind, I: i * 1000}, nil
		}
		return wrong()
	case types.Date:
		if x, ok := v.(time.Time); ok {
			return types.NewDate(types.FloorDiv(x.Unix(), 86400)), nil
		}
		if isInt {
			return types.NewDate(i), nil
		}
		return wrong()
	case types.Interval:
		if x, ok := v.(time.Duration); ok {
			return types.NewIntervalMicros(x.Microseconds()), nil
		}
		return wrong()
	case types.JSONB:
		b, err := json.Marshal(v)
		if err != nil {
			return types.Value{}, fieldError(c.Name, "cannot render as JSON: %v", err)
		}
		return types.NewJSONB(string(b)), nil
	}
	return wrong()
}
