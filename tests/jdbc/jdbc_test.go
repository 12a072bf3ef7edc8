// Package jdbc_test runs the PostgreSQL JDBC driver (42.7.8, from Maven
// Central) against the real database served by pgwire: metadata
// (getTables/getColumns), server-side prepared statements, typed
// parameters and errors. It skips when Java or the driver is unavailable.
package jdbc_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sluice-db/sluice/exec/db"
	"github.com/sluice-db/sluice/pgwire"
)

const driverVersion = "42.7.8"

// driverJar returns the driver jar: $SLUICE_PGJDBC_JAR, the local Maven
// repository, or a fresh `mvn dependency:get` into it.
func driverJar(t *testing.T) string {
	if p := os.Getenv("SLUICE_PGJDBC_JAR"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	// Named to Maven explicitly below: its default repository follows the
	// JVM's user.home (the password file, not $HOME) and settings.xml.
	repo := filepath.Join(home, ".m2", "repository")
	jar := filepath.Join(repo, "org", "postgresql", "postgresql", driverVersion, "postgresql-"+driverVersion+".jar")
	if _, err := os.Stat(jar); err == nil {
		return jar
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no PostgreSQL JDBC driver and no mvn to fetch it")
		}
		t.Skip("no PostgreSQL JDBC driver and no mvn to fetch it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "mvn", "-q", "dependency:get", "-Dmaven.repo.local="+repo, "-Dartifact=org.postgresql:postgresql:"+driverVersion).CombinedOutput()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fetch the JDBC driver: %v\n%s", err, out)
		}
		t.Skipf("fetch the JDBC driver: %v\n%s", err, out)
	}
	return jar
}

func sourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

func TestJDBC(t *testing.T) {
	for _, tool := range []string{"java", "javac"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	jar := driverJar(t)
	classes := t.TempDir()
	if out, err := exec.Command("javac", "-d", classes, "-cp", jar, filepath.Join(sourceDir(), "JdbcCheck.java")).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}

	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := db.Open(ctx, db.Config{DataDir: t.TempDir(), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	if err := d.Exec(ctx, `
CREATE TABLE clicks (user_id BIGINT, url VARCHAR(200), amount NUMERIC(10,2), ts TIMESTAMP);
CREATE MATERIALIZED VIEW per_user AS SELECT user_id, count(*) AS n, sum(amount) AS total FROM clicks GROUP BY user_id;`); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pgwire.NewServer(pgwire.Config{Logger: logger}, d)
	go func() { _ = srv.Serve(ctx, l) }()
	defer srv.Shutdown(ctx)

	url := "jdbc:postgresql://" + l.Addr().String() + "/sluice?user=sluice"
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(cctx, "java", "-cp", classes+string(os.PathListSeparator)+jar, "JdbcCheck", url).CombinedOutput()
	if err != nil {
		t.Fatalf("java: %v\n%s", err, out)
	}
	want := `product|PostgreSQL|15
table|per_user|MATERIALIZED VIEW
table|clicks|TABLE
column|user_id|int8|-5|19|0|YES|1
column|url|varchar|12|200|0|YES|2
column|amount|numeric|2|10|2|YES|3
column|ts|timestamp|93|29|6|YES|4
lookup|8|1|2|4.75
lookup|9|2|1|2.00
params|42|héllo|-12.50|2024-02-29 13:45:06.789012|true
error|42601
after error|7
`
	if got := string(out); got != want {
		t.Errorf("JDBC output differs\n--- got\n%s--- want\n%s", got, want)
	}
}
