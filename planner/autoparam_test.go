package planner

import (
	"testing"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/types"
)

// TestAutoParamSafe plans parameterised queries and checks which uses of
// a parameter AutoParamSafe accepts, and that SameShape tells a plan with
// a constant from one with a parameter when a rule looked at the constant.
func TestAutoParamSafe(t *testing.T) {
	c := newCatalog()
	p := New(c)
	if out := c.exec(p, "CREATE TABLE t (k BIGINT, v TEXT, n INT)"); out == "" || out[0] == 'e' {
		t.Fatalf("setup: %s", out)
	}
	planOf := func(q string, params ...types.Type) (node plan.Node, ok bool) {
		st, err := sql.ParseOne(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		n, _, err := p.PlanQuery(st.(*sql.Select), params)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n, AutoParamSafe(n, len(params))
	}
	i4, text := types.TInt32, types.TNull // a number literal's type; an untyped string
	for _, tc := range []struct {
		q      string
		params []types.Type
		want   bool
	}{
		{"SELECT v FROM t WHERE k = $1", []types.Type{i4}, true},
		{"SELECT v FROM t WHERE k = $1 AND v <> $2", []types.Type{i4, text}, true},
		{"SELECT v FROM t WHERE (k = $1 OR k = $2) ORDER BY v LIMIT 3", []types.Type{i4, i4}, true},
		{"SELECT v FROM t WHERE k IN (SELECT n FROM t WHERE v = $1)", []types.Type{text}, true},
		{"SELECT v FROM t WHERE k = $1 + 1", []types.Type{i4}, false},  // not a direct operand
		{"SELECT v FROM t WHERE abs(k) = $1", []types.Type{i4}, false}, // not compared with a column
		{"SELECT v, $1 FROM t", []types.Type{i4}, false},               // in the select list
		{"SELECT count(*) FROM t GROUP BY v HAVING count(*) > $1", []types.Type{i4}, false},
		{"SELECT k FROM (SELECT k, row_number() OVER (ORDER BY k) AS rn FROM t) x WHERE rn <= $1", []types.Type{i4}, false},
		{"SELECT v FROM t WHERE k = $1", []types.Type{i4, i4}, false}, // $2 is not used
	} {
		if _, got := planOf(tc.q, tc.params...); got != tc.want {
			t.Errorf("%s %v: AutoParamSafe = %v, want %v", tc.q, tc.params, got, tc.want)
		}
	}
	// The rank filter becomes a Top-N with a constant only.
	a, _ := planOf("SELECT k FROM (SELECT k, row_number() OVER (ORDER BY k) AS rn FROM t) x WHERE rn <= 3")
	b, _ := planOf("SELECT k FROM (SELECT k, row_number() OVER (ORDER BY k) AS rn FROM t) x WHERE rn <= $1", types.TInt32)
	if SameShape(a, b) {
		t.Error("SameShape: Top-N with a constant and filter with a parameter look alike")
	}
	c1, _ := planOf("SELECT v FROM t WHERE k = 5")
	c2, _ := planOf("SELECT v FROM t WHERE k = $1", types.TInt32)
	if !SameShape(c1, c2) {
		t.Error("SameShape: a point lookup with a constant and with a parameter differ")
	}
}
