package grafana

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/exec/server"
	"github.com/sluice-db/sluice/sql"
)

// TestGeneratedFilesCurrent fails when the checked-in files differ from
// what the code generates: run `go generate ./grafana`.
func TestGeneratedFilesCurrent(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%s: %v (run go generate ./grafana)", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./grafana", name)
		}
		if strings.HasSuffix(name, ".json") && !json.Valid(got) {
			t.Errorf("%s is not valid JSON", name)
		}
	}
}

func TestDashboardsWellFormed(t *testing.T) {
	for _, d := range []Dashboard{DemoDashboard(), OpsDashboard()} {
		ids := map[int]bool{}
		for _, p := range d.Panels {
			if ids[p.ID] {
				t.Errorf("%s: duplicate panel id %d", d.UID, p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W == 0 || p.GridPos.H == 0 {
				t.Errorf("%s: panel %q off the grid %+v", d.UID, p.Title, p.GridPos)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", d.UID, p.Title)
			}
		}
	}
}

var macro = regexp.MustCompile(`\$__timeFilter\((\w+)\)`)

// expand replaces Grafana macros and variables as Grafana would before
// sending a query.
func expand(q string) string {
	q = macro.ReplaceAllString(q, "$1 BETWEEN '2026-01-01T00:00:00.5Z' AND '2026-01-01T02:00:00Z'")
	return strings.ReplaceAll(q, "$campaign", "'organic','spring_sale'")
}

// TestDemoQueriesUseDemoViews checks that every demo panel query parses as
// Sluice SQL (after macro expansion) and reads a view the demo creates.
func TestDemoQueriesUseDemoViews(t *testing.T) {
	views := map[string]bool{}
	for _, v := range server.DemoViews {
		views[v] = true
	}
	from := regexp.MustCompile(`(?i)\bFROM\s+(\w+)`)
	qs := DemoPanelSQL()
	for _, v := range DemoDashboard().Templating.List {
		qs = append(qs, v.Query)
	}
	for _, q := range qs {
		x := expand(q)
		if _, err := sql.ParseOne(x); err != nil {
			t.Errorf("query does not parse: %v\n%s", err, x)
		}
		m := from.FindStringSubmatch(x)
		if m == nil || !views[m[1]] {
			t.Errorf("query does not read a demo view: %s", x)
		}
	}
}
