package exec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// joinViews are the views of the join recovery test, over two scans of the
// same checkpoint test stream (ckgen).
func joinViews(gateName string) map[string]plan.Node {
	both := append(append(types.Schema{}, events...), events...)
	// Left rows with an odd v+13 find no partner among the even right rows.
	mod, err := expr.NewArith(expr.Mod, col(1, "v", types.TInt64), &expr.Const{V: types.NewInt(2), T: types.TInt64})
	if err != nil {
		panic(err)
	}
	even, err := expr.NewCmp(expr.EQ, mod, &expr.Const{V: types.NewInt(0), T: types.TInt64})
	if err != nil {
		panic(err)
	}
	// The right row 13 events later has the same key: pairs span
	// checkpoints, so the left rows must come back from them.
	plus, err := expr.NewArith(expr.Add, col(1, "v", types.TInt64), &expr.Const{V: types.NewInt(13), T: types.TInt64})
	if err != nil {
		panic(err)
	}
	next, err := expr.NewCmp(expr.EQ, col(4, "v", types.TInt64), plus)
	if err != nil {
		panic(err)
	}
	k := []expr.Expr{col(0, "k", types.TText)}
	win := func() *plan.WindowAgg {
		return windowAgg(genScan(gateName), plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(5)}, plan.EmitOnUpdate, 0)
	}
	wl, wr := win(), win()
	wk := []expr.Expr{col(0, "k", types.TText), col(1, "window_start", types.TTimestamp)}
	return map[string]plan.Node{
		"inner": &plan.StreamJoin{Left: genScan(gateName), Right: genScan(gateName), Kind: plan.InnerJoin,
			LeftKey: k, RightKey: k, Residual: next, Cols: both},
		"left": &plan.StreamJoin{Left: genScan(gateName), Right: &plan.Filter{Input: genScan(gateName), Pred: even}, Kind: plan.LeftJoin,
			LeftKey: k, RightKey: k, Residual: next, Cols: both},
		"window": &plan.WindowJoin{Left: wl, Right: wr, Kind: plan.InnerJoin, LeftKey: wk, RightKey: wk,
			LeftWindow: 1, RightWindow: 1, Expire: micros(5), Cols: append(append(types.Schema{}, wl.Cols...), wr.Cols...)},
	}
}

func startJoinRun(t *testing.T, dir, gateName string) *ckRun {
	t.Helper()
	clock := NewFakeClock(t0)
	e := NewEngine(Config{CheckpointDir: dir, Clock: clock, BarrierInterval: -1, CheckpointInterval: time.Hour, CheckpointNoSync: true})
	for name, p := range joinViews(gateName) {
		if err := e.StartView(context.Background(), &plan.Materialize{Input: p, Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	return &ckRun{t: t, e: e, clock: clock}
}

func joinContents(t *testing.T, r *ckRun) map[string]string {
	out := map[string]string{}
	for name := range joinViews("") {
		_, rows, err := r.e.Snapshot(name)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = renderRows(rows)
	}
	return out
}

// TestJoinRecoveryEqualsUninterruptedRun crashes and restarts the engine
// several times at random points after checkpoints; the stream, left and
// window joins must end with the contents of an uninterrupted run (their
// state comes back from the checkpoint, the sources resume after it).
func TestJoinRecoveryEqualsUninterruptedRun(t *testing.T) {
	ref := newGate(t, ckTotal)
	getGate(ref).set(ckTotal)
	rr := startJoinRun(t, t.TempDir(), ref)
	rr.waitDone()
	want := joinContents(t, rr)
	rr.crash()
	if strings.Count(want["inner"], "\n") < ckTotal/2 || !strings.Contains(want["left"], "NULL") || strings.Count(want["window"], "\n") < 100 {
		t.Fatalf("reference run too small: %d inner, %d window rows", strings.Count(want["inner"], "\n"), strings.Count(want["window"], "\n"))
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 2 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			dir := t.TempDir()
			g := newGate(t, ckTotal)
			read := 0
			for life := range 3 {
				r := startJoinRun(t, dir, g)
				ck := read + 1 + rng.IntN(ckTotal/8)
				getGate(g).set(ck)
				r.waitRead(ck)
				r.checkpoint()
				read = ck + rng.IntN(ckTotal/8)
				getGate(g).set(read)
				r.waitRead(read)
				r.crash()
				if life > 0 && len(r.e.Recoveries()) != 3 {
					t.Fatalf("life %d restored %d jobs, want 3", life, len(r.e.Recoveries()))
				}
			}
			getGate(g).set(ckTotal)
			r := startJoinRun(t, dir, g)
			r.waitDone()
			got := joinContents(t, r)
			for name := range want {
				if got[name] != want[name] {
					t.Errorf("view %s differs from the uninterrupted run:\n%s", name, diffLines(got[name], want[name]))
				}
			}
			r.crash()
		})
	}
}
