package connectors

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/exec/db"
	"github.com/sluice-db/sluice/pgwire"
	"github.com/sluice-db/sluice/sql/types"
)

// query runs one statement on a session of d and returns its rows.
func query(t *testing.T, d *db.DB, sql string) []types.Row {
	t.Helper()
	ctx := context.Background()
	s, err := d.NewSession(ctx, pgwire.SessionInfo{User: "test", Database: "sluice"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p, err := s.Prepare(ctx, sql, nil)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	res, err := p.Execute(ctx, nil)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	defer res.Close()
	var out []types.Row
	for {
		r, err := res.Next(ctx)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if r == nil {
			return out
		}
		out = append(out, append(types.Row(nil), r...))
	}
}

// TestFileSourceClosesEveryWindow reads a file of disordered NDJSON events
// with poison lines through CREATE SOURCE ... connector = 'file' and a
// tumbling view: at the end of the file the final watermark closes every
// window, the view equals the windows computed here, and the poison lines
// are dead letters, once each though a second view reads the file too.
func TestFileSourceClosesEveryWindow(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "events.ndjson")
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	want := map[winKey]winVal{}
	var b strings.Builder
	const n = 20000
	for i := 0; i < n; i++ {
		ts := base.Add(time.Duration(i)*10*time.Millisecond - time.Duration(rng.IntN(3000))*time.Millisecond)
		k := fmt.Sprintf("k%d", rng.IntN(10))
		v := int64(rng.IntN(100))
		fmt.Fprintf(&b, `{"id":%d,"k":"%s","v":%d,"ts":"%s"}`+"\n", i, k, v, ts.Format("2006-01-02 15:04:05.000"))
		u := ts.Unix()
		x := want[winKey{k, u - u%10}]
		x.n++
		x.total += v
		want[winKey{k, u - u%10}] = x
		if i == 500 || i == 9000 {
			b.WriteString(`{"id":1,"k":"k1","v":"lots","ts":"2026-11-29 08:00:00"}` + "\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := db.Open(ctx, db.Config{DataDir: filepath.Join(dir, "data"), QuietAdvance: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	if err := d.Exec(ctx, fmt.Sprintf(`
CREATE SOURCE ev (id BIGINT, k TEXT, v BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '4' SECOND)
  WITH (connector = 'file', path = '%s', format = 'json', on_eof = 'close');
CREATE MATERIALIZED VIEW w AS
  SELECT k, window_start, window_end, count(*) AS n, sum(v) AS total
  FROM TUMBLE(ev, ts, INTERVAL '10' SECOND) GROUP BY k, window_start, window_end;
CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n, max(v) AS top FROM ev GROUP BY k;`, path)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for ended := 0; ended < 2; {
		ended = 0
		for _, v := range d.Engine().ViewStats() {
			if v.Watermark == chunk.MaxWatermark {
				ended++
			}
			if v.Failed {
				t.Fatalf("view failed: %s", v.Error)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the view never saw the end of the file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := map[winKey][]winVal{}
	for _, r := range query(t, d, "SELECT k, window_start, n, total FROM w") {
		tot := r[3].I
		if r[3].K == types.Numeric {
			fmt.Sscan(r[3].S, &tot)
		}
		got[winKey{r[0].S, r[1].I / 1e6}] = append(got[winKey{r[0].S, r[1].I / 1e6}], winVal{r[2].I, tot})
	}
	if err := compare(want, got); err != nil {
		t.Fatal(err)
	}
	if n := query(t, d, "SELECT sum(n) FROM per_k"); len(n) != 1 || n[0][0].I != 20000 {
		t.Fatalf("per_k counts %v events, want 20000", n)
	}
	// Each view's reader met both poison lines: each is one dead letter.
	dead := query(t, d, "SELECT count(*), count(DISTINCT position) FROM sluice_dead_letters")
	if len(dead) != 1 || dead[0][0].I != 2 || dead[0][1].I != 2 {
		t.Fatalf("dead letters (all, distinct positions): %v, want 2 and 2", dead)
	}
}
