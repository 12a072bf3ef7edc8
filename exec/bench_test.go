package exec

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// benchConn is a connector whose readers replay an in-memory input: either
// newline-delimited JSON decoded with fastjson, or chunks made by a
// generator. It is registered once per test binary.
type benchConn struct{}

var (
	benchOnce  sync.Once
	benchMu    sync.Mutex
	benchFeeds = map[string]func() connectors.Reader{}
)

func (benchConn) Name() string { return "exec-bench" }
func (benchConn) SourceOptions() []connectors.OptionSpec {
	return []connectors.OptionSpec{{Name: "feed"}}
}
func (benchConn) SinkOptions() []connectors.OptionSpec { return nil }
func (benchConn) OpenSource(_ context.Context, spec connectors.SourceSpec) (connectors.Reader, error) {
	benchMu.Lock()
	defer benchMu.Unlock()
	mk, ok := benchFeeds[spec.Options["feed"]]
	if !ok {
		return nil, fmt.Errorf("no bench feed %q", spec.Options["feed"])
	}
	return mk(), nil
}
func (benchConn) OpenSink(context.Context, connectors.SinkSpec) (connectors.Sink, error) {
	return nil, io.ErrUnexpectedEOF
}

// procCPU is the CPU time (user + system) the process has used.
func procCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRate reports events per wall second and per CPU second (the
// per-core figure: the machine is shared, so wall time understates it).
func reportRate(b *testing.B, events int, wall time.Time, cpu time.Duration) {
	b.ReportMetric(float64(events)/time.Since(wall).Seconds(), "events/s")
	b.ReportMetric(float64(events)/(procCPU()-cpu).Seconds(), "events/cpu-s")
}

func setFeed(name string, mk func() connectors.Reader) {
	benchOnce.Do(func() { connectors.Register(benchConn{}) })
	benchMu.Lock()
	benchFeeds[name] = mk
	benchMu.Unlock()
}

// baseReader implements the bookkeeping parts of connectors.Reader.
type baseReader struct{}

func (baseReader) Partitions() int                      { return 1 }
func (baseReader) Position() ([]byte, error)            { return nil, nil }
func (baseReader) Commit(context.Context, []byte) error { return nil }
func (baseReader) Close() error                         { return nil }

// ndjsonReader decodes {"key":"k1","v":3,"ts":<epoch ms>} lines into
// chunks of (key text, v bigint, ts timestamp), reusing one chunk and
// interning keys so that decoding allocates nothing per row.
type ndjsonReader struct {
	baseReader
	data   []byte
	p      fastjson.Parser
	c      *chunk.Chunk
	intern map[string]string
}

func (r *ndjsonReader) Read(context.Context) (*chunk.Chunk, error) {
	if len(r.data) == 0 {
		return nil, io.EOF
	}
	if r.c == nil {
		r.c = chunk.New(3, chunkRows)
		r.intern = map[string]string{}
	}
	c := r.c
	c.Reset()
	c.Partition = 0
	for c.Len() < chunkRows && len(r.data) > 0 {
		i := bytes.IndexByte(r.data, '\n')
		var line []byte
		if i < 0 {
			line, r.data = r.data, nil
		} else {
			line, r.data = r.data[:i], r.data[i+1:]
		}
		v, err := r.p.ParseBytes(line)
		if err != nil {
			continue // a real source dead-letters it
		}
		kb := v.GetStringBytes("key")
		k, ok := r.intern[string(kb)]
		if !ok {
			k = string(kb)
			r.intern[k] = k
		}
		row := c.AppendEmpty(chunk.Insert, chunk.NoTime)
		row[0] = types.NewText(k)
		row[1] = types.NewInt(v.GetInt64("v"))
		row[2] = types.NewTimestamp(v.GetInt64("ts") * 1000)
	}
	return c, nil
}

// makeNDJSON returns n events over keys keys, 100 µs of event time apart
// with up to 1 s of disorder.
func makeNDJSON(n, keys int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	var b []byte
	base := t0.UnixMilli()
	for i := range n {
		ts := base + int64(i)/10 - rng.Int64N(1000)
		b = append(b, `{"key":"k`...)
		b = strconv.AppendInt(b, int64(rng.IntN(keys)), 10)
		b = append(b, `","v":`...)
		b = strconv.AppendInt(b, rng.Int64N(1000), 10)
		b = append(b, `,"ts":`...)
		b = strconv.AppendInt(b, ts, 10)
		b = append(b, "}\n"...)
	}
	return b
}

// runToEnd starts m on a fresh engine and waits until its bounded source
// has been fully processed.
func runUntilEnd(b *testing.B, m *plan.Materialize) *Engine {
	b.Helper()
	e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1, QueueSize: 8})
	if err := e.StartView(context.Background(), m); err != nil {
		b.Fatal(err)
	}
	e.mu.Lock()
	j := e.jobs[m.Name]
	e.mu.Unlock()
	for {
		j.mu.Lock()
		done, err, ch := j.finished, j.err, j.changed
		j.mu.Unlock()
		if err != nil {
			b.Fatal(err)
		}
		if done {
			break
		}
		<-ch
	}
	return e
}

func benchSource(feed string, cols types.Schema, wmCol int, delay int64) *plan.Scan {
	return &plan.Scan{Name: feed, Kind: plan.RelSource, Cols: cols, NumPhysical: len(cols), Connector: "exec-bench",
		Options: map[string]string{"feed": feed}, Watermark: &plan.Watermark{Col: wmCol, Delay: delay}}
}

// BenchmarkTumbleNDJSON: TUMBLE 10 s count(*), sum(v) by 1000 keys,
// watermark 4 s, decoded from newline-delimited JSON.
func BenchmarkTumbleNDJSON(b *testing.B) {
	const n = 1_000_000
	data := makeNDJSON(n, 1000)
	setFeed("ndjson", func() connectors.Reader { return &ndjsonReader{data: data} })
	for _, emit := range []plan.EmitMode{plan.EmitOnWindowClose, plan.EmitOnUpdate} {
		b.Run(emit.String(), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data) / n))
			start, cpu := time.Now(), procCPU()
			iters := 0
			for b.Loop() {
				src := benchSource("ndjson", events, 2, micros(4))
				w := windowAgg(src, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, emit, 0)
				e := runUntilEnd(b, &plan.Materialize{Input: w, Name: "v", Key: []int{0, 1}})
				_ = e.Close(context.Background())
				iters++
			}
			reportRate(b, n*iters, start, cpu)
		})
	}
}

// bidGen is an in-process Nexmark-shaped bid generator: hot auctions and
// bidders, event time advancing by gapUS per bid.
type bidGen struct {
	baseReader
	left  int
	i     int64
	gapUS int64
	rng   *rand.Rand
	c     *chunk.Chunk
}

// bids is the Nexmark bid schema.
var bids = types.Schema{{Name: "auction", Type: types.TInt64}, {Name: "bidder", Type: types.TInt64},
	{Name: "price", Type: types.TInt64}, {Name: "channel", Type: types.TText}, {Name: "date_time", Type: types.TTimestamp}}

var channels = []string{"apple", "google", "facebook", "baidu"}

func (g *bidGen) Read(context.Context) (*chunk.Chunk, error) {
	if g.left <= 0 {
		return nil, io.EOF
	}
	if g.c == nil {
		g.c = chunk.New(len(bids), chunkRows)
	}
	c := g.c
	c.Reset()
	c.Partition = 0
	base := t0.UnixMicro()
	for c.Len() < chunkRows && g.left > 0 {
		g.left--
		g.i++
		// Nexmark: half the bids go to a hot auction, the rest to one of
		// the recent auctions; likewise for bidders.
		auction := g.i / 50
		if g.rng.IntN(2) == 0 {
			auction = auction / 100 * 100
		} else {
			auction -= g.rng.Int64N(1000)
		}
		bidder := g.i / 20
		if g.rng.IntN(2) == 0 {
			bidder = bidder / 100 * 100
		} else {
			bidder -= g.rng.Int64N(1000)
		}
		row := c.AppendEmpty(chunk.Insert, chunk.NoTime)
		row[0] = types.NewInt(auction)
		row[1] = types.NewInt(bidder)
		row[2] = types.NewInt(100 + g.rng.Int64N(100000))
		row[3] = types.NewText(channels[g.i&3])
		row[4] = types.NewTimestamp(base + g.i*g.gapUS - g.rng.Int64N(500_000))
	}
	return c, nil
}

func bidCol(name string) *expr.ColRef {
	i := bids.Index(name)
	return col(i, name, bids[i].Type)
}

func nexmarkAgg(in plan.Node, w plan.WindowSpec, keys []expr.Expr, aggs []plan.AggCall) *plan.WindowAgg {
	var cols types.Schema
	for _, k := range keys {
		cols = append(cols, types.Column{Name: k.String(), Type: k.Type()})
	}
	cols = append(cols, types.Column{Name: "window_start", Type: types.TTimestamp},
		types.Column{Name: "window_end", Type: types.TTimestamp}, types.Column{Name: "window_time", Type: types.TTimestamp})
	for _, a := range aggs {
		cols = append(cols, types.Column{Name: a.Name, Type: a.Type})
	}
	return &plan.WindowAgg{Input: in, Window: w, GroupBy: keys, Aggs: aggs, Emit: plan.EmitOnWindowClose, Cols: cols}
}

// BenchmarkNexmark runs Nexmark-shaped q5 (HOP count per auction and the
// hot auction per window, at 10 s/2 s and 60 min/1 min; the all-counts
// variants materialize every window's counts instead), q7 (TUMBLE 10 s max price) and q11 (SESSION
// 10 s per bidder) over the bid generator, 1 ms of event time per bid.
func BenchmarkNexmark(b *testing.B) {
	const n = 1_000_000
	sec := micros(1)
	cases := []struct {
		name string
		w    plan.WindowSpec
		keys []expr.Expr
		aggs []plan.AggCall
		hot  bool // add q5's Top-1 per window
	}{
		{"q5-hop-10s-2s", plan.WindowSpec{Kind: plan.Hop, TimeCol: 4, Size: 10 * sec, Slide: 2 * sec},
			[]expr.Expr{bidCol("auction")}, []plan.AggCall{countStar()}, true},
		{"q5-hop-60m-1m", plan.WindowSpec{Kind: plan.Hop, TimeCol: 4, Size: 3600 * sec, Slide: 60 * sec},
			[]expr.Expr{bidCol("auction")}, []plan.AggCall{countStar()}, true},
		{"q5-all-counts-10s-2s", plan.WindowSpec{Kind: plan.Hop, TimeCol: 4, Size: 10 * sec, Slide: 2 * sec},
			[]expr.Expr{bidCol("auction")}, []plan.AggCall{countStar()}, false},
		{"q5-all-counts-60m-1m", plan.WindowSpec{Kind: plan.Hop, TimeCol: 4, Size: 3600 * sec, Slide: 60 * sec},
			[]expr.Expr{bidCol("auction")}, []plan.AggCall{countStar()}, false},
		{"q7-tumble-10s-max", plan.WindowSpec{Kind: plan.Tumble, TimeCol: 4, Size: 10 * sec},
			nil, []plan.AggCall{maxOf(bidCol("price"))}, false},
		{"q11-session-10s", plan.WindowSpec{Kind: plan.Session, TimeCol: 4, Gap: 10 * sec},
			[]expr.Expr{bidCol("bidder")}, []plan.AggCall{countStar()}, false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			start, cpu := time.Now(), procCPU()
			iters := 0
			for b.Loop() {
				setFeed("bids", func() connectors.Reader {
					return &bidGen{left: n, gapUS: 1000, rng: rand.New(rand.NewPCG(3, 4))}
				})
				src := benchSource("bids", bids, 4, micros(4))
				// The view is keyed by the group keys and window_start, as
				// the planner derives it.
				key := make([]int, len(tc.keys)+1)
				for i := range key {
					key[i] = i
				}
				var root plan.Node = nexmarkAgg(src, tc.w, tc.keys, tc.aggs)
				if tc.hot {
					// q5's hot items: the auction with the most bids per window.
					wa := root.(*plan.WindowAgg)
					root = &plan.TopN{Input: wa, PartitionBy: []expr.Expr{col(1, "window_start", types.TTimestamp)},
						OrderBy: []plan.SortKey{{Expr: col(4, "n", types.TInt64), Desc: true}}, N: 1, Cols: wa.Cols}
				}
				e := runUntilEnd(b, &plan.Materialize{Input: root, Name: "q", Key: key})
				_ = e.Close(context.Background())
				iters++
			}
			reportRate(b, n*iters, start, cpu)
		})
	}
}

// BenchmarkStatePerKey measures heap bytes per open (window, key) of a
// tumbling count/sum aggregate, per open (pane, key) of a hop emitted on
// window close, and per open session, by feeding an operator directly and
// comparing live heap before and after; tumble-update is the tumbling
// aggregate with updating results, which keeps each group's last emitted
// results as well, and group-by the same count/sum as a GROUP BY without a
// window. The key strings ("key-123456", 16 bytes) are allocated for
// each row and retained by the state, so they are counted. est-bytes/key
// is the operator's own estimate (ViewStats.StateBytes).
func BenchmarkStatePerKey(b *testing.B) {
	const keys = 200_000
	cases := []struct {
		name  string
		w     plan.WindowSpec
		emit  plan.EmitMode
		group bool // a GROUP BY k (updating) instead of a window aggregate
	}{
		{"tumble", plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(3600)}, plan.EmitOnWindowClose, false},
		{"session", plan.WindowSpec{Kind: plan.Session, TimeCol: 2, Gap: micros(3600)}, plan.EmitOnWindowClose, false},
		{"hop", plan.WindowSpec{Kind: plan.Hop, TimeCol: 2, Size: micros(7200), Slide: micros(3600)}, plan.EmitOnWindowClose, false},
		{"tumble-update", plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(3600)}, plan.EmitOnUpdate, false},
		{"group-by", plan.WindowSpec{}, plan.EmitOnUpdate, true},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				e := NewEngine(Config{Clock: NewFakeClock(t0), BarrierInterval: -1})
				j := e.newJob("state", "view")
				src := &plan.Scan{Name: "x", Cols: events, NumPhysical: 3}
				var ms1, ms2 runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms1)
				var op operator
				var err error
				width := 6
				if bc.group {
					op, err = newGroupAggOp(j, groupAggPlan(src), false)
					width = 3
				} else {
					op, err = newWindowAggOp(j, windowAgg(src, bc.w, bc.emit, 0), false)
				}
				if err != nil {
					b.Fatal(err)
				}
				em := &emitter{ctx: context.Background(), n: &node{job: j}, width: width}
				c := chunk.New(3, chunkRows)
				for k := 0; k < keys; {
					c.Reset()
					for ; c.Len() < chunkRows && k < keys; k++ {
						c.Append(chunk.Insert, chunk.NoTime, types.Row{types.NewText("key-" + strconv.Itoa(k)), types.NewInt(int64(k)), types.NewTimestamp(sec(1))})
					}
					if err := op.OnData(0, c, em); err != nil {
						b.Fatal(err)
					}
				}
				if err := op.(batcher).FlushBatch(em); err != nil {
					b.Fatal(err)
				}
				c = nil
				runtime.GC()
				runtime.ReadMemStats(&ms2)
				runtime.KeepAlive(op)
				b.ReportMetric(float64(ms2.HeapAlloc-ms1.HeapAlloc)/keys, "bytes/key")
				b.ReportMetric(float64(j.stats[0].stateBytes.Load())/keys, "est-bytes/key")
				_ = e.Close(context.Background())
			}
		})
	}
}

// pacedReader emits rate events per second in chunks every 10 ms of real
// time, stamping each chunk's sequence number in column v and recording
// when it was handed to the engine.
type pacedReader struct {
	baseReader
	rate, total, sent int
	clock             Clock
	start             time.Time
	seq               int64
	sentAt            *sync.Map
	c                 *chunk.Chunk
}

func (r *pacedReader) Read(ctx context.Context) (*chunk.Chunk, error) {
	if r.sent >= r.total {
		return nil, io.EOF
	}
	if r.c == nil {
		r.c = chunk.New(3, r.rate/100)
		r.start = r.clock.Now()
	}
	due := r.start.Add(time.Duration(float64(r.sent) / float64(r.rate) * float64(time.Second)))
	if d := due.Sub(r.clock.Now()); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c := r.c
	c.Reset()
	c.Partition = 0
	r.seq++
	now := r.clock.Now()
	for range r.rate / 100 {
		ts := t0.UnixMicro() + int64(r.sent)*10
		row := c.AppendEmpty(chunk.Insert, chunk.NoTime)
		row[0] = types.NewText("k" + strconv.Itoa(r.sent%1000))
		row[1] = types.NewInt(r.seq)
		row[2] = types.NewTimestamp(ts)
		r.sent++
	}
	r.sentAt.Store(r.seq, now)
	return c, nil
}

// BenchmarkVisibilityLatency feeds 100K events/s on the real clock into an
// updating TUMBLE view (count and max(seq) by key) and measures, per input
// chunk, the time until a subscriber sees an update carrying its sequence
// number. It reports p50/p99 in milliseconds over the chunks after a 1 s
// warm-up, without checkpoints and with the server's default of a
// checkpoint every second (fsync on). Run with -benchtime=1x.
func BenchmarkVisibilityLatency(b *testing.B) {
	for _, ck := range []bool{false, true} {
		b.Run(fmt.Sprintf("checkpoints=%v", ck), func(b *testing.B) { benchVisibility(b, ck) })
	}
}

func benchVisibility(b *testing.B, checkpoints bool) {
	const rate, seconds = 100_000, 6
	const warmup = 100 // chunks (1 s) excluded: goroutine start, first groups, map growth
	for b.Loop() {
		clock := RealClock{}
		sentAt := &sync.Map{}
		setFeed("paced", func() connectors.Reader {
			return &pacedReader{rate: rate, total: rate * seconds, clock: clock, sentAt: sentAt}
		})
		cfg := Config{Clock: clock, BarrierInterval: -1}
		if checkpoints {
			cfg.BarrierInterval, cfg.CheckpointInterval, cfg.CheckpointDir = time.Second, time.Second, b.TempDir()
		}
		e := NewEngine(cfg)
		src := benchSource("paced", events, 2, micros(1))
		w := windowAgg(src, plan.WindowSpec{Kind: plan.Tumble, TimeCol: 2, Size: micros(10)}, plan.EmitOnUpdate, 0,
			countStar(), maxOf(col(1, "v", types.TInt64)))
		ctx, cancel := context.WithCancel(context.Background())
		if err := e.StartView(ctx, &plan.Materialize{Input: w, Name: "live", Key: []int{0, 1}}); err != nil {
			b.Fatal(err)
		}
		sub, err := e.Subscribe(ctx, "live")
		if err != nil {
			b.Fatal(err)
		}
		var lat []time.Duration
		var worst []string
		seen := map[int64]bool{}
		var done atomic.Bool
		go func() {
			time.Sleep(seconds*time.Second + 2*time.Second)
			done.Store(true)
			cancel()
		}()
		for !done.Load() {
			u, err := sub.Next(ctx)
			if err != nil {
				break
			}
			if u.IsProgress || u.Op != chunk.Insert {
				continue
			}
			s := u.Row[5].I
			if seen[s] {
				continue
			}
			seen[s] = true
			if at, ok := sentAt.Load(s); ok && s > warmup {
				d := clock.Now().Sub(at.(time.Time))
				lat = append(lat, d)
				if d > 50*time.Millisecond {
					worst = append(worst, fmt.Sprintf("%d:%v", s, d.Round(time.Millisecond)))
				}
			}
		}
		_ = e.Close(context.Background())
		if len(lat) == 0 {
			b.Fatal("no updates seen")
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(len(lat)), "chunks")
		if len(worst) > 0 {
			b.Logf("chunks over 50 ms (seq:latency): %v", worst)
		}
	}
}
