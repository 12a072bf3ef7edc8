package pgwire_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/sluice-db/sluice/pgwire"
)

func TestSmoke(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	ctx := context.Background()
	c, err := pgx.Connect(ctx, ts.url(""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int64
	if err := c.QueryRow(ctx, "select $1::int8", 42).Scan(&n); err != nil || n != 42 {
		t.Fatal(n, err)
	}
}
