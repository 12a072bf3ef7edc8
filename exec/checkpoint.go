package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-db/sluice/exec/checkpoint"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
)

// Checkpoints (see exec/checkpoint for the on-disk format).
//
// A checkpoint of a job is taken at a barrier epoch. Whether epoch E is a
// checkpoint is decided once per job, by whichever of its goroutines sees
// E first (at least Config.CheckpointInterval after the previous one).
// Each source records its reader position and watermark state when it
// forwards barrier E; each node, wrapped in a ckptOp, records its
// watermarks and its operator's Snapshot in OnBarrier(E), before it
// forwards E. The terminal node sees E last, after every other part was
// recorded: it adds the view contents (or the sink's uncommitted rows) and
// hands the checkpoint to the job's checkpoint writer, a goroutine that
// saves the job's checkpoints one after another (encode, write, fsync).
//
// A view captures only what changed at the barrier: the view store marks
// the entries changed since the last capture and keeps a list of them and
// of the keys removed (viewStore.captureDelta); the capture copies row
// references, since stored rows never change once handed out. The writer
// encodes them while the view goes on. A view fed by GROUP BY aggregates
// through nothing but projections, filters and merges is not captured at
// all: a restore rebuilds it from the aggregates (checkpoint_derived.go).
// A checkpoint counts only once it is
// durable: the view's barrier acks (so Flush) and its end of stream queue
// behind the save on the writer; sources commit the positions of a
// checkpoint (Reader.Commit, at their next barrier) only after the writer
// saved it; a sink waits for its checkpoint's save before it commits the
// epoch. A crash before the save completes leaves the previous checkpoint
// in use, and nothing treated the lost one as durable.
//
// Incremental: a node whose operator saw no data or watermark and whose
// watermarks did not move since its last part is saved as Unchanged, so
// its previous file is referenced instead of rewritten. A view's contents
// are a base plus one delta per checkpoint (see viewParts).
//
// Exactly-once sinks: a sink commits only at checkpoint barriers, after
// the checkpoint is durable, as epoch k; the checkpoint holds k and the
// rows of epoch k. After a crash, the job restores the last checkpoint: if
// the sink's LastCommitted is below k, the stored rows are written and k
// committed; replay then continues with epoch k+1, which the crashed run
// never committed. Rows of an epoch are therefore written exactly once.

// RecoveryStats describes the restore of one job at StartView/StartSink.
type RecoveryStats struct {
	Job   string
	Epoch uint64
	// Duration is the time spent loading and restoring the checkpoint.
	Duration time.Duration
	// Bytes is the size of the state read.
	Bytes int64
	// Skipped lists newer checkpoints that were corrupt or incomplete.
	Skipped []string
}

// CheckpointStats describes the checkpoints of one job.
type CheckpointStats struct {
	Job       string
	LastEpoch uint64
	Count     int64
	Failures  int64
	LastBytes int64 // bytes written by the last checkpoint
	LastError string
	// LastDuration is how long the last checkpoint's write took.
	LastDuration time.Duration
}

// engineCkpt is an engine's checkpointing state (nil when
// Config.CheckpointDir is empty).
type engineCkpt struct {
	store    *checkpoint.Store
	interval time.Duration // < 0: every barrier

	mu        sync.Mutex
	recovered map[string]RecoveryStats
	stats     map[string]*CheckpointStats
	maxEpoch  uint64 // highest epoch seen on disk
}

// initCheckpoints opens the checkpoint store of Config.CheckpointDir.
func (e *Engine) initCheckpoints() error {
	if e.cfg.CheckpointDir == "" {
		return nil
	}
	st, err := checkpoint.Open(e.cfg.CheckpointDir, checkpoint.Options{NoSync: e.cfg.CheckpointNoSync})
	if err != nil {
		return err
	}
	iv := e.cfg.CheckpointInterval
	if iv == 0 {
		iv = time.Second
	}
	e.ck = &engineCkpt{store: st, interval: iv, recovered: map[string]RecoveryStats{}, stats: map[string]*CheckpointStats{}}
	return nil
}

// Recoveries returns the restores done since the engine started (one per
// job that resumed from a checkpoint), for the log and a metric.
func (e *Engine) Recoveries() []RecoveryStats {
	if e.ck == nil {
		return nil
	}
	e.ck.mu.Lock()
	defer e.ck.mu.Unlock()
	out := make([]RecoveryStats, 0, len(e.ck.recovered))
	for _, r := range e.ck.recovered {
		out = append(out, r)
	}
	return out
}

// CheckpointStats returns per-job checkpoint counters.
func (e *Engine) CheckpointStats() []CheckpointStats {
	if e.ck == nil {
		return nil
	}
	e.ck.mu.Lock()
	defer e.ck.mu.Unlock()
	out := make([]CheckpointStats, 0, len(e.ck.stats))
	for _, s := range e.ck.stats {
		out = append(out, *s)
	}
	return out
}

// DiscardState removes the checkpoints kept under name. The catalog calls
// it before it starts a new view or sink of that name: checkpoints found
// there are left over (a DROP cut short by a crash) and are not its state.
func (e *Engine) DiscardState(name string) { e.dropCheckpoints(name) }

// dropCheckpoints removes a dropped job's checkpoints.
func (e *Engine) dropCheckpoints(name string) {
	if e.ck == nil {
		return
	}
	if err := e.ck.store.Job(name).Remove(); err != nil {
		e.log.Warn("remove checkpoints", "job", name, "err", err)
	}
	e.ck.mu.Lock()
	delete(e.ck.stats, name)
	delete(e.ck.recovered, name)
	e.ck.mu.Unlock()
}

// jobCkpt coordinates the checkpoints of one job.
type jobCkpt struct {
	e     *Engine
	j     *job
	store *checkpoint.JobStore
	fp    string
	term  *ckptOp
	ops   []*ckptOp
	srcs  []*sourceNode
	// feeds: the view's contents derive from these GROUP BY aggregates,
	// so its checkpoints leave them out (see checkpoint_derived.go).
	feeds []viewFeed

	restorePos map[*sourceNode][]byte
	restored   bool
	// rescaleFP: the fingerprint of the job's plan at the parallelism of
	// its checkpoint, when that differs from the job's (job.rescaleFrom).
	rescaleFP string

	// work feeds the job's checkpoint writer (run): checkpoints to save
	// and, behind them, a view's barrier acks and end of stream.
	work chan ckWork

	mu      sync.Mutex
	lastAt  time.Time
	decided map[uint64]bool
	parts   map[uint64][]*ckPart
	sticky  map[string]*ckPart     // parts of finished sources
	commits map[*sourceNode][]byte // durable positions to commit
	savedAt map[string]uint64      // epoch of each part's file in the last saved checkpoint
	srcIdx  map[*sourceNode]string // part names of sources
	stats   *CheckpointStats
}

// ckPart is one part offered for epoch; since is the epoch at which data
// was produced (a part unchanged since an earlier checkpoint keeps it).
// A part with write (a view's rows) is encoded by the checkpoint writer,
// streaming into the part's file; once saved, the part is only ever
// referenced as unchanged, so the writer drops write (and the rows it
// holds). Only the writer goroutine touches write after the part is added.
type ckPart struct {
	name  string
	data  []byte
	write func(io.Writer) error
	since uint64
	pos   []byte // sources: the reader position to commit
	src   *sourceNode
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ckWork is one item for a job's checkpoint writer, handled in order: a
// checkpoint to save (parts set), then, for a view, a barrier's ack or the
// end of its stream, which nobody may see before every earlier checkpoint
// is durable.
type ckWork struct {
	epoch  uint64
	parts  map[string]*ckPart
	ack    bool
	finish bool
	done   chan error // receives the save's result (buffered)
}

type ckMeta struct {
	Job         string `json:"job"`
	Kind        string `json:"kind"`
	Fingerprint string `json:"fingerprint"`
}

// decide reports whether epoch is a checkpoint of the job.
func (c *jobCkpt) decide(epoch uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.decided[epoch]; ok {
		return d
	}
	now := c.e.now()
	iv := c.e.ck.interval
	d := iv < 0 || c.lastAt.IsZero() || now.Sub(c.lastAt) >= iv*9/10
	if d {
		c.lastAt = now
	}
	c.decided[epoch] = d
	return d
}

func (c *jobCkpt) add(epoch uint64, p *ckPart) {
	c.mu.Lock()
	c.parts[epoch] = append(c.parts[epoch], p)
	c.mu.Unlock()
}

// sourceBarrier records a source's part when it forwards barrier epoch,
// and commits positions that became durable. It runs on the source's
// goroutine.
func (s *sourceNode) ckptBarrier(ctx context.Context, epoch uint64) {
	c := s.j.ck
	if c == nil {
		return
	}
	c.mu.Lock()
	pos, hasCommit := c.commits[s]
	delete(c.commits, s)
	c.mu.Unlock()
	if hasCommit && s.reader != nil {
		if err := s.reader.Commit(ctx, pos); err != nil && ctx.Err() == nil {
			s.j.e.log.Warn("commit source position", "job", s.j.name, "source", s.scan.Name, "err", err)
		}
	}
	if !c.decide(epoch) {
		return
	}
	p, err := s.snapshotPart()
	if err != nil {
		s.j.e.log.Warn("snapshot source", "job", s.j.name, "source", s.scan.Name, "err", err)
		return // the checkpoint will be incomplete and skipped
	}
	p.since = epoch
	c.add(epoch, p)
}

// ckptEOF records a finished source's final part, used for every later
// checkpoint (a finished source no longer forwards barriers).
func (s *sourceNode) ckptEOF() {
	c := s.j.ck
	if c == nil {
		return
	}
	p, err := s.snapshotPart()
	if err != nil {
		return
	}
	c.mu.Lock()
	c.sticky[p.name] = p
	c.mu.Unlock()
}

func (s *sourceNode) snapshotPart() (*ckPart, error) {
	e := &snapEnc{}
	var pos []byte
	if s.reader != nil {
		var err error
		if pos, err = s.reader.Position(); err != nil {
			return nil, fmt.Errorf("read position: %w", err)
		}
	}
	e.bytes(pos)
	e.varint(s.emitted)
	e.varint(s.forced)
	e.varint(s.maxEvent)
	e.bool(s.anyData)
	e.uvarint(uint64(len(s.parts)))
	for _, p := range s.parts {
		e.varint(p.maxT)
		e.varint(p.rows)
	}
	return &ckPart{name: s.j.ck.srcIdx[s], data: e.b, pos: pos, src: s}, nil
}

func (s *sourceNode) restorePart(b []byte) error {
	d := &snapDec{b: b}
	pos := d.bytes()
	s.emitted, s.forced, s.maxEvent = d.varint(), d.varint(), d.varint()
	s.anyData = d.bool()
	n := d.count(2)
	now := s.j.e.now()
	s.parts = s.parts[:0]
	for range n {
		s.parts = append(s.parts, partState{maxT: d.varint(), rows: d.varint(), lastActive: now})
	}
	if err := d.done(); err != nil {
		return fmt.Errorf("restore source %s: %w", s.scan.Name, err)
	}
	if s.emitted != math.MinInt64 {
		s.stats.Watermark = s.emitted
	}
	s.stats.Rows = 0
	for _, p := range s.parts {
		s.stats.Rows += p.rows
	}
	s.restoredRows = s.stats.Rows
	s.j.rowsIn.Add(s.stats.Rows) // rows_in counts on from the checkpoint
	if len(pos) > 0 {
		s.j.ck.restorePos[s] = append([]byte(nil), pos...)
	}
	return nil
}

// restoredPosition is the reader position to open a source at (nil: the
// connector's start).
func (s *sourceNode) restoredPosition() []byte {
	if s.j.ck == nil {
		return nil
	}
	return s.j.ck.restorePos[s]
}

// ckptOp wraps a node's operator to record checkpoint parts: it notes
// whether the operator changed since its last part, and in OnBarrier adds
// the node's watermarks and the operator's snapshot.
type ckptOp struct {
	operator
	c     *jobCkpt
	n     *node
	name  string
	dirty bool
	since uint64 // epoch at which last was produced
	last  []byte

	// terminal operators
	mat     *materializeOp
	sink    *sinkOp
	pending []*chunk.Chunk // sink: rows of the epoch not yet committed
	ckEpoch uint64         // the barrier being a checkpoint that OnControl will see
	ckOK    bool

	// views: contents are saved incrementally, as a base ("tb") plus the
	// changes of each checkpoint ("td<epoch>"). The view store itself
	// tracks what changed (viewStore.captureDelta); the parts are encoded
	// by the checkpoint writer.
	view partChain
	// fromEmpty says that the view was empty when its store started to
	// track changes (a new job): its first base is empty and the first
	// delta holds every row.
	fromEmpty bool

	// operators with incremental state (incSnapshotter): the node part
	// holds only the node's watermarks; the state is a base ("<name>b")
	// plus a delta per checkpoint ("<name>d<epoch>"), as for views.
	inc      incSnapshotter
	incParts bool // restore: the node part said the state is in its own parts
	state    partChain

	// operators that record late events (lateKeeper): their count and
	// newest events, in a part of their own ("<name>.late") written when
	// they changed, absent while there are none.
	late *ckPart
}

// partChain is state saved incrementally: a base part and one delta part
// per checkpoint since, named base and delta+<epoch>. A new base replaces
// the deltas when there is none yet, when the entries later deltas
// replaced or removed outnumber the state's (so a restore reads at most
// about twice the state), or after maxViewDeltas deltas. (Compacting at
// twice the state instead cost a GROUP BY over 1 M keys as much per
// checkpoint, 0.47-0.49 of the rate without checkpoints, and tripled its
// restore: 2.9-4.5 s against 1.3 s, BenchmarkRecoveryGroupBy1M.)
type partChain struct {
	base       *ckPart
	deltas     []*ckPart
	superseded int // entries of base and deltas that later deltas replace
}

// needBase says whether the next capture of a state of stateLen entries
// must be a base.
func (pc *partChain) needBase(stateLen int) bool {
	return pc.base == nil || pc.superseded > stateLen+1024 || len(pc.deltas) >= maxViewDeltas
}

func (pc *partChain) setBase(p *ckPart) { pc.base, pc.deltas, pc.superseded = p, nil, 0 }

func (pc *partChain) addDelta(p *ckPart, superseded int) {
	pc.deltas = append(pc.deltas, p)
	pc.superseded += superseded
}

// addTo adds the base and the deltas to checkpoint epoch.
func (pc *partChain) addTo(c *jobCkpt, epoch uint64) {
	c.add(epoch, pc.base)
	for _, p := range pc.deltas {
		c.add(epoch, p)
	}
}

// deltaNames returns the names of the delta parts, prefix followed by the
// 20 digits of their epoch, in epoch order.
func deltaNames(parts map[string][]byte, prefix string) []string {
	var names []string
	for n := range parts {
		if strings.HasPrefix(n, prefix) && len(n) == len(prefix)+20 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func (w *ckptOp) OnData(in int, c *chunk.Chunk, out *emitter) error {
	w.dirty = true
	if w.sink != nil {
		w.pending = append(w.pending, c.Clone())
	}
	return w.operator.OnData(in, c, out)
}

func (w *ckptOp) OnWatermark(wm int64, out *emitter) (int64, error) {
	w.dirty = true
	return w.operator.OnWatermark(wm, out)
}

func (w *ckptOp) OnBarrier(epoch uint64, out *emitter) error {
	if g, ok := w.operator.(*groupAggOp); ok && g.last != nil {
		w.dirty = true // expiry may change state
	}
	if err := w.operator.OnBarrier(epoch, out); err != nil {
		return err
	}
	if !w.c.decide(epoch) {
		return nil
	}
	data, changed, err := w.snapshot()
	if err != nil {
		return err
	}
	if changed {
		w.since = epoch
	}
	p := &ckPart{name: w.name, data: data, since: w.since}
	if !w.term() {
		w.c.add(epoch, p)
		w.lateParts(epoch)
		if w.inc != nil {
			return w.opParts(epoch)
		}
		return nil
	}
	p.since = epoch
	w.c.add(epoch, p)
	if w.mat != nil && w.c.feeds == nil {
		w.viewParts(epoch)
	}
	parts, err := w.c.collect(epoch)
	w.ckEpoch, w.ckOK = epoch, false
	if err != nil {
		return nil // counted as a failure; the next checkpoint retries
	}
	if w.mat != nil {
		// A view's checkpoint is written in the background; its barrier's
		// ack waits behind it (materializeOp.ackFn).
		return w.c.enqueue(out.ctx, ckWork{epoch: epoch, parts: parts})
	}
	// A sink commits epoch only once the checkpoint is durable, and it
	// cannot write the next epoch's rows before that commit: wait.
	done := make(chan error, 1)
	if err := w.c.enqueue(out.ctx, ckWork{epoch: epoch, parts: parts, done: done}); err != nil {
		return err
	}
	select {
	case err = <-done:
	case <-out.ctx.Done():
		return out.ctx.Err()
	}
	w.ckOK = err == nil
	if w.ckOK {
		w.pending = w.pending[:0]
	}
	return nil
}

// wrapped implements wrapper: the node asks the operator inside which
// optional hooks (batcher, selReceiver) it has, and calls them through
// the ckptOp methods below so that they mark the state changed.
func (w *ckptOp) wrapped() operator { return w.operator }

// FlushBatch is called only when the wrapped operator is a batcher.
func (w *ckptOp) FlushBatch(out *emitter) error {
	w.dirty = true
	return w.operator.(batcher).FlushBatch(out)
}

// OnSelected is called only when the wrapped operator is a selReceiver
// (an aggregate copy behind a shuffle; never a terminal).
func (w *ckptOp) OnSelected(c *chunk.Chunk, rows []int32, r *routed, out *emitter) error {
	w.dirty = true
	return w.operator.(selReceiver).OnSelected(c, rows, r, out)
}

func (w *ckptOp) term() bool { return w.mat != nil || w.sink != nil }

// OnControl is the terminal's: a sink commits only at checkpoints that
// were saved, other barriers are acknowledged without a commit.
func (w *ckptOp) OnControl(m chunk.Message) error {
	cr := w.operator.(controlReceiver)
	switch m.Kind {
	case chunk.Data:
		w.dirty = true
		if w.sink != nil {
			w.pending = append(w.pending, m.Chunk.Clone())
		}
	case chunk.Watermark:
		w.dirty = true
	case chunk.Barrier:
		if w.sink != nil && !(w.ckOK && w.ckEpoch == m.Epoch) {
			w.n.job.ack(m.Epoch)
			return nil
		}
	}
	return cr.OnControl(m)
}

// snapshot returns the node's part: its watermarks, then the operator's
// state (or the view contents, or the sink's epoch and pending rows).
func (w *ckptOp) snapshot() ([]byte, bool, error) {
	n := w.n
	e := &snapEnc{}
	e.varint(n.inWM)
	e.varint(n.outWM)
	e.uvarint(uint64(len(n.wms)))
	for _, v := range n.wms {
		e.varint(v)
	}
	head := e.b
	if !w.dirty && w.last != nil && len(w.last) >= len(head) && string(w.last[:len(head)]) == string(head) && !w.term() {
		return w.last, false, nil
	}
	switch {
	case w.mat != nil:
		w.mat.rel.mu.RLock()
		e.varint(w.mat.rel.lastWM)
		w.mat.rel.mu.RUnlock()
		e.uvarint(uint64(w.c.j.rowsOut.Load()))
	case w.sink != nil:
		ep := w.sink.epoch
		if w.sink.dirty {
			ep++
		}
		e.uvarint(ep)
		e.uvarint(uint64(len(w.pending)))
		for _, c := range w.pending {
			e.uvarint(uint64(c.Width))
			e.uvarint(uint64(c.Len()))
			for i := range c.Len() {
				e.varint(int64(c.Ops[i]))
				e.varint(c.Times[i])
				e.row(c.Row(i))
			}
		}
		e.uvarint(uint64(w.c.j.rowsOut.Load()))
	case w.inc != nil:
		e.bytes(nil) // the state is in its own parts (opParts)
	default:
		if s, ok := w.operator.(snapshotter); ok {
			b, err := s.Snapshot()
			if err != nil {
				return nil, false, err
			}
			e.bytes(b)
		} else {
			e.bytes(nil)
		}
	}
	w.dirty = false
	w.last = e.b
	return e.b, true, nil
}

// restore applies a node part.
func (w *ckptOp) restore(ctx context.Context, b []byte) error {
	n := w.n
	d := &snapDec{b: b}
	n.inWM, n.outWM = d.varint(), d.varint()
	k := d.count(1)
	if d.err == nil && k != len(n.wms) {
		return fmt.Errorf("restore %s: %w: %d inputs, checkpoint has %d", n.name, errSnapshotCorrupt, len(n.wms), k)
	}
	for i := range k {
		n.wms[i] = d.varint()
	}
	switch {
	case w.mat != nil:
		wm := d.varint()
		w.restoreRowsOut(d)
		if err := d.done(); err != nil {
			return err
		}
		w.mat.rel.mu.Lock()
		w.mat.rel.lastWM = wm
		w.mat.rel.mu.Unlock()
		w.mat.job.watermark.Store(wm)
		return nil
	case w.sink != nil:
		ep := d.uvarint()
		nc := d.count(2)
		var rows []*chunk.Chunk
		for range nc {
			width, nr := int(d.uvarint()), d.count(3)
			c := chunk.New(width, nr)
			for range nr {
				op, t := chunk.Op(d.varint()), d.varint()
				r := d.row()
				if d.err != nil {
					break
				}
				c.Append(op, t, r)
			}
			rows = append(rows, c)
		}
		w.restoreRowsOut(d)
		if err := d.done(); err != nil {
			return err
		}
		return w.restoreSink(ctx, ep, rows)
	}
	body := d.bytes()
	if err := d.done(); err != nil {
		return fmt.Errorf("restore %s: %w", n.name, err)
	}
	if w.inc != nil && len(body) == 0 {
		w.incParts = true
		return nil // restored from its own parts (restoreOpParts)
	}
	if s, ok := w.operator.(snapshotter); ok {
		if err := s.Restore(body); err != nil {
			return fmt.Errorf("restore %s: %w", n.name, err)
		}
	}
	return nil
}

// restoreRowsOut reads the rows the view or sink had taken at the
// checkpoint (rows_out counts on from there); a checkpoint written before
// it was saved ends without it.
func (w *ckptOp) restoreRowsOut(d *snapDec) {
	if d.err == nil && len(d.b) > 0 {
		w.c.j.rowsOut.Store(int64(d.uvarint()))
	}
}

// restoreSink finishes the epoch the checkpoint holds: when the sink did
// not commit it before the crash, its rows are written and committed now.
func (w *ckptOp) restoreSink(ctx context.Context, ep uint64, rows []*chunk.Chunk) error {
	s := w.sink
	last, err := s.sink.LastCommitted(ctx)
	if err != nil {
		return fmt.Errorf("read last committed epoch: %w", err)
	}
	if last < ep && len(rows) > 0 {
		for _, c := range rows {
			if err := s.sink.Write(ctx, c); err != nil {
				return fmt.Errorf("rewrite epoch %d: %w", ep, err)
			}
		}
		if err := s.sink.Commit(ctx, ep); err != nil {
			return fmt.Errorf("commit epoch %d: %w", ep, err)
		}
	}
	s.epoch = max(ep, last)
	s.dirty = false
	return nil
}

// collect gathers the parts recorded for checkpoint epoch (plus those of
// finished sources) and checks that every required part arrived. It runs
// on the terminal node's goroutine after every other part was added.
func (c *jobCkpt) collect(epoch uint64) (map[string]*ckPart, error) {
	c.mu.Lock()
	ps := c.parts[epoch]
	delete(c.parts, epoch)
	for ep := range c.parts {
		if ep < epoch {
			delete(c.parts, ep)
		}
	}
	for ep := range c.decided {
		if ep <= epoch {
			delete(c.decided, ep)
		}
	}
	byName := make(map[string]*ckPart, len(ps)+len(c.sticky))
	for _, p := range ps {
		byName[p.name] = p
	}
	for name, p := range c.sticky {
		if _, ok := byName[name]; !ok {
			byName[name] = p
		}
	}
	c.mu.Unlock()
	for _, name := range c.required() {
		if _, ok := byName[name]; !ok {
			err := fmt.Errorf("checkpoint %d of %s: part %s did not arrive", epoch, c.j.name, name)
			c.failed(epoch, err)
			return nil, err
		}
	}
	return byName, nil
}

func (c *jobCkpt) failed(epoch uint64, err error) {
	c.e.ck.mu.Lock()
	c.stats.Failures++
	c.stats.LastError = err.Error()
	c.e.ck.mu.Unlock()
	c.e.log.Warn("checkpoint failed", "job", c.j.name, "epoch", epoch, "err", err)
}

// enqueue hands w to the job's checkpoint writer, waiting while the
// writer is behind (back-pressure on the terminal node).
func (c *jobCkpt) enqueue(ctx context.Context, w ckWork) error {
	select {
	case c.work <- w:
		return nil
	case <-c.j.ctx.Done():
		return c.j.ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the job's checkpoint writer goroutine: it saves checkpoints in
// epoch order, then records the durable source positions for the sources
// to commit and passes on the acks queued behind each checkpoint. It ends
// with the job's context; work still queued then is dropped, as in a
// crash.
func (c *jobCkpt) run() {
	defer c.j.wg.Done()
	labelGoroutine(c.j.ctx, c.j, "checkpoint writer")
	for {
		select {
		case w := <-c.work:
			var err error
			if w.parts != nil {
				err = c.save(w.epoch, w.parts)
			}
			if w.done != nil {
				w.done <- err
			}
			if w.ack {
				c.j.ack(w.epoch)
			}
			if w.finish {
				c.j.finish()
			}
		case <-c.j.ctx.Done():
			return
		}
	}
}

// save writes checkpoint epoch durably. Parts unchanged since the file an
// earlier checkpoint wrote are referenced instead of rewritten. It runs on
// the writer goroutine.
func (c *jobCkpt) save(epoch uint64, byName map[string]*ckPart) error {
	if h := c.e.cfg.beforeSave; h != nil {
		if err := h(c.j.name, epoch); err != nil {
			c.failed(epoch, err)
			return err
		}
	}
	start := c.e.now()
	c.mu.Lock()
	savedAt := c.savedAt
	c.mu.Unlock()
	parts := make([]checkpoint.Part, 0, len(byName))
	var bytes int64
	next := make(map[string]uint64, len(byName))
	var commits map[*sourceNode][]byte
	var streamed []*ckPart
	for name, p := range byName {
		if p.since != 0 && savedAt[name] == p.since {
			parts = append(parts, checkpoint.Part{Name: name, Unchanged: true})
			next[name] = p.since
			continue
		}
		if p.write != nil {
			write := p.write
			streamed = append(streamed, p)
			parts = append(parts, checkpoint.Part{Name: name, Write: func(w io.Writer) error {
				cw := &countWriter{w: w}
				err := write(cw)
				bytes += cw.n
				return err
			}})
		} else {
			parts = append(parts, checkpoint.Part{Name: name, Data: p.data})
			bytes += int64(len(p.data))
		}
		// The part's content is on disk from now on (a part offered again
		// unchanged is referenced, not rewritten; one written again after
		// a failed save is still the same content).
		next[name] = p.since
		if p.src != nil && p.pos != nil {
			if commits == nil {
				commits = map[*sourceNode][]byte{}
			}
			commits[p.src] = p.pos
		}
	}
	meta, _ := json.Marshal(ckMeta{Job: c.j.name, Kind: c.j.kind, Fingerprint: c.fp})
	if err := c.store.Save(epoch, meta, parts); err != nil {
		c.failed(epoch, err)
		return err
	}
	for _, p := range streamed {
		p.write = nil // saved: from now on referenced as unchanged
	}
	for name, p := range byName {
		if p.since != 0 && savedAt[name] != p.since {
			// Saved now and referenced as unchanged from now on: the
			// encoded state (a base of a large dedup or join, a GROUP
			// BY's deltas) need not stay in memory beside the state.
			p.data = nil
		}
	}
	d := c.e.now().Sub(start)
	c.e.ck.mu.Lock()
	st := c.stats
	st.Count++
	st.LastEpoch = epoch
	st.LastBytes = bytes
	st.LastDuration = d
	c.e.ck.mu.Unlock()
	c.mu.Lock()
	c.savedAt = next
	for s, pos := range commits {
		c.commits[s] = pos
	}
	c.mu.Unlock()
	return nil
}

// ckFingerprint identifies what a job's checkpoint holds state of: its
// kind, parallelism and plan. A checkpoint of another restores nothing.
func ckFingerprint(kind string, par int, input plan.Node) string {
	fp := kind + "\nparallelism=" + strconv.Itoa(par) + "\n" + plan.Format(input)
	if par > 1 {
		// These run as copies since these lines were added: a checkpoint
		// of the earlier layout (one node) does not restore into copies.
		rowOps, joins := laterCopies(input)
		if rowOps {
			fp += "\ncopies: dedup, top-n"
		}
		if joins {
			fp += "\ncopies: joins"
		}
	}
	return fp
}

// laterCopies reports which keyed operators of the plan that earlier
// versions ran as one node at any parallelism it has: a dedup or a
// partitioned top-N (rowOps), a join on equal keys (joins). Each runs as
// copies at a parallelism above 1 (builder.keyed).
func laterCopies(p plan.Node) (rowOps, joins bool) {
	switch x := p.(type) {
	case *plan.Dedup:
		rowOps = len(x.Keys) > 0
	case *plan.TopN:
		rowOps = len(x.PartitionBy) > 0
	case *plan.StreamJoin:
		joins = len(x.LeftKey) > 0
	case *plan.WindowJoin:
		joins = len(x.LeftKey) > 0
	case *plan.IntervalJoin:
		joins = len(x.LeftKey) > 0
	}
	for _, c := range p.Children() {
		r, j := laterCopies(c)
		rowOps, joins = rowOps || r, joins || j
	}
	return rowOps, joins
}

// jobParallelism returns how many copies the keyed operators of job j run
// as: the view's parallelism option, else Config.Parallelism. When the job
// has a checkpoint of the same plan taken at another parallelism, it notes
// that one in j.rescaleFrom: the restore repartitions the keyed state
// among the new copies (restoreRescaled).
func (e *Engine) jobParallelism(j *job, input plan.Node) int {
	p := max(e.cfg.Parallelism, 1)
	if j.parOpt > 0 {
		p = j.parOpt
	}
	if e.ck == nil {
		return p
	}
	meta, err := e.ck.store.Job(j.name).LatestMeta()
	if err != nil || meta == nil {
		return p
	}
	var m ckMeta
	if json.Unmarshal(meta, &m) != nil {
		return p
	}
	rest, ok := strings.CutPrefix(m.Fingerprint, j.kind+"\nparallelism=")
	if !ok {
		return p
	}
	num, _, _ := strings.Cut(rest, "\n")
	cp, err := strconv.Atoi(num)
	if err != nil || cp < 1 || cp == p || m.Fingerprint != ckFingerprint(j.kind, cp, input) {
		return p
	}
	j.rescaleFrom = cp
	return p
}

// rescaleFP is the fingerprint of the checkpoints a job restored at
// another parallelism was taken with ("" when it is not rescaled).
func rescaleFP(j *job, input plan.Node) string {
	if j.rescaleFrom == 0 {
		return ""
	}
	return ckFingerprint(j.kind, j.rescaleFrom, input)
}

// restoreRescaled restores a job from a checkpoint taken at parallelism
// from, which is not the job's. Its nodes are those of the checkpoint
// except the keyed operators run as copies (parRole): the checkpoint's
// part names are worked out by walking the job's nodes with the
// checkpoint's number of copies in each such aggregate. Each new copy
// reads the state of every old copy (base, then deltas, copy after copy)
// and keeps the keys the shuffle now routes to it; the old copies held
// disjoint keys, so nothing is counted twice. Late rows go to the first
// copy. The merge and shuffle nodes hold only watermarks.
func (c *jobCkpt) restoreRescaled(ctx context.Context, parts map[string][]byte, from int) error {
	ops := c.ops
	k := 0
	old := func() string {
		name := "n" + strconv.Itoa(k)
		k++
		return name
	}
	for i := 0; i < len(ops); {
		w := ops[i]
		switch w.n.par {
		case parMerge, parSingle:
			var merge *ckptOp
			var copies, shuffles []*ckptOp
			if w.n.par == parSingle {
				copies = []*ckptOp{w}
				i++
			} else {
				merge = w
				i++
				for i < len(ops) && ops[i].n.par == parCopy {
					copies = append(copies, ops[i])
					i++
				}
				for i < len(ops) && ops[i].n.par == parShuffle {
					shuffles = append(shuffles, ops[i])
					i++
				}
				if len(shuffles) != len(copies[0].n.wms) {
					return fmt.Errorf("%s: %w: copies without their shuffles", merge.n.name, errSnapshotCorrupt)
				}
			}
			// One shuffle per input of the operator (a join has two).
			var oldMerge string
			var oldCopies, oldShuffles []string
			if from > 1 {
				oldMerge = old()
				for range from {
					oldCopies = append(oldCopies, old())
				}
				for range copies[0].n.wms {
					oldShuffles = append(oldShuffles, old())
				}
			} else {
				oldCopies = []string{old()}
			}
			if err := c.restoreCopies(ctx, parts, copies, oldCopies); err != nil {
				return err
			}
			// The merge passes on the copies' watermark; a shuffle the one
			// it received, which the copies received on its input too.
			out := copies[0].n.outWM
			if merge != nil {
				if oldMerge != "" {
					if _, mout, _, _, err := nodeWatermarks(parts[oldMerge]); err == nil {
						out = mout
					}
				}
				merge.setWatermarks(out, out)
			}
			for k, sh := range shuffles {
				in := copies[0].n.wms[k]
				sh.setWatermarks(in, in)
			}
			for _, name := range oldShuffles {
				if _, ok := parts[name]; !ok {
					return fmt.Errorf("the checkpoint lacks part %s", name)
				}
			}
		case parCopy, parShuffle:
			return fmt.Errorf("%s: %w: a copy outside its aggregate", w.n.name, errSnapshotCorrupt)
		default:
			if err := w.restoreNode(ctx, old(), parts); err != nil {
				return err
			}
			i++
		}
	}
	if _, extra := parts["n"+strconv.Itoa(k)]; extra {
		return fmt.Errorf("%w: the checkpoint has more nodes than the plan", errSnapshotCorrupt)
	}
	return c.term.restoreNode(ctx, "t", parts)
}

// restoreCopies restores the copies of one keyed aggregate from the parts
// of its old copies (see restoreRescaled).
func (c *jobCkpt) restoreCopies(ctx context.Context, parts map[string][]byte, copies []*ckptOp, oldCopies []string) error {
	// Every old copy saw the same watermarks: the new ones take the
	// first's.
	var in, out int64
	var wms []int64
	for i, name := range oldCopies {
		b, ok := parts[name]
		if !ok {
			return fmt.Errorf("the checkpoint lacks part %s", name)
		}
		cin, cout, cwms, body, err := nodeWatermarks(b)
		if err != nil {
			return err
		}
		if len(body) > 0 {
			return fmt.Errorf("%s: the state is in the node's part (a checkpoint of an older Sluice), which cannot be repartitioned", name)
		}
		if len(cwms) != len(copies[0].n.wms) {
			return fmt.Errorf("%s: %w: %d inputs, the plan's operator has %d", name, errSnapshotCorrupt, len(cwms), len(copies[0].n.wms))
		}
		if i == 0 {
			in, out, wms = cin, cout, cwms
		}
	}
	n := uint64(len(copies))
	for x, w := range copies {
		r, ok := w.operator.(rescaler)
		if !ok {
			return fmt.Errorf("%s: its state cannot be repartitioned", w.n.name)
		}
		w.setWatermarks(in, out)
		copy(w.n.wms, wms)
		if n > 1 {
			mine := uint64(x)
			// As shuffleOp.route: (hash >> 17) mod the number of copies.
			r.setKeep(func(h uint64) bool { return (h>>17)%n == mine })
		}
		for i, name := range oldCopies {
			base, ok := parts[name+"b"]
			if !ok {
				return fmt.Errorf("%s: %w: no base of its state", name, errSnapshotCorrupt)
			}
			restoreBase := r.Restore
			if i > 0 {
				restoreBase = r.restoreMore // the old copies held disjoint keys
			}
			if err := restoreChain(r, restoreBase, w.n.name+" from "+name, base, parts, name); err != nil {
				return err
			}
			if ce, ok := w.operator.(chainEnder); ok {
				ce.chainEnded()
			}
		}
		r.setKeep(nil)
		r.rescaled()
		if lk, ok := w.operator.(lateKeeper); ok && x == 0 {
			for _, name := range oldCopies {
				if b, ok := parts[name+".late"]; ok {
					if err := lk.lateRec().restore(b, true); err != nil {
						return fmt.Errorf("%s from %s: %w", w.n.name, name, err)
					}
				}
			}
		}
		w.finishRestore()
	}
	return nil
}

// setWatermarks sets the node's input and output watermarks (every input
// at in).
func (w *ckptOp) setWatermarks(in, out int64) {
	n := w.n
	n.inWM, n.outWM = in, out
	for i := range n.wms {
		n.wms[i] = in
	}
	w.last, w.since = nil, 0
}

// nodeWatermarks reads a node part (ckptOp.snapshot) of a node that is
// not a view or sink: its input and output watermarks, those of each of
// its inputs, and the operator's state, if the part holds it.
func nodeWatermarks(b []byte) (in, out int64, wms []int64, body []byte, err error) {
	d := &snapDec{b: b}
	in, out = d.varint(), d.varint()
	for range d.count(1) {
		wms = append(wms, d.varint())
	}
	body = d.bytes()
	return in, out, wms, body, d.done()
}

// prepareCheckpoints wraps the job's operators for checkpointing and, when
// a checkpoint of the job exists, restores it. It runs after the job was
// built and registered, before any of its goroutines start.
func (e *Engine) prepareCheckpoints(ctx context.Context, j *job, input plan.Node) error {
	if e.ck == nil {
		return nil
	}
	c := &jobCkpt{e: e, j: j, store: e.ck.store.Job(j.name), fp: ckFingerprint(j.kind, j.par, input), rescaleFP: rescaleFP(j, input),
		restorePos: map[*sourceNode][]byte{}, decided: map[uint64]bool{}, parts: map[uint64][]*ckPart{},
		sticky: map[string]*ckPart{}, commits: map[*sourceNode][]byte{}, savedAt: map[string]uint64{},
		srcIdx: map[*sourceNode]string{}, work: make(chan ckWork, 4)}
	e.ck.mu.Lock()
	c.stats = &CheckpointStats{Job: j.name}
	e.ck.stats[j.name] = c.stats
	e.ck.mu.Unlock()
	j.ck = c
	k := 0
	for _, n := range j.nodes {
		w := &ckptOp{operator: n.op, c: c, n: n}
		switch op := n.op.(type) {
		case *materializeOp:
			w.mat, w.name = op, "t"
			c.term = w
			op.ackFn = func(ep uint64) { _ = c.enqueue(j.ctx, ckWork{epoch: ep, ack: true}) }
			op.finishFn = func() { _ = c.enqueue(j.ctx, ckWork{finish: true}) }
		case *sinkOp:
			w.sink, w.name = op, "t"
			c.term = w
		default:
			w.name = "n" + strconv.Itoa(k)
			k++
			c.ops = append(c.ops, w)
			if inc, ok := n.op.(incSnapshotter); ok {
				w.inc = inc
				inc.startTracking()
			}
		}
		n.op = w
	}
	for i, s := range j.sources {
		c.srcs = append(c.srcs, s)
		c.srcIdx[s] = "s" + strconv.Itoa(i)
	}
	if c.term == nil {
		return errors.New("checkpoint: job has no terminal operator")
	}
	if c.term.mat != nil {
		c.feeds = derivedFeeds(j, c.term.n)
	}
	if err := e.restoreJob(ctx, c); err != nil {
		return err
	}
	if m := c.term.mat; m != nil && c.feeds == nil {
		// From here on the view store keeps its changes for the deltas.
		m.rel.mu.Lock()
		m.rel.store.track = true
		c.term.fromEmpty = m.rel.store.len() == 0
		m.rel.mu.Unlock()
	}
	return nil
}

// errPlanChanged: the newest checkpoint of a job was taken for another
// plan than the one starting (the same SQL planned otherwise by another
// version of Sluice). Starting from scratch would lose the state while the
// sources resume where the checkpoint left them (a Pulsar subscription
// keeps its acknowledged position), so the job does not run (startJob).
var errPlanChanged = errors.New("its checkpoint was taken for another plan")

// restoreJob loads the newest usable checkpoint of the job and restores
// every node and source from it.
func (e *Engine) restoreJob(ctx context.Context, c *jobCkpt) error {
	j := c.j
	eps, err := c.store.Epochs()
	if err != nil {
		return err
	}
	if len(eps) > 0 {
		e.mu.Lock()
		if eps[0] > e.epoch {
			e.epoch = eps[0]
		}
		e.mu.Unlock()
	}
	if len(eps) == 0 {
		return nil
	}
	// A job reading a view is rebuilt from the view's restored contents
	// (backfill) instead: its checkpoint would have to be of exactly the
	// epoch the upstream view restored.
	for _, s := range j.sources {
		if s.rel != nil && !s.rel.isTable {
			e.log.Info("job reads a view: rebuilding it from the view's contents instead of its checkpoint", "job", j.name, "view", s.rel.name)
			return c.store.Remove()
		}
	}
	start := e.now()
	var skipped []string
	cp, err := c.store.Latest(func(ep uint64, err error) {
		skipped = append(skipped, fmt.Sprintf("%d: %v", ep, err))
		e.log.Warn("skipping unusable checkpoint", "job", j.name, "epoch", ep, "err", err)
	})
	if errors.Is(err, checkpoint.ErrNoCheckpoint) {
		return nil
	}
	if err != nil {
		return err
	}
	var meta ckMeta
	err = json.Unmarshal(cp.Meta, &meta)
	rescale := err == nil && c.rescaleFP != "" && meta.Fingerprint == c.rescaleFP
	if err != nil || (meta.Fingerprint != c.fp && !rescale) {
		return fmt.Errorf("%w (epoch %d): the state cannot be restored into this plan, and the checkpoint is kept; "+
			"run the Sluice that wrote it, or DROP and CREATE %s again to start it anew", errPlanChanged, cp.Epoch, j.name)
	}
	if rescale {
		e.log.Info("restoring a checkpoint taken at another parallelism: its keyed state is repartitioned",
			"job", j.name, "epoch", cp.Epoch, "parallelism", j.par, "checkpoint_parallelism", j.rescaleFrom)
		if err := c.restoreRescaled(ctx, cp.Parts, j.rescaleFrom); err != nil {
			return fmt.Errorf("restore %s from checkpoint %d (taken at parallelism %d): %w", j.name, cp.Epoch, j.rescaleFrom, err)
		}
	} else {
		for _, w := range append(append([]*ckptOp(nil), c.ops...), c.term) {
			if err := w.restoreNode(ctx, w.name, cp.Parts); err != nil {
				return fmt.Errorf("restore %s from checkpoint %d: %w", j.name, cp.Epoch, err)
			}
		}
	}
	for _, s := range c.srcs {
		b, ok := cp.Parts[c.srcIdx[s]]
		if !ok {
			return fmt.Errorf("restore %s: checkpoint %d lacks part %s", j.name, cp.Epoch, c.srcIdx[s])
		}
		if err := s.restorePart(b); err != nil {
			return fmt.Errorf("restore %s from checkpoint %d: %w", j.name, cp.Epoch, err)
		}
	}
	c.restored = true
	c.savedAt = map[string]uint64{} // first checkpoint after restore writes every part
	d := e.now().Sub(start)
	rs := RecoveryStats{Job: j.name, Epoch: cp.Epoch, Duration: d, Bytes: cp.Bytes, Skipped: skipped}
	e.ck.mu.Lock()
	e.ck.recovered[j.name] = rs
	e.ck.mu.Unlock()
	e.log.Info("restored checkpoint", "job", j.name, "epoch", cp.Epoch, "bytes", cp.Bytes, "duration", d)
	return nil
}

// afterAttach runs after a restored job's sources attached: a table's
// backfill skips the rows the restored state already holds (the rows read
// before the checkpoint) and replays the rest, which the table log
// restored into the table after the checkpoint was taken.
func (e *Engine) afterAttach(j *job) {
	if j.ck == nil || !j.ck.restored {
		return
	}
	for _, s := range j.sources {
		if s.rel != nil {
			skip := min(max(s.restoredRows, 0), int64(len(s.backfill)))
			s.backfill = s.backfill[skip:]
		}
	}
}

// abortJob unregisters a job whose restore failed, keeping its
// checkpoints (unlike Drop).
func (e *Engine) abortJob(j *job) {
	e.mu.Lock()
	if e.jobs[j.name] == j {
		delete(e.jobs, j.name)
		if j.rel != nil && e.rels[j.name] == j.rel {
			delete(e.rels, j.name)
		}
	}
	e.mu.Unlock()
	j.cancel()
	j.closeAll()
}

// required lists the parts every checkpoint of the job has.
func (c *jobCkpt) required() []string {
	names := []string{"t"}
	for _, w := range c.ops {
		names = append(names, w.name)
	}
	for _, s := range c.srcs {
		names = append(names, c.srcIdx[s])
	}
	return names
}

// maxViewDeltas bounds the deltas between two bases (partChain).
const maxViewDeltas = 100

// viewParts adds a view's contents to checkpoint epoch (see partChain):
// the changes since the previous checkpoint as a new delta, or a new base
// (empty, for a view that was empty when its changes began to be
// tracked). Only the rows are captured here (stored rows never change once
// handed out); the checkpoint writer encodes them. Saving costs in
// proportion to the changes, plus a compaction now and then.
func (w *ckptOp) viewParts(epoch uint64) {
	r := w.mat.rel
	r.mu.Lock()
	if w.view.base == nil && w.fromEmpty {
		// Every row is a tracked change: the first checkpoint writes an
		// empty base and the rows as a delta. The delta lists them in the
		// order they were stored, which is (roughly) their order in
		// memory, where a base lists them in the order of the store's
		// hash table: the writer reads them three times as fast.
		wm := r.lastWM
		w.view.setBase(&ckPart{name: "tb", since: epoch, write: func(out io.Writer) error { return writeViewBase(out, wm, nil) }})
		w.fromEmpty = false
	}
	if w.view.needBase(r.store.len()) {
		rows := r.store.captureBase()
		wm := r.lastWM
		r.mu.Unlock()
		w.view.setBase(&ckPart{name: "tb", since: epoch, write: func(out io.Writer) error { return writeViewBase(out, wm, rows) }})
	} else {
		changes, sup := r.store.captureDelta(len(r.schema))
		r.mu.Unlock()
		if len(changes) > 0 {
			w.view.addDelta(&ckPart{name: fmt.Sprintf("td%020d", epoch), since: epoch,
				write: func(out io.Writer) error { return writeViewDelta(out, changes) }}, sup)
		}
	}
	w.view.addTo(w.c, epoch)
}

// lateParts adds the late events of an operator that records them to
// checkpoint epoch: rewritten when it recorded any since the last one.
func (w *ckptOp) lateParts(epoch uint64) {
	lk, ok := w.operator.(lateKeeper)
	if !ok {
		return
	}
	l := lk.lateRec()
	if l.changed || (w.late == nil && l.n > 0) {
		w.late = &ckPart{name: w.name + ".late", data: l.snapshot(), since: epoch}
		l.changed = false
	}
	if w.late != nil {
		w.c.add(epoch, w.late)
	}
}

// opParts adds an incremental operator's state to checkpoint epoch, as
// viewParts does a view's; the operator may also ask for a base. Unlike a
// view's rows, operator state changes in place, so the parts are encoded
// here, on the operator's goroutine, except a base that the operator can
// copy (baseLater): the writer encodes that. (A GROUP BY's deltas were
// copied too, while its key strings lay scattered in memory and encoding
// them missed the cache once a key; with the keys' text in insertion
// order (strArena) encoding a delta in place costs the operator about
// what the copy did, and saves the writer's pass over the copy:
// BenchmarkDeltaCopy.)
func (w *ckptOp) opParts(epoch uint64) error {
	inc := w.inc
	if inc.needBase() || w.state.needBase(inc.stateLen()) {
		p := &ckPart{name: w.name + "b", since: epoch}
		if bl, ok := inc.(baseLater); ok {
			p.write, _ = bl.snapshotBaseLater()
		}
		if p.write == nil {
			b, err := inc.SnapshotBase()
			if err != nil {
				return err
			}
			p.data = b
		}
		w.state.setBase(p)
	} else {
		p := &ckPart{name: fmt.Sprintf("%sd%020d", w.name, epoch), since: epoch}
		var changes, sup int
		var err error
		p.data, changes, sup, err = inc.SnapshotDelta()
		if err != nil {
			return err
		}
		if changes > 0 {
			w.state.addDelta(p, sup)
		}
	}
	w.state.addTo(w.c, epoch)
	return nil
}

// restoreOpParts restores an incremental operator's state from its base
// and deltas. A checkpoint written before the operator was incremental
// holds the state in the node part instead (restore read it).
func (w *ckptOp) restoreOpParts(parts map[string][]byte, name string) error {
	base, ok := parts[name+"b"]
	if !ok {
		if w.incParts {
			return fmt.Errorf("restore %s: %w: no base of its state", w.n.name, errSnapshotCorrupt)
		}
		return nil
	}
	return restoreChain(w.inc, w.inc.Restore, w.n.name, base, parts, name)
}

// restoreChain restores an incremental operator (node, for errors) from
// a base, read by restoreBase (Restore, or a rescaler's restoreMore for a
// rescale's second and later old copies), and the deltas saved after it
// under name.
func restoreChain(inc incSnapshotter, restoreBase func([]byte) error, node string, base []byte, parts map[string][]byte, name string) error {
	if err := restoreBase(base); err != nil {
		return fmt.Errorf("restore %s: %w", node, err)
	}
	for _, n := range deltaNames(parts, name+"d") {
		if err := inc.RestoreDelta(parts[n]); err != nil {
			return fmt.Errorf("restore %s delta %s: %w", node, n, err)
		}
	}
	return nil
}

// restoreNode restores w from the parts the checkpoint saved under name
// (its own name, unless the job runs at another parallelism than the
// checkpoint's: restoreRescaled).
func (w *ckptOp) restoreNode(ctx context.Context, name string, parts map[string][]byte) error {
	b, ok := parts[name]
	if !ok {
		return fmt.Errorf("the checkpoint lacks part %s", name)
	}
	if err := w.restore(ctx, b); err != nil {
		return err
	}
	switch {
	case w.mat != nil && w.c.feeds != nil:
		// The aggregates were restored before the view (restoreJob,
		// restoreRescaled).
		if err := w.rebuildView(w.c.feeds); err != nil {
			return err
		}
	case w.mat != nil:
		if err := w.restoreViewParts(parts); err != nil {
			return err
		}
	}
	if w.inc != nil {
		if err := w.restoreOpParts(parts, name); err != nil {
			return err
		}
	}
	if lk, ok := w.operator.(lateKeeper); ok {
		if b, ok := parts[name+".late"]; ok {
			if err := lk.lateRec().restore(b, false); err != nil {
				return err
			}
		}
	}
	w.finishRestore()
	return nil
}

// finishRestore ends the restore of w: the operator takes the node's
// restored input watermark, and no part of the checkpoint is reused as
// if it were the operator's current one.
func (w *ckptOp) finishRestore() {
	if r, ok := w.operator.(wmRestorer); ok {
		r.restoreWatermark(w.n.inWM)
	}
	w.last, w.since, w.late = nil, 0, nil
}

// restoreViewParts restores a view's contents from its base and deltas.
func (w *ckptOp) restoreViewParts(parts map[string][]byte) error {
	r := w.mat.rel
	base, ok := parts["tb"]
	if !ok {
		return fmt.Errorf("restore view %s: %w: no base", r.name, errSnapshotCorrupt)
	}
	r.mu.RLock()
	wm := r.lastWM
	r.mu.RUnlock()
	if err := restoreView(r, base); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastWM = wm
	for _, n := range deltaNames(parts, "td") {
		if err := restoreViewDelta(r, parts[n]); err != nil {
			return fmt.Errorf("restore view %s delta %s: %w", r.name, n, err)
		}
	}
	return nil
}
