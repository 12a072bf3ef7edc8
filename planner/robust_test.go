package planner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/sql"
)

// TestNoPanics plans every statement of the front end's parse tests and
// of this package's golden files against a catalog with a few relations:
// plans or errors are fine, a panic is a bug.
func TestNoPanics(t *testing.T) {
	var inputs []string
	for _, pat := range []string{"../sql/testdata/parse/*", "testdata/*"} {
		files, _ := filepath.Glob(pat)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			inputs = append(inputs, directiveInputs(string(b))...)
		}
	}
	if len(inputs) < 50 {
		t.Fatalf("found only %d inputs", len(inputs))
	}
	cat := newCatalog()
	p := New(cat)
	cat.exec(p, `CREATE SOURCE t (a BIGINT, b TEXT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (connector = 'plannertest', topic = 'x');
CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, date_time TIMESTAMP, extra VARCHAR, WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND) WITH (connector = 'plannertest', topic = 'b');
CREATE TABLE u (id BIGINT, name TEXT);`)
	planned := 0
	for _, in := range inputs {
		stmts, err := sql.Parse(in)
		if err != nil {
			continue
		}
		for _, st := range stmts {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("panic planning %q: %v", st.Text(), r)
					}
				}()
				switch s := st.(type) {
				case *sql.CreateSource:
					_, _ = p.BindSource(s)
				case *sql.CreateView:
					_, _, _ = p.PlanView(s)
				case *sql.CreateSink:
					_, _ = p.PlanSink(s)
				case *sql.Select:
					_, _, _ = p.PlanQuery(s, nil)
				case *sql.Insert:
					_, _ = p.PlanInsert(s, nil)
				case *sql.Explain:
					_, _ = p.Explain(s)
				default:
					return
				}
				planned++
			}()
		}
	}
	t.Logf("planned %d statements from %d inputs", planned, len(inputs))
}

// directiveInputs returns the inputs of the datadriven directives in a
// test file.
func directiveInputs(text string) []string {
	var out []string
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if l == "" || strings.HasPrefix(l, "#") || strings.Contains(l, "path=") {
			continue
		}
		var b strings.Builder
		j := i + 1
		for ; j < len(lines) && lines[j] != "----"; j++ {
			b.WriteString(lines[j])
			b.WriteByte('\n')
		}
		out = append(out, b.String())
		// Skip the expected output up to the next blank line.
		for j++; j < len(lines) && lines[j] != ""; j++ {
		}
		i = j
	}
	return out
}

// FuzzPlan plans arbitrary statements: errors are fine, panics are not.
// Run with: go test ./planner -run ^$ -fuzz FuzzPlan -fuzztime 30s
func FuzzPlan(f *testing.F) {
	for _, s := range []string{
		"SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 3",
		"SELECT * FROM t JOIN u ON t.a = u.id WHERE b LIKE 'x%'",
		"SELECT (SELECT max(id) FROM u WHERE u.id = t.a), EXISTS (SELECT 1 FROM u) FROM t",
		"CREATE MATERIALIZED VIEW v AS SELECT a, window_start, count(*) FROM TUMBLE(t, ts, INTERVAL '1' MINUTE) GROUP BY a, window_start, window_end",
		"CREATE MATERIALIZED VIEW v AS SELECT * FROM (SELECT a, ROW_NUMBER() OVER (PARTITION BY a ORDER BY ts) rn FROM t) WHERE rn <= 2",
		"SELECT coalesce(a, 1) + 2 * 3, b || 'x', ts + INTERVAL '1' HOUR FROM t WHERE a IN (1, 2) AND b IS NOT NULL",
		"SELECT x FROM generate_series(1, 3) AS x UNION ALL SELECT $1::int",
	} {
		f.Add(s)
	}
	cat := newCatalog()
	p := New(cat)
	cat.exec(p, `CREATE SOURCE t (a BIGINT, b TEXT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH (connector = 'plannertest', topic = 'x');
CREATE TABLE u (id BIGINT, name TEXT);`)
	f.Fuzz(func(t *testing.T, text string) {
		stmts, err := sql.Parse(text)
		if err != nil {
			return
		}
		for _, st := range stmts {
			switch s := st.(type) {
			case *sql.CreateView:
				_, _, _ = p.PlanView(s)
			case *sql.Select:
				_, _, _ = p.PlanQuery(s, nil)
			case *sql.Insert:
				_, _ = p.PlanInsert(s, nil)
			}
		}
	})
}
