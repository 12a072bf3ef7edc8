package exec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// maxPerWindow is Nexmark q5's max side over (ws timestamp, n bigint): GROUP
// BY ws with max(n), the window key marked when wb is not nil.
func maxPerWindow(in plan.Node, wb *plan.WindowBound) *plan.GroupAgg {
	return &plan.GroupAgg{Input: in, GroupBy: []expr.Expr{col(0, "ws", types.TTimestamp)},
		Aggs:   []plan.AggCall{maxOf(col(1, "n", types.TInt64)), countStar()},
		Window: wb,
		Cols:   types.Schema{{Name: "ws", Type: types.TTimestamp}, {Name: "m", Type: types.TInt64}, {Name: "n", Type: types.TInt64}}}
}

var wsN = types.Schema{{Name: "ws", Type: types.TTimestamp}, {Name: "n", Type: types.TInt64}}

// wsNInput stands for the input of an operator driven by hand.
var wsNInput = &plan.Scan{Name: "counts", Kind: plan.RelView, Cols: wsN, NumPhysical: 2}

// directOp is a group aggregate driven by hand, outside a running job.
type directOp struct {
	o   *groupAggOp
	out *emitter
}

func newDirectOp(t *testing.T, h *harness, n *plan.GroupAgg) *directOp {
	t.Helper()
	o, err := newGroupAggOp(h.e.newJob(fmt.Sprintf("direct%p", n), "view"), n, true)
	if err != nil {
		t.Fatal(err)
	}
	return &directOp{o: o, out: &emitter{ctx: context.Background(), width: len(n.Cols)}}
}

// changes feeds (op, ws seconds, n) rows as one chunk.
func (d *directOp) changes(t *testing.T, rows ...[3]float64) {
	t.Helper()
	if err := feedChanges(d.o, d.out, rows); err != nil {
		t.Fatal(err)
	}
}

// feedChanges feeds (op, ws seconds, n) rows (op < 0: a retraction) to o
// as one chunk, then flushes its batch.
func feedChanges(o *groupAggOp, out *emitter, rows [][3]float64) error {
	c := getChunk(2)
	for _, r := range rows {
		op := chunk.Insert
		if r[0] < 0 {
			op = chunk.Delete
		}
		c.Append(op, sec(r[1]), types.Row{types.NewTimestamp(sec(r[1])), types.NewInt(int64(r[2]))})
	}
	if err := o.OnData(0, c, out); err != nil {
		return err
	}
	return o.FlushBatch(out)
}

func (d *directOp) watermark(t *testing.T, s float64) {
	t.Helper()
	if _, err := d.o.OnWatermark(sec(s), d.out); err != nil {
		t.Fatal(err)
	}
}

// emitted renders and clears what the operator emitted, one change a line.
func (d *directOp) emitted() string {
	if d.out.cur == nil {
		return ""
	}
	var b strings.Builder
	c := d.out.cur
	for i := range c.Len() {
		fmt.Fprintf(&b, "%s %s\n", map[chunk.Op]string{chunk.Insert: "+", chunk.Delete: "-"}[c.Ops[i]], renderRows([]types.Row{c.Row(i)}))
	}
	d.out.cur = nil
	return b.String()
}

// recount is the operator's state bytes recomputed from its groups.
func (d *directOp) recount() int64 {
	var n int64
	d.o.m.each(func(id int) { n += d.o.overhead(d.o.m.key(id)) + stateSize(d.o.states.at(id)) })
	return n
}

// TestGroupAggFreesClosedWindows runs the windowed and the plain operator
// side by side over hop-like windows (a new window every 2s, 10s long,
// counts updated with retractions): their outputs are the same, but the
// windowed one holds only the windows the watermark has not closed, and
// its byte count goes back to exactly zero when all have closed.
func TestGroupAggFreesClosedWindows(t *testing.T) {
	h := newHarness(t, Config{})
	win := newDirectOp(t, h, maxPerWindow(wsNInput, &plan.WindowBound{Col: 0, Closes: micros(10)}))
	ref := newDirectOp(t, h, maxPerWindow(wsNInput, nil))
	const windows = 200
	maxGroups := 0
	for i := range windows {
		ws := float64(2 * i)
		for _, d := range []*directOp{win, ref} {
			// Auction counts of the window: 1, then 2 (retracting 1), and 1 for a second auction.
			d.changes(t, [3]float64{1, ws, 1})
			d.changes(t, [3]float64{-1, ws, 1}, [3]float64{1, ws, 2}, [3]float64{1, ws, 1})
			// The watermark closes the window that started 10s earlier.
			d.watermark(t, ws)
		}
		if g, w := win.emitted(), ref.emitted(); g != w {
			t.Fatalf("window %d: the windowed operator emitted\n%s\nthe plain one\n%s", i, g, w)
		}
		if g := win.o.m.len(); g > maxGroups {
			maxGroups = g
		}
		if got, want := win.o.bytes, win.recount(); got != want {
			t.Fatalf("window %d: state bytes %d, recomputed from the groups %d", i, got, want)
		}
		if got, want := ref.o.bytes, ref.recount(); got != want {
			t.Fatalf("window %d: plain operator: state bytes %d, recomputed from the groups %d", i, got, want)
		}
	}
	// Windows [ws, ws+10s) close when the watermark reaches ws+10s: at
	// most 6 are open (ws-10s < start <= ws), while the plain operator
	// keeps them all.
	if maxGroups > 6 || maxGroups < 5 {
		t.Fatalf("the windowed operator held up to %d groups, want 5 or 6", maxGroups)
	}
	if n := ref.o.m.len(); n != windows {
		t.Fatalf("the plain operator holds %d groups, want %d", n, windows)
	}
	if got := len(win.o.closes); got != win.o.m.len() {
		t.Fatalf("%d windows indexed, %d groups", got, win.o.m.len())
	}
	win.watermark(t, float64(2*windows+10))
	if win.o.m.len() != 0 || win.o.bytes != 0 || win.o.stats.stateBytes.Load() != 0 || len(win.o.closes) != 0 || len(win.o.byClose) != 0 {
		t.Fatalf("after every window closed: %d groups, %d bytes, %d closes", win.o.m.len(), win.o.bytes, len(win.o.closes))
	}
}

// TestGroupAggWindowLateness keeps a window's group until the watermark
// passes its close plus the lateness, so a late change still updates it;
// a change after that is recorded as late and leaves the result alone.
func TestGroupAggWindowLateness(t *testing.T) {
	h := newHarness(t, Config{})
	d := newDirectOp(t, h, maxPerWindow(wsNInput, &plan.WindowBound{Col: 0, Closes: micros(10), Lateness: micros(5)}))
	d.changes(t, [3]float64{1, 0, 3}, [3]float64{1, 10, 1})
	d.watermark(t, 14.999999)
	d.emitted()
	d.changes(t, [3]float64{1, 0, 7}) // late by 5s, within the lateness
	if got, want := d.emitted(), "- @0 3 1\n+ @0 7 2\n"; got != want {
		t.Fatalf("a change within the lateness emitted\n%s\nwant\n%s", got, want)
	}
	d.watermark(t, 15)
	if d.o.m.len() != 1 {
		t.Fatalf("%d groups after the first window closed, want 1", d.o.m.len())
	}
	d.changes(t, [3]float64{1, 0, 9}, [3]float64{-1, 0, 3}, [3]float64{1, 10, 4})
	if got, want := d.emitted(), "- @10 1 1\n+ @10 4 2\n"; got != want {
		t.Fatalf("changes after the close emitted\n%s\nwant\n%s", got, want)
	}
	if d.o.m.len() != 1 {
		t.Fatalf("a late change started a group again: %d groups", d.o.m.len())
	}
	if n := d.o.j.late.Load(); n != 2 {
		t.Fatalf("%d late rows counted, want 2", n)
	}
	var late []string
	for _, e := range h.e.LateEvents() {
		if e.View == d.o.j.name {
			late = append(late, e.Row)
			if e.Watermark != sec(15) {
				t.Fatalf("late event at watermark %d, want %d", e.Watermark, sec(15))
			}
		}
	}
	if len(late) != 2 || !strings.Contains(late[0], `"n":"9"`) || !strings.Contains(late[1], `"n":"3"`) {
		t.Fatalf("late events %q", late)
	}
	// A NULL window key is never freed (and never late).
	c := getChunk(2)
	c.Append(chunk.Insert, sec(1), types.Row{{}, types.NewInt(1)})
	if err := d.o.OnData(0, c, d.out); err != nil {
		t.Fatal(err)
	}
	d.watermark(t, math.MaxInt32)
	if d.o.m.len() != 1 {
		t.Fatalf("%d groups, want only the NULL one", d.o.m.len())
	}
}

// TestGroupAggWindowRestore frees windows restored from a snapshot: the
// close index is rebuilt from the restored keys.
func TestGroupAggWindowRestore(t *testing.T) {
	h := newHarness(t, Config{})
	n := maxPerWindow(wsNInput, &plan.WindowBound{Col: 0, Closes: micros(10)})
	a := newDirectOp(t, h, n)
	for i := range 5 {
		a.changes(t, [3]float64{1, float64(2 * i), float64(i)})
	}
	snap, err := a.o.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := newDirectOp(t, h, n)
	if err := b.o.Restore(snap); err != nil {
		t.Fatal(err)
	}
	b.watermark(t, 14) // closes the windows starting at 0, 2 and 4
	if b.o.m.len() != 2 {
		t.Fatalf("%d groups after the watermark, want 2", b.o.m.len())
	}
	if got, want := b.o.bytes, b.recount(); got != want {
		t.Fatalf("state bytes %d, recomputed %d", got, want)
	}
	b.changes(t, [3]float64{1, 6, 9}, [3]float64{1, 2, 9})
	if got, want := b.emitted(), "- @6 3 1\n+ @6 9 2\n"; got != want {
		t.Fatalf("after restore emitted\n%s\nwant\n%s", got, want)
	}
}

// TestGroupAggWindowedView runs the windowed GROUP BY in a job over a view
// of hop window counts, next to the same GROUP BY unmarked: the views
// agree, and the windowed job's state stays at a few windows while the
// plain one's grows with every slide.
func TestGroupAggWindowedView(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, &plan.Watermark{Col: 2, Delay: micros(1)})
	hop := windowAgg(src, plan.WindowSpec{Kind: plan.Hop, TimeCol: 2, Size: micros(10), Slide: micros(2)}, plan.EmitOnUpdate, 0, countStar())
	h.view(hop, "counts", []int{0, 1, 2})
	// (window_start, n) of the counts view.
	scan := &plan.Scan{Name: "counts", Kind: plan.RelView, Cols: hop.Cols, NumPhysical: len(hop.Cols)}
	proj := func() plan.Node {
		return &plan.Project{Input: scan, Exprs: []expr.Expr{col(1, "window_start", types.TTimestamp), col(4, "n", types.TInt64)}, Cols: wsN}
	}
	h.view(maxPerWindow(proj(), &plan.WindowBound{Col: 0, Closes: micros(10)}), "max_win", []int{0})
	h.view(maxPerWindow(proj(), nil), "max_ref", []int{0})
	stats := func(name string) ViewStats {
		for _, s := range h.e.ViewStats() {
			if s.Name == name {
				return s
			}
		}
		t.Fatalf("no stats for %s", name)
		return ViewStats{}
	}
	var first [2]int64
	const seconds = 400
	for s := range seconds {
		var rows []types.Row
		for k := range 3 + s%4 {
			rows = append(rows, ev(fmt.Sprintf("a%d", (s+k)%5), int64(k), float64(s)+0.1*float64(k)))
		}
		h.insert("ev", rows...)
		if s%50 == 49 {
			h.flush()
			w, r := stats("max_win"), stats("max_ref")
			if first[0] == 0 {
				first = [2]int64{w.StateBytes, r.StateBytes}
				continue
			}
			if w.StateBytes > first[0]*3/2 {
				t.Fatalf("after %ds the windowed GROUP BY holds %d bytes, %d after 50s", s+1, w.StateBytes, first[0])
			}
			if r.StateBytes < first[1]*int64(s+1)/50*3/4 {
				t.Fatalf("after %ds the plain GROUP BY holds %d bytes, %d after 50s: the comparison proves nothing", s+1, r.StateBytes, first[1])
			}
		}
	}
	if got, want := h.rows("max_win"), h.rows("max_ref"); got != want || strings.Count(got, "\n") < seconds/2-10 {
		t.Fatalf("windowed view:\n%s\nplain view:\n%s", got, want)
	}
}

// BenchmarkGroupAggWindowKey feeds q5's max side directly (count updates
// as retraction and insert, 200 auctions per 2s window, the
// watermark after each window) with and without the window key: the cost
// of the close index and the late check per row, and the groups held at
// the end.
func BenchmarkGroupAggWindowKey(b *testing.B) {
	const windows, perWindow = 500, 200
	for _, marked := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "window-key"}[marked], func(b *testing.B) {
			b.ReportAllocs()
			e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
			defer e.Close(context.Background())
			var wb *plan.WindowBound
			if marked {
				wb = &plan.WindowBound{Col: 0, Closes: micros(10)}
			}
			held := 0
			for b.Loop() {
				o, err := newGroupAggOp(e.newJob("bench", "view"), maxPerWindow(wsNInput, wb), true)
				if err != nil {
					b.Fatal(err)
				}
				out := &emitter{ctx: context.Background(), width: 3}
				c := chunk.New(2, 3*perWindow)
				for w := range windows {
					ws := types.NewTimestamp(sec(float64(2 * w)))
					c.Reset()
					for k := range perWindow {
						// Auction k's count goes to k+1, then to k+2.
						c.Append(chunk.Insert, ws.I, types.Row{ws, types.NewInt(int64(k + 1))})
						c.Append(chunk.Delete, ws.I, types.Row{ws, types.NewInt(int64(k + 1))})
						c.Append(chunk.Insert, ws.I, types.Row{ws, types.NewInt(int64(k + 2))})
					}
					if err := o.OnData(0, c, out); err != nil {
						b.Fatal(err)
					}
					if _, err := o.OnWatermark(ws.I, out); err != nil {
						b.Fatal(err)
					}
					out.cur = nil
				}
				held = o.m.len()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*windows*perWindow*3), "ns/row")
			b.ReportMetric(float64(held), "groups-held")
		})
	}
}

// FuzzRestoreGroupState feeds arbitrary bytes to the Restore of a GROUP BY
// (plain, with a TTL, and with a window key): a corrupt checkpoint must
// give an error, never a panic, and an operator that accepts the bytes
// must keep working.
func FuzzRestoreGroupState(f *testing.F) {
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
	defer e.Close(context.Background())
	ttl := maxPerWindow(wsNInput, nil)
	ttl.TTL = micros(60)
	plans := []*plan.GroupAgg{maxPerWindow(wsNInput, nil), ttl, maxPerWindow(wsNInput, &plan.WindowBound{Col: 0, Closes: micros(10)})}
	feed := func(o *groupAggOp, out *emitter, rows [][3]float64) error {
		if err := feedChanges(o, out, rows); err != nil {
			return err
		}
		_, err := o.OnWatermark(sec(r2(rows)), out)
		return err
	}
	for i, n := range plans {
		o, err := newGroupAggOp(e.newJob("fuzz", "view"), n, true)
		if err != nil {
			f.Fatal(err)
		}
		out := &emitter{ctx: context.Background(), width: len(n.Cols)}
		if err := feed(o, out, [][3]float64{{1, 2, 3}, {1, 4, 5}, {1, 12, 1}, {-1, 4, 5}, {1, 4, 6}}); err != nil {
			f.Fatal(err)
		}
		o.startTracking()
		snap, err := o.SnapshotBase()
		if err != nil {
			f.Fatal(err)
		}
		if err := feed(o, out, [][3]float64{{1, 2, 4}, {1, 20, 5}, {-1, 12, 1}}); err != nil {
			f.Fatal(err)
		}
		delta, _, _, err := o.SnapshotDelta()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), snap, delta)
	}
	f.Fuzz(func(t *testing.T, which uint8, data, delta []byte) {
		n := plans[int(which)%len(plans)]
		o, err := newGroupAggOp(e.newJob("fuzz", "view"), n, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := o.Restore(data); err != nil {
			return
		}
		// A delta of the same operator, or garbage: an error, not a panic.
		if err := o.RestoreDelta(delta); err != nil {
			return
		}
		out := &emitter{ctx: context.Background(), n: &node{job: e.newJob("sink", "view")}, width: len(n.Cols)}
		if feed(o, out, [][3]float64{{1, 2, 7}, {1, 30, 2}, {-1, 2, 7}}) != nil {
			return // a retraction the restored state cannot take
		}
		if err := o.OnBarrier(1, out); err != nil {
			t.Fatal(err)
		}
		if _, err := o.Snapshot(); err != nil {
			t.Fatalf("snapshot after restore: %v", err)
		}
	})
}

// r2 is the largest time of rows, in seconds.
func r2(rows [][3]float64) float64 {
	m := 0.0
	for _, r := range rows {
		m = max(m, r[1])
	}
	return m
}

// TestGroupAggCompactsAfterWindowsClose fills many windowed groups, lets
// the watermark free all but the last few, and checks that the operator gave
// the slots back (compacted) while the group left still updates.
func TestGroupAggCompactsAfterWindowsClose(t *testing.T) {
	h := newHarness(t, Config{})
	d := newDirectOp(t, h, maxPerWindow(wsNInput, &plan.WindowBound{Col: 0, Closes: micros(10)}))
	d.out.n = &node{job: d.o.j} // discard the many rows
	const groups = 6000
	rows := make([][3]float64, 0, groups)
	for i := range groups {
		rows = append(rows, [3]float64{1, float64(i), 1})
	}
	for i := 0; i < groups; i += 500 {
		d.changes(t, rows[i:i+500]...)
	}
	d.watermark(t, groups-1) // frees every window but the last 10 (they close 10 s after they start)
	if n := d.o.m.len(); n != 10 || d.o.g.n != 10 {
		t.Fatalf("after the windows closed: %d groups in %d slots, want 10 in 10", n, d.o.g.n)
	}
	if got, want := d.o.bytes, d.recount(); got != want {
		t.Fatalf("state bytes %d, recomputed %d", got, want)
	}
	d.out = &emitter{ctx: context.Background(), width: 3}
	d.changes(t, [3]float64{1, groups - 1, 7})
	if got, want := d.emitted(), fmt.Sprintf("- @%d 1 1\n+ @%d 7 2\n", groups-1, groups-1); got != want {
		t.Fatalf("after compaction emitted\n%s\nwant\n%s", got, want)
	}
}

// groupStates renders every group of o (key and encoded state), sorted:
// equal for two operators holding the same groups whatever their ids.
func groupStates(t *testing.T, o *groupAggOp) string {
	t.Helper()
	var lines []string
	o.m.each(func(id int) {
		e := &snapEnc{}
		if err := o.encodeGroup(e, id); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("%x", e.b))
	})
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestGroupAggIncrementalSnapshots checks that a base and the deltas taken
// after it restore exactly the operator's groups, through inserts,
// retractions that empty groups (removed: the delta must drop them), ids
// freed and reused, windows freed by the watermark, and compactions (which
// move ids, so the next capture is a base).
func TestGroupAggIncrementalSnapshots(t *testing.T) {
	h := newHarness(t, Config{})
	for _, windowed := range []bool{false, true} {
		t.Run(fmt.Sprintf("windowed=%v", windowed), func(t *testing.T) {
			var wb *plan.WindowBound
			if windowed {
				wb = &plan.WindowBound{Col: 0, Closes: micros(40)}
			}
			n := maxPerWindow(wsNInput, wb)
			a := newDirectOp(t, h, n)
			a.o.startTracking()
			rng := rand.New(rand.NewPCG(7, uint64(len(fmt.Sprint(windowed)))))
			var live [][2]float64 // (ws, n) of the rows inserted and not retracted
			var base []byte
			var deltas [][]byte
			bases, removed, compactions, copied := 0, 0, 0, 0
			if len(a.o.lay.states) == 0 {
				t.Fatal("max with retractions keeps an accumulator object: the test means to clone one")
			}
			var later func(io.Writer) error
			var frozen string
			wm := 0.0
			// restore restores a new operator from base and deltas.
			restore := func(round int, base []byte, deltas [][]byte) *directOp {
				t.Helper()
				b := newDirectOp(t, h, n)
				if err := b.o.Restore(base); err != nil {
					t.Fatal(err)
				}
				for i, d := range deltas {
					if err := b.o.RestoreDelta(d); err != nil {
						t.Fatalf("round %d delta %d: %v", round, i, err)
					}
				}
				return b
			}
			// feed feeds rows in pieces small enough that what the operator
			// emits fits the hand-driven emitter's one chunk.
			feed := func(rows [][3]float64) {
				for len(rows) > 0 {
					k := min(len(rows), 400)
					if err := feedChanges(a.o, a.out, rows[:k]); err != nil {
						t.Fatal(err)
					}
					a.emitted()
					rows = rows[k:]
				}
			}
			for round := range 60 {
				var rows [][3]float64
				for range 1 + rng.IntN(3000) {
					if rng.IntN(3) == 0 && len(live) > 0 {
						// Retract a live row (in a closed window: a late row).
						i := rng.IntN(len(live))
						rows = append(rows, [3]float64{-1, live[i][0], live[i][1]})
						live[i] = live[len(live)-1]
						live = live[:len(live)-1]
						continue
					}
					ws := wm + float64(rng.IntN(6000))/100 // up to 6000 keys ahead of the watermark
					v := float64(rng.IntN(100))
					rows = append(rows, [3]float64{1, ws, v})
					live = append(live, [2]float64{ws, v})
				}
				before := a.o.m.len()
				feed(rows)
				if windowed && round%7 == 6 {
					wm += 30
					a.watermark(t, wm)
					a.emitted()
				}
				if a.o.m.len() < before {
					removed++
				}
				if round%11 == 10 {
					// Most groups emptied: every row of nine keys in ten is
					// retracted, and the operator compacts its slabs.
					var rs [][3]float64
					empty := map[float64]bool{}
					kept := live[:0]
					for _, r := range live {
						e, seen := empty[r[0]]
						if !seen {
							e = rng.IntN(10) > 0
							empty[r[0]] = e
						}
						if e {
							rs = append(rs, [3]float64{-1, r[0], r[1]})
						} else {
							kept = append(kept, r)
						}
					}
					live = kept
					before := a.o.m.len()
					feed(rs)
					if a.o.m.len() < before {
						removed++
					}
					a.watermark(t, wm) // maybeCompact runs with the watermark
					if a.o.ckMoved {
						compactions++
					}
				}
				if later != nil {
					// The base copied at the round before is written only
					// now, after this round changed the groups.
					var w writeCounter
					if err := later(&w); err != nil {
						t.Fatal(err)
					}
					later, base = nil, w.Bytes()
					b := newDirectOp(t, h, n)
					if err := b.o.Restore(base); err != nil {
						t.Fatal(err)
					}
					if groupStates(t, b.o) != frozen {
						t.Fatalf("round %d: the base copied at the round before restores another state than the copied one", round)
					}
				}
				if base == nil || a.o.needBase() || rng.IntN(8) == 0 {
					if bases%2 == 1 {
						// Every other base is copied now and encoded later,
						// as the checkpoint writer does (baseLater).
						w, ok := a.o.snapshotBaseLater()
						if !ok {
							t.Fatal("the groups could not be copied")
						}
						later, frozen, deltas = w, groupStates(t, a.o), nil
						bases++
						copied++
						continue
					}
					b, err := a.o.SnapshotBase()
					if err != nil {
						t.Fatal(err)
					}
					base, deltas = b, nil
					bases++
				} else {
					d, _, _, err := a.o.SnapshotDelta()
					if err != nil {
						t.Fatal(err)
					}
					deltas = append(deltas, d)
				}
				b := restore(round, base, deltas)
				if got, want := groupStates(t, b.o), groupStates(t, a.o); got != want {
					t.Fatalf("round %d: base and %d deltas restore %d groups, the operator has %d",
						round, len(deltas), b.o.m.len(), a.o.m.len())
				}
				if got, want := b.o.bytes, b.recount(); got != want {
					t.Fatalf("round %d: restored state bytes %d, recomputed %d", round, got, want)
				}
			}
			if bases < 3 || copied < 2 || removed == 0 || compactions == 0 {
				t.Fatalf("the run did not cover the cases: %d bases (%d copied), %d rounds removed groups, %d compactions",
					bases, copied, removed, compactions)
			}
		})
	}
}

// TestGroupAggSnapshotLeavesOutCurrentResults checks how a group's
// snapshot gives the results it last emitted: left out (prevCurrent) for
// a group of flat accumulators that has not changed since it emitted, as
// at a barrier, and restored from the accumulators; written out (prevRow)
// for a group changed since, or one whose accumulators keep objects; and
// that a snapshot of the version before (a bool and always the row) still
// restores.
func TestGroupAggSnapshotLeavesOutCurrentResults(t *testing.T) {
	h := newHarness(t, Config{})
	flat := &plan.GroupAgg{Input: wsNInput, GroupBy: []expr.Expr{col(0, "ws", types.TTimestamp)},
		Aggs: []plan.AggCall{sumOf(col(1, "n", types.TInt64)), countStar()},
		Cols: types.Schema{{Name: "ws", Type: types.TTimestamp}, {Name: "s", Type: types.TInt64}, {Name: "n", Type: types.TInt64}}}
	// prevOf reads the emitted byte of every group of a full snapshot.
	prevOf := func(o *groupAggOp) []byte {
		t.Helper()
		var kinds []byte
		o.m.each(func(id int) {
			e := &snapEnc{}
			if err := o.encodeGroup(e, id); err != nil {
				t.Fatal(err)
			}
			d := &snapDec{b: e.b}
			d.row()
			o.lay.skip(d)
			d.varint()
			kinds = append(kinds, d.byte())
		})
		return kinds
	}
	prevRows := func(o *groupAggOp) string {
		var lines []string
		o.m.each(func(id int) {
			lines = append(lines, fmt.Sprintf("%v emitted=%v %v", o.m.key(id), o.grp(id).flags&groupEmitted != 0, o.prev.at(id)))
		})
		slices.Sort(lines)
		return strings.Join(lines, "\n")
	}
	restored := func(n *plan.GroupAgg, b []byte) *groupAggOp {
		t.Helper()
		r := newDirectOp(t, h, n)
		if err := r.o.Restore(b); err != nil {
			t.Fatal(err)
		}
		return r.o
	}

	a := newDirectOp(t, h, flat)
	if !a.o.lay.pure() {
		t.Fatal("sum and count keep flat words")
	}
	a.changes(t, [3]float64{1, 1, 5}, [3]float64{1, 2, 7}, [3]float64{1, 2, 1}, [3]float64{-1, 2, 7})
	a.emitted()
	if got := prevOf(a.o); !slices.Equal(got, []byte{prevCurrent, prevCurrent}) {
		t.Fatalf("emitted and unchanged groups encode %v, want both prevCurrent", got)
	}
	snap, err := a.o.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := prevRows(restored(flat, snap)), prevRows(a.o); got != want {
		t.Fatalf("restored emitted rows\n%s\nwant\n%s", got, want)
	}

	// A group changed since it emitted (no flush yet) keeps the row the
	// view has, which its accumulators no longer give.
	c := getChunk(2)
	c.Append(chunk.Insert, sec(1), types.Row{types.NewTimestamp(sec(1)), types.NewInt(100)})
	if err := a.o.OnData(0, c, a.out); err != nil {
		t.Fatal(err)
	}
	kinds := prevOf(a.o)
	slices.Sort(kinds)
	if !slices.Equal(kinds, []byte{prevRow, prevCurrent}) {
		t.Fatalf("one changed group: encodings %v, want one prevRow and one prevCurrent", kinds)
	}
	if snap, err = a.o.Snapshot(); err != nil {
		t.Fatal(err)
	}
	r := restored(flat, snap)
	if got, want := prevRows(r), prevRows(a.o); got != want {
		t.Fatalf("restored emitted rows\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(prevRows(r), "[5 1]") {
		t.Fatalf("the changed group lost the row it emitted (sum 5, count 1):\n%s", prevRows(r))
	}

	// A base the writer encodes from a copy (snapshotBaseLater), with the
	// group still changed (its row copied) and after it emitted (no rows
	// copied: none is encoded).
	laterBase := func(o *groupAggOp) []byte {
		t.Helper()
		o.startTracking()
		write, ok := o.snapshotBaseLater()
		if !ok {
			t.Fatal("flat accumulators can be copied")
		}
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if got, want := prevRows(restored(flat, laterBase(a.o))), prevRows(a.o); got != want {
		t.Fatalf("restored from a copied base with a changed group\n%s\nwant\n%s", got, want)
	}
	if err := a.o.FlushBatch(a.out); err != nil {
		t.Fatal(err)
	}
	a.emitted()
	if got, want := prevRows(restored(flat, laterBase(a.o))), prevRows(a.o); got != want || !strings.Contains(want, "[105 2]") {
		t.Fatalf("restored from a copied base after the flush\n%s\nwant\n%s (with sum 105, count 2)", got, want)
	}

	// Aggregates that keep objects always write the row.
	m := newDirectOp(t, h, maxPerWindow(wsNInput, nil))
	m.changes(t, [3]float64{1, 1, 5})
	if got := prevOf(m.o); !slices.Equal(got, []byte{prevRow}) {
		t.Fatalf("max with retractions encodes %v, want prevRow", got)
	}

	// The previous version wrote a bool and always the row.
	e := &snapEnc{}
	e.uvarint(snapGroupVersion - 1)
	e.uvarint(uint64(a.o.m.len()))
	a.o.m.each(func(id int) {
		e.row(a.o.m.key(id))
		if err := a.o.lay.encode(e, a.o.words.at(id), a.o.states.at(id)); err != nil {
			t.Fatal(err)
		}
		e.varint(a.o.grp(id).win)
		e.bool(true)
		e.row(a.o.prev.at(id))
		e.varint(0)
	})
	if got, want := prevRows(restored(flat, e.b)), prevRows(a.o); got != want {
		t.Fatalf("a version %d snapshot restored\n%s\nwant\n%s", snapGroupVersion-1, got, want)
	}
}
