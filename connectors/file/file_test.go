package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

var schema = types.Schema{
	{Name: "auction", Type: types.TInt64},
	{Name: "price", Type: types.TFloat64},
	{Name: "ts", Type: types.TTimestamp},
}

func open(t *testing.T, opts map[string]string, pos []byte, dead *[]connectors.DeadLetter) connectors.Reader {
	t.Helper()
	c, err := connectors.Lookup("file")
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.OpenSource(context.Background(), connectors.SourceSpec{
		Source: "bids", Schema: schema, Options: opts, Position: pos,
		DeadLetter: func(d connectors.DeadLetter) { *dead = append(*dead, d) },
		Now:        func() time.Time { return time.Unix(0, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readAll reads until io.EOF (or, with max > 0, until max rows came) and
// returns the auction ids in order.
func readAll(t *testing.T, r connectors.Reader, max int) []int64 {
	t.Helper()
	var ids []int64
	for i := 0; i < 10000; i++ {
		c, err := r.Read(context.Background())
		if errors.Is(err, io.EOF) {
			return ids
		}
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			if max > 0 && len(ids) >= max {
				return ids
			}
			continue
		}
		if c.Partition != 0 || c.Len() > ChunkRows {
			t.Fatalf("chunk partition %d len %d", c.Partition, c.Len())
		}
		for j := 0; j < c.Len(); j++ {
			ids = append(ids, c.Row(j)[0].I)
		}
		if max > 0 && len(ids) >= max {
			return ids
		}
	}
	t.Fatal("reader never finished")
	return nil
}

func writeBids(t *testing.T, n int, poison map[int]string) (string, []int64) {
	t.Helper()
	var b strings.Builder
	var want []int64
	for i := 0; i < n; i++ {
		if p, ok := poison[i]; ok {
			b.WriteString(p + "\n")
			continue
		}
		fmt.Fprintf(&b, `{"auction":%d,"price":%d.5,"ts":%d}`+"\n", i, i, 1700000000000+int64(i))
		want = append(want, int64(i))
	}
	path := filepath.Join(t.TempDir(), "bids.ndjson")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, want
}

func TestReadAllWithDeadLetters(t *testing.T) {
	poison := map[int]string{3: `{"auction":"x","price":1,"ts":0}`, 2000: `not json`, 2500: `{"price":1,"ts":0}`}
	path, want := writeBids(t, 3000, poison)
	var dead []connectors.DeadLetter
	r := open(t, map[string]string{"path": path}, nil, &dead)
	got := readAll(t, r, 0)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	if len(dead) != 3 {
		t.Fatalf("dead letters: %+v", dead)
	}
	data, _ := os.ReadFile(path)
	for _, d := range dead {
		var off int
		fmt.Sscan(d.Offset, &off)
		line := strings.SplitN(string(data[off:]), "\n", 2)[0]
		if line != string(d.Raw) || d.Source != "bids" || d.Reason == "" {
			t.Errorf("dead letter %+v does not point at its line %q", d, line)
		}
	}
	if !strings.Contains(dead[0].Reason, `"auction"`) {
		t.Errorf("reason should name the field: %s", dead[0].Reason)
	}
	p := r.(connectors.Progress).Progress()
	if p["end_reached"] != "true" || p["bytes_read"] != fmt.Sprint(len(data)) || p["size"] != fmt.Sprint(len(data)) {
		t.Errorf("progress %v", p)
	}
	lag, _ := r.(connectors.LagReporter).Lag(context.Background())
	if len(lag) != 1 || lag[0].Backlog != 0 || lag[0].Unit != "bytes" {
		t.Errorf("lag %v", lag)
	}
}

func TestRestartFromPosition(t *testing.T) {
	path, want := writeBids(t, 5000, nil)
	var dead []connectors.DeadLetter
	r := open(t, map[string]string{"path": path}, nil, &dead)
	first := readAll(t, r, 1500)
	pos, err := r.Position()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	r2 := open(t, map[string]string{"path": path}, pos, &dead)
	rest := readAll(t, r2, 0)
	all := append(first, rest...)
	if fmt.Sprint(all) != fmt.Sprint(want) {
		t.Fatalf("restart lost or duplicated rows: %d+%d rows, want %d", len(first), len(rest), len(want))
	}
	if _, err := connectors.Lookup("file"); err != nil {
		t.Fatal(err)
	}
}

func TestFollowAndPartialLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(`{"auction":1,"price":1,"ts":1}` + "\n" + `{"auction":2,"pr`)
	var dead []connectors.DeadLetter
	r := open(t, map[string]string{"path": path, "on_eof": "follow", "poll_interval": "1ms"}, nil, &dead)
	if got := readAll(t, r, 1); fmt.Sprint(got) != "[1]" {
		t.Fatalf("got %v", got)
	}
	// Nothing complete yet: Read returns (nil, nil), not an error or EOF.
	if c, err := r.Read(context.Background()); c != nil || err != nil {
		t.Fatalf("want (nil, nil), got %v %v", c, err)
	}
	f.WriteString(`ice":2,"ts":2}` + "\n" + `{"auction":3,"price":3,"ts":3}` + "\n")
	if got := readAll(t, r, 2); fmt.Sprint(got) != "[2 3]" {
		t.Fatalf("got %v", got)
	}
	if len(dead) != 0 {
		t.Fatalf("partial line became a dead letter: %v", dead)
	}
	f.Truncate(5)
	if _, err := r.Read(context.Background()); err == nil {
		t.Fatal("truncation not reported")
	}
}

func TestCSVHeaderRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.csv")
	os.WriteFile(path, []byte("ts,price,auction\n1,1.5,10\n2,2.5,20\n3,3.5,30"), 0o644)
	opts := map[string]string{"path": path, "format": "csv", "csv_header": "true"}
	var dead []connectors.DeadLetter
	r := open(t, opts, nil, &dead)
	if got := readAll(t, r, 0); fmt.Sprint(got) != "[10 20 30]" {
		t.Fatalf("got %v (dead %v)", got, dead)
	}
	r2 := open(t, opts, []byte("24"), &dead) // after "1,1.5,10\n"
	if got := readAll(t, r2, 0); fmt.Sprint(got) != "[20 30]" {
		t.Fatalf("got %v (dead %v)", got, dead)
	}
}

func TestOptions(t *testing.T) {
	c, _ := connectors.Lookup("file")
	_, err := c.OpenSource(context.Background(), connectors.SourceSpec{Schema: schema, Options: map[string]string{"path": "x", "on_eof": "wait"}})
	if !errors.Is(err, connectors.ErrBadOption) {
		t.Fatalf("bad on_eof: %v", err)
	}
	_, err = c.OpenSource(context.Background(), connectors.SourceSpec{Schema: schema, Options: map[string]string{"path": "/nonexistent/x"}})
	if err == nil {
		t.Fatal("missing file opened")
	}
	_, err = c.OpenSource(context.Background(), connectors.SourceSpec{Schema: schema, Options: map[string]string{}})
	if !errors.Is(err, connectors.ErrMissingOption) {
		t.Fatalf("missing path: %v", err)
	}
}

func BenchmarkFileSource(b *testing.B) {
	var sb strings.Builder
	const n = 100000
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, `{"auction":%d,"price":%d.5,"ts":"2026-11-29T12:00:%02d.123Z"}`+"\n", i%1000, i, i%60)
	}
	path := filepath.Join(b.TempDir(), "bench.ndjson")
	os.WriteFile(path, []byte(sb.String()), 0o644)
	c, _ := connectors.Lookup("file")
	b.ReportAllocs()
	b.SetBytes(int64(sb.Len()))
	for b.Loop() {
		r, err := c.OpenSource(context.Background(), connectors.SourceSpec{Schema: schema, Options: map[string]string{"path": path}})
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			ch, err := r.Read(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows += ch.Len()
		}
		r.Close()
		if rows != n {
			b.Fatalf("rows %d", rows)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}

func TestLongLinesAcrossBlocks(t *testing.T) {
	var b strings.Builder
	pad := strings.Repeat("x", 800<<10)
	for i := 0; i < 8; i++ {
		fmt.Fprintf(&b, `{"auction":%d,"pad":"%s","price":1,"ts":1}`+"\n", i, pad[:(i+1)*(90<<10)])
	}
	path := filepath.Join(t.TempDir(), "long.ndjson")
	os.WriteFile(path, []byte(b.String()), 0o644)
	var dead []connectors.DeadLetter
	r := open(t, map[string]string{"path": path}, nil, &dead)
	if got := readAll(t, r, 0); fmt.Sprint(got) != "[0 1 2 3 4 5 6 7]" || len(dead) != 0 {
		t.Fatalf("got %v, dead %d", got, len(dead))
	}
}

// TestReadIntoCallerChunks reads with ReadInto into fresh chunks the
// caller keeps (as the engine's source does) and checks that every chunk
// keeps its rows after later reads, and that the rows are those Read gives.
func TestReadIntoCallerChunks(t *testing.T) {
	path, want := writeBids(t, 2*chunkRowsFor(len(schema))+17, map[int]string{5: `bad`})
	var dead []connectors.DeadLetter
	r := open(t, map[string]string{"path": path}, nil, &dead).(*Reader)
	var kept []*chunk.Chunk
	for {
		c := chunk.New(len(schema), 0)
		got, err := r.ReadInto(context.Background(), c)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if got != c {
			t.Fatalf("ReadInto returned another chunk")
		}
		kept = append(kept, got)
	}
	var ids []int64
	for _, c := range kept {
		for j := range c.Len() {
			ids = append(ids, c.Row(j)[0].I)
		}
	}
	if len(kept) != 3 || kept[0].Len() != chunkRowsFor(len(schema)) {
		t.Fatalf("%d chunks, the first of %d rows", len(kept), kept[0].Len())
	}
	if fmt.Sprint(ids) != fmt.Sprint(want) || len(dead) != 1 {
		t.Fatalf("got %d rows (%d dead letters), want %d", len(ids), len(dead), len(want))
	}
	if _, err := r.ReadInto(context.Background(), chunk.New(1, 0)); err == nil || errors.Is(err, io.EOF) {
		t.Fatal("ReadInto accepted a chunk of the wrong width")
	}
}

// TestReadIntoNMore checks that ReadIntoN stops at its row limit and sets
// More exactly when another line is ready (not at the end of a closed or
// followed file, not for a last line already returned), and that looking
// ahead does not move the position past the rows returned.
func TestReadIntoNMore(t *testing.T) {
	type read struct {
		rows int
		more bool
	}
	readN := func(t *testing.T, r *Reader, n int) read {
		t.Helper()
		c, err := r.ReadIntoN(context.Background(), chunk.New(len(schema), 0), n)
		if err != nil {
			t.Fatal(err)
		}
		if c == nil {
			return read{}
		}
		return read{c.Len(), c.More}
	}
	t.Run("close", func(t *testing.T) {
		path, _ := writeBids(t, 25, nil)
		var dead []connectors.DeadLetter
		r := open(t, map[string]string{"path": path}, nil, &dead).(*Reader)
		var got []read
		for range 3 {
			got = append(got, readN(t, r, 10))
			if len(got) == 1 {
				data, _ := os.ReadFile(path)
				want := strings.Index(string(data), `{"auction":10,`)
				if pos, _ := r.Position(); string(pos) != fmt.Sprint(want) {
					t.Fatalf("position %s after 10 rows, want %d", pos, want)
				}
			}
		}
		if fmt.Sprint(got) != "[{10 true} {10 true} {5 false}]" {
			t.Fatalf("reads %v", got)
		}
		if _, err := r.ReadIntoN(context.Background(), chunk.New(len(schema), 0), 10); !errors.Is(err, io.EOF) {
			t.Fatalf("after the end: %v", err)
		}
	})
	t.Run("exact end, last line without newline", func(t *testing.T) {
		path, _ := writeBids(t, 20, nil)
		data, _ := os.ReadFile(path)
		if err := os.WriteFile(path, data[:len(data)-1], 0o644); err != nil {
			t.Fatal(err)
		}
		var dead []connectors.DeadLetter
		r := open(t, map[string]string{"path": path}, nil, &dead).(*Reader)
		got := []read{readN(t, r, 10), readN(t, r, 10)}
		if fmt.Sprint(got) != "[{10 true} {10 false}]" {
			t.Fatalf("reads %v", got)
		}
	})
	t.Run("follow", func(t *testing.T) {
		path, _ := writeBids(t, 20, nil)
		var dead []connectors.DeadLetter
		r := open(t, map[string]string{"path": path, "on_eof": "follow", "poll_interval": "1ms"}, nil, &dead).(*Reader)
		got := []read{readN(t, r, 10), readN(t, r, 10)}
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		for i := 20; i < 25; i++ {
			fmt.Fprintf(f, `{"auction":%d,"price":1,"ts":1}`+"\n", i)
		}
		f.Close()
		got = append(got, readN(t, r, 10))
		if fmt.Sprint(got) != "[{10 true} {10 false} {5 false}]" {
			t.Fatalf("reads %v", got)
		}
	})
}
