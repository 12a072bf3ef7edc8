package agg

import (
	"math/rand/v2"
	"testing"

	"github.com/sluice-db/sluice/exec/chunk"
)

// FuzzUnmarshal feeds arbitrary bytes to every state's UnmarshalBinary: a
// corrupt checkpoint must give an error, never a panic, and a state that
// accepts the bytes must still work.
func FuzzUnmarshal(f *testing.F) {
	cases := allCases()
	r := rand.New(rand.NewPCG(1, 1))
	for i, tc := range cases {
		s := mustCompile(f, tc.call, tc.opt).NewState()
		for range 5 {
			feed(f, s, chunk.Insert, tc.gen(r))
		}
		b, err := s.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
	}
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		tc := cases[int(which)%len(cases)]
		a := mustCompile(t, tc.call, tc.opt)
		s := a.NewState()
		if err := s.UnmarshalBinary(data); err != nil {
			return
		}
		_ = s.Result()
		_ = s.SizeBytes()
		_ = s.Merge(a.NewState())
		if _, err := s.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}
