package exec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// joinState renders a join's key entries per side (in key order, each
// with its TTL queue flag), its state bytes and, for a window join, its
// watermark and the live entries filed per window.
func joinState(c *joinCore, wj *windowJoinOp) string {
	var lines []string
	for s := range 2 {
		c.side[s].each(func(x *rowEntry[sjKey]) {
			e := &snapEnc{}
			encSJKey(e, x)
			lines = append(lines, fmt.Sprintf("%d %x queued=%v", s, e.b, x.val.queued))
		})
	}
	slices.Sort(lines)
	head := fmt.Sprintf("%d bytes", c.bytes)
	if wj != nil {
		head += fmt.Sprintf(", watermark %d", wj.wm)
		for s := range 2 {
			var ws []string
			for w, es := range wj.byWin[s] {
				n := 0
				for _, e := range es {
					if !e.val.dead {
						n++
					}
				}
				if n > 0 { // a window whose keys all emptied keeps dead entries until it closes
					ws = append(ws, fmt.Sprintf("%d:%d", w, n))
				}
			}
			slices.Sort(ws)
			head += fmt.Sprintf(", side %d windows %v", s, ws)
		}
	}
	return head + "\n" + strings.Join(lines, "\n")
}

// TestJoinIncrementalSnapshots checks the regular and window joins'
// incremental checkpoints as TestDedupIncrementalSnapshots does the
// dedup's: rows inserted and retracted on both sides, left rows whose
// match counts change, keys emptied, keys forgotten by the TTL, and windows
// freed by the watermark.
func TestJoinIncrementalSnapshots(t *testing.T) {
	clock := NewFakeClock(t0)
	e := NewEngine(Config{Clock: clock, BarrierInterval: -1})
	defer e.Close(context.Background())
	hour := int64(time.Hour / time.Microsecond)
	cases := []struct {
		name string
		new  func(j *job) incSnapshotter
	}{
		{"inner", func(j *job) incSnapshotter { return newStreamJoinOp(j, streamJoinPlan(plan.InnerJoin, 0, nil)) }},
		{"left-ttl", func(j *job) incSnapshotter { return newStreamJoinOp(j, streamJoinPlan(plan.LeftJoin, hour, nil)) }},
		{"window", func(j *job) incSnapshotter {
			op, err := newWindowJoinOp(j, windowJoinPlan(plan.LeftJoin, true, nil))
			if err != nil {
				t.Fatal(err)
			}
			return op
		}},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := e.newJob("join", "view")
			a := c.new(j)
			d := newOpDriver(t, j, a.(operator), 6)
			core := func(op incSnapshotter) (*joinCore, *windowJoinOp) {
				switch o := op.(type) {
				case *streamJoinOp:
					return &o.joinCore, nil
				case *windowJoinOp:
					return &o.joinCore, o
				}
				t.Fatalf("%T", op)
				return nil, nil
			}
			ac, _ := core(a)
			rng := rand.New(rand.NewPCG(13, uint64(ci)))
			window := c.name == "window"
			emptied, expired, freed := 0, 0, 0
			wm := 0.0
			bases := checkIncremental(t, rng, 150, a, func() incSnapshotter { return c.new(j) }, func(step int) {
				for range 1 + rng.IntN(12) {
					s := rng.IntN(2)
					var kept []types.Row
					ac.side[s].each(func(x *rowEntry[sjKey]) {
						for _, r := range x.val.rows {
							kept = append(kept, r.row)
						}
					})
					if rng.IntN(3) == 0 && len(kept) > 0 {
						before := ac.side[s].len()
						d.feed(s, chunk.Delete, kept[rng.IntN(len(kept))])
						if ac.side[s].len() < before {
							emptied++
						}
						continue
					}
					k := fmt.Sprint("k", rng.IntN(15))
					if window {
						d.feed(s, chunk.Insert, wrow(k, wm+float64(10*rng.IntN(3)), int64(rng.IntN(9))))
					} else {
						d.feed(s, chunk.Insert, ev(k, int64(rng.IntN(9)), float64(step)))
					}
				}
				if step%9 == 8 {
					n := ac.side[0].len() + ac.side[1].len()
					if window {
						wm += 10
						d.watermark(sec(wm))
						if ac.side[0].len()+ac.side[1].len() < n {
							freed++
						}
					} else {
						clock.Advance(20 * time.Minute)
						if err := a.(operator).OnBarrier(1, d.em); err != nil {
							t.Fatal(err)
						}
						d.collect()
						if ac.side[0].len()+ac.side[1].len() < n {
							expired++
						}
					}
				}
			}, func(op incSnapshotter) string { return joinState(core(op)) })
			if bases < 3 || emptied == 0 || (c.name == "left-ttl" && expired == 0) || (window && freed == 0) {
				t.Fatalf("the run did not cover the cases: %d bases, %d keys emptied, %d TTL expiries, %d windows freed", bases, emptied, expired, freed)
			}
		})
	}
}

// TestIntervalJoinIncrementalSnapshots checks the interval join's
// incremental checkpoints as TestJoinIncrementalSnapshots does the other
// joins': rows inserted and retracted, left rows matched for the first
// time, and rows (and whole keys) freed by the watermark.
func TestIntervalJoinIncrementalSnapshots(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	for _, kind := range []plan.JoinKind{plan.InnerJoin, plan.LeftJoin} {
		t.Run(kind.String(), func(t *testing.T) {
			l := &plan.Scan{Name: "l", Kind: plan.RelTable, Cols: events}
			r := &plan.Scan{Name: "r", Kind: plan.RelTable, Cols: events}
			n := &plan.IntervalJoin{Left: l, Right: r, Kind: kind, LeftKey: []expr.Expr{col(0, "k", types.TText)},
				RightKey: []expr.Expr{col(0, "k", types.TText)}, LeftTime: 2, RightTime: 2, LowerBound: 0, UpperBound: micros(5),
				Cols: append(append(types.Schema{}, events...), events...)}
			j := e.newJob("interval", "view")
			a := newIntervalJoinOp(j, n)
			d := newOpDriver(t, j, a, 6)
			rng := rand.New(rand.NewPCG(17, uint64(kind)))
			retracted, pruned, removed := 0, 0, 0
			wm := 0.0
			bases := checkIncremental(t, rng, 150, a, func() *intervalJoinOp { return newIntervalJoinOp(j, n) }, func(step int) {
				for range 1 + rng.IntN(12) {
					s := rng.IntN(2)
					var kept []types.Row
					a.side[s].each(func(x *rowEntry[ijKey]) {
						for _, r := range x.val.rows {
							kept = append(kept, r.row)
						}
					})
					if rng.IntN(4) == 0 && len(kept) > 0 {
						d.feed(s, chunk.Delete, kept[rng.IntN(len(kept))])
						retracted++
						continue
					}
					d.feed(s, chunk.Insert, ev(fmt.Sprint("k", rng.IntN(12)), int64(rng.IntN(9)), wm+rng.Float64()*8))
				}
				if step%5 == 4 {
					wm += 2
					rows := func() (n int) {
						for s := range 2 {
							a.side[s].each(func(x *rowEntry[ijKey]) { n += len(x.val.rows) })
						}
						return n
					}
					before, keys := rows(), a.side[0].len()+a.side[1].len()
					d.watermark(sec(wm))
					if rows() < before {
						pruned++
					}
					if a.side[0].len()+a.side[1].len() < keys {
						removed++
					}
				}
			}, func(o *intervalJoinOp) string {
				lines := []string{fmt.Sprintf("%d bytes, watermark %d", o.bytes, o.wm)}
				for s := range 2 {
					o.side[s].each(func(x *rowEntry[ijKey]) {
						e := &snapEnc{}
						encIJKey(e, x)
						lines = append(lines, fmt.Sprintf("%d %x", s, e.b))
					})
				}
				slices.Sort(lines[1:])
				return strings.Join(lines, "\n")
			})
			if bases < 3 || retracted == 0 || pruned == 0 || removed == 0 {
				t.Fatalf("the run did not cover the cases: %d bases, %d retractions, %d watermarks pruned rows, %d removed keys", bases, retracted, pruned, removed)
			}
		})
	}
}
