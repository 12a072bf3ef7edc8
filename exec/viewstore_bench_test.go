package exec

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// BenchmarkViewApply applies 1 M inserted rows (text key of 100 000, two
// bigints) to an unkeyed view in 1024-row chunks, as the materialize
// operator does: multiset is the store of a view that may retract (every
// row hashed and looked up), appendOnly that of a view the planner knows
// never retracts (a filter or projection over a source). It reports ns/row
// and allocated B/row.
func BenchmarkViewApply(b *testing.B) {
	keys := make([]types.Value, 100_000)
	for i := range keys {
		keys[i] = types.NewText("key-" + strconv.Itoa(i))
	}
	const rows = 1_000_000
	var chunks []*chunk.Chunk
	for i := range rows {
		if i%1024 == 0 {
			chunks = append(chunks, chunk.New(3, 1024))
		}
		chunks[len(chunks)-1].Append(chunk.Insert, chunk.NoTime, types.Row{keys[(i*7919)%len(keys)], types.NewInt(int64(i)), types.NewInt(int64(i % 7))})
	}
	schema := types.Schema{{Name: "k", Type: types.TText}, {Name: "a", Type: types.TInt64}, {Name: "b", Type: types.TInt64}}
	for _, appendOnly := range []bool{false, true} {
		b.Run(fmt.Sprintf("appendOnly=%v", appendOnly), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := newRelation("v", schema, false)
				r.appendOnly = appendOnly
				r.store = newViewStoreFor(nil, appendOnly)
				r.store.track = true
				r.mu.Lock()
				for _, c := range chunks {
					r.applyLocked(c)
				}
				r.mu.Unlock()
				if r.store.len() != rows {
					b.Fatalf("%d rows stored", r.store.len())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
		})
	}
}
