package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// serviceAddr returns CLICKHOUSE_ADDR as tests/services/clickhouse.sh
// prints it; without it the test fails under CI=true and skips otherwise.
func serviceAddr(t testing.TB) string {
	t.Helper()
	a := os.Getenv("CLICKHOUSE_ADDR")
	if a == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CLICKHOUSE_ADDR not set under CI: start tests/services/clickhouse.sh")
		}
		t.Skip("no ClickHouse: run `eval $(tests/services/clickhouse.sh start)` (exports CLICKHOUSE_ADDR)")
	}
	return a
}

func rawConn(t testing.TB, addr string) driver.Conn {
	t.Helper()
	c, err := ch.Open(&ch.Options{Addr: []string{addr}, Protocol: ch.Native})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var schema = types.Schema{
	{Name: "id", Type: types.TInt64},
	{Name: "k", Type: types.TText, Nullable: true},
	{Name: "window_end", Type: types.TTimestamp},
	{Name: "total", Type: types.TFloat64},
}

func rows(from, to int) *chunk.Chunk {
	c := chunk.New(len(schema), to-from)
	for i := from; i < to; i++ {
		k := types.NewText(fmt.Sprintf("key-%d", i%5))
		if i%7 == 0 {
			k = types.NullValue
		}
		c.Append(chunk.Insert, chunk.NoTime, types.Row{types.NewInt(int64(i)), k, types.NewTimestamp(int64(i) * 1e6), types.NewFloat(float64(i) / 2)})
	}
	return c
}

func open(t testing.TB, addr, table string, appendOnly bool, key []int) *Sink {
	t.Helper()
	c, err := connectors.Lookup("clickhouse")
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.OpenSink(context.Background(), connectors.SinkSpec{
		Name: "results", Schema: schema, AppendOnly: appendOnly, Key: key,
		Options: map[string]string{"addr": addr, "table": table, "create_table": "true", "batch_size": "70"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return s.(*Sink)
}

// writeEpochs writes and commits epochs from..to, epoch e holding rows
// (e-1)*100 to e*100.
func writeEpochs(t *testing.T, s *Sink, from, to int) {
	t.Helper()
	for e := from; e <= to; e++ {
		if err := s.Write(context.Background(), rows((e-1)*100, e*100)); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(context.Background(), uint64(e)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSinkExactlyOnceAcrossCrash(t *testing.T) {
	addr := serviceAddr(t)
	ctx := context.Background()
	table := fmt.Sprintf("res `q` %d", rand.Uint32()) // needs quoting
	s1 := open(t, addr, table, true, nil)
	writeEpochs(t, s1, 1, 2)
	// Epoch 3 is inserted but the process dies before its commit record.
	if err := s1.Write(ctx, rows(200, 300)); err != nil {
		t.Fatal(err)
	}
	if err := s1.insertEpoch(ctx, 3); err != nil {
		t.Fatal(err)
	}
	s1.Close()

	s2 := open(t, addr, table, true, nil)
	defer s2.Close()
	if last, _ := s2.LastCommitted(ctx); last != 2 {
		t.Fatalf("last committed %d, want 2", last)
	}
	// Replay from the checkpoint: epochs 2 and 3, then 4.
	writeEpochs(t, s2, 2, 4)
	conn := rawConn(t, addr)
	q := "SELECT id, k, window_end, total, _sluice_epoch FROM default." + QuoteIdent(table) + " ORDER BY id"
	r, err := conn.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var n int64
	for r.Next() {
		var (
			id    int64
			k     *string
			ts    time.Time
			total float64
			epoch uint64
		)
		if err := r.Scan(&id, &k, &ts, &total, &epoch); err != nil {
			t.Fatal(err)
		}
		if id != n {
			t.Fatalf("row %d has id %d (missing or duplicated rows)", n, id)
		}
		wantK := fmt.Sprintf("key-%d", id%5)
		if (id%7 == 0) != (k == nil) || (k != nil && *k != wantK) || !ts.Equal(time.Unix(id, 0)) || total != float64(id)/2 || epoch != uint64(id/100+1) {
			t.Fatalf("row %d: %v %v %v epoch %d", id, k, ts, total, epoch)
		}
		n++
	}
	if n != 400 {
		t.Fatalf("%d rows, want 400", n)
	}
}

func TestSinkUpdatingWithKey(t *testing.T) {
	addr := serviceAddr(t)
	ctx := context.Background()
	table := fmt.Sprintf("upd_%d", rand.Uint32())
	s := open(t, addr, table, false, []int{0, 1})
	defer s.Close()
	c := chunk.New(len(schema), 8)
	row := func(id int64, total float64) types.Row {
		return types.Row{types.NewInt(id), types.NewText("k"), types.NewTimestamp(0), types.NewFloat(total)}
	}
	c.Append(chunk.Insert, chunk.NoTime, row(1, 10))
	c.Append(chunk.Insert, chunk.NoTime, row(2, 20))
	c.Append(chunk.Insert, chunk.NoTime, row(3, 30))
	s.Write(ctx, c)
	if err := s.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	c.Reset()
	c.Append(chunk.Delete, chunk.NoTime, row(1, 10))
	c.Append(chunk.Insert, chunk.NoTime, row(1, 11)) // update
	c.Append(chunk.Delete, chunk.NoTime, row(2, 20)) // delete
	s.Write(ctx, c)
	if err := s.Commit(ctx, 2); err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t, addr)
	r, err := conn.Query(ctx, "SELECT id, total FROM default."+QuoteIdent(table)+" FINAL WHERE _sluice_deleted = 0 ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for r.Next() {
		var id int64
		var total float64
		r.Scan(&id, &total)
		got = append(got, fmt.Sprintf("%d=%g", id, total))
	}
	if fmt.Sprint(got) != "[1=11 3=30]" {
		t.Fatalf("FINAL view %v, want [1=11 3=30]", got)
	}
}

func TestSinkOptionsAndMissingTable(t *testing.T) {
	addr := serviceAddr(t)
	c, _ := connectors.Lookup("clickhouse")
	_, err := c.OpenSink(context.Background(), connectors.SinkSpec{Name: "x", Schema: schema, AppendOnly: true,
		Options: map[string]string{"addr": addr, "table": "does_not_exist_xyz"}})
	if !errors.Is(err, connectors.ErrBadOption) {
		t.Fatalf("missing table: %v", err)
	}
	_, err = c.OpenSink(context.Background(), connectors.SinkSpec{Name: "x", Schema: schema, Options: map[string]string{"addr": addr}})
	if !errors.Is(err, connectors.ErrMissingOption) {
		t.Fatalf("missing table option: %v", err)
	}
}

// TestSinkRebuildReplacesEarlierOutput: after Rebuild, the next committed
// epoch replaces every row written before it (a sink rebuilt from a view's
// contents after a restart leaves nothing stale behind).
func TestSinkRebuildReplacesEarlierOutput(t *testing.T) {
	addr := serviceAddr(t)
	ctx := context.Background()
	table := fmt.Sprintf("rebuild_%d", rand.Uint32())
	s1 := open(t, addr, table, true, nil)
	writeEpochs(t, s1, 1, 2)
	s1.Close()

	s2 := open(t, addr, table, true, nil)
	defer s2.Close()
	if err := s2.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	// The rebuilt contents: rows 50..150 (some old rows are gone, some new).
	if err := s2.Write(ctx, rows(50, 150)); err != nil {
		t.Fatal(err)
	}
	if err := s2.Commit(ctx, 3); err != nil {
		t.Fatal(err)
	}
	// A later epoch is an ordinary change: nothing more is removed.
	if err := s2.Write(ctx, rows(150, 160)); err != nil {
		t.Fatal(err)
	}
	if err := s2.Commit(ctx, 4); err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t, addr)
	var n uint64
	var lo, hi int64
	if err := conn.QueryRow(ctx, "SELECT count(), min(id), max(id) FROM default."+QuoteIdent(table)).Scan(&n, &lo, &hi); err != nil {
		t.Fatal(err)
	}
	if n != 110 || lo != 50 || hi != 159 {
		t.Fatalf("table holds %d rows with ids %d..%d, want 110 rows 50..159", n, lo, hi)
	}
}

// TestSinkEveryType writes every SQL type the sink accepts, nullable and
// not, with NULLs, across several chunks and blocks, and reads each value
// back from ClickHouse as text.
func TestSinkEveryType(t *testing.T) {
	addr := serviceAddr(t)
	ctx := context.Background()
	kinds := []types.Type{types.TBool, types.TInt16, types.TInt32, types.TInt64, types.TInterval, types.TFloat32, types.TFloat64,
		types.TDate, types.TTimestamp, types.TTimestampTZ, types.TText, types.TNumeric, types.TBytea, types.TJSONB}
	var sch types.Schema
	for _, k := range kinds {
		sch = append(sch, types.Column{Name: "c_" + k.String(), Type: k}, types.Column{Name: "n_" + k.String(), Type: k, Nullable: true})
	}
	// sample is value i of kind k and how ClickHouse prints it back; NULL
	// in nullable columns for every third row.
	sample := func(k types.Type, i int) (types.Value, string) {
		ts := time.Unix(int64(1764417600+i), 0).UTC().Format("2006-01-02 15:04:05")
		switch k.Kind {
		case types.Bool:
			return types.NewBool(i%2 == 1), fmt.Sprint(i % 2)
		case types.Int16, types.Int32, types.Int64:
			return types.NewIntKind(k.Kind, int64(i*100-7)), fmt.Sprint(i*100 - 7)
		case types.Interval:
			return types.NewIntervalMicros(int64(i) * 1e6), fmt.Sprint(int64(i) * 1e6)
		case types.Float32:
			return types.NewFloat32(float64(i) + 0.5), fmt.Sprint(float64(i) + 0.5)
		case types.Float64:
			return types.NewFloat(float64(i) / 4), fmt.Sprint(float64(i) / 4)
		case types.Date:
			return types.NewDate(int64(19000 + i)), time.Unix(int64(19000+i)*86400, 0).UTC().Format("2006-01-02")
		case types.Timestamp:
			return types.NewTimestamp(int64(1764417600+i)*1e6 + 999_999), ts // floored to the second
		case types.TimestampTZ:
			return types.NewTimestampTZ(int64(1764417600+i) * 1e6), ts
		case types.Numeric:
			return types.Value{K: types.Numeric, S: fmt.Sprintf("%d.25", i)}, fmt.Sprintf("%d.25", i)
		case types.Bytea:
			b := []byte{'b', byte('0' + i%10)}
			return types.NewBytea(b), string(b)
		case types.JSONB:
			return types.NewJSONB(fmt.Sprintf(`{"i":%d}`, i)), fmt.Sprintf(`{"i":%d}`, i)
		}
		return types.NewText(fmt.Sprintf("t-%d", i)), fmt.Sprintf("t-%d", i)
	}
	c, _ := connectors.Lookup("clickhouse")
	table := fmt.Sprintf("every_type_%d", rand.Uint32())
	sk, err := c.OpenSink(ctx, connectors.SinkSpec{Name: "types", Schema: sch, AppendOnly: true,
		Options: map[string]string{"addr": addr, "table": table, "create_table": "true", "batch_size": "40"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close()
	const n = 100
	for from := 0; from < n; from += 30 {
		ch := chunk.New(len(sch), 30)
		for i := from; i < min(n, from+30); i++ {
			row := make(types.Row, 0, len(sch))
			for _, k := range kinds {
				v, _ := sample(k, i)
				nv := v
				if i%3 == 0 {
					nv = types.NullValue
				}
				row = append(row, v, nv)
			}
			ch.Append(chunk.Insert, chunk.NoTime, row)
		}
		if err := sk.Write(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := sk.Commit(ctx, 1); err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t, addr)
	var cols []string
	for _, col := range sch {
		cols = append(cols, "ifNull(toString("+QuoteIdent(col.Name)+"), 'NULL')")
	}
	r, err := conn.Query(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM "+QuoteIdent(table)+" ORDER BY "+QuoteIdent("c_"+types.TInt64.String()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	i := 0
	for ; r.Next(); i++ {
		got := make([]string, len(sch))
		dest := make([]any, len(sch))
		for j := range got {
			dest[j] = &got[j]
		}
		if err := r.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		for j, k := range kinds {
			_, w := sample(k, i)
			wn := w
			if i%3 == 0 {
				wn = "NULL"
			}
			if got[2*j] != w || got[2*j+1] != wn {
				t.Errorf("row %d, %s: got %q and %q, want %q and %q", i, k, got[2*j], got[2*j+1], w, wn)
			}
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("%d rows, want %d", i, n)
	}
}

// TestSinkRetriesWhileTheTableIsAway: a commit that fails (here the table
// is renamed away for 4 s, longer than the sink used to retry) is retried
// until retry_timeout and then lands once; with a shorter retry_timeout the
// commit fails, saying how long it tried.
func TestSinkRetriesWhileTheTableIsAway(t *testing.T) {
	addr := serviceAddr(t)
	ctx := context.Background()
	conn := rawConn(t, addr)
	table := fmt.Sprintf("retry_%d", rand.Uint32())
	away := func(d time.Duration) {
		if err := conn.Exec(ctx, fmt.Sprintf("RENAME TABLE default.%s TO default.%s_away", table, table)); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(d)
			if err := conn.Exec(ctx, fmt.Sprintf("RENAME TABLE default.%s_away TO default.%s", table, table)); err != nil {
				t.Error(err)
			}
		}()
	}
	s := open(t, addr, table, true, nil)
	defer s.Close()
	writeEpochs(t, s, 1, 1)
	away(4 * time.Second)
	start := time.Now()
	writeEpochs(t, s, 2, 2)
	if d := time.Since(start); d < 3*time.Second {
		t.Fatalf("epoch 2 committed after %s while the table was away for 4 s", d)
	}
	var n, epochs uint64
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(_sluice_epoch) FROM default."+table).Scan(&n, &epochs); err != nil {
		t.Fatal(err)
	}
	if n != 200 || epochs != 2 {
		t.Fatalf("%d rows of %d epochs, want 200 of 2", n, epochs)
	}

	s.retryFor = time.Second
	away(3 * time.Second)
	if err := s.Write(ctx, rows(200, 300)); err != nil {
		t.Fatal(err)
	}
	err := s.Commit(ctx, 3)
	if err == nil || !strings.Contains(err.Error(), "retry_timeout 1s") {
		t.Fatalf("commit with the table away past retry_timeout: %v", err)
	}
	time.Sleep(3 * time.Second) // the table is back
}
