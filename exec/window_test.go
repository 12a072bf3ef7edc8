package exec

import (
	"testing"

	"github.com/sluice-db/sluice/planner/plan"
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
