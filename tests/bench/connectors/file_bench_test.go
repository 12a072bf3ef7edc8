package connectors

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/sluice-db/sluice/connectors/file"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/exec/db"
)

// BenchmarkFileTumble runs the file-source benchmark query of filebench.sh
// in process: a file source over NDJSON bids (on_eof 'close') and the 10 s
// tumbling count/sum per auction with a 4 s watermark, through exec/db,
// until the view's watermark reaches the end. It reports events/s and
// events per CPU-second of the whole test process (getrusage), so run it
// with -cpuprofile to see where the time goes:
//
//	go test ./tests/bench/connectors/ -run '^$' -bench FileTumble -benchtime 1x -cpuprofile /tmp/cpu.out
//
// SLUICE_BIDS_FILE names an existing file (its line count is the event
// count); otherwise SLUICE_BIDS_N bids (default 1M) are generated into a
// temporary directory.
func BenchmarkFileTumble(b *testing.B) {
	path, n := benchBids(b)
	b.ResetTimer()
	var wall time.Duration
	var cpu time.Duration
	for range b.N {
		c0 := cpuTime(b)
		t0 := time.Now()
		runFileTumble(b, path, n)
		wall += time.Since(t0)
		cpu += cpuTime(b) - c0
	}
	events := float64(n) * float64(b.N)
	b.ReportMetric(events/wall.Seconds(), "events/s")
	b.ReportMetric(events/cpu.Seconds(), "events/cpu-s")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func runFileTumble(b *testing.B, path string, n int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d, err := db.Open(ctx, db.Config{DataDir: b.TempDir(), QuietAdvance: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), CheckpointInterval: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(context.Background())
	script := fmt.Sprintf(`
CREATE SOURCE bids (auction BIGINT, bidder BIGINT, price DOUBLE PRECISION, channel TEXT, ts TIMESTAMP,
    WATERMARK FOR ts AS ts - INTERVAL '4' SECOND)
  WITH (connector = 'file', path = '%s', format = 'json', on_eof = 'close');
CREATE MATERIALIZED VIEW per_auction AS
  SELECT auction, window_start, window_end, count(*) AS bids, sum(price) AS total
  FROM TUMBLE(bids, ts, INTERVAL '10' SECOND) GROUP BY auction, window_start, window_end;
`, strings.ReplaceAll(path, "'", "''"))
	if err := d.Exec(ctx, script); err != nil {
		b.Fatal(err)
	}
	for {
		for _, v := range d.Engine().ViewStats() {
			if v.Name != "per_auction" {
				continue
			}
			if v.Failed {
				b.Fatalf("view failed: %s", v.Error)
			}
			if v.Watermark == chunk.MaxWatermark {
				if v.RowsIn != n {
					b.Fatalf("view read %d rows, want %d", v.RowsIn, n)
				}
				return
			}
		}
		select {
		case <-ctx.Done():
			b.Fatal("view not finished")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// benchBids returns the bid file and its number of lines.
func benchBids(b *testing.B) (string, int64) {
	if p := os.Getenv("SLUICE_BIDS_FILE"); p != "" {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		var n int64
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			n++
		}
		if err := sc.Err(); err != nil {
			b.Fatal(err)
		}
		return p, n
	}
	n := int64(1_000_000)
	if s := os.Getenv("SLUICE_BIDS_N"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	p := filepath.Join(b.TempDir(), "bids.ndjson")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC).UnixMilli()
	buf := make([]byte, 0, 256)
	for i := range n {
		ts := base + i - rng.Int64N(3001)
		buf = buf[:0]
		buf = append(buf, `{"auction":`...)
		buf = strconv.AppendInt(buf, int64(1000+rng.IntN(1000)), 10)
		buf = append(buf, `,"bidder":`...)
		buf = strconv.AppendInt(buf, int64(rng.IntN(100_000)), 10)
		buf = append(buf, `,"price":`...)
		buf = strconv.AppendInt(buf, int64(rng.IntN(100_000)), 10)
		buf = append(buf, '.')
		buf = strconv.AppendInt(buf, int64(rng.IntN(100)), 10)
		buf = append(buf, `,"channel":"channel-`...)
		buf = strconv.AppendInt(buf, int64(rng.IntN(8)), 10)
		buf = append(buf, `","ts":"`...)
		buf = time.UnixMilli(ts).UTC().AppendFormat(buf, "2006-01-02T15:04:05.000Z")
		buf = append(buf, "\"}\n"...)
		if _, err := w.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p, n
}
