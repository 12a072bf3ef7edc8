package batch

import (
	"math/rand/v2"
	"testing"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

const sec = types.MicrosPerSecond

func ts(s int64) types.Value { return types.NewTimestamp(s * sec) }

// events(ts, key, v)
var eventsS = schema("ts ts", "k text", "v")

func eventsFixture() *memProvider {
	p := newMem()
	p.rel["events"] = []types.Row{
		{ts(1), txt("a"), i64(1)},
		{ts(12), txt("a"), i64(2)},
		{ts(3), txt("b"), i64(4)},
		{ts(9), txt("a"), i64(8)},
		{ts(25), txt("b"), i64(16)},
		{null, txt("a"), i64(32)}, // no event time: in no window
	}
	return p
}

func windowCols(keys ...string) types.Schema {
	s := schema(keys...)
	return append(s, schema("window_start ts", "window_end ts", "window_time ts", "sum", "first")...)
}

func windowAgg(w plan.WindowSpec) *plan.WindowAgg {
	return &plan.WindowAgg{
		Input:   scan("events", eventsS),
		Window:  w,
		GroupBy: []expr.Expr{cref(eventsS, 1)},
		Aggs: []plan.AggCall{aggCall("sum", cref(eventsS, 2), types.TNumeric),
			aggCall("first_value", cref(eventsS, 2), types.TInt64)},
		Cols: windowCols("k text"),
	}
}

// secs renders window bounds as seconds for compact expectations.
func secs(rows []types.Row, cols ...int) []types.Row {
	for _, r := range rows {
		for _, c := range cols {
			r[c] = i64(r[c].I / sec)
		}
	}
	return rows
}

func TestTumbleWindowAgg(t *testing.T) {
	p := eventsFixture()
	w := windowAgg(plan.WindowSpec{Kind: plan.Tumble, TimeCol: 0, Size: 10 * sec})
	rows := collect(t, p, w)
	if rows[0][1].K != types.Timestamp {
		t.Fatalf("window_start is a timestamp, got %v", rows[0][1].K)
	}
	// first_value follows event time: in a's [0,10) window 1@1s comes before 8@9s.
	expectRows(t, secs(rows, 1, 2, 3), "a|0|10|9|9|1;b|0|10|9|4|4;a|10|20|19|2|2;b|20|30|29|16|16")
}

func TestHopWindowAgg(t *testing.T) {
	p := eventsFixture()
	w := windowAgg(plan.WindowSpec{Kind: plan.Hop, TimeCol: 0, Size: 10 * sec, Slide: 5 * sec})
	expectRows(t, secs(collect(t, p, w), 1, 2, 3),
		"a|-5|5|4|1|1;b|-5|5|4|4|4;a|0|10|9|9|1;b|0|10|9|4|4;a|5|15|14|10|8;a|10|20|19|2|2;b|20|30|29|16|16;b|25|35|34|16|16")
}

func TestCumulateWindowAgg(t *testing.T) {
	p := eventsFixture()
	w := windowAgg(plan.WindowSpec{Kind: plan.Cumulate, TimeCol: 0, Size: 20 * sec, Step: 10 * sec})
	expectRows(t, secs(collect(t, p, w), 1, 2, 3),
		"a|0|10|9|9|1;b|0|10|9|4|4;a|0|20|19|11|1;b|0|20|19|4|4;b|20|30|29|16|16;b|20|40|39|16|16")
}

func TestSessionWindowAgg(t *testing.T) {
	p := eventsFixture()
	// Gap 5s: a's events at 1, 9, 12 → sessions [1, 6) and [9, 17); b's at 3, 25 → [3, 8), [25, 30).
	w := windowAgg(plan.WindowSpec{Kind: plan.Session, TimeCol: 0, Gap: 5 * sec})
	expectRows(t, secs(collect(t, p, w), 1, 2, 3), "a|1|6|5|1|1;b|3|8|7|4|4;a|9|17|16|10|8;b|25|30|29|16|16")
	// Gap 10s joins all of a's; a maximum duration of 10s splits it again at 12s.
	w = windowAgg(plan.WindowSpec{Kind: plan.Session, TimeCol: 0, Gap: 10 * sec})
	expectRows(t, secs(collect(t, p, w), 1, 2, 3), "a|1|22|21|11|1;b|3|13|12|4|4;b|25|35|34|16|16")
	w = windowAgg(plan.WindowSpec{Kind: plan.Session, TimeCol: 0, Gap: 10 * sec, MaxDuration: 10 * sec})
	expectRows(t, secs(collect(t, p, w), 1, 2, 3), "a|1|19|18|9|1;b|3|13|12|4|4;a|12|22|21|2|2;b|25|35|34|16|16")
}

func TestWindowAssign(t *testing.T) {
	p := eventsFixture()
	cols := append(append(types.Schema{}, eventsS...), schema("window_start ts", "window_end ts", "window_time ts")...)
	wa := &plan.WindowAssign{Input: scan("events", eventsS), Window: plan.WindowSpec{Kind: plan.Hop, TimeCol: 0, Size: 10 * sec, Slide: 5 * sec}, Cols: cols}
	rows := collect(t, p, &plan.Limit{Input: wa, Count: 4})
	expectRows(t, secs(rows, 0, 3, 4, 5), "1|a|1|-5|5|4;1|a|1|0|10|9;12|a|2|5|15|14;12|a|2|10|20|19")
	bad := &plan.WindowAssign{Input: scan("events", eventsS), Window: plan.WindowSpec{Kind: plan.Tumble}, Cols: cols}
	if _, err := Collect(t.Context(), nil, bad, p); err == nil {
		t.Fatal("a zero-size window is an error")
	}
}

func TestTopNAndDedup(t *testing.T) {
	p := eventsFixture()
	top := &plan.TopN{Input: scan("events", eventsS), PartitionBy: []expr.Expr{cref(eventsS, 1)},
		OrderBy: []plan.SortKey{{Expr: cref(eventsS, 2), Desc: true}}, N: 2, RankCol: true,
		Cols: append(append(types.Schema{}, eventsS...), schema("rn")...)}
	rows := collect(t, p, &plan.Project{Input: top, Exprs: []expr.Expr{cref(top.Cols, 1), cref(top.Cols, 2), cref(top.Cols, 3)}, Cols: schema("k text", "v", "rn")})
	expectRows(t, rows, "a|32|1;a|8|2;b|16|1;b|4|2")
	if p.rel["events"][0][2].I != 1 {
		t.Fatal("provider rows must not be modified")
	}

	first := &plan.Dedup{Input: scan("events", eventsS), Keys: []expr.Expr{cref(eventsS, 1)}, Cols: eventsS}
	expectRows(t, collect(t, p, &plan.Project{Input: first, Exprs: []expr.Expr{cref(eventsS, 2)}, Cols: schema("v")}), "1;4")
	last := &plan.Dedup{Input: scan("events", eventsS), Keys: []expr.Expr{cref(eventsS, 1)}, KeepLast: true, Cols: eventsS}
	expectRows(t, collect(t, p, &plan.Project{Input: last, Exprs: []expr.Expr{cref(eventsS, 2)}, Cols: schema("v")}), "32;16")
}

func TestLookupAndIntervalJoin(t *testing.T) {
	p := eventsFixture()
	p.rel["dim"] = []types.Row{{txt("a"), txt("alpha")}, {txt("c"), txt("gamma")}}
	dimS := schema("k text", "label text")
	lj := &plan.LookupJoin{Stream: scan("events", eventsS), Table: scan("dim", dimS), Kind: plan.LeftJoin,
		StreamKey: []expr.Expr{cref(eventsS, 1)}, TableKey: []int{0},
		Cols: append(append(types.Schema{}, eventsS...), dimS...)}
	rows := collect(t, p, &plan.Project{Input: lj, Exprs: []expr.Expr{cref(lj.Cols, 2), cref(lj.Cols, 4)}, Cols: schema("v", "l text")})
	expectRows(t, rows, "1|alpha;2|alpha;4|NULL;8|alpha;16|NULL;32|alpha")

	// Interval join of events with itself: right.ts - left.ts in [1s, 10s], same key.
	ij := &plan.IntervalJoin{Left: scan("events", eventsS), Right: scan("events", eventsS), Kind: plan.InnerJoin,
		LeftKey: []expr.Expr{cref(eventsS, 1)}, RightKey: []expr.Expr{cref(eventsS, 1)}, LeftTime: 0, RightTime: 0,
		LowerBound: 1 * sec, UpperBound: 10 * sec, Cols: append(append(types.Schema{}, eventsS...), eventsS...)}
	rows = collect(t, p, &plan.Project{Input: ij, Exprs: []expr.Expr{cref(ij.Cols, 2), cref(ij.Cols, 5)}, Cols: schema("l", "r")})
	expectRows(t, rows, "1|8;8|2")
}

// TestAssignWindowsBruteForce compares window assignment with a search over
// all window starts near t, including negative times and offsets.
func TestAssignWindowsBruteForce(t *testing.T) {
	r := newRand()
	for range 2000 {
		size := 1 + r.Int64N(20)
		slide := 1 + r.Int64N(size)
		off := r.Int64N(30) - 15
		ts := r.Int64N(200) - 100
		hop := plan.WindowSpec{Kind: plan.Hop, Size: size, Slide: slide, Offset: off}
		var want [][2]int64
		for s := off - 10*size - 300; s <= ts; s++ {
			if (s-off)%slide == 0 && s <= ts && ts < s+size {
				want = append(want, [2]int64{s, s + size})
			}
		}
		if got := assignWindows(hop, ts, nil); !equalWindows(got, want) {
			t.Fatalf("hop %v t=%d: got %v want %v", hop, ts, got, want)
		}
		tumble := plan.WindowSpec{Kind: plan.Tumble, Size: size, Offset: off}
		got := assignWindows(tumble, ts, nil)
		if len(got) != 1 || got[0][0] > ts || ts >= got[0][1] || (got[0][0]-off)%size != 0 {
			t.Fatalf("tumble %v t=%d: %v", tumble, ts, got)
		}
		step := 1 + r.Int64N(size)
		cum := plan.WindowSpec{Kind: plan.Cumulate, Size: step * (1 + r.Int64N(4)), Step: step, Offset: off}
		want = want[:0]
		for s := off - 10*cum.Size - 300; s <= ts; s++ {
			if (s-off)%cum.Size != 0 {
				continue
			}
			for e := s + step; e <= s+cum.Size; e += step {
				if s <= ts && ts < e {
					want = append(want, [2]int64{s, e})
				}
			}
		}
		if got := assignWindows(cum, ts, nil); !equalWindows(got, want) {
			t.Fatalf("cumulate %v t=%d: got %v want %v", cum, ts, got, want)
		}
	}
}

func equalWindows(a, b [][2]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func newRand() *rand.Rand { return rand.New(rand.NewPCG(41, 42)) }
