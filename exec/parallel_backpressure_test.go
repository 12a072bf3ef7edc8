package exec

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// ckinf is an unbounded test source counting the rows it produced.
type ckinf struct{ sourceOnly }

var infRead atomic.Int64

const infChunk = 256

func init() { connectors.Register(ckinf{}) }

func (ckinf) Name() string                           { return "ckinf" }
func (ckinf) SourceOptions() []connectors.OptionSpec { return []connectors.OptionSpec{} }
func (ckinf) OpenSource(context.Context, connectors.SourceSpec) (connectors.Reader, error) {
	return &infReader{}, nil
}

type infReader struct{ next int }

func (r *infReader) Read(context.Context) (*chunk.Chunk, error) {
	c := chunk.New(3, infChunk)
	c.Partition = 0
	for range infChunk {
		c.Append(chunk.Insert, chunk.NoTime, genEvent(r.next))
		r.next++
	}
	infRead.Add(infChunk)
	return c, nil
}
func (r *infReader) Partitions() int                      { return 1 }
func (r *infReader) Position() ([]byte, error)            { return nil, nil }
func (r *infReader) Commit(context.Context, []byte) error { return nil }
func (r *infReader) Close() error                         { return nil }

// stallSink blocks every Write until released.
type stallSink struct {
	release chan struct{}
	rows    atomic.Int64
}

func (s *stallSink) Write(ctx context.Context, c *chunk.Chunk) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.rows.Add(int64(c.Len()))
	return nil
}
func (s *stallSink) Commit(context.Context, uint64) error          { return nil }
func (s *stallSink) LastCommitted(context.Context) (uint64, error) { return 0, nil }
func (s *stallSink) Close() error                                  { return nil }

func heapAlloc() uint64 {
	// Two collections: the first moves sync.Pool contents (recycled
	// chunks) to the victim cache, the second frees them, so that pooled
	// garbage of earlier tests does not vanish inside a measurement.
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// waitStalled waits until the source stopped reading (its count did not
// move over several polls) and returns the count; it fails when the source
// keeps reading.
func waitStalled(t *testing.T) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last, same := int64(-1), 0
	for same < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the source kept reading while the sink was stalled: %d rows", infRead.Load())
		}
		time.Sleep(10 * time.Millisecond)
		n := infRead.Load()
		if n == last {
			same++
		} else {
			same, last = 0, n
		}
	}
	return last
}

// TestStalledSinkBackPressure stalls a sink and checks that the source
// stops reading after the bounded queues filled, that memory stays within
// a bound derived from the queue sizes, and that the flow resumes.
func TestStalledSinkBackPressure(t *testing.T) {
	const queue = 8
	for _, par := range []int{1, 2} {
		t.Run(fmt.Sprint(par), func(t *testing.T) {
			infRead.Store(0)
			before := heapAlloc()
			e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1, QueueSize: queue, Parallelism: par})
			defer e.Close(context.Background())
			scan := &plan.Scan{Name: "inf", Kind: plan.RelSource, Cols: events, NumPhysical: 3, Connector: "ckinf",
				Watermark: &plan.Watermark{Col: 2, Delay: micros(1)}}
			// An updating aggregate keyed by value: every row changes the
			// output, so the sink sees the full rate.
			agg := &plan.GroupAgg{Input: scan, GroupBy: []expr.Expr{col(1, "v", types.TInt64)},
				Aggs: []plan.AggCall{countStar()},
				Cols: types.Schema{{Name: "v", Type: types.TInt64}, {Name: "n", Type: types.TInt64}}}
			sink := &stallSink{release: make(chan struct{})}
			if err := e.StartSink(context.Background(), &plan.Sink{Input: agg, Name: "stalled"}, sink); err != nil {
				t.Fatal(err)
			}
			read := waitStalled(t)
			e.mu.Lock()
			nodes := len(e.jobs["stalled"].nodes)
			e.mu.Unlock()
			// Every inbox full of chunks of at most chunkRows rows, plus one
			// chunk in the hands of each goroutine.
			bound := int64((nodes*queue + nodes + 2) * max(infChunk, chunkRows))
			if read > bound {
				t.Fatalf("read %d rows while stalled, bound %d", read, bound)
			}
			grown := int64(heapAlloc()) - int64(before)
			// The group state holds one key per row read (about 300 B with
			// its output row); queued rows about 150 B each.
			memBound := read*600 + 8<<20
			t.Logf("parallelism %d: stalled after %d rows (bound %d), heap grew %d KiB (bound %d KiB)", par, read, bound, grown>>10, memBound>>10)
			if grown > memBound {
				t.Fatalf("heap grew %d bytes while stalled, bound %d", grown, memBound)
			}
			close(sink.release)
			deadline := time.Now().Add(30 * time.Second)
			for infRead.Load() < read+100*infChunk {
				if time.Now().After(deadline) {
					t.Fatal("the source did not resume after the sink was released")
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}

// TestStateBytesFollowOpenWindows checks ViewStats.StateBytes and
// OpenWindows: they grow with open (window, key) groups and sessions, come
// close to the heap the state really takes, and fall to zero once the
// watermark closes every window.
func TestStateBytesFollowOpenWindows(t *testing.T) {
	for _, kind := range []plan.WindowKind{plan.Tumble, plan.Session} {
		t.Run(fmt.Sprint(kind), func(t *testing.T) {
			h := newHarness(t, Config{})
			src := h.table("ev", events, &plan.Watermark{Col: 2, Delay: 0})
			spec := plan.WindowSpec{Kind: kind, TimeCol: 2, Size: micros(10), Gap: micros(5)}
			h.view(windowAgg(src, spec, plan.EmitOnWindowClose, 0), "v", nil)
			const keys = 50000
			rows := make([]types.Row, keys)
			for i := range rows {
				rows[i] = types.Row{types.NewText(fmt.Sprintf("key-%06d", i)), types.NewInt(int64(i)), types.NewTimestamp(sec(1))}
			}
			h.flush()
			before := heapAlloc()
			h.insert("ev", rows...)
			h.flush()
			after := heapAlloc()
			runtime.KeepAlive(rows) // the inserted rows are not freed inside the measure
			st := h.e.ViewStats()[0]
			if st.OpenWindows != 1 && kind == plan.Tumble || st.OpenWindows != keys && kind == plan.Session {
				t.Fatalf("open windows %d", st.OpenWindows)
			}
			// The table keeps the inserted rows too: count them out.
			_, trows, _ := h.e.Snapshot("ev")
			tableBytes := int64(0)
			for _, r := range trows {
				tableBytes += int64(rowBytes(r))
			}
			real := int64(after-before) - tableBytes
			t.Logf("%v: StateBytes %d (%d per key), heap %d (%d per key)", kind, st.StateBytes, st.StateBytes/keys, real, real/keys)
			if st.StateBytes < real/3 || st.StateBytes > real*3 {
				t.Errorf("StateBytes %d is not within 3x of the heap the state takes (%d)", st.StateBytes, real)
			}
			h.e.AdvanceWatermark("ev", sec(100))
			h.flush()
			st = h.e.ViewStats()[0]
			if st.StateBytes != 0 || st.OpenWindows != 0 {
				t.Fatalf("after the watermark passed: %+v", st)
			}
		})
	}
}

// TestGroupAggTTLFreesState checks the state TTL of a non-windowed GROUP
// BY: a key idle for the TTL (processing time) is forgotten, its state
// bytes freed, while its last result stays in the view; a key updated in
// time survives.
func TestGroupAggTTLFreesState(t *testing.T) {
	h := newHarness(t, Config{})
	src := h.table("ev", events, nil)
	g := groupAggPlan(src)
	g.TTL = micros(60)
	h.view(g, "g", []int{0})
	h.insert("ev", ev("a", 1, 1), ev("b", 2, 1))
	h.flush()
	full := h.e.ViewStats()[0].StateBytes
	if full <= 0 {
		t.Fatalf("state bytes %d", full)
	}
	h.clock.Advance(40 * time.Second)
	h.insert("ev", ev("b", 3, 2))
	h.flush()
	h.clock.Advance(30 * time.Second) // a: idle 70 s, b: 30 s
	h.flush()
	half := h.e.ViewStats()[0].StateBytes
	if half <= 0 || half >= full {
		t.Fatalf("state bytes after a expired: %d (before %d)", half, full)
	}
	h.expect("g", "a 1 1\nb 2 5")
	// a comes back: its state started afresh.
	h.insert("ev", ev("a", 10, 3))
	h.flush()
	h.expect("g", "a 1 10\nb 2 5")
	h.clock.Advance(2 * time.Minute)
	h.flush()
	if st := h.e.ViewStats()[0].StateBytes; st != 0 {
		t.Fatalf("state bytes after every key expired: %d", st)
	}
}
