package agg

import (
	"math/rand/v2"
	"testing"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// BenchmarkUpdate measures one Update per iteration for every function
// (allCases), over pre-generated inputs.
func BenchmarkUpdate(b *testing.B) {
	for _, tc := range allCases() {
		b.Run(tc.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			rows := make([]types.Row, 1024)
			for i := range rows {
				v := tc.gen(r)
				if v.IsNull() {
					v = tc.gen(r)
				}
				rows[i] = types.Row{v}
			}
			s := mustCompile(b, tc.call, tc.opt).NewState()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Update(nil, rows[i&1023], chunk.Insert); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkMerge measures merging two states of 100 inputs each.
func BenchmarkMerge(b *testing.B) {
	for _, tc := range allCases() {
		b.Run(tc.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(2, 2))
			a := mustCompile(b, tc.call, tc.opt)
			var parts [2][]byte
			for k := range parts {
				s := a.NewState()
				for range 100 {
					feed(b, s, chunk.Insert, tc.gen(r))
				}
				parts[k], _ = s.MarshalBinary()
			}
			b.ReportAllocs()
			for b.Loop() {
				x, y := a.NewState(), a.NewState()
				_ = x.UnmarshalBinary(parts[0])
				_ = y.UnmarshalBinary(parts[1])
				if err := x.Merge(y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
