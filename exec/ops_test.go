package exec

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

func TestIdleInputStopsHoldingWatermark(t *testing.T) {
	for _, idle := range []bool{false, true} {
		t.Run(map[bool]string{false: "no-timeout", true: "timeout"}[idle], func(t *testing.T) {
			cfg := Config{}
			if idle {
				cfg.IdleTimeout = 5 * time.Second
			}
			h := newHarness(t, cfg)
			a := h.table("a", events, &plan.Watermark{Col: 2})
			b := h.table("b", events, &plan.Watermark{Col: 2})
			u := &plan.Union{Inputs: []plan.Node{a, b}}
			h.view(windowAgg(u, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, 0), "v", nil)
			h.insert("a", ev("x", 1, 1), ev("x", 1, 12))
			h.flush()
			h.expect("v", "")
			h.clock.Advance(6 * time.Second)
			h.flush()
			h.insert("a", ev("x", 1, 13))
			h.flush()
			if idle {
				h.expect("v", "x @0 @10 @9.999999 1 1")
			} else {
				h.expect("v", "")
			}
		})
	}
}

func TestQuietAdvanceClosesSession(t *testing.T) {
	h := newHarness(t, Config{})
	if err := h.e.AddTable("clicks", events, &plan.Watermark{Col: 2, Delay: micros(1)}); err != nil {
		t.Fatal(err)
	}
	src := &plan.Scan{Name: "clicks", Kind: plan.RelSource, Cols: events, NumPhysical: 3,
		Watermark: &plan.Watermark{Col: 2, Delay: micros(1)}, Options: map[string]string{"quiet_advance": "10 seconds"}}
	h.view(sessionAgg(src, micros(30), 0, plan.EmitOnWindowClose), "carts", nil)
	h.insert("clicks", ev("u1", 1, 0), ev("u1", 1, 5))
	h.flush()
	h.expect("carts", "")
	h.clock.Advance(20 * time.Second)
	h.flush()
	h.expect("carts", "") // watermark 5-1+20 = 24 < 35
	h.clock.Advance(20 * time.Second)
	h.flush()
	h.expect("carts", "u1 @0 @35 @34.999999 2 2") // watermark 44
}

// scriptReader is a test connector reader that returns scripted chunks.
type scriptReader struct {
	mu     sync.Mutex
	chunks []*chunk.Chunk
	parts  int
}

func (r *scriptReader) Read(ctx context.Context) (*chunk.Chunk, error) {
	r.mu.Lock()
	if len(r.chunks) > 0 {
		c := r.chunks[0]
		r.chunks = r.chunks[1:]
		r.mu.Unlock()
		return c, nil
	}
	r.mu.Unlock()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Millisecond):
		return nil, nil
	}
}
func (r *scriptReader) push(part int, rows ...types.Row) {
	c := chunk.New(3, len(rows))
	c.Partition = part
	for _, row := range rows {
		c.Append(chunk.Insert, chunk.NoTime, row)
	}
	r.mu.Lock()
	r.chunks = append(r.chunks, c)
	r.mu.Unlock()
}
func (r *scriptReader) Partitions() int                                        { return r.parts }
func (r *scriptReader) Position() ([]byte, error)                              { return nil, nil }
func (r *scriptReader) Commit(context.Context, []byte) error                   { return nil }
func (r *scriptReader) Close() error                                           { return nil }
func (r *scriptReader) Lag(context.Context) ([]connectors.PartitionLag, error) { return nil, nil }

type scriptConn struct{ r *scriptReader }

var (
	scriptOnce sync.Once
	scriptC    = &scriptConn{}
)

func (c *scriptConn) Name() string                           { return "exec-test-script" }
func (c *scriptConn) SourceOptions() []connectors.OptionSpec { return []connectors.OptionSpec{} }
func (c *scriptConn) SinkOptions() []connectors.OptionSpec   { return nil }
func (c *scriptConn) OpenSource(context.Context, connectors.SourceSpec) (connectors.Reader, error) {
	return c.r, nil
}
func (c *scriptConn) OpenSink(context.Context, connectors.SinkSpec) (connectors.Sink, error) {
	return nil, errors.New("no sink")
}

// waitRows flushes until name holds want (the reader is asynchronous).
func (h *harness) waitRows(name, want string) {
	h.t.Helper()
	for range 2000 {
		h.flush()
		if h.rows(name) == strings.TrimSpace(want) {
			return
		}
		time.Sleep(time.Millisecond)
	}
	h.expect(name, want)
}

func TestPullSourcePartitionIdleness(t *testing.T) {
	scriptOnce.Do(func() { connectors.Register(scriptC) })
	rd := &scriptReader{parts: 2}
	scriptC.r = rd
	h := newHarness(t, Config{IdleTimeout: 5 * time.Second})
	src := &plan.Scan{Name: "s", Kind: plan.RelSource, Cols: events, NumPhysical: 3, Connector: "exec-test-script",
		Watermark: &plan.Watermark{Col: 2}}
	h.view(windowAgg(src, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, 0), "v", nil)
	rd.push(0, ev("a", 1, 1), ev("a", 1, 15))
	rd.push(1, ev("b", 1, 2))
	h.waitRows("v", "") // partition 1 holds the watermark at 2
	rd.push(1, ev("b", 1, 11))
	h.waitRows("v", "a @0 @10 @9.999999 1 1\nb @0 @10 @9.999999 1 1")
	rd.push(0, ev("a", 1, 30))
	h.clock.Advance(6 * time.Second) // partition 1 idle; 0 was active later
	rd.push(0, ev("a", 1, 31))
	h.waitRows("v", `
a @0 @10 @9.999999 1 1
a @10 @20 @19.999999 1 1
b @0 @10 @9.999999 1 1
b @10 @20 @19.999999 1 1`)
	st := h.e.SourceStats()
	if len(st) != 1 || len(st[0].Partitions) != 2 || !st[0].Partitions[1].Idle || st[0].Partitions[0].Idle {
		t.Fatalf("source stats: %+v", st)
	}
}

func TestGroupAggUpdating(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, nil)
	g := &plan.GroupAgg{Input: src, GroupBy: []expr.Expr{col(0, "k", types.TText)},
		Aggs: []plan.AggCall{countStar(), maxOf(col(1, "v", types.TInt64))},
		Cols: types.Schema{{Name: "k", Type: types.TText}, {Name: "n", Type: types.TInt64}, {Name: "m", Type: types.TInt64}}}
	h.view(g, "g", []int{0})
	h.insert("ev", ev("a", 1, 1), ev("a", 5, 2), ev("b", 2, 3))
	h.flush()
	h.expect("g", "a 2 5\nb 1 2")
	// A view over the updating view: sum of counts.
	top := &plan.GroupAgg{Input: &plan.Scan{Name: "g", Kind: plan.RelView, Cols: g.Cols, NumPhysical: 3},
		Aggs: []plan.AggCall{sumOf(col(1, "n", types.TInt64))}, Cols: types.Schema{{Name: "s", Type: types.TInt64}}}
	h.view(top, "total", nil)
	h.flush()
	h.expect("total", "3")
	h.insert("ev", ev("a", 9, 4), ev("c", 1, 5))
	h.flush()
	h.expect("g", "a 3 9\nb 1 2\nc 1 1")
	h.expect("total", "5")
}

func TestTopNPerWindow(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2, Delay: micros(5)})
	wa := &plan.WindowAssign{Input: src, Window: plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)},
		Cols: append(append(types.Schema{}, events...), types.Column{Name: "window_start", Type: types.TTimestamp},
			types.Column{Name: "window_end", Type: types.TTimestamp}, types.Column{Name: "window_time", Type: types.TTimestamp})}
	top := &plan.TopN{Input: wa, PartitionBy: []expr.Expr{col(3, "window_start", types.TTimestamp)},
		OrderBy: []plan.SortKey{{Expr: col(1, "v", types.TInt64), Desc: true}}, N: 2, RankCol: true,
		Cols: append(append(types.Schema{}, wa.Cols...), types.Column{Name: "rn", Type: types.TInt64})}
	proj := &plan.Project{Input: top, Exprs: []expr.Expr{col(0, "k", types.TText), col(1, "v", types.TInt64), col(3, "ws", types.TTimestamp), col(6, "rn", types.TInt64)},
		Cols: types.Schema{{Name: "k", Type: types.TText}, {Name: "v", Type: types.TInt64}, {Name: "ws", Type: types.TTimestamp}, {Name: "rn", Type: types.TInt64}}}
	h.view(proj, "top", nil)
	h.insert("ev", ev("a", 5, 1), ev("b", 7, 2), ev("c", 6, 3), ev("d", 1, 11))
	h.flush()
	h.expect("top", "b 7 @0 1\nc 6 @0 2\nd 1 @10 1")
	h.insert("ev", ev("e", 9, 4))
	h.flush()
	h.expect("top", "b 7 @0 2\nd 1 @10 1\ne 9 @0 1")
	h.insert("ev", ev("f", 1, 29))
	h.flush()
	if st := h.e.ViewStats(); st[0].OpenWindows != 1 {
		t.Fatalf("open windows = %d, want 1 after the watermark passed 20", st[0].OpenWindows)
	}
}

func TestDedup(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, nil)
	for _, last := range []bool{false, true} {
		name := map[bool]string{false: "first", true: "last"}[last]
		h.view(&plan.Dedup{Input: src, Keys: []expr.Expr{col(0, "k", types.TText)}, KeepLast: last, Cols: events}, name, nil)
	}
	h.insert("ev", ev("a", 1, 1), ev("a", 2, 2), ev("b", 3, 3))
	h.flush()
	h.expect("first", "a 1 @1\nb 3 @3")
	h.expect("last", "a 2 @2\nb 3 @3")
}

var dims = types.Schema{{Name: "k", Type: types.TText}, {Name: "name", Type: types.TText}}

func TestLookupJoin(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, nil)
	dim := h.table("dim", dims, nil)
	h.insert("dim", types.Row{types.NewText("a"), types.NewText("alpha")})
	for _, kind := range []plan.JoinKind{plan.InnerJoin, plan.LeftJoin} {
		j := &plan.LookupJoin{Stream: src, Table: dim, Kind: kind, StreamKey: []expr.Expr{col(0, "k", types.TText)},
			TableKey: []int{0}, Cols: append(append(types.Schema{}, events...), dims...)}
		h.view(j, "j"+kind.String(), nil)
	}
	h.insert("ev", ev("a", 1, 1), ev("b", 2, 2))
	h.flush()
	h.insert("dim", types.Row{types.NewText("b"), types.NewText("beta")})
	h.insert("ev", ev("b", 3, 3))
	h.flush()
	h.expect("jinner", "a 1 @1 a alpha\nb 3 @3 b beta")
	h.expect("jleft", "a 1 @1 a alpha\nb 2 @2 NULL NULL\nb 3 @3 b beta")
}

func TestIntervalJoin(t *testing.T) {
	h := newHarness(t, Config{})
	l := h.table("l", events, &plan.Watermark{Col: 2})
	r := h.table("r", events, &plan.Watermark{Col: 2})
	for _, kind := range []plan.JoinKind{plan.InnerJoin, plan.LeftJoin} {
		j := &plan.IntervalJoin{Left: l, Right: r, Kind: kind, LeftKey: []expr.Expr{col(0, "k", types.TText)},
			RightKey: []expr.Expr{col(0, "k", types.TText)}, LeftTime: 2, RightTime: 2, LowerBound: 0, UpperBound: micros(5),
			Cols: append(append(types.Schema{}, events...), events...)}
		h.view(j, "j"+kind.String(), nil)
	}
	h.insert("l", ev("a", 1, 1), ev("b", 2, 2))
	h.insert("r", ev("a", 10, 4), ev("a", 11, 7), ev("b", 12, 1))
	h.flush()
	h.expect("jinner", "a 1 @1 a 10 @4")
	h.insert("l", ev("z", 0, 30))
	h.insert("r", ev("z", 0, 30))
	h.flush()
	h.expect("jleft", "a 1 @1 a 10 @4\nb 2 @2 NULL NULL NULL\nz 0 @30 z 0 @30")
	for _, st := range h.e.ViewStats() {
		if st.StateBytes <= 0 || st.StateBytes > 2000 {
			t.Fatalf("%s state bytes = %d: old rows were not freed", st.Name, st.StateBytes)
		}
	}
}

func TestSubscribeSnapshotThenChanges(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2})
	h.view(windowAgg(src, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnUpdate, 0), "v", []int{0, 1})
	h.insert("ev", ev("a", 1, 1))
	h.flush()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub, err := h.e.Subscribe(ctx, "v")
	if err != nil {
		t.Fatal(err)
	}
	h.insert("ev", ev("a", 2, 2))
	h.flush()
	var got []string
	for len(got) < 5 {
		u, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if u.IsProgress {
			got = append(got, "progress "+renderRows([]types.Row{{types.NewTimestamp(u.Progress.UnixMicro())}}))
			continue
		}
		got = append(got, u.Op.String()+" "+renderRows([]types.Row{u.Row}))
	}
	want := []string{"+ a @0 @10 @9.999999 1 1", "progress @1", "- a @0 @10 @9.999999 1 1", "+ a @0 @10 @9.999999 2 3", "progress @2"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	sub.Close()
	if _, err := sub.Next(ctx); !errors.Is(err, ErrSubscriptionClosed) {
		t.Fatalf("after close: %v", err)
	}
}

type recSink struct {
	mu      sync.Mutex
	rows    []string
	commits []uint64
	last    uint64
}

func (s *recSink) Write(_ context.Context, c *chunk.Chunk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range c.Len() {
		s.rows = append(s.rows, c.Ops[i].String()+renderRows([]types.Row{c.Row(i)}))
	}
	return nil
}
func (s *recSink) Commit(_ context.Context, e uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits = append(s.commits, e)
	return nil
}
func (s *recSink) LastCommitted(context.Context) (uint64, error) { return s.last, nil }
func (s *recSink) Close() error                                  { return nil }

func TestSinkCommitsPerBarrier(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2})
	sink := &recSink{last: 7}
	err := h.e.StartSink(h.ctx, &plan.Sink{Input: windowAgg(src, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, 0),
		Name: "out", AppendOnly: true}, sink)
	if err != nil {
		t.Fatal(err)
	}
	h.insert("ev", ev("a", 1, 1), ev("a", 1, 12))
	h.flush()
	h.flush() // nothing new: no empty epoch
	h.insert("ev", ev("a", 1, 25))
	h.flush()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if got := strings.Join(sink.rows, "|"); got != "+a @0 @10 @9.999999 1 1|+a @10 @20 @19.999999 1 1" {
		t.Fatalf("rows %s", got)
	}
	if len(sink.commits) != 2 || sink.commits[0] != 8 || sink.commits[1] != 9 {
		t.Fatalf("commits %v", sink.commits)
	}
}

// panicExpr fails evaluation to check that a failing operator fails only
// its job.
type panicExpr struct{}

func (panicExpr) Type() types.Type { return types.TBool }
func (panicExpr) Eval(*expr.Context, types.Row) (types.Value, error) {
	panic("boom")
}
func (panicExpr) String() string { return "boom()" }

func TestOperatorPanicFailsOnlyItsJob(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, nil)
	h.view(&plan.Filter{Input: src, Pred: panicExpr{}}, "bad", nil)
	h.view(&plan.Filter{Input: src, Pred: &expr.Const{V: types.NewBool(true), T: types.TBool}}, "good", nil)
	h.insert("ev", ev("a", 1, 1))
	if err := h.e.Flush(h.ctx); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("flush error = %v, want the job failure", err)
	}
	h.insert("ev", ev("b", 1, 1))
	h.flush()
	h.expect("good", "a 1 @1\nb 1 @1")
	for _, st := range h.e.ViewStats() {
		if st.Failed != (st.Name == "bad") {
			t.Fatalf("stats %+v", st)
		}
	}
}

// TestFailureReachesReaders: the views that read a view that fails stop
// changing too, so they fail with it, saying why (and so does a view
// created over the failed one); a view that does not read it runs on.
func TestFailureReachesReaders(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, nil)
	h.view(&plan.Filter{Input: src, Pred: panicExpr{}}, "bad", nil)
	overBad := func() plan.Node {
		return &plan.Filter{Input: &plan.Scan{Name: "bad", Kind: plan.RelView, Cols: events, NumPhysical: 3},
			Pred: &expr.Const{V: types.NewBool(true), T: types.TBool}}
	}
	h.view(overBad(), "down", nil)
	h.view(&plan.Scan{Name: "down", Kind: plan.RelView, Cols: events, NumPhysical: 3}, "further", nil)
	h.view(&plan.Filter{Input: src, Pred: &expr.Const{V: types.NewBool(true), T: types.TBool}}, "good", nil)
	h.insert("ev", ev("a", 1, 1))
	if err := h.e.Flush(h.ctx); err == nil {
		t.Fatal("flush reported no failure")
	}
	h.view(overBad(), "late", nil)
	want := map[string]string{
		"bad":     "boom",
		"down":    "it reads view bad, which failed: operator filter panicked: boom",
		"further": "it reads view down, which failed: it reads view bad, which failed",
		"late":    "it reads view bad, which failed",
	}
	for _, st := range h.e.ViewStats() {
		w, ok := want[st.Name]
		if st.Failed != ok || ok && !strings.Contains(st.Error, w) {
			t.Errorf("%s: failed %v, error %q; want failed %v, error with %q", st.Name, st.Failed, st.Error, ok, w)
		}
		if err := h.e.ViewFailure(st.Name); (err != nil) != ok || ok && sqlerr.Code(err) != sqlerr.ObjectNotInState {
			t.Errorf("%s: ViewFailure %v", st.Name, err)
		}
	}
	h.expect("good", "a 1 @1")
}

// TestViewOverEndedViewEnds: a view created over a view whose bounded
// stream already ended gets its contents and ends too, so a Flush (an
// INSERT) does not wait for barriers that can no longer reach it.
func TestViewOverEndedViewEnds(t *testing.T) {
	e := NewEngine(Config{})
	defer e.Close(context.Background())
	ctx := context.Background()
	if err := e.StartView(ctx, &plan.Materialize{Input: benchScan(1000, 10, 1000), Name: "a"}); err != nil {
		t.Fatal(err)
	}
	ended := func(name string) bool {
		e.mu.Lock()
		j := e.jobs[name]
		e.mu.Unlock()
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.finished
	}
	for deadline := time.Now().Add(10 * time.Second); !ended("a"); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the bounded view did not end")
		}
	}
	if err := e.StartView(ctx, &plan.Materialize{Input: &plan.Scan{Name: "a", Kind: plan.RelView, Cols: events, NumPhysical: 3}, Name: "b"}); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.Flush(fctx); err != nil {
		t.Fatalf("flush with a view over an ended view: %v", err)
	}
	if _, rows, _ := e.Snapshot("b"); len(rows) != 1000 || !ended("b") {
		t.Fatalf("the view over the ended view holds %d rows (want 1000), ended %v", len(rows), ended("b"))
	}
	for _, st := range e.ViewStats() {
		if !st.Ended || st.Failed {
			t.Errorf("%s: ended %v, failed %v; want ended", st.Name, st.Ended, st.Failed)
		}
	}
}

func TestNewViewBackfillsAndDrop(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, nil)
	h.insert("ev", ev("a", 1, 1), ev("b", 2, 2))
	h.view(&plan.Filter{Input: src, Pred: &expr.Const{V: types.NewBool(true), T: types.TBool}}, "all", nil)
	h.flush()
	h.expect("all", "a 1 @1\nb 2 @2")
	if err := h.e.Drop("ev"); err == nil {
		t.Fatal("dropping a table a view reads succeeded")
	}
	if err := h.e.Drop("all"); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Drop("ev"); err != nil {
		t.Fatal(err)
	}
}

func TestGroupAggTTLForgetsIdleGroups(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, nil)
	g := &plan.GroupAgg{Input: src, GroupBy: []expr.Expr{col(0, "k", types.TText)}, Aggs: []plan.AggCall{countStar()},
		TTL: micros(10), Cols: types.Schema{{Name: "k", Type: types.TText}, {Name: "n", Type: types.TInt64}}}
	h.view(g, "g", []int{0})
	h.insert("ev", ev("a", 1, 1), ev("a", 1, 2), ev("b", 1, 3))
	h.flush()
	h.expect("g", "a 2\nb 1")
	h.clock.Advance(5 * time.Second)
	h.insert("ev", ev("b", 1, 4))
	h.flush()
	h.clock.Advance(6 * time.Second) // a idle 11 s: forgotten; b idle 6 s
	h.flush()
	h.insert("ev", ev("a", 1, 5), ev("b", 1, 6))
	h.flush()
	// a starts over; its last result before expiry was replaced by key.
	h.expect("g", "a 1\nb 3")
}

func TestPushSourceGeneratedColumns(t *testing.T) {
	h := newHarness(t, Config{})
	// clicks(k, v, ts, v2 AS v * 2): rows arrive without the generated column.
	cols := append(append(types.Schema{}, events...), types.Column{Name: "v2", Type: types.TInt64})
	if err := h.e.AddTable("clicks", cols, &plan.Watermark{Col: 2}); err != nil {
		t.Fatal(err)
	}
	double := &plan.Generated{Col: 3, Expr: &mulExpr{col(1, "v", types.TInt64)}}
	src := &plan.Scan{Name: "clicks", Kind: plan.RelSource, Cols: cols, NumPhysical: 3, Generated: []plan.Generated{*double},
		Watermark: &plan.Watermark{Col: 2}, Connector: "http"}
	h.insert("clicks", ev("a", 2, 1))
	h.view(&plan.Project{Input: src, Exprs: []expr.Expr{col(0, "k", types.TText), col(3, "v2", types.TInt64)},
		Cols: types.Schema{{Name: "k", Type: types.TText}, {Name: "v2", Type: types.TInt64}}}, "v", nil)
	h.insert("clicks", ev("b", 5, 2))
	h.flush()
	h.expect("v", "a 4\nb 10")
	if _, rows, _ := h.e.Snapshot("clicks"); len(rows) != 2 || len(rows[0]) != 3 {
		t.Fatalf("table rows %v: want the physical columns as inserted", rows)
	}
}

// TestGeneratedColumnErrorGoesToDeadLetters: a row whose generated column
// fails to compute is a bad input: it goes to the dead letters with its
// columns and the reason, and the view goes on with the other rows.
func TestGeneratedColumnErrorGoesToDeadLetters(t *testing.T) {
	var ls letters
	h := newHarness(t, Config{DeadLetter: ls.add})
	cols := append(append(types.Schema{}, events...), types.Column{Name: "per", Type: types.TInt64})
	if err := h.e.AddTable("clicks", cols, &plan.Watermark{Col: 2}); err != nil {
		t.Fatal(err)
	}
	per, err := expr.NewArith(expr.Div, &expr.Const{V: types.NewInt(100), T: types.TInt64}, col(1, "v", types.TInt64))
	if err != nil {
		t.Fatal(err)
	}
	src := &plan.Scan{Name: "clicks", Kind: plan.RelSource, Cols: cols, NumPhysical: 3,
		Generated: []plan.Generated{{Col: 3, Expr: per}}, Watermark: &plan.Watermark{Col: 2}, Connector: "http"}
	h.view(&plan.Project{Input: src, Exprs: []expr.Expr{col(0, "k", types.TText), col(3, "per", types.TInt64)},
		Cols: types.Schema{{Name: "k", Type: types.TText}, {Name: "per", Type: types.TInt64}}}, "v", nil)
	h.insert("clicks", ev("a", 2, 1), ev("b", 0, 2), ev("c", 5, 3))
	h.flush()
	h.expect("v", "a 50\nc 20")
	if st := h.e.ViewStats()[0]; st.Failed {
		t.Fatalf("the view failed: %s", st.Error)
	}
	dead := ls.all()
	if len(dead) != 1 || dead[0].Source != "clicks" || !strings.Contains(dead[0].Reason, "per") ||
		!strings.Contains(dead[0].Reason, "division by zero") || !strings.Contains(string(dead[0].Raw), `"k":"b"`) {
		t.Fatalf("dead letters %+v, want the row of b", dead)
	}
}

// mulExpr doubles an integer expression.
type mulExpr struct{ e expr.Expr }

func (m *mulExpr) Type() types.Type { return types.TInt64 }
func (m *mulExpr) Eval(ctx *expr.Context, row types.Row) (types.Value, error) {
	v, err := m.e.Eval(ctx, row)
	return types.NewInt(v.I * 2), err
}
func (m *mulExpr) String() string { return m.e.String() + " * 2" }

func TestDedupPerWindowFreesState(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2})
	wcols := append(append(types.Schema{}, events...), types.Column{Name: "window_start", Type: types.TTimestamp},
		types.Column{Name: "window_end", Type: types.TTimestamp}, types.Column{Name: "window_time", Type: types.TTimestamp})
	wa := &plan.WindowAssign{Input: src, Window: plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, Cols: wcols}
	d := &plan.Dedup{Input: wa, Keys: []expr.Expr{col(0, "k", types.TText), col(3, "window_start", types.TTimestamp)}, Cols: wcols}
	h.view(&plan.Project{Input: d, Exprs: []expr.Expr{col(0, "k", types.TText), col(1, "v", types.TInt64)},
		Cols: types.Schema{{Name: "k", Type: types.TText}, {Name: "v", Type: types.TInt64}}}, "firsts", nil)
	h.insert("ev", ev("a", 1, 1), ev("a", 2, 2), ev("b", 3, 3))
	h.flush()
	h.expect("firsts", "a 1\nb 3")
	st := h.e.ViewStats()[0] // two keys of window [0, 10)
	h.insert("ev", ev("a", 5, 25), ev("a", 6, 4))
	h.flush()
	h.expect("firsts", "a 1\na 5\nb 3")
	after := h.e.ViewStats()[0] // one key of window [20, 30); a@4 is late
	if after.StateBytes >= st.StateBytes || after.Late != 1 {
		t.Fatalf("state %d -> %d bytes, late %d: closed windows' keys were not freed", st.StateBytes, after.StateBytes, after.Late)
	}
}

// checkIncremental drives operator a through steps (step changes its
// state and reports what it covered), taking after each a base (the first
// time, and at random) or a delta; it restores a fresh operator from the
// base and the deltas since and compares its state with a's. It returns
// how many bases it took.
func checkIncremental[O incSnapshotter](t *testing.T, rng *rand.Rand, steps int, a O, newOp func() O, step func(i int), state func(O) string) int {
	t.Helper()
	a.startTracking()
	var base []byte
	var deltas [][]byte
	bases := 0
	for i := range steps {
		step(i)
		if base == nil || rng.IntN(12) == 0 {
			b, err := a.SnapshotBase()
			if err != nil {
				t.Fatal(err)
			}
			base, deltas = b, nil
			bases++
		} else {
			d, k, _, err := a.SnapshotDelta()
			if err != nil {
				t.Fatal(err)
			}
			if k > 0 {
				deltas = append(deltas, d)
			}
		}
		b := newOp()
		if err := b.Restore(base); err != nil {
			t.Fatal(err)
		}
		for k, d := range deltas {
			if err := b.RestoreDelta(d); err != nil {
				t.Fatalf("step %d delta %d: %v", i, k, err)
			}
		}
		if got, want := state(b), state(a); got != want {
			t.Fatalf("step %d: base and %d deltas restore\n%s\nthe operator has\n%s", i, len(deltas), got, want)
		}
	}
	return bases
}

// windowedRow is a row of (k, v, ts, window_start, window_end) in a
// 10-second tumbling window, ts up to 30 s past wm.
func windowedRow(rng *rand.Rand, keys int, wm float64) types.Row {
	ts := wm + rng.Float64()*30
	ws := float64(int(ts/10) * 10)
	return types.Row{types.NewText(fmt.Sprint("k", rng.IntN(keys))), types.NewInt(int64(rng.IntN(100))),
		types.NewTimestamp(sec(ts)), types.NewTimestamp(sec(ws)), types.NewTimestamp(sec(ws + 10))}
}

var windowedCols = append(append(types.Schema{}, events...), types.Column{Name: "window_start", Type: types.TTimestamp},
	types.Column{Name: "window_end", Type: types.TTimestamp})

// TestDedupIncrementalSnapshots checks the dedup's incremental checkpoints:
// after every step, a base and the deltas taken since restore the same
// keys, rows and state bytes as the original has — through new keys, rows
// replaced (keep last), retractions that remove a key (and may bring it
// back), and windows freed by the watermark.
func TestDedupIncrementalSnapshots(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	for _, last := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep-last=%v", last), func(t *testing.T) {
			n := &plan.Dedup{Keys: []expr.Expr{col(0, "k", types.TText), col(3, "window_start", types.TTimestamp)},
				KeepLast: last, Cols: windowedCols, Input: &plan.Scan{Cols: windowedCols}}
			newOp := func() *dedupOp { return newDedupOp(e.newJob("dedup", "view"), n) }
			a := newOp()
			out := &emitter{ctx: context.Background(), n: &node{job: e.newJob("out", "view")}, width: len(windowedCols)}
			rng := rand.New(rand.NewPCG(5, map[bool]uint64{false: 1, true: 2}[last]))
			removed, freed := 0, 0
			wm := 0.0
			bases := checkIncremental(t, rng, 150, a, newOp, func(step int) {
				c := getChunk(len(windowedCols))
				var kept []types.Row
				a.seen.each(func(x *rowEntry[dedupVal]) { kept = append(kept, x.val.row) })
				for range 1 + rng.IntN(40) {
					if rng.IntN(5) == 0 && len(kept) > 0 {
						c.Append(chunk.Delete, chunk.NoTime, kept[rng.IntN(len(kept))])
					} else {
						c.Append(chunk.Insert, chunk.NoTime, windowedRow(rng, 30, wm))
					}
				}
				before := a.seen.len()
				if err := a.OnData(0, c, out); err != nil {
					t.Fatal(err)
				}
				out.cur = nil
				if a.seen.len() < before {
					removed++
				}
				if step%9 == 8 {
					wm += 10
					before := a.seen.len()
					if _, err := a.OnWatermark(sec(wm), out); err != nil {
						t.Fatal(err)
					}
					if a.seen.len() < before {
						freed++
					}
				}
			}, func(o *dedupOp) string {
				var lines []string
				o.seen.each(func(x *rowEntry[dedupVal]) {
					lines = append(lines, renderRows([]types.Row{x.key})+" => "+renderRows([]types.Row{x.val.row}))
				})
				slices.Sort(lines)
				return fmt.Sprintf("%d bytes\n%s", o.bytes, strings.Join(lines, "\n"))
			})
			if bases < 3 || removed == 0 || freed == 0 {
				t.Fatalf("the run did not cover the cases: %d bases, %d steps removed keys, %d watermarks freed windows", bases, removed, freed)
			}
		})
	}
}

// TestTopNIncrementalSnapshots checks the top-N's incremental checkpoints
// as TestDedupIncrementalSnapshots does the dedup's: partitions created
// and changed, rows retracted (with an updating input), and windows'
// partitions freed by the watermark.
func TestTopNIncrementalSnapshots(t *testing.T) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	for _, retract := range []bool{false, true} {
		t.Run(fmt.Sprintf("retract=%v", retract), func(t *testing.T) {
			n := &plan.TopN{Input: &plan.Scan{Cols: windowedCols},
				PartitionBy: []expr.Expr{col(0, "k", types.TText), col(3, "window_start", types.TTimestamp)},
				OrderBy:     []plan.SortKey{{Expr: col(1, "v", types.TInt64), Desc: true}}, N: 2, RankCol: true,
				Cols: append(append(types.Schema{}, windowedCols...), types.Column{Name: "rn", Type: types.TInt64})}
			newOp := func() *topNOp { return newTopNOp(e.newJob("top", "view"), n, retract) }
			a := newOp()
			out := &emitter{ctx: context.Background(), n: &node{job: e.newJob("out", "view")}, width: len(n.Cols)}
			rng := rand.New(rand.NewPCG(9, map[bool]uint64{false: 1, true: 2}[retract]))
			retracted, freed := 0, 0
			wm := 0.0
			bases := checkIncremental(t, rng, 150, a, newOp, func(step int) {
				c := getChunk(len(windowedCols))
				var kept []types.Row
				a.parts.each(func(p *rowEntry[topPart]) {
					for _, x := range p.val.rows {
						kept = append(kept, x.row)
					}
				})
				for range 1 + rng.IntN(40) {
					if retract && rng.IntN(4) == 0 && len(kept) > 0 {
						c.Append(chunk.Delete, chunk.NoTime, kept[rng.IntN(len(kept))])
						retracted++
					} else {
						c.Append(chunk.Insert, chunk.NoTime, windowedRow(rng, 20, wm))
					}
				}
				if err := a.OnData(0, c, out); err != nil {
					t.Fatal(err)
				}
				out.cur = nil
				if step%9 == 8 {
					wm += 10
					before := a.parts.len()
					if _, err := a.OnWatermark(sec(wm), out); err != nil {
						t.Fatal(err)
					}
					if a.parts.len() < before {
						freed++
					}
				}
			}, func(o *topNOp) string {
				var lines []string
				o.parts.each(func(p *rowEntry[topPart]) {
					e := &snapEnc{}
					encTopPart(e, p)
					lines = append(lines, fmt.Sprintf("%x", e.b))
				})
				slices.Sort(lines)
				ends := 0
				for _, ps := range o.byEnd {
					ends += len(ps)
				}
				return fmt.Sprintf("%d bytes, %d windows, %d partitions by end\n%s", o.bytes, len(o.byEnd), ends, strings.Join(lines, "\n"))
			})
			if bases < 3 || freed == 0 || retract && retracted == 0 {
				t.Fatalf("the run did not cover the cases: %d bases, %d watermarks freed windows, %d retractions", bases, freed, retracted)
			}
		})
	}
}
