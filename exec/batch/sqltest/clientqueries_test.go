package sqltest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/exec/batch"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/types"
)

// knownFailures are captured client statements ("dir/file#n", n from 1)
// that plan but fail at run time for a reason outside exec/batch, with the
// package that owns the fix. A run-time failure not listed here fails the
// test; a listed one that starts to pass is reported in the log so that the
// entry can go. Statements that do not plan yet (parser, planner, function
// and catalog coverage) are only logged: that is the planner's and the
// catalog's test to keep.
var knownFailures = map[string]string{}

// TestClientQueries plans and runs every catalog query captured from
// psql, pgx, JDBC and Grafana (tests/clientqueries) over the test database.
func TestClientQueries(t *testing.T) {
	files, err := filepath.Glob("../../../tests/clientqueries/*/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no captured client queries found")
	}
	ran, known, unplanned := 0, 0, 0
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + "/" + strings.TrimSuffix(filepath.Base(f), ".sql")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			stmts, err := sql.Parse(string(b))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			d := newDB()
			for i, st := range stmts {
				sel, ok := st.(*sql.Select)
				if !ok {
					continue
				}
				id := name + "#" + itoa(i+1)
				node, params, err := d.plan(sel.Text())
				if err != nil {
					unplanned++
					t.Logf("%s: does not plan: %v", id, err)
					continue
				}
				rows, err := batch.Collect(context.Background(), d.ectx(params...), node, d)
				reason, isKnown := knownFailures[id]
				switch {
				case err != nil && isKnown:
					known++
					t.Logf("%s: known run-time failure (%s): %v", id, reason, err)
				case err != nil:
					t.Errorf("%s: run: %v\n%s\n%s", id, err, sel.Text(), plan.Format(node))
				case isKnown:
					ran++
					t.Logf("%s: listed as failing (%s) but now runs (%d rows): remove it from knownFailures", id, reason, len(rows))
				default:
					ran++
					t.Logf("%s: %d rows", id, len(rows))
				}
			}
		})
	}
	t.Logf("client statements run: %d, known run-time failures: %d, not planned: %d", ran, known, unplanned)
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// TestPsqlListsObjects checks the answers, not just that the queries run:
// \dt lists the sources and tables, \dm the materialized views.
func TestPsqlListsObjects(t *testing.T) {
	d := newDB()
	for _, tc := range []struct{ file, want string }{
		{"psql/dt.sql", "public|auctions|table|sluice;public|bids|table|sluice"},
		{"psql/dm.sql", "public|bids_per_minute|materialized view|sluice;public|max_bid|materialized view|sluice;public|mv_bids|materialized view|sluice;public|v_bids|materialized view|sluice"},
	} {
		b, err := os.ReadFile("../../../tests/clientqueries/" + tc.file)
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := sql.Parse(string(b))
		if err != nil {
			t.Fatal(err)
		}
		_, rows, err := d.query(stmts[0].(*sql.Select).Text())
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if got := render(rows); got != tc.want {
			t.Errorf("%s:\n got: %s\nwant: %s", tc.file, got, tc.want)
		}
	}
}

// TestPsqlDescribeTable replays psql's \d bids the way psql does: the first
// query finds the relation's OID, the next ones use it (the captured text
// holds the OID the capturing server assigned, '16384').
func TestPsqlDescribeTable(t *testing.T) {
	d := newDB()
	b, err := os.ReadFile("../../../tests/clientqueries/psql/d_table.sql")
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	_, rows, err := d.query(stmts[0].(*sql.Select).Text())
	if err != nil || len(rows) != 1 {
		t.Fatalf("find bids: %v rows, %v", len(rows), err)
	}
	if got := render([]types.Row{rows[0][1:]}); got != "public|bids" {
		t.Fatalf("find bids: %s", got)
	}
	oid := rows[0][0].String()
	replay := func(i int) []types.Row {
		text := strings.ReplaceAll(stmts[i].(*sql.Select).Text(), "'16384'", "'"+oid+"'")
		_, rows, err := d.query(text)
		if err != nil {
			t.Fatalf("statement %d: %v", i+1, err)
		}
		return rows
	}
	// The relation's kind: 'r' (sources are tables to psql).
	if rows := replay(1); len(rows) != 1 || rows[0][1].String() != "r" {
		t.Fatalf("relkind: %s", render(rows))
	}
	// The columns, in order, with their types and NOT NULL flag.
	var cols []string
	for _, r := range replay(2) {
		cols = append(cols, r[0].String()+" "+r[1].String())
	}
	want := "auction bigint,bidder bigint,price bigint,channel text,ts timestamp without time zone,ts_epoch bigint"
	if got := strings.Join(cols, ","); got != want {
		t.Fatalf("columns:\n got: %s\nwant: %s", got, want)
	}
}
