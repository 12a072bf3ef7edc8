package exec

import (
	"testing"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// windowed is the schema (k text, window_start timestamp, n bigint) of a
// per-window count.
var windowed = types.Schema{{Name: "k", Type: types.TText}, {Name: "window_start", Type: types.TTimestamp}, {Name: "n", Type: types.TInt64}}

func wrow(k string, start float64, n int64) types.Row {
	return types.Row{types.NewText(k), types.NewTimestamp(sec(start)), types.NewInt(n)}
}

// windowJoinPlan joins two per-window counts on window_start (10-second
// windows), optionally also on k.
func windowJoinPlan(kind plan.JoinKind, byKey bool, residual expr.Expr) *plan.WindowJoin {
	l := &plan.Scan{Name: "l", Kind: plan.RelTable, Cols: windowed}
	r := &plan.Scan{Name: "r", Kind: plan.RelTable, Cols: windowed}
	lk := []expr.Expr{col(1, "window_start", types.TTimestamp)}
	rk := []expr.Expr{col(1, "window_start", types.TTimestamp)}
	if byKey {
		lk = append(lk, col(0, "k", types.TText))
		rk = append(rk, col(0, "k", types.TText))
	}
	return &plan.WindowJoin{Left: l, Right: r, Kind: kind, LeftKey: lk, RightKey: rk, Residual: residual,
		LeftWindow: 1, RightWindow: 1, Expire: micros(10), Cols: append(append(types.Schema{}, windowed...), windowed...)}
}

func TestWindowJoinHotItems(t *testing.T) {
	h := newHarness(t, Config{})
	j := h.e.newJob("t", "view")
	// The q5 shape: per-window counts joined with the per-window maximum,
	// keeping the rows whose count reaches it.
	res, err := expr.NewCmp(expr.GE, col(2, "n", types.TInt64), col(5, "n", types.TInt64))
	if err != nil {
		t.Fatal(err)
	}
	op, err := newWindowJoinOp(j, windowJoinPlan(plan.InnerJoin, false, res))
	if err != nil {
		t.Fatal(err)
	}
	d := newOpDriver(t, j, op, 6)
	d.feed(0, chunk.Insert, wrow("a", 0, 1), wrow("b", 0, 1), wrow("a", 10, 1))
	d.feed(1, chunk.Insert, wrow("max", 0, 1), wrow("max", 10, 1))
	d.expect("a @0 1 max @0 1\na @10 1 max @10 1\nb @0 1 max @0 1")
	// Counts update (retract + insert) on both sides, as from on-update
	// window aggregates.
	d.feed(0, chunk.Delete, wrow("a", 0, 1))
	d.feed(0, chunk.Insert, wrow("a", 0, 2))
	d.feed(1, chunk.Delete, wrow("max", 0, 1))
	d.feed(1, chunk.Insert, wrow("max", 0, 2))
	d.expect("a @0 2 max @0 2\na @10 1 max @10 1")

	// The watermark at 10s closes window [0, 10): its state goes, the
	// other window's stays.
	d.watermark(sec(9.999))
	if op.side[0].len() != 2 || op.side[1].len() != 2 {
		t.Fatalf("state freed early: %d/%d keys", op.side[0].len(), op.side[1].len())
	}
	d.watermark(sec(10))
	if op.side[0].len() != 1 || op.side[1].len() != 1 {
		t.Fatalf("closed window kept: %d/%d keys", op.side[0].len(), op.side[1].len())
	}
	d.expect("a @0 2 max @0 2\na @10 1 max @10 1")
	d.watermark(sec(100))
	if op.side[0].len()+op.side[1].len() != 0 || op.bytes != 0 {
		t.Fatalf("state after every window closed: %d+%d keys, %d bytes", op.side[0].len(), op.side[1].len(), op.bytes)
	}
}

func TestWindowJoinLeft(t *testing.T) {
	h := newHarness(t, Config{})
	j := h.e.newJob("t", "view")
	op, err := newWindowJoinOp(j, windowJoinPlan(plan.LeftJoin, true, nil))
	if err != nil {
		t.Fatal(err)
	}
	d := newOpDriver(t, j, op, 6)
	d.feed(0, chunk.Insert, wrow("a", 0, 1), wrow("b", 0, 2))
	d.feed(1, chunk.Insert, wrow("a", 0, 5), wrow("a", 10, 6))
	d.expect("a @0 1 a @0 5\nb @0 2 NULL NULL NULL")
	d.feed(1, chunk.Delete, wrow("a", 0, 5))
	d.expect("a @0 1 NULL NULL NULL\nb @0 2 NULL NULL NULL")
	d.watermark(sec(10))
	if op.side[0].len() != 0 || op.side[1].len() != 1 {
		t.Fatalf("after the first window closed: %d/%d keys", op.side[0].len(), op.side[1].len())
	}
}

func TestWindowJoinNeedsWindowKey(t *testing.T) {
	h := newHarness(t, Config{})
	j := h.e.newJob("t", "view")
	p := windowJoinPlan(plan.InnerJoin, true, nil)
	p.LeftWindow = 2
	if _, err := newWindowJoinOp(j, p); err == nil {
		t.Fatal("a window column outside the keys was accepted")
	}
}

func TestWindowJoinSnapshotRestore(t *testing.T) {
	h := newHarness(t, Config{})
	j := h.e.newJob("t", "view")
	p := windowJoinPlan(plan.InnerJoin, true, nil)
	op, err := newWindowJoinOp(j, p)
	if err != nil {
		t.Fatal(err)
	}
	d := newOpDriver(t, j, op, 6)
	d.feed(0, chunk.Insert, wrow("a", 0, 1), wrow("a", 10, 2))
	b, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	op2, err := newWindowJoinOp(j, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := op2.Restore(b); err != nil {
		t.Fatal(err)
	}
	d2 := newOpDriver(t, j, op2, 6)
	d2.feed(1, chunk.Insert, wrow("a", 0, 5), wrow("a", 10, 6))
	d2.expect("a @0 1 a @0 5\na @10 2 a @10 6")
	// The restored windows are still freed by the watermark.
	d2.watermark(sec(10))
	if op2.side[0].len() != 1 || op2.side[1].len() != 1 {
		t.Fatalf("after restore, the closed window kept %d/%d keys", op2.side[0].len(), op2.side[1].len())
	}
}

func TestWindowJoinOpenWindows(t *testing.T) {
	h := newHarness(t, Config{})
	j := h.e.newJob("t", "view")
	op, err := newWindowJoinOp(j, windowJoinPlan(plan.InnerJoin, true, nil))
	if err != nil {
		t.Fatal(err)
	}
	d := newOpDriver(t, j, op, 6)
	d.feed(0, chunk.Insert, wrow("a", 0, 1), wrow("a", 10, 2))
	d.feed(1, chunk.Insert, wrow("b", 10, 1), wrow("b", 20, 2))
	if n := op.stats.openWindows.Load(); n != 3 {
		t.Fatalf("open windows %d, want 3", n)
	}
	// A window whose rows were all retracted holds nothing: not open, and
	// open again when a row comes back.
	d.feed(1, chunk.Delete, wrow("b", 20, 2))
	if n := op.stats.openWindows.Load(); n != 2 {
		t.Fatalf("open windows %d after the last row of [20, 30) was retracted, want 2", n)
	}
	d.feed(1, chunk.Insert, wrow("b", 20, 3))
	if n := op.stats.openWindows.Load(); n != 3 {
		t.Fatalf("open windows %d after a row of [20, 30) came back, want 3", n)
	}
	d.watermark(sec(20))
	if n := op.stats.openWindows.Load(); n != 1 {
		t.Fatalf("open windows %d after the watermark, want 1", n)
	}
	// A snapshot restores the count: a retracted window stays closed.
	d.feed(0, chunk.Delete, wrow("a", 10, 2)) // closed already: ignored
	d.feed(1, chunk.Delete, wrow("b", 20, 3))
	b, err := op.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	op2, err := newWindowJoinOp(j, windowJoinPlan(plan.InnerJoin, true, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := op2.Restore(b); err != nil {
		t.Fatal(err)
	}
	if n := op2.stats.openWindows.Load(); n != 0 {
		t.Fatalf("restored open windows %d, want 0", n)
	}
}
