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
