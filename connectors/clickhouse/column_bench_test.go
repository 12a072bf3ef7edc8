package clickhouse

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// BenchmarkSinkWrite is the client-side cost of buffering rows for
// ClickHouse (Sink.Write: converting a chunk's values into the typed
// column slices the driver appends), without a server: 1 M result rows of
// five columns (bigint, timestamp, bigint, double, text) in 1000-row
// chunks, the buffers emptied every 100 000 rows as a commit does. It
// reports ns/row.
func BenchmarkSinkWrite(b *testing.B) {
	sch := types.Schema{
		{Name: "auction", Type: types.TInt64},
		{Name: "window_end", Type: types.TTimestamp},
		{Name: "bids", Type: types.TInt64},
		{Name: "total", Type: types.TFloat64},
		{Name: "channel", Type: types.TText},
	}
	const rows, chunkRows, epochRows = 1_000_000, 1000, 100_000
	chunks := make([]*chunk.Chunk, 0, rows/chunkRows)
	for i := range rows {
		if i%chunkRows == 0 {
			chunks = append(chunks, chunk.New(len(sch), chunkRows))
		}
		chunks[len(chunks)-1].Append(chunk.Insert, chunk.NoTime, types.Row{types.NewInt(int64(1000 + i%997)),
			types.NewTimestamp(int64(1764417600+i/1000) * 1e6), types.NewInt(int64(i % 50)), types.NewFloat(float64(i) * 1.5),
			types.NewText(fmt.Sprintf("channel-%d", i%7))})
	}
	s := &Sink{name: "bench", schema: sch, notNull: make([]bool, len(sch)), mode: appendOnly}
	ctx := context.Background()
	for b.Loop() {
		for i, c := range chunks {
			if err := s.Write(ctx, c); err != nil {
				b.Fatal(err)
			}
			if (i+1)*chunkRows%epochRows == 0 {
				s.dropBuffered()
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
}
