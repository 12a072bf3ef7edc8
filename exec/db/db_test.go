package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

func openTest(t *testing.T, dir string) *DB {
	t.Helper()
	d, err := Open(context.Background(), Config{
		DataDir: dir,
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

// query runs one statement in a fresh session and returns its rows as text.
func query(t *testing.T, d *DB, q string) []string {
	t.Helper()
	rows, err := tryQuery(d, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rows
}

// eventually runs q until its rows, printed, read want (views catch up
// asynchronously), and fails the test after 10 s.
func eventually(t *testing.T, d *DB, q, want string) {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = query(t, d, q); fmt.Sprint(got) == want {
			return
		}
	}
	t.Fatalf("%s: %q, want %s", q, got, want)
}

func tryQuery(d *DB, q string) ([]string, error) {
	ctx := context.Background()
	s, err := d.NewSession(ctx, pgwire.SessionInfo{User: "test"})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	p, err := s.Prepare(ctx, q, nil)
	if err != nil {
		return nil, err
	}
	res, err := p.Execute(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out []string
	for {
		row, err := res.Next(ctx)
		if err != nil {
			return nil, err
		}
		if row == nil {
			break
		}
		parts := make([]string, len(row))
		for i, v := range row {
			if v.IsNull() {
				parts[i] = "NULL"
			} else {
				parts[i] = v.String()
			}
		}
		out = append(out, strings.Join(parts, " | "))
	}
	sort.Strings(out)
	return out, nil
}

func TestTumbleViewOverTableEndToEnd(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir)
	ctx := context.Background()
	if err := d.Exec(ctx, `
CREATE TABLE clicks (user_id BIGINT, campaign TEXT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE MATERIALIZED VIEW per_minute AS
  SELECT window_start, campaign, count(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, campaign;
INSERT INTO clicks VALUES (1, 'a', '2026-01-01 00:00:10'), (2, 'a', '2026-01-01 00:00:20'), (3, 'b', '2026-01-01 00:00:30'), (4, 'a', '2026-01-01 00:01:10');
`); err != nil {
		t.Fatal(err)
	}
	got := query(t, d, "SELECT window_start, campaign, n FROM per_minute ORDER BY 1, 2")
	want := []string{
		"2026-01-01 00:00:00 | a | 2",
		"2026-01-01 00:00:00 | b | 1",
		"2026-01-01 00:01:00 | a | 1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got := query(t, d, "SELECT name, parallelism, status FROM sluice_views"); fmt.Sprint(got) != "[per_minute | 1 | running]" {
		t.Fatalf("sluice_views: %q", got)
	}
	// The catalog survives a restart.
	d.Close(ctx)
	d2 := openTest(t, dir)
	got = query(t, d2, "SHOW MATERIALIZED VIEWS")
	if len(got) != 1 || !strings.HasPrefix(got[0], "per_minute") {
		t.Fatalf("after restart: %q", got)
	}
	// The table's rows were logged, so the view has the same contents.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got = query(t, d2, "SELECT window_start, campaign, n FROM per_minute ORDER BY 1, 2")
		if fmt.Sprint(got) == fmt.Sprint(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after restart got %q, want %q", got, want)
	}
	if _, err := tryQuery(d2, "SELECT nope FROM per_minute"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("want an undefined-column error, got %v", err)
	}
	_ = types.TText
	_ = time.Second
}

func TestPointLookupUsesIndexAndFilters(t *testing.T) {
	d := openTest(t, t.TempDir())
	ctx := context.Background()
	if err := d.Exec(ctx, `
CREATE TABLE ev (user_id BIGINT, amount INT);
CREATE MATERIALIZED VIEW totals AS SELECT user_id, sum(amount) AS total, count(*) AS n FROM ev GROUP BY user_id;
INSERT INTO ev VALUES (1, 10), (2, 20), (2, 5), (3, 7);
`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ q, want string }{
		{"SELECT user_id, total, n FROM totals WHERE user_id = 2", "[2 | 25 | 2]"},
		{"SELECT total FROM totals WHERE 3 = user_id", "[7]"},
		{"SELECT total FROM totals WHERE user_id = 2 AND total > 100", "[]"},
		{"SELECT total FROM totals WHERE user_id = 9", "[]"},
	} {
		if got := fmt.Sprint(query(t, d, tc.q)); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.q, got, tc.want)
		}
	}
	// The index follows later changes.
	if err := d.Exec(ctx, "INSERT INTO ev VALUES (2, 1)"); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(query(t, d, "SELECT total FROM totals WHERE user_id = 2")); got != "[26]" {
		t.Errorf("after insert: got %s", got)
	}
}

func TestTableLogSurvivesTornTail(t *testing.T) {
	path := tableLogPath(t.TempDir(), "t")
	l, rows, err := openTableLog(path)
	if err != nil || len(rows) != 0 {
		t.Fatalf("open: %v %v", rows, err)
	}
	want := []types.Row{
		{types.NewInt(1), types.NewText("a"), types.NullValue},
		{types.NewInt(-2), types.NewText(""), types.NewFloat(1.5)},
	}
	if err := l.append(want[:1]); err != nil {
		t.Fatal(err)
	}
	if err := l.append(want[1:]); err != nil {
		t.Fatal(err)
	}
	l.close()
	// A crash in the middle of a third append leaves a torn record.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3, 4, 5})
	f.Close()
	l, rows, err = openTableLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("replayed %v, want %v", rows, want)
	}
	// The torn tail was cut: a new append lands after the good records.
	if err := l.append(want[:1]); err != nil {
		t.Fatal(err)
	}
	l.close()
	_, rows, err = openTableLog(path)
	if err != nil || len(rows) != 3 {
		t.Fatalf("after append: %d rows, %v", len(rows), err)
	}
}

func TestTableLogConcurrentAppendsAreAllDurable(t *testing.T) {
	path := tableLogPath(t.TempDir(), "t")
	l, _, err := openTableLog(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 50
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				if err := l.append([]types.Row{{types.NewInt(int64(w*each + i))}}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	l.close()
	_, rows, err := openTableLog(path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for _, r := range rows {
		seen[r[0].I] = true
	}
	if len(rows) != writers*each || len(seen) != writers*each {
		t.Fatalf("replayed %d rows (%d distinct), want %d", len(rows), len(seen), writers*each)
	}
}

func TestPlanCacheIsInvalidatedByDDL(t *testing.T) {
	d := openTest(t, t.TempDir())
	ctx := context.Background()
	if err := d.Exec(ctx, `CREATE TABLE a (x INT); INSERT INTO a VALUES (1), (2);
CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM a;`); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT n FROM v"
	for range 2 { // the second run is served from the cache
		if got := fmt.Sprint(query(t, d, q)); got != "[2]" {
			t.Fatalf("got %s", got)
		}
	}
	if d.plans.get(planKey(q, nil), d.version.Load()) == nil {
		t.Fatal("the plan was not cached")
	}
	if err := d.Exec(ctx, `DROP MATERIALIZED VIEW v; CREATE MATERIALIZED VIEW v AS SELECT sum(x) AS n FROM a;`); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(query(t, d, q)); got != "[3]" {
		t.Fatalf("after DDL got %s, want the new view's [3]", got)
	}
}

func TestCopyToStdout(t *testing.T) {
	d := openTest(t, t.TempDir())
	ctx := context.Background()
	s, _ := d.NewSession(ctx, pgwire.SessionInfo{User: "test"})
	defer s.Close()
	p, err := s.Prepare(ctx, "COPY (SELECT 1 AS a, 'x' AS b) TO STDOUT", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind() != pgwire.KindCopyOut || len(p.Columns()) != 2 {
		t.Fatalf("kind %v, columns %v", p.Kind(), p.Columns())
	}
	if _, err := s.Prepare(ctx, "COPY (SELECT 1) TO STDOUT WITH (format = 'csv')", nil); err == nil {
		t.Fatal("csv format: want a 0A000 error")
	}
	if _, err := s.Prepare(ctx, "COPY (SELECT 1) TO '/tmp/x'", nil); err == nil {
		t.Fatal("COPY to a file: want an error")
	}
}

// TestNewViewIgnoresLeftoverCheckpoint checks that a new view does not
// inherit a checkpoint left under its name (a DROP cut short by a crash
// after the catalog changed): CREATE discards it, so the view neither
// fails for holding another plan's state nor restores that state.
func TestNewViewIgnoresLeftoverCheckpoint(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func() *DB {
		t.Helper()
		d, err := Open(ctx, Config{DataDir: dir, CheckpointInterval: 20 * time.Millisecond,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	ckDir := filepath.Join(dir, "checkpoints")
	d := open()
	if err := d.Exec(ctx, `
CREATE TABLE t (k TEXT, v BIGINT);
CREATE MATERIALIZED VIEW v AS SELECT k, count(*) AS n FROM t GROUP BY k;
INSERT INTO t VALUES ('a', 1), ('a', 2), ('b', 5);
`); err != nil {
		t.Fatal(err)
	}
	// Wait for a checkpoint of the view, and keep a copy of it.
	saved := t.TempDir()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		_ = filepath.WalkDir(ckDir, func(_ string, e os.DirEntry, _ error) error {
			if e != nil && !e.IsDir() {
				n++
			}
			return nil
		})
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint was written")
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.Close(ctx)
	if err := os.CopyFS(saved, os.DirFS(ckDir)); err != nil {
		t.Fatal(err)
	}
	d = open()
	if err := d.Exec(ctx, "DROP MATERIALIZED VIEW v"); err != nil {
		t.Fatal(err)
	}
	d.Close(ctx)
	// The crash: the catalog no longer has v, its checkpoint is still there.
	if err := os.RemoveAll(ckDir); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(ckDir, os.DirFS(saved)); err != nil {
		t.Fatal(err)
	}
	d = open()
	defer d.Close(ctx)
	if err := d.Exec(ctx, "CREATE MATERIALIZED VIEW v AS SELECT k, sum(v) AS s FROM t GROUP BY k"); err != nil {
		t.Fatal(err)
	}
	if got := query(t, d, "SELECT name, status FROM sluice_views"); fmt.Sprint(got) != "[v | running]" {
		t.Fatalf("sluice_views: %q", got)
	}
	if got := query(t, d, "SELECT k, s FROM v"); fmt.Sprint(got) != "[a | 3 b | 5]" {
		t.Fatalf("the new view holds %q", got)
	}
}

// TestViewParallelismOption: WITH (parallelism = n) runs one view's keyed
// operators as n copies whatever the server's setting, also after a
// restart; a value that is no whole number from 1 up is refused (22023).
func TestViewParallelismOption(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir)
	ctx := context.Background()
	if err := d.Exec(ctx, `
CREATE TABLE clicks (user_id BIGINT, campaign TEXT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND);
CREATE MATERIALIZED VIEW wide WITH (parallelism = 3) AS SELECT campaign, count(*) AS n FROM clicks GROUP BY campaign;
CREATE MATERIALIZED VIEW narrow AS SELECT campaign, count(*) AS n FROM clicks GROUP BY campaign;
INSERT INTO clicks VALUES (1, 'a', '2026-01-01 00:00:10'), (2, 'b', '2026-01-01 00:00:20'), (3, 'a', '2026-01-01 00:00:30');
`); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"0", "-1", "two", "100000"} {
		err := d.Exec(ctx, `CREATE MATERIALIZED VIEW bad WITH (parallelism = '`+bad+`') AS SELECT count(*) FROM clicks`)
		var se *sqlerr.Error
		if !errors.As(err, &se) || se.Code != sqlerr.InvalidParameterValue {
			t.Errorf("parallelism = %s: %v, want 22023", bad, err)
		}
	}
	check := func(d *DB) {
		t.Helper()
		eventually(t, d, "SELECT campaign, n FROM wide", "[a | 2 b | 1]")
		if got := query(t, d, "SELECT name, parallelism FROM sluice_views"); fmt.Sprint(got) != "[narrow | 1 wide | 3]" {
			t.Fatalf("sluice_views: %q", got)
		}
	}
	check(d)
	d.Close(ctx)
	check(openTest(t, dir))
}

// TestViewOnErrorDeadLetterKeys: under on_error = 'dead_letter' a row whose
// key expression fails (GROUP BY of a window, a session or none, the
// PARTITION BY of a dedup or top-N, a join's ON), whose top-N ORDER BY key
// or whose aggregate input fails (an argument, a FILTER) goes to the dead
// letters once and the view goes on without it, at parallelism 1 as at 3 (where
// the shuffle evaluates the keys for the copies): the views hold the same
// rows, and a late row with a failing key has the same fate at both.
// Without the option such a row still fails the view.
func TestViewOnErrorDeadLetterKeys(t *testing.T) {
	d := openTest(t, t.TempDir())
	ctx := context.Background()
	if err := d.Exec(ctx, `
CREATE TABLE t (k TEXT, v BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND);
CREATE TABLE dim (q BIGINT, name TEXT);
INSERT INTO dim VALUES (5, 'five'), (2, 'two');
`); err != nil {
		t.Fatal(err)
	}
	views := []struct{ name, query, clause, want string }{
		{"grp", "SELECT 10 / v AS q, count(*) AS n FROM t GROUP BY 10 / v", "GROUP BY", "[2 | 1 5 | 2]"},
		{"tumble", "SELECT window_start, 10 / v AS q, count(*) AS n FROM TUMBLE(t, ts, INTERVAL '1' MINUTE) GROUP BY window_start, 10 / v",
			"GROUP BY", "[2026-01-01 00:00:00 | 2 | 1 2026-01-01 00:00:00 | 5 | 2]"},
		{"sess", "SELECT 10 / v AS q, count(*) AS n FROM SESSION(t, ts, INTERVAL '1' MINUTE) GROUP BY window_start, 10 / v",
			"GROUP BY", "[2 | 1 5 | 2]"},
		{"first", "SELECT k, v FROM (SELECT k, v, row_number() OVER (PARTITION BY 10 / v ORDER BY ts) AS rn FROM t) s WHERE rn = 1",
			"PARTITION BY", "[a | 5 c | 2 z | 1]"},
		{"top2", "SELECT k, v FROM (SELECT k, v, row_number() OVER (PARTITION BY 10 / v ORDER BY ts) AS rn FROM t) s WHERE rn <= 2",
			"PARTITION BY", "[a | 5 c | 2 e | 2 z | 1]"},
		{"named", "SELECT t.k, dim.name FROM t JOIN dim ON 10 / t.v = dim.q", "ON", "[a | two c | five e | five]"},
		{"top_by", "SELECT k, v FROM (SELECT k, v, row_number() OVER (PARTITION BY k ORDER BY 10 / v) AS rn FROM t) s WHERE rn <= 2",
			"ORDER BY", "[a | 5 c | 2 e | 2 z | 1]"},
		// An aggregate's input fails alike, before any state took the row.
		{"ratio", "SELECT v % 2 AS odd, sum(10 / v) AS s, count(*) AS n FROM t GROUP BY v % 2", "aggregate sum", "[0 | 10 | 2 1 | 12 | 2]"},
		{"wratio", "SELECT window_start, count(*) FILTER (WHERE 10 / v > 2) AS n FROM TUMBLE(t, ts, INTERVAL '1' MINUTE) GROUP BY window_start",
			"aggregate count", "[2026-01-01 00:00:00 | 2]"},
	}
	for _, v := range views {
		for _, par := range []int{1, 3} {
			if err := d.Exec(ctx, fmt.Sprintf("CREATE MATERIALIZED VIEW %s_%d WITH (on_error = 'dead_letter', parallelism = %d) AS %s",
				v.name, par, par, v.query)); err != nil {
				t.Fatalf("%s: %v", v.name, err)
			}
		}
	}
	if err := d.Exec(ctx, `INSERT INTO t VALUES ('a', 5, '2026-01-01 00:00:01'), ('b', 0, '2026-01-01 00:00:02'),
		('c', 2, '2026-01-01 00:00:03'), ('d', 0, '2026-01-01 00:00:04'), ('e', 2, '2026-01-01 00:00:05');
INSERT INTO t VALUES ('z', 1, '2026-01-01 00:10:00');
INSERT INTO t VALUES ('y', 0, '2026-01-01 00:00:06');
CREATE MATERIALIZED VIEW strict AS SELECT 10 / v AS q, count(*) AS n FROM t GROUP BY 10 / v;`); err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		q := "SELECT * FROM %s_%d ORDER BY 1, 2"
		if v.name == "tumble" || v.name == "wratio" {
			q = "SELECT * FROM %s_%d WHERE window_start < '2026-01-01 00:10:00' ORDER BY 1, 2"
		}
		if v.name == "sess" || v.name == "grp" {
			q = "SELECT * FROM %s_%d WHERE q <> 10 ORDER BY 1, 2" // z's
		}
		// y came behind the watermark: an operator that judges lateness
		// before the key records it as late, the others dead-letter it;
		// either way alike at both parallelisms.
		var fates [2]string
		for x, par := range []int{1, 3} {
			eventually(t, d, fmt.Sprintf(q, v.name, par), v.want)
			name := fmt.Sprintf("%s_%d", v.name, par)
			dead := query(t, d, "SELECT reason, convert_from(raw, 'UTF8') FROM sluice_dead_letters WHERE source = '"+name+"' ORDER BY raw")
			if len(dead) < 2 || !strings.Contains(dead[0], "materialized view "+name+": "+v.clause+": division by zero") ||
				!strings.Contains(dead[0], `"k":"b"`) || !strings.Contains(dead[1], `"k":"d"`) {
				t.Errorf("%s: dead letters %q, want the rows of b and d, once each, for %s", name, dead, v.clause)
			}
			late := query(t, d, "SELECT count(*) FROM sluice_late_events WHERE view = '"+name+"'")
			fates[x] = fmt.Sprintf("%d dead letters, %v late", len(dead), late)
		}
		if fates[0] != fates[1] {
			t.Errorf("%s: parallelism 1: %s; parallelism 3: %s", v.name, fates[0], fates[1])
		}
	}
	if got := query(t, d, "SELECT status FROM sluice_views WHERE name = 'strict'"); fmt.Sprint(got) != "[failed]" {
		t.Errorf("strict: %q, want failed", got)
	}
}

// TestViewOnErrorDeadLetter: with WITH (on_error = 'dead_letter') a row
// whose WHERE or SELECT expression fails goes to sluice_dead_letters,
// named after the view, and the view goes on with the other rows (its
// retraction is skipped alike); without it the view fails. Other values
// are refused (22023).
func TestViewOnErrorDeadLetter(t *testing.T) {
	d := openTest(t, t.TempDir())
	ctx := context.Background()
	if err := d.Exec(ctx, `
CREATE TABLE t (k TEXT, v BIGINT, w BIGINT);
CREATE MATERIALIZED VIEW q WITH (on_error = 'dead_letter') AS SELECT k, 10 / v AS r FROM t WHERE 100 / w > 1;
CREATE MATERIALIZED VIEW per_k WITH (on_error = 'dead_letter') AS SELECT k, count(*) AS n FROM q GROUP BY k;
CREATE MATERIALIZED VIEW strict AS SELECT k, 10 / v AS r FROM t;
INSERT INTO t VALUES ('a', 2, 1), ('b', 0, 1), ('c', 5, 0), ('d', 1, 1);
`); err != nil && !strings.Contains(err.Error(), "division by zero") {
		t.Fatal(err) // the INSERT reports the failure of strict
	}
	eventually(t, d, "SELECT k, r FROM q", "[a | 5 d | 10]") // not b (SELECT fails) nor c (WHERE fails)
	dead := query(t, d, "SELECT source, reason, convert_from(raw, 'UTF8') FROM sluice_dead_letters ORDER BY raw")
	if len(dead) != 2 || !strings.Contains(dead[0], "q | materialized view q: SELECT: division by zero") || !strings.Contains(dead[0], `"k":"b"`) ||
		!strings.Contains(dead[1], "q | materialized view q: WHERE: division by zero") || !strings.Contains(dead[1], `"k":"c"`) {
		t.Fatalf("dead letters %q, want the rows of b (SELECT) and c (WHERE), from q", dead)
	}
	if got := query(t, d, "SELECT name, status FROM sluice_views ORDER BY name"); fmt.Sprint(got) != "[per_k | running q | running strict | failed]" {
		t.Fatalf("sluice_views: %q", got)
	}
	// Over an updating input, the failing row's retraction is skipped too
	// (without a second letter), and the row that replaces it is in.
	if err := d.Exec(ctx, `
CREATE MATERIALIZED VIEW sums AS SELECT k, sum(v) AS s FROM t GROUP BY k;
CREATE MATERIALIZED VIEW inv WITH (on_error = 'dead_letter') AS SELECT k, 100 / s AS r FROM sums;
INSERT INTO t VALUES ('z', 0, 1);
INSERT INTO t VALUES ('z', 4, 1);
`); err != nil && !strings.Contains(err.Error(), "strict") {
		t.Fatal(err)
	}
	eventually(t, d, "SELECT k, r FROM inv", "[a | 50 c | 20 d | 100 z | 25]")
	if got := query(t, d, "SELECT count(*) FROM sluice_dead_letters WHERE source = 'inv'"); fmt.Sprint(got) != "[2]" {
		t.Fatalf("inv's dead letters: %q, want 2 (the sums of b and of the first z)", got)
	}
	err := d.Exec(ctx, `CREATE MATERIALIZED VIEW bad WITH (on_error = 'ignore') AS SELECT k FROM t`)
	var se *sqlerr.Error
	if !errors.As(err, &se) || se.Code != sqlerr.InvalidParameterValue {
		t.Errorf("on_error = 'ignore': %v, want 22023", err)
	}
}
