package exec

import (
	"context"
	"io"
	"strconv"
	"testing"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// BenchmarkBaseCopy is what a base of 1 M open sessions (count and sum per
// session, one text key each) costs the operator's goroutine: copied for
// the checkpoint writer (copy: baseLater, what a checkpoint does) or
// encoded in place (encode: SnapshotBase); write is the writer's
// encoding of a copy. ns/key is per session key.
//
//	go test -run xxx -bench BaseCopy -benchtime 5x ./exec/
func BenchmarkBaseCopy(b *testing.B) {
	const keys = 1_000_000
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	n := windowAgg(&plan.Scan{Name: "ev", Cols: events, NumPhysical: 3},
		plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(3600)}, plan.EmitOnWindowClose, 0)
	op, err := newWindowAggOp(e.newJob("bench-base", "view"), n, false)
	if err != nil {
		b.Fatal(err)
	}
	o := op.(*sessionOp)
	o.startTracking()
	out := &emitter{ctx: context.Background(), width: len(n.Cols)}
	for lo := 0; lo < keys; lo += chunkRows {
		c := getChunk(3)
		for k := lo; k < min(lo+chunkRows, keys); k++ {
			c.Append(chunk.Insert, chunk.NoTime, types.Row{types.NewText("user-" + strconv.Itoa(k)), types.NewInt(int64(k)), types.NewTimestamp(sec(1))})
		}
		if err := o.OnData(0, c, out); err != nil {
			b.Fatal(err)
		}
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/keys, "ns/key")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("copy", func(b *testing.B) {
		for b.Loop() {
			if _, ok := o.snapshotBaseLater(); !ok {
				b.Fatal("not copied")
			}
		}
		report(b)
	})
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := o.SnapshotBase(); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
	b.Run("write", func(b *testing.B) {
		write, _ := o.snapshotBaseLater()
		for b.Loop() {
			if err := write(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		report(b)
	})
}

// BenchmarkEntryOrder is what reading 1 M map entries (a dedup's: a text
// key and a three-value row each, inserted one after the other) for a
// base costs in table order (rowMap.each) and in memory order
// (rowMap.eachByAddress, which sorts them first). ns/entry includes the
// encoding.
//
//	go test -run xxx -bench EntryOrder -benchtime 3x ./exec/
func BenchmarkEntryOrder(b *testing.B) {
	const n = 1_000_000
	m := newRowMap[dedupVal](64)
	for i := range n {
		key := types.Row{types.NewText("user-" + strconv.Itoa((i*7919)%n))}
		e := m.insert(hashRow(key), key)
		e.val.row = types.Row{key[0], types.NewInt(int64(i)), types.NewTimestamp(int64(i))}
	}
	for _, c := range []struct {
		name string
		each func(func(*rowEntry[dedupVal]))
	}{{"table", m.each}, {"address", m.eachByAddress}} {
		b.Run(c.name, func(b *testing.B) {
			e := &snapEnc{}
			for b.Loop() {
				c.each(func(x *rowEntry[dedupVal]) {
					encDedupEntry(e, x)
					if err := e.spill(io.Discard); err != nil {
						b.Fatal(err)
					}
				})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/entry")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkDeltaCopy is what a delta of a GROUP BY in which all of 1 M
// groups changed (count and sum per text key) costs the operator's
// goroutine, which encodes it in place at the barrier (SnapshotDelta).
// ns/key is per changed group. The keys arrive in another order than
// their strings were allocated in (as the benchmark source's do, and a
// stream's keys met again); the operator's key index holds copies of
// their text in the order they first came (strArena), so the encoding
// reads it sequentially. (Copying the changes for the checkpoint writer
// instead, as it once did, cost 166 ns a key and the writer's encoding of
// the copy 112 ns more, against 184 ns in place.)
//
//	go test -run xxx -bench DeltaCopy -benchtime 5x ./exec/
func BenchmarkDeltaCopy(b *testing.B) {
	const keys = 1_000_000
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	n := groupAggPlan(&plan.Scan{Name: "ev", Cols: events, NumPhysical: 3})
	o, err := newGroupAggOp(e.newJob("bench-delta", "view"), n, true)
	if err != nil {
		b.Fatal(err)
	}
	o.startTracking()
	out := &emitter{ctx: context.Background(), width: len(n.Cols)}
	names := make([]types.Value, keys)
	for k := range names {
		names[k] = types.NewText("user-" + strconv.Itoa(k))
	}
	touch := func(v int64) { // changes every group
		for lo := 0; lo < keys; lo += 400 {
			c := getChunk(3)
			for k := lo; k < min(lo+400, keys); k++ {
				c.Append(chunk.Insert, sec(1), types.Row{names[(k*7919)%keys], types.NewInt(v), types.NewTimestamp(sec(1))})
			}
			if err := o.OnData(0, c, out); err != nil {
				b.Fatal(err)
			}
			if err := o.FlushBatch(out); err != nil {
				b.Fatal(err)
			}
			out.cur = nil // what the groups emitted
		}
	}
	touch(1)
	if _, err := o.SnapshotBase(); err != nil {
		b.Fatal(err)
	}
	run := func(name string, capture func(b *testing.B)) {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				touch(int64(i))
				b.StartTimer()
				capture(b)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/keys, "ns/key")
			b.ReportMetric(0, "ns/op")
		})
	}
	run("encode", func(b *testing.B) {
		if _, changes, _, err := o.SnapshotDelta(); err != nil || changes != keys {
			b.Fatalf("encoded %d changes (%v)", changes, err)
		}
	})
}
