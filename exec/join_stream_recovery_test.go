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
	counts := groupAggPlan(genScan(gateName)) // k, n, s: updated (retracted) with each row
	return map[string]plan.Node{
		// Each key's rows are 1.3 s apart: a left row meets the key's next
		// row or two on the right; the last ones meet none (NULL-padded
		// when the watermark frees them).
		"interval": &plan.IntervalJoin{Left: genScan(gateName), Right: genScan(gateName), Kind: plan.LeftJoin,
			LeftKey: k, RightKey: k, LeftTime: 2, RightTime: 2, LowerBound: micros(0.1), UpperBound: micros(3),
			Cols: both},
		// Every count the right side retracts retracts the joined rows.
		"left-updating": &plan.StreamJoin{Left: &plan.Filter{Input: genScan(gateName), Pred: even}, Right: counts, Kind: plan.LeftJoin,
			LeftKey: k, RightKey: k, Cols: append(append(types.Schema{}, events...), counts.Cols...)},
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
	return startJoinRunCfg(t, Config{CheckpointDir: dir}, gateName)
}

func startJoinRunCfg(t *testing.T, cfg Config, gateName string) *ckRun {
	t.Helper()
	clock := NewFakeClock(t0)
	cfg.Clock, cfg.BarrierInterval, cfg.CheckpointInterval, cfg.CheckpointNoSync = clock, -1, time.Hour, true
	e := NewEngine(cfg)
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

// checkJoinReference fails the test when the uninterrupted run's join
// views are too small to show anything.
func checkJoinReference(t *testing.T, want map[string]string) {
	t.Helper()
	lines := func(v string) int { return strings.Count(want[v], "\n") }
	if lines("inner") < ckTotal/2 || !strings.Contains(want["left"], "NULL") || lines("window") < 100 ||
		lines("interval") < ckTotal || !strings.Contains(want["interval"], "NULL") ||
		lines("left-updating") < ckTotal/3 {
		t.Fatalf("reference run too small: %d inner, %d window, %d interval, %d left-updating rows",
			lines("inner"), lines("window"), lines("interval"), lines("left-updating"))
	}
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
	checkJoinReference(t, want)
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
				if n := len(joinViews("")); life > 0 && len(r.e.Recoveries()) != n {
					t.Fatalf("life %d restored %d jobs, want %d", life, len(r.e.Recoveries()), n)
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

// joinReference runs the join views uninterrupted at parallelism par and
// returns their contents.
func joinReference(t *testing.T, par int) map[string]string {
	t.Helper()
	g := newGate(t, ckTotal)
	getGate(g).set(ckTotal)
	r := startJoinRunCfg(t, Config{Parallelism: par}, g)
	defer r.crash()
	r.waitDone()
	return joinContents(t, r)
}

// TestParallelJoinsEqualOneWorker: at a parallelism above 1 every join
// with equal keys runs as copies behind a shuffle per input, and its
// results equal one worker's.
func TestParallelJoinsEqualOneWorker(t *testing.T) {
	want := joinReference(t, 1)
	checkJoinReference(t, want)
	for _, par := range []int{2, 3} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			g := newGate(t, ckTotal)
			getGate(g).set(ckTotal)
			r := startJoinRunCfg(t, Config{Parallelism: par}, g)
			defer r.crash()
			r.waitDone()
			r.e.mu.Lock()
			for job, copy1 := range map[string]string{"inner": "stream-join 1", "left-updating": "stream-join 1",
				"window": "window-join 1", "interval": "interval-join 1"} {
				copies, shuffles := 0, 0
				for _, n := range r.e.jobs[job].nodes {
					switch {
					case n.name == copy1:
						copies++
					case strings.HasSuffix(n.name, "-join shuffle left"), strings.HasSuffix(n.name, "-join shuffle right"):
						shuffles++
					}
				}
				if copies != 1 || shuffles != 2 {
					t.Errorf("%s: its join did not run as copies behind two shuffles (%d, %d)", job, copies, shuffles)
				}
			}
			r.e.mu.Unlock()
			got := joinContents(t, r)
			for name, w := range want {
				if got[name] != w {
					t.Errorf("%s at parallelism %d differs from one worker:\n%s", name, par, diffLines(got[name], w))
				}
			}
		})
	}
}

// TestJoinParallelismChangeKeepsState restarts the join views checkpointed
// at one parallelism with another: each join's rows of both inputs are
// repartitioned among the new copies (restoreRescaled), and the views end
// as an uninterrupted run's.
func TestJoinParallelismChangeKeepsState(t *testing.T) {
	want := joinReference(t, 1)
	for _, c := range [][2]int{{1, 3}, {3, 2}, {2, 1}} {
		t.Run(fmt.Sprintf("%d-to-%d", c[0], c[1]), func(t *testing.T) {
			dir := t.TempDir()
			g := newGate(t, ckTotal)
			r := startJoinRunCfg(t, Config{Parallelism: c[0], CheckpointDir: dir}, g)
			for _, at := range []int{1700, 2600} { // a base, then deltas
				getGate(g).set(at)
				r.waitRead(at)
				r.checkpoint()
			}
			getGate(g).set(3100) // read past the checkpoint: replayed
			r.waitRead(3100)
			r.crash()

			getGate(g).set(4000)
			r = startJoinRunCfg(t, Config{Parallelism: c[1], CheckpointDir: dir}, g)
			if n := len(r.e.Recoveries()); n != len(want) {
				t.Fatalf("%d of %d jobs restored their checkpoints", n, len(want))
			}
			r.waitRead(4000)
			r.checkpoint() // at the new parallelism
			r.crash()

			getGate(g).set(ckTotal)
			r = startJoinRunCfg(t, Config{Parallelism: c[1], CheckpointDir: dir}, g)
			defer r.crash()
			if n := len(r.e.Recoveries()); n != len(want) {
				t.Fatalf("second restart: %d of %d jobs restored their checkpoints", n, len(want))
			}
			r.waitDone()
			got := joinContents(t, r)
			for name, w := range want {
				if got[name] != w {
					t.Errorf("%s differs from the uninterrupted run:\n%s", name, diffLines(got[name], w))
				}
			}
			for _, st := range r.e.ViewStats() {
				if st.Parallelism != c[1] {
					t.Errorf("%s runs at parallelism %d, want %d", st.Name, st.Parallelism, c[1])
				}
			}
		})
	}
}
