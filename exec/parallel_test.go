package exec

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/sluice-db/sluice/exec/chunk"
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

// TestShuffleRouting checks the shuffle on its own: every row goes to the
// copy (key hash >> 17) mod copies — the routing checkpoints depend on, so
// a restored copy gets the keys of its state — in arrival order, gathered
// rows go out before a control message and when the input runs dry, and
// control messages reach every copy.
func TestShuffleRouting(t *testing.T) {
	neg, err := expr.NewNeg(col(1, "v", types.TInt64))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		par  int
		keys []expr.Expr
	}{
		{"columns/2", 2, []expr.Expr{col(0, "k", types.TText), col(1, "v", types.TInt64)}},
		{"columns/3", 3, []expr.Expr{col(0, "k", types.TText), col(1, "v", types.TInt64)}},
		{"expression/3", 3, []expr.Expr{col(0, "k", types.TText), neg}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			par, keys := tc.par, tc.keys
			sh := newShuffleOp(ctx, newKeyEval(keys), par)
			chans := make([]chan envelope, par)
			for i := range chans {
				chans[i] = make(chan envelope, 1000)
				sh.outs = append(sh.outs, outlet{ch: chans[i], in: i})
			}
			var em emitter
			// 2500 rows in chunks of 700: more than a copy's chunk holds,
			// and chunks that end between its sends.
			var sent []types.Row
			for start := 0; start < 2500; start += 700 {
				c := chunk.New(3, 700)
				for x := start; x < min(start+700, 2500); x++ {
					row := types.Row{types.NewText("key-" + strconv.Itoa(x%37)), types.NewInt(int64(x % 5)), types.NewInt(int64(x))}
					c.Append(chunk.Insert, int64(x), row)
					sent = append(sent, row)
				}
				if err := sh.OnData(0, c, &em); err != nil {
					t.Fatal(err)
				}
			}
			if err := sh.OnControl(chunk.Message{Kind: chunk.Watermark, Watermark: 42}); err != nil {
				t.Fatal(err)
			}
			ke := newKeyEval(keys)
			for i, ch := range chans {
				var want []int64
				for _, row := range sent {
					if _, h, _ := ke.eval(row); int((h>>17)%uint64(par)) == i {
						want = append(want, row[2].I)
					}
				}
				var got []int64
				for len(ch) > 0 {
					env := <-ch
					if env.in != i {
						t.Fatalf("copy %d got a message for input %d", i, env.in)
					}
					if env.msg.Kind == chunk.Watermark {
						if env.msg.Watermark != 42 || len(ch) != 0 {
							t.Fatalf("copy %d: watermark %d with %d messages after it", i, env.msg.Watermark, len(ch))
						}
						got = append(got, -1)
						continue
					}
					c := env.msg.Chunk
					if c.Len() > chunkRows {
						t.Fatalf("copy %d got a chunk of %d rows", i, c.Len())
					}
					for r := range c.Len() {
						if c.Times[r] != c.Row(r)[2].I || c.Ops[r] != chunk.Insert {
							t.Fatalf("copy %d: row %v has time %d op %v", i, c.Row(r), c.Times[r], c.Ops[r])
						}
						got = append(got, c.Row(r)[2].I)
					}
				}
				want = append(want, -1) // the watermark, after every row
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("copy %d got rows %v\nwant %v", i, got, want)
				}
			}
			// A lone row waits for the input to run dry.
			c := chunk.New(3, 1)
			c.Append(chunk.Delete, 7, sent[0])
			if err := sh.OnData(0, c, &em); err != nil {
				t.Fatal(err)
			}
			queued := 0
			for _, ch := range chans {
				queued += len(ch)
			}
			if queued != 0 {
				t.Fatalf("%d messages sent before the input ran dry", queued)
			}
			if err := sh.FlushBatch(&em); err != nil {
				t.Fatal(err)
			}
			_, h, _ := ke.eval(sent[0])
			ch := chans[(h>>17)%uint64(par)]
			if len(ch) != 1 {
				t.Fatalf("the lone row's copy has %d messages", len(ch))
			}
			if env := <-ch; env.msg.Chunk.Len() != 1 || env.msg.Chunk.Ops[0] != chunk.Delete {
				t.Fatalf("lone row: %+v", env.msg.Chunk)
			}
		})
	}
}

// TestShuffleMoreRuns checks that the chunks the shuffle sends while its
// input's batch goes on (chunk.More) carry More, and that every copy's
// run of them ends — with its gathered rows or an empty chunk — when the
// batch ends.
func TestShuffleMoreRuns(t *testing.T) {
	const par = 2
	keys := []expr.Expr{col(0, "k", types.TText)}
	sh := newShuffleOp(context.Background(), newKeyEval(keys), par)
	chans := make([]chan envelope, par)
	for i := range chans {
		chans[i] = make(chan envelope, 1000)
		sh.outs = append(sh.outs, outlet{ch: chans[i], in: i})
	}
	var em emitter
	x := 0
	feed := func(rows int, more bool) {
		c := chunk.New(3, rows)
		for range rows {
			c.Append(chunk.Insert, int64(x), types.Row{types.NewText("key-" + strconv.Itoa(x%11)), types.NewInt(0), types.NewInt(int64(x))})
			x++
		}
		em.more = more
		if err := sh.OnData(0, c, &em); err != nil {
			t.Fatal(err)
		}
	}
	// drain returns the messages queued for copy k: data chunks as their
	// row count, negated when the chunk has More.
	drain := func(k int) []int {
		var got []int
		for len(chans[k]) > 0 {
			c := (<-chans[k]).msg.Chunk
			if c.More {
				got = append(got, -c.Len())
			} else {
				got = append(got, c.Len())
			}
		}
		return got
	}
	// A batch of 5000 rows in chunks of 1000: each copy fills chunks of
	// chunkRows rows while the batch goes on.
	for i := range 5 {
		feed(1000, i < 4)
	}
	sawMore := false
	for k := range par {
		got := drain(k)
		for i, n := range got {
			if n < 0 {
				sawMore = true
				if i == len(got)-1 && sh.bufs[k] == nil {
					t.Errorf("copy %d: the batch ended, its run did not: %v", k, got)
				}
			}
		}
	}
	if !sawMore {
		t.Fatal("no chunk carried More while the batch went on")
	}
	if err := sh.FlushBatch(&em); err != nil {
		t.Fatal(err)
	}
	for k := range par {
		if got := drain(k); len(got) == 0 || got[len(got)-1] < 0 {
			t.Errorf("copy %d after the flush: %v", k, got)
		}
	}
	// A run that ends while a copy has nothing gathered: an empty chunk.
	feed(2*chunkRows+par*chunkRows, true)
	for k := range par {
		drain(k)
		putChunk(sh.bufs[k]) // as if every row had gone out in full chunks
		sh.bufs[k] = nil
	}
	feed(0, false)
	for k := range par {
		if got := drain(k); fmt.Sprint(got) != "[0]" {
			t.Errorf("copy %d: the end of its run was %v, want one empty chunk", k, got)
		}
	}
}
