package expr

import (
	"testing"

	"github.com/sluice-db/sluice/sql/types"
)

// BenchmarkEval measures the hot-path expressions of streaming filters and
// projections; they must not allocate.
func BenchmarkEval(b *testing.B) {
	row := types.Row{types.NewInt(42), types.NewFloat(1.5), types.NewText("/cart/9"), types.NewTimestamp(1_700_000_000_000_000)}
	mustB := func(e Expr, err error) Expr {
		if err != nil {
			b.Fatal(err)
		}
		return e
	}
	cases := []struct {
		name string
		e    Expr
	}{
		{"colref", col(0, types.TInt64)},
		{"cmp_int", mustB(NewCmp(GT, col(0, types.TInt64), cint(10)))},
		{"cmp_text", mustB(NewCmp(EQ, col(2, types.TText), ctext("/cart/9")))},
		{"arith_int", mustB(NewArith(Add, mustB(NewArith(Mul, col(0, types.TInt64), cint(3))), cint(1)))},
		{"arith_float", mustB(NewArith(Mul, col(1, types.TFloat64), col(0, types.TInt64)))},
		{"and", &And{Terms: []Expr{mustB(NewCmp(GT, col(0, types.TInt64), cint(10))), mustB(NewCmp(LT, col(1, types.TFloat64), &Const{V: types.NewFloat(9), T: types.TFloat64}))}}},
		{"like_prefix", mustB(NewLike(col(2, types.TText), ctext("/cart%"), false, false))},
		{"ts_plus_interval", mustB(NewArith(Add, col(3, types.TTimestamp), &Const{V: types.NewIntervalMicros(1000), T: types.TInterval}))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.e.Eval(nil, row); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	row := types.Row{types.NewInt(42), types.NewFloat(1.5), types.NewText("/cart/9")}
	cmp, _ := NewCmp(GT, col(0, types.TInt64), cint(10))
	ar, _ := NewArith(Add, col(0, types.TInt64), cint(1))
	fl, _ := NewArith(Mul, col(1, types.TFloat64), col(0, types.TInt64))
	lk, _ := NewLike(col(2, types.TText), ctext("/cart%"), false, false)
	for _, e := range []Expr{col(0, types.TInt64), cmp, ar, fl, &And{Terms: []Expr{cmp, cmp}}, lk} {
		n := testing.AllocsPerRun(100, func() { _, _ = e.Eval(nil, row) })
		if n != 0 {
			t.Errorf("%s allocates %.0f times per Eval", e, n)
		}
	}
}
