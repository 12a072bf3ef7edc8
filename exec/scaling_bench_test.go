package exec

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// scaleEvents is the number of events each run of BenchmarkScaling reads:
// enough that starting and stopping a job (a few milliseconds) does not
// matter.
const scaleEvents = 4_000_000

// scaleQueries are the queries of BenchmarkScaling, all keyed by 1000 keys
// over the bench source (1 ms of event time apart, a little disorder).
var scaleQueries = []struct {
	name string
	plan func() plan.Node
	key  []int // the view's key (updating views)
}{
	// A tumbling 10 s count/sum, emitted when the window closes (the query
	// of BenchmarkParallelTumble).
	{name: "tumble", plan: func() plan.Node {
		return windowAgg(benchScan(scaleEvents, 1000, 1000),
			plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, 0)
	}},
	// A hopping 60 s window sliding every 10 s with count, sum and max:
	// more accumulators per event and six panes merged per fired window.
	{name: "hop", plan: func() plan.Node {
		return windowAgg(benchScan(scaleEvents, 1000, 1000),
			plan.WindowSpec{Kind: plan.Hop, TimeCol: 2, Size: micros(60), Slide: micros(10)}, plan.EmitOnWindowClose, 0,
			countStar(), sumOf(col(1, "v", types.TInt64)), maxOf(col(1, "v", types.TInt64)))
	}},
	// An updating GROUP BY k (count, sum): every batch retracts and
	// re-emits the changed groups, and the view applies those changes.
	{name: "groupby", plan: func() plan.Node { return groupAggPlan(benchScan(scaleEvents, 1000, 1000)) }, key: []int{0}},
}

// scaleRun accumulates the wall and CPU time of the runs of one setting.
type scaleRun struct {
	wall, cpu time.Duration
	events    float64
}

func (r scaleRun) evPerSec() float64    { return r.events / r.wall.Seconds() }
func (r scaleRun) evPerCPUSec() float64 { return r.events / r.cpu.Seconds() }
func (r scaleRun) cores() float64       { return r.cpu.Seconds() / r.wall.Seconds() }

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
// (what the shuffle and merge cost: 1 means free). Run with
//
//	go test -run xxx -bench Scaling -benchtime 3x ./exec/
//
// on a quiet machine: another process on one of the two cores halves w2.
func BenchmarkScaling(b *testing.B) {
	for _, q := range scaleQueries {
		b.Run(q.name, func(b *testing.B) {
			var runs [2]scaleRun
			for b.Loop() {
				for i, w := range []int{1, 2} {
					wall, cpu := runScaled(b, w, q.plan(), q.key)
					runs[i].wall += wall
					runs[i].cpu += cpu
					runs[i].events += scaleEvents
				}
			}
			for i, r := range runs {
				w := fmt.Sprintf("w%d-", i+1)
				b.ReportMetric(r.evPerSec(), w+"ev/s")
				b.ReportMetric(r.evPerCPUSec(), w+"ev/cpu-s")
				b.ReportMetric(r.cores(), w+"cores")
			}
			b.ReportMetric(runs[1].evPerSec()/runs[0].evPerSec(), "ratio")
			b.ReportMetric(runs[1].evPerCPUSec()/runs[0].evPerCPUSec(), "cpu-ratio")
			b.ReportMetric(0, "ns/op") // the time of both runs together means nothing
		})
	}
}

// runScaled runs p to its end with the given number of workers on as many
// cores, and returns the wall and CPU time the run took.
func runScaled(b *testing.B, workers int, p plan.Node, key []int) (wall, cpu time.Duration) {
	b.Helper()
	runtime.GC() // the previous run's garbage is not this run's work
	prev := runtime.GOMAXPROCS(workers)
	defer runtime.GOMAXPROCS(prev)
	start, c0 := time.Now(), cpuTime()
	e := runBench(b, Config{Parallelism: workers, BarrierInterval: -1}, p, key...)
	wall, cpu = time.Since(start), cpuTime()-c0
	_ = e.Close(context.Background())
	if got := e.ViewStats(); len(got) != 1 || got[0].RowsIn != scaleEvents {
		b.Fatalf("view stats %+v, want %d rows in", got, scaleEvents)
	}
	return wall, cpu
}
