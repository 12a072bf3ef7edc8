// Command filequery runs the file-source benchmark query inside one Sluice
// database process (exec/db, the engine the server uses): a source over an
// NDJSON bid file (connector 'file', on_eof 'close') and the tumbling view
// of the engine issue — 10 s count and sum of price per auction, watermark
// 4 s — until the view has consumed every event and the final watermark
// closed every window. It then exits; filebench.sh measures the process
// from /proc/<pid>/stat. It prints the rows counted and the windows emitted.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	_ "github.com/sluice-db/sluice/connectors/file"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/exec/db"
)

func main() {
	path := flag.String("path", "bids.ndjson", "NDJSON file of bids")
	n := flag.Int64("n", 0, "events in the file (0: do not check)")
	timeout := flag.Duration("timeout", 30*time.Minute, "give up after this long")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memprofile := flag.String("memprofile", "", "write an allocation profile of the whole run to this file (sampling every 64 KiB)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "filequery:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "filequery:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		runtime.MemProfileRate = 64 << 10
	}
	if err := run(*path, *n, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "filequery:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	if *memprofile != "" {
		if err := writeHeapProfile(*memprofile); err != nil {
			fmt.Fprintln(os.Stderr, "filequery:", err)
			os.Exit(1)
		}
	}
}

// writeHeapProfile writes the allocations of the run (alloc_space shows
// what the run allocated, inuse_space what was live at the last GC).
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func run(path string, n int64, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "sluice-filequery")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	d, err := db.Open(ctx, db.Config{DataDir: dir, QuietAdvance: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		CheckpointInterval: 10 * time.Second})
	if err != nil {
		return fmt.Errorf("open database: %w", err)
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
		return fmt.Errorf("create source and view: %w", err)
	}
	for {
		for _, v := range d.Engine().ViewStats() {
			if v.Name != "per_auction" {
				continue
			}
			if v.Failed {
				return fmt.Errorf("view failed: %s", v.Error)
			}
			if v.Watermark == chunk.MaxWatermark {
				if n > 0 && v.RowsIn != n {
					return fmt.Errorf("view read %d rows, want %d", v.RowsIn, n)
				}
				fmt.Printf("rows_in=%d rows_out=%d late=%d\n", v.RowsIn, v.RowsOut, v.Late)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("view not finished: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
