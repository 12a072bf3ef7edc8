// Package pgwire_test drives the real database (exec/db) through the wire
// endpoint with real clients: psql itself, pgx on the catalog, and the
// queries Grafana's PostgreSQL data source sends.
package pgwire_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-db/sluice/exec/db"
	"github.com/sluice-db/sluice/pgwire"
)

// setupSQL creates one object of each kind.
const setupSQL = `
CREATE TABLE clicks (user_id BIGINT, url VARCHAR(200), amount NUMERIC(10,2), ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n, sum(amount) AS total FROM clicks GROUP BY user_id;
`

// startDB opens a database in a temporary directory, runs setup and
// serves it on a loopback port.
func startDB(t *testing.T, setup string) (string, *db.DB) {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := db.Open(ctx, db.Config{DataDir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if setup != "" {
		if err := d.Exec(ctx, setup); err != nil {
			d.Close(ctx)
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pgwire.NewServer(pgwire.Config{Logger: logger}, d)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ctx, l)
	}()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
		_ = d.Close(sctx)
	})
	return l.Addr().String(), d
}

// connectMode connects pgx to addr as user with the given query mode; the
// connection is closed when the test ends.
func connectMode(ctx context.Context, t *testing.T, addr, user string, mode pgx.QueryExecMode) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig("postgres://" + user + "@" + addr + "/sluice?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = mode
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}
