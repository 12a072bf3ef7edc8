package agg

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// randNumeric returns numeric text with up to maxDigits digits and a scale
// of 0..6.
func randNumeric(r *rand.Rand, maxDigits int) types.Value {
	n := 1 + r.IntN(maxDigits)
	var b strings.Builder
	if r.IntN(3) == 0 {
		b.WriteByte('-')
	}
	for i := range n {
		d := byte('0' + r.IntN(10))
		if i == 0 && n > 1 && d == '0' {
			d = '1'
		}
		b.WriteByte(d)
	}
	s := b.String()
	if sc := r.IntN(7); sc > 0 {
		d, _ := decimal.NewFromString(s)
		s = d.Shift(-int32(sc)).StringFixed(int32(sc))
	}
	return types.Value{K: types.Numeric, S: s}
}

// TestNumericSumExact checks the exact 128-bit path and the arbitrary
// precision one against decimal arithmetic, with retractions and merges,
// for inputs short enough for the fast path and too long for it.
func TestNumericSumExact(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	a := mustCompile(t, call("sum", types.TNumeric), Options{})
	for _, maxDigits := range []int{4, 18, 30} {
		for range 50 {
			var want decimal.Decimal
			var scale int32
			x, y := a.NewState(), a.NewState()
			var kept []types.Value
			for i := range r.IntN(40) + 1 {
				v := randNumeric(r, maxDigits)
				d, _ := decimal.NewFromString(v.S)
				scale = max(scale, -d.Exponent())
				target := x
				if i%2 == 1 {
					target = y
				}
				feed(t, target, chunk.Insert, v)
				want = want.Add(d)
				kept = append(kept, v)
			}
			// Retract one input from x (it holds the even ones).
			v := kept[0]
			feed(t, x, chunk.Delete, v)
			d, _ := decimal.NewFromString(v.S)
			want = want.Sub(d)
			if err := x.Merge(y); err != nil {
				t.Fatal(err)
			}
			got := x.Result()
			if len(kept) == 1 {
				if !got.IsNull() {
					t.Fatalf("all retracted: %v", got)
				}
				continue
			}
			if w := want.StringFixed(scale); got.S != w {
				t.Fatalf("digits<=%d: got %s want %s", maxDigits, got.S, w)
			}
			b, _ := x.MarshalBinary()
			back := a.NewState()
			if err := back.UnmarshalBinary(b); err != nil || back.Result() != got {
				t.Fatalf("round trip: %v %v want %v", back.Result(), err, got)
			}
		}
	}
}

func TestParseNumeric(t *testing.T) {
	for _, tc := range []struct {
		s     string
		c     int64
		scale int32
		ok    bool
	}{
		{"0", 0, 0, true}, {"-12.50", -1250, 2, true}, {"+7", 7, 0, true}, {".5", 5, 1, true},
		{"999999999999999999", 999999999999999999, 0, true},
		{"1000000000000000000", 0, 0, false}, {"1e5", 0, 0, false}, {"1.2.3", 0, 0, false},
		{"", 0, 0, false}, {"-", 0, 0, false}, {"NaN", 0, 0, false},
	} {
		c, sc, ok := parseNumeric(tc.s)
		if ok != tc.ok || (ok && (c != tc.c || sc != tc.scale)) {
			t.Errorf("%q: got %d,%d,%v", tc.s, c, sc, ok)
		}
	}
	if got := formatScaled(-5, 3); got != "-0.005" {
		t.Fatal(got)
	}
}
