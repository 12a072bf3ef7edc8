package exec

import (
	"context"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// scaleEvents is the number of events each run of BenchmarkScaling reads:
// enough that starting and stopping a job (a few milliseconds) does not
// matter. $SLUICE_SCALE_EVENTS overrides it (for a run under a profiler
// such as valgrind --tool=cachegrind, whose instruction counts do not
// depend on the machine's load).
var scaleEvents = func() int {
	if n, err := strconv.Atoi(os.Getenv("SLUICE_SCALE_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 4_000_000
}()

// scaleQueries are the queries of BenchmarkScaling, all keyed by 1000 keys
// over the bench source (1 ms of event time apart, a little disorder).
var scaleQueries = []struct {
	name string
	plan func(events int) plan.Node
	key  []int // the view's key (updating views)
}{
	// A tumbling 10 s count/sum, emitted when the window closes (the query
	// of BenchmarkParallelTumble).
	{name: "tumble", plan: func(events int) plan.Node {
		return windowAgg(benchScan(events, 1000, 1000),
			plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, 0)
	}},
	// A hopping 60 s window sliding every 10 s with count, sum and max:
	// more accumulators per event and six panes merged per fired window.
	{name: "hop", plan: func(events int) plan.Node {
		return windowAgg(benchScan(events, 1000, 1000),
			plan.WindowSpec{Kind: plan.Hop, TimeCol: 2, Size: micros(60), Slide: micros(10)}, plan.EmitOnWindowClose, 0,
			countStar(), sumOf(col(1, "v", types.TInt64)), maxOf(col(1, "v", types.TInt64)))
	}},
	// An updating GROUP BY k (count, sum): every batch retracts and
	// re-emits the changed groups, and the view applies those changes.
	{name: "groupby", plan: func(events int) plan.Node { return groupAggPlan(benchScan(events, 1000, 1000)) }, key: []int{0}},
	// The first event of each (k, v / 100000): a dedup whose keys keep
	// coming (1000 new ones every 100 000 events), emitting one row in a
	// hundred.
	{name: "dedup", plan: func(events int) plan.Node {
		sc := benchScan(events, 1000, 1000)
		bucket, err := expr.NewArith(expr.Div, col(1, "v", types.TInt64), &expr.Const{V: types.NewInt(100_000), T: types.TInt64})
		if err != nil {
			panic(err)
		}
		return &plan.Dedup{Input: sc, Keys: []expr.Expr{col(0, "k", types.TText), bucket}, Cols: sc.Schema()}
	}},
	// An interval join of two streams (half the events each) on the key,
	// each left row meeting the right row of its time: the join keeps
	// about 4 s of rows per side (the watermark's delay).
	{name: "interval-join", plan: func(events int) plan.Node {
		l, r := benchScan(events/2, 1000, 1000), benchScan(events-events/2, 1000, 1000)
		k := []expr.Expr{col(0, "k", types.TText)}
		return &plan.IntervalJoin{Left: l, Right: r, Kind: plan.InnerJoin, LeftKey: k, RightKey: k,
			LeftTime: 2, RightTime: 2, LowerBound: 0, UpperBound: micros(0.0005),
			Cols: append(append(types.Schema{}, l.Cols...), r.Cols...)}
	}},
}

// scaleRun accumulates the wall and CPU time of the runs of one setting.
type scaleRun struct {
	wall, cpu time.Duration
	busy      float64 // seconds the Go scheduler's Ps ran goroutines (runtime/metrics)
	events    float64
}

func (r scaleRun) evPerSec() float64    { return r.events / r.wall.Seconds() }
func (r scaleRun) evPerCPUSec() float64 { return r.events / r.cpu.Seconds() }
func (r scaleRun) cores() float64       { return r.cpu.Seconds() / r.wall.Seconds() }
func (r scaleRun) procs() float64       { return r.busy / r.wall.Seconds() }

// procSeconds reads how long the Go scheduler's Ps have been busy: the
// runtime's total CPU capacity (GOMAXPROCS times wall time) less its idle
// time, where a P running only the idle-priority GC mark worker counts as
// idle. Unlike getrusage this does not shrink when another process takes
// a core (a P stays busy while its thread waits for the core), so it shows
// how much of the cores the dataflow could use: the pipeline's stalls.
// The runtime updates these classes at the end of each GC cycle only.
func procSeconds() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"},
		{Name: "/cpu/classes/gc/mark/idle:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64() - s[1].Value.Float64() - s[2].Value.Float64()
}

// BenchmarkScaling is the scaling benchmark of issue 4: the same query with
// one worker on one core and with two workers on two cores, run back to
// back in each iteration, and their throughput ratio (target ≥ 1.8).
//
// A worker is a core, as a Flink task slot is: the engine runs every
// operator in its own goroutine, so a single worker given two cores
// already spreads its source, aggregate and view over both, and "one worker
// against two" with GOMAXPROCS=2 measures nothing but that pipelining.
// Scaling asks what a second core buys when the query is given it, so the
// one-worker run is limited to one core (runtime.GOMAXPROCS(1)) and the
// two-worker run gets two (Config.Parallelism 2, GOMAXPROCS(2));
// GOMAXPROCS is restored after each run.
//
// Metrics, for w1 (one worker, one core) and w2 (two workers, two cores):
// ev/s, ev/cpu-s (events per CPU second of the process, getrusage: on a
// shared machine the steadier number) and cores (CPU seconds per wall
// second); ratio is ev/s of w2 over w1, cpu-ratio the same for ev/cpu-s
// (what the shuffle and merge cost: 1 means free), both over the summed
// times; ratio-median and cpu-ratio-median are the medians over iterations
// of the same ratios of one iteration's two runs, which ran back to back;
// ratio-best is the fastest w2 run over the fastest w1 run. Another
// tenant's load slows w2, which needs both cores at once, more than w1,
// which runs on whichever core is free, so in a busy minute the medians
// fall while ratio-best, the speed-up each setting shows at its least
// disturbed, stays (on this VM the tumble median ranged 1.36-2.02 over one
// hour). $SLUICE_SCALE_TRACE=1 logs every run.
// On this 2-core VM a setting's rate varies by ±20% from one run to the
// next (w1 more than w2: its collector shares its one core), so read the
// medians of many iterations:
//
//	go test -run xxx -bench Scaling -benchtime 8x ./exec/
//
// on a quiet machine: another process on one of the two cores halves w2.
// $SLUICE_SCALE_WORKERS=1 (or 2, or split) runs only that setting, for a CPU profile
// of it (-cpuprofile).
func BenchmarkScaling(b *testing.B) {
	for _, q := range scaleQueries {
		b.Run(q.name, func(b *testing.B) {
			var runs [3]scaleRun
			var pairs, cpuPairs, splits, ofSplit []float64 // per iteration
			var best [3]float64                            // the fastest run of each setting (ev/s)
			for b.Loop() {
				var it [3]scaleRun
				for i, w := range scaleWorkers() {
					var wall, cpu time.Duration
					var busy float64
					switch {
					case w == 0:
						continue
					case i == 2:
						wall, cpu, busy = runSplit(b, q.plan, q.key)
					default:
						wall, cpu, busy = runScaled(b, w, q.plan(scaleEvents), q.key)
					}
					it[i] = scaleRun{wall: wall, cpu: cpu, busy: busy, events: float64(scaleEvents)}
					best[i] = max(best[i], it[i].evPerSec())
					if os.Getenv("SLUICE_SCALE_TRACE") != "" {
						b.Logf("%s %s: %.0f ev/s, %.0f ev/cpu-s, %.2f cores", q.name, [...]string{"w1", "w2", "split"}[i],
							it[i].evPerSec(), it[i].evPerCPUSec(), it[i].cores())
					}
					runs[i].wall += wall
					runs[i].cpu += cpu
					runs[i].busy += busy
					runs[i].events += float64(scaleEvents)
				}
				if it[0].events > 0 && it[1].events > 0 {
					pairs = append(pairs, it[1].evPerSec()/it[0].evPerSec())
					cpuPairs = append(cpuPairs, it[1].evPerCPUSec()/it[0].evPerCPUSec())
				}
				if it[0].events > 0 && it[2].events > 0 {
					splits = append(splits, it[2].evPerSec()/it[0].evPerSec())
				}
				if it[1].events > 0 && it[2].events > 0 {
					ofSplit = append(ofSplit, it[1].evPerSec()/it[2].evPerSec())
				}
			}
			for i, r := range runs {
				if r.events == 0 {
					continue
				}
				w := [...]string{"w1-", "w2-", "split-"}[i]
				b.ReportMetric(r.evPerSec(), w+"ev/s")
				b.ReportMetric(r.evPerCPUSec(), w+"ev/cpu-s")
				b.ReportMetric(r.cores(), w+"cores")
				b.ReportMetric(r.procs(), w+"procs-busy")
			}
			if runs[0].events > 0 && runs[1].events > 0 {
				b.ReportMetric(runs[1].evPerSec()/runs[0].evPerSec(), "ratio")
				b.ReportMetric(runs[1].evPerCPUSec()/runs[0].evPerCPUSec(), "cpu-ratio")
				b.ReportMetric(median(pairs), "ratio-median")
				b.ReportMetric(best[1]/best[0], "ratio-best")
				b.ReportMetric(median(cpuPairs), "cpu-ratio-median")
			}
			if len(splits) > 0 {
				b.ReportMetric(median(splits), "split-ratio-median")
				b.ReportMetric(best[2]/best[0], "split-ratio-best")
			}
			if len(ofSplit) > 0 {
				b.ReportMetric(median(ofSplit), "w2-of-split-median")
			}
			b.ReportMetric(0, "ns/op") // the time of both runs together means nothing
		})
	}
}

// runSplit is the machine's own ceiling for the query on two cores: two
// independent one-worker jobs (two engines, no shuffle and no merge), each
// over half the events, run at once with GOMAXPROCS(2). Whatever keeps it
// under 2x the one-worker rate (the two cores sharing the memory system,
// the hypervisor, other tenants) caps the two-worker run as well, so
// w2-of-split says how much of the attainable speed-up the engine's own
// parallelism delivers.
func runSplit(b *testing.B, mk func(events int) plan.Node, key []int) (wall, cpu time.Duration, busy float64) {
	b.Helper()
	runtime.GC()
	prev := runtime.GOMAXPROCS(2)
	defer runtime.GOMAXPROCS(prev)
	half := [2]plan.Node{mk(scaleEvents / 2), mk(scaleEvents - scaleEvents/2)}
	var engines [2]*Engine
	var errs [2]error
	start, c0, p0 := time.Now(), cpuTime(), procSeconds()
	var wg sync.WaitGroup
	for i := range half {
		wg.Go(func() { engines[i], errs[i] = runToEnd(Config{Parallelism: 1, BarrierInterval: -1}, half[i], key...) })
	}
	wg.Wait()
	wall, cpu = time.Since(start), cpuTime()-c0
	runtime.GC()
	p1 := procSeconds()
	runtime.GC()
	busy = max(p1-p0-(procSeconds()-p1), 0)
	var in int64
	for i, e := range engines {
		if errs[i] != nil {
			b.Fatal(errs[i])
		}
		for _, st := range e.ViewStats() {
			in += st.RowsIn
		}
		_ = e.Close(context.Background())
	}
	if in != int64(scaleEvents) {
		b.Fatalf("split runs read %d rows, want %d", in, scaleEvents)
	}
	return wall, cpu, busy
}

// median returns the median of xs (which it sorts).
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// scaleWorkers is the settings BenchmarkScaling runs: both, or only the
// one $SLUICE_SCALE_WORKERS names (1 or 2), to profile one of them.
func scaleWorkers() []int {
	switch os.Getenv("SLUICE_SCALE_WORKERS") {
	case "1":
		return []int{1, 0}
	case "2":
		return []int{0, 2}
	case "split":
		return []int{0, 0, 2}
	}
	return []int{1, 2, 2}
}

// runScaled runs p to its end with the given number of workers on as many
// cores, and returns the wall and CPU time the run took.
func runScaled(b *testing.B, workers int, p plan.Node, key []int) (wall, cpu time.Duration, busy float64) {
	b.Helper()
	runtime.GC() // the previous run's garbage is not this run's work
	prev := runtime.GOMAXPROCS(workers)
	defer runtime.GOMAXPROCS(prev)
	start, c0, p0 := time.Now(), cpuTime(), procSeconds()
	e := runBench(b, Config{Parallelism: workers, BarrierInterval: -1}, p, key...)
	wall, cpu = time.Since(start), cpuTime()-c0
	// The runtime's CPU classes are a snapshot taken by the last GC: force
	// one to read them, and a second one to subtract what the first one
	// itself counted.
	runtime.GC()
	p1 := procSeconds()
	runtime.GC()
	busy = max(p1-p0-(procSeconds()-p1), 0)
	_ = e.Close(context.Background())
	if got := e.ViewStats(); len(got) != 1 || got[0].RowsIn != int64(scaleEvents) {
		b.Fatalf("view stats %+v, want %d rows in", got, scaleEvents)
	}
	return wall, cpu, busy
}

// BenchmarkShuffle is the cost per row of routing 1024-row chunks of the
// bench source's rows (1000 text keys) to two copies (ns/row), with the
// copies' ends of the queues drained by other goroutines (cpu-ns/row
// counts their CPU time too: run it with -cpu 1 on a busy machine).
func BenchmarkShuffle(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const par = 2
	sh := newShuffleOp(ctx, newKeyEval([]expr.Expr{col(0, "k", types.TText)}), par)
	done := make(chan struct{})
	for range par {
		ch := make(chan envelope, 16)
		sh.outs = append(sh.outs, outlet{ch: ch})
		go func() {
			defer func() { done <- struct{}{} }()
			for {
				select {
				case env := <-ch:
					putChunk(env.msg.Chunk)
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	in := chunk.New(3, chunkRows)
	for i := range chunkRows {
		x := i * 7919
		in.Append(chunk.Insert, int64(x), types.Row{types.NewText("key-" + strconv.Itoa(x%1000)), types.NewInt(int64(i)), types.NewTimestamp(int64(x))})
	}
	var em emitter
	rows := 0
	c0 := cpuTime()
	for b.Loop() {
		if err := sh.OnData(0, in, &em); err != nil {
			b.Fatal(err)
		}
		rows += in.Len()
	}
	if err := sh.OnControl(chunk.Message{Kind: chunk.Watermark, Watermark: 1}); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
	b.ReportMetric(float64((cpuTime()-c0).Nanoseconds())/float64(rows), "cpu-ns/row")
	cancel()
	for range par {
		<-done
	}
}
