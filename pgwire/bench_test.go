package pgwire_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sluice-db/sluice/pgwire"
)

// BenchmarkRows measures streaming result rows (one bigint each) to a
// pgconn client through the extended protocol, per result size.
//
//	go test -run '^$' -bench Rows -benchtime 20x ./pgwire/
func BenchmarkRows(b *testing.B) {
	ts := startServer(b, pgwire.Config{})
	ctx := context.Background()
	c, err := pgconn.Connect(ctx, ts.url(""))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			q := fmt.Sprintf("select * from generate_series(1, %d)", n)
			b.ReportAllocs()
			for b.Loop() {
				res := c.ExecParams(ctx, q, nil, nil, nil, []int16{1}).Read()
				if res.Err != nil || len(res.Rows) != n {
					b.Fatal(res.Err, len(res.Rows))
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkPreparedRoundTrip measures one prepared statement round trip
// (Bind/Execute/Sync of a cached statement with a parameter) per pgx mode.
func BenchmarkPreparedRoundTrip(b *testing.B) {
	ts := startServer(b, pgwire.Config{})
	ctx := context.Background()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
		b.Run(mode.String(), func(b *testing.B) {
			cfg, _ := pgx.ParseConfig(ts.url(""))
			cfg.DefaultQueryExecMode = mode
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close(ctx)
			b.ReportAllocs()
			var n int64
			for b.Loop() {
				if err := c.QueryRow(ctx, "select $1::int8", int64(7)).Scan(&n); err != nil || n != 7 {
					b.Fatal(err)
				}
			}
		})
	}
}
