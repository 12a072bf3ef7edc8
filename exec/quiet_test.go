package exec

import (
	"testing"
	"time"

	"github.com/sluice-db/sluice/planner/plan"
)

// TestQuietAdvanceWaitsForEveryInput checks quiet_advance in a job with
// two sources: a silent source does not advance time by the clock while
// the other one still delivers rows (its watermark keeps holding the
// job's), and once every source has been silent for quiet_advance, time
// advances from the job's last event and windows close.
func TestQuietAdvanceWaitsForEveryInput(t *testing.T) {
	h := newHarness(t, Config{QuietAdvance: 10 * time.Second})
	wm := &plan.Watermark{Col: 2, Delay: micros(1)}
	a, b := h.table("a", events, wm), h.table("b", events, wm)
	h.view(windowAgg(&plan.Union{Inputs: []plan.Node{a, b}}, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)},
		plan.EmitOnWindowClose, 0), "w", nil)
	h.insert("a", ev("x", 1, 1))
	h.insert("b", ev("y", 1, 2))
	h.flush()
	// b delivers a row every 6 s: the job is never silent for 10 s.
	h.clock.Advance(6 * time.Second)
	h.insert("b", ev("y", 1, 4))
	h.flush()
	h.clock.Advance(6 * time.Second)
	h.insert("b", ev("y", 1, 15)) // b's watermark 14; a silent for 12 s
	h.flush()
	h.clock.Advance(5 * time.Second)
	h.flush()
	h.expect("w", "") // a still holds the watermark at 0: b was active 5 s ago
	h.clock.Advance(10 * time.Second)
	h.flush()
	// Both silent for 15 s since b's last row: a's watermark 1-1+15 = 15,
	// b's 15-1+15 = 29.
	h.expect("w", "x @0 @10 @9.999999 1 1\ny @0 @10 @9.999999 2 2")
	h.clock.Advance(10 * time.Second)
	h.flush()
	h.expect("w", "x @0 @10 @9.999999 1 1\ny @0 @10 @9.999999 2 2\ny @10 @20 @19.999999 1 1") // a at 25
}
