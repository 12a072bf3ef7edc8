package exec

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// TestCloseLeavesNoGoroutines runs views, a subscription, a dropped view and
// a failed job, closes the engine and checks that every goroutine it
// started has ended.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	clock := NewFakeClock(t0)
	e := NewEngine(Config{Clock: clock, BarrierInterval: time.Second})
	ctx := context.Background()
	if err := e.AddTable("ev", events, &plan.Watermark{Col: 2}); err != nil {
		t.Fatal(err)
	}
	src := &plan.Scan{Name: "ev", Kind: plan.RelTable, Cols: events, NumPhysical: 3, Watermark: &plan.Watermark{Col: 2}}
	for _, name := range []string{"a", "b"} {
		w := windowAgg(src, plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(5)}, plan.EmitOnUpdate, 0)
		if err := e.StartView(ctx, &plan.Materialize{Input: w, Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.StartView(ctx, &plan.Materialize{Input: &plan.Filter{Input: src, Pred: panicExpr{}}, Name: "bad"}); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sub, err := e.Subscribe(sctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Insert(ctx, "ev", []types.Row{ev("x", 1, 1), ev("x", 1, 2)}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * time.Second)
	_ = e.Flush(ctx)
	if _, err := sub.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Drop("b"); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 500 {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before, %d after close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(2 * time.Millisecond) // let exited goroutines be reaped
	}
}
