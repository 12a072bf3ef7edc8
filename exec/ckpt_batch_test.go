package exec

import (
	"context"
	"testing"
	"time"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// An updating GROUP BY (a batching operator) must emit when its input
// runs dry even when checkpoints wrap its node: no barrier ever comes in
// this test, so a result that waited for one would never be seen. The
// same holds behind a shuffle (parallelism 2).
func TestBatchingOperatorFlushesWithCheckpoints(t *testing.T) {
	for _, par := range []int{1, 2} {
		h := newHarness(t, Config{CheckpointDir: t.TempDir(), CheckpointInterval: time.Hour, Parallelism: par})
		src := h.table("ev", events, nil)
		g := &plan.GroupAgg{Input: src, GroupBy: []expr.Expr{col(0, "k", types.TText)}, Aggs: []plan.AggCall{countStar()},
			Cols: types.Schema{{Name: "k", Type: types.TText}, {Name: "n", Type: types.TInt64}}}
		h.view(g, "g", []int{0})
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a hang guard, not a timing check
		sub, err := h.e.Subscribe(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		h.insert("ev", ev("a", 1, 1), ev("a", 2, 2), ev("b", 3, 3))
		seen := map[string]int64{}
		for seen["a"] != 2 || seen["b"] != 1 {
			u, err := sub.Next(ctx)
			if err != nil {
				t.Fatalf("parallelism %d: no update without a barrier: %v (seen %v)", par, err, seen)
			}
			if !u.IsProgress && u.Op > 0 {
				seen[u.Row[0].S] = u.Row[1].I
			}
		}
		sub.Close()
		cancel()
	}
}

// An idle view's operator keeps its last checkpoint part: barriers that
// repeat the same watermark do not re-encode its state; new rows do.
func TestIdleOperatorKeepsItsCheckpointPart(t *testing.T) {
	h := newHarness(t, Config{CheckpointDir: t.TempDir(), CheckpointInterval: -1})
	src := h.table("ev", events, &plan.Watermark{Col: 2})
	g := &plan.GroupAgg{Input: src, GroupBy: []expr.Expr{col(0, "k", types.TText)}, Aggs: []plan.AggCall{countStar()},
		Cols: types.Schema{{Name: "k", Type: types.TText}, {Name: "n", Type: types.TInt64}}}
	h.view(g, "g", []int{0})
	h.insert("ev", ev("a", 1, 1), ev("b", 2, 2))
	h.flush()
	h.flush()
	h.e.mu.Lock()
	ops := h.e.jobs["g"].ck.ops
	h.e.mu.Unlock()
	if len(ops) == 0 {
		t.Fatal("no checkpointed operators")
	}
	since := func() uint64 { return ops[len(ops)-1].since }
	first := since()
	for range 3 {
		h.flush()
	}
	if got := since(); got != first {
		t.Fatalf("idle operator re-encoded its state: part since epoch %d, was %d", got, first)
	}
	h.insert("ev", ev("a", 3, 3))
	h.flush()
	if got := since(); got == first {
		t.Fatalf("operator part not renewed after new rows (since %d)", got)
	}
	h.expect("g", "a 2\nb 1")
}

// The checkpoint wrapper hides none of the optional hooks of the operator
// it runs, and offers none that operator lacks.
func TestCheckpointWrapperKeepsOptionalHooks(t *testing.T) {
	wrap := func(op operator) operator { return &ckptOp{operator: op} }
	for _, c := range []struct {
		name       string
		op         operator
		batch, sel bool
	}{
		{"group by", &groupAggOp{}, true, true},
		{"window", &windowAggOp{}, true, true},
		{"session", &sessionOp{}, true, true},
		{"filter", &filterOp{}, false, false},
	} {
		_, directB := c.op.(batcher)
		_, directS := c.op.(selReceiver)
		if directB != c.batch || directS != c.sel {
			t.Fatalf("%s: the test's expectations are stale (batcher %v, selReceiver %v)", c.name, directB, directS)
		}
		if _, ok := has[batcher](wrap(c.op)); ok != c.batch {
			t.Errorf("%s behind checkpoints: batcher = %v, want %v", c.name, ok, c.batch)
		}
		if _, ok := has[selReceiver](wrap(c.op)); ok != c.sel {
			t.Errorf("%s behind checkpoints: selReceiver = %v, want %v", c.name, ok, c.sel)
		}
	}
}
