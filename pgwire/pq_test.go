package pgwire_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"

	"github.com/sluice-db/sluice/pgwire"
)

func TestLibPQ(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	db, err := sql.Open("postgres", ts.url(""))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	// lib/pq reads text results: every type's text form.
	rows, err := db.Query("select * from all_types")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rows.ColumnTypes()
	var dbTypes []string
	for _, c := range cols {
		dbTypes = append(dbTypes, c.DatabaseTypeName())
	}
	if got := joinS(dbTypes); got != "BOOL,INT2,INT4,INT8,FLOAT4,FLOAT8,NUMERIC,TEXT,VARCHAR,BYTEA,DATE,TIMESTAMP,TIMESTAMPTZ,INTERVAL,JSONB" {
		t.Errorf("column types %s", got)
	}
	var (
		b             bool
		i2, i4, i8    int64
		f4, f8        float64
		n, tx, vc, iv string
		by            []byte
		d, tsv, tstz  time.Time
		j             string
	)
	if !rows.Next() {
		t.Fatal(rows.Err())
	}
	if err := rows.Scan(&b, &i2, &i4, &i8, &f4, &f8, &n, &tx, &vc, &by, &d, &tsv, &tstz, &iv, &j); err != nil {
		t.Fatal(err)
	}
	want := expectedValues()
	if !b || i2 != int64(want.i2) || i4 != int64(want.i4) || i8 != want.i8 || f4 != 1.5 || f8 != want.f8 ||
		n != "-12345.678900" || tx != want.t || vc != want.vc || string(by) != string(want.by) || !d.Equal(want.d) ||
		!tsv.Equal(want.ts) || !tstz.Equal(want.tstz) || iv != "2 days 03:04:05.5" || j != `{"a": [1, 2, {"b": null}]}` {
		t.Errorf("lib/pq values: %v %v %v %v %v %v %v %v %v %x %v %v %v %v %v", b, i2, i4, i8, f4, f8, n, tx, vc, by, d, tsv, tstz, iv, j)
	}
	if !rows.Next() {
		t.Fatal("no NULL row")
	}
	var ni sql.NullInt64
	var ns sql.NullString
	var skip [13]any
	for i := range skip {
		skip[i] = new(any)
	}
	if err := rows.Scan(append([]any{new(any), &ni, &ns}, skip[:12]...)...); err != nil {
		t.Fatal(err)
	}
	if ni.Valid || ns.Valid {
		t.Error("NULL row has values")
	}
	rows.Close()

	// Parameters (lib/pq sends them as text, unnamed statements).
	var got string
	var gi int64
	if err := db.QueryRow("select $1::text, $2::int8", "x'y", 77).Scan(&got, &gi); err != nil || got != "x'y" || gi != 77 {
		t.Fatalf("params: %q %d %v", got, gi, err)
	}

	// Errors carry the SQLSTATE and keep the connection.
	_, err = db.Exec("selec 1")
	var pqe *pq.Error
	if !errors.As(err, &pqe) || pqe.Code != "42601" || pqe.Position != "1" {
		t.Fatalf("error: %#v", err)
	}
	if err := db.QueryRow("select 5").Scan(&gi); err != nil || gi != 5 {
		t.Fatal(gi, err)
	}

	// A transaction with an error inside is failed until rollback.
	txn, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	_, _ = txn.Exec("select 1/0")
	_, err = txn.Exec("select 1")
	if !errors.As(err, &pqe) || pqe.Code != "25P02" {
		t.Fatalf("failed transaction: %v", err)
	}
	if err := txn.Rollback(); err != nil {
		t.Fatal(err)
	}

	// Prepared statements used many times.
	st, err := db.Prepare("select $1::int4 as v")
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < 5; i++ {
		if err := st.QueryRow(i).Scan(&gi); err != nil || gi != i {
			t.Fatal(gi, err)
		}
	}
	st.Close()
}

func joinS(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// TestThousandConnections holds 1000 connections open while every one of
// them runs queries at the same time.
func TestThousandConnections(t *testing.T) {
	if testing.Short() {
		t.Skip("1000 connections in -short mode")
	}
	const n = 1000
	ts := startServer(t, pgwire.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conns := make([]*pgconn.PgConn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 50)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			c, err := pgconn.Connect(ctx, ts.url(""))
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	if got := ts.fake.Sessions.Load(); got != n {
		t.Fatalf("%d sessions open, want %d", got, n)
	}
	var failed sync.Map
	for round := 0; round < 3; round++ {
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := c.Exec(ctx, "select * from generate_series(1, 10)").ReadAll()
				if err != nil || len(res) != 1 || len(res[0].Rows) != 10 {
					failed.Store(i, err)
				}
			}()
		}
		wg.Wait()
	}
	failed.Range(func(k, v any) bool {
		t.Errorf("connection %v: %v", k, v)
		return false
	})
	if got := ts.fake.Sessions.Load(); got != n {
		t.Fatalf("%d sessions open after queries, want %d", got, n)
	}
}
