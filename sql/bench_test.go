package sql

import (
	"os"
	"testing"
)

// BenchmarkParse measures Parse on statements of growing size, from a
// one-line query to the longest psql catalog query.
func BenchmarkParse(b *testing.B) {
	read := func(path string) string {
		s, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		return string(s)
	}
	cases := []struct{ name, sql string }{
		{"select_1", "SELECT 1"},
		{"point_query", "SELECT auction, bids, top_price FROM bids_per_auction WHERE auction = $1"},
		{"create_source", read("../tests/nexmark/ddl.sql")},
		{"nexmark_q5", read("../tests/nexmark/risingwave/q5.sql")},
		{"psql_d_plus_table", read("../tests/clientqueries/psql/dplus_table.sql")},
		{"pgx_load_types", read("../tests/clientqueries/pgx/load_types.sql")},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.sql)))
			for b.Loop() {
				if _, err := Parse(c.sql); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
