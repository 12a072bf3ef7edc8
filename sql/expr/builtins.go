package expr

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
	"github.com/valyala/fastjson"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

const (
	kAny  = types.Null
	kText = types.Text
	kInt  = types.Int64
	kF64  = types.Float64
	kBool = types.Bool
	kTS   = types.TimestampTZ
)

func textOf(s string) types.Value { return types.NewText(s) }

func sameAsFirst(args []types.Type) (types.Type, error) {
	if len(args) == 0 || args[0].Kind == types.Null {
		return types.TFloat64, nil
	}
	return types.Type{Kind: args[0].Kind}, nil
}

func numericArg(name string) func([]types.Type) (types.Type, error) {
	return func(args []types.Type) (types.Type, error) {
		if len(args) > 0 && !args[0].Kind.IsNumeric() && args[0].Kind != types.Null {
			return types.Type{}, sqlerr.New(sqlerr.UndefinedFunction, "function %s(%s) does not exist", name, args[0])
		}
		return sameAsFirst(args)
	}
}

// runes indexes s by characters (Postgres positions are 1-based characters).
func substr(s string, start int64, n int64, hasLen bool) (string, error) {
	if hasLen && n < 0 {
		return "", sqlerr.New(sqlerr.InvalidParameterValue, "negative substring length not allowed")
	}
	r := []rune(s)
	from := start - 1
	to := int64(len(r))
	if hasLen {
		to = from + n
	}
	from = max(from, 0)
	to = min(to, int64(len(r)))
	if from >= to {
		return "", nil
	}
	return string(r[from:to]), nil
}

func init() {
	register(
		&FuncDef{Name: "lower", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) { return textOf(strings.ToLower(a[0].S)), nil }},
		&FuncDef{Name: "upper", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) { return textOf(strings.ToUpper(a[0].S)), nil }},
		&FuncDef{Name: "initcap", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				prev := false
				out := strings.Map(func(r rune) rune {
					w := unicode.IsLetter(r) || unicode.IsDigit(r)
					defer func() { prev = w }()
					if w && !prev {
						return unicode.ToUpper(r)
					}
					return unicode.ToLower(r)
				}, a[0].S)
				return textOf(out), nil
			}},
		&FuncDef{Name: "substr", Min: 2, Max: 3, Args: []types.Kind{kText, kInt, kInt}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				var n int64
				if len(a) == 3 {
					n = a[2].I
				}
				s, err := substr(a[0].S, a[1].I, n, len(a) == 3)
				return textOf(s), err
			}},
		&FuncDef{Name: "concat", Min: 0, Max: -1, Args: []types.Kind{kAny}, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				var b strings.Builder
				for _, v := range a {
					b.WriteString(v.String())
				}
				return textOf(b.String()), nil
			}},
		&FuncDef{Name: "concat_ws", Min: 1, Max: -1, Args: []types.Kind{kText, kAny}, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				if a[0].IsNull() {
					return types.Value{}, nil
				}
				var parts []string
				for _, v := range a[1:] {
					if !v.IsNull() {
						parts = append(parts, v.String())
					}
				}
				return textOf(strings.Join(parts, a[0].S)), nil
			}},
		// __concat_op is the || operator: NULL when an operand is NULL.
		&FuncDef{Name: "__concat_op", Min: 2, Max: 2, Args: []types.Kind{kAny}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return textOf(a[0].String() + a[1].String()), nil
			}},
		&FuncDef{Name: "length", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, RetType: types.TInt32,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return types.NewIntKind(types.Int32, int64(utf8.RuneCountInString(a[0].S))), nil
			}},
		&FuncDef{Name: "octet_length", Min: 1, Max: 1, Args: []types.Kind{kAny}, Strict: true, RetType: types.TInt32,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				if a[0].K == types.Text || a[0].K == types.Bytea {
					return types.NewIntKind(types.Int32, int64(len(a[0].S))), nil
				}
				return types.NewIntKind(types.Int32, int64(len(a[0].String()))), nil
			}},
		&FuncDef{Name: "split_part", Min: 3, Max: 3, Args: []types.Kind{kText, kText, kInt}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				n := a[2].I
				if n == 0 {
					return types.Value{}, sqlerr.New(sqlerr.InvalidParameterValue, "field position must not be zero")
				}
				var parts []string
				if a[1].S == "" {
					parts = []string{a[0].S}
				} else {
					parts = strings.Split(a[0].S, a[1].S)
				}
				if n < 0 {
					n = int64(len(parts)) + n + 1
				}
				if n < 1 || n > int64(len(parts)) {
					return textOf(""), nil
				}
				return textOf(parts[n-1]), nil
			}},
		&FuncDef{Name: "btrim", Min: 1, Max: 2, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return textOf(strings.Trim(a[0].S, cutset(a))), nil
			}},
		&FuncDef{Name: "ltrim", Min: 1, Max: 2, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return textOf(strings.TrimLeft(a[0].S, cutset(a))), nil
			}},
		&FuncDef{Name: "rtrim", Min: 1, Max: 2, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return textOf(strings.TrimRight(a[0].S, cutset(a))), nil
			}},
		&FuncDef{Name: "replace", Min: 3, Max: 3, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return textOf(strings.ReplaceAll(a[0].S, a[1].S, a[2].S)), nil
			}},
		// position(sub IN s): the TiDB parser passes (sub, s).
		&FuncDef{Name: "position", Min: 2, Max: 2, Args: []types.Kind{kText}, Strict: true, RetType: types.TInt32,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) { return strpos(a[1].S, a[0].S), nil }},
		&FuncDef{Name: "strpos", Min: 2, Max: 2, Args: []types.Kind{kText}, Strict: true, RetType: types.TInt32,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) { return strpos(a[0].S, a[1].S), nil }},
		&FuncDef{Name: "left", Min: 2, Max: 2, Args: []types.Kind{kText, kInt}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				r := []rune(a[0].S)
				n := a[1].I
				if n < 0 {
					n = max(int64(len(r))+n, 0)
				}
				return textOf(string(r[:min(n, int64(len(r)))])), nil
			}},
		&FuncDef{Name: "right", Min: 2, Max: 2, Args: []types.Kind{kText, kInt}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				r := []rune(a[0].S)
				n := a[1].I
				if n < 0 {
					n = max(int64(len(r))+n, 0)
				}
				n = min(n, int64(len(r)))
				return textOf(string(r[int64(len(r))-n:])), nil
			}},
		&FuncDef{Name: "reverse", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				r := []rune(a[0].S)
				for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
					r[i], r[j] = r[j], r[i]
				}
				return textOf(string(r)), nil
			}},
		&FuncDef{Name: "repeat", Min: 2, Max: 2, Args: []types.Kind{kText, kInt}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				if a[1].I <= 0 {
					return textOf(""), nil
				}
				if int64(len(a[0].S))*a[1].I > 1<<28 {
					return types.Value{}, sqlerr.New(sqlerr.ProgramLimitExceeded, "requested length too large")
				}
				return textOf(strings.Repeat(a[0].S, int(a[1].I))), nil
			}},
		&FuncDef{Name: "lpad", Min: 2, Max: 3, Args: []types.Kind{kText, kInt, kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) { return pad(a, true), nil }},
		&FuncDef{Name: "rpad", Min: 2, Max: 3, Args: []types.Kind{kText, kInt, kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) { return pad(a, false), nil }},
		&FuncDef{Name: "starts_with", Min: 2, Max: 2, Args: []types.Kind{kText}, Strict: true, RetType: types.TBool,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return types.NewBool(strings.HasPrefix(a[0].S, a[1].S)), nil
			}},
		// convert_from reads bytes (sluice_dead_letters.raw, say) as text
		// in an encoding: UTF8 (checked) or LATIN1.
		&FuncDef{Name: "convert_from", Min: 2, Max: 2, Args: []types.Kind{types.Bytea, kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				switch encodingName(a[1].S) {
				case "utf8":
					if !utf8.ValidString(a[0].S) {
						return types.Value{}, sqlerr.New("22021", `invalid byte sequence for encoding "UTF8"`)
					}
					return textOf(a[0].S), nil
				case "latin1":
					r := make([]rune, len(a[0].S))
					for i := range len(a[0].S) {
						r[i] = rune(a[0].S[i])
					}
					return textOf(string(r)), nil
				}
				return types.Value{}, sqlerr.New(sqlerr.InvalidParameterValue, "invalid source encoding name %q", a[1].S).
					WithHint("UTF8 and LATIN1 are supported")
			}},
		// encode renders bytes as text: hex, base64 or escape (printable
		// ASCII as is, a backslash doubled, other bytes as \ooo).
		&FuncDef{Name: "encode", Min: 2, Max: 2, Args: []types.Kind{types.Bytea, kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				b := []byte(a[0].S)
				switch strings.ToLower(a[1].S) {
				case "hex":
					return textOf(hex.EncodeToString(b)), nil
				case "base64":
					return textOf(base64.StdEncoding.EncodeToString(b)), nil
				case "escape":
					var sb strings.Builder
					for _, c := range b {
						switch {
						case c == '\\':
							sb.WriteString(`\\`)
						case c >= 0x20 && c < 0x7f:
							sb.WriteByte(c)
						default:
							fmt.Fprintf(&sb, `\%03o`, c)
						}
					}
					return textOf(sb.String()), nil
				}
				return types.Value{}, sqlerr.New(sqlerr.InvalidParameterValue, "unrecognized encoding: %q", a[1].S).
					WithHint("hex, base64 and escape are supported")
			}},
		&FuncDef{Name: "md5", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				h := md5.Sum([]byte(a[0].S))
				return textOf(hex.EncodeToString(h[:])), nil
			}},
		&FuncDef{Name: "chr", Min: 1, Max: 1, Args: []types.Kind{kInt}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) { return textOf(string(rune(a[0].I))), nil }},
		&FuncDef{Name: "ascii", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, RetType: types.TInt32,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				r, _ := utf8.DecodeRuneInString(a[0].S)
				if a[0].S == "" {
					r = 0
				}
				return types.NewIntKind(types.Int32, int64(r)), nil
			}},
		&FuncDef{Name: "to_hex", Min: 1, Max: 1, Args: []types.Kind{kInt}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return textOf(strconv.FormatUint(uint64(a[0].I), 16)), nil
			}},
		&FuncDef{Name: "quote_ident", Min: 1, Max: 1, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) { return textOf(QuoteIdent(a[0].S)), nil }},
		&FuncDef{Name: "quote_literal", Min: 1, Max: 1, Args: []types.Kind{kAny}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return textOf("'" + strings.ReplaceAll(a[0].String(), "'", "''") + "'"), nil
			}},
		&FuncDef{Name: "quote_nullable", Min: 1, Max: 1, Args: []types.Kind{kAny}, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				if a[0].IsNull() {
					return textOf("NULL"), nil
				}
				return textOf("'" + strings.ReplaceAll(a[0].String(), "'", "''") + "'"), nil
			}},
	)
	alias("substring", "substr")
	alias("char_length", "length")
	alias("character_length", "length")
	alias("trim", "btrim")
	alias("textcat", "__concat_op")
	registerMath()
	registerTime()
	registerJSON()
	registerCatalog()
}

func cutset(a []types.Value) string {
	if len(a) > 1 {
		return a[1].S
	}
	return " "
}

func strpos(s, sub string) types.Value {
	i := strings.Index(s, sub)
	if i < 0 {
		return types.NewIntKind(types.Int32, 0)
	}
	return types.NewIntKind(types.Int32, int64(utf8.RuneCountInString(s[:i])+1))
}

func pad(a []types.Value, left bool) types.Value {
	r := []rune(a[0].S)
	n := int(max(min(a[1].I, 1<<24), 0))
	fill := " "
	if len(a) > 2 {
		fill = a[2].S
	}
	if len(r) >= n {
		return textOf(string(r[:n]))
	}
	if fill == "" {
		return textOf(string(r))
	}
	f := []rune(fill)
	padding := make([]rune, 0, n-len(r))
	for i := 0; len(padding) < n-len(r); i++ {
		padding = append(padding, f[i%len(f)])
	}
	if left {
		return textOf(string(padding) + string(r))
	}
	return textOf(string(r) + string(padding))
}

// QuoteIdent quotes an identifier when Postgres would.
func QuoteIdent(s string) string {
	ok := s != ""
	for i, c := range s {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9')) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func floatFn(name string, f func(float64) float64) *FuncDef {
	return &FuncDef{Name: name, Min: 1, Max: 1, Args: []types.Kind{kF64}, Strict: true, RetType: types.TFloat64,
		Eval: func(_ *Context, a []types.Value) (types.Value, error) {
			return types.NewFloat(f(a[0].Float())), nil
		}}
}

func registerMath() {
	register(
		&FuncDef{Name: "abs", Min: 1, Max: 1, Strict: true, Ret: numericArg("abs"),
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				v := a[0]
				switch v.K {
				case types.Float32:
					return types.NewFloat32(math.Abs(v.Float())), nil
				case types.Float64:
					return types.NewFloat(math.Abs(v.Float())), nil
				case types.Numeric:
					return types.NewNumeric(v.Decimal().Abs()), nil
				}
				if v.I < 0 {
					v.I = -v.I
				}
				return v, nil
			}},
		&FuncDef{Name: "round", Min: 1, Max: 2, Strict: true, Args: []types.Kind{kAny, kInt},
			Ret: func(args []types.Type) (types.Type, error) {
				if len(args) == 2 {
					return types.TNumeric, nil
				}
				return numericArg("round")(args)
			},
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				v := a[0]
				if len(a) == 2 {
					return types.NewNumeric(v.Decimal().Round(int32(a[1].I))), nil
				}
				switch v.K {
				case types.Float32:
					return types.NewFloat32(math.Round(v.Float())), nil
				case types.Float64:
					return types.NewFloat(math.Round(v.Float())), nil
				case types.Numeric:
					return types.NewNumeric(v.Decimal().Round(0)), nil
				}
				return v, nil
			}},
		&FuncDef{Name: "trunc", Min: 1, Max: 2, Strict: true, Args: []types.Kind{kAny, kInt},
			Ret: func(args []types.Type) (types.Type, error) {
				if len(args) == 2 {
					return types.TNumeric, nil
				}
				return numericArg("trunc")(args)
			},
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				v := a[0]
				if len(a) == 2 {
					return types.NewNumeric(v.Decimal().Truncate(int32(a[1].I))), nil
				}
				switch v.K {
				case types.Float32, types.Float64:
					return types.NewFloat(math.Trunc(v.Float())), nil
				case types.Numeric:
					return types.NewNumeric(v.Decimal().Truncate(0)), nil
				}
				return v, nil
			}},
		&FuncDef{Name: "floor", Min: 1, Max: 1, Strict: true, Ret: numericArg("floor"),
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return roundWith(a[0], math.Floor, decimal.Decimal.Floor), nil
			}},
		&FuncDef{Name: "ceil", Min: 1, Max: 1, Strict: true, Ret: numericArg("ceil"),
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return roundWith(a[0], math.Ceil, decimal.Decimal.Ceil), nil
			}},
		&FuncDef{Name: "sign", Min: 1, Max: 1, Strict: true, Ret: numericArg("sign"),
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				v := a[0]
				s := int64(0)
				switch f := v.Float(); {
				case f > 0:
					s = 1
				case f < 0:
					s = -1
				}
				switch v.K {
				case types.Float32, types.Float64:
					return types.NewFloat(float64(s)), nil
				case types.Numeric:
					return types.NewNumeric(decimal.NewFromInt(s)), nil
				}
				return types.Value{K: v.K, I: s}, nil
			}},
		&FuncDef{Name: "mod", Min: 2, Max: 2, Strict: true,
			Ret: func(args []types.Type) (types.Type, error) { return PromoteNumeric(args[0], args[1]), nil },
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				e, err := NewArith(Mod, &Const{V: a[0], T: types.Type{Kind: a[0].K}}, &Const{V: a[1], T: types.Type{Kind: a[1].K}})
				if err != nil {
					return types.Value{}, err
				}
				return e.Eval(nil, nil)
			}},
		floatFn("sqrt", math.Sqrt),
		floatFn("exp", math.Exp),
		floatFn("ln", math.Log),
		floatFn("log10", math.Log10),
		floatFn("cbrt", math.Cbrt),
		floatFn("degrees", func(x float64) float64 { return x * 180 / math.Pi }),
		floatFn("radians", func(x float64) float64 { return x * math.Pi / 180 }),
		floatFn("sin", math.Sin),
		floatFn("cos", math.Cos),
		&FuncDef{Name: "log", Min: 1, Max: 2, Args: []types.Kind{kF64}, Strict: true, RetType: types.TFloat64,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				if len(a) == 2 {
					return types.NewFloat(math.Log(a[1].Float()) / math.Log(a[0].Float())), nil
				}
				return types.NewFloat(math.Log10(a[0].Float())), nil
			}},
		&FuncDef{Name: "power", Min: 2, Max: 2, Args: []types.Kind{kF64}, Strict: true, RetType: types.TFloat64,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				return types.NewFloat(math.Pow(a[0].Float(), a[1].Float())), nil
			}},
		&FuncDef{Name: "pi", Min: 0, Max: 0, RetType: types.TFloat64,
			Eval: func(*Context, []types.Value) (types.Value, error) { return types.NewFloat(math.Pi), nil }},
	)
	alias("ceiling", "ceil")
	alias("pow", "power")
}

func roundWith(v types.Value, f func(float64) float64, d func(decimal.Decimal) decimal.Decimal) types.Value {
	switch v.K {
	case types.Float32:
		return types.NewFloat32(f(v.Float()))
	case types.Float64:
		return types.NewFloat(f(v.Float()))
	case types.Numeric:
		return types.NewNumeric(d(v.Decimal()))
	}
	return v
}

// TruncTime truncates micros (a timestamp) to the start of unit ("second",
// "minute", "hour", "day", "week", "month", "quarter", "year", ...).
func TruncTime(unit string, micros int64) (int64, error) {
	u := strings.ToLower(strings.TrimSpace(unit))
	switch u {
	case "microsecond", "microseconds":
		return micros, nil
	case "millisecond", "milliseconds":
		return types.FloorDiv(micros, 1000) * 1000, nil
	case "second", "seconds":
		return types.FloorDiv(micros, types.MicrosPerSecond) * types.MicrosPerSecond, nil
	case "minute", "minutes":
		return types.FloorDiv(micros, types.MicrosPerMinute) * types.MicrosPerMinute, nil
	case "hour", "hours":
		return types.FloorDiv(micros, types.MicrosPerHour) * types.MicrosPerHour, nil
	case "day", "days":
		return types.FloorDiv(micros, types.MicrosPerDay) * types.MicrosPerDay, nil
	}
	t := time.UnixMicro(micros).UTC()
	var out time.Time
	switch u {
	case "week", "weeks":
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		wd := (int(d.Weekday()) + 6) % 7 // Monday = 0
		out = d.AddDate(0, 0, -wd)
	case "month", "months":
		out = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	case "quarter":
		out = time.Date(t.Year(), ((t.Month()-1)/3)*3+1, 1, 0, 0, 0, 0, time.UTC)
	case "year", "years":
		out = time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	case "decade":
		out = time.Date(t.Year()/10*10, 1, 1, 0, 0, 0, 0, time.UTC)
	case "century":
		out = time.Date((t.Year()-1)/100*100+1, 1, 1, 0, 0, 0, 0, time.UTC)
	default:
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "unit %q not recognized by date_trunc", unit)
	}
	return out.UnixMicro(), nil
}

// TimePart extracts field (year, month, day, hour, minute, second, epoch,
// dow, doy, week, quarter, millisecond(s), microsecond(s)) from v, a
// timestamp, date or interval.
func TimePart(field string, v types.Value) (float64, error) {
	f := strings.ToLower(strings.TrimSpace(field))
	if v.K == types.Interval {
		us := v.I
		switch f {
		case "epoch":
			return float64(us) / 1e6, nil
		case "day", "days":
			return float64(us / types.MicrosPerDay), nil
		case "hour", "hours":
			return float64(us % types.MicrosPerDay / types.MicrosPerHour), nil
		case "minute", "minutes":
			return float64(us % types.MicrosPerHour / types.MicrosPerMinute), nil
		case "second", "seconds":
			return float64(us%types.MicrosPerMinute) / 1e6, nil
		case "millisecond", "milliseconds":
			return float64(us%types.MicrosPerMinute) / 1e3, nil
		case "microsecond", "microseconds":
			return float64(us % types.MicrosPerMinute), nil
		}
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "interval units %q not supported", field)
	}
	us := v.I
	if v.K == types.Date {
		us *= types.MicrosPerDay
	}
	t := time.UnixMicro(us).UTC()
	switch f {
	case "year", "years":
		return float64(t.Year()), nil
	case "quarter":
		return float64((int(t.Month())-1)/3 + 1), nil
	case "month", "months":
		return float64(t.Month()), nil
	case "week":
		_, w := t.ISOWeek()
		return float64(w), nil
	case "day", "days":
		return float64(t.Day()), nil
	case "dow":
		return float64(t.Weekday()), nil
	case "isodow":
		return float64((int(t.Weekday())+6)%7 + 1), nil
	case "doy":
		return float64(t.YearDay()), nil
	case "hour", "hours":
		return float64(t.Hour()), nil
	case "minute", "minutes":
		return float64(t.Minute()), nil
	case "second", "seconds":
		return float64(t.Second()) + float64(t.Nanosecond())/1e9, nil
	case "millisecond", "milliseconds":
		return float64(t.Second())*1e3 + float64(t.Nanosecond())/1e6, nil
	case "microsecond", "microseconds":
		return float64(t.Second())*1e6 + float64(t.Nanosecond()/1e3), nil
	case "epoch":
		return float64(us) / 1e6, nil
	}
	return 0, sqlerr.New(sqlerr.InvalidParameterValue, "unit %q not recognized for timestamp", field)
}

func nowOf(ctx *Context) (time.Time, error) {
	if ctx == nil || ctx.Now == nil {
		return time.Time{}, sqlerr.New(sqlerr.FeatureNotSupported, "now() is not available in a streaming query").
			WithHint("use the event-time column instead of the processing-time clock")
	}
	return ctx.Now(), nil
}

func registerTime() {
	timeArg := func(name string) func([]types.Type) (types.Type, error) {
		return func(args []types.Type) (types.Type, error) {
			k := args[len(args)-1].Kind
			if k == types.Date {
				return types.TTimestamp, nil
			}
			if !k.IsTime() && k != types.Null && k != types.Interval {
				return types.Type{}, sqlerr.New(sqlerr.UndefinedFunction, "function %s(text, %s) does not exist", name, args[len(args)-1])
			}
			if k == types.Null {
				return types.TTimestamp, nil
			}
			return types.Type{Kind: k}, nil
		}
	}
	register(
		&FuncDef{Name: "date_trunc", Min: 2, Max: 2, Args: []types.Kind{kText, kAny}, Strict: true, Ret: timeArg("date_trunc"),
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				v := a[1]
				k := v.K
				us := v.I
				if k == types.Date {
					k, us = types.Timestamp, us*types.MicrosPerDay
				}
				if k == types.Interval {
					t, err := TruncTime(a[0].S, us)
					return types.NewIntervalMicros(t), err
				}
				t, err := TruncTime(a[0].S, us)
				return types.Value{K: k, I: t}, err
			}},
		&FuncDef{Name: "date_part", Min: 2, Max: 2, Args: []types.Kind{kText, kAny}, Strict: true, RetType: types.TFloat64,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				f, err := TimePart(a[0].S, a[1])
				return types.NewFloat(f), err
			}},
		&FuncDef{Name: "extract", Min: 2, Max: 2, Args: []types.Kind{kText, kAny}, Strict: true, RetType: types.TNumeric,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				f, err := TimePart(a[0].S, a[1])
				return types.NewNumeric(decimal.NewFromFloat(f)), err
			}},
		&FuncDef{Name: "to_timestamp", Min: 1, Max: 2, Args: []types.Kind{kAny, kText}, Strict: true, RetType: types.TTimestampTZ,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				v := a[0]
				if len(a) == 2 || v.K == types.Text {
					us, err := types.ParseTimestamp(v.String())
					if err != nil {
						return types.Value{}, sqlerr.Wrap(sqlerr.InvalidTextRep, err)
					}
					return types.NewTimestampTZ(us), nil
				}
				if !v.K.IsNumeric() {
					return types.Value{}, sqlerr.New(sqlerr.DatatypeMismatch, "to_timestamp takes seconds since the epoch")
				}
				return types.NewTimestampTZ(int64(math.Round(v.Float() * 1e6))), nil
			}},
		&FuncDef{Name: "make_interval_us", Min: 1, Max: 1, Args: []types.Kind{kInt}, Strict: true, RetType: types.TInterval,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) { return types.NewIntervalMicros(a[0].I), nil }},
		&FuncDef{Name: "now", Min: 0, Max: 0, Volatile: true, RetType: types.TTimestampTZ,
			Eval: func(ctx *Context, _ []types.Value) (types.Value, error) {
				t, err := nowOf(ctx)
				return types.NewTimestampTZ(t.UnixMicro()), err
			}},
		&FuncDef{Name: "localtimestamp", Min: 0, Max: 1, Volatile: true, RetType: types.TTimestamp,
			Eval: func(ctx *Context, _ []types.Value) (types.Value, error) {
				t, err := nowOf(ctx)
				return types.NewTimestamp(t.UnixMicro()), err
			}},
		&FuncDef{Name: "current_date", Min: 0, Max: 0, Volatile: true, RetType: types.TDate,
			Eval: func(ctx *Context, _ []types.Value) (types.Value, error) {
				t, err := nowOf(ctx)
				return types.NewDate(types.FloorDiv(t.UnixMicro(), types.MicrosPerDay)), err
			}},
	)
	alias("current_timestamp", "now")
	alias("transaction_timestamp", "now")
	alias("statement_timestamp", "now")
	alias("clock_timestamp", "now")
	alias("localtime", "localtimestamp")
}

var jsonParsers fastjson.ParserPool

// JSONGet returns member key (an object key, or an array index when key is
// an integer value) of the JSON text doc, as JSON text; ok is false when
// absent.
func JSONGet(doc string, key types.Value) (string, bool) {
	p := jsonParsers.Get()
	defer jsonParsers.Put(p)
	v, err := p.Parse(doc)
	if err != nil {
		return "", false
	}
	var m *fastjson.Value
	if key.K.IsInteger() {
		arr, err := v.Array()
		if err != nil {
			return "", false
		}
		i := key.I
		if i < 0 {
			i += int64(len(arr))
		}
		if i < 0 || i >= int64(len(arr)) {
			return "", false
		}
		m = arr[i]
	} else {
		if v.Type() != fastjson.TypeObject {
			return "", false
		}
		m = v.Get(key.S)
	}
	if m == nil {
		return "", false
	}
	return string(m.MarshalTo(nil)), true
}

// JSONText returns a JSON text as Postgres' ->> does: strings unquoted,
// null as SQL NULL, anything else as its JSON text.
func JSONText(js string) (string, bool) {
	if js == "null" {
		return "", false
	}
	if len(js) > 0 && js[0] == '"' {
		var p fastjson.Parser
		v, err := p.Parse(js)
		if err == nil {
			if b, err := v.StringBytes(); err == nil {
				return string(b), true
			}
		}
	}
	return js, true
}

func jsonKeyCheck(name string) func([]types.Type) (types.Type, error) {
	return func(args []types.Type) (types.Type, error) {
		k := args[0].Kind
		if k != types.JSONB && k != types.Text && k != types.Null {
			return types.Type{}, sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s -> %s", args[0], args[1]).
				WithHint("-> and ->> apply to jsonb values")
		}
		if kk := args[1].Kind; kk != types.Text && !kk.IsInteger() && kk != types.Null {
			return types.Type{}, sqlerr.New(sqlerr.UndefinedFunction, "operator does not exist: %s -> %s", args[0], args[1])
		}
		if name == "json_get" {
			return types.TJSONB, nil
		}
		return types.TText, nil
	}
}

func registerJSON() {
	register(
		&FuncDef{Name: "json_get", Min: 2, Max: 2, Strict: true, Ret: jsonKeyCheck("json_get"),
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				s, ok := JSONGet(a[0].S, a[1])
				if !ok {
					return types.Value{}, nil
				}
				return types.NewJSONB(s), nil
			}},
		&FuncDef{Name: "json_get_text", Min: 2, Max: 2, Strict: true, Ret: jsonKeyCheck("json_get_text"),
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				s, ok := JSONGet(a[0].S, a[1])
				if !ok {
					return types.Value{}, nil
				}
				t, ok := JSONText(s)
				if !ok {
					return types.Value{}, nil
				}
				return types.NewText(t), nil
			}},
		&FuncDef{Name: "jsonb_typeof", Min: 1, Max: 1, Args: []types.Kind{types.JSONB}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				p := jsonParsers.Get()
				defer jsonParsers.Put(p)
				v, err := p.Parse(a[0].S)
				if err != nil {
					return types.Value{}, sqlerr.Wrap(sqlerr.InvalidTextRep, fmt.Errorf("parse json: %w", err))
				}
				return types.NewText(v.Type().String()), nil
			}},
	)
	alias("jsonb_extract_path", "json_get")
	alias("jsonb_extract_path_text", "json_get_text")
}

// ToChar formats micros (a timestamp) with a Postgres to_char pattern
// (YYYY, MM, DD, HH24, HH12, HH, MI, SS, MS, US, Mon, Month, Dy, Day, AM)
// or a MySQL/Flink date_format pattern (%Y, %m, %d, %H, %i, %s; yyyy-MM-dd
// HH:mm:ss).
func ToChar(micros int64, pattern string) string {
	t := time.UnixMicro(micros).UTC()
	if strings.Contains(pattern, "%") {
		r := strings.NewReplacer("%Y", "2006", "%m", "01", "%d", "02", "%H", "15", "%i", "04", "%s", "05", "%%", "%")
		return t.Format(r.Replace(pattern))
	}
	if strings.Contains(pattern, "yyyy") || strings.Contains(pattern, "mm") {
		r := strings.NewReplacer("yyyy", "2006", "MM", "01", "dd", "02", "HH", "15", "mm", "04", "ss", "05", "SSS", "000")
		return t.Format(r.Replace(pattern))
	}
	r := strings.NewReplacer("YYYY", "2006", "Month", "January", "Mon", "Jan", "MM", "01", "DD", "02", "HH24", "15",
		"HH12", "03", "HH", "03", "MI", "04", "SS", "05", "MS", "000", "US", "000000", "Day", "Monday", "Dy", "Mon", "AM", "PM", "PM", "PM")
	return t.Format(r.Replace(pattern))
}

func init() {
	register(
		&FuncDef{Name: "to_char", Min: 2, Max: 2, Args: []types.Kind{kAny, kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				v := a[0]
				switch {
				case v.K.IsTime():
					return types.NewText(ToChar(v.I, a[1].S)), nil
				case v.K == types.Date:
					return types.NewText(ToChar(v.I*types.MicrosPerDay, a[1].S)), nil
				}
				return types.NewText(v.String()), nil
			}},
		&FuncDef{Name: "regexp_match", Min: 2, Max: 3, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				re, err := compileRe(a[1].S, len(a) > 2 && strings.Contains(a[2].S, "i"))
				if err != nil {
					return types.Value{}, err
				}
				m := re.FindStringSubmatch(a[0].S)
				if m == nil {
					return types.Value{}, nil
				}
				if len(m) > 1 {
					m = m[1:]
				}
				vals := make([]types.Value, len(m))
				for i, s := range m {
					vals[i] = types.NewText(s)
				}
				return types.NewText(ArrayText(vals)), nil
			}},
		&FuncDef{Name: "regexp_extract", Min: 2, Max: 3, Args: []types.Kind{kText, kText, kInt}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				re, err := compileRe(a[1].S, false)
				if err != nil {
					return types.Value{}, err
				}
				m := re.FindStringSubmatch(a[0].S)
				idx := int64(1)
				if len(a) > 2 {
					idx = a[2].I
				}
				if m == nil || idx < 0 || idx >= int64(len(m)) {
					return types.Value{}, nil
				}
				return types.NewText(m[idx]), nil
			}},
		&FuncDef{Name: "regexp_replace", Min: 3, Max: 4, Args: []types.Kind{kText}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				re, err := compileRe(a[1].S, len(a) > 3 && strings.Contains(a[3].S, "i"))
				if err != nil {
					return types.Value{}, err
				}
				repl := strings.NewReplacer(`\1`, "${1}", `\2`, "${2}", `\3`, "${3}", `\&`, "${0}").Replace(a[2].S)
				if len(a) > 3 && strings.Contains(a[3].S, "g") {
					return types.NewText(re.ReplaceAllString(a[0].S, repl)), nil
				}
				done := false
				return types.NewText(re.ReplaceAllStringFunc(a[0].S, func(m string) string {
					if done {
						return m
					}
					done = true
					return re.ReplaceAllString(m, repl)
				})), nil
			}},
		&FuncDef{Name: "pg_get_ruledef", Min: 1, Max: 2, Volatile: true, RetType: types.TText,
			Eval: func(*Context, []types.Value) (types.Value, error) { return types.Value{}, nil }},
		&FuncDef{Name: "parse_ident", Min: 1, Max: 2, Args: []types.Kind{kText, kBool}, Strict: true, RetType: types.TText,
			Eval: func(_ *Context, a []types.Value) (types.Value, error) {
				parts := strings.Split(a[0].S, ".")
				vals := make([]types.Value, len(parts))
				for i, p := range parts {
					p = strings.TrimSpace(p)
					if strings.HasPrefix(p, `"`) && strings.HasSuffix(p, `"`) && len(p) > 1 {
						p = strings.ReplaceAll(p[1:len(p)-1], `""`, `"`)
					} else {
						p = strings.ToLower(p)
					}
					vals[i] = types.NewText(p)
				}
				return types.NewText(ArrayText(vals)), nil
			}},
	)
	alias("date_format", "to_char")
}

// encodingName normalises an encoding name as Postgres does (case and
// punctuation ignored): "UTF-8" and "utf8" are both "utf8".
func encodingName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
