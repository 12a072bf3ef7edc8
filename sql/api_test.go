package sql

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluice-db/sluice/sql/sqlerr"
)

func TestParseOne(t *testing.T) {
	st, err := ParseOne("SELECT 1;")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*Select); !ok {
		t.Fatalf("got %T, want *Select", st)
	}
	_, err = ParseOne("SELECT 1;\n  SELECT 2")
	var e *sqlerr.Error
	if !errors.As(err, &e) || e.Code != sqlerr.SyntaxError || e.Line != 2 || e.Col != 3 {
		t.Fatalf("two statements: got %#v", err)
	}
	st, err = ParseOne("  ")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*Empty); !ok {
		t.Fatalf("blank: got %T, want *Empty", st)
	}
}

// TestSpans checks that each statement carries its own text and start.
func TestSpans(t *testing.T) {
	stmts, err := Parse("SELECT 1;\n\n  -- c\n  SHOW TABLES ;")
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 {
		t.Fatalf("got %d statements", len(stmts))
	}
	if got := stmts[1].Text(); got != "SHOW TABLES" {
		t.Fatalf("text %q", got)
	}
	sh := stmts[1].(*ShowObjects)
	if sh.StartLine != 4 || sh.StartCol != 3 {
		t.Fatalf("start %d:%d, want 4:3", sh.StartLine, sh.StartCol)
	}
}

// TestUserPos maps TiDB node offsets in the normalised text back to the
// user's line and column, across rewrites that change lengths.
func TestUserPos(t *testing.T) {
	src := "SELECT x::int,\n  INTERVAL '1' MINUTE + ts,\n  \"Col\" FROM t"
	st, err := ParseOne(src)
	if err != nil {
		t.Fatal(err)
	}
	sel := st.(*Select)
	fields := sel.Stmt.(*ast.SelectStmt).Fields.Fields
	cases := []struct {
		node      ast.Node
		line, col int
	}{
		{fields[0], 1, 8},
		{fields[1], 2, 3},
		{fields[2], 3, 3},
	}
	for i, c := range cases {
		off := c.node.(*ast.SelectField).Offset
		if p := sel.UserPos(off); p.Line != c.line || p.Col != c.col {
			t.Errorf("field %d at normalised offset %d: got %d:%d, want %d:%d", i, off, p.Line, p.Col, c.line, c.col)
		}
	}
	// Text copied verbatim maps byte for byte: the column ts, after a
	// rewritten interval literal.
	off := strings.Index(sel.Normalized, "+ ts") + 2
	if p := sel.UserOffset(off); p != strings.Index(src, "+ ts")+3 {
		t.Errorf("offset of ts in %q: got character %d", sel.Normalized, p)
	}
	if p := sel.UserPos(off); p.Line != 2 || p.Col != 25 {
		t.Errorf("position of ts: got %d:%d, want 2:25", p.Line, p.Col)
	}
}

// TestParseConcurrent parses from many goroutines (the parser pool must be
// safe; run with -race).
func TestParseConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				q := fmt.Sprintf("SELECT a%d, count(*) FROM TUMBLE(s, ts, INTERVAL '%d' SECOND) GROUP BY 1", g, i+1)
				st, err := ParseOne(q)
				if err != nil {
					errs <- err
					return
				}
				if w := st.(*Select).Windows["__window_1"]; w == nil || w.Source != "s" {
					errs <- fmt.Errorf("goroutine %d: window not recorded", g)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestErrorsHaveSQLSTATE checks that every error from Parse is a
// *sqlerr.Error with a code and a position inside the text.
func TestErrorsHaveSQLSTATE(t *testing.T) {
	for _, q := range []string{
		"SELECT", "SELECT (", "SELECT )", "CREATE", "CREATE SOURCE", "CREATE SOURCE s (", "DROP", "SHOW",
		"FETCH", "SET", "INSERT", "SELECT a::", "SELECT ARRAY[", "SELECT * FROM TUMBLE(", "SELECT x[",
		"SELECT 1 IS DISTINCT FROM", "SELECT a FROM t ORDER BY NULLS FIRST", "EXPLAIN EXPLAIN",
		"SELECT * FROM TABLE(", "DECLARE c CURSOR FOR", "SUBSCRIBE (", "SELECT E'\\", "SELECT 'a' ||",
	} {
		_, err := Parse(q)
		var e *sqlerr.Error
		if !errors.As(err, &e) {
			t.Errorf("%q: got %v, want *sqlerr.Error", q, err)
			continue
		}
		if e.Code == "" || e.Position < 1 || e.Position > len([]rune(q))+1 || e.Line < 1 || e.Col < 1 {
			t.Errorf("%q: bad error %+v", q, e)
		}
	}
}
