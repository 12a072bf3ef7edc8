package batch

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

var benchS = schema("id", "k text", "v", "f float")

func benchRows(n, keys int) []types.Row {
	rows := make([]types.Row, n)
	for i := range rows {
		rows[i] = types.Row{i64(int64(i)), txt(fmt.Sprintf("key-%d", i%keys)), i64(int64(i % 1000)), types.NewFloat(float64(i) / 3)}
	}
	return rows
}

// BenchmarkPointLookup is SELECT * FROM view WHERE id = $1 over a 100k-row
// snapshot: "scan" with a provider that ignores the pushed predicate (a
// full scan and Filter), "indexed" with one that looks the key up through
// PushedEquals.
func BenchmarkPointLookup(b *testing.B) {
	rows := benchRows(100_000, 1000)
	full := newMem()
	full.rel["view"] = rows
	for _, tc := range []struct {
		name string
		p    Provider
	}{{"scan", full}, {"indexed", newIndexed(rows)}} {
		b.Run(tc.name, func(b *testing.B) {
			pred := &expr.Cmp{Op: expr.EQ, L: cref(benchS, 0), R: &expr.Param{Idx: 0, T: types.TInt64}}
			s := scan("view", benchS)
			s.Pushed = []expr.Expr{pred}
			root := &plan.Filter{Input: s, Pred: pred}
			ectx := &expr.Context{Params: []types.Value{i64(77_777)}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				rows, err := Collect(ctx, ectx, root, tc.p)
				if err != nil || len(rows) != 1 {
					b.Fatal(rows, err)
				}
			}
		})
	}
}

// BenchmarkGroupBy is SELECT k, count(*), sum(v), avg(f), max(id) FROM t
// GROUP BY k over 1M rows, for 10 and 10k groups.
func BenchmarkGroupBy(b *testing.B) {
	for _, keys := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("rows=1M/groups=%d", keys), func(b *testing.B) {
			p := newMem()
			p.rel["t"] = benchRows(1_000_000, keys)
			root := &plan.GroupAgg{Input: scan("t", benchS), GroupBy: []expr.Expr{cref(benchS, 1)},
				Aggs: []plan.AggCall{aggCall("count", nil, types.TInt64), aggCall("sum", cref(benchS, 2), types.TNumeric),
					aggCall("avg", cref(benchS, 3), types.TFloat64), aggCall("max", cref(benchS, 0), types.TInt64)},
				Cols: schema("k text", "c", "s", "a float", "m")}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				rows, err := Collect(ctx, nil, root, p)
				if err != nil || len(rows) != keys {
					b.Fatal(len(rows), err)
				}
			}
			b.ReportMetric(float64(1_000_000*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
