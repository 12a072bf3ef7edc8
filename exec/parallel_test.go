package exec

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
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
			r.e.mu.Lock()
			for job, copy1 := range map[string]string{"tumble": "window-agg 1", "groupby": "group-agg 1", "dedup": "dedup 1", "topn": "top-n 1"} {
				nodes := 0
				for _, n := range r.e.jobs[job].nodes {
					if n.name == copy1 {
						nodes++
					}
				}
				if nodes != 1 {
					t.Errorf("%s: its keyed operator did not run as copies", job)
				}
			}
			r.e.mu.Unlock()
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

// TestParallelismChangeKeepsState restarts jobs checkpointed at one
// parallelism with another configured: each job runs at the new one, its
// keyed state repartitioned among the new copies from the old copies'
// bases and deltas (restoreRescaled), checkpoints at it and restores from
// that, and ends with the same results as an uninterrupted run; so does a
// sink's committed output (exactly once).
func TestParallelismChangeKeepsState(t *testing.T) {
	for _, c := range [][2]int{{2, 1}, {1, 3}, {2, 3}, {3, 2}} {
		t.Run(fmt.Sprintf("%d-to-%d", c[0], c[1]), func(t *testing.T) {
			want, wantSink, r1 := parRunToEnd(t, c[0], 3000, false)
			r1.crash()
			dir := t.TempDir()
			g := newGate(t, 3000)
			sink := &memSink{} // the tumble's rows, exactly once per epoch across the lives
			r := startCkRunCfg(t, Config{Parallelism: c[0], CheckpointDir: dir}, g, sink)
			getGate(g).set(1100)
			r.waitRead(1100)
			r.checkpoint()       // mid-bucket: the dedup's keys (k, v / 500) go on after it
			getGate(g).set(1730) // a second checkpoint: the state as a base and deltas
			r.waitRead(1730)
			r.checkpoint()
			getGate(g).set(1900) // read past the checkpoint: replayed after the restart
			r.waitRead(1900)
			r.crash()

			getGate(g).set(2300)
			r = startCkRunCfg(t, Config{Parallelism: c[1], CheckpointDir: dir}, g, sink)
			if n := len(r.e.Recoveries()); n != len(ckViews)+1 {
				t.Fatalf("%d of %d jobs restored their checkpoints", n, len(ckViews)+1)
			}
			r.e.mu.Lock()
			for name, j := range r.e.jobs {
				if j.par != c[1] {
					t.Errorf("job %s runs at parallelism %d, want the configured %d", name, j.par, c[1])
				}
			}
			r.e.mu.Unlock()
			r.waitRead(2300)
			r.checkpoint() // at the new parallelism
			r.crash()

			getGate(g).set(3000)
			r = startCkRunCfg(t, Config{Parallelism: c[1], CheckpointDir: dir}, g, sink)
			defer r.crash()
			if n := len(r.e.Recoveries()); n != len(ckViews)+1 {
				t.Fatalf("second restart: %d of %d jobs restored their checkpoints", n, len(ckViews)+1)
			}
			r.waitDone()
			checkSameAsUninterrupted(t, r.contents(), want, sink.rows(), wantSink)
			for _, st := range r.e.ViewStats() {
				if st.RowsIn != 3000 {
					t.Errorf("%s: rows_in %d after the restarts, want 3000", st.Name, st.RowsIn)
				}
			}
		})
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
					if env.sel == nil {
						t.Fatalf("copy %d got a chunk without a selection", i)
					}
					for x, r := range env.sel.rows {
						_, h, _ := ke.eval(env.msg.Chunk.Row(int(r)))
						if env.sel.routed().hashes[r] != h {
							t.Fatalf("copy %d: row %d has hash %x, want %x", i, r, env.sel.routed().hashes[r], h)
						}
						if x > 0 && env.sel.rows[x-1] >= r {
							t.Fatalf("copy %d: selection out of order: %v", i, env.sel.rows)
						}
					}
					c := env.sel.compact()
					env.sel.release()
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
			// A lone row goes out at once, to its copy only.
			c := chunk.New(3, 1)
			c.Append(chunk.Delete, 7, sent[0])
			if err := sh.OnData(0, c, &em); err != nil {
				t.Fatal(err)
			}
			if !em.passed {
				t.Fatal("the shuffle did not take over its input chunk")
			}
			_, h, _ := ke.eval(sent[0])
			for k, ch := range chans {
				want := 0
				if uint64(k) == (h>>17)%uint64(par) {
					want = 1
				}
				if len(ch) != want {
					t.Fatalf("copy %d has %d messages, want %d", k, len(ch), want)
				}
			}
			env := <-chans[(h>>17)%uint64(par)]
			if got := env.sel.compact(); got.Len() != 1 || got.Ops[0] != chunk.Delete {
				t.Fatalf("lone row: %+v", got)
			}
			env.sel.release()
		})
	}
}

// TestShuffleMoreRuns checks that the chunks the shuffle sends while its
// input's batch goes on (chunk.More) carry More, and that every copy's
// run of them ends — with its rows of the batch's last chunk or an empty
// chunk — when the batch ends.
func TestShuffleMoreRuns(t *testing.T) {
	const par = 2
	keys := []expr.Expr{col(0, "k", types.TText)}
	ke := newKeyEval(keys)
	sh := newShuffleOp(context.Background(), newKeyEval(keys), par)
	chans := make([]chan envelope, par)
	for i := range chans {
		chans[i] = make(chan envelope, 1000)
		sh.outs = append(sh.outs, outlet{ch: chans[i], in: i})
	}
	var em emitter
	x := 0
	feed := func(rows int, more bool, only int) {
		c := chunk.New(3, rows)
		for len(c.Ops) < rows {
			row := types.Row{types.NewText("key-" + strconv.Itoa(x%11)), types.NewInt(0), types.NewInt(int64(x))}
			x++
			if _, h, _ := ke.eval(row); only >= 0 && int((h>>17)%par) != only {
				continue
			}
			c.Append(chunk.Insert, int64(x), row)
		}
		em.more = more
		if err := sh.OnData(0, c, &em); err != nil {
			t.Fatal(err)
		}
	}
	// drain returns the messages queued for copy k: data chunks as their
	// row count, negated when the chunk has More, control messages as
	// controlMsg.
	const controlMsg = 1 << 30
	drain := func(k int) []int {
		var got []int
		for len(chans[k]) > 0 {
			env := <-chans[k]
			if env.msg.Kind != chunk.Data {
				got = append(got, controlMsg)
				continue
			}
			n := env.msg.Chunk.Len()
			more := env.msg.Chunk.More
			if env.sel != nil {
				n = len(env.sel.rows)
				env.sel.release()
			}
			if more {
				got = append(got, -n)
			} else {
				got = append(got, n)
			}
		}
		return got
	}
	// A batch of 5000 rows in chunks of 1000: every copy's chunks but the
	// last carry More.
	for i := range 5 {
		feed(1000, i < 4, -1)
	}
	for k := range par {
		got := drain(k)
		if len(got) != 5 {
			t.Fatalf("copy %d: %v, want a message per input chunk", k, got)
		}
		for i, n := range got {
			if (n < 0) != (i < 4) || n == 0 {
				t.Errorf("copy %d: %v", k, got)
			}
		}
	}
	if err := sh.FlushBatch(&em); err != nil {
		t.Fatal(err)
	}
	for k := range par {
		if got := drain(k); len(got) != 0 {
			t.Errorf("copy %d after the flush: %v", k, got)
		}
	}
	// A run that ends with a chunk without rows for copy 1: it gets an
	// empty chunk, copy 0 its rows.
	feed(100, true, -1)
	feed(100, false, 0)
	if got := drain(0); len(got) != 2 || got[0] >= 0 || got[1] != 100 {
		t.Errorf("copy 0: %v", got)
	}
	if got := drain(1); len(got) != 2 || got[0] >= 0 || got[1] != 0 {
		t.Errorf("copy 1: the end of its run was %v, want its rows and one empty chunk", got)
	}
	// A control message also ends runs: the copies then see no empty chunk.
	feed(100, true, -1)
	if err := sh.OnControl(chunk.Message{Kind: chunk.Watermark, Watermark: 1}); err != nil {
		t.Fatal(err)
	}
	if err := sh.FlushBatch(&em); err != nil {
		t.Fatal(err)
	}
	for k := range par {
		got := drain(k)
		if len(got) != 2 || got[0] >= 0 || got[1] != controlMsg {
			t.Errorf("copy %d: %v", k, got)
		}
	}
}

// TestKeyEvalHashed checks that a copy given what the shuffle routed gets
// the key and hash it would compute itself, for column and expression
// keys.
func TestKeyEvalHashed(t *testing.T) {
	neg, err := expr.NewNeg(col(1, "v", types.TInt64))
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][]expr.Expr{
		{col(0, "k", types.TText), col(1, "v", types.TInt64)},
		{col(0, "k", types.TText), neg},
	} {
		sh := newShuffleOp(context.Background(), newKeyEval(keys), 2)
		sh.outs = make([]outlet, 2)
		c := chunk.New(3, 50)
		for x := range 50 {
			c.Append(chunk.Insert, int64(x), types.Row{types.NewText("key-" + strconv.Itoa(x%7)), types.NewInt(int64(x % 3)), types.NewInt(int64(x))})
		}
		r := &routed{hashes: make([]uint64, c.Len())}
		if _, err := sh.route(c, r); err != nil {
			t.Fatal(err)
		}
		// An expression key travels with its hash, so that a copy does
		// not evaluate it again; a column key is read from the row.
		if exprKey := keys[1] == neg; exprKey != (len(r.keys) == 2*c.Len()) || !exprKey && len(r.keys) != 0 {
			t.Fatalf("routed %d key values for %d rows (expression key %v)", len(r.keys), c.Len(), exprKey)
		}
		ke, kh := newKeyEval(keys), newKeyEval(keys)
		for i := range c.Len() {
			k1, h1, _ := ke.eval(c.Row(i))
			k2, h2, err := kh.evalHashed(c.Row(i), r, i)
			if err != nil {
				t.Fatal(err)
			}
			if h1 != h2 || !types.EqualRows(k1, k2) {
				t.Fatalf("row %d: evalHashed gave %v %x, eval %v %x", i, k2, h2, k1, h1)
			}
		}
	}
}

// TestRescaleToOneKeepsWindowWatermark: a window aggregate restored from
// several old copies into one takes their watermark and next window end:
// set ones after rows, and unset ones (math.MinInt64) from a checkpoint
// taken before any row, not zero values.
func TestRescaleToOneKeepsWindowWatermark(t *testing.T) {
	for _, read := range []int{0, 1500} {
		t.Run(fmt.Sprint(read), func(t *testing.T) {
			dir := t.TempDir()
			g := newGate(t, 3000)
			r := startCkRunCfg(t, Config{Parallelism: 2, CheckpointDir: dir}, g, nil)
			getGate(g).set(read)
			r.waitRead(read)
			r.checkpoint()
			r.crash()
			r = startCkRunCfg(t, Config{Parallelism: 1, CheckpointDir: dir}, g, nil)
			defer r.crash()
			r.e.mu.Lock()
			defer r.e.mu.Unlock()
			for _, name := range []string{"tumble", "hop"} {
				for _, n := range r.e.jobs[name].nodes {
					w, ok := n.op.(*ckptOp)
					if !ok {
						continue
					}
					o, ok := w.operator.(*windowAggOp)
					if !ok {
						continue
					}
					if o.wm != n.inWM {
						t.Errorf("%s: the restored aggregate's watermark is %d, its input's %d", name, o.wm, n.inWM)
					}
					if unset := o.nextEnd == math.MinInt64; name == "hop" && unset != (read == 0) {
						t.Errorf("hop after %d rows: next window end %d", read, o.nextEnd)
					}
				}
			}
		})
	}
}

// TestFingerprintNamesCopiedOperators: the plans whose keyed operators an
// earlier Sluice ran as one node at a parallelism above 1 (dedup, top-N,
// then the joins) have fingerprints of their own there, so such a
// checkpoint is not restored into copies; at parallelism 1 the layout
// never changed, nor did the fingerprint.
func TestFingerprintNamesCopiedOperators(t *testing.T) {
	for name, p := range joinViews("g") {
		for _, par := range []int{1, 2} {
			fp := ckFingerprint("view", par, p)
			old := "view\nparallelism=" + fmt.Sprint(par) + "\n" + plan.Format(p)
			if par == 1 && fp != old {
				t.Errorf("%s at parallelism 1: fingerprint changed:\n%s", name, fp)
			}
			if par == 2 && !strings.HasSuffix(fp, "\ncopies: joins") {
				t.Errorf("%s at parallelism 2: fingerprint %q does not name the joins' copies", name, fp)
			}
		}
	}
	i := slices.IndexFunc(ckViews, func(v ckView) bool { return v.name == "dedup" })
	dedup := ckViews[i].p(genScan("g"))
	if fp := ckFingerprint("view", 2, dedup); !strings.HasSuffix(fp, "\ncopies: dedup, top-n") {
		t.Errorf("dedup: fingerprint %q", fp)
	}
}
