package exec

import (
	"context"
	"errors"
	"testing"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/sqlerr"
)

// TestStuckSubscriberIsDroppedAtItsBound subscribes to a view and never
// reads while the view changes: once more than Config.SubscriberQueue
// updates wait, the subscriber is dropped with a clear error, its queue
// freed, and the view goes on. A subscriber that keeps up stays, however
// many updates pass.
func TestStuckSubscriberIsDroppedAtItsBound(t *testing.T) {
	const bound = 50
	h := newHarness(t, Config{SubscriberQueue: bound})
	src := h.table("ev", events, &plan.Watermark{Col: 2})
	h.view(src, "v", nil)
	h.insert("ev", ev("a", 0, 0), ev("b", 0, 0))
	h.flush()
	ctx := context.Background()
	stuck, err := h.e.Subscribe(ctx, "v")
	if err != nil {
		t.Fatal(err)
	}
	live, err := h.e.Subscribe(ctx, "v")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	read := 0
	for i := range 4 * bound {
		h.insert("ev", ev("k", int64(i), float64(i)))
		h.flush()
		for live.Ready() {
			if _, err := live.Next(ctx); err != nil {
				t.Fatalf("a subscriber that keeps up got %v", err)
			}
			read++
		}
	}
	if read < 4*bound {
		t.Fatalf("the live subscriber read %d updates", read)
	}
	_, err = stuck.Next(ctx)
	if !errors.Is(err, ErrSubscriberTooSlow) || sqlerr.Code(err) != sqlerr.ProgramLimitExceeded {
		t.Fatalf("stuck subscriber: got %v (code %s), want ErrSubscriberTooSlow with SQLSTATE 54000", err, sqlerr.Code(err))
	}
	stuck.mu.Lock()
	queued := len(stuck.q)
	stuck.mu.Unlock()
	if queued != 0 {
		t.Fatalf("a dropped subscriber still holds %d updates", queued)
	}
	r, _ := h.e.rel("v")
	r.pubMu.Lock()
	n := len(r.subs)
	r.pubMu.Unlock()
	if n != 1 {
		t.Fatalf("the view still has %d subscribers, want only the live one", n)
	}
	if got := h.rows("v"); got == "" {
		t.Fatal("the view stopped")
	}
}
