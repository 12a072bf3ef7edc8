package sql

import (
	"os"
	"path/filepath"
	"testing"
)

// TestClientQueries parses every captured client query in
// tests/clientqueries: what psql, Grafana, pgx and JDBC send must parse.
func TestClientQueries(t *testing.T) {
	files, err := filepath.Glob("../tests/clientqueries/*/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no captured client queries found")
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			stmts, err := Parse(string(b))
			if err != nil {
				t.Fatalf("%s: %v", f, formatErr(err))
			}
			for _, st := range stmts {
				if _, ok := st.(*Empty); ok {
					t.Fatalf("%s: holds no query", f)
				}
			}
		})
	}
}
