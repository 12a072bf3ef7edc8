package planner

import (
	"os"
	"testing"

	"github.com/sluice-db/sluice/sql"
)

// BenchmarkPlan measures planning (bind, rules, lowering) of a streaming
// view and of the catalog query psql sends for \d, parse excluded.
func BenchmarkPlan(b *testing.B) {
	cat := newCatalog()
	p := New(cat)
	cat.exec(p, `CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR, date_time TIMESTAMP, extra VARCHAR,
  WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND) WITH (connector = 'plannertest', topic = 'bids');`)
	view, err := sql.ParseOne(`CREATE MATERIALIZED VIEW v AS SELECT auction, count(*) AS n, max(price) AS top, window_start, window_end
FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND) WHERE price > 10 GROUP BY auction, window_start, window_end`)
	if err != nil {
		b.Fatal(err)
	}
	text, err := os.ReadFile("../tests/clientqueries/psql/d.sql")
	if err != nil {
		b.Fatal(err)
	}
	q, err := sql.ParseOne(string(text))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("view", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := p.PlanView(view.(*sql.CreateView)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("psql_d", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := p.PlanQuery(q.(*sql.Select), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}
