package expr

import (
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// Cast converts E to type T (CAST, ::, and implicit coercions the binder
// inserts).
type Cast struct {
	E Expr
	T types.Type
}

// CanCast reports whether a value of type from may be cast to type to.
func CanCast(from, to types.Type) bool {
	f, t := from.Kind, to.Kind
	switch {
	case f == t, f == types.Null, f == types.Text, t == types.Text:
		return true
	case f.IsNumeric() && t.IsNumeric():
		return true
	case (f == types.Bool && t.IsInteger()) || (f.IsInteger() && t == types.Bool):
		return true
	case (f.IsTime() || f == types.Date) && (t.IsTime() || t == types.Date):
		return true
	case f == types.JSONB && (t.IsNumeric() || t == types.Bool):
		return true
	case f.IsInteger() && t == types.Interval, f == types.Interval && t.IsInteger():
		return true
	}
	return false
}

// NewCast type-checks CAST(e AS t).
func NewCast(e Expr, t types.Type) (Expr, error) {
	if !CanCast(e.Type(), t) {
		return nil, sqlerr.New(sqlerr.DatatypeMismatch, "cannot cast type %s to %s", e.Type(), t)
	}
	if c, ok := e.(*Const); ok {
		v, err := CastValue(c.V, t)
		if err != nil {
			return nil, err
		}
		return &Const{V: v, T: t}, nil
	}
	if e.Type() == t {
		return e, nil
	}
	return &Cast{E: e, T: t}, nil
}

// Type implements Expr.
func (c *Cast) Type() types.Type { return c.T }

// String implements Expr.
func (c *Cast) String() string { return "CAST(" + c.E.String() + " AS " + c.T.String() + ")" }

// Eval implements Expr.
func (c *Cast) Eval(ctx *Context, row types.Row) (types.Value, error) {
	v, err := c.E.Eval(ctx, row)
	if err != nil || v.K == types.Null {
		return types.Value{}, err
	}
	return CastValue(v, c.T)
}

// CastValue converts v to type t; a value that does not fit is a
// *sqlerr.Error (22P02 invalid text, 22003 out of range).
func CastValue(v types.Value, t types.Type) (types.Value, error) {
	if v.K == types.Null {
		return types.Value{}, nil
	}
	if v.K == t.Kind && t.Precision == 0 && t.Width == 0 {
		return v, nil
	}
	switch t.Kind {
	case types.Text:
		s := v.String()
		if t.Width > 0 && len([]rune(s)) > t.Width {
			s = string([]rune(s)[:t.Width])
		}
		return types.NewText(s), nil
	case types.Int16, types.Int32, types.Int64:
		var i int64
		switch {
		case v.K.IsInteger(), v.K == types.Bool, v.K == types.Interval:
			i = v.I
		case v.K == types.Float32 || v.K == types.Float64:
			f := math.RoundToEven(v.Float())
			if math.IsNaN(f) || f > math.MaxInt64 || f < math.MinInt64 {
				return types.Value{}, errIntOvf
			}
			i = int64(f)
		case v.K == types.Numeric:
			d := v.Decimal().RoundBank(0)
			if !d.IsInteger() || d.GreaterThan(decimal.NewFromInt(math.MaxInt64)) || d.LessThan(decimal.NewFromInt(math.MinInt64)) {
				return types.Value{}, errIntOvf
			}
			i = d.IntPart()
		default:
			return parseAs(t, v)
		}
		out, err := types.CheckIntRange(t.Kind, i)
		if err != nil {
			return types.Value{}, sqlerr.Wrap(sqlerr.NumericOutOfRange, err)
		}
		return out, nil
	case types.Float32, types.Float64:
		if v.K.IsNumeric() {
			if t.Kind == types.Float32 {
				return types.NewFloat32(v.Float()), nil
			}
			return types.NewFloat(v.Float()), nil
		}
		return parseAs(t, v)
	case types.Numeric:
		if v.K.IsNumeric() {
			if f := v.Float(); (v.K == types.Float32 || v.K == types.Float64) && (math.IsNaN(f) || math.IsInf(f, 0)) {
				return types.Value{}, sqlerr.New(sqlerr.NumericOutOfRange, "cannot convert %v to numeric", f)
			}
			out, err := types.CoerceNumeric(t, v.Decimal())
			if err != nil {
				return types.Value{}, sqlerr.Wrap(sqlerr.NumericOutOfRange, err)
			}
			return out, nil
		}
		return parseAs(t, v)
	case types.Bool:
		if v.K.IsInteger() {
			return types.NewBool(v.I != 0), nil
		}
		return parseAs(t, v)
	case types.Timestamp, types.TimestampTZ:
		switch {
		case v.K.IsTime():
			return types.Value{K: t.Kind, I: v.I}, nil
		case v.K == types.Date:
			return types.Value{K: t.Kind, I: v.I * types.MicrosPerDay}, nil
		}
		return parseAs(t, v)
	case types.Date:
		if v.K.IsTime() {
			return types.NewDate(types.FloorDiv(v.I, types.MicrosPerDay)), nil
		}
		return parseAs(t, v)
	case types.Interval:
		if v.K.IsInteger() {
			return types.NewIntervalMicros(v.I), nil
		}
		return parseAs(t, v)
	case types.JSONB:
		if v.K == types.Text {
			return parseAs(t, v)
		}
		if v.K.IsNumeric() || v.K == types.Bool {
			return types.NewJSONB(v.String()), nil
		}
		return types.NewJSONB(strconv.Quote(v.String())), nil
	case types.Bytea:
		if v.K == types.Text {
			return parseAs(t, v)
		}
		return types.NewBytea([]byte(v.String())), nil
	case types.Null:
		return v, nil
	}
	return types.Value{}, sqlerr.New(sqlerr.DatatypeMismatch, "cannot cast type %s to %s", v.K, t)
}

func parseAs(t types.Type, v types.Value) (types.Value, error) {
	s := v.S
	if v.K == types.JSONB {
		s = strings.Trim(s, `"`)
	} else if v.K != types.Text {
		s = v.String()
	}
	out, err := types.ParseText(t, s)
	if err != nil {
		code := sqlerr.InvalidTextRep
		if !errors.Is(err, types.ErrBadValue) || strings.Contains(err.Error(), "out of range") {
			code = sqlerr.NumericOutOfRange
		}
		return types.Value{}, &sqlerr.Error{Code: code, Message: strings.TrimPrefix(err.Error(), types.ErrBadValue.Error()+": "), Err: err}
	}
	return out, nil
}
