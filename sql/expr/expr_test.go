package expr

import (
	"errors"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

func col(i int, t types.Type) *ColRef { return &ColRef{Idx: i, Name: "c", T: t} }
func cint(i int64) *Const             { return &Const{V: types.NewInt(i), T: types.TInt64} }
func ctext(s string) *Const           { return &Const{V: types.NewText(s), T: types.TText} }
func cnull() *Const                   { return &Const{T: types.TNull} }

// ok unwraps a constructor result in tests; a type error is a bug in the test.
func ok(e Expr, err error) Expr {
	if err != nil {
		panic(err)
	}
	return e
}

func eval(t *testing.T, e Expr, row types.Row) types.Value {
	t.Helper()
	v, err := e.Eval(&Context{Now: func() time.Time { return time.UnixMicro(1_700_000_000_000_000) }}, row)
	if err != nil {
		t.Fatalf("%s: %v", e, err)
	}
	return v
}

func code(err error) string { return sqlerr.Code(err) }

func TestArith(t *testing.T) {
	row := types.Row{types.NewInt(7), types.NewIntKind(types.Int32, 2), types.NewFloat(0.5), types.NewNumeric(types.NewNumeric(decimalOf("1.25")).Decimal())}
	cases := []struct {
		op   ArithOp
		l, r Expr
		want string
		kind types.Kind
	}{
		{Add, col(0, types.TInt64), col(1, types.TInt32), "9", types.Int64},
		{Div, col(0, types.TInt64), col(1, types.TInt32), "3", types.Int64},
		{Mod, col(0, types.TInt64), col(1, types.TInt32), "1", types.Int64},
		{Mul, col(0, types.TInt64), col(2, types.TFloat64), "3.5", types.Float64},
		{Add, col(3, types.TNumeric), col(0, types.TInt64), "8.25", types.Numeric},
		{Sub, col(1, types.TInt32), col(1, types.TInt32), "0", types.Int32},
	}
	for _, c := range cases {
		e := ok(NewArith(c.op, c.l, c.r))
		v := eval(t, e, row)
		if v.String() != c.want || v.K != c.kind || e.Type().Kind != c.kind {
			t.Errorf("%s = %s (%s, type %s), want %s (%s)", e, v, v.K, e.Type(), c.want, c.kind)
		}
	}
	if _, err := NewArith(Add, col(0, types.TInt64), ctext("x")); code(err) != sqlerr.DatatypeMismatch {
		t.Errorf("int + text: %v", err)
	}
	div := ok(NewArith(Div, col(0, types.TInt64), cint(0)))
	if _, err := div.Eval(nil, row); code(err) != sqlerr.DivisionByZero {
		t.Errorf("division by zero: %v", err)
	}
	ovf := ok(NewArith(Mul, cint(1<<62), cint(4)))
	if _, err := ovf.Eval(nil, nil); code(err) != sqlerr.NumericOutOfRange {
		t.Errorf("overflow: %v", err)
	}
	if v := eval(t, ok(NewArith(Add, col(0, types.TInt64), cnull())), row); !v.IsNull() {
		t.Errorf("x + NULL = %v", v)
	}
}

func TestTimeArith(t *testing.T) {
	ts := types.NewTimestamp(1_000_000_000)
	iv := &Const{V: types.NewIntervalMicros(types.MicrosPerMinute), T: types.TInterval}
	e := ok(NewArith(Add, col(0, types.TTimestamp), iv))
	if v := eval(t, e, types.Row{ts}); v.K != types.Timestamp || v.I != 1_000_000_000+types.MicrosPerMinute {
		t.Errorf("ts + 1 minute = %v", v)
	}
	d := ok(NewArith(Sub, col(0, types.TTimestamp), col(1, types.TTimestamp)))
	if v := eval(t, d, types.Row{ts, types.NewTimestamp(0)}); v.K != types.Interval || v.I != 1_000_000_000 {
		t.Errorf("ts - ts = %v", v)
	}
	if _, err := NewArith(Mul, col(0, types.TTimestamp), iv); err == nil {
		t.Error("timestamp * interval type-checked")
	}
}

func TestThreeValuedLogic(t *testing.T) {
	tr, fa, nu := &Const{V: types.NewBool(true), T: types.TBool}, &Const{V: types.NewBool(false), T: types.TBool}, cnull()
	check := func(e Expr, want string) {
		t.Helper()
		v := eval(t, e, nil)
		got := v.String()
		if v.IsNull() {
			got = "NULL"
		}
		if got != want {
			t.Errorf("%s = %s, want %s", e, got, want)
		}
	}
	check(&And{Terms: []Expr{tr, nu}}, "NULL")
	check(&And{Terms: []Expr{fa, nu}}, "f")
	check(&Or{Terms: []Expr{tr, nu}}, "t")
	check(&Or{Terms: []Expr{fa, nu}}, "NULL")
	check(&Not{E: nu}, "NULL")
	check(&In{E: cint(1), List: []Expr{cint(2), nu}}, "NULL")
	check(&In{E: cint(2), List: []Expr{cint(2), nu}}, "t")
	check(&In{E: cint(3), List: []Expr{cint(2)}, Not: true}, "t")
	check(&IsDistinct{L: nu, R: nu}, "f")
	check(&IsDistinct{L: cint(1), R: nu}, "t")
	check(&IsNull{E: nu}, "t")
	check(&Coalesce{Args: []Expr{nu, cint(4)}, T: types.TInt64}, "4")
	check(&NullIf{L: cint(4), R: cint(4)}, "NULL")
	check(&Case{Whens: []When{{Cond: nu, Then: cint(1)}, {Cond: tr, Then: cint(2)}}, T: types.TInt64}, "2")
	check(&Case{Operand: cint(3), Whens: []When{{Cond: cint(3), Then: ctext("three")}}, Else: ctext("other"), T: types.TText}, "three")
	check(&Extreme{Args: []Expr{cint(3), nu, cint(9)}, Greatest: true, T: types.TInt64}, "9")
}

func TestCompare(t *testing.T) {
	row := types.Row{types.NewInt(5), types.NewFloat(5.0), types.NewText("b"), types.NewNumeric(decimalOf("5.00"))}
	for _, c := range []struct {
		op   CmpOp
		l, r Expr
		want bool
	}{
		{EQ, col(0, types.TInt64), col(1, types.TFloat64), true},
		{EQ, col(0, types.TInt64), col(3, types.TNumeric), true},
		{LT, col(2, types.TText), ctext("c"), true},
		{GE, col(2, types.TText), ctext("c"), false},
		{NE, col(0, types.TInt64), cint(5), false},
	} {
		e := ok(NewCmp(c.op, c.l, c.r))
		if v := eval(t, e, row); v.Bool() != c.want {
			t.Errorf("%s = %v, want %v", e, v, c.want)
		}
	}
	if _, err := NewCmp(EQ, col(0, types.TInt64), &Const{V: types.NewTimestamp(0), T: types.TTimestamp}); code(err) != sqlerr.DatatypeMismatch {
		t.Errorf("int = timestamp: %v", err)
	}
}

func TestLikeRegexp(t *testing.T) {
	for _, c := range []struct {
		s, p string
		fold bool
		want bool
	}{
		{"/cart/123", "/cart%", false, true},
		{"/Cart", "/cart", true, true},
		{"/Cart", "/cart", false, false},
		{"abc", "a_c", false, true},
		{"ac", "a_c", false, false},
		{"a%c", `a\%c`, false, true},
		{"abxc", `a\%c`, false, false},
		{"héllo", "h_llo", false, true},
		{"aaa", "%a%a%a%", false, true},
	} {
		e := ok(NewLike(ctext(c.s), ctext(c.p), c.fold, false))
		if v := eval(t, e, nil); v.Bool() != c.want {
			t.Errorf("%q LIKE %q (fold %v) = %v", c.s, c.p, c.fold, v)
		}
	}
	re := ok(NewRegexp(ctext("pg_toast_1"), ctext("^pg_toast"), false, true))
	if v := eval(t, re, nil); v.Bool() {
		t.Error("!~ matched")
	}
	if _, err := NewRegexp(ctext("x"), ctext("("), false, false); code(err) != "2201B" {
		t.Errorf("bad regexp: %v", err)
	}
}

func TestCast(t *testing.T) {
	for _, c := range []struct {
		v    types.Value
		t    types.Type
		want string
	}{
		{types.NewText("42"), types.TInt32, "42"},
		{types.NewFloat(2.5), types.TInt64, "2"},
		{types.NewFloat(3.5), types.TInt64, "4"},
		{types.NewText("2024-01-02 03:04:05"), types.TTimestamp, "2024-01-02 03:04:05"},
		{types.NewTimestamp(86400_000_000 + 5), types.TDate, "1970-01-02"},
		{types.NewText("1 minute"), types.TInterval, "00:01:00"},
		{types.NewInt(7), types.TText, "7"},
		{types.NewText("12.345"), types.Type{Kind: types.Numeric, Precision: 5, Scale: 2}, "12.35"},
		{types.NewText(`{"a":1}`), types.TJSONB, `{"a":1}`},
		{types.NewJSONB("3"), types.TInt64, "3"},
	} {
		v, err := CastValue(c.v, c.t)
		if err != nil || v.String() != c.want || v.K != c.t.Kind {
			t.Errorf("CAST(%v AS %s) = %v (%v), %v; want %s", c.v, c.t, v, v.K, err, c.want)
		}
	}
	if _, err := CastValue(types.NewText("abc"), types.TInt32); code(err) != sqlerr.InvalidTextRep {
		t.Errorf("bad int: %v", err)
	}
	if _, err := CastValue(types.NewInt(1<<40), types.TInt32); code(err) != sqlerr.NumericOutOfRange {
		t.Errorf("int4 overflow: %v", err)
	}
	if _, err := NewCast(col(0, types.TTimestamp), types.TBool); code(err) != sqlerr.DatatypeMismatch {
		t.Errorf("timestamp::bool: %v", err)
	}
}

func call(t *testing.T, name string, args ...Expr) types.Value {
	t.Helper()
	return eval(t, ok(NewFunc(name, args)), nil)
}

func TestFunctions(t *testing.T) {
	ts := &Const{V: types.NewTimestamp(1_700_000_123_456_789), T: types.TTimestamp} // 2023-11-14 22:15:23.456789
	for _, c := range []struct {
		got  types.Value
		want string
	}{
		{call(t, "lower", ctext("AbC")), "abc"},
		{call(t, "upper", ctext("AbC")), "ABC"},
		{call(t, "substr", ctext("héllo"), cint(2), cint(3)), "éll"},
		{call(t, "substring", ctext("hello"), cint(0), cint(2)), "h"},
		{call(t, "concat", ctext("a"), cnull(), cint(1)), "a1"},
		{call(t, "__concat_op", ctext("a"), cint(1)), "a1"},
		{call(t, "length", ctext("héllo")), "5"},
		{call(t, "split_part", ctext("a,b,c"), ctext(","), cint(2)), "b"},
		{call(t, "split_part", ctext("a,b,c"), ctext(","), cint(-1)), "c"},
		{call(t, "btrim", ctext("xxhixx"), ctext("x")), "hi"},
		{call(t, "replace", ctext("a-b-c"), ctext("-"), ctext("+")), "a+b+c"},
		{call(t, "position", ctext("lo"), ctext("hello")), "4"},
		{call(t, "left", ctext("hello"), cint(-2)), "hel"},
		{call(t, "right", ctext("hello"), cint(2)), "lo"},
		{call(t, "lpad", ctext("7"), cint(3), ctext("0")), "007"},
		{call(t, "date_trunc", ctext("hour"), ts), "2023-11-14 22:00:00"},
		{call(t, "date_trunc", ctext("month"), ts), "2023-11-01 00:00:00"},
		{call(t, "date_trunc", ctext("week"), ts), "2023-11-13 00:00:00"},
		{call(t, "date_part", ctext("hour"), ts), "22"},
		{call(t, "date_part", ctext("epoch"), ts), "1700000123.456789"},
		{call(t, "extract", ctext("minute"), ts), "15"},
		{call(t, "to_timestamp", &Const{V: types.NewFloat(1.5), T: types.TFloat64}), "1970-01-01 00:00:01.5+00"},
		{call(t, "json_get", &Const{V: types.NewJSONB(`{"a":{"b":[1,"x"]}}`), T: types.TJSONB}, ctext("a")), `{"b":[1,"x"]}`},
		{call(t, "json_get_text", &Const{V: types.NewJSONB(`{"a":"q\"s"}`), T: types.TJSONB}, ctext("a")), `q"s`},
		{call(t, "json_get", &Const{V: types.NewJSONB(`[10,20]`), T: types.TJSONB}, cint(1)), "20"},
		{call(t, "json_get_path_text", &Const{V: types.NewJSONB(`{"a":[{"b":"deep"}]}`), T: types.TJSONB}, ctext("{a,0,b}")), "deep"},
		{call(t, "round", &Const{V: types.NewFloat(2.5), T: types.TFloat64}), "3"},
		{call(t, "abs", cint(-3)), "3"},
		{call(t, "format_type", cint(1700), cint((10<<16|2)+4)), "numeric(10,2)"},
		{call(t, "format_type", cint(1043), cint(24)), "character varying(20)"},
		{call(t, "quote_ident", ctext("Foo")), `"Foo"`},
		{call(t, "quote_ident", ctext("foo")), "foo"},
		{call(t, "__array", ctext("a"), ctext("b c")), `{a,"b c"}`},
		{call(t, "__subscript", ctext(`{x,"y z"}`), cint(2)), "y z"},
		{call(t, "string_to_array", ctext("a,b"), ctext(",")), "{a,b}"},
		{call(t, "to_char", ts, ctext("YYYY-MM-DD HH24:MI:SS")), "2023-11-14 22:15:23"},
		{call(t, "regexp_match", ctext("abc123"), ctext("([a-z]+)([0-9]+)")), "{abc,123}"},
		{call(t, "current_database"), "sluice"},
	} {
		if c.got.String() != c.want {
			t.Errorf("got %q, want %q", c.got.String(), c.want)
		}
	}
	if v := call(t, "json_get", &Const{V: types.NewJSONB(`{"a":1}`), T: types.TJSONB}, ctext("zz")); !v.IsNull() {
		t.Errorf("missing key: %v", v)
	}
	if v := call(t, "__concat_op", ctext("a"), cnull()); !v.IsNull() {
		t.Errorf("'a' || NULL = %v, want NULL", v)
	}
	if _, err := NewFunc("lower", []Expr{cint(1)}); code(err) != sqlerr.UndefinedFunction {
		t.Errorf("lower(int): %v", err)
	}
	if _, err := NewFunc("nope", nil); code(err) != sqlerr.UndefinedFunction {
		t.Errorf("unknown function: %v", err)
	}
	if _, err := ok(NewFunc("now", nil)).Eval(nil, nil); code(err) != sqlerr.FeatureNotSupported {
		t.Errorf("now() without a context: %v", err)
	}
	ctx := &Context{Funcs: map[string]func(*Context, []types.Value) (types.Value, error){
		"pg_get_viewdef": func(*Context, []types.Value) (types.Value, error) { return types.NewText("SELECT 1"), nil },
	}}
	v, err := ok(NewFunc("pg_get_viewdef", []Expr{cint(1)})).Eval(ctx, nil)
	if err != nil || v.S != "SELECT 1" {
		t.Errorf("override: %v %v", v, err)
	}
}

func TestParamAndSubquery(t *testing.T) {
	p := &Param{Idx: 1, T: types.TInt64}
	ctx := &Context{Params: []types.Value{types.NewInt(1), types.NewInt(2)}}
	if v, err := p.Eval(ctx, nil); err != nil || v.I != 2 {
		t.Errorf("$2 = %v, %v", v, err)
	}
	if _, err := p.Eval(&Context{}, nil); err == nil {
		t.Error("missing parameter evaluated")
	}
	rows := []types.Row{{types.NewInt(1)}, {types.Value{}}}
	ctx.RunSubquery = func(_ *Context, plan any, outer types.Row) ([]types.Row, error) {
		if plan != "p" {
			return nil, errors.New("wrong plan")
		}
		return rows, nil
	}
	in := &Subquery{Mode: AnySubquery, Plan: "p", Test: cint(1), Op: EQ, T: types.TBool}
	if v := eval2(t, in, ctx); !v.Bool() {
		t.Errorf("1 IN (1, NULL) = %v", v)
	}
	notIn := &Subquery{Mode: AnySubquery, Plan: "p", Test: cint(2), Op: EQ, Not: true, T: types.TBool}
	if v := eval2(t, notIn, ctx); !v.IsNull() {
		t.Errorf("2 NOT IN (1, NULL) = %v, want NULL", v)
	}
	scalar := &Subquery{Mode: ScalarSubquery, Plan: "p"}
	if _, err := scalar.Eval(ctx, nil); code(err) != "21000" {
		t.Errorf("scalar subquery with two rows: %v", err)
	}
	arr := &Subquery{Mode: ArraySubquery, Plan: "p"}
	if v := eval2(t, arr, ctx); v.S != "{1,NULL}" {
		t.Errorf("ARRAY(subquery) = %v", v)
	}
}

func eval2(t *testing.T, e Expr, ctx *Context) types.Value {
	t.Helper()
	v, err := e.Eval(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFoldAndTransform(t *testing.T) {
	e := ok(NewArith(Add, cint(1), ok(NewArith(Mul, cint(2), cint(3)))))
	f := Fold(e)
	if c, ok := f.(*Const); !ok || c.V.I != 7 {
		t.Errorf("fold = %s", f)
	}
	now := ok(NewFunc("now", nil))
	if _, ok := Fold(now).(*Const); ok {
		t.Error("now() folded")
	}
	withCol := ok(NewCmp(GT, col(0, types.TInt64), ok(NewArith(Add, cint(1), cint(1)))))
	if got := Fold(withCol).String(); got != "(c#0 > 2)" {
		t.Errorf("partial fold = %s", got)
	}
	out, _ := Transform(withCol, func(x Expr) (Expr, error) {
		if c, ok := x.(*ColRef); ok {
			return &ColRef{Idx: c.Idx + 3, Name: c.Name, T: c.T}, nil
		}
		return x, nil
	})
	if out.String() != "(c#3 > (1 + 1))" {
		t.Errorf("transform = %s", out)
	}
}

type decimalT = decimal.Decimal

func decimalOf(s string) decimalT {
	v, _ := types.ParseText(types.TNumeric, s)
	return v.Decimal()
}
