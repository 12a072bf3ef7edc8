package exec

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// ckbench is a fast bounded source for benchmarks: `events` rows over
// `keys` keys, 1 ms of event time apart with a little disorder.
type ckbench struct{ sourceOnly }

func init() { connectors.Register(ckbench{}) }

func (ckbench) Name() string { return "ckbench" }
func (ckbench) SourceOptions() []connectors.OptionSpec {
	return []connectors.OptionSpec{{Name: "events"}, {Name: "keys"}, {Name: "step_us"}, {Name: "hold"}, {Name: "hot"}}
}

func (ckbench) OpenSource(_ context.Context, spec connectors.SourceSpec) (connectors.Reader, error) {
	n, _ := strconv.Atoi(spec.Options["events"])
	k, _ := strconv.Atoi(spec.Options["keys"])
	step, _ := strconv.Atoi(spec.Options["step_us"])
	if step == 0 {
		step = 1000
	}
	hot, _ := strconv.Atoi(spec.Options["hot"])
	r := &benchReader{total: n, step: int64(step), c: chunk.New(3, 1024), hold: spec.Options["hold"] == "true", hot: hot}
	for i := range k {
		r.keys = append(r.keys, types.NewText("key-"+strconv.Itoa(i)))
	}
	if spec.Position != nil {
		r.next = int(binary.BigEndian.Uint64(spec.Position))
	}
	return r, nil
}

type benchReader struct {
	total, next int
	step        int64
	keys        []types.Value
	c           *chunk.Chunk
	hold        bool // at the end, wait instead of ending the stream
	hot         int  // > 0: after one event per key, only the first hot keys
}

func (r *benchReader) Read(ctx context.Context) (*chunk.Chunk, error) {
	return r.ReadIntoN(ctx, r.c, 1024)
}

// ReadIntoN fills the engine's chunk, as the file, Pulsar and datagen
// readers do (intoReader), so the source forwards it without a copy.
func (r *benchReader) ReadIntoN(ctx context.Context, c *chunk.Chunk, rows int) (*chunk.Chunk, error) {
	if r.next >= r.total {
		if r.hold {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Millisecond):
			}
			return nil, nil
		}
		return nil, io.EOF
	}
	c.Reset()
	c.Partition = 0
	n := min(max(rows, 1), 1024, r.total-r.next)
	base := t0.UnixMicro()
	for i := range n {
		x := r.next + i
		// Every value is set, as a connector's decoder sets them
		// (chunk.AppendRow: no clearing first).
		row := c.AppendRow(chunk.Insert, chunk.NoTime)
		if r.hot > 0 && x >= len(r.keys) {
			row[0] = r.keys[(x*7919)%r.hot]
		} else {
			row[0] = r.keys[(x*7919)%len(r.keys)]
		}
		row[1] = types.NewInt(int64(x))
		row[2] = types.NewTimestamp(base + int64(x)*r.step - int64(x%8)*r.step)
	}
	r.next += n
	return c, nil
}
func (r *benchReader) Partitions() int { return 1 }
func (r *benchReader) Position() ([]byte, error) {
	return binary.BigEndian.AppendUint64(nil, uint64(r.next)), nil
}
func (r *benchReader) Commit(context.Context, []byte) error { return nil }
func (r *benchReader) Close() error                         { return nil }

func benchScan(events, keys int, stepUS int) *plan.Scan {
	return &plan.Scan{Name: "bench", Kind: plan.RelSource, Cols: events3, NumPhysical: 3, Connector: "ckbench",
		Watermark: &plan.Watermark{Col: 2, Delay: micros(4)},
		Options:   map[string]string{"events": strconv.Itoa(events), "keys": strconv.Itoa(keys), "step_us": strconv.Itoa(stepUS)}}
}

var events3 = events

// cpuTime is the process's user plus system CPU time: on a shared machine
// events per CPU second say more than events per wall second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runBench runs one view over the bench source to its end and returns the
// engine (closed by the caller).
func runBench(b *testing.B, cfg Config, p plan.Node, key ...int) *Engine {
	b.Helper()
	e, err := runToEnd(cfg, p, key...)
	if err != nil {
		b.Fatal(err)
	}
	return e
}

// runToEnd runs one view over the bench source to its end and returns the
// engine (closed by the caller, also on error); it may run on any goroutine.
// The view is append-only when its query never retracts, as the planner
// makes it (plan.AppendOnly): its rows are appended, not counted in a
// multiset.
func runToEnd(cfg Config, p plan.Node, key ...int) (*Engine, error) {
	e := NewEngine(cfg)
	if err := e.StartView(context.Background(), &plan.Materialize{Input: p, Name: "v", Key: key, AppendOnly: plan.AppendOnly(p, nil)}); err != nil {
		return e, err
	}
	e.mu.Lock()
	j := e.jobs["v"]
	e.mu.Unlock()
	for {
		j.mu.Lock()
		done, err, ch := j.finished, j.err, j.changed
		j.mu.Unlock()
		if err != nil {
			return e, err
		}
		if done {
			return e, nil
		}
		<-ch
	}
}

// BenchmarkParallelTumble is a tumbling 10 s count/sum by 1000 keys at 1
// and 2 workers (events/s in the ev/s metric).
func BenchmarkParallelTumble(b *testing.B) {
	const n = 2_000_000
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", par), func(b *testing.B) {
			b.ReportAllocs()
			var total, cpu time.Duration
			for b.Loop() {
				p := windowAgg(benchScan(n, 1000, 1000), plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, 0)
				start, c0 := time.Now(), cpuTime()
				e := runBench(b, Config{Parallelism: par, BarrierInterval: -1}, p)
				total += time.Since(start)
				cpu += cpuTime() - c0
				_ = e.Close(context.Background())
			}
			b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "ev/s")
			b.ReportMetric(float64(n)*float64(b.N)/cpu.Seconds(), "ev/cpu-s")
			b.ReportMetric(cpu.Seconds()/total.Seconds(), "cores-used")
		})
	}
}

// BenchmarkCheckpointCost runs the same query (an updating tumbling
// count/sum) without checkpoints and with a checkpoint every second (fsync
// on), with 1000 and 100 000 keys: both settings in each iteration, back
// to back, so that ratio-median (the median over iterations of the rate
// with checkpoints over the rate without) compares runs that saw the same
// machine; the target is >= 0.9. ratio is the same over the summed times,
// cpu-ratio the same for events per CPU second (user and system time of
// the process: the encoding, writing and fsync of the checkpoints, which
// run beside the dataflow). Each run starts with the heap given back to
// the OS (debug.FreeOSMemory), so both fault theirs in: at 100 000 keys
// (a view of 3.8 M rows, 1.5 GB of heap) that is about 580 000 page faults
// and 2-3 s of system time in each run of 7-9 s, which both ratios
// include; without it the run after a large one found its pages still
// mapped, by chance of the scavenger's timing.
// On this 2-core VM separate runs of one setting vary by ±20% (the memory
// system is shared with other tenants), so run it with -benchtime 5x or
// more:
//
//	go test -run xxx -bench CheckpointCost -benchtime 5x ./exec/
//
// SLUICE_CKCOST_ONLY=on (or off) runs one setting alone, for a CPU
// profile of it (the ratios then read 0 or +Inf, ratio-median is left out).
func BenchmarkCheckpointCost(b *testing.B) {
	type query struct {
		name   string
		events int // enough for several checkpoints: 4-9 s a run
		plan   func(events int) plan.Node
		key    []int
	}
	tumble := func(keys, events int) query {
		// An updating view is keyed by its group and window.
		return query{fmt.Sprintf("keys=%d", keys), events, func(n int) plan.Node {
			return windowAgg(benchScan(n, keys, 1000), plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnUpdate, 0)
		}, []int{0, 1}}
	}
	queries := []query{tumble(1000, 12_000_000), tumble(100_000, 4_000_000),
		// A GROUP BY without a window keeps every key it has seen: its
		// operator state grows with the keys, not with the open windows.
		{"groupby/keys=1000000", 4_000_000, func(n int) plan.Node { return groupAggPlan(benchScan(n, 1_000_000, 1000)) }, []int{0}},
		// A one-hour window holding 1 M keys, of which only 1000 change
		// after the first million events: the state is large and changes
		// little, so an incremental checkpoint is small.
		{"window-hot/keys=1000000", 12_000_000, func(n int) plan.Node {
			sc := benchScan(n, 1_000_000, 100)
			sc.Options["hot"] = "1000"
			return windowAgg(sc, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(3600)}, plan.EmitOnWindowClose, 0)
		}, nil},
		// The same with sessions (a one-hour gap): sessionization of many
		// users of whom few are active at a time.
		{"session-hot/keys=1000000", 12_000_000, func(n int) plan.Node {
			sc := benchScan(n, 1_000_000, 100)
			sc.Options["hot"] = "1000"
			return windowAgg(sc, plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(3600)}, plan.EmitOnWindowClose, 0)
		}, nil}}
	for _, q := range queries {
		b.Run(q.name, func(b *testing.B) {
			var total, cpu [2]time.Duration
			var cks int64
			var pairs []float64
			for b.Loop() {
				var wall [2]time.Duration
				for i, ck := range []bool{false, true} {
					if only := os.Getenv("SLUICE_CKCOST_ONLY"); only != "" && (only == "on") != ck {
						continue
					}
					cfg := Config{BarrierInterval: time.Second}
					if ck {
						cfg.CheckpointDir = b.TempDir()
						cfg.CheckpointInterval = time.Second
					}
					p := q.plan(q.events)
					// The previous run's garbage is not this run's work, and
					// its pages are not this run's (see above).
					debug.FreeOSMemory()
					start, c0 := time.Now(), cpuTime()
					e := runBench(b, cfg, p, q.key...)
					wall[i] = time.Since(start)
					total[i] += wall[i]
					cpu[i] += cpuTime() - c0
					if ck {
						for _, s := range e.CheckpointStats() {
							cks += s.Count
						}
					}
					_ = e.Close(context.Background())
				}
				if wall[0] > 0 && wall[1] > 0 {
					pairs = append(pairs, wall[0].Seconds()/wall[1].Seconds())
				}
			}
			for i, name := range []string{"off", "on"} {
				b.ReportMetric(float64(q.events)*float64(b.N)/total[i].Seconds(), name+"-ev/s")
				b.ReportMetric(float64(q.events)*float64(b.N)/cpu[i].Seconds(), name+"-ev/cpu-s")
			}
			b.ReportMetric(total[0].Seconds()/total[1].Seconds(), "ratio")
			b.ReportMetric(cpu[0].Seconds()/cpu[1].Seconds(), "cpu-ratio")
			if len(pairs) > 0 {
				b.ReportMetric(median(pairs), "ratio-median")
			}
			b.ReportMetric(float64(cks)/float64(b.N), "checkpoints/op")
			b.ReportMetric(0, "ns/op") // both runs together mean nothing
		})
	}
}

// BenchmarkRecovery1MOpenKeys restores a view with 1 M open (window, key)
// groups from its checkpoint; recovery_s is RecoveryStats.Duration.
func BenchmarkRecovery1MOpenKeys(b *testing.B) {
	keys := benchKeys()
	dir := b.TempDir()
	// One window of 1 hour holding every key; the stream then waits.
	mk := func() plan.Node {
		sc := benchScan(keys, keys, 1)
		sc.Options["hold"] = "true"
		return windowAgg(sc, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(3600)}, plan.EmitOnWindowClose, 0)
	}
	clock := NewFakeClock(t0)
	e := NewEngine(Config{Clock: clock, BarrierInterval: -1, CheckpointDir: dir, CheckpointInterval: time.Hour})
	if err := e.StartView(context.Background(), &plan.Materialize{Input: mk(), Name: "v"}); err != nil {
		b.Fatal(err)
	}
	for e.ViewStats()[0].RowsIn < int64(keys) {
		time.Sleep(10 * time.Millisecond)
	}
	clock.Advance(2 * time.Hour)
	if err := e.Flush(context.Background()); err != nil { // the checkpoint
		b.Fatal(err)
	}
	st := e.ViewStats()[0]
	cs := e.CheckpointStats()
	_ = e.Close(context.Background())
	if st.OpenWindows != 1 || len(cs) != 1 || cs[0].LastEpoch == 0 {
		b.Fatalf("open windows %d, checkpoints %+v", st.OpenWindows, cs)
	}
	b.Logf("checkpoint of 1M keys: %d bytes (its duration reads 0: the engine runs on a fake clock)", cs[0].LastBytes)
	var total time.Duration
	var bytes int64
	for b.Loop() {
		e, rs := startRestored(b, dir, &plan.Materialize{Input: mk(), Name: "v"})
		total += rs.Duration
		bytes = rs.Bytes
		if got := e.ViewStats()[0].StateBytes; got < st.StateBytes*9/10 {
			b.Fatalf("restored state bytes %d, had %d", got, st.StateBytes)
		}
		_ = e.Close(context.Background())
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "recovery_s")
	b.ReportMetric(float64(bytes), "checkpoint_bytes")
}

// BenchmarkRecoveryGroupBy1M restores a GROUP BY over 1 M keys whose
// state and view were checkpointed incrementally: 3 M events with a
// checkpoint every second give a base and deltas (a restore reads up to
// about three times the state); recovery_s is RecoveryStats.Duration, and
// parts the number of the job's operator and view parts restored.
func BenchmarkRecoveryGroupBy1M(b *testing.B) {
	keys := benchKeys()
	events := 3 * keys
	dir := b.TempDir()
	mk := func() plan.Node {
		sc := benchScan(events, keys, 1000)
		sc.Options["hold"] = "true"
		return groupAggPlan(sc)
	}
	e := NewEngine(Config{BarrierInterval: 200 * time.Millisecond, CheckpointDir: dir, CheckpointInterval: time.Second})
	if err := e.StartView(context.Background(), &plan.Materialize{Input: mk(), Name: "v", Key: []int{0}}); err != nil {
		b.Fatal(err)
	}
	for e.ViewStats()[0].RowsIn < int64(events) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := e.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // the next barrier is a checkpoint of everything read
	if err := e.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	st, rows := e.ViewStats()[0], viewRows(e, "v")
	cs := e.CheckpointStats()
	_ = e.Close(context.Background())
	if len(cs) != 1 || cs[0].Count < 3 {
		b.Fatalf("checkpoints %+v: want a base and deltas", cs)
	}
	var total time.Duration
	var bytes int64
	for b.Loop() {
		e, rs := startRestored(b, dir, &plan.Materialize{Input: mk(), Name: "v", Key: []int{0}})
		total += rs.Duration
		bytes = rs.Bytes
		got, gotRows := e.ViewStats()[0], viewRows(e, "v")
		if gotRows != rows || rows != keys || got.StateBytes < st.StateBytes*9/10 {
			b.Fatalf("restored %d rows and %d state bytes, had %d rows (%d keys) and %d bytes", gotRows, got.StateBytes, rows, keys, st.StateBytes)
		}
		_ = e.Close(context.Background())
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "recovery_s")
	b.ReportMetric(float64(bytes), "checkpoint_bytes")
	b.ReportMetric(float64(cs[0].Count), "checkpoints")
}

// benchKeys is the open keys of BenchmarkRecovery1MOpenKeys
// ($SLUICE_BENCH_KEYS overrides 1 M).
// startRestored starts view v on the checkpoints in dir (checkpointing no
// further) and returns the engine with the recovery of its one job.
func startRestored(b *testing.B, dir string, v *plan.Materialize) (*Engine, RecoveryStats) {
	b.Helper()
	e := NewEngine(Config{BarrierInterval: -1, CheckpointDir: dir, CheckpointInterval: time.Hour})
	if err := e.StartView(context.Background(), v); err != nil {
		b.Fatal(err)
	}
	rs := e.Recoveries()
	if len(rs) != 1 {
		b.Fatal("no recovery")
	}
	return e, rs[0]
}

// viewRows is the number of rows view name holds.
func viewRows(e *Engine, name string) int {
	e.mu.Lock()
	r := e.rels[name]
	e.mu.Unlock()
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.store.len()
}

func benchKeys() int {
	if n, err := strconv.Atoi(os.Getenv("SLUICE_BENCH_KEYS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}
