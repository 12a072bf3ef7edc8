package sql

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluice-db/sluice/sql/sqlerr"
)

// FuzzParse feeds arbitrary text to the front end. It calls parse, below
// Parse's recover, so a panic in this package fails the fuzzer; TiDB's
// panics are recovered in tidbParse. Every error must be a *sqlerr.Error
// located inside the text, and every statement's text must be part of the
// input. The seed corpus is in testdata/fuzz/FuzzParse; run with
// go test -fuzz=FuzzParse -fuzztime=20s ./sql/
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT 1",
		"SELECT a::int, x->>'k' FROM t WHERE b ~ 'x' AND c IS DISTINCT FROM d",
		"CREATE SOURCE s (a int, ts timestamp, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) WITH (connector = 'x')",
		"CREATE MATERIALIZED VIEW v AS SELECT window_start, count(*) FROM TUMBLE(s, ts, INTERVAL '1' MINUTE) GROUP BY 1 EMIT ON WINDOW CLOSE",
		"SELECT * FROM TABLE(SESSION(TABLE bid PARTITION BY k, DESCRIPTOR(ts), INTERVAL '5' MINUTES))",
		"SELECT count(*) FILTER (WHERE a > 1), E'\\n', $$x$$, $1 FROM t OFFSET $2 ROWS",
		"DECLARE c CURSOR FOR SUBSCRIBE v; FETCH 10 c; CLOSE c",
		"SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c WHERE c.relname OPERATOR(pg_catalog.~) '^(x)$' COLLATE pg_catalog.default",
		"INSERT INTO t VALUES (1, 'a'), (2, NULL)",
		"SELECT * FROM unnest(ARRAY[1,2]) WITH ORDINALITY AS u(v, n) ORDER BY v DESC NULLS LAST",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		stmts, err := parse(text)
		if err != nil {
			var e *sqlerr.Error
			if !errors.As(err, &e) {
				t.Fatalf("error without SQLSTATE: %v", err)
			}
			if e.Code == "" || e.Line < 1 || e.Col < 1 || e.Position < 1 || e.Position > utf8.RuneCountInString(text)+1 {
				t.Fatalf("error %q badly located: %+v", text, e)
			}
			return
		}
		if len(stmts) == 0 {
			t.Fatal("no statements and no error")
		}
		for _, st := range stmts {
			if !strings.Contains(text, st.Text()) {
				t.Fatalf("statement text %q is not part of the input", st.Text())
			}
		}
		_ = Split(text)
	})
}
