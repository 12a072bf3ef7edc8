package server

import (
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
