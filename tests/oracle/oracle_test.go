package oracle

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/exec"
	"github.com/sluice-db/sluice/sql/types"
	"github.com/sluice-db/sluice/tests/slt"
)

const (
	sec   = int64(1_000_000)
	delay = 2 * sec
)

type event struct {
	key   int64
	price int64
	t     int64
}

// generate returns n events in arrival order: event times advance about
// 10 ms per event with up to 3 s of disorder, and about 2% arrive 5-30 s
// late.
func generate(rng *rand.Rand, n int) []event {
	base := slt.Start.UnixMicro()
	out := make([]event, n)
	for i := range out {
		t := base + int64(i)*10_000 - rng.Int64N(3*sec)
		if rng.IntN(50) == 0 {
			t -= 5*sec + rng.Int64N(25*sec)
		}
		out[i] = event{key: rng.Int64N(20), price: rng.Int64N(1000), t: t}
	}
	return out
}

type agg struct {
	n, sum, max int64
}

func (a *agg) add(p int64) {
	if a.n == 0 || p > a.max {
		a.max = p
	}
	a.n++
	a.sum += p
}

type winKey struct {
	key        int64
	start, end int64
}

// windowsOf lists the [start, end) windows of a tumble (slide = size), hop
// or cumulate (step > 0) spec holding t.
func windowsOf(t, size, slide, step int64) [][2]int64 {
	var out [][2]int64
	floor := func(x, w int64) int64 { return types.FloorDiv(x, w) * w }
	switch {
	case step > 0:
		st := floor(t, size)
		for end := floor(t, step) + step; end <= st+size; end += step {
			out = append(out, [2]int64{st, end})
		}
	default:
		for st := floor(t, slide); st > t-size; st -= slide {
			out = append(out, [2]int64{st, st + size})
		}
	}
	return out
}

// oracleWindows aggregates the on-time events: an event counts in a window
// if the window's end plus lateness was after the watermark when it
// arrived. It also returns how many events missed at least one window.
func oracleWindows(evs []event, size, slide, step, lateness int64) (map[winKey]*agg, int) {
	out := map[winKey]*agg{}
	wm := int64(math.MinInt64)
	maxT := int64(math.MinInt64)
	late := 0
	for _, e := range evs {
		missed := false
		for _, w := range windowsOf(e.t, size, slide, step) {
			if w[1]+lateness <= wm {
				missed = true
				continue
			}
			k := winKey{e.key, w[0], w[1]}
			if out[k] == nil {
				out[k] = &agg{}
			}
			out[k].add(e.price)
		}
		if missed {
			late++
		}
		if e.t > maxT {
			maxT = e.t
			wm = maxT - delay
		}
	}
	return out, late
}

func render(m map[winKey]*agg, cols string) []string {
	var out []string
	for k, a := range m {
		var vals []string
		for _, c := range strings.Split(cols, ",") {
			switch c {
			case "n":
				vals = append(vals, fmt.Sprint(a.n))
			case "sum":
				vals = append(vals, fmt.Sprint(a.sum))
			case "max":
				vals = append(vals, fmt.Sprint(a.max))
			}
		}
		out = append(out, fmt.Sprintf("%d %s %s %s", k.key, types.NewTimestamp(k.start), types.NewTimestamp(k.end), strings.Join(vals, " ")))
	}
	sort.Strings(out)
	return out
}

func snapshot(t *testing.T, e *exec.Engine, view string) []string {
	t.Helper()
	_, rows, err := e.Snapshot(view)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		parts := make([]string, len(r))
		for j, v := range r {
			parts[j] = v.String()
		}
		out[i] = strings.Join(parts, " ")
	}
	sort.Strings(out)
	return out
}

func diff(t *testing.T, view string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	g, w := map[string]bool{}, map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		w[s] = true
	}
	var msg []string
	for _, s := range want {
		if !g[s] {
			msg = append(msg, "missing "+s)
		}
	}
	for _, s := range got {
		if !w[s] {
			msg = append(msg, "extra   "+s)
		}
	}
	if len(msg) > 20 {
		msg = msg[:20]
	}
	t.Fatalf("%s: %d rows, oracle %d rows\n%s", view, len(got), len(want), strings.Join(msg, "\n"))
}

const ddl = `
CREATE TABLE bids (auction BIGINT, price BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '2' SECOND);

CREATE MATERIALIZED VIEW tumble_final AS
SELECT auction, window_start, window_end, count(*) AS n, sum(price) AS total, max(price) AS top
FROM TUMBLE(bids, ts, INTERVAL '5' SECOND) GROUP BY auction, window_start, window_end EMIT ON WINDOW CLOSE;

CREATE MATERIALIZED VIEW tumble_live WITH (allowed_lateness = '3 seconds') AS
SELECT auction, window_start, window_end, count(*) AS n, sum(price) AS total
FROM TUMBLE(bids, ts, INTERVAL '5' SECOND) GROUP BY auction, window_start, window_end;

CREATE MATERIALIZED VIEW hop_final AS
SELECT auction, window_start, window_end, count(*) AS n, max(price) AS top
FROM HOP(bids, ts, INTERVAL '2' SECOND, INTERVAL '6' SECOND) GROUP BY auction, window_start, window_end EMIT ON WINDOW CLOSE;

CREATE MATERIALIZED VIEW hop_live AS
SELECT auction, window_start, window_end, sum(price) AS total
FROM HOP(bids, ts, INTERVAL '2' SECOND, INTERVAL '6' SECOND) GROUP BY auction, window_start, window_end;

CREATE MATERIALIZED VIEW cum_final WITH (allowed_lateness = '1 second') AS
SELECT auction, window_start, window_end, count(*) AS n
FROM CUMULATE(bids, ts, INTERVAL '2' SECOND, INTERVAL '8' SECOND) GROUP BY auction, window_start, window_end EMIT ON WINDOW CLOSE;

CREATE MATERIALIZED VIEW cum_live AS
SELECT auction, window_start, window_end, count(*) AS n
FROM CUMULATE(bids, ts, INTERVAL '2' SECOND, INTERVAL '8' SECOND) GROUP BY auction, window_start, window_end;

CREATE MATERIALIZED VIEW hop_graced WITH (allowed_lateness = '3 seconds') AS
SELECT auction, window_start, window_end, count(*) AS n
FROM HOP(bids, ts, INTERVAL '2' SECOND, INTERVAL '6' SECOND) GROUP BY auction, window_start, window_end EMIT ON WINDOW CLOSE;

CREATE MATERIALIZED VIEW sessions AS
SELECT auction, window_start, window_end, count(*) AS n, sum(price) AS total
FROM SESSION(bids, ts, INTERVAL '300' MILLISECOND) GROUP BY auction, window_start, window_end EMIT ON WINDOW CLOSE;
`

func TestWindowsEqualBatchOracle(t *testing.T) {
	for seed := range uint64(4) {
		par := 1 + int(seed%2)*2 // one worker, and three
		t.Run(fmt.Sprintf("%d/workers=%d", seed, par), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			evs := generate(rng, 10000)
			r := slt.NewRunner(exec.Config{QueueSize: 4, MaxLateEvents: 1 << 20, Parallelism: par})
			defer r.Close()
			ctx := context.Background()
			for _, stmt := range strings.Split(ddl, ";") {
				if strings.TrimSpace(stmt) == "" {
					continue
				}
				if err := r.Run(ctx, slt.Record{Verb: "statement", Args: []string{"ok"}, Body: []string{stmt}}); err != nil {
					t.Fatal(err)
				}
			}
			// Feed in chunks of random sizes: results must not depend on them.
			for i := 0; i < len(evs); {
				n := min(len(evs)-i, 1+rng.IntN(300))
				rows := make([]types.Row, n)
				for k, e := range evs[i : i+n] {
					rows[k] = types.Row{types.NewInt(e.key), types.NewInt(e.price), types.NewTimestamp(e.t)}
				}
				if err := r.Engine.Insert(ctx, "bids", rows); err != nil {
					t.Fatal(err)
				}
				i += n
			}
			if err := r.Engine.AdvanceWatermark("bids", math.MaxInt64/2); err != nil {
				t.Fatal(err)
			}
			if err := r.Engine.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			lateByView := map[string]int{}
			for _, le := range r.Engine.LateEvents() {
				lateByView[le.View]++
			}

			want, late := oracleWindows(evs, 5*sec, 5*sec, 0, 0)
			if late == 0 {
				t.Fatal("the generated stream has no late events")
			}
			diff(t, "tumble_final", snapshot(t, r.Engine, "tumble_final"), render(want, "n,sum,max"))
			if lateByView["tumble_final"] != late {
				t.Fatalf("tumble_final late events %d, oracle %d", lateByView["tumble_final"], late)
			}
			want, late = oracleWindows(evs, 5*sec, 5*sec, 0, 3*sec)
			diff(t, "tumble_live", snapshot(t, r.Engine, "tumble_live"), render(want, "n,sum"))
			if lateByView["tumble_live"] != late {
				t.Fatalf("tumble_live late events %d, oracle %d", lateByView["tumble_live"], late)
			}
			want, late = oracleWindows(evs, 6*sec, 2*sec, 0, 0)
			diff(t, "hop_final", snapshot(t, r.Engine, "hop_final"), render(want, "n,max"))
			diff(t, "hop_live", snapshot(t, r.Engine, "hop_live"), render(want, "sum"))
			if lateByView["hop_final"] != late || lateByView["hop_live"] != late {
				t.Fatalf("hop late events %d/%d, oracle %d", lateByView["hop_final"], lateByView["hop_live"], late)
			}
			want, _ = oracleWindows(evs, 8*sec, 0, 2*sec, 1*sec)
			diff(t, "cum_final", snapshot(t, r.Engine, "cum_final"), render(want, "n"))
			want, _ = oracleWindows(evs, 8*sec, 0, 2*sec, 0)
			diff(t, "cum_live", snapshot(t, r.Engine, "cum_live"), render(want, "n"))
			want, late = oracleWindows(evs, 6*sec, 2*sec, 0, 3*sec)
			diff(t, "hop_graced", snapshot(t, r.Engine, "hop_graced"), render(want, "n"))
			if lateByView["hop_graced"] != late {
				t.Fatalf("hop_graced late events %d, oracle %d", lateByView["hop_graced"], late)
			}
			checkSessions(t, r.Engine, evs)
		})
	}
}

// checkSessions sessionizes, per key, the on-time events (event time not
// behind the watermark when they arrived) and compares with the view; the
// other events must be the view's late events.
func checkSessions(t *testing.T, e *exec.Engine, evs []event) {
	t.Helper()
	const gap = 300_000
	byKey := map[int64][]event{}
	wm, maxT := int64(math.MinInt64), int64(math.MinInt64)
	late := 0
	for _, ev := range evs {
		if ev.t < wm {
			late++
		} else {
			byKey[ev.key] = append(byKey[ev.key], ev)
		}
		if ev.t > maxT {
			maxT = ev.t
			wm = maxT - delay
		}
	}
	n := 0
	for _, le := range e.LateEvents() {
		if le.View == "sessions" {
			n++
		}
	}
	if n != late || late == 0 {
		t.Fatalf("sessions late events %d, oracle %d", n, late)
	}
	var want []string
	for k, es := range byKey {
		sort.SliceStable(es, func(i, j int) bool { return es[i].t < es[j].t })
		start, last, n, sum := es[0].t, es[0].t, int64(0), int64(0)
		for _, ev := range es {
			if ev.t >= last+gap {
				want = append(want, fmt.Sprintf("%d %s %s %d %d", k, types.NewTimestamp(start), types.NewTimestamp(last+gap), n, sum))
				start, n, sum = ev.t, 0, 0
			}
			last = ev.t
			n++
			sum += ev.price
		}
		want = append(want, fmt.Sprintf("%d %s %s %d %d", k, types.NewTimestamp(start), types.NewTimestamp(last+gap), n, sum))
	}
	sort.Strings(want)
	diff(t, "sessions", snapshot(t, e, "sessions"), want)
}
