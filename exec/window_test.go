package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

func TestTumbleEmitOnUpdate(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2, Delay: micros(1)})
	h.view(windowAgg(src, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnUpdate, 0), "v", []int{0, 1})
	h.insert("ev", ev("a", 1, 1), ev("a", 2, 3), ev("b", 5, 4))
	h.flush()
	h.expect("v", `
a @0 @10 @9.999999 2 3
b @0 @10 @9.999999 1 5`)
	h.insert("ev", ev("a", 10, 9), ev("a", 7, 12))
	h.flush()
	h.expect("v", `
a @0 @10 @9.999999 3 13
a @10 @20 @19.999999 1 7
b @0 @10 @9.999999 1 5`)
}

func TestTumbleEmitOnWindowCloseAndLateness(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2, Delay: micros(1)})
	h.view(windowAgg(src, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, micros(2)), "v", nil)
	h.insert("ev", ev("a", 1, 1), ev("a", 2, 5))
	h.flush()
	h.expect("v", "")
	// Watermark 11: window [0,10) is closed but within the 2 s grace.
	h.insert("ev", ev("b", 1, 12))
	h.flush()
	h.expect("v", "")
	h.insert("ev", ev("a", 4, 8)) // late, within grace: counted
	// Watermark 13: window end + grace = 12 <= 13: fires.
	h.insert("ev", ev("b", 1, 14))
	h.flush()
	h.expect("v", "a @0 @10 @9.999999 3 7")
	h.insert("ev", ev("a", 100, 9)) // beyond grace: late event
	h.flush()
	h.expect("v", "a @0 @10 @9.999999 3 7")
	late := h.e.LateEvents()
	if len(late) != 1 || late[0].EventTime != sec(9) || late[0].Watermark != sec(13) || late[0].View != "v" {
		t.Fatalf("late events: %+v", late)
	}
	if st := h.e.ViewStats(); st[0].Late != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestHopPanesEmitOnWindowClose(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2, Delay: 0})
	h.view(windowAgg(src, plan.WindowSpec{Kind: plan.Hop, TimeCol: 2, Size: micros(4), Slide: micros(2)}, plan.EmitOnWindowClose, 0), "v", nil)
	h.insert("ev", ev("a", 1, 1), ev("a", 2, 3), ev("b", 4, 3.5), ev("a", 8, 5))
	h.flush()
	// Watermark 5: windows ending at 2 and 4 fired.
	h.expect("v", `
a @-2 @2 @1.999999 1 1
a @0 @4 @3.999999 2 3
b @0 @4 @3.999999 1 4`)
	h.insert("ev", ev("a", 0, 20))
	h.flush()
	h.expect("v", `
a @-2 @2 @1.999999 1 1
a @0 @4 @3.999999 2 3
a @2 @6 @5.999999 2 10
a @4 @8 @7.999999 1 8
b @0 @4 @3.999999 1 4
b @2 @6 @5.999999 1 4`)
	// A row for the fired window [2,6) and the open... none: [4,8) fired
	// too, so it is late for every window.
	h.insert("ev", ev("c", 1, 5))
	h.flush()
	if n := len(h.e.LateEvents()); n != 1 {
		t.Fatalf("late events = %d, want 1", n)
	}
}

func TestHopEmitOnUpdate(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2, Delay: 0})
	h.view(windowAgg(src, plan.WindowSpec{Kind: plan.Hop, TimeCol: 2, Size: micros(4), Slide: micros(2)}, plan.EmitOnUpdate, 0), "v", []int{0, 1})
	h.insert("ev", ev("a", 1, 1), ev("a", 2, 3))
	h.flush()
	h.expect("v", `
a @-2 @2 @1.999999 1 1
a @0 @4 @3.999999 2 3
a @2 @6 @5.999999 1 2`)
}

func TestCumulate(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2, Delay: 0})
	h.view(windowAgg(src, plan.WindowSpec{Kind: plan.Cumulate, TimeCol: 2, Size: micros(6), Step: micros(2)}, plan.EmitOnWindowClose, 0), "v", nil)
	h.insert("ev", ev("a", 1, 1), ev("a", 2, 3), ev("a", 4, 5), ev("a", 8, 7))
	h.flush()
	h.expect("v", `
a @0 @2 @1.999999 1 1
a @0 @4 @3.999999 2 3
a @0 @6 @5.999999 3 7`)
}

func sessionAgg(in plan.Node, gap, maxDur int64, emit plan.EmitMode) *plan.WindowAgg {
	return windowAgg(in, plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: gap, MaxDuration: maxDur}, emit, 0)
}

func TestSessionMergeByLateRow(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2, Delay: micros(10)})
	h.view(sessionAgg(src, micros(3), 0, plan.EmitOnUpdate), "v", []int{0, 1})
	h.insert("ev", ev("a", 1, 1), ev("a", 1, 2), ev("a", 1, 7), ev("b", 1, 7))
	h.flush()
	h.expect("v", `
a @1 @5 @4.999999 2 2
a @7 @10 @9.999999 1 1
b @7 @10 @9.999999 1 1`)
	// 4.5 is within 3 s of both sessions of a: they merge.
	h.insert("ev", ev("a", 1, 4.5))
	h.flush()
	h.expect("v", `
a @1 @10 @9.999999 4 4
b @7 @10 @9.999999 1 1`)
}

func TestSessionMaxDurationAndClose(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2, Delay: 0})
	h.view(sessionAgg(src, micros(3), micros(5), plan.EmitOnWindowClose), "v", nil)
	h.insert("ev", ev("a", 1, 0), ev("a", 1, 2), ev("a", 1, 4), ev("a", 1, 6), ev("a", 1, 8))
	h.flush()
	// The first session may not span 5 s: 6 starts a new one.
	h.expect("v", "a @0 @5 @4.999999 3 3")
	h.insert("ev", ev("z", 1, 30))
	h.flush()
	h.expect("v", `
a @0 @5 @4.999999 3 3
a @6 @11 @10.999999 2 2`)
	if st := h.e.ViewStats(); st[0].OpenWindows != 1 {
		t.Fatalf("open sessions = %d, want 1 (z)", st[0].OpenWindows)
	}
}

// TestArrivalOrderWithinChunk checks that a row is late only relative to
// the rows before it in the same insert.
func TestArrivalOrderWithinChunk(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2, Delay: 0})
	h.view(windowAgg(src, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, 0), "v", nil)
	// 5 comes before 25 in the chunk: on time. 6 comes after 25: late.
	h.insert("ev", ev("a", 1, 5), ev("a", 1, 25), ev("a", 1, 6))
	h.flush()
	h.expect("v", "a @0 @10 @9.999999 1 1")
	if n := len(h.e.LateEvents()); n != 1 {
		t.Fatalf("late = %d, want 1", n)
	}
}

// windowOp is what the direct window tests drive.
type windowOp interface {
	operator
	batcher
	snapshotter
}

// windowCase is one window aggregate configuration of the state tests.
type windowCase struct {
	name    string
	spec    plan.WindowSpec
	emit    plan.EmitMode
	grouped bool // GROUP BY k (else no key at all)
	retract bool
	flat    bool // count(*) and sum(v) only
}

var windowCases = []windowCase{
	{"tumble-close", plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, true, false, false},
	{"tumble-update", plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnUpdate, true, true, false},
	{"tumble-nokey", plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, false, false, false},
	{"hop-panes", plan.WindowSpec{Kind: plan.Hop, TimeCol: 2, Size: micros(10), Slide: micros(4)}, plan.EmitOnWindowClose, true, false, false},
	{"hop-update", plan.WindowSpec{Kind: plan.Hop, TimeCol: 2, Size: micros(10), Slide: micros(5)}, plan.EmitOnUpdate, true, false, false},
	{"cumulate", plan.WindowSpec{Kind: plan.Cumulate, TimeCol: 2, Size: micros(12), Step: micros(4)}, plan.EmitOnWindowClose, true, false, false},
	{"session-close", plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(3)}, plan.EmitOnWindowClose, true, false, false},
	{"session-update", plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(3), MaxDuration: micros(20)}, plan.EmitOnUpdate, true, true, false},
	{"session-nokey", plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(2)}, plan.EmitOnWindowClose, false, false, false},
	// Flat accumulators only (count, sum): an updating window's snapshot
	// leaves out the results of groups unchanged since they emitted
	// (prevCurrent).
	{"tumble-update-flat", plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnUpdate, true, true, true},
	{"hop-update-flat", plan.WindowSpec{Kind: plan.Hop, TimeCol: 2, Size: micros(10), Slide: micros(5)}, plan.EmitOnUpdate, true, false, true},
	{"session-update-flat", plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(3), MaxDuration: micros(20)}, plan.EmitOnUpdate, true, true, true},
}

// plan builds the case's WindowAgg over events: count(*), sum(v) and
// (unless flat) max(k), which keeps an accState (text) next to the flat
// words.
func (c windowCase) plan() *plan.WindowAgg {
	aggs := []plan.AggCall{countStar(), sumOf(col(1, "v", types.TInt64))}
	if !c.flat {
		aggs = append(aggs, maxOf(col(0, "k", types.TText)))
	}
	n := windowAgg(&plan.Scan{Name: "ev", Cols: events, NumPhysical: 3}, c.spec, c.emit, micros(1), aggs...)
	if !c.grouped {
		n.GroupBy = nil
		n.Cols = n.Cols[1:]
	}
	return n
}

func (c windowCase) newOp(t testing.TB, e *Engine) windowOp {
	t.Helper()
	op, err := newWindowAggOp(e.newJob("direct-"+c.name, "view"), c.plan(), c.retract)
	if err != nil {
		t.Fatal(err)
	}
	return op.(windowOp)
}

// windowStep is one chunk of rows and the watermark after it.
type windowStep struct {
	rows []types.Row
	ops  []chunk.Op
	wm   int64
}

// randomSteps makes a stream over 8 keys with disorder, late rows and
// (when retract) retractions of earlier rows.
func randomSteps(rng *rand.Rand, n int, retract bool) []windowStep {
	var steps []windowStep
	var kept []types.Row
	now := 0.0
	for range n {
		var s windowStep
		for range 1 + rng.IntN(12) {
			if retract && len(kept) > 0 && rng.IntN(5) == 0 {
				i := rng.IntN(len(kept))
				s.rows = append(s.rows, kept[i])
				s.ops = append(s.ops, chunk.Delete)
				kept = append(kept[:i], kept[i+1:]...)
				continue
			}
			now += rng.Float64()
			ts := now - 4*rng.Float64()
			r := ev(string(rune('a'+rng.IntN(8))), int64(rng.IntN(100)), ts)
			s.rows = append(s.rows, r)
			s.ops = append(s.ops, chunk.Insert)
			kept = append(kept, r)
		}
		s.wm = sec(now - 3)
		steps = append(steps, s)
	}
	steps = append(steps, windowStep{wm: sec(now + 100)})
	return steps
}

// runStep feeds a step and returns what the operator emitted, sorted.
func runStep(t testing.TB, op windowOp, out *emitter, s windowStep) []string {
	t.Helper()
	c := getChunk(3)
	for i, r := range s.rows {
		c.Append(s.ops[i], chunk.NoTime, r)
	}
	if err := op.OnData(0, c, out); err != nil {
		t.Fatal(err)
	}
	if err := op.FlushBatch(out); err != nil {
		t.Fatal(err)
	}
	if _, err := op.OnWatermark(s.wm, out); err != nil {
		t.Fatal(err)
	}
	var got []string
	if c := out.cur; c != nil {
		for i := range c.Len() {
			got = append(got, fmt.Sprintf("%d %s", c.Ops[i], renderRows([]types.Row{c.Row(i)})))
		}
		out.cur = nil
	}
	slices.Sort(got)
	return got
}

// TestWindowStateRoundTrip checks the operators' checkpoint encoding of
// their window, pane and session state: an operator restored from a
// snapshot taken mid-stream emits exactly what the original emits from
// there on, and (for windows, whose groups keep their order) snapshots
// to the same bytes.
func TestWindowStateRoundTrip(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	for _, c := range windowCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(len(c.name))))
			for round := range 5 {
				steps := randomSteps(rng, 40, c.retract)
				cut := rng.IntN(len(steps))
				a := c.newOp(t, e)
				outA := &emitter{ctx: context.Background(), width: len(c.plan().Cols)}
				emitted := 0
				for _, s := range steps[:cut] {
					emitted += len(runStep(t, a, outA, s))
				}
				snap, err := a.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				b := c.newOp(t, e)
				if err := b.Restore(snap); err != nil {
					t.Fatal(err)
				}
				if _, isSession := b.(*sessionOp); !isSession {
					again, err := b.Snapshot()
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(again, snap) {
						t.Fatalf("round %d: the restored operator snapshots to other bytes", round)
					}
				}
				outB := &emitter{ctx: context.Background(), width: len(c.plan().Cols)}
				for i, s := range steps[cut:] {
					ga, gb := runStep(t, a, outA, s), runStep(t, b, outB, s)
					emitted += len(ga)
					if !slices.Equal(ga, gb) {
						t.Fatalf("round %d, step %d after the snapshot at %d:\noriginal emitted %q\nrestored emitted %q", round, i, cut, ga, gb)
					}
				}
				if emitted == 0 {
					t.Fatalf("round %d emitted nothing: the comparison proves nothing", round)
				}
				for _, op := range []windowOp{a, b} {
					if st := statsOf(op); st.stateBytes.Load() != 0 || st.openWindows.Load() != 0 {
						t.Fatalf("after the last watermark: %d state bytes, %d open windows", st.stateBytes.Load(), st.openWindows.Load())
					}
				}
			}
		})
	}
}

func statsOf(op windowOp) *opStats {
	switch o := op.(type) {
	case *windowAggOp:
		return o.stats
	case *sessionOp:
		return o.stats
	}
	return nil
}

// TestRestoreRejectsOtherVersion checks that a window snapshot of another
// layout fails to restore instead of being misread.
func TestRestoreRejectsOtherVersion(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	for _, c := range []windowCase{windowCases[0], windowCases[6]} {
		op := c.newOp(t, e)
		snap, err := op.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		snap[0] = 1
		if err := c.newOp(t, e).Restore(snap); !errors.Is(err, errSnapshotCorrupt) {
			t.Fatalf("%s: restore of a version 1 snapshot: %v", c.name, err)
		}
	}
}

// TestWindowStateBytesMatchHeap checks the operators' state-bytes estimate
// (ViewStats.StateBytes) against the heap their open groups and sessions
// really take, key strings included: within 1.5x either way.
func TestWindowStateBytesMatchHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap of 20000 groups per case")
	}
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	for _, c := range windowCases {
		if !c.grouped {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			const keys = 20000
			var op windowOp
			before := heapAlloc()
			op = c.newOp(t, e)
			out := &emitter{ctx: context.Background(), n: &node{job: e.newJob("sink", "view")}, width: len(c.plan().Cols)}
			ch := chunk.New(3, chunkRows)
			for k := 0; k < keys; {
				ch.Reset()
				for ; ch.Len() < chunkRows && k < keys; k++ {
					ch.Append(chunk.Insert, chunk.NoTime, types.Row{types.NewText("key-" + strconv.Itoa(k)), types.NewInt(int64(k)), types.NewTimestamp(sec(1))})
				}
				if err := op.OnData(0, ch, out); err != nil {
					t.Fatal(err)
				}
			}
			if err := op.FlushBatch(out); err != nil {
				t.Fatal(err)
			}
			ch = nil
			after := heapAlloc()
			runtime.KeepAlive(op)
			real := int64(after) - int64(before)
			est := statsOf(op).stateBytes.Load()
			t.Logf("%s: estimate %d bytes/key, heap %d bytes/key", c.name, est/keys, real/keys)
			if est*3 < real*2 || est*2 > real*3 {
				t.Errorf("state bytes estimate %d is not within 1.5x of the heap the state takes (%d)", est, real)
			}
		})
	}
}

// FuzzRestoreWindowState feeds arbitrary bytes to the Restore of every
// window case's operator: a corrupt checkpoint must give an error, never
// a panic, and an operator that accepts the bytes must keep working
// through more rows and a final watermark.
func FuzzRestoreWindowState(f *testing.F) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	rng := rand.New(rand.NewPCG(3, 3))
	for i, c := range windowCases {
		op := c.newOp(f, e)
		out := &emitter{ctx: context.Background(), width: len(c.plan().Cols)}
		for _, s := range randomSteps(rng, 6, c.retract)[:6] {
			runStep(f, op, out, s)
		}
		inc := op.(incSnapshotter)
		inc.startTracking()
		snap, err := inc.SnapshotBase()
		if err != nil {
			f.Fatal(err)
		}
		for _, s := range randomSteps(rng, 4, false)[:4] {
			runStep(f, op, out, s)
		}
		delta, _, _, err := inc.SnapshotDelta()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), snap, delta)
	}
	f.Fuzz(func(t *testing.T, which uint8, data, delta []byte) {
		c := windowCases[int(which)%len(windowCases)]
		op := c.newOp(t, e)
		if err := op.Restore(data); err != nil {
			return
		}
		// A delta of the same operator, or garbage: an error, not a panic.
		if err := op.(incSnapshotter).RestoreDelta(delta); err != nil {
			return
		}
		out := &emitter{ctx: context.Background(), n: &node{job: e.newJob("fuzz", "view")}, width: len(c.plan().Cols)}
		steps := randomSteps(rand.New(rand.NewPCG(uint64(len(data)), 1)), 3, false)
		for _, s := range steps {
			c := getChunk(3)
			for i, r := range s.rows {
				c.Append(s.ops[i], chunk.NoTime, r)
			}
			// Errors (a retraction the restored state cannot take, an
			// overflowing sum) are fine; panics are not.
			if op.OnData(0, c, out) != nil {
				return
			}
			_ = op.FlushBatch(out)
			if _, err := op.OnWatermark(s.wm, out); err != nil {
				return
			}
		}
		if _, err := op.Snapshot(); err != nil {
			t.Fatalf("snapshot after restore: %v", err)
		}
	})
}

// TestSessionCompactsAfterBurst opens sessions for many keys, lets the
// watermark close all but a few, and checks that the operator gave the
// slots back (compacted) while the sessions left still close as before.
func TestSessionCompactsAfterBurst(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	c := windowCase{"session", plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(1)}, plan.EmitOnUpdate, true, false, false}
	op := c.newOp(t, e).(*sessionOp)
	op.startTracking()
	sink := &emitter{ctx: context.Background(), n: &node{job: e.newJob("sink", "view")}, width: len(c.plan().Cols)}
	const burst, stay = 10000, 40
	ch := chunk.New(3, chunkRows)
	for k := 0; k < burst; {
		ch.Reset()
		for ; ch.Len() < chunkRows && k < burst; k++ {
			ch.Append(chunk.Insert, chunk.NoTime, ev("burst"+strconv.Itoa(k), 1, 1))
		}
		if err := op.OnData(0, ch, sink); err != nil {
			t.Fatal(err)
		}
	}
	ch.Reset()
	for k := range stay {
		ch.Append(chunk.Insert, chunk.NoTime, ev("stay"+strconv.Itoa(k), int64(k), 100))
	}
	if err := op.OnData(0, ch, sink); err != nil {
		t.Fatal(err)
	}
	if _, err := op.OnWatermark(sec(50), sink); err != nil {
		t.Fatal(err)
	}
	if op.open != stay || op.ss.n != stay || op.byKey.ids() != stay {
		t.Fatalf("after the burst closed: %d open, %d session slots, %d key ids; want %d of each", op.open, op.ss.n, op.byKey.ids(), stay)
	}
	// The compaction moved the key ids: the next checkpoint is a base.
	if !op.needBase() {
		t.Fatal("after a compaction the session aggregate does not ask for a base")
	}
	if _, err := op.SnapshotBase(); err != nil || op.needBase() {
		t.Fatalf("after a base: needBase %v, err %v", op.needBase(), err)
	}
	// The sessions left still update and retract their rows.
	out := &emitter{ctx: context.Background(), width: len(c.plan().Cols)}
	got := runStep(t, op, out, windowStep{rows: []types.Row{ev("stay0", 5, 100.5)}, ops: []chunk.Op{chunk.Insert}, wm: sec(60)})
	want := []string{
		"-1 stay0 @100 @101 @100.999999 1 0 stay0",
		"1 stay0 @100 @101.5 @101.499999 2 5 stay0",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("after compaction emitted %q, want %q", got, want)
	}
}

// windowState renders an operator's state for comparison: a window
// aggregate's snapshot (its groups keep their order), or a session
// aggregate's watermark and keys with their sessions, in key order (key
// ids are reused in another order after a restore).
func windowState(t *testing.T, op windowOp) string {
	t.Helper()
	o, ok := op.(*sessionOp)
	if !ok {
		b, err := op.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", b)
	}
	lines := []string{fmt.Sprint(o.wm)}
	o.byKey.each(func(k int) {
		e := &snapEnc{}
		if err := o.encodeKey(e, k); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%x", e.b))
	})
	slices.Sort(lines[1:])
	return strings.Join(lines, "\n")
}

// restoreWindowOp restores a new operator of case c from a base and the
// deltas taken after it (at step i of a test).
func restoreWindowOp(t *testing.T, e *Engine, c windowCase, i int, base []byte, deltas [][]byte) windowOp {
	t.Helper()
	b := c.newOp(t, e)
	if err := b.Restore(base); err != nil {
		t.Fatal(err)
	}
	for k, d := range deltas {
		if err := b.(incSnapshotter).RestoreDelta(d); err != nil {
			t.Fatalf("step %d delta %d: %v", i, k, err)
		}
	}
	return b
}

// TestWindowIncrementalSnapshots checks the window and session
// aggregates' incremental checkpoints: after every step, a base and the
// deltas taken since restore an operator with the same state as the
// original that emits the same from there on — through new windows and
// panes, groups updated again, retractions, tables dropped by the
// watermark, and sessions opened, extended, merged and closed.
func TestWindowIncrementalSnapshots(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	for _, c := range windowCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(len(c.name))))
			a, inc, out := trackedOp(t, e, c)
			width := out.width
			steps := randomSteps(rng, 120, c.retract)
			var base []byte
			var deltas [][]byte
			bases, withDeltas := 0, 0
			for i, s := range steps {
				runStep(t, a, out, s)
				if base == nil || inc.needBase() || rng.IntN(10) == 0 {
					b, err := inc.SnapshotBase()
					if err != nil {
						t.Fatal(err)
					}
					base, deltas = b, nil
					bases++
				} else {
					d, n, _, err := inc.SnapshotDelta()
					if err != nil {
						t.Fatal(err)
					}
					if n > 0 {
						deltas = append(deltas, d)
					}
				}
				if len(deltas) > 0 {
					withDeltas++
				}
				b := restoreWindowOp(t, e, c, i, base, deltas)
				if got, want := windowState(t, b), windowState(t, a); got != want {
					t.Fatalf("step %d: base and %d deltas restore another state than the operator's:\n%s\nwant\n%s", i, len(deltas), got, want)
				}
				want, err := a.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				if i+1 < len(steps) && i%17 == 0 {
					// The restored operator goes on as the original does.
					outB := &emitter{ctx: context.Background(), width: width}
					a2 := c.newOp(t, e)
					if err := a2.Restore(want); err != nil {
						t.Fatal(err)
					}
					outA2 := &emitter{ctx: context.Background(), width: width}
					if g, w := runStep(t, b, outB, steps[i+1]), runStep(t, a2, outA2, steps[i+1]); !slices.Equal(g, w) {
						t.Fatalf("step %d: after restore emitted\n%v\nwant\n%v", i+1, g, w)
					}
				}
			}
			if bases < 3 || withDeltas < len(steps)/2 {
				t.Fatalf("the run did not cover the cases: %d bases, %d steps restored through deltas", bases, withDeltas)
			}
		})
	}
}

// trackedOp returns a new operator of case c that keeps its changes for
// incremental checkpoints, and an emitter for what it emits.
func trackedOp(t testing.TB, e *Engine, c windowCase) (windowOp, incSnapshotter, *emitter) {
	t.Helper()
	a := c.newOp(t, e)
	inc := a.(incSnapshotter)
	inc.startTracking()
	return a, inc, &emitter{ctx: context.Background(), width: len(c.plan().Cols)}
}

// writeCounter keeps what is written to it and counts the writes.
type writeCounter struct {
	bytes.Buffer
	writes int
}

func (w *writeCounter) Write(p []byte) (int, error) {
	w.writes++
	return w.Buffer.Write(p)
}

// TestWindowBaseLater checks the window and session aggregates' bases
// taken as a copy and encoded later by the checkpoint writer (baseLater):
// a base copied at one step and written only after the next step changed
// the windows or sessions restores them as they were when it was copied,
// and the deltas taken after it bring a restored operator to the
// original's state. With retractions and max(k), which keeps an
// accumulator object per group, the copy must not share them with the
// operator.
func TestWindowBaseLater(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	for _, c := range windowCases {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, uint64(len(c.name))))
			a, inc, out := trackedOp(t, e, c)
			var base []byte
			var deltas [][]byte
			var later func(io.Writer) error
			var frozen string
			copies := 0
			for i, s := range randomSteps(rng, 150, c.retract) {
				runStep(t, a, out, s)
				if later != nil {
					var w writeCounter
					if err := later(&w); err != nil {
						t.Fatal(err)
					}
					later, base = nil, w.Bytes()
					b := c.newOp(t, e)
					if err := b.Restore(base); err != nil {
						t.Fatal(err)
					}
					if got := windowState(t, b); got != frozen {
						t.Fatalf("step %d: the base copied at the step before, written now, restores\n%s\nwant the state when it was copied\n%s", i, got, frozen)
					}
				}
				if base == nil || inc.needBase() || rng.IntN(8) == 0 {
					w, ok := a.(baseLater).snapshotBaseLater()
					if !ok {
						t.Fatal("the state could not be copied")
					}
					later, frozen, deltas = w, windowState(t, a), nil
					copies++
					continue
				}
				d, n, _, err := inc.SnapshotDelta()
				if err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					deltas = append(deltas, d)
				}
				if got, want := windowState(t, restoreWindowOp(t, e, c, i, base, deltas)), windowState(t, a); got != want {
					t.Fatalf("step %d: the base and %d deltas restore\n%s\nwant\n%s", i, len(deltas), got, want)
				}
			}
			if copies < 5 {
				t.Fatalf("only %d bases copied", copies)
			}
		})
	}

	// A large state is written in pieces, not as one buffer.
	c := windowCases[slices.IndexFunc(windowCases, func(c windowCase) bool { return c.name == "session-close" })]
	a, _, out := trackedOp(t, e, c)
	step := func(v int64) {
		var s windowStep
		for k := range 5000 {
			s.rows = append(s.rows, ev(fmt.Sprint("user-", k), v, 1))
			s.ops = append(s.ops, chunk.Insert)
		}
		runStep(t, a, out, s)
	}
	step(1)
	write, ok := a.(baseLater).snapshotBaseLater()
	if !ok {
		t.Fatal("the sessions could not be copied")
	}
	frozen := windowState(t, a)
	step(2)
	var w writeCounter
	if err := write(&w); err != nil {
		t.Fatal(err)
	}
	b := c.newOp(t, e)
	if err := b.Restore(w.Bytes()); err != nil {
		t.Fatal(err)
	}
	if got := windowState(t, b); got != frozen {
		t.Fatal("a large base copied before a step and written after it restores another state than the copied one")
	}
	if w.writes < 2 || w.Len() < 2*viewChunk {
		t.Fatalf("a base of %d bytes went out in %d writes", w.Len(), w.writes)
	}
}

// TestMassRemovalTakesBase checks what a mass expiry does to the
// incremental checkpoints of sessions and GROUP BY groups: once as many
// saved keys went since the last capture as the state still holds (and at
// least goneMin), the operator stops listing them and asks for a base
// (needBase), refuses a delta that would lack them, and a base taken then
// restores exactly what is left.
func TestMassRemovalTakesBase(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	const keys = 3 * goneMin
	// drop takes the operators' output (more rows than one chunk).
	drop := func(width int) *emitter {
		j := e.newJob("drop", "view")
		return &emitter{ctx: context.Background(), width: width, n: newNode(j, "drop", unionOp{}, 1, width)}
	}
	check := func(t *testing.T, inc incSnapshotter, state func() string, restored func([]byte) string) {
		t.Helper()
		if !inc.needBase() {
			t.Fatal("no base due after most keys went")
		}
		if _, _, _, err := inc.SnapshotDelta(); !errors.Is(err, errBaseDue) {
			t.Fatalf("a delta while a base is due: %v", err)
		}
		b, err := inc.SnapshotBase()
		if err != nil {
			t.Fatal(err)
		}
		if inc.needBase() {
			t.Fatal("a base is still due after one was taken")
		}
		if got, want := restored(b), state(); got != want {
			t.Fatalf("the base restores\n%.300s\nwant\n%.300s", got, want)
		}
	}

	t.Run("sessions", func(t *testing.T) {
		c := windowCases[slices.IndexFunc(windowCases, func(c windowCase) bool { return c.name == "session-close" })]
		a := c.newOp(t, e)
		inc := a.(incSnapshotter)
		inc.startTracking()
		out := drop(len(c.plan().Cols))
		var s windowStep
		for k := range keys {
			ts := 1.0
			if k%8 < 3 {
				ts = 100 // three keys in eight stay open (too many for a compaction)
			}
			s.rows = append(s.rows, ev(fmt.Sprint("user-", k), 1, ts))
			s.ops = append(s.ops, chunk.Insert)
		}
		runStep(t, a, out, s)
		if _, err := inc.SnapshotBase(); err != nil {
			t.Fatal(err)
		}
		runStep(t, a, out, windowStep{wm: sec(50)}) // closes five sessions in eight
		if !a.(*sessionOp).ckGone.over {
			t.Fatal("the closed sessions' keys are still listed")
		}
		check(t, inc, func() string { return windowState(t, a) }, func(b []byte) string {
			r := c.newOp(t, e)
			if err := r.Restore(b); err != nil {
				t.Fatal(err)
			}
			return windowState(t, r)
		})
	})

	t.Run("groupby", func(t *testing.T) {
		h := newHarness(t, Config{})
		n := maxPerWindow(wsNInput, nil)
		a := newDirectOp(t, h, n)
		a.out = drop(len(n.Cols))
		a.o.startTracking()
		var rows [][3]float64
		for k := range keys {
			rows = append(rows, [3]float64{1, float64(k), 7})
		}
		if err := feedChanges(a.o, a.out, rows); err != nil {
			t.Fatal(err)
		}
		if _, err := a.o.SnapshotBase(); err != nil {
			t.Fatal(err)
		}
		var gone [][3]float64
		for k := range keys {
			if k%8 != 0 {
				gone = append(gone, [3]float64{-1, float64(k), 7}) // the group's only row: it goes
			}
		}
		if err := feedChanges(a.o, a.out, gone); err != nil {
			t.Fatal(err)
		}
		if !a.o.ckGone.over {
			t.Fatal("the removed groups' keys are still listed")
		}
		check(t, a.o, func() string { return groupStates(t, a.o) }, func(b []byte) string {
			r := newDirectOp(t, h, n)
			if err := r.o.Restore(b); err != nil {
				t.Fatal(err)
			}
			return groupStates(t, r.o)
		})
	})
}

// TestLateRingKeepsNewest: the late-events table keeps the newest events,
// oldest first, once it is full.
func TestLateRingKeepsNewest(t *testing.T) {
	var r lateRing
	for i := range 10 {
		r.add(LateEvent{EventTime: int64(i)}, 4)
		got := r.list()
		if want := min(i+1, 4); len(got) != want {
			t.Fatalf("after %d adds: %d events, want %d", i+1, len(got), want)
		}
		for k, ev := range got {
			if want := int64(i + 1 - len(got) + k); ev.EventTime != want {
				t.Fatalf("after %d adds: event %d is %d, want %d", i+1, k, ev.EventTime, want)
			}
		}
	}
}

// BenchmarkLateFlood records late rows into a full late-events table (the
// engine's default bound of 10 000): ns/op is the cost of one late row.
func BenchmarkLateFlood(b *testing.B) {
	e := NewEngine(Config{})
	defer e.Close(context.Background())
	j := &job{e: e, name: "v"}
	l := lateRecorder{j: j, schema: events}
	row := types.Row{types.NewText("k"), types.NewInt(1), types.NewTimestamp(sec(1))}
	for b.Loop() {
		l.record(row, sec(1), sec(2))
	}
}

// TestWindowRestoresPreviousVersion restores a snapshot in the layout of
// snapWindowVersion 3 (snapSessionVersion 4), which wrote a group's
// (session's) emitted row behind a bool: a snapshot of object
// accumulators (max of text) writes only prevNone and prevRow, the bytes
// of that bool, so with its version byte set back it is one of the
// previous version.
func TestWindowRestoresPreviousVersion(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	for _, v := range []struct {
		c       windowCase
		version byte
	}{{windowCases[1], snapWindowVersion}, {windowCases[7], snapSessionVersion}} { // tumble-update, session-update
		c := v.c
		if c.flat || c.emit != plan.EmitOnUpdate {
			t.Fatal("the case must keep an object accumulator and emit updates")
		}
		rng := rand.New(rand.NewPCG(3, 5))
		a := c.newOp(t, e)
		out := &emitter{ctx: context.Background(), width: len(c.plan().Cols)}
		for _, s := range randomSteps(rng, 20, c.retract)[:10] {
			runStep(t, a, out, s)
		}
		if n := a.(incSnapshotter).stateLen(); n == 0 {
			t.Fatalf("%s: no open group at the snapshot: the test proves nothing", c.name)
		}
		snap, err := a.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if snap[0] != v.version {
			t.Fatalf("%s: snapshot starts with %d, want version %d", c.name, snap[0], v.version)
		}
		// Restored from either version, the operator holds the same
		// state (a session's snapshot orders its keys as restored, so
		// compare two restored ones).
		restored := func(b []byte) []byte {
			t.Helper()
			op := c.newOp(t, e)
			if err := op.Restore(b); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			again, err := op.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			return again
		}
		if !bytes.Equal(restored(append([]byte{v.version - 1}, snap[1:]...)), restored(snap)) {
			t.Fatalf("%s: the previous version's snapshot restored other state", c.name)
		}
		future := append([]byte{v.version + 1}, snap[1:]...)
		if err := c.newOp(t, e).Restore(future); err == nil {
			t.Fatalf("%s: a snapshot of a later version restored", c.name)
		}
	}
}

// BenchmarkSessionSnapshotBytes reports the snapshot size of 100 000
// updating sessions of count(*) and sum(v), one per key, after they all
// emitted (as at a barrier): bytes/session leaves out each session's
// emitted row (prevCurrent); rows-bytes/session is the same snapshot with
// every session marked changed since it emitted, which writes the rows, as
// every snapshot did before snapSessionVersion 5.
//
//	go test -run xxx -bench SessionSnapshotBytes -benchtime 1x ./exec/
func BenchmarkSessionSnapshotBytes(b *testing.B) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	c := windowCase{"session-update-flat", plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(3600)}, plan.EmitOnUpdate, true, true, true}
	const sessions = 100_000
	var lean, full int
	for b.Loop() {
		op := c.newOp(b, e)
		out := &emitter{ctx: context.Background(), width: len(c.plan().Cols)}
		for base := 0; base < sessions; base += chunkRows {
			ch := getChunk(3)
			for x := base; x < min(base+chunkRows, sessions); x++ {
				ch.Append(chunk.Insert, chunk.NoTime, types.Row{types.NewText("user-" + strconv.Itoa(x)), types.NewInt(int64(x)), types.NewTimestamp(t0.UnixMicro() + int64(x))})
			}
			if err := op.OnData(0, ch, out); err != nil {
				b.Fatal(err)
			}
			if err := op.FlushBatch(out); err != nil {
				b.Fatal(err)
			}
			out.cur = nil
		}
		snap, err := op.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		s := op.(*sessionOp)
		if s.open != sessions {
			b.Fatalf("%d open sessions, want %d", s.open, sessions)
		}
		for i := range s.ss.n {
			s.sess(i).flags |= groupDirty
		}
		rows, err := op.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		lean, full = len(snap), len(rows)
	}
	b.ReportMetric(float64(lean)/sessions, "bytes/session")
	b.ReportMetric(float64(full)/sessions, "rows-bytes/session")
	b.ReportMetric(0, "ns/op")
}
