package pgwire_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestSubscribeOverTheWire streams a view's changes to a client as they
// happen, through the extended and the simple protocol, and checks that a
// CancelRequest ends the subscription and leaves the connection usable.
func TestSubscribeOverTheWire(t *testing.T) {
	addr, d := startDB(t, setupSQL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgconn.Connect(ctx, "postgres://sluice@"+addr+"/sluice?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)

	for _, proto := range []string{"extended", "simple"} {
		t.Run(proto, func(t *testing.T) {
			type rowOrErr struct {
				row []string
				err error
			}
			rows := make(chan rowOrErr, 16)
			go func() {
				var rr *pgconn.ResultReader
				var mrr *pgconn.MultiResultReader
				if proto == "extended" {
					rr = c.ExecParams(ctx, "SUBSCRIBE per_user", nil, nil, nil, nil)
				} else {
					mrr = c.Exec(ctx, "SUBSCRIBE per_user")
					if !mrr.NextResult() {
						rows <- rowOrErr{err: mrr.Close()}
						return
					}
					rr = mrr.ResultReader()
				}
				for rr.NextRow() {
					var vals []string
					for i, v := range rr.Values() {
						if i == 0 {
							continue // sluice_ts: processing time
						}
						vals = append(vals, string(v))
					}
					rows <- rowOrErr{row: vals}
				}
				_, err := rr.Close()
				if mrr != nil {
					// Finish reading the response before the test uses c again.
					if err2 := mrr.Close(); err == nil {
						err = err2
					}
				}
				rows <- rowOrErr{err: err}
			}()
			user := map[string]string{"extended": "10", "simple": "20"}[proto]
			// next returns the next change of this subtest's user (the
			// subscription starts with the view's current rows).
			next := func() rowOrErr {
				for {
					select {
					case r := <-rows:
						if r.err == nil && len(r.row) > 1 && r.row[1] != user {
							continue
						}
						return r
					case <-ctx.Done():
						t.Fatal("no row from SUBSCRIBE")
						return rowOrErr{}
					}
				}
			}
			if err := d.Exec(ctx, "INSERT INTO clicks VALUES ("+user+", 'a', 1.50, '2024-01-01 00:00:10')"); err != nil {
				t.Fatal(err)
			}
			if r := next(); r.err != nil || strings.Join(r.row, ",") != "insert,"+user+",1,1.50" {
				t.Fatalf("first change: %+v", r)
			}
			if err := d.Exec(ctx, "INSERT INTO clicks VALUES ("+user+", 'b', 2.00, '2024-01-01 00:00:20')"); err != nil {
				t.Fatal(err)
			}
			got := []string{strings.Join(next().row, ","), strings.Join(next().row, ",")}
			if strings.Join(got, " ") != "delete,"+user+",1,1.50 insert,"+user+",2,3.50" {
				t.Fatalf("update: %q", got)
			}
			if err := c.CancelRequest(ctx); err != nil {
				t.Fatal(err)
			}
			r := next()
			var pe *pgconn.PgError
			if !errors.As(r.err, &pe) || pe.Code != "57014" {
				t.Fatalf("after cancel: %+v", r)
			}
			res, err := c.Exec(ctx, "SELECT count(*) FROM per_user").ReadAll()
			if err != nil || string(res[0].Rows[0][0]) == "" {
				t.Fatalf("connection after cancel: %v %v", res, err)
			}
		})
	}
}

// TestSubscribeCursor uses Materialize-style DECLARE ... CURSOR FOR
// SUBSCRIBE and FETCH ... WITH (timeout = ...).
func TestSubscribeCursor(t *testing.T) {
	addr, d := startDB(t, setupSQL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgconn.Connect(ctx, "postgres://sluice@"+addr+"/sluice?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	exec := func(sql string) []string {
		t.Helper()
		res, err := c.Exec(ctx, sql).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		var out []string
		for _, r := range res {
			for _, row := range r.Rows {
				var vals []string
				for i, v := range row {
					if i > 0 {
						vals = append(vals, string(v))
					}
				}
				out = append(out, strings.Join(vals, ","))
			}
		}
		return out
	}
	exec("BEGIN")
	exec("DECLARE c CURSOR FOR SUBSCRIBE per_user")
	if got := exec("FETCH ALL c WITH (timeout = '100 ms')"); len(got) != 0 {
		t.Fatalf("empty view fetched %v", got)
	}
	if err := d.Exec(ctx, "INSERT INTO clicks VALUES (5, 'a', 1.00, '2024-01-01 00:00:10')"); err != nil {
		t.Fatal(err)
	}
	var got []string
	for len(got) == 0 && ctx.Err() == nil {
		got = exec("FETCH ALL c WITH (timeout = '5 s')")
	}
	if strings.Join(got, " ") != "insert,5,1,1.00" {
		t.Fatalf("fetched %q", got)
	}
	exec("COMMIT")
}

// TestStatementTimeoutEndsSubscribe: SET statement_timeout cancels a
// SUBSCRIBE that runs longer, with 57014, and the connection stays usable.
func TestStatementTimeoutEndsSubscribe(t *testing.T) {
	addr, _ := startDB(t, setupSQL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgconn.Connect(ctx, "postgres://sluice@"+addr+"/sluice?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "SET statement_timeout = '100ms'").ReadAll(); err != nil {
		t.Fatal(err)
	}
	_, err = c.Exec(ctx, "SUBSCRIBE per_user").ReadAll()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" || pe.Message != "canceling statement due to statement timeout" {
		t.Fatalf("SUBSCRIBE under statement_timeout: %v", err)
	}
	if _, err := c.Exec(ctx, "RESET statement_timeout").ReadAll(); err != nil {
		t.Fatal(err)
	}
	res, err := c.Exec(ctx, "SELECT 1").ReadAll()
	if err != nil || string(res[0].Rows[0][0]) != "1" {
		t.Fatalf("after timeout: %v %v", res, err)
	}
}

// TestFailedViewAnswersItsFailure: a view that fails (here, a division by
// zero in its SELECT list) ends the SUBSCRIBE of it with SQLSTATE 55000
// after the rows it sent before, answers SELECT and SUBSCRIBE with that
// error instead of its stale rows, fails the view over it, keeps the
// connection and INSERT usable, and starts anew when dropped and created
// again.
func TestFailedViewAnswersItsFailure(t *testing.T) {
	addr, _ := startDB(t, `
CREATE TABLE t (k TEXT, v BIGINT);
CREATE MATERIALIZED VIEW q AS SELECT k, 10 / v AS r FROM t;
CREATE MATERIALIZED VIEW over_q AS SELECT k FROM q;
INSERT INTO t VALUES ('a', 2);`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	connect := func() *pgconn.PgConn {
		c, err := pgconn.Connect(ctx, "postgres://sluice@"+addr+"/sluice?sslmode=disable")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	sub, c := connect(), connect()
	rows := make(chan string, 16)
	done := make(chan error, 1)
	go func() {
		rr := sub.ExecParams(ctx, "SUBSCRIBE q", nil, nil, nil, nil)
		for rr.NextRow() {
			rows <- strings.Join([]string{string(rr.Values()[1]), string(rr.Values()[2]), string(rr.Values()[3])}, " ")
		}
		_, err := rr.Close()
		done <- err
	}()
	select {
	case row := <-rows:
		if row != "insert a 5" {
			t.Fatalf("SUBSCRIBE sent %q, want the row of a", row)
		}
	case err := <-done:
		t.Fatalf("SUBSCRIBE ended before its first row: %v", err)
	case <-ctx.Done():
		t.Fatal("no row from SUBSCRIBE")
	}
	// The row of b fails the view; the INSERT reports the failure too.
	if _, err := c.Exec(ctx, "INSERT INTO t VALUES ('b', 0)").ReadAll(); err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("INSERT of the row the view fails on: %v", err)
	}
	var subErr error
	select {
	case subErr = <-done:
	case <-ctx.Done():
		t.Fatal("the SUBSCRIBE of a failed view did not end")
	}
	if len(rows) != 0 {
		t.Fatalf("SUBSCRIBE sent %q after the failure", <-rows)
	}
	wantFailure := func(what string, err error) {
		t.Helper()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "55000" || !strings.Contains(pe.Message, `materialized view "q" failed`) ||
			!strings.Contains(pe.Message, "division by zero") || pe.Hint == "" {
			t.Fatalf("%s: %v, want SQLSTATE 55000 naming the view and its failure, with a hint", what, err)
		}
	}
	wantFailure("SUBSCRIBE while the view failed", subErr)
	_, err := c.Exec(ctx, "SELECT k, r FROM q").ReadAll()
	wantFailure("SELECT of the failed view", err)
	_, err = c.Exec(ctx, "SELECT k FROM q WHERE k = 'a'").ReadAll() // a point lookup
	wantFailure("point SELECT of the failed view", err)
	_, err = c.ExecParams(ctx, "SUBSCRIBE q", nil, nil, nil, nil).Close()
	wantFailure("SUBSCRIBE of the failed view", err)
	// A view over the failed one stopped changing too: it failed with it.
	_, err = c.Exec(ctx, "SELECT k FROM over_q").ReadAll()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "55000" || !strings.Contains(pe.Message, `materialized view "over_q" failed: it reads view q, which failed`) {
		t.Fatalf("SELECT of a view over the failed view: %v", err)
	}
	// Inserting goes on (it used to wait for the views over a failed one).
	if _, err := c.Exec(ctx, "INSERT INTO t VALUES ('c', 5)").ReadAll(); err != nil {
		t.Fatalf("INSERT after the failure: %v", err)
	}
	// The connection and the catalog still answer.
	got, err := c.Exec(ctx, "SELECT status FROM sluice_views WHERE name = 'q'").ReadAll()
	if err != nil || len(got) != 1 || len(got[0].Rows) != 1 || string(got[0].Rows[0][0]) != "failed" {
		t.Fatalf("sluice_views after the failure: %v, %v", got, err)
	}
	if _, err := c.Exec(ctx, "DROP MATERIALIZED VIEW over_q; DROP MATERIALIZED VIEW q; CREATE MATERIALIZED VIEW q AS SELECT k, 10 / (v + 1) AS r FROM t").ReadAll(); err != nil {
		t.Fatal(err)
	}
	got, err = c.Exec(ctx, "SELECT k, r FROM q ORDER BY k").ReadAll()
	if err != nil || len(got) != 1 || len(got[0].Rows) != 3 || string(got[0].Rows[0][1]) != "3" || string(got[0].Rows[1][1]) != "10" ||
		string(got[0].Rows[2][1]) != "1" {
		t.Fatalf("the view created again: %v, %v", got, err)
	}
}
