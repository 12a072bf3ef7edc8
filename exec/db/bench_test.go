package db

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-db/sluice/pgwire"
)

// BenchmarkPointLookupSimpleProtocol measures what one simple-protocol
// point lookup costs in the database (Prepare by text, Execute, read the
// row): the pgbench -M simple path without the wire.
func BenchmarkPointLookupSimpleProtocol(b *testing.B) {
	d, err := Open(context.Background(), Config{DataDir: b.TempDir(), Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(context.Background())
	ctx := context.Background()
	var sb strings.Builder
	sb.WriteString("CREATE TABLE kv (k BIGINT, v TEXT); INSERT INTO kv VALUES ")
	for i := range 10000 {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "(%d, 'value-%d')", i, i)
	}
	sb.WriteString("; CREATE MATERIALIZED VIEW kv_view AS SELECT k, max(v) AS v FROM kv GROUP BY k;")
	if err := d.Exec(ctx, sb.String()); err != nil {
		b.Fatal(err)
	}
	s, _ := d.NewSession(ctx, pgwire.SessionInfo{User: "bench"})
	defer s.Close()
	b.ReportAllocs()
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		i++
		p, err := s.Prepare(ctx, fmt.Sprintf("SELECT v FROM kv_view WHERE k = %d", i%10000), nil)
		if err != nil {
			b.Fatal(err)
		}
		res, err := p.Execute(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		row, err := res.Next(ctx)
		if err != nil || row == nil {
			b.Fatalf("row %v, %v", row, err)
		}
		res.Close()
	}
	// CPU time per query is steadier than wall time on a shared machine.
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime returns the process's user+system CPU time (getrusage).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
