package pgwire

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// Wire format codes.
const (
	textFormat   int16 = 0
	binaryFormat int16 = 1
)

// Offsets between the Unix epoch and the Postgres epoch (2000-01-01).
const (
	pgEpochDays   = 10957
	pgEpochMicros = pgEpochDays * 86400 * 1_000_000
)

// oidJSON is the OID of json, accepted for parameters as jsonb.
const oidJSON uint32 = 114

// paramType returns the type a parameter of the given OID decodes to.
func paramType(oid uint32) types.Type {
	if oid == oidJSON {
		return types.TJSONB
	}
	t, ok := types.KindFromOID(oid)
	if !ok {
		return types.TNull
	}
	return t
}

// decodeParam decodes a Bind parameter of type OID oid in format f. A
// timestamptz in text without a zone offset is local time in loc (the
// session's TimeZone; nil is UTC), as in Postgres.
func decodeParam(oid uint32, f int16, b []byte, loc *time.Location) (types.Value, error) {
	if b == nil {
		return types.NullValue, nil
	}
	t := paramType(oid)
	if f == textFormat {
		if t.Kind == types.Null {
			return types.NewText(string(b)), nil
		}
		if t.Kind == types.TimestampTZ && loc != nil {
			if us, err := types.ParseTimestampIn(string(b), loc); err == nil {
				return types.NewTimestampTZ(us), nil
			}
		}
		if t.Kind == types.Numeric && t.Precision == 0 {
			if d, err := decimal.NewFromString(strings.TrimSpace(string(b))); err == nil {
				return numericValue(d), nil
			}
		}
		v, err := types.ParseText(t, string(b))
		if err != nil {
			return v, &sqlerr.Error{Code: sqlerr.InvalidTextRep,
				Message: strings.TrimPrefix(err.Error(), types.ErrBadValue.Error()+": "), Err: err}
		}
		return v, nil
	}
	if f != binaryFormat {
		return types.Value{}, sqlerr.New(sqlerr.ProtocolViolation, "unsupported format code: %d", f)
	}
	bad := func() (types.Value, error) {
		return types.Value{}, sqlerr.New(codeInvalidBinaryRepresentation,
			"incorrect binary data format in bind parameter (type %s, %d bytes)", t, len(b))
	}
	switch oid {
	case types.OIDOid:
		if err := wantLen(b, 4); err != nil {
			return types.Value{}, err
		}
		return types.NewInt(int64(binary.BigEndian.Uint32(b))), nil
	case oidJSON:
		return types.NewJSONB(string(b)), nil
	}
	switch t.Kind {
	case types.Null, types.Text:
		return types.NewText(string(b)), nil
	case types.Bool:
		if err := wantLen(b, 1); err != nil {
			return types.Value{}, err
		}
		return types.NewBool(b[0] != 0), nil
	case types.Int16:
		if err := wantLen(b, 2); err != nil {
			return types.Value{}, err
		}
		return types.NewIntKind(types.Int16, int64(int16(binary.BigEndian.Uint16(b)))), nil
	case types.Int32:
		if err := wantLen(b, 4); err != nil {
			return types.Value{}, err
		}
		return types.NewIntKind(types.Int32, int64(int32(binary.BigEndian.Uint32(b)))), nil
	case types.Int64:
		if err := wantLen(b, 8); err != nil {
			return types.Value{}, err
		}
		return types.NewInt(int64(binary.BigEndian.Uint64(b))), nil
	case types.Float32:
		if err := wantLen(b, 4); err != nil {
			return types.Value{}, err
		}
		return types.NewFloat32(float64(math.Float32frombits(binary.BigEndian.Uint32(b)))), nil
	case types.Float64:
		if err := wantLen(b, 8); err != nil {
			return types.Value{}, err
		}
		return types.NewFloat(math.Float64frombits(binary.BigEndian.Uint64(b))), nil
	case types.Numeric:
		var n pgtype.Numeric
		if err := (pgtype.NumericCodec{}).PlanScan(nil, types.OIDNumeric, binaryFormat, &n).Scan(b, &n); err != nil {
			return bad()
		}
		if !n.Valid {
			return types.NullValue, nil
		}
		if n.NaN || n.InfinityModifier != pgtype.Finite {
			return types.Value{}, sqlerr.New(sqlerr.FeatureNotSupported, "numeric NaN and infinity are not supported")
		}
		d := decimal.NewFromBigInt(n.Int, n.Exp)
		if t.Precision == 0 {
			return numericValue(d), nil
		}
		return types.CoerceNumeric(t, d)
	case types.Bytea:
		return types.NewBytea(b), nil
	case types.Date:
		if err := wantLen(b, 4); err != nil {
			return types.Value{}, err
		}
		return types.NewDate(int64(int32(binary.BigEndian.Uint32(b))) + pgEpochDays), nil
	case types.Timestamp, types.TimestampTZ:
		if err := wantLen(b, 8); err != nil {
			return types.Value{}, err
		}
		return types.Value{K: t.Kind, I: int64(binary.BigEndian.Uint64(b)) + pgEpochMicros}, nil
	case types.Interval:
		if err := wantLen(b, 16); err != nil {
			return types.Value{}, err
		}
		us := int64(binary.BigEndian.Uint64(b))
		days := int64(int32(binary.BigEndian.Uint32(b[8:])))
		months := int64(int32(binary.BigEndian.Uint32(b[12:])))
		return types.NewIntervalMicros(us + (days+30*months)*types.MicrosPerDay), nil
	case types.JSONB:
		if len(b) < 1 || b[0] != 1 {
			return bad()
		}
		return types.NewJSONB(string(b[1:])), nil
	}
	return bad()
}

// errShortParam is Postgres' error for a binary parameter shorter than its type.
var errShortParam = &sqlerr.Error{Code: sqlerr.ProtocolViolation, Message: "insufficient data left in message"}

// wantLen checks the length of a fixed-size binary parameter the way
// Postgres does: too short is a protocol violation, too long a bad format.
func wantLen(b []byte, n int) error {
	switch {
	case len(b) < n:
		return errShortParam
	case len(b) > n:
		return sqlerr.New(codeInvalidBinaryRepresentation, "incorrect binary data format in bind parameter")
	}
	return nil
}

// numericValue keeps the scale the client sent ("-12.50" stays
// "-12.50", as in Postgres), which types.NewNumeric would drop.
func numericValue(d decimal.Decimal) types.Value {
	scale := int32(0)
	if d.Exponent() < 0 {
		scale = -d.Exponent()
	}
	return types.Value{K: types.Numeric, S: d.StringFixed(scale)}
}

// appendValue appends v, a value of a column of type t, in format f. v is
// not null.
// appendValueIn is appendValue with timestamptz text shown in the time
// zone loc (the session's TimeZone; nil is UTC). The binary format of
// timestamptz does not depend on the time zone.
func appendValueIn(buf []byte, t types.Type, v types.Value, f int16, loc *time.Location) ([]byte, error) {
	if loc != nil && f == textFormat && t.Kind == types.TimestampTZ {
		if v.K != t.Kind {
			v = convert(t.Kind, v)
		}
		if v.K == types.TimestampTZ {
			return types.AppendTimestampTZIn(buf, v.I, loc), nil
		}
	}
	return appendValue(buf, t, v, f)
}

func appendValue(buf []byte, t types.Type, v types.Value, f int16) ([]byte, error) {
	if f == textFormat || t.Kind == types.Null {
		if v.K != t.Kind && t.Kind != types.Null && t.Kind != types.Text {
			v = convert(t.Kind, v)
		}
		switch v.K {
		case types.Float32:
			return appendPGFloat(buf, v.Float(), 32), nil
		case types.Float64:
			return appendPGFloat(buf, v.Float(), 64), nil
		}
		return v.AppendText(buf), nil
	}
	switch t.Kind {
	case types.Bool:
		if v.I != 0 {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case types.Int16:
		return binary.BigEndian.AppendUint16(buf, uint16(intOf(v))), nil
	case types.Int32:
		return binary.BigEndian.AppendUint32(buf, uint32(intOf(v))), nil
	case types.Int64:
		return binary.BigEndian.AppendUint64(buf, uint64(intOf(v))), nil
	case types.Float32:
		f := v.Float()
		if math.IsNaN(f) {
			return binary.BigEndian.AppendUint32(buf, 0x7fc00000), nil // Postgres' canonical NaN
		}
		return binary.BigEndian.AppendUint32(buf, math.Float32bits(float32(f))), nil
	case types.Float64:
		f := v.Float()
		if math.IsNaN(f) {
			return binary.BigEndian.AppendUint64(buf, 0x7ff8000000000000), nil
		}
		return binary.BigEndian.AppendUint64(buf, math.Float64bits(f)), nil
	case types.Numeric:
		d := v.Decimal()
		if v.K == types.Numeric {
			var err error
			if d, err = decimal.NewFromString(v.S); err != nil {
				return nil, fmt.Errorf("encode numeric %q: %w", v.S, err)
			}
		}
		return appendNumeric(buf, d), nil
	case types.Text, types.Bytea:
		if v.K != types.Text && v.K != types.Bytea && v.K != types.JSONB && v.K != types.Numeric {
			return v.AppendText(buf), nil
		}
		return append(buf, v.S...), nil
	case types.JSONB:
		buf = append(buf, 1)
		return append(buf, v.S...), nil
	case types.Date:
		days := v.I
		if v.K.IsTime() {
			days = types.FloorDiv(v.I, types.MicrosPerDay)
		}
		return binary.BigEndian.AppendUint32(buf, uint32(int32(days-pgEpochDays))), nil
	case types.Timestamp, types.TimestampTZ:
		us := v.I
		if v.K == types.Date {
			us = v.I * types.MicrosPerDay
		}
		return binary.BigEndian.AppendUint64(buf, uint64(us-pgEpochMicros)), nil
	case types.Interval:
		us := v.I
		days := us / types.MicrosPerDay
		us -= days * types.MicrosPerDay
		buf = binary.BigEndian.AppendUint64(buf, uint64(us))
		buf = binary.BigEndian.AppendUint32(buf, uint32(int32(days)))
		return binary.BigEndian.AppendUint32(buf, 0), nil
	}
	return v.AppendText(buf), nil
}

// appendNumeric appends d in Postgres' binary numeric format exactly as
// Postgres writes it: base-10000 digits without leading or trailing zero
// groups, the weight of the first group, the sign and the display scale.
func appendNumeric(buf []byte, d decimal.Decimal) []byte {
	coef := new(big.Int).Abs(d.Coefficient()).String()
	exp := int(d.Exponent())
	var intPart, frac string
	dscale := 0
	if exp >= 0 {
		intPart = coef + strings.Repeat("0", exp)
	} else {
		dscale = -exp
		if len(coef) <= dscale {
			coef = strings.Repeat("0", dscale-len(coef)+1) + coef
		}
		intPart, frac = coef[:len(coef)-dscale], coef[len(coef)-dscale:]
	}
	if pad := (4 - len(intPart)%4) % 4; pad > 0 {
		intPart = strings.Repeat("0", pad) + intPart
	}
	if pad := (4 - len(frac)%4) % 4; pad > 0 {
		frac += strings.Repeat("0", pad)
	}
	all := intPart + frac
	groups := make([]uint16, 0, len(all)/4)
	for i := 0; i < len(all); i += 4 {
		g := 0
		for _, c := range all[i : i+4] {
			g = g*10 + int(c-'0')
		}
		groups = append(groups, uint16(g))
	}
	weight := len(intPart)/4 - 1
	for len(groups) > 0 && groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	sign := uint16(0)
	if len(groups) == 0 {
		weight = 0
	} else if d.Sign() < 0 {
		sign = 0x4000
	}
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(groups)))
	buf = binary.BigEndian.AppendUint16(buf, uint16(int16(weight)))
	buf = binary.BigEndian.AppendUint16(buf, sign)
	buf = binary.BigEndian.AppendUint16(buf, uint16(dscale))
	for _, g := range groups {
		buf = binary.BigEndian.AppendUint16(buf, g)
	}
	return buf
}

// appendPGFloat appends f as Postgres 12+ prints float4/float8 (shortest
// exact digits): plain decimal for decimal exponents from -4 up to 5
// (float4) or 14 (float8), scientific ("1e+15", "1.5e-07") outside.
func appendPGFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, "NaN"...)
	case math.IsInf(f, 1):
		return append(buf, "Infinity"...)
	case math.IsInf(f, -1):
		return append(buf, "-Infinity"...)
	}
	if f == 0 {
		if math.Signbit(f) {
			return append(buf, "-0"...)
		}
		return append(buf, '0')
	}
	sci := strconv.FormatFloat(f, 'e', -1, bits)
	exp, _ := strconv.Atoi(sci[strings.IndexByte(sci, 'e')+1:])
	limit := 15
	if bits == 32 {
		limit = 6
	}
	if exp < -4 || exp >= limit {
		return append(buf, sci...)
	}
	return strconv.AppendFloat(buf, f, 'f', -1, bits)
}

func intOf(v types.Value) int64 {
	switch v.K {
	case types.Float32, types.Float64, types.Numeric:
		return int64(v.Float())
	}
	return v.I
}

// convert changes a value of another kind into kind k for text output, for
// the few cases where the kinds differ (a BIGINT value in a REAL column).
func convert(k types.Kind, v types.Value) types.Value {
	switch {
	case k == types.Float32 && v.K.IsNumeric():
		return types.NewFloat32(v.Float())
	case k == types.Float64 && v.K.IsNumeric():
		return types.NewFloat(v.Float())
	case k.IsInteger() && v.K.IsInteger():
		return types.Value{K: k, I: v.I}
	case k == types.Numeric && v.K.IsNumeric():
		return types.NewNumeric(v.Decimal())
	case k.IsTime() && (v.K.IsTime() || v.K == types.Date):
		if v.K == types.Date {
			return types.Value{K: k, I: v.I * types.MicrosPerDay}
		}
		return types.Value{K: k, I: v.I}
	}
	return v
}
