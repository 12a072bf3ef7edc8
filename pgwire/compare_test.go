package pgwire_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sql/types"
)

// startPostgres returns the address of a real PostgreSQL 15: the one in
// SLUICE_TEST_PG_ADDR (user postgres, trust), the one of
// tests/services/postgres.sh, or a throwaway cluster made with the Debian
// packages' initdb when running as root. It skips the test
// when neither is possible.
func startPostgres(t *testing.T) string {
	t.Helper()
	if addr := os.Getenv("SLUICE_TEST_PG_ADDR"); addr != "" {
		return addr
	}
	// The project's service script, shared with the other suites.
	if out, err := exec.Command("bash", filepath.Join("..", "tests", "services", "postgres.sh"), "start").Output(); err == nil {
		env := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				env[k] = v
			}
		}
		if env["PGPORT"] != "" && env["PGUSER"] == "postgres" {
			return net.JoinHostPort(env["PGHOST"], env["PGPORT"])
		}
	}
	bin := os.Getenv("SLUICE_PG_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		t.Skipf("no PostgreSQL 15 (%v): apt-get install postgresql-15 or set SLUICE_TEST_PG_ADDR", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("starting PostgreSQL needs root (to run initdb as user postgres); set SLUICE_TEST_PG_ADDR")
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		t.Skipf("no postgres user: %v", err)
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	dir, err := os.MkdirTemp("", "sluice-pgcmp-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	data := filepath.Join(dir, "data")
	run(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
	run(filepath.Join(bin, "pg_ctl"), "-D", data, "-w", "-l", filepath.Join(dir, "log"), "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c timezone=UTC", port, dir), "start")
	t.Cleanup(func() { run(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "stop") })
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// exchange sends msgs and returns every message up to ReadyForQuery,
// keeping raw DataRow values.
func (c *rawClient) exchange(msgs ...pgproto3.FrontendMessage) (sums []string, rows [][][]byte, errs []pgproto3.ErrorResponse) {
	c.t.Helper()
	c.send(msgs...)
	for {
		m, err := c.fe.Receive()
		if err != nil {
			c.t.Fatalf("receive: %v", err)
		}
		sums = append(sums, summarize(m))
		switch m := m.(type) {
		case *pgproto3.DataRow:
			var row [][]byte
			for _, v := range m.Values {
				row = append(row, append([]byte(nil), v...))
			}
			rows = append(rows, row)
		case *pgproto3.ErrorResponse:
			errs = append(errs, *m)
		case *pgproto3.ReadyForQuery:
			return
		}
	}
}

// TestCompareWithPostgres checks byte for byte that Sluice answers like
// PostgreSQL 15: the startup sequence, error responses, and the text and
// binary encodings of each type in both directions. Values that
// legitimately differ (server_version, the backend key, error source
// locations) are left out.
func TestCompareWithPostgres(t *testing.T) {
	pgAddr := startPostgres(t)
	ts := startServer(t, pgwire.Config{})
	params := map[string]string{"user": "postgres", "database": "postgres", "application_name": "cmp"}
	pg := dialRaw(t, pgAddr, params)
	sl := dialRaw(t, ts.addr, params)

	t.Run("startup", func(t *testing.T) {
		norm := func(s []string) []string {
			var out []string
			for _, m := range s {
				if strings.HasPrefix(m, "S server_version=") {
					m = "S server_version=*"
				}
				out = append(out, m)
			}
			return out
		}
		eq(t, "startup sequence", norm(sl.startup), norm(pg.startup)...)
	})

	t.Run("errors", func(t *testing.T) {
		for _, q := range [][]pgproto3.FrontendMessage{
			{&pgproto3.Query{String: "select 1/0"}},
			{&pgproto3.Query{String: "begin"}},
			{&pgproto3.Query{String: "select 1/0"}},
			{&pgproto3.Query{String: "select 1"}},
			{&pgproto3.Query{String: "commit"}},
			{&pgproto3.Query{String: "commit"}},
			{&pgproto3.Query{String: "begin"}},
			{&pgproto3.Query{String: "begin"}},
			{&pgproto3.Query{String: "rollback"}},
			{&pgproto3.Bind{PreparedStatement: "nope"}, &pgproto3.Query{String: "select 1"}, &pgproto3.Sync{}},
			{&pgproto3.Query{String: "copy (select 'a\tb\nc\\d'::text, null::int8, 1.5::float8, '\\x00ff'::bytea) to stdout"}},
			{&pgproto3.Parse{Query: "copy (select 'x'::text) to stdout"}, &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'P'},
				&pgproto3.Execute{}, &pgproto3.Sync{}},
			{&pgproto3.Parse{Query: "select $1::int8"}, &pgproto3.Bind{Parameters: [][]byte{[]byte("abc")}}, &pgproto3.Execute{}, &pgproto3.Sync{}},
			{&pgproto3.Parse{Query: "select $1::int8"}, &pgproto3.Bind{ParameterFormatCodes: []int16{1}, Parameters: [][]byte{{1, 2, 3}}},
				&pgproto3.Execute{}, &pgproto3.Sync{}},
			{&pgproto3.Parse{Name: "dup", Query: "select 1"}, &pgproto3.Parse{Name: "dup", Query: "select 1"}, &pgproto3.Sync{}},
			{&pgproto3.Execute{Portal: "nope"}, &pgproto3.Sync{}},
			{&pgproto3.Bind{PreparedStatement: "nope"}, &pgproto3.Sync{}},
			{&pgproto3.Query{String: ""}},
			{&pgproto3.Query{String: "set application_name = 'other'"}},
			{&pgproto3.Query{String: "select 1; select 'a' as x"}},
			{&pgproto3.Parse{Name: "d", Query: "select $1::int8 as x, $2::text as y"}, &pgproto3.Describe{ObjectType: 'S', Name: "d"},
				&pgproto3.Bind{PreparedStatement: "d", Parameters: [][]byte{[]byte("5"), nil}, ResultFormatCodes: []int16{1, 0}},
				&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Close{ObjectType: 'S', Name: "d"}, &pgproto3.Sync{}},
			{&pgproto3.Parse{Query: "begin"}, &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{}},
			{&pgproto3.Query{String: "rollback"}},
			{&pgproto3.Query{String: "copy (select 'a\tb\nc\\d'::text, null::int8, 1.5::float8, '\\x00ff'::bytea) to stdout"}},
			{&pgproto3.Parse{Query: "copy (select 'x'::text) to stdout"}, &pgproto3.Bind{}, &pgproto3.Describe{ObjectType: 'P'},
				&pgproto3.Execute{}, &pgproto3.Sync{}},
			{&pgproto3.Parse{Query: "select * from generate_series(1, 3)"}, &pgproto3.Bind{}, &pgproto3.Execute{MaxRows: 2},
				&pgproto3.Execute{MaxRows: 2}, &pgproto3.Sync{}},
		} {
			ps, _, pe := pg.exchange(q...)
			ss, _, se := sl.exchange(q...)
			eq(t, fmt.Sprintf("%T", q[0]), ss, ps...)
			for i := range min(len(pe), len(se)) {
				p, s := pe[i], se[i]
				if p.Severity != s.Severity || p.SeverityUnlocalized != s.SeverityUnlocalized || p.Code != s.Code ||
					p.Message != s.Message || p.Detail != s.Detail || p.Hint != s.Hint || p.Position != s.Position {
					t.Errorf("error differs:\n  pg %+v\n  sl %+v", p, s)
				}
			}
		}
		// The fake's syntax error adds a hint; code, message and position match.
		_, _, pe := pg.exchange(&pgproto3.Query{String: "selec 1"})
		_, _, se := sl.exchange(&pgproto3.Query{String: "selec 1"})
		if pe[0].Code != se[0].Code || pe[0].Message != se[0].Message || pe[0].Position != se[0].Position {
			t.Errorf("syntax error differs:\n  pg %+v\n  sl %+v", pe[0], se[0])
		}
	})

	t.Run("types", func(t *testing.T) {
		for _, c := range []struct{ typ, lit string }{
			{"bool", "t"}, {"bool", "f"},
			{"int2", "-12345"}, {"int4", "2000000001"}, {"int8", "-9000000000000000001"},
			{"float4", "1.5"}, {"float4", "-0.1"}, {"float8", "-2.25e-07"}, {"float8", "1e+100"}, {"float8", "0.1"},
			{"float8", "NaN"}, {"float8", "-Infinity"}, {"float8", "1704067200"}, {"float8", "1e15"},
			{"float8", "123456789012345"}, {"float8", "0.0001"}, {"float8", "1e-05"}, {"float8", "-0"},
			{"float4", "1234567"}, {"float4", "100000"}, {"float4", "1e-05"}, {"float4", "0.0001"},
			{"numeric", "-12345.6789"}, {"numeric", "0"}, {"numeric", "1000000"}, {"numeric", "0.000001"},
			{"numeric", "123456789012345678901234567890.123456789"}, {"numeric", "-0.5"},
			{"text", "héllo wörld"}, {"text", ""}, {"varchar", "abc"},
			{"bytea", `\x0001fe`}, {"bytea", `\x`},
			{"date", "2024-02-29"}, {"date", "1969-07-20"},
			{"timestamp", "2024-02-29 13:45:06.789012"}, {"timestamp", "1999-12-31 23:59:59"},
			{"timestamptz", "2024-02-29 13:45:06.789012+00"}, {"timestamptz", "1960-01-01 00:00:00+00"},
			{"interval", "2 days 03:04:05.5"}, {"interval", "-00:00:01"}, {"interval", "00:00:00"},
			{"jsonb", `{"a": [1, 2, {"b": null}]}`},
		} {
			t.Run(c.typ+" "+c.lit, func(t *testing.T) {
				q := fmt.Sprintf("select '%s'::%s", strings.ReplaceAll(c.lit, "'", "''"), c.typ)
				var binary []byte
				for _, f := range []int16{0, 1} {
					msgs := []pgproto3.FrontendMessage{&pgproto3.Parse{Query: q}, &pgproto3.Bind{ResultFormatCodes: []int16{f}},
						&pgproto3.Describe{ObjectType: 'P'}, &pgproto3.Execute{}, &pgproto3.Sync{}}
					ps, prows, _ := pg.exchange(msgs...)
					ss, _, _ := sl.exchange(msgs...)
					eq(t, fmt.Sprintf("format %d", f), ss, ps...)
					if f == 1 && len(prows) == 1 {
						binary = prows[0][0]
					}
				}
				// Parameters: Postgres' binary bytes and the text literal decode
				// to the same value on both servers.
				oid := paramOID(c.typ)
				for f, param := range map[int16][]byte{0: []byte(c.lit), 1: binary} {
					msgs := []pgproto3.FrontendMessage{&pgproto3.Parse{Query: "select $1::" + c.typ, ParameterOIDs: []uint32{oid}},
						&pgproto3.Bind{ParameterFormatCodes: []int16{f}, Parameters: [][]byte{param}, ResultFormatCodes: []int16{1}},
						&pgproto3.Execute{}, &pgproto3.Sync{}}
					ps, _, _ := pg.exchange(msgs...)
					ss, _, _ := sl.exchange(msgs...)
					eq(t, fmt.Sprintf("param format %d", f), ss, ps...)
				}
			})
		}
	})
}

func paramOID(typ string) uint32 {
	if typ == "varchar" {
		return types.OIDVarchar
	}
	k, _ := types.ParseTypeName(typ)
	return types.Type{Kind: k}.OID()
}
