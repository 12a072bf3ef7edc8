package connectors

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/sluice-db/sluice/connectors"
	_ "github.com/sluice-db/sluice/connectors/clickhouse"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

const chRows = 1_000_000

var resultSchema = types.Schema{
	{Name: "auction", Type: types.TInt64},
	{Name: "window_end", Type: types.TTimestamp},
	{Name: "bids", Type: types.TInt64},
	{Name: "total", Type: types.TFloat64},
	{Name: "channel", Type: types.TText},
}

func resultRow(i int) types.Row {
	return types.Row{types.NewInt(int64(1000 + i%997)), types.NewTimestamp(int64(1764417600+i/1000) * 1e6), types.NewInt(int64(i % 50)), types.NewFloat(float64(i) * 1.5), types.NewText(fmt.Sprintf("channel-%d", i%7))}
}

// BenchmarkClickHouseSinkVsPrepareBatch writes chRows result rows with a
// bare clickhouse-go PrepareBatch/Append/Send loop (100 000 rows per block)
// and with the Sluice sink (chunks of 1024 rows, one epoch per 100 000
// rows, commit log included), twice each alternately, into equivalent
// MergeTree tables, and reports the best rate of each and the ratio.
func BenchmarkClickHouseSinkVsPrepareBatch(b *testing.B) {
	addr := need(b, "CLICKHOUSE_ADDR")[0]
	ctx := context.Background()
	conn, err := ch.Open(&ch.Options{Addr: []string{addr}, Protocol: ch.Native})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	const block = 100_000
	// The rows, as the bare loop gets them and as the engine hands them over.
	bareRows := make([][]any, chRows)
	chunks := make([]*chunk.Chunk, 0, chRows/1024+1)
	for i := 0; i < chRows; i++ {
		r := resultRow(i)
		bareRows[i] = []any{r[0].I, r[1].Time(), r[2].I, r[3].Float(), r[4].S}
		if i%1024 == 0 {
			chunks = append(chunks, chunk.New(len(resultSchema), 1024))
		}
		chunks[len(chunks)-1].Append(chunk.Insert, chunk.NoTime, r)
	}
	suffix := rand.Uint32()
	bare := func(run int) float64 {
		table := fmt.Sprintf("bench_bare_%d_%d", suffix, run)
		if err := conn.Exec(ctx, "CREATE TABLE "+table+" (auction Int64, window_end DateTime, bids Int64, total Float64, channel String) ENGINE = MergeTree() ORDER BY tuple()"); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		for from := 0; from < chRows; from += block {
			batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (auction, window_end, bids, total, channel)")
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range bareRows[from:min(chRows, from+block)] {
				if err := batch.Append(r...); err != nil {
					b.Fatal(err)
				}
			}
			if err := batch.Send(); err != nil {
				b.Fatal(err)
			}
		}
		return chRows / time.Since(start).Seconds()
	}
	sluice := func(run int) float64 {
		c, _ := connectors.Lookup("clickhouse")
		s, err := c.OpenSink(ctx, connectors.SinkSpec{Name: "bench", Schema: resultSchema, AppendOnly: true, Options: map[string]string{
			"addr": addr, "table": fmt.Sprintf("bench_sluice_%d_%d", suffix, run), "create_table": "true", "batch_size": fmt.Sprint(block),
		}})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		start := time.Now()
		epoch := uint64(1)
		rows := 0
		for _, c := range chunks {
			if err := s.Write(ctx, c); err != nil {
				b.Fatal(err)
			}
			rows += c.Len()
			if rows%block < 1024 || rows == chRows {
				if err := s.Commit(ctx, epoch); err != nil {
					b.Fatal(err)
				}
				epoch++
			}
		}
		return float64(rows) / time.Since(start).Seconds()
	}
	b.ResetTimer()
	var bestBare, bestSluice float64
	for run := 0; run < 2; run++ {
		bestBare = max(bestBare, bare(run))
		bestSluice = max(bestSluice, sluice(run))
	}
	var n uint64
	if err := conn.QueryRow(ctx, fmt.Sprintf("SELECT count() FROM bench_sluice_%d_1", suffix)).Scan(&n); err != nil || n != chRows {
		b.Fatalf("sluice table holds %d rows (%v), want %d", n, err, chRows)
	}
	b.ReportMetric(bestBare, "bare_rows/s")
	b.ReportMetric(bestSluice, "sluice_rows/s")
	b.ReportMetric(bestSluice/bestBare, "ratio")
}
