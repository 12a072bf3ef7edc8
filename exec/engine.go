package exec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// Sentinel errors.
var (
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("engine closed")
)

// Config configures an Engine.
type Config struct {
	Clock  Clock
	Logger *slog.Logger
	// QueueSize bounds the channels between operators (back-pressure).
	QueueSize int
	// IdleTimeout is the default for sources' `idle_timeout` option: an
	// input silent this long stops holding the watermark back (0 = never).
	IdleTimeout time.Duration
	// QuietAdvance is the default for sources' `quiet_advance` option: when
	// every partition of a source has been silent this long, its watermark
	// advances with processing time (0 = off).
	QuietAdvance time.Duration
	// DeadLetter receives inputs sources could not decode or use (their
	// generated columns failed); nil logs them.
	DeadLetter func(connectors.DeadLetter)
	// BarrierInterval is how often a barrier runs through every job so that
	// sinks commit an epoch (0 = 1s, negative = only on Flush).
	BarrierInterval time.Duration
	// MaxLateEvents bounds the late-events table (0 = 10000); older entries
	// are evicted, their count stays in ViewStats.
	MaxLateEvents int
	// checkpoint: CheckpointDir enables checkpoints of operator state and
	// source positions there (empty = none); jobs restore the newest
	// usable checkpoint when started. CheckpointInterval is the minimum
	// time between checkpoints (0 = 1s, negative = every barrier);
	// CheckpointNoSync skips fsync (benchmarks).
	CheckpointDir      string
	CheckpointInterval time.Duration
	CheckpointNoSync   bool
	// parallel: Parallelism is how many copies of each keyed aggregate run
	// (hash-partitioned by group key; 0 or 1 = one).
	Parallelism int
	// SubscriberQueue bounds the updates queued for one subscriber beyond
	// its initial snapshot (0 = 262144); a subscriber further behind is
	// dropped with an error instead of growing memory without bound.
	SubscriberQueue int

	// beforeSave (tests) runs on a job's checkpoint writer before each
	// save; an error fails that save as a crash during it would.
	beforeSave func(job string, epoch uint64) error
}

// Engine runs continuous queries: tables and push sources fed by Insert,
// pull sources read through connectors, and the jobs of views and sinks.
type Engine struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	bg     sync.WaitGroup

	mu     sync.Mutex
	rels   map[string]*relation
	jobs   map[string]*job
	epoch  uint64
	closed bool

	lateMu sync.Mutex
	late   lateRing

	ck *engineCkpt // checkpoint: nil without Config.CheckpointDir
}

// NewEngine returns a running engine.
func NewEngine(cfg Config) *Engine {
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 16
	}
	if cfg.BarrierInterval == 0 {
		cfg.BarrierInterval = time.Second
	}
	if cfg.MaxLateEvents <= 0 {
		cfg.MaxLateEvents = 10000
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel,
		rels: map[string]*relation{}, jobs: map[string]*job{}}
	if err := e.initCheckpoints(); err != nil { // checkpoint:
		e.log.Error("checkpoints disabled", "err", err)
	}
	if cfg.BarrierInterval > 0 {
		t := cfg.Clock.NewTicker(cfg.BarrierInterval)
		e.bg.Add(1)
		go func() {
			defer e.bg.Done()
			defer t.Stop()
			for {
				select {
				case <-t.C():
					if _, _, err := e.injectBarrier(e.ctx); err != nil {
						return
					}
				case <-e.ctx.Done():
					return
				}
			}
		}()
	}
	return e
}

func (e *Engine) now() time.Time { return e.cfg.Clock.Now() }

// AddTable registers a table or push source whose rows arrive by Insert.
func (e *Engine) AddTable(name string, schema types.Schema, wm *plan.Watermark) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	if _, ok := e.rels[name]; ok {
		return sqlerr.New(sqlerr.DuplicateTable, "relation %q already exists", name)
	}
	r := newRelation(name, schema, true)
	r.wm = wm
	r.appendOnly = true
	e.rels[name] = r
	return nil
}

func (e *Engine) rel(name string) (*relation, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	r, ok := e.rels[name]
	if !ok {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", name)
	}
	return r, nil
}

// Insert appends rows to a table: they are kept (snapshot, lookups,
// backfill of new views) and sent to every job reading the table. A row may
// omit the trailing generated columns of a push source (the jobs compute
// them).
func (e *Engine) Insert(ctx context.Context, name string, rows []types.Row) error {
	r, err := e.rel(name)
	if err != nil {
		return err
	}
	if !r.isTable {
		return sqlerr.New(sqlerr.WrongObjectType, "%q is a materialized view; only tables and sources accept rows", name)
	}
	for _, row := range rows {
		// Rows may omit trailing (generated) columns: the sources compute them.
		if len(row) > len(r.schema) || len(row) == 0 {
			return sqlerr.New(sqlerr.DatatypeMismatch, "insert into %q: row has %d values, the table has %d columns", name, len(row), len(r.schema))
		}
	}
	for len(rows) > 0 {
		n := min(len(rows), chunkRows)
		c := chunk.New(len(r.schema), n)
		c.Partition = 0
		batch := rows[:n]
		for _, row := range batch {
			copy(c.AppendEmpty(chunk.Insert, chunk.NoTime), row)
		}
		rows = rows[n:]
		r.pubMu.Lock()
		r.mu.Lock()
		r.appendLocked(batch)
		r.mu.Unlock()
		err := r.publish(ctx, chunk.Message{Kind: chunk.Data, Chunk: c})
		r.pubMu.Unlock()
		if err != nil {
			return fmt.Errorf("insert into %s: %w", name, err)
		}
	}
	return nil
}

// AdvanceWatermark declares that no row of a table or push source with an
// event time below micros will follow (a test and script hook).
func (e *Engine) AdvanceWatermark(name string, micros int64) error {
	r, err := e.rel(name)
	if err != nil {
		return err
	}
	if !r.isTable {
		return sqlerr.New(sqlerr.WrongObjectType, "%q is not a table or source", name)
	}
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	r.mu.Lock()
	if micros > r.lastWM {
		r.lastWM = micros
	}
	r.mu.Unlock()
	return r.publish(e.ctx, chunk.Message{Kind: chunk.Watermark, Watermark: micros})
}

// StartView starts the job of a materialized view: it backfills from the
// current contents of what it reads, then keeps the view up to date.
func (e *Engine) StartView(ctx context.Context, m *plan.Materialize) error {
	r := newRelation(m.Name, m.Schema(), false)
	r.key = m.Key
	r.store = newViewStoreFor(m.Key, m.AppendOnly)
	r.appendOnly = m.AppendOnly
	j := e.newJob(m.Name, "view")
	r.job = j
	j.rel = r
	j.parOpt = m.Parallelism
	j.deadLetterErrors = m.DeadLetterErrors
	term := newNode(j, "materialize "+m.Name, &materializeOp{rel: r, job: j}, 1, len(r.schema))
	return e.startJob(ctx, j, term, m.Input, r)
}

// StartSink starts the job of a sink writing Input's changes to sink.
func (e *Engine) StartSink(ctx context.Context, s *plan.Sink, sink connectors.Sink) error {
	last, err := sink.LastCommitted(ctx)
	if err != nil {
		return fmt.Errorf("read last committed epoch of sink %s: %w", s.Name, err)
	}
	j := e.newJob(s.Name, "sink")
	op := &sinkOp{sink: sink, job: j, epoch: last}
	if rb, ok := sink.(connectors.Rebuilder); ok {
		j.rebuild = rb.Rebuild
	}
	j.closers = append(j.closers, sink.Close)
	term := newNode(j, "sink "+s.Name, op, 1, len(s.Schema()))
	return e.startJob(ctx, j, term, s.Input, nil)
}

func (e *Engine) startJob(ctx context.Context, j *job, term *node, input plan.Node, r *relation) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	if _, ok := e.jobs[j.name]; ok {
		e.mu.Unlock()
		return sqlerr.New(sqlerr.DuplicateTable, "%q already exists", j.name)
	}
	if _, ok := e.rels[j.name]; ok && r != nil {
		e.mu.Unlock()
		return sqlerr.New(sqlerr.DuplicateTable, "relation %q already exists", j.name)
	}
	e.mu.Unlock()
	j.nodes = append(j.nodes, term)
	j.par = e.jobParallelism(j, input)
	b := &builder{e: e, j: j}
	if err := b.build(input, outlet{ch: term.inbox, in: 0}); err != nil {
		j.cancel()
		j.closeAll()
		return err
	}
	e.mu.Lock()
	if _, ok := e.jobs[j.name]; ok {
		e.mu.Unlock()
		j.cancel()
		j.closeAll()
		return sqlerr.New(sqlerr.DuplicateTable, "%q already exists", j.name)
	}
	e.jobs[j.name] = j
	if r != nil {
		e.rels[j.name] = r
	}
	e.mu.Unlock()
	if err := e.prepareCheckpoints(ctx, j, input); err != nil { // checkpoint:
		if errors.Is(err, errPlanChanged) {
			// The job stays, failed and not reading, so that neither its
			// state nor its sources' positions are lost: sluice_views and
			// the log say why, and DROP removes it with its checkpoints.
			j.fail(fmt.Errorf("restore %s %s: %w", j.kind, j.name, err))
			return nil
		}
		e.abortJob(j)
		return err
	}
	for _, n := range j.nodes {
		if n.inline {
			continue
		}
		j.wg.Add(1)
		go n.run(j.ctx)
	}
	if j.ck != nil {
		j.wg.Add(1)
		go j.ck.run()
	}
	// Sources attach (snapshot + feed registration) before they run, so
	// that the job sees every row exactly once.
	for _, s := range j.sources {
		if err := s.attach(ctx); err != nil {
			_ = e.Drop(j.name)
			return err
		}
	}
	e.afterAttach(j) // checkpoint:
	if j.rebuild != nil && (j.ck == nil || !j.ck.restored) {
		// The job re-sends its input's contents: the sink replaces its
		// earlier output at its next commit.
		if err := j.rebuild(ctx); err != nil {
			_ = e.Drop(j.name)
			return fmt.Errorf("rebuild sink %s: %w", j.name, err)
		}
	}
	for _, s := range j.sources {
		j.wg.Add(1)
		go s.run(j.ctx)
	}
	// A view this job reads that failed before the job was registered
	// did not fail it (job.fail fails the readers it finds): it will
	// not change again, so neither will this job's output.
	e.mu.Lock()
	var failedUp *job
	for name := range j.reads {
		if up := e.jobs[name]; up != nil && up != j && up.rel != nil && up.isFailed() {
			failedUp = up
			break
		}
	}
	e.mu.Unlock()
	if failedUp != nil {
		j.fail(upstreamFailed(failedUp, failedUp.failure()))
	}
	return nil
}

// readersLocked returns the jobs that read relation name, other than the
// one maintaining it. The caller holds e.mu.
func (e *Engine) readersLocked(name string) []*job {
	var out []*job
	for _, o := range e.jobs {
		if o.name != name && o.reads[name] {
			out = append(out, o)
		}
	}
	return out
}

// upstreamFailed is the failure of a job that reads view up, which failed
// with err.
func upstreamFailed(up *job, err error) error {
	return fmt.Errorf("it reads view %s, which failed: %w", up.name, err)
}

// Drop stops and removes a view, sink or table. A relation that running
// jobs read cannot be dropped.
func (e *Engine) Drop(name string) error {
	e.mu.Lock()
	j := e.jobs[name]
	r := e.rels[name]
	if j == nil && r == nil {
		e.mu.Unlock()
		return sqlerr.New(sqlerr.UndefinedTable, "%q does not exist", name)
	}
	if r != nil {
		for _, other := range e.readersLocked(name) {
			if !other.isFailed() {
				e.mu.Unlock()
				return sqlerr.New(sqlerr.DependentObjects, "cannot drop %q because %q depends on it", name, other.name)
			}
		}
	}
	delete(e.jobs, name)
	delete(e.rels, name)
	e.mu.Unlock()
	if r != nil {
		r.pubMu.Lock()
		for s := range r.subs {
			s.closeWith(fmt.Errorf("%s was dropped", name))
		}
		r.subs = map[*Subscription]struct{}{}
		r.pubMu.Unlock()
	}
	if j != nil {
		j.dropped.Store(true)
		j.stop()
		e.dropCheckpoints(name) // checkpoint:
	}
	return nil
}

// injectBarrier sends barrier epoch through every root (tables and pull
// sources) and returns the epoch and the jobs that will see it.
func (e *Engine) injectBarrier(ctx context.Context) (uint64, []*job, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return 0, nil, ErrClosed
	}
	e.epoch++
	ep := e.epoch
	jobs := make([]*job, 0, len(e.jobs))
	for _, j := range e.jobs {
		jobs = append(jobs, j)
	}
	for _, r := range e.rels {
		if !r.isTable {
			continue
		}
		r.pubMu.Lock()
		err := r.publish(ctx, chunk.Message{Kind: chunk.Barrier, Epoch: ep})
		r.pubMu.Unlock()
		if err != nil {
			return 0, nil, err
		}
	}
	for _, j := range jobs {
		for _, s := range j.sources {
			if s.reader == nil {
				continue
			}
			select {
			case s.ctl <- chunk.Message{Kind: chunk.Barrier, Epoch: ep}:
			case <-j.ctx.Done():
			case <-ctx.Done():
				return 0, nil, ctx.Err()
			}
		}
	}
	return ep, jobs, nil
}

// Flush returns when every job has processed all input inserted or read
// before the call: a barrier runs through the dataflow. It returns the
// failures of jobs not yet returned by an earlier Flush, so a job that
// failed on rows inserted before the call is reported exactly once.
func (e *Engine) Flush(ctx context.Context) error {
	ep, jobs, err := e.injectBarrier(ctx)
	if err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	var errs []error
	for _, j := range jobs {
		if err := j.waitAck(ctx, ep); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		if ferr := j.unreportedFailure(); ferr != nil {
			errs = append(errs, fmt.Errorf("%s %s failed: %w", j.kind, j.name, ferr))
		}
	}
	return errors.Join(errs...)
}

// Snapshot returns the schema and a consistent copy of the contents of a
// view or table. The rows are shared and must not be modified.
func (e *Engine) Snapshot(name string) (types.Schema, []types.Row, error) {
	r, err := e.rel(name)
	if err != nil {
		return nil, nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.schema, r.contentsLocked(), nil
}

// Close stops every job and releases connectors.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	jobs := make([]*job, 0, len(e.jobs))
	for _, j := range e.jobs {
		jobs = append(jobs, j)
	}
	rels := e.rels
	e.mu.Unlock()
	e.cancel()
	for _, r := range rels {
		r.pubMu.Lock()
		for s := range r.subs {
			s.closeWith(ErrClosed)
		}
		r.pubMu.Unlock()
	}
	done := make(chan struct{})
	go func() {
		for _, j := range jobs {
			j.stop()
		}
		e.bg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close engine: %w", ctx.Err())
	}
}

// job is the dataflow of one view or sink.
type job struct {
	e      *Engine
	name   string
	kind   string
	par    int // copies of each keyed operator (jobParallelism)
	groups int // keyed operators built as copies (opStats.group)
	// parOpt is the view's own parallelism option (0: Config.Parallelism).
	parOpt int
	// deadLetterErrors: the view's on_error = 'dead_letter' (rowError).
	deadLetterErrors bool
	// rescaleFrom: the parallelism of the job's checkpoint, when it is
	// not par (the restore repartitions the state); else 0.
	rescaleFrom int
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	nodes   []*node
	sources []*sourceNode
	reads   map[string]bool
	rel     *relation
	closers []func() error
	ck      *jobCkpt // checkpoint: nil without checkpoints
	stats   []*opStats
	// rebuild, for a sink that is a connectors.Rebuilder, is called before
	// the job's sources run when the job did not restore a checkpoint.
	rebuild func(context.Context) error

	rowsIn, rowsOut atomic.Int64
	late            atomic.Int64
	watermark       atomic.Int64

	mu           sync.Mutex
	err          error
	failReported bool // a Flush returned err already
	acked        uint64
	finished     bool
	changed      chan struct{}
	stopOnce     sync.Once
	dropped      atomic.Bool // Drop stops the job: its readers discard their outside state
}

func (e *Engine) newJob(name, kind string) *job {
	ctx, cancel := context.WithCancel(e.ctx)
	j := &job{e: e, name: name, kind: kind, ctx: ctx, cancel: cancel, reads: map[string]bool{}, changed: make(chan struct{})}
	j.watermark.Store(chunk.NoTime)
	return j
}

func (j *job) signalLocked() {
	close(j.changed)
	j.changed = make(chan struct{})
}

func (j *job) ack(epoch uint64) {
	j.mu.Lock()
	if epoch > j.acked {
		j.acked = epoch
	}
	j.signalLocked()
	j.mu.Unlock()
}

func (j *job) finish() {
	j.mu.Lock()
	j.finished = true
	j.signalLocked()
	j.mu.Unlock()
}

func (j *job) fail(err error) {
	j.mu.Lock()
	first := j.err == nil
	if first {
		j.err = err
		j.e.log.Error("job failed", "job", j.name, "kind", j.kind, "err", err)
	}
	j.signalLocked()
	j.mu.Unlock()
	j.cancel()
	if first && j.rel != nil {
		// The view stops changing: its subscribers get what it published
		// before the failure, then the failure (not a silent stall), and
		// so do the views and sinks that read it.
		j.rel.endSubs(viewFailed(j.name, err))
		j.e.mu.Lock()
		readers := j.e.readersLocked(j.name)
		j.e.mu.Unlock()
		for _, o := range readers {
			o.fail(upstreamFailed(j, err))
		}
	}
}

// viewFailed is the error a query of a failed view answers: SQLSTATE 55000,
// as PostgreSQL answers a materialized view that cannot be read in its
// state (one not populated).
func viewFailed(name string, err error) error {
	return sqlerr.New(sqlerr.ObjectNotInState, "materialized view %q failed: %v", name, err).
		WithHint("Its rows stopped changing when it failed. A restart of Sluice runs it again (from its last checkpoint); DROP and CREATE start it anew. sluice_views.error keeps the reason.")
}

// ViewFailure returns, for a view whose job failed, the error a query of
// it answers (see viewFailed); nil for a running view and for any other
// relation.
func (e *Engine) ViewFailure(name string) error {
	e.mu.Lock()
	j := e.jobs[name]
	e.mu.Unlock()
	if j == nil || j.rel == nil {
		return nil
	}
	if err := j.failure(); err != nil {
		return viewFailed(name, err)
	}
	return nil
}

func (j *job) failure() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

func (j *job) isFailed() bool { return j.failure() != nil }

// unreportedFailure returns the job's failure the first time a Flush asks
// for it after the job failed, nil before and after that.
func (j *job) unreportedFailure() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil || j.failReported {
		return nil
	}
	j.failReported = true
	return j.err
}

// waitAck waits until the job processed barrier epoch (or finished, failed
// or stopped).
func (j *job) waitAck(ctx context.Context, epoch uint64) error {
	for {
		j.mu.Lock()
		ok := j.acked >= epoch || j.finished || j.err != nil || j.ctx.Err() != nil
		ch := j.changed
		j.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-j.ctx.Done():
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (j *job) stop() {
	j.stopOnce.Do(func() {
		j.cancel()
		j.wg.Wait()
		j.closeAll()
	})
}

func (j *job) closeAll() {
	for _, c := range j.closers {
		if err := c(); err != nil {
			j.e.log.Warn("close", "job", j.name, "err", err)
		}
	}
	j.closers = nil
}

// opStats are counters an operator publishes for ViewStats (written by the
// operator's goroutine, read by anyone).
type opStats struct {
	stateBytes  atomic.Int64
	openWindows atomic.Int64
	// copies: the copies of one keyed operator share a group (> 0). Their
	// windows are the same windows, each holding some of the keys, so a
	// view counts the most any copy has; sessions, which are per key
	// (keyedWindows), add up.
	group        int
	keyedWindows bool
}

// ViewStats describes one running view or sink.
type ViewStats struct {
	Name, Kind string
	// Watermark is the job's output watermark in microseconds
	// (chunk.NoTime when none has passed yet).
	Watermark   int64
	RowsIn      int64
	RowsOut     int64
	StateBytes  int64
	OpenWindows int64
	Late        int64
	// Parallelism is how many copies each keyed operator runs as: the
	// configured one (a checkpoint taken at another is repartitioned).
	Parallelism int
	Failed      bool
	Error       string
	// Ended: every input of the job ended (bounded sources read to their
	// end) and it processed all of it; its output will not change again.
	Ended bool
}

// ViewStats lists every view and sink job, sorted by name.
func (e *Engine) ViewStats() []ViewStats {
	e.mu.Lock()
	jobs := make([]*job, 0, len(e.jobs))
	for _, j := range e.jobs {
		jobs = append(jobs, j)
	}
	e.mu.Unlock()
	out := make([]ViewStats, 0, len(jobs))
	for _, j := range jobs {
		v := ViewStats{Name: j.name, Kind: j.kind, Watermark: j.watermark.Load(), RowsIn: j.rowsIn.Load(),
			RowsOut: j.rowsOut.Load(), Late: j.late.Load(), Parallelism: j.par}
		var copies map[int]int64
		for _, s := range j.stats {
			v.StateBytes += s.stateBytes.Load()
			if s.group == 0 || s.keyedWindows {
				v.OpenWindows += s.openWindows.Load()
				continue
			}
			if copies == nil {
				copies = map[int]int64{}
			}
			copies[s.group] = max(copies[s.group], s.openWindows.Load())
		}
		for _, w := range copies {
			v.OpenWindows += w
		}
		if err := j.failure(); err != nil {
			v.Failed, v.Error = true, err.Error()
		}
		j.mu.Lock()
		v.Ended = j.finished
		j.mu.Unlock()
		out = append(out, v)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// LateEvent is a row that arrived after its window closed beyond the
// allowed lateness: it is counted and kept here instead of being dropped.
type LateEvent struct {
	View string
	// Row is the input row as a JSON object of column name to text value.
	Row       string
	EventTime int64 // microseconds
	Watermark int64 // the operator's watermark when the row arrived
	// Lateness is how far behind the watermark the row was (microseconds).
	Lateness int64
	Arrival  time.Time
}

// deadLetter hands an input no view could use (undecodable, or whose
// generated columns failed) to Config.DeadLetter; without one it is
// logged, never dropped silently.
func (e *Engine) deadLetter(dl connectors.DeadLetter) {
	if e.cfg.DeadLetter != nil {
		e.cfg.DeadLetter(dl)
		return
	}
	e.log.Warn("dead letter", "source", dl.Source, "partition", dl.Partition, "offset", dl.Offset,
		"reason", dl.Reason, "raw", string(dl.Raw))
}

// LateEvents returns the recorded late events, oldest first.
func (e *Engine) LateEvents() []LateEvent {
	e.lateMu.Lock()
	defer e.lateMu.Unlock()
	return e.late.list()
}

func (e *Engine) recordLate(ev LateEvent) {
	e.lateMu.Lock()
	defer e.lateMu.Unlock()
	e.late.add(ev, e.cfg.MaxLateEvents)
}

// lateRing holds the newest late events, at most a given number: adding
// to a full ring replaces the oldest in constant time (a flood of late
// events must not cost a copy of the whole table each).
type lateRing struct {
	evs  []LateEvent
	next int // when full: the index of the oldest, which the next add replaces
}

func (r *lateRing) add(ev LateEvent, max int) {
	if len(r.evs) < max {
		r.evs = append(r.evs, ev)
		return
	}
	r.evs[r.next] = ev
	r.next = (r.next + 1) % len(r.evs)
}

// list returns the events, oldest first.
func (r *lateRing) list() []LateEvent {
	out := make([]LateEvent, 0, len(r.evs))
	out = append(out, r.evs[r.next:]...)
	return append(out, r.evs[:r.next]...)
}
