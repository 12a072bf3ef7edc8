package pgwire_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sql/types"
)

var execModes = []pgx.QueryExecMode{
	pgx.QueryExecModeSimpleProtocol,
	pgx.QueryExecModeExec,
	pgx.QueryExecModeCacheStatement,
	pgx.QueryExecModeCacheDescribe,
	pgx.QueryExecModeDescribeExec,
}

// runWithModes runs f once per pgx query exec mode, as pgx's own
// pgxtest.RunWithQueryExecModes does.
func runWithModes(t *testing.T, ts *testServer, f func(t *testing.T, c *pgx.Conn)) {
	t.Helper()
	for _, mode := range execModes {
		t.Run(mode.String(), func(t *testing.T) {
			cfg, err := pgx.ParseConfig(ts.url(""))
			if err != nil {
				t.Fatal(err)
			}
			cfg.DefaultQueryExecMode = mode
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			f(t, c)
		})
	}
}

// goValues are the Go values of all_types' first row.
type goValues struct {
	b    bool
	i2   int16
	i4   int32
	i8   int64
	f4   float32
	f8   float64
	n    string
	t    string
	vc   string
	by   []byte
	d    time.Time
	ts   time.Time
	tstz time.Time
	iv   pgtype.Interval
	j    map[string]any
}

func expectedValues() goValues {
	ts := time.Date(2024, 2, 29, 13, 45, 6, 789012000, time.UTC)
	return goValues{
		b: true, i2: -12345, i4: 2000000001, i8: -9000000000000000001, f4: 1.5, f8: -2.25e-7,
		n: "-12345.678900", t: "héllo, wörld", vc: "varchar", by: []byte{0, 1, 2, 0xfe, 0xff},
		d: time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), ts: ts, tstz: ts,
		iv: pgtype.Interval{Days: 2, Microseconds: (3*3600+4*60)*1e6 + 5_500_000, Valid: true},
		j:  map[string]any{"a": []any{1.0, 2.0, map[string]any{"b": nil}}},
	}
}

func (g *goValues) dest() []any {
	return []any{&g.b, &g.i2, &g.i4, &g.i8, &g.f4, &g.f8, &g.n, &g.t, &g.vc, &g.by, &g.d, &g.ts, &g.tstz, &g.iv, &g.j}
}

func compareValues(t *testing.T, got, want goValues) {
	t.Helper()
	jg, _ := json.Marshal(got.j)
	jw, _ := json.Marshal(want.j)
	ok := got.b == want.b && got.i2 == want.i2 && got.i4 == want.i4 && got.i8 == want.i8 && got.f4 == want.f4 &&
		got.f8 == want.f8 && decimal.RequireFromString(got.n).Equal(decimal.RequireFromString(want.n)) && got.t == want.t && got.vc == want.vc && bytes.Equal(got.by, want.by) &&
		got.d.Equal(want.d) && got.ts.Equal(want.ts) && got.tstz.Equal(want.tstz) &&
		got.iv.Microseconds+int64(got.iv.Days)*86400e6 == want.iv.Microseconds+int64(want.iv.Days)*86400e6 &&
		got.iv.Months == want.iv.Months && bytes.Equal(jg, jw)
	if !ok {
		t.Errorf("values differ\n got %+v\nwant %+v", got, want)
	}
}

func TestPgxAllTypesEveryMode(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	runWithModes(t, ts, func(t *testing.T, c *pgx.Conn) {
		ctx := context.Background()
		rows, err := c.Query(ctx, "select * from all_types")
		if err != nil {
			t.Fatal(err)
		}
		var got goValues
		if !rows.Next() {
			t.Fatalf("no first row: %v", rows.Err())
		}
		if err := rows.Scan(got.dest()...); err != nil {
			t.Fatal(err)
		}
		compareValues(t, got, expectedValues())
		if !rows.Next() {
			t.Fatal("no NULL row")
		}
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if v != nil {
				t.Errorf("column %d of NULL row is %v", i, v)
			}
		}
		if rows.Next() {
			t.Fatal("extra row")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if tag := rows.CommandTag(); tag.String() != "SELECT 2" {
			t.Errorf("tag %q", tag)
		}
		fds := rows.FieldDescriptions()
		for i, col := range []string{"b", "i2", "i4", "i8", "f4", "f8", "n", "t", "vc", "by", "d", "ts", "tstz", "iv", "j"} {
			if fds[i].Name != col {
				t.Errorf("field %d named %q, want %q", i, fds[i].Name, col)
			}
		}
		if fds[8].DataTypeOID != types.OIDVarchar || fds[14].DataTypeOID != types.OIDJSONB {
			t.Errorf("field OIDs %d %d", fds[8].DataTypeOID, fds[14].DataTypeOID)
		}
	})
}

func TestPgxParamsEveryMode(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	want := expectedValues()
	runWithModes(t, ts, func(t *testing.T, c *pgx.Conn) {
		ctx := context.Background()
		var got goValues
		err := c.QueryRow(ctx, `select $1::bool, $2::int2, $3::int4, $4::int8, $5::float4, $6::float8, $7::numeric, $8::text,
			$9::varchar, $10::bytea, $11::date, $12::timestamp, $13::timestamptz, $14::interval, $15::jsonb`,
			want.b, want.i2, want.i4, want.i8, want.f4, want.f8, want.n, want.t, want.vc, want.by, want.d, want.ts, want.tstz,
			want.iv, `{"a": [1, 2, {"b": null}]}`).Scan(got.dest()...)
		if err != nil {
			t.Fatal(err)
		}
		compareValues(t, got, want)

		// Untyped parameters are inferred by the backend as text.
		var s string
		if err := c.QueryRow(ctx, "select $1 as x", "plain").Scan(&s); err != nil || s != "plain" {
			t.Fatalf("untyped param: %q %v", s, err)
		}
		// NULL parameters and special floats.
		var np *int64
		var inf, nan float64
		if err := c.QueryRow(ctx, "select $1::int8, $2::float8, $3::float8", nil, math.Inf(1), math.NaN()).Scan(&np, &inf, &nan); err != nil {
			t.Fatal(err)
		}
		if np != nil || !math.IsInf(inf, 1) || !math.IsNaN(nan) {
			t.Errorf("null/inf/nan: %v %v %v", np, inf, nan)
		}
		// Numeric edge cases survive both encodings.
		for _, n := range []string{"0", "1", "-1", "0.000001", "123456789012345678901234567890.123456789", "1000000", "-0.5"} {
			var got pgtype.Numeric
			if err := c.QueryRow(ctx, "select $1::numeric", n).Scan(&got); err != nil {
				t.Fatalf("numeric %s: %v", n, err)
			}
			v, _ := got.Value()
			if v != n {
				t.Errorf("numeric %s came back %v", n, v)
			}
		}
	})
}

func pgErr(t *testing.T, err error) *pgconn.PgError {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("want a PgError, got %v", err)
	}
	return pe
}

func TestPgxErrorsKeepConnection(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	runWithModes(t, ts, func(t *testing.T, c *pgx.Conn) {
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			_, err := c.Exec(ctx, "selec 1")
			pe := pgErr(t, err)
			if pe.Code != "42601" || pe.Message != `syntax error at or near "selec"` || pe.Position != 1 || pe.Hint == "" || pe.Severity != "ERROR" {
				t.Errorf("syntax error fields: %+v", pe)
			}
			// An error while executing (after Parse/Bind succeeded).
			_, err = c.Exec(ctx, "select 1/0")
			if pe := pgErr(t, err); pe.Code != "22012" {
				t.Errorf("division error: %+v", pe)
			}
			// A panic in the backend is an internal error, not a dropped connection.
			_, err = c.Exec(ctx, "panic")
			if pe := pgErr(t, err); pe.Code != "XX000" {
				t.Errorf("panic error: %+v", pe)
			}
			var n int32
			if err := c.QueryRow(ctx, "select 7").Scan(&n); err != nil || n != 7 {
				t.Fatalf("after errors: %v %v", n, err)
			}
		}
		// A bad parameter value is a 22P02 with the parameter named.
		_, err := c.Exec(ctx, "select $1::int4", "not a number")
		if pe := pgErr(t, err); pe.Code != "22P02" {
			t.Errorf("bad param: %+v", pe)
		}
	})
}

func TestPgxTransactionsAndFailedState(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	runWithModes(t, ts, func(t *testing.T, c *pgx.Conn) {
		ctx := context.Background()
		tx, err := c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st := c.PgConn().TxStatus(); st != 'T' {
			t.Fatalf("status after BEGIN %c", st)
		}
		if _, err := tx.Exec(ctx, "selec"); err == nil {
			t.Fatal("want error")
		}
		if st := c.PgConn().TxStatus(); st != 'E' {
			t.Fatalf("status after error in block %c", st)
		}
		_, err = tx.Exec(ctx, "select 1")
		if pe := pgErr(t, err); pe.Code != "25P02" {
			t.Fatalf("want 25P02, got %+v", pe)
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		if st := c.PgConn().TxStatus(); st != 'I' {
			t.Fatalf("status after ROLLBACK %c", st)
		}
		// COMMIT of a failed block reports ROLLBACK, like Postgres.
		if _, err := c.Exec(ctx, "begin"); err != nil {
			t.Fatal(err)
		}
		_, _ = c.Exec(ctx, "selec")
		tag, err := c.Exec(ctx, "commit")
		if err != nil || tag.String() != "ROLLBACK" {
			t.Fatalf("commit of failed block: %q %v", tag, err)
		}
		// A committed block.
		tx, err = c.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var n int32
		if err := tx.QueryRow(ctx, "select 5").Scan(&n); err != nil || n != 5 {
			t.Fatal(n, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if st := c.PgConn().TxStatus(); st != 'I' {
			t.Fatalf("status after COMMIT %c", st)
		}
	})
}

func TestPgxCancelAndTimeout(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	runWithModes(t, ts, func(t *testing.T, c *pgx.Conn) {
		// Context cancellation makes pgx send a CancelRequest.
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := c.Exec(ctx, "select pg_sleep(60)")
			errc <- err
		}()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-errc:
			if err == nil {
				t.Fatal("sleep was not cancelled")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("cancel did not stop the query")
		}
		if c.IsClosed() {
			// pgx closes the connection when its ctx ends mid-query; reconnecting is the client's choice.
			return
		}
	})
	runWithModes(t, ts, func(t *testing.T, c *pgx.Conn) {
		ctx := context.Background()
		if _, err := c.Exec(ctx, "set statement_timeout = '100ms'"); err != nil {
			t.Fatal(err)
		}
		_, err := c.Exec(ctx, "select pg_sleep(30)")
		pe := pgErr(t, err)
		if pe.Code != "57014" || pe.Message != "canceling statement due to statement timeout" {
			t.Fatalf("timeout error %+v", pe)
		}
		if _, err := c.Exec(ctx, "set statement_timeout = 0"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "select pg_sleep(0.01)"); err != nil {
			t.Fatalf("after clearing the timeout: %v", err)
		}
	})
}

func TestCancelRequestKeepsConnection(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	ctx := context.Background()
	c, err := pgconn.Connect(ctx, ts.url(""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	errc := make(chan error, 1)
	go func() {
		errc <- c.Exec(ctx, "select pg_sleep(60)").Close()
	}()
	time.Sleep(50 * time.Millisecond)
	for {
		if err := c.CancelRequest(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errc:
			pe := pgErr(t, err)
			if pe.Code != "57014" || pe.Message != "canceling statement due to user request" {
				t.Fatalf("cancel error %+v", pe)
			}
			// The connection is still usable.
			res, err := c.Exec(ctx, "select 3").ReadAll()
			if err != nil || string(res[0].Rows[0][0]) != "3" {
				t.Fatalf("after cancel: %v %v", res, err)
			}
			return
		case <-time.After(100 * time.Millisecond):
			// The cancel raced the query's start; send another.
		}
	}
}

func TestPgxStartupParams(t *testing.T) {
	ts := startServer(t, pgwire.Config{})
	ctx := context.Background()
	cfg, _ := pgx.ParseConfig(ts.url("application_name=tester"))
	cfg.RuntimeParams["statement_timeout"] = "50"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	pc := c.PgConn()
	for k, want := range map[string]string{
		"server_version": pgwire.DefaultServerVersion, "server_encoding": "UTF8", "client_encoding": "UTF8",
		"DateStyle": "ISO, MDY", "IntervalStyle": "postgres", "TimeZone": "UTC", "integer_datetimes": "on",
		"standard_conforming_strings": "on", "application_name": "tester", "session_authorization": "sluice",
	} {
		if got := pc.ParameterStatus(k); got != want {
			t.Errorf("ParameterStatus(%s) = %q, want %q", k, got, want)
		}
	}
	if pc.PID() == 0 {
		t.Error("no backend PID")
	}
	// statement_timeout from the startup packet applies.
	_, err = c.Exec(ctx, "select pg_sleep(10)")
	if pe := pgErr(t, err); pe.Code != "57014" {
		t.Fatalf("startup statement_timeout: %+v", pe)
	}
	// SET application_name is reported back with ParameterStatus.
	if _, err := c.Exec(ctx, "set application_name = 'renamed'"); err != nil {
		t.Fatal(err)
	}
	if got := pc.ParameterStatus("application_name"); got != "renamed" {
		t.Errorf("application_name after SET: %q", got)
	}
	info := ts.fake.Infos[len(ts.fake.Infos)-1]
	if info.User != "sluice" || info.Database != "sluice" || info.ApplicationName != "tester" {
		t.Errorf("session info %+v", info)
	}

	// A backend refusing the session is a FATAL error with its SQLSTATE.
	_, err = pgx.Connect(ctx, fmt.Sprintf("postgres://sluice@%s/nosuchdb?sslmode=disable", ts.addr))
	if pe := pgErr(t, err); pe.Code != "3D000" || pe.Severity != "FATAL" {
		t.Fatalf("bad database: %+v", pe)
	}
}
