package exec

import (
	"fmt"
	"testing"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// groupAggPlan is an updating GROUP BY k with count(*) and sum(v).
func groupAggPlan(in plan.Node) *plan.GroupAgg {
	return &plan.GroupAgg{Input: in, GroupBy: []expr.Expr{col(0, "k", types.TText)},
		Aggs: []plan.AggCall{countStar(), sumOf(col(1, "v", types.TInt64))},
		Cols: types.Schema{{Name: "k", Type: types.TText}, {Name: "n", Type: types.TInt64}, {Name: "s", Type: types.TInt64}}}
}

func parRunToEnd(t *testing.T, par, total int, withCheckpoints bool) (map[string]string, string, *ckRun) {
	t.Helper()
	g := newGate(t, total)
	gateMu.Lock()
	name := fmt.Sprintf("%s/p%d/%v", g, par, withCheckpoints)
	gates[name] = &gate{total: total, limit: total}
	gateMu.Unlock()
	cfg := Config{Parallelism: par}
	if withCheckpoints {
		cfg.CheckpointDir = t.TempDir()
	}
	sink := &memSink{}
	r := startCkRunCfg(t, cfg, name, sink)
	if err := r.e.StartView(r.e.ctx, &plan.Materialize{Input: groupAggPlan(genScan(name)), Name: "groups", Key: []int{0}}); err != nil {
		t.Fatal(err)
	}
	r.waitDone()
	out := r.contents()
	_, rows, err := r.e.Snapshot("groups")
	if err != nil {
		t.Fatal(err)
	}
	out["groups"] = renderRows(rows)
	return out, sink.rows(), r
}

func TestParallelResultsEqualOneWorker(t *testing.T) {
	want, wantSink, r1 := parRunToEnd(t, 1, 5000, false)
	r1.crash()
	for _, par := range []int{2, 3} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			got, gotSink, r := parRunToEnd(t, par, 5000, false)
			defer r.crash()
			nodes := 0
			r.e.mu.Lock()
			for _, n := range r.e.jobs["tumble"].nodes {
				if n.name == "window-agg 1" {
					nodes++
				}
			}
			r.e.mu.Unlock()
			if nodes != 1 {
				t.Fatal("the window aggregate did not run as copies")
			}
			for name, w := range want {
				if got[name] != w {
					t.Errorf("%s at parallelism %d differs from one worker:\n%s", name, par, diffLines(got[name], w))
				}
			}
			if gotSink != wantSink {
				t.Errorf("sink at parallelism %d differs:\n%s", par, diffLines(gotSink, wantSink))
			}
		})
	}
}

func TestParallelCheckpointRestore(t *testing.T) {
	want, _, r1 := parRunToEnd(t, 2, 3000, false)
	r1.crash()
	dir := t.TempDir()
	g := newGate(t, 3000)
	cfg := Config{Parallelism: 2, CheckpointDir: dir}
	r := startCkRunCfg(t, cfg, g, nil)
	getGate(g).set(1234)
	r.waitRead(1234)
	r.checkpoint()
	getGate(g).set(2000)
	r.waitRead(2000)
	r.crash()
	getGate(g).set(3000)
	r = startCkRunCfg(t, cfg, g, nil)
	defer r.crash()
	if len(r.e.Recoveries()) != len(ckViews) {
		t.Fatalf("recoveries %+v", r.e.Recoveries())
	}
	r.waitDone()
	got := r.contents()
	for _, v := range ckViews {
		if got[v.name] != want[v.name] {
			t.Errorf("%s differs:\n%s", v.name, diffLines(got[v.name], want[v.name]))
		}
	}
}
