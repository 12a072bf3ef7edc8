package datagen

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-db/sluice/sql/types"
)

// field is one column a stream can fill. The generator produces each field
// in a canonical kind (Int64, Text, Timestamp, Numeric or Float64); the
// column's declared type decides the conversion.
type field struct {
	name    string
	aliases []string
	kind    types.Kind
	doc     string
}

// fieldSet is the fields of one stream, by position.
type fieldSet []field

func (fs fieldSet) lookup(name string) int {
	for i, f := range fs {
		if strings.EqualFold(f.name, name) {
			return i
		}
		for _, a := range f.aliases {
			if strings.EqualFold(a, name) {
				return i
			}
		}
	}
	return -1
}

func (fs fieldSet) names() string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return strings.Join(out, ", ")
}

// convertible reports whether a canonical kind can fill a column of kind to.
func convertible(from, to types.Kind) bool {
	if from == to || to == types.Text {
		return true
	}
	switch from {
	case types.Int64:
		return to.IsNumeric()
	case types.Numeric, types.Float64:
		return to == types.Float32 || to == types.Float64 || to == types.Numeric
	case types.Timestamp:
		return to == types.TimestampTZ || to == types.Date || to == types.Int64
	}
	return false
}

// bindColumns maps schema columns to field indexes, or explains which
// column cannot be filled.
func bindColumns(stream string, fs fieldSet, schema types.Schema) ([]int, error) {
	idx := make([]int, len(schema))
	for i, c := range schema {
		j := fs.lookup(c.Name)
		if j < 0 {
			return nil, fmt.Errorf("datagen stream %q has no field %q (fields: %s)", stream, c.Name, fs.names())
		}
		if !convertible(fs[j].kind, c.Type.Kind) {
			return nil, fmt.Errorf("datagen field %q of stream %q is %s and cannot fill column %q of type %s",
				fs[j].name, stream, fs[j].kind, c.Name, c.Type)
		}
		idx[i] = j
	}
	return idx, nil
}

// convert turns a canonical value into a value of type t (bindColumns has
// checked that the kinds are convertible).
func convert(v types.Value, t types.Type) types.Value {
	if v.K == types.Null || v.K == t.Kind {
		return v
	}
	switch v.K {
	case types.Int64:
		switch t.Kind {
		case types.Int16, types.Int32:
			return types.NewIntKind(t.Kind, v.I)
		case types.Float32:
			return types.NewFloat32(float64(v.I))
		case types.Float64:
			return types.NewFloat(float64(v.I))
		case types.Numeric:
			return types.Value{K: types.Numeric, S: strconv.FormatInt(v.I, 10)}
		case types.Text:
			return types.NewText(strconv.FormatInt(v.I, 10))
		}
	case types.Numeric:
		f, _ := strconv.ParseFloat(v.S, 64)
		switch t.Kind {
		case types.Float32:
			return types.NewFloat32(f)
		case types.Float64:
			return types.NewFloat(f)
		case types.Text:
			return types.NewText(v.S)
		}
	case types.Float64:
		f := math.Float64frombits(uint64(v.I))
		switch t.Kind {
		case types.Float32:
			return types.NewFloat32(f)
		case types.Numeric:
			return types.Value{K: types.Numeric, S: strconv.FormatFloat(f, 'f', -1, 64)}
		case types.Text:
			return types.NewText(strconv.FormatFloat(f, 'g', -1, 64))
		}
	case types.Timestamp:
		switch t.Kind {
		case types.TimestampTZ:
			return types.NewTimestampTZ(v.I)
		case types.Date:
			return types.NewDate(types.FloorDiv(v.I, int64(24*time.Hour/time.Microsecond)))
		case types.Int64:
			return types.NewInt(types.FloorDiv(v.I, 1000)) // epoch milliseconds
		case types.Text:
			return types.NewText(time.UnixMicro(v.I).UTC().Format(time.RFC3339Nano))
		}
	}
	return types.NullValue
}

// money returns a NUMERIC value of cents.
func money(cents int64) types.Value {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return types.Value{K: types.Numeric, S: fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)}
}
