package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/sql"
)

// TestDemoSQLParses checks that the embedded demo script is valid Sluice
// SQL and creates the views DemoViews lists.
func TestDemoSQLParses(t *testing.T) {
	stmts, err := sql.Parse(DemoSQL)
	if err != nil {
		t.Fatal(err)
	}
	var views []string
	for _, s := range stmts {
		if v, ok := s.(*sql.CreateView); ok {
			if !v.IfNotExists {
				t.Errorf("view %s: demo statements must be idempotent (IF NOT EXISTS)", v.Name)
			}
			views = append(views, v.Name)
		}
	}
	if len(views) != len(DemoViews) {
		t.Fatalf("demo creates views %v, DemoViews lists %v", views, DemoViews)
	}
	for i := range views {
		if views[i] != DemoViews[i] {
			t.Fatalf("demo creates views %v, DemoViews lists %v", views, DemoViews)
		}
	}
}

// TestREADMEShowsDemoSQL keeps the copy of the demo script in the README
// identical to the embedded one.
func TestREADMEShowsDemoSQL(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "```sql\n"+strings.TrimRight(DemoSQL, "\n")+"\n```") {
		t.Fatal("README.md does not show exec/server/demo.sql verbatim: copy it into the <details> block")
	}
}
