package exec

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// ckgen is a test connector: a deterministic stream of events with
// disorder and a few late ones, readable up to a gate the test moves, with
// the event index as its position.
type ckgen struct{ sourceOnly }

var (
	gateMu sync.Mutex
	gates  = map[string]*gate{}
)

type gate struct {
	mu        sync.Mutex
	limit     int
	total     int
	committed []byte
}

func (g *gate) set(n int) { g.mu.Lock(); g.limit = n; g.mu.Unlock() }

func getGate(name string) *gate {
	gateMu.Lock()
	defer gateMu.Unlock()
	return gates[name]
}

func init() { connectors.Register(ckgen{}) }

func (ckgen) Name() string { return "ckgen" }
func (ckgen) SourceOptions() []connectors.OptionSpec {
	return []connectors.OptionSpec{{Name: "gate", Required: true}}
}

func (ckgen) OpenSource(_ context.Context, spec connectors.SourceSpec) (connectors.Reader, error) {
	g := getGate(spec.Options["gate"])
	r := &ckgenReader{g: g}
	if spec.Position != nil {
		r.next = int(binary.BigEndian.Uint64(spec.Position))
	}
	return r, nil
}

type ckgenReader struct {
	g    *gate
	next int
}

// genEvent is event i: 13 keys, 100 ms apart, up to 1.2 s of disorder,
// every 97th event 30 s late.
func genEvent(i int) types.Row {
	ts := float64(i)*0.1 - float64(i%4)*0.4
	if i%97 == 96 {
		ts -= 30
	}
	return types.Row{types.NewText(fmt.Sprintf("k%d", i*7%13)), types.NewInt(int64(i)), types.NewTimestamp(sec(ts))}
}

func (r *ckgenReader) Read(ctx context.Context) (*chunk.Chunk, error) {
	r.g.mu.Lock()
	limit, total := r.g.limit, r.g.total
	r.g.mu.Unlock()
	if r.next >= total {
		return nil, io.EOF
	}
	if r.next >= limit {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
		return nil, nil
	}
	n := min(limit-r.next, 1+r.next%37) // uneven chunks
	c := chunk.New(3, n)
	c.Partition = 0
	for i := range n {
		c.Append(chunk.Insert, chunk.NoTime, genEvent(r.next+i))
	}
	r.next += n
	return c, nil
}

func (r *ckgenReader) Partitions() int { return 1 }
func (r *ckgenReader) Position() ([]byte, error) {
	return binary.BigEndian.AppendUint64(nil, uint64(r.next)), nil
}
func (r *ckgenReader) Commit(_ context.Context, pos []byte) error {
	r.g.mu.Lock()
	r.g.committed = pos
	r.g.mu.Unlock()
	return nil
}
func (r *ckgenReader) Close() error { return nil }

// memSink keeps committed rows across engine restarts and skips rows of
// epochs it already committed, as the Sink contract asks.
type memSink struct {
	mu        sync.Mutex
	committed []string
	last      uint64
	buf       []string
	commits   int
}

func (s *memSink) Write(_ context.Context, c *chunk.Chunk) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range c.Len() {
		s.buf = append(s.buf, c.Ops[i].String()+" "+renderRows([]types.Row{c.Row(i)}))
	}
	return nil
}

func (s *memSink) Commit(_ context.Context, epoch uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if epoch > s.last {
		s.committed = append(s.committed, s.buf...)
		s.last = epoch
		s.commits++
	}
	s.buf = nil
	return nil
}

func (s *memSink) LastCommitted(context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = nil // uncommitted rows die with the process
	return s.last, nil
}
func (s *memSink) Close() error { return nil }

func (s *memSink) rows() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]string(nil), s.committed...)
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func genScan(gateName string) *plan.Scan {
	return &plan.Scan{Name: "gen", Kind: plan.RelSource, Cols: events, NumPhysical: 3,
		Watermark: &plan.Watermark{Col: 2, Delay: micros(1)}, Connector: "ckgen",
		Options: map[string]string{"gate": gateName}}
}

type ckView struct {
	name string
	p    func(*plan.Scan) plan.Node
	key  []int
}

var ckViews = []ckView{
	{"tumble", func(s *plan.Scan) plan.Node {
		return windowAgg(s, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, micros(2))
	}, nil},
	{"hop", func(s *plan.Scan) plan.Node {
		return windowAgg(s, plan.WindowSpec{Kind: plan.Hop, TimeCol: 2, Size: micros(10), Slide: micros(2)}, plan.EmitOnWindowClose, 0,
			countStar(), maxOf(col(1, "v", types.TInt64)))
	}, nil},
	{"session", func(s *plan.Scan) plan.Node {
		return windowAgg(s, plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(0.5)}, plan.EmitOnUpdate, 0)
	}, []int{0, 1}},
	// Sessions that last: each key's events are 1.3 s apart, so with a
	// gap of 2 s a key's session spans the stream.
	{"session-long", func(s *plan.Scan) plan.Node {
		return windowAgg(s, plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(2)}, plan.EmitOnUpdate, 0)
	}, []int{0, 1}},
	{"updating", func(s *plan.Scan) plan.Node {
		return windowAgg(s, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(5)}, plan.EmitOnUpdate, 0)
	}, []int{0, 1}},
	// An updating HOP: every row changes several windows.
	{"updating-hop", func(s *plan.Scan) plan.Node {
		return windowAgg(s, plan.WindowSpec{Kind: plan.Hop, TimeCol: 2, Size: micros(10), Slide: micros(5)}, plan.EmitOnUpdate, 0)
	}, []int{0, 1}},
	// A GROUP BY without a window: its state is checkpointed incrementally
	// (a base and deltas), as the views are.
	{"groupby", func(s *plan.Scan) plan.Node { return groupAggPlan(s) }, []int{0}},
	// Its contents are not checkpointed but rebuilt from the restored
	// aggregate (checkpoint_derived.go), here through a HAVING and a
	// projection that reorders and computes: the groups whose count is
	// not a multiple of 3 (a third of the 13 keys at any time), as
	// (s, k, 2n).
	{"groupby-having", havingPlan, []int{1}},
	// So is a dedup's: the first row of each (k, v / 500), keys that keep
	// appearing through the stream (a key the restored state lost would
	// let a second row through).
	{"dedup", func(s *plan.Scan) plan.Node {
		bucket, err := expr.NewArith(expr.Div, col(1, "v", types.TInt64), &expr.Const{V: types.NewInt(500), T: types.TInt64})
		if err != nil {
			panic(err)
		}
		return &plan.Dedup{Input: s, Keys: []expr.Expr{col(0, "k", types.TText), bucket}, Cols: s.Schema()}
	}, nil},
	// And a top-N's: the two largest v per k (each new row enters it).
	{"topn", func(s *plan.Scan) plan.Node {
		return &plan.TopN{Input: s, PartitionBy: []expr.Expr{col(0, "k", types.TText)},
			OrderBy: []plan.SortKey{{Expr: col(1, "v", types.TInt64), Desc: true}}, N: 2, Cols: s.Schema()}
	}, nil},
}

// havingPlan is SELECT s, k, 2 * n FROM (GROUP BY k: count n, sum s)
// WHERE n % 3 <> 0.
func havingPlan(in *plan.Scan) plan.Node {
	g := groupAggPlan(in)
	three, two := &expr.Const{V: types.NewInt(3), T: types.TInt64}, &expr.Const{V: types.NewInt(2), T: types.TInt64}
	n := col(1, "n", types.TInt64)
	mod, err := expr.NewArith(expr.Mod, n, three)
	if err != nil {
		panic(err)
	}
	over, err := expr.NewCmp(expr.NE, mod, &expr.Const{V: types.NewInt(0), T: types.TInt64})
	if err != nil {
		panic(err)
	}
	twice, err := expr.NewArith(expr.Mul, two, n)
	if err != nil {
		panic(err)
	}
	return &plan.Project{Input: &plan.Filter{Input: g, Pred: over},
		Exprs: []expr.Expr{col(2, "s", types.TInt64), col(0, "k", types.TText), twice},
		Cols:  types.Schema{{Name: "s", Type: types.TInt64}, {Name: "k", Type: types.TText}, {Name: "n2", Type: types.TInt64}}}
}

// ckRun is one process lifetime of the engine.
type ckRun struct {
	t     *testing.T
	e     *Engine
	clock *FakeClock
	sink  *memSink
}

func startCkRun(t *testing.T, dir, gateName string, sink *memSink) *ckRun {
	t.Helper()
	return startCkRunCfg(t, Config{CheckpointDir: dir}, gateName, sink)
}

func startCkRunCfg(t *testing.T, cfg Config, gateName string, sink *memSink) *ckRun {
	t.Helper()
	clock := NewFakeClock(t0)
	cfg.Clock, cfg.BarrierInterval, cfg.CheckpointInterval, cfg.CheckpointNoSync = clock, -1, time.Hour, true
	e := NewEngine(cfg)
	r := &ckRun{t: t, e: e, clock: clock, sink: sink}
	ctx := context.Background()
	for _, v := range ckViews {
		if err := e.StartView(ctx, &plan.Materialize{Input: v.p(genScan(gateName)), Name: v.name, Key: v.key}); err != nil {
			t.Fatal(err)
		}
	}
	if sink != nil {
		in := ckViews[0].p(genScan(gateName))
		if err := e.StartSink(ctx, &plan.Sink{Input: in, Name: "out", Connector: "mem"}, sink); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// checkpoint advances the clock past the interval and runs a barrier: a
// checkpoint of everything read so far.
func (r *ckRun) checkpoint() {
	r.t.Helper()
	r.clock.Advance(time.Hour)
	if err := r.e.Flush(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// waitRead waits until every job's source read n events.
func (r *ckRun) waitRead(n int) {
	r.t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a hang guard, generous for -race on a loaded machine
	for {
		ok := true
		for _, s := range r.e.SourceStats() {
			ok = ok && s.Rows >= int64(n)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("sources did not read %d events: %+v", n, r.e.SourceStats())
		}
		time.Sleep(time.Millisecond)
	}
}

// waitDone waits until every job finished (the stream ended).
func (r *ckRun) waitDone() {
	r.t.Helper()
	r.e.mu.Lock()
	jobs := make([]*job, 0, len(r.e.jobs))
	for _, j := range r.e.jobs {
		jobs = append(jobs, j)
	}
	r.e.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
	defer cancel()
	for _, j := range jobs {
		for {
			j.mu.Lock()
			done, err, ch := j.finished, j.err, j.changed
			j.mu.Unlock()
			if err != nil {
				r.t.Fatalf("job %s failed: %v", j.name, err)
			}
			if done {
				break
			}
			select {
			case <-ch:
			case <-ctx.Done():
				r.t.Fatalf("job %s did not finish", j.name)
			}
		}
	}
}

func (r *ckRun) contents() map[string]string {
	out := map[string]string{}
	for _, v := range ckViews {
		_, rows, err := r.e.Snapshot(v.name)
		if err != nil {
			r.t.Fatal(err)
		}
		out[v.name] = renderRows(rows)
	}
	return out
}

// crash stops the engine without a final checkpoint, as kill -9 would
// (only what Save made durable survives).
func (r *ckRun) crash() { _ = r.e.Close(context.Background()) }

func newGate(t *testing.T, total int) string {
	name := t.Name()
	gateMu.Lock()
	gates[name] = &gate{total: total}
	gateMu.Unlock()
	return name
}

const ckTotal = 6000

func reference(t *testing.T) (map[string]string, string) {
	t.Helper()
	g := newGate(t, ckTotal)
	getGate(g).set(ckTotal)
	sink := &memSink{}
	r := startCkRun(t, t.TempDir(), g, sink)
	r.waitDone()
	defer r.crash()
	return r.contents(), sink.rows()
}

func TestRecoveryEqualsUninterruptedRun(t *testing.T) {
	want, wantSink := reference(t)
	if strings.Count(want["tumble"], "\n") < 50 || wantSink == "" {
		t.Fatalf("reference run too small:\n%s", want["tumble"])
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 4 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			dir := t.TempDir()
			g := newGate(t, ckTotal)
			sink := &memSink{}
			read := 0
			// Several lives: each reads further, checkpoints at a random
			// point, reads on past it and crashes.
			for life := 0; life < 3; life++ {
				r := startCkRun(t, dir, g, sink)
				ck := read + 1 + rng.IntN(ckTotal/4)
				getGate(g).set(ck)
				r.waitRead(ck)
				r.checkpoint()
				// A second checkpoint in the same life saves views as deltas.
				ck += 1 + rng.IntN(ckTotal/8)
				getGate(g).set(ck)
				r.waitRead(ck)
				r.checkpoint()
				read = ck + rng.IntN(ckTotal/8)
				getGate(g).set(read)
				r.waitRead(read)
				if err := r.e.Flush(context.Background()); err != nil { // a barrier that is not a checkpoint
					t.Fatal(err)
				}
				r.crash()
				if life > 0 && len(r.e.Recoveries()) != len(ckViews)+1 {
					t.Fatalf("life %d restored %d jobs", life, len(r.e.Recoveries()))
				}
			}
			getGate(g).set(ckTotal)
			r := startCkRun(t, dir, g, sink)
			for _, rs := range r.e.Recoveries() {
				if rs.Epoch == 0 || rs.Bytes == 0 {
					t.Errorf("recovery %+v", rs)
				}
			}
			r.waitDone()
			checkSameAsUninterrupted(t, r.contents(), want, sink.rows(), wantSink)
			// rows_in counts on from each checkpoint: every row once.
			for _, st := range r.e.ViewStats() {
				if st.RowsIn != ckTotal || st.RowsOut == 0 {
					t.Errorf("%s: rows_in %d, rows_out %d after restarts; want rows_in %d", st.Name, st.RowsIn, st.RowsOut, ckTotal)
				}
			}
			if getGate(g).committed == nil {
				t.Error("the source never got a durable position committed")
			}
			r.crash()
		})
	}
}

// checkSameAsUninterrupted compares the views' contents and the sink's
// output after crashes and restarts with those of the uninterrupted run.
func checkSameAsUninterrupted(t *testing.T, got, want map[string]string, gotSink, wantSink string) {
	t.Helper()
	for _, v := range ckViews {
		if got[v.name] != want[v.name] {
			t.Errorf("view %s differs from the uninterrupted run:\n%s", v.name, diffLines(got[v.name], want[v.name]))
		}
	}
	if gotSink != wantSink {
		t.Errorf("sink output differs from the uninterrupted run:\n%s", diffLines(gotSink, wantSink))
	}
}

func diffLines(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	gm := map[string]int{}
	for _, l := range g {
		gm[l]++
	}
	var b strings.Builder
	for _, l := range w {
		if gm[l] > 0 {
			gm[l]--
			continue
		}
		fmt.Fprintf(&b, "missing: %s\n", l)
	}
	for l, n := range gm {
		for range n {
			fmt.Fprintf(&b, "extra:   %s\n", l)
		}
	}
	s := b.String()
	if len(s) > 3000 {
		s = s[:3000] + "..."
	}
	return s
}

func TestCorruptCheckpointFallsBackToPrevious(t *testing.T) {
	dir := t.TempDir()
	g := newGate(t, 400)
	r := startCkRun(t, dir, g, nil)
	getGate(g).set(100)
	r.waitRead(100)
	r.checkpoint()
	getGate(g).set(300)
	r.waitRead(300)
	r.checkpoint()
	r.crash()
	// Damage the newest checkpoint of the tumble view.
	jd := filepath.Join(dir, "tumble")
	ms, _ := filepath.Glob(filepath.Join(jd, "state-*-n0"))
	sort.Strings(ms)
	if len(ms) < 2 {
		t.Fatalf("state files %v", ms)
	}
	b, _ := os.ReadFile(ms[len(ms)-1])
	b[len(b)/2] ^= 1
	if err := os.WriteFile(ms[len(ms)-1], b, 0o644); err != nil {
		t.Fatal(err)
	}
	r2 := startCkRun(t, dir, g, nil)
	defer r2.crash()
	var rs RecoveryStats
	for _, x := range r2.e.Recoveries() {
		if x.Job == "tumble" {
			rs = x
		}
	}
	if len(rs.Skipped) != 1 {
		t.Fatalf("recovery %+v", rs)
	}
	// The fallback checkpoint (100 events) was restored and the rest
	// replayed: the result equals an uninterrupted run.
	getGate(g).set(400)
	r2.waitDone()
	want, _ := referenceN(t, 400)
	if got := r2.contents()["tumble"]; got != want["tumble"] {
		t.Fatalf("tumble after fallback:\n%s", diffLines(got, want["tumble"]))
	}
}

func referenceN(t *testing.T, n int) (map[string]string, string) {
	t.Helper()
	g := newGate(t, n)
	gateMu.Lock()
	gates[g+"/ref"] = &gate{total: n, limit: n}
	gateMu.Unlock()
	r := startCkRun(t, t.TempDir(), g+"/ref", nil)
	defer r.crash()
	r.waitDone()
	return r.contents(), ""
}

// TestCrashBeforeDurableWriteKeepsPreviousCheckpoint holds every job's
// checkpoint writer after the rows of a checkpoint were captured and
// before anything was written, and crashes there: nothing may have
// treated that checkpoint as durable (no ack, no sink commit, no source
// commit), and the restart restores the previous checkpoint and still ends
// with exactly the uninterrupted run's results.
func TestCrashBeforeDurableWriteKeepsPreviousCheckpoint(t *testing.T) {
	want, wantSink := reference(t)
	dir := t.TempDir()
	g := newGate(t, ckTotal)
	sink := &memSink{}
	var blockFrom atomic.Uint64
	entered := make(chan string, 16)
	release := make(chan struct{})
	errCrash := errors.New("crashed before the write")
	cfg := Config{CheckpointDir: dir, beforeSave: func(job string, epoch uint64) error {
		if from := blockFrom.Load(); from == 0 || epoch < from {
			return nil
		}
		entered <- job
		<-release
		return errCrash
	}}
	r := startCkRunCfg(t, cfg, g, sink)
	getGate(g).set(2000)
	r.waitRead(2000)
	r.checkpoint()
	first := map[string]uint64{}
	for _, s := range r.e.CheckpointStats() {
		first[s.Job] = s.LastEpoch
	}
	sinkLast, _ := sink.LastCommitted(context.Background())
	if sinkLast == 0 || len(first) != len(ckViews)+1 {
		t.Fatalf("first checkpoint: sink epoch %d, checkpoints %v", sinkLast, first)
	}
	// One more barrier commits the first checkpoint's source positions.
	if err := r.e.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	getGate(g).mu.Lock()
	committed := binary.BigEndian.Uint64(getGate(g).committed)
	getGate(g).mu.Unlock()

	getGate(g).set(4000)
	r.waitRead(4000)
	r.e.mu.Lock()
	blockFrom.Store(r.e.epoch + 1)
	r.e.mu.Unlock()
	r.clock.Advance(time.Hour)
	flushed := make(chan error, 1)
	go func() { flushed <- r.e.Flush(context.Background()) }()
	for range len(ckViews) + 1 {
		<-entered // every job captured its checkpoint and waits to write it
	}
	select {
	case err := <-flushed:
		t.Fatalf("flush returned (%v) before its checkpoint was durable", err)
	default:
	}
	if last, _ := sink.LastCommitted(context.Background()); last != sinkLast {
		t.Fatalf("sink committed epoch %d before its checkpoint was durable (last durable: %d)", last, sinkLast)
	}
	getGate(g).mu.Lock()
	if c := binary.BigEndian.Uint64(getGate(g).committed); c != committed {
		t.Fatalf("source committed position %d before its checkpoint was durable (durable: %d)", c, committed)
	}
	getGate(g).mu.Unlock()

	crashed := make(chan struct{})
	go func() { r.crash(); close(crashed) }()
	close(release)
	<-crashed
	<-flushed
	if last, _ := sink.LastCommitted(context.Background()); last != sinkLast {
		t.Fatalf("sink committed epoch %d of a checkpoint that never became durable", last)
	}

	getGate(g).set(ckTotal)
	r2 := startCkRun(t, dir, g, sink)
	defer r2.crash()
	rec := r2.e.Recoveries()
	if len(rec) != len(ckViews)+1 {
		t.Fatalf("restored %d jobs", len(rec))
	}
	for _, rs := range rec {
		if rs.Epoch != first[rs.Job] {
			t.Errorf("job %s restored epoch %d, want the previous checkpoint %d", rs.Job, rs.Epoch, first[rs.Job])
		}
	}
	r2.waitDone()
	checkSameAsUninterrupted(t, r2.contents(), want, sink.rows(), wantSink)
}

// TestViewStoreDeltasRebuildContents applies random changes to keyed and
// multiset view stores, captures bases and deltas as checkpoints do, and
// checks that base plus deltas, encoded and restored, give the contents.
func TestViewStoreDeltasRebuildContents(t *testing.T) {
	schema := types.Schema{{Name: "k", Type: types.TText}, {Name: "w", Type: types.TInt64}, {Name: "v", Type: types.TInt64}}
	for _, tc := range []struct {
		key        []int
		appendOnly bool
		deletes    int // the round from which a multiset store sees retractions
	}{
		{key: []int{0, 1}}, {key: []int{1}}, {key: nil},
		{appendOnly: true, deletes: 1 << 30}, // as the planner promises: inserts only
		{appendOnly: true, deletes: 12},      // a retraction turns it into a multiset
	} {
		key := tc.key
		t.Run(fmt.Sprintf("%v/appendOnly=%v/deletes=%d", key, tc.appendOnly, tc.deletes), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(len(key))))
			r := newRelation("v", schema, false)
			r.key = key
			r.appendOnly = tc.appendOnly
			r.store = newViewStoreFor(key, tc.appendOnly)
			r.store.track = true
			live := map[string]types.Row{} // keyed: key -> row; multiset: unused
			var multi []types.Row
			randRow := func() types.Row {
				return types.Row{types.NewText(fmt.Sprintf("k%d", rng.IntN(20))), types.NewInt(int64(rng.IntN(3))), types.NewInt(int64(rng.IntN(4)))}
			}
			var base []byte
			var deltas [][]byte
			superseded := 0
			for round := range 30 {
				c := chunk.New(3, 64)
				for range 1 + rng.IntN(60) {
					row := randRow()
					switch {
					case key != nil && rng.IntN(4) == 0:
						c.Append(chunk.Delete, 0, row)
					case key != nil && rng.IntN(3) == 0:
						// a retraction followed by the key's new row
						c.Append(chunk.Delete, 0, row)
						row2 := copyRow(row)
						row2[2] = types.NewInt(int64(rng.IntN(100)))
						c.Append(chunk.Insert, 0, row2)
					case key == nil && round >= tc.deletes && len(multi) > 0 && rng.IntN(3) == 0:
						c.Append(chunk.Delete, 0, multi[rng.IntN(len(multi))])
					default:
						c.Append(chunk.Insert, 0, row)
					}
				}
				r.mu.Lock()
				r.applyLocked(c)
				for i := range c.Len() {
					row := c.Row(i)
					switch {
					case key == nil && c.Ops[i] == chunk.Insert:
						multi = append(multi, copyRow(row))
					case key == nil:
						for j, m := range multi {
							if types.EqualRows(m, row) {
								multi = append(multi[:j], multi[j+1:]...)
								break
							}
						}
					case c.Ops[i] == chunk.Insert:
						live[renderRows([]types.Row{keyOf(row, key)})] = copyRow(row)
					default:
						delete(live, renderRows([]types.Row{keyOf(row, key)}))
					}
				}
				var buf strings.Builder
				if base == nil || round%7 == 0 {
					rows := r.store.captureBase()
					if err := writeViewBase(&buf, 5, rows); err != nil {
						t.Fatal(err)
					}
					base, deltas, superseded = []byte(buf.String()), nil, 0
				} else {
					ch, sup := r.store.captureDelta(len(schema))
					if err := writeViewDelta(&buf, ch); err != nil {
						t.Fatal(err)
					}
					deltas = append(deltas, []byte(buf.String()))
					superseded += sup
				}
				r.mu.Unlock()

				// Restore into a fresh relation and compare.
				r2 := newRelation("v", schema, false)
				r2.key = key
				r2.appendOnly = tc.appendOnly
				if err := restoreView(r2, base); err != nil {
					t.Fatal(err)
				}
				r2.mu.Lock()
				for _, d := range deltas {
					if err := restoreViewDelta(r2, d); err != nil {
						t.Fatal(err)
					}
				}
				got := renderRows(r2.contentsLocked())
				r2.mu.Unlock()
				var wantRows []types.Row
				if key == nil {
					wantRows = multi
				} else {
					for _, row := range live {
						wantRows = append(wantRows, row)
					}
				}
				if want := renderRows(wantRows); got != want {
					t.Fatalf("round %d: restored contents differ:\n%s", round, diffLines(got, want))
				}
				r.mu.RLock()
				cur := renderRows(r.contentsLocked())
				r.mu.RUnlock()
				if cur != renderRows(wantRows) {
					t.Fatalf("round %d: store contents differ:\n%s", round, diffLines(cur, renderRows(wantRows)))
				}
			}
			if key != nil && superseded == 0 {
				t.Error("no superseded rows counted")
			}
			if tc.appendOnly && r.store.appendOnly != (tc.deletes > 30) {
				t.Errorf("store append-only %v after the run", r.store.appendOnly)
			}
		})
	}
}

func keyOf(row types.Row, key []int) types.Row {
	k := make(types.Row, len(key))
	for i, c := range key {
		k[i] = row[c]
	}
	return k
}

// TestViewRowsHandedOutNeverChange checks that a keyed view overwrites a
// row in place only while nobody holds it: rows handed out (snapshots,
// checkpoint captures) keep their values, and updates of rows nobody
// holds do not allocate.
func TestViewRowsHandedOutNeverChange(t *testing.T) {
	s := newViewStore([]int{0})
	row := types.Row{types.NewText("a"), types.NewInt(1)}
	s.apply(chunk.Insert, row)
	held := s.rows()
	row[1] = types.NewInt(2)
	s.apply(chunk.Insert, row)
	if got := held[0][1].I; got != 1 {
		t.Fatalf("a row handed out changed to %d", got)
	}
	captured := s.captureBase()
	row[1] = types.NewInt(3)
	s.apply(chunk.Insert, row)
	if got := captured[0].row[1].I; got != 2 {
		t.Fatalf("a captured row changed to %d", got)
	}
	n := int64(3)
	allocs := testing.AllocsPerRun(100, func() {
		n++
		row[1] = types.NewInt(n)
		s.apply(chunk.Insert, row)
	})
	if allocs != 0 {
		t.Fatalf("an update of a row nobody holds allocated %.1f times", allocs)
	}
	if got := s.rows()[0][1].I; got != n {
		t.Fatalf("stored %d, want %d", got, n)
	}
}

// TestViewStoreChangeListsStayBounded churns keys (insert, delete, insert
// again) and multiset rows between two captures: the lists of changes the
// store keeps stay within a bound of the live contents, and the delta is
// still right.
func TestViewStoreChangeListsStayBounded(t *testing.T) {
	for _, key := range [][]int{{0}, nil} {
		s := newViewStore(key)
		s.track = true
		keep := types.Row{types.NewText("keep"), types.NewInt(0)}
		s.apply(chunk.Insert, keep)
		s.captureBase()
		for i := range 100_000 {
			row := types.Row{types.NewText("k" + fmt.Sprint(i%3)), types.NewInt(int64(i))}
			s.apply(chunk.Insert, row)
			s.apply(chunk.Delete, row)
		}
		s.apply(chunk.Delete, keep)
		if n := len(s.dirty) + len(s.gone) + len(s.mdirty) + len(s.mgone); n > 2*4096+8 {
			t.Fatalf("key %v: %d change entries kept for 1 live row", key, n)
		}
		ch, _ := s.captureDelta(2)
		if len(ch) != 1 || ch[0].n != -1 || ch[0].row[0].S != "keep" {
			t.Fatalf("key %v: delta %v, want only the removal of keep", key, ch)
		}
	}
}

// TestChangedPlanKeepsCheckpoint checks a restart whose plan for a job is
// not the one its checkpoint was taken for (the same SQL planned otherwise,
// as after an upgrade). Starting from scratch would lose the state while
// the source resumes from the checkpoint's committed position, so the job
// does not run: it stays, failed with the reason, reading nothing, and its
// checkpoint is kept, so the plan that wrote it still restores from it.
// DROP removes the job and its checkpoints, and the view then starts anew.
func TestChangedPlanKeepsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	g := newGate(t, 3000)
	planA := func() *plan.Materialize {
		return &plan.Materialize{Input: groupAggPlan(genScan(g)), Name: "v", Key: []int{0}}
	}
	planB := func() *plan.Materialize {
		return &plan.Materialize{Name: "v", Input: windowAgg(genScan(g),
			plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, 0)}
	}
	start := func(m *plan.Materialize) *ckRun {
		t.Helper()
		clock := NewFakeClock(t0)
		e := NewEngine(Config{CheckpointDir: dir, Clock: clock, BarrierInterval: -1, CheckpointInterval: time.Hour, CheckpointNoSync: true})
		if err := e.StartView(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		return &ckRun{t: t, e: e, clock: clock}
	}
	stats := func(r *ckRun) ViewStats {
		t.Helper()
		st := r.e.ViewStats()
		if len(st) != 1 {
			t.Fatalf("view stats %+v", st)
		}
		return st[0]
	}
	kept := func(r *ckRun) bool {
		t.Helper()
		meta, err := r.e.ck.store.Job("v").LatestMeta()
		if err != nil {
			t.Fatal(err)
		}
		return meta != nil
	}

	r := start(planA())
	getGate(g).set(1500)
	r.waitRead(1500)
	r.checkpoint()
	r.crash()

	r = start(planB())
	st := stats(r)
	if !st.Failed || !strings.Contains(st.Error, "another plan") || !strings.Contains(st.Error, "DROP") {
		t.Fatalf("a job restored into another plan: %+v, want it failed, saying why and what to do", st)
	}
	if st.RowsIn != 0 || len(r.e.Recoveries()) != 0 {
		t.Fatalf("the failed job read %d rows and restored %d checkpoints", st.RowsIn, len(r.e.Recoveries()))
	}
	if !kept(r) {
		t.Fatal("the checkpoint of the other plan was removed")
	}
	r.crash()

	r = start(planA())
	if st := stats(r); st.Failed || len(r.e.Recoveries()) != 1 {
		t.Fatalf("the plan that wrote the checkpoint did not restore from it: %+v, %d recoveries", st, len(r.e.Recoveries()))
	}
	r.crash()

	r = start(planB())
	if err := r.e.Drop("v"); err != nil {
		t.Fatal(err)
	}
	if kept(r) {
		t.Fatal("DROP of the failed view kept its checkpoint")
	}
	if err := r.e.StartView(context.Background(), planB()); err != nil {
		t.Fatal(err)
	}
	getGate(g).set(3000)
	r.waitRead(3000)
	if st := stats(r); st.Failed || st.RowsIn != 3000 {
		t.Fatalf("the view created again after DROP: %+v", st)
	}
	r.crash()
}

// TestRestoredOperatorsKeepTheirWatermark checks the windowed operators
// that free a window's keys once the watermark passes it (dedup, top-N,
// a GROUP BY with a window key): restored from a checkpoint, a row of a
// window freed before it is still late. The watermark they judge by is
// restored with them; without it such a row found no kept key and went
// out as the first of a new one (a second row for its window) until a
// watermark above the restored one came, which a restarted job's sources
// need not send for a while.
// windowedViews are views of every operator kind that records late rows,
// over a table of windowedCols.
type windowedView struct {
	name string
	p    func(*plan.Scan) plan.Node
	key  []int
}

func windowedViews() []windowedView {
	kCol, wEnd := col(0, "k", types.TText), col(4, "window_end", types.TTimestamp)
	return []windowedView{
		{"dedup", func(s *plan.Scan) plan.Node {
			return &plan.Dedup{Input: s, Keys: []expr.Expr{kCol, wEnd}, Cols: s.Schema()}
		}, nil},
		{"topn", func(s *plan.Scan) plan.Node {
			return &plan.TopN{Input: s, PartitionBy: []expr.Expr{wEnd}, OrderBy: []plan.SortKey{{Expr: col(1, "v", types.TInt64), Desc: true}},
				N: 1, Cols: s.Schema()}
		}, nil},
		{"groupby", func(s *plan.Scan) plan.Node {
			return &plan.GroupAgg{Input: s, GroupBy: []expr.Expr{wEnd, kCol}, Aggs: []plan.AggCall{countStar()},
				Window: &plan.WindowBound{Col: 0},
				Cols:   types.Schema{{Name: "window_end", Type: types.TTimestamp}, {Name: "k", Type: types.TText}, {Name: "n", Type: types.TInt64}}}
		}, []int{0, 1}},
		{"tumble", func(s *plan.Scan) plan.Node {
			return windowAgg(s, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnWindowClose, 0)
		}, nil},
		{"session", func(s *plan.Scan) plan.Node {
			return windowAgg(s, plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(5)}, plan.EmitOnWindowClose, 0)
		}, nil},
	}
}

func TestRestoredOperatorsKeepTheirWatermark(t *testing.T) {
	views := windowedViews()[:3]
	// row is a row of k's tumbling 10 s window holding ts.
	row := func(k string, v int64, ts float64) types.Row {
		ws := float64(int(ts/10) * 10)
		return types.Row{types.NewText(k), types.NewInt(v), types.NewTimestamp(sec(ts)), types.NewTimestamp(sec(ws)), types.NewTimestamp(sec(ws + 10))}
	}
	before := []types.Row{row("a", 1, 1), row("a", 2, 2), row("b", 3, 35)} // the watermark passes the first window
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			start := func(rows ...types.Row) *harness {
				t.Helper()
				h := newHarness(t, Config{CheckpointDir: dir, CheckpointInterval: -1, CheckpointNoSync: true})
				src := h.table("ev", windowedCols, &plan.Watermark{Col: 2})
				h.insert("ev", rows...) // a restart replays the table's log first
				h.view(v.p(src), "v", v.key)
				return h
			}
			h := start()
			h.insert("ev", before...)
			h.flush() // a checkpoint
			want := h.rows("v")
			_ = h.e.Close(context.Background())

			h = start(before...)
			if n := len(h.e.Recoveries()); n != 1 {
				t.Fatalf("%d jobs restored", n)
			}
			h.insert("ev", row("a", 9, 3)) // late: its window went with the watermark
			h.flush()
			if got := h.rows("v"); got != want {
				t.Fatalf("after a restart a late row changed the view:\n%s\nwant\n%s", got, want)
			}
			if st := h.e.ViewStats(); st[0].Late != 1 {
				t.Fatalf("late rows %d, want 1", st[0].Late)
			}
		})
	}
}

// TestLateEventsSurviveRestart: the late rows an operator recorded before
// a checkpoint are counted and listed after a restart as they were, and
// rows replayed after the checkpoint are recorded once, not twice.
func TestLateEventsSurviveRestart(t *testing.T) {
	row := func(k string, v int64, ts float64) types.Row {
		ws := float64(int(ts/10) * 10)
		return types.Row{types.NewText(k), types.NewInt(v), types.NewTimestamp(sec(ts)), types.NewTimestamp(sec(ws)), types.NewTimestamp(sec(ws + 10))}
	}
	// The watermark passes the first window (and session); then two late
	// rows, one before the checkpoint and one after it.
	rows := []types.Row{row("a", 1, 1), row("a", 2, 2), row("b", 3, 35), row("a", 7, 3)}
	after := row("a", 8, 4)
	for _, v := range windowedViews() {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			start := func(rows ...types.Row) *harness {
				t.Helper()
				h := newHarness(t, Config{CheckpointDir: dir, CheckpointInterval: -1, CheckpointNoSync: true, BarrierInterval: -1})
				src := h.table("ev", windowedCols, &plan.Watermark{Col: 2})
				h.insert("ev", rows...) // a restart replays the table's log first
				h.view(v.p(src), "v", v.key)
				return h
			}
			late := func(h *harness) (int64, []string) {
				var evs []string
				for _, ev := range h.e.LateEvents() {
					evs = append(evs, fmt.Sprintf("%s %s t=%d wm=%d arrived=%d", ev.View, ev.Row, ev.EventTime, ev.Watermark, ev.Arrival.UnixMicro()))
				}
				return h.e.ViewStats()[0].Late, evs
			}
			h := start()
			h.insert("ev", rows...)
			h.flush() // a checkpoint
			n, evs := late(h)
			if n != 1 || len(evs) != 1 {
				t.Fatalf("before the restart: %d late rows, events %q; want 1", n, evs)
			}
			h.insert("ev", after) // late, and not in any checkpoint
			_ = h.e.Close(context.Background())

			h = start(append(rows, after)...)
			if n := len(h.e.Recoveries()); n != 1 {
				t.Fatalf("%d jobs restored", n)
			}
			h.flush()
			n2, evs2 := late(h)
			if n2 != 2 || len(evs2) != 2 || evs2[0] != evs[0] || !strings.Contains(evs2[1], `"v":"8"`) {
				t.Fatalf("after the restart: %d late rows, events\n%s\nwant 2: the first\n%s\nand the replayed one", n2, strings.Join(evs2, "\n"), evs[0])
			}
			_ = h.e.Close(context.Background())

			// A second restart restores both from the checkpoint the flush took.
			h = start(append(rows, after)...)
			h.flush()
			if n3, evs3 := late(h); n3 != 2 || !slices.Equal(evs3, evs2) {
				t.Fatalf("after a second restart: %d late rows, events\n%s\nwant\n%s", n3, strings.Join(evs3, "\n"), strings.Join(evs2, "\n"))
			}
		})
	}
}

// TestCheckpointsAfterAFailedSave fails one checkpoint's save for every
// job, then takes two more: the parts first offered at the failed epoch
// (operator deltas, new bases) are written by the next checkpoint and
// referenced, not rewritten, by the one after, whose restore gives the
// uninterrupted run's results. (A saved part's encoded bytes are dropped
// from memory, so a part written again after its save would come out
// empty and fail the restore.)
func TestCheckpointsAfterAFailedSave(t *testing.T) {
	want, wantSink := reference(t)
	dir := t.TempDir()
	g := newGate(t, ckTotal)
	sink := &memSink{}
	var failAt atomic.Uint64
	failed := make(chan string, 64)
	cfg := Config{CheckpointDir: dir, beforeSave: func(job string, epoch uint64) error {
		if epoch == failAt.Load() {
			failed <- job
			return errors.New("disk full")
		}
		return nil
	}}
	r := startCkRunCfg(t, cfg, g, sink)
	for i, n := range []int{1500, 2500, 3500, 4500} {
		getGate(g).set(n)
		r.waitRead(n)
		if i == 1 {
			r.e.mu.Lock()
			failAt.Store(r.e.epoch + 1)
			r.e.mu.Unlock()
		}
		r.checkpoint()
	}
	if len(failed) != len(ckViews)+1 {
		t.Fatalf("%d jobs failed the save at epoch %d, want every one", len(failed), failAt.Load())
	}
	for _, s := range r.e.CheckpointStats() {
		if s.Failures != 1 || s.LastEpoch <= failAt.Load() {
			t.Fatalf("job %s: %d failures, last checkpoint %d (failed %d)", s.Job, s.Failures, s.LastEpoch, failAt.Load())
		}
	}
	r.crash()
	getGate(g).set(ckTotal)
	r = startCkRun(t, dir, g, sink)
	defer r.crash()
	if n := len(r.e.Recoveries()); n != len(ckViews)+1 {
		t.Fatalf("restored %d jobs", n)
	}
	r.waitDone()
	checkSameAsUninterrupted(t, r.contents(), want, sink.rows(), wantSink)
}
