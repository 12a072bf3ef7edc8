package sql

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"
)

func TestParameterize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // Text, then the literals as kind:text; "" when not parameterised
	}{
		{"SELECT v FROM kv_view WHERE k = 42", "SELECT v FROM kv_view WHERE k = $1 int4:42"},
		{"SELECT v FROM kv_view WHERE k = 42;", "SELECT v FROM kv_view WHERE k = $1; int4:42"},
		{"select v from t where k=3000000000 and v='it''s'", "select v from t where k=$1 and v=$2 int8:3000000000 unknown:it's"},
		{"SELECT a FROM t WHERE (t.a <> 1.5 OR \"B\" >= 1e3) ORDER BY a LIMIT 5",
			"SELECT a FROM t WHERE (t.a <> $1 OR \"B\" >= $2) ORDER BY a LIMIT 5 numeric:1.5 float8:1e3"},
		{"SELECT a FROM t WHERE s.t.a = E'x\\ty' GROUP BY a", "SELECT a FROM t WHERE s.t.a = $1 GROUP BY a unknown:x\ty"},
		{"SELECT a FROM t WHERE a = $$q$$ OFFSET 2", "SELECT a FROM t WHERE a = $1 OFFSET 2 unknown:q"},
		{"SELECT a FROM t WHERE a IN (SELECT b FROM u WHERE c = 'x')", "SELECT a FROM t WHERE a IN (SELECT b FROM u WHERE c = $1) unknown:x"},
		{"SELECT a FROM t WHERE a = 99999999999999999999", "SELECT a FROM t WHERE a = $1 numeric:99999999999999999999"},
		// Not parameterised.
		{"SELECT 1 FROM t WHERE a = -1", ""},
		{"SELECT a FROM t WHERE a = 1 + 2", ""},
		{"SELECT a FROM t WHERE 1 = a", ""},
		{"SELECT a FROM t WHERE a = '1'::int", ""},
		{"SELECT a FROM t WHERE a = DATE '2024-01-01'", ""},
		{"SELECT a FROM t WHERE a > now() - INTERVAL '1' MINUTE", ""},
		{"SELECT a FROM t WHERE f(a = 1)", ""},
		{"SELECT a FROM t WHERE a = $1", ""},
		{"SELECT a = 1 FROM t", ""},
		{"SELECT a FROM t LIMIT 1", ""},
		{"SELECT a FROM t GROUP BY a HAVING count(*) = 1", ""},
		{"SELECT a FROM t JOIN u ON t.a = 1", ""},
		{"SELECT a FROM t WHERE NOT a = 1", ""},
		{"SELECT a FROM t WHERE a = 1 COLLATE c", ""},
		{"SELECT a FROM t WHERE current_date = '2024-01-01'", ""},
		{"SELECT a FROM t WHERE a = 1; SELECT 2", ""},
		{"INSERT INTO t VALUES (1)", ""},
		{"CREATE MATERIALIZED VIEW v AS SELECT a FROM t WHERE a = 1", ""},
		{"EXPLAIN SELECT a FROM t WHERE a = 1", ""},
		{"SELECT a FROM t WHERE a = 'unterminated", ""},
	} {
		p, ok := Parameterize(tc.in)
		got := ""
		if ok {
			var b strings.Builder
			b.WriteString(p.Text)
			for _, l := range p.Literals {
				fmt.Fprintf(&b, " %s:%s", l.Kind, l.Text)
			}
			got = b.String()
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

// TestParameterizeShapeKey: queries that differ only in the replaced
// literals share a key; a different literal kind gives another key.
func TestParameterizeShapeKey(t *testing.T) {
	key := func(q string) string {
		p, ok := Parameterize(q)
		if !ok {
			t.Fatalf("%s: not parameterised", q)
		}
		return p.Key
	}
	a, b := key("SELECT v FROM t WHERE k = 1"), key("SELECT v FROM t WHERE k = 77")
	if a != b {
		t.Errorf("same shape, different keys %q %q", a, b)
	}
	for _, other := range []string{"SELECT v FROM t WHERE k = 3000000000", "SELECT v FROM t WHERE k = '1'", "SELECT v FROM t WHERE k = 1.0", "SELECT v FROM t WHERE k = 1e0"} {
		if key(other) == a {
			t.Errorf("%s shares the key of an int4 literal", other)
		}
	}
}

// TestLiteralKindsMatchTiDB checks numberKind against the value the TiDB
// parser gives the literal, typed as planner.constOf types it.
func TestLiteralKindsMatchTiDB(t *testing.T) {
	for _, lit := range []string{"0", "7", "2147483647", "2147483648", "4294967296", "9223372036854775807",
		"9223372036854775808", "18446744073709551615", "18446744073709551616", "99999999999999999999999",
		"1.5", ".5", "1.", "0.000", "1e3", "1E3", "1.5e-3", "2e+2", "007", "1.50"} {
		st, err := ParseOne("SELECT " + lit)
		if err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		f := st.(*Select).Stmt.(*ast.SelectStmt).Fields.Fields[0].Expr
		v, ok := f.(ast.ValueExpr)
		if !ok {
			t.Fatalf("%s: %T is not a literal", lit, f)
		}
		var want LiteralKind
		switch x := v.GetValue().(type) {
		case int64:
			want = LitInt8
			if x >= -1<<31 && x < 1<<31 {
				want = LitInt4
			}
		case uint64:
			want = LitNumeric
			if x <= 1<<63-1 {
				want = LitInt8
			}
		case float64, float32:
			want = LitFloat8
		case fmt.Stringer:
			want = LitNumeric
		default:
			t.Fatalf("%s: unexpected value %T", lit, x)
		}
		if got := numberKind(lit); got != want {
			t.Errorf("%s: numberKind %s, TiDB's constant is %s (%T)", lit, got, want, v.GetValue())
		}
	}
}

// FuzzParameterize: whatever the text, Parameterize does not panic, and
// when it replaces literals, the parameterised text lexes to the same
// tokens with exactly those literals replaced by $1..$n in order. Run
// with go test -fuzz=FuzzParameterize -fuzztime=20s ./sql/
func FuzzParameterize(f *testing.F) {
	for _, s := range []string{
		"SELECT v FROM kv_view WHERE k = 42",
		"select a from t where (t.a <> 1.5 or \"B\" >= 1e3) and c = E'x\\ty' order by a limit 5;",
		"SELECT a FROM t WHERE a IN (SELECT b FROM u WHERE c = $$x$$) AND d = 'it''s'",
		"SELECT a FROM t WHERE a = -1 AND b = DATE '2024-01-01' AND c = 1 + 2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, ok := Parameterize(text)
		if !ok {
			return
		}
		orig, err := lex(text)
		if err != nil {
			t.Fatalf("parameterised text that does not lex: %v", err)
		}
		got, err := lex(p.Text)
		if err != nil {
			t.Fatalf("%q: parameterised text %q does not lex: %v", text, p.Text, err)
		}
		if len(got) != len(orig) {
			t.Fatalf("%q: %d tokens, parameterised %q has %d", text, len(orig), p.Text, len(got))
		}
		n := 0
		for i := range orig {
			if got[i].Kind == tParam {
				if orig[i].Kind != tNumber && orig[i].Kind != tString {
					t.Fatalf("%q: token %d (%q) became a parameter", text, i, orig[i].Val)
				}
				if n >= len(p.Literals) || got[i].Val != strconv.Itoa(n+1) || p.Literals[n].Text != orig[i].Val {
					t.Fatalf("%q: parameter %d does not stand for literal %q", text, n+1, orig[i].Val)
				}
				n++
				continue
			}
			if got[i].Kind != orig[i].Kind || got[i].Val != orig[i].Val {
				t.Fatalf("%q: token %d changed from %q to %q", text, i, orig[i].Val, got[i].Val)
			}
		}
		if n != len(p.Literals) {
			t.Fatalf("%q: %d parameters for %d literals", text, n, len(p.Literals))
		}
	})
}
