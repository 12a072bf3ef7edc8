package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// sourceNode is the first operator of a job for one Scan: it reads a
// relation's feed (tables, push sources, views) or a connector Reader,
// computes generated columns and event times, and keeps the watermark:
// per partition max(event time) - delay, combined as the minimum over
// non-idle partitions. A partition silent for idleTimeout stops holding the
// watermark; when every source of the job (every partition of each) has
// been silent for quiet, the watermark advances with processing time from
// the job's last event.
type sourceNode struct {
	j    *job
	scan *plan.Scan
	out  outlet

	rel    *relation
	feed   *feed
	reader connectors.Reader
	ctl    chan chunk.Message

	backfill   []types.Row
	backfillWM int64
	upEnded    bool // the relation's stream had ended: the backfill is all there is
	// restoredRows is how many rows of a table the job had read at the
	// checkpoint it was restored from (read only when restored). Tables are
	// append-only, so backfill resumes after them.
	restoredRows int64

	wmCol  int
	delay  int64
	passWM bool // a view scan without its own WATERMARK: forward upstream watermarks
	// colMap maps the scan's physical columns to the relation's columns
	// when the planner narrowed the scan (nil: the first NumPhysical
	// columns, in order).
	colMap []int
	// held counts the rows sent since the last watermark while the reader
	// hands over one batch in several chunks (chunk.More): the watermark
	// goes out when the batch ends or after wmBatchRows rows.
	held     int
	holdWM   bool // data: keep the watermark for the end of the batch
	sentMore bool // the last message sent was a chunk with More (see batcher)
	nphys    int
	idleTO   time.Duration
	quiet    time.Duration
	parts    []partState
	emitted  int64
	forced   int64
	maxEvent int64
	lastArr  time.Time
	// arrived is lastArr in Unix nanoseconds, for the job's other sources
	// (quiet advance waits until every source of the job is quiet).
	arrived  atomic.Int64
	anyData  bool
	idleSent bool

	mu      sync.Mutex
	stats   SourceStats
	statsAt time.Time // last refresh of reader lag/progress
}

type partState struct {
	maxT       int64
	lastActive time.Time
	idle       bool
	rows       int64
}

func newSourceNode(j *job, scan *plan.Scan, out outlet) (*sourceNode, error) {
	s := &sourceNode{j: j, scan: scan, out: out, wmCol: -1, emitted: math.MinInt64, forced: math.MinInt64,
		maxEvent: math.MinInt64, ctl: make(chan chunk.Message, 4)}
	s.idleTO = j.e.cfg.IdleTimeout
	s.nphys = scan.NumPhysical
	if s.nphys == 0 || s.nphys > len(scan.Cols) {
		s.nphys = len(scan.Cols)
	}
	s.quiet = j.e.cfg.QuietAdvance
	if v, ok := scan.Options["idle_timeout"]; ok {
		us, err := parseOptInterval(v)
		if err != nil {
			return nil, fmt.Errorf("source %s: option idle_timeout: %w", scan.Name, err)
		}
		s.idleTO = time.Duration(us) * time.Microsecond
	}
	if v, ok := scan.Options["quiet_advance"]; ok {
		us, err := parseOptInterval(v)
		if err != nil {
			return nil, fmt.Errorf("source %s: option quiet_advance: %w", scan.Name, err)
		}
		s.quiet = time.Duration(us) * time.Microsecond
	}
	s.stats = SourceStats{Name: scan.Name, Job: j.name}
	return s, nil
}

// parseOptInterval reads an interval option: Postgres interval input
// ("5 seconds") or a Go duration ("5s").
func parseOptInterval(v string) (int64, error) {
	us, err := types.ParseInterval(v)
	if err != nil {
		d, derr := time.ParseDuration(strings.TrimSpace(v))
		if derr != nil {
			return 0, err
		}
		us = d.Microseconds()
	}
	return us, nil
}

// attach opens the reader or registers the feed, taking a snapshot of the
// relation's current contents for backfill atomically with registration.
func (s *sourceNode) attach(ctx context.Context) error {
	e := s.j.e
	now := e.now()
	s.lastArr = now
	s.arrived.Store(now.UnixNano())
	if s.rel == nil {
		conn, err := connectors.Lookup(s.scan.Connector)
		if err != nil {
			return fmt.Errorf("open source %s: %w", s.scan.Name, err)
		}
		rd, err := conn.OpenSource(ctx, connectors.SourceSpec{Source: s.scan.Name, Job: s.j.name,
			Schema: s.scan.Cols[:s.scan.NumPhysical], Options: s.scan.Options, DeadLetter: e.deadLetter, Now: e.now,
			Position: s.restoredPosition()}) // checkpoint:
		if err != nil {
			return fmt.Errorf("open source %s: %w", s.scan.Name, err)
		}
		// injectBarrier reads s.reader under e.mu (the job is already
		// registered when its sources attach).
		e.mu.Lock()
		s.reader = rd
		e.mu.Unlock()
		s.j.closers = append(s.j.closers, func() error {
			if d, ok := rd.(connectors.Discarder); ok && s.j.dropped.Load() {
				return d.Discard(context.Background()) // DROP: the reader's outside state goes too
			}
			return rd.Close()
		})
		return nil
	}
	r := s.rel
	s.feed = &feed{ch: make(chan chunk.Message, e.cfg.QueueSize), done: s.j.ctx.Done()}
	r.pubMu.Lock()
	r.mu.RLock()
	s.backfill = r.contentsLocked()
	s.backfillWM = r.lastWM
	s.upEnded = r.ended
	r.mu.RUnlock()
	r.feeds[s.feed] = struct{}{}
	r.pubMu.Unlock()
	if len(s.parts) == 0 { // a restored source keeps its partition state
		s.parts = []partState{{maxT: math.MinInt64, lastActive: now}}
	}
	return nil
}

func (s *sourceNode) send(ctx context.Context, m chunk.Message) error {
	s.sentMore = m.Kind == chunk.Data && m.Chunk.More
	return s.out.deliver(ctx, envelope{in: s.out.in, msg: m})
}

func (s *sourceNode) tickEvery() time.Duration {
	d := time.Second
	if s.idleTO > 0 {
		d = min(d, s.idleTO/4)
	}
	if s.quiet > 0 {
		d = min(d, s.quiet/4)
	}
	return max(d, time.Millisecond)
}

func (s *sourceNode) run(ctx context.Context) {
	defer s.j.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			s.j.fail(fmt.Errorf("source %s panicked: %v", s.scan.Name, r))
		}
	}()
	labelGoroutine(ctx, s.j, "source "+s.scan.Name)
	var err error
	if s.reader != nil {
		err = s.runReader(ctx)
	} else {
		err = s.runFeed(ctx)
	}
	if err != nil && ctx.Err() == nil {
		s.j.fail(fmt.Errorf("source %s: %w", s.scan.Name, err))
	}
}

func (s *sourceNode) runFeed(ctx context.Context) error {
	for len(s.backfill) > 0 {
		n := min(len(s.backfill), chunkRows)
		c := chunk.New(len(s.rel.schema), n)
		for _, row := range s.backfill[:n] {
			copy(c.AppendEmpty(chunk.Insert, chunk.NoTime), row) // rows may lack generated columns
		}
		s.backfill = s.backfill[n:]
		if err := s.data(ctx, c, true); err != nil {
			return err
		}
	}
	s.backfill = nil
	if s.backfillWM != math.MinInt64 {
		if err := s.upstreamWatermark(ctx, s.backfillWM); err != nil {
			return err
		}
	}
	if s.upEnded {
		// The view ended before this job attached: its end of stream
		// went to the jobs reading it then. Without it this job would
		// wait for barriers that never come, and so would every Flush.
		return s.send(ctx, chunk.Message{Kind: chunk.EndOfStream})
	}
	t := s.j.e.cfg.Clock.NewTicker(s.tickEvery())
	defer t.Stop()
	for {
		select {
		case m := <-s.feed.ch:
			var err error
			switch m.Kind {
			case chunk.Data:
				err = s.data(ctx, m.Chunk, true)
			case chunk.Watermark:
				err = s.upstreamWatermark(ctx, m.Watermark)
			case chunk.Barrier:
				if err = s.checkTime(ctx); err == nil {
					s.ckptBarrier(ctx, m.Epoch) // checkpoint:
					err = s.send(ctx, m)
				}
			case chunk.Idle:
				if s.passWM {
					err = s.send(ctx, m)
				}
			case chunk.EndOfStream:
				return s.send(ctx, m)
			}
			if err != nil {
				return err
			}
		case <-t.C():
			if err := s.checkTime(ctx); err != nil {
				return err
			}
		case <-ctx.Done():
			return nil
		}
	}
}

func (s *sourceNode) runReader(ctx context.Context) error {
	t := s.j.e.cfg.Clock.NewTicker(s.tickEvery())
	defer t.Stop()
	for {
		// Barriers wait for the end of a batch the reader hands over in
		// several chunks, as they would for one chunk.
		for drained := s.held > 0; !drained; {
			select {
			case m := <-s.ctl:
				if err := s.checkTime(ctx); err != nil {
					return err
				}
				s.ckptBarrier(ctx, m.Epoch) // checkpoint:
				if err := s.send(ctx, m); err != nil {
					return err
				}
			case <-t.C():
			default:
				drained = true
			}
		}
		c, owned, err := s.read(ctx)
		s.holdWM = false
		if c != nil && c.More {
			s.holdWM = s.held+c.Len() < wmBatchRows
			if s.holdWM {
				s.held += c.Len()
			} else {
				c.More = false // downstream batchers flush with the watermark
			}
		}
		if !s.holdWM {
			s.held = 0
		}
		if errors.Is(err, io.EOF) {
			s.ckptEOF() // checkpoint:
			if err := s.send(ctx, chunk.Message{Kind: chunk.EndOfStream}); err != nil {
				return err
			}
			// Keep answering barriers until the job stops, so that
			// Flush never waits on a finished source.
			for {
				select {
				case m := <-s.ctl:
					_ = m
				case <-ctx.Done():
					return nil
				}
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read: %w", err)
		}
		if c != nil && c.Len() > 0 {
			if err := s.data(ctx, c, owned); err != nil {
				return err
			}
		} else if owned {
			putChunk(c)
		}
		if !s.holdWM {
			if err := s.checkTime(ctx); err != nil {
				return err
			}
			if s.sentMore { // the batch ended without rows: end the run
				if err := s.send(ctx, chunk.Message{Kind: chunk.Data, Chunk: getChunk(len(s.scan.Cols))}); err != nil {
					return err
				}
			}
		}
		s.holdWM = false
		s.refreshReaderStats(ctx)
	}
}

// intoReader is implemented by readers that can decode into a chunk the
// caller owns (the file, Pulsar and datagen connectors): the source then
// forwards that chunk instead of copying the reader's. ReadIntoN reads at
// most rows rows and sets c.More when it stopped at that limit with more
// rows ready.
type intoReader interface {
	ReadIntoN(ctx context.Context, c *chunk.Chunk, rows int) (*chunk.Chunk, error)
}

// readChunkRows is the most rows the source reads into one chunk from an
// intoReader. A reader's larger batch (the file connector reads 65536
// rows) then travels as several chunks small enough to stay in the CPU
// caches between the decoder and the next operator and to be recycled by
// the chunk pool; the watermark still goes out once per batch.
const readChunkRows = bigChunkRows

// wmBatchRows bounds the rows a source sends before it emits its
// watermark while a reader's batch continues (chunk.More): as many as
// the file connector's largest read, so a view downstream sees as few
// intermediate updates as with one chunk per read.
const wmBatchRows = 1 << 16

// read reads the next chunk; owned says whether it is the source's to
// forward (it came from the pool).
func (s *sourceNode) read(ctx context.Context) (*chunk.Chunk, bool, error) {
	ir, ok := s.reader.(intoReader)
	if !ok || s.colMap != nil || len(s.scan.Generated) > 0 || s.nphys != len(s.scan.Cols) {
		c, err := s.reader.Read(ctx)
		return c, false, err
	}
	buf := getBigChunk(len(s.scan.Cols), readChunkRows)
	c, err := ir.ReadIntoN(ctx, buf, readChunkRows)
	if c != buf {
		putChunk(buf)
		if c != nil { // not the chunk given: the reader's own
			return c, false, err
		}
		return nil, false, err
	}
	return c, true, err
}

// refreshReaderStats copies the reader's lag and progress into the stats
// at most once per statsEvery of processing time (the reader is only ever
// called from the source goroutine).
func (s *sourceNode) refreshReaderStats(ctx context.Context) {
	now := s.j.e.now()
	if !s.statsAt.IsZero() && now.Sub(s.statsAt) < statsEvery {
		return
	}
	s.statsAt = now
	var lag []connectors.PartitionLag
	if lr, ok := s.reader.(connectors.LagReporter); ok {
		if l, err := lr.Lag(ctx); err == nil {
			lag = l
		}
	}
	var prog map[string]string
	if pr, ok := s.reader.(connectors.Progress); ok {
		prog = pr.Progress()
	}
	s.mu.Lock()
	if lag != nil {
		s.stats.Lag = lag
	}
	if prog != nil {
		s.stats.Progress = prog
	}
	s.mu.Unlock()
}

// statsEvery is how often a source refreshes its reader's lag and progress.
const statsEvery = time.Second

// eventTime converts the value of the event-time column to microseconds.
func eventTime(v types.Value) int64 {
	switch {
	case v.IsNull():
		return chunk.NoTime
	case v.K == types.Date:
		return v.I * types.MicrosPerDay
	}
	return v.I
}

func (s *sourceNode) part(p int, now time.Time) *partState {
	if p < 0 {
		p = 0
	}
	for len(s.parts) <= p {
		s.parts = append(s.parts, partState{maxT: math.MinInt64, lastActive: now})
	}
	return &s.parts[p]
}

// combined is the source watermark: the minimum over non-idle partitions.
func (s *sourceNode) combined() int64 {
	wm := int64(math.MaxInt64)
	active := false
	for i := range s.parts {
		p := &s.parts[i]
		if p.idle {
			continue
		}
		active = true
		w := int64(math.MinInt64)
		if p.maxT != math.MinInt64 {
			w = p.maxT - s.delay
		}
		wm = min(wm, w)
	}
	if !active {
		wm = math.MinInt64
	}
	return max(wm, s.forced)
}

func (s *sourceNode) emitWM(ctx context.Context, wm int64) error {
	if wm <= s.emitted {
		return nil
	}
	s.emitted = wm
	s.idleSent = false
	s.mu.Lock()
	s.stats.Watermark = wm
	s.mu.Unlock()
	return s.send(ctx, chunk.Message{Kind: chunk.Watermark, Watermark: wm})
}

func (s *sourceNode) upstreamWatermark(ctx context.Context, wm int64) error {
	if s.wmCol >= 0 && !s.passWM {
		// A table's explicit watermark (AdvanceWatermark) or a view's
		// watermark under our own WATERMARK: a floor for ours.
		if wm > s.forced {
			s.forced = wm
		}
		return s.emitWM(ctx, s.combined())
	}
	return s.emitWM(ctx, wm)
}

// data processes one chunk of rows from partition c.Partition. owned says
// whether the chunk may be forwarded as is.
func (s *sourceNode) data(ctx context.Context, c *chunk.Chunk, owned bool) error {
	now := s.j.e.now()
	if s.reader != nil {
		// Every partition the reader has holds the watermark from the
		// start, not only from the next checkTime.
		for range s.reader.Partitions() - len(s.parts) {
			s.part(len(s.parts), now)
		}
	}
	p := s.part(c.Partition, now)
	p.lastActive = now
	p.idle = false
	p.rows += int64(c.Len())
	s.lastArr = now
	s.arrived.Store(now.UnixNano())
	s.anyData = true
	s.idleSent = false
	width := len(s.scan.Cols)
	var out *chunk.Chunk
	if c.Width == width && owned && s.colMap == nil && len(s.scan.Generated) == 0 {
		out = c
	} else {
		out = getChunk(width)
		out.Partition = c.Partition
		for i := range c.Len() {
			row := out.AppendEmpty(c.Ops[i], c.Times[i])
			in := c.Row(i)
			if s.colMap != nil {
				for k, from := range s.colMap {
					row[k] = in[from]
				}
			} else {
				copy(row[:min(len(in), s.nphys)], in)
			}
			if err := s.generate(row); err != nil {
				// A bad input, not a bad job: the row goes to the dead
				// letters and the stream goes on.
				s.deadLetter(row, c.Partition, err)
				out.Truncate(out.Len() - 1)
			}
		}
		if owned {
			putChunk(c)
		}
	}
	out.More = s.holdWM
	s.j.rowsIn.Add(int64(out.Len()))
	// The stats show the rows (and, below, their partition's watermark)
	// before the rows can be seen downstream.
	s.mu.Lock()
	s.stats.Rows += int64(out.Len())
	s.partStatsLocked()
	s.mu.Unlock()
	if s.wmCol < 0 {
		return s.send(ctx, chunk.Message{Kind: chunk.Data, Chunk: out})
	}
	// Judge rows in arrival order: when a row is behind the watermark that
	// the rows before it established, those rows and that watermark go out
	// first, so the row is late exactly as if it had arrived alone.
	start := 0
	// Within a batch held back from the watermark (chunk.More), the rows
	// of the earlier chunks established combined(): judge against it, as
	// if the batch were one chunk.
	pending := max(s.emitted, s.combined())
	for i := range out.Len() {
		t := eventTime(out.Vals[i*width+s.wmCol])
		out.Times[i] = t
		if t == chunk.NoTime {
			continue
		}
		if t < pending && pending > s.emitted {
			if err := s.sendRange(ctx, out, start, i); err != nil {
				return err
			}
			if err := s.emitWM(ctx, pending); err != nil {
				return err
			}
			start = i
		}
		if t > p.maxT {
			p.maxT = t
			if t > s.maxEvent {
				s.maxEvent = t
			}
			pending = s.combined()
		}
	}
	hold := s.holdWM
	s.mu.Lock()
	s.partStatsLocked()
	s.mu.Unlock()
	if start == 0 {
		if err := s.send(ctx, chunk.Message{Kind: chunk.Data, Chunk: out}); err != nil {
			return err
		}
	} else {
		err := s.sendRange(ctx, out, start, out.Len())
		putChunk(out)
		if err != nil {
			return err
		}
	}
	if hold {
		return nil // the end of the batch emits it
	}
	return s.emitWM(ctx, s.combined())
}

// generate computes the generated columns of row.
func (s *sourceNode) generate(row types.Row) error {
	for _, g := range s.scan.Generated {
		v, err := g.Expr.Eval(nil, row)
		if err != nil {
			return fmt.Errorf("compute generated column %s: %w", s.scan.Cols[g.Col].Name, err)
		}
		row[g.Col] = v
	}
	return nil
}

// deadLetter records an input row the source read but could not use (its
// generated columns failed), as a JSON object of its physical columns.
func (s *sourceNode) deadLetter(row types.Row, partition int, err error) {
	n := min(len(row), s.scan.NumPhysical)
	s.j.e.deadLetter(connectors.DeadLetter{Source: s.scan.Name, Raw: []byte(rowJSON(s.scan.Cols[:n], row[:n])), Reason: err.Error(),
		Partition: partition, Time: s.j.e.now()})
}

func (s *sourceNode) sendRange(ctx context.Context, c *chunk.Chunk, from, to int) error {
	if from >= to {
		return nil
	}
	part := getChunk(c.Width)
	part.Partition = c.Partition
	part.Vals = append(part.Vals, c.Vals[from*c.Width:to*c.Width]...)
	part.Ops = append(part.Ops, c.Ops[from:to]...)
	part.Times = append(part.Times, c.Times[from:to]...)
	return s.send(ctx, chunk.Message{Kind: chunk.Data, Chunk: part})
}

// checkTime applies the idle timeout and the all-quiet advance at the
// clock's current time.
func (s *sourceNode) checkTime(ctx context.Context) error {
	now := s.j.e.now()
	if s.reader != nil {
		for range s.reader.Partitions() - len(s.parts) {
			s.part(len(s.parts), now)
		}
	}
	allIdle := len(s.parts) > 0
	for i := range s.parts {
		p := &s.parts[i]
		if !p.idle && s.idleTO > 0 && now.Sub(p.lastActive) >= s.idleTO {
			p.idle = true
		}
		allIdle = allIdle && p.idle
	}
	s.mu.Lock()
	s.partStatsLocked()
	s.mu.Unlock()
	if s.wmCol >= 0 {
		if err := s.emitWM(ctx, s.combined()); err != nil {
			return err
		}
	}
	if allIdle && !s.idleSent {
		s.idleSent = true
		if err := s.send(ctx, chunk.Message{Kind: chunk.Idle}); err != nil {
			return err
		}
	}
	if s.quiet > 0 && s.anyData && s.wmCol >= 0 {
		if last := s.jobLastArrival(); now.Sub(last) >= s.quiet {
			wm := s.maxEvent - s.delay + now.Sub(last).Microseconds()
			if err := s.emitWM(ctx, wm); err != nil {
				return err
			}
		}
	}
	return nil
}

// jobLastArrival is the latest arrival of rows at any source of the job:
// time advances by processing time only when every input is quiet (a join
// whose other side is busy waits for that side's events, or for its
// idle timeout).
func (s *sourceNode) jobLastArrival() time.Time {
	last := s.lastArr
	for _, o := range s.j.sources {
		if o == s {
			continue
		}
		if t := time.Unix(0, o.arrived.Load()); t.After(last) {
			last = t
		}
	}
	return last
}

// partStatsLocked copies the partitions' state into the stats (s.mu held).
func (s *sourceNode) partStatsLocked() {
	s.stats.Partitions = s.stats.Partitions[:0]
	for i, p := range s.parts {
		w := int64(chunk.NoTime)
		if p.maxT != math.MinInt64 {
			w = p.maxT - s.delay
		}
		s.stats.Partitions = append(s.stats.Partitions, PartitionStats{Partition: i, Watermark: w, Idle: p.idle, Rows: p.rows})
	}
}

// SourceStats describes one source scan of one job.
type SourceStats struct {
	Name, Job  string
	Partitions []PartitionStats
	Rows       int64
	Watermark  int64
	Lag        []connectors.PartitionLag
	Progress   map[string]string
}

// PartitionStats is the state of one source partition.
type PartitionStats struct {
	Partition int
	Watermark int64
	Idle      bool
	Rows      int64
}

// SourceStats lists the sources of every job.
func (e *Engine) SourceStats() []SourceStats {
	e.mu.Lock()
	jobs := make([]*job, 0, len(e.jobs))
	for _, j := range e.jobs {
		jobs = append(jobs, j)
	}
	e.mu.Unlock()
	var out []SourceStats
	for _, j := range jobs {
		for _, s := range j.sources {
			s.mu.Lock()
			st := s.stats
			st.Partitions = append([]PartitionStats(nil), s.stats.Partitions...)
			st.Lag = append([]connectors.PartitionLag(nil), s.stats.Lag...)
			s.mu.Unlock()
			out = append(out, st)
		}
	}
	return out
}
