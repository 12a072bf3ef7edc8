package pgwire_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// psqlRun runs psql -X with the given commands (one -c each) and returns
// its output.
func psqlRun(t *testing.T, host, port, user, db string, cmds ...string) (string, error) {
	t.Helper()
	args := []string{"-X", "-h", host, "-p", port, "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1"}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", args...)
	cmd.Env = append(os.Environ(), "PGTZ=UTC", "PAGER=", "PSQL_PAGER=", "COLUMNS=200")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// postgresForComparison starts tests/services/postgres.sh and creates in it
// the same schema as setupSQL (a table and a materialized view), owned by
// a role "sluice" in a database "sluice". It skips when PostgreSQL cannot
// be started.
func postgresForComparison(t *testing.T) (host, port string) {
	t.Helper()
	out, err := exec.Command("bash", filepath.Join(repoRoot(), "tests", "services", "postgres.sh"), "start").Output()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL for comparison not available: %v", err)
		}
		t.Skipf("PostgreSQL for comparison not available: %v", err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			env[k] = v
		}
	}
	host, port = env["PGHOST"], env["PGPORT"]
	admin := env["PGUSER"]
	setup := []string{
		"DROP DATABASE IF EXISTS sluice",
		"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sluice') THEN CREATE ROLE sluice SUPERUSER LOGIN; END IF; END $$",
		"CREATE DATABASE sluice OWNER sluice",
	}
	if out, err := psqlRun(t, host, port, admin, "postgres", setup...); err != nil {
		t.Fatalf("set up PostgreSQL: %v\n%s", err, out)
	}
	if out, err := psqlRun(t, host, port, "sluice", "sluice",
		"CREATE TABLE clicks (user_id BIGINT, url VARCHAR(200), amount NUMERIC(10,2), ts TIMESTAMP)",
		"CREATE MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n, sum(amount) AS total FROM clicks GROUP BY user_id"); err != nil {
		t.Fatalf("create PostgreSQL schema: %v\n%s", err, out)
	}
	return host, port
}

// knownGaps are planner/executor features psql's \d queries need that the
// database does not have yet; a command failing with one of them is
// skipped (and compared again once the feature lands).
var knownGaps = []string{
	"operator does not exist: smallint = text",        // int2vector subscripts (prattrs[s]) in psql 15's \d publication query
	"evaluate unnest argument",                        // unnest(tc.reloptions) over a NULL-extended LEFT JOIN row in \d+
	"function pg_catalog.pg_get_viewdef(oid, boolean", // \d+ of a view
}

func knownGap(out string) string {
	for _, g := range knownGaps {
		if strings.Contains(out, g) {
			return g
		}
	}
	return ""
}

// TestPsqlMatchesPostgres runs psql's describe commands against Sluice and
// against PostgreSQL holding the same schema, and requires the same output.
func TestPsqlMatchesPostgres(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("psql not installed")
		}
		t.Skip("psql not installed")
	}
	addr, _ := startDB(t, setupSQL)
	shost, sport, _ := net.SplitHostPort(addr)
	phost, pport := postgresForComparison(t)
	for _, cmd := range []string{`\dt`, `\dm`, `\dv`, `\d`, `\dt clicks`, `\dm per_*`, `\d clicks`, `\d per_user`, `\d+ clicks`,
		`\x on|SELECT * FROM per_user`, `\x on|SELECT 1 AS a, 'x' AS b`, `SELECT 'héllo'::text AS t, 1.5::float8 AS f, NULL::int AS n`} {
		t.Run(cmd, func(t *testing.T) {
			want, err := psqlRun(t, phost, pport, "sluice", "sluice", strings.Split(cmd, "|")...)
			if err != nil {
				t.Fatalf("PostgreSQL: %v\n%s", err, want)
			}
			got, err := psqlRun(t, shost, sport, "sluice", "sluice", strings.Split(cmd, "|")...)
			if err != nil {
				if g := knownGap(got); g != "" {
					t.Skipf("known database gap %q", g)
				}
				t.Fatalf("Sluice: %v\n%s", err, got)
			}
			if got != want {
				t.Errorf("output differs\n--- sluice\n%s\n--- postgresql\n%s", got, want)
			}
		})
	}
}

// TestPsqlCommands checks psql commands whose output is Sluice's own.
func TestPsqlCommands(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("psql not installed")
		}
		t.Skip("psql not installed")
	}
	addr, _ := startDB(t, setupSQL)
	host, port, _ := net.SplitHostPort(addr)
	for _, c := range []struct{ cmd, want string }{
		{`\l`, `                                         List of databases
  Name  | Owner  | Encoding | Collate |  Ctype  | ICU Locale | Locale Provider | Access privileges 
--------+--------+----------+---------+---------+------------+-----------------+-------------------
 sluice | sluice | UTF8     | C.UTF-8 | C.UTF-8 |            | libc            | 
(1 row)

`},
		{`\dn`, ` List of schemas
  Name  | Owner  
--------+--------
 public | sluice
(1 row)

`},
		{`\dE`, "Did not find any relations.\n"},
		{`\x on|SELECT * FROM per_user`, "Expanded display is on.\n(0 rows)\n\n"},
		{`\x on|SELECT 1 AS a, 'x' AS b`, "Expanded display is on.\n-[ RECORD 1 ]\na | 1\nb | x\n\n"},
	} {
		t.Run(c.cmd, func(t *testing.T) {
			got, err := psqlRun(t, host, port, "sluice", "sluice", strings.Split(c.cmd, "|")...)
			if err != nil {
				t.Fatalf("%v\n%s", err, got)
			}
			if got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

// TestPsqlWatch runs \watch and checks that it repeats the query.
func TestPsqlWatch(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("psql not installed")
		}
		t.Skip("psql not installed")
	}
	addr, _ := startDB(t, setupSQL)
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", "-X", "-h", host, "-p", port, "-U", "sluice", "-d", "sluice")
	cmd.Env = append(os.Environ(), "PAGER=", "PSQL_PAGER=")
	cmd.Stdin = strings.NewReader("SELECT count(*) AS views FROM per_user \\watch 0.1\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // \watch runs until the context kills psql
	if n := strings.Count(out.String(), "(every 0.1s)"); n < 2 {
		t.Fatalf("\\watch ran %d times:\n%s", n, out.String())
	}
	if strings.Contains(out.String(), "ERROR") {
		t.Fatalf("\\watch failed:\n%s", out.String())
	}
}
