package exec

import (
	"context"
	"fmt"
	"math"
	"runtime/debug"
	"runtime/pprof"
	"sync"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/types"
)

// chunkRows is the number of rows an operator gathers before sending a
// chunk downstream.
const chunkRows = 1024

var chunkPool = sync.Pool{New: func() any { return chunk.New(0, 0) }}

// getChunk returns an empty pooled chunk of the given width. It does not
// clear the values the chunk held: operators fill rows with AppendEmpty
// (which clears the row) or Append (which overwrites it), so clearing them
// here as well would write every value twice, and the first write to a
// chunk last filled on another core is the costly one (the cache lines
// move between the cores). A pooled chunk may so keep strings alive until
// it is reused or the pool drops it at a garbage collection.
func getChunk(width int) *chunk.Chunk {
	c := chunkPool.Get().(*chunk.Chunk)
	c.Truncate(0)
	c.Partition = -1
	c.More = false
	c.Width = width
	if cap(c.Vals) < width*chunkRows {
		c.Vals = make([]types.Value, 0, width*chunkRows)
		c.Ops = make([]chunk.Op, 0, chunkRows)
		c.Times = make([]int64, 0, chunkRows)
	}
	return c
}

// bigChunkRows is the row capacity from which a chunk goes back to
// bigChunkPool: sources that read large batches (the file connector) get
// their chunks from there, so that they do not regrow the small chunks
// operators emit, and operators do not hold on to large ones.
const bigChunkRows = 4 * chunkRows

var bigChunkPool = sync.Pool{New: func() any { return chunk.New(0, 0) }}

// getBigChunk returns an empty pooled chunk of the given width with room
// for rows rows. Unlike getChunk it does not clear the values the chunk
// held (a source's decoder overwrites them, chunk.AppendRow), so a pooled
// chunk may keep strings alive until it is reused or the pool drops it.
func getBigChunk(width, rows int) *chunk.Chunk {
	c := bigChunkPool.Get().(*chunk.Chunk)
	c.Truncate(0)
	c.Partition = -1
	c.More = false
	c.Width = width
	if cap(c.Vals) < width*rows || cap(c.Ops) < rows {
		c.Vals = make([]types.Value, 0, width*rows)
		c.Ops = make([]chunk.Op, 0, rows)
		c.Times = make([]int64, 0, rows)
	}
	return c
}

// putChunk gives a chunk back to the pool; the caller must not use it again.
func putChunk(c *chunk.Chunk) {
	if c == nil || cap(c.Vals) > 1<<20 {
		return
	}
	if cap(c.Ops) >= bigChunkRows {
		bigChunkPool.Put(c)
		return
	}
	chunkPool.Put(c)
}

// envelope is a message tagged with the input it arrived on.
type envelope struct {
	in  int
	msg chunk.Message
	// sel, on the edge from a shuffle to a copy only, says which rows of
	// msg.Chunk (a chunk shared with the other copies) are this copy's:
	// see selReceiver.
	sel *selection
}

// outlet is where a node's output goes: input `in` of a downstream inbox,
// or, when inline is set, the downstream node itself, run on the sender's
// goroutine (see node.inline).
type outlet struct {
	ch     chan envelope
	in     int
	inline *node
}

// deliver sends m to the outlet: onto the downstream inbox (blocking while
// it is full, which is the back-pressure), or straight into an inline node.
func (o *outlet) deliver(ctx context.Context, env envelope) error {
	if o.inline != nil {
		return o.inline.accept(ctx, env)
	}
	select {
	case o.ch <- env:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// operator is the logic of one dataflow node. The runtime (node) calls one
// hook per message kind, from one goroutine.
type operator interface {
	// OnData handles a chunk from input in. The chunk is the operator's: it
	// may forward it with out.pass or leave it to be recycled.
	OnData(in int, c *chunk.Chunk, out *emitter) error
	// OnWatermark is called when the operator's watermark (the minimum over
	// its non-idle inputs) advances to wm. It emits what wm completes and
	// returns the watermark to forward downstream.
	OnWatermark(wm int64, out *emitter) (int64, error)
	// OnBarrier is called when barrier epoch has arrived on every input,
	// before it is forwarded.
	OnBarrier(epoch uint64, out *emitter) error
}

// batcher is implemented by operators that gather updates over several
// chunks (adaptive mini-batching): the node calls FlushBatch whenever its
// inbox is empty after a chunk without chunk.More, so a busy operator
// emits fewer, larger batches and an idle one emits at once. Operators
// also flush before a watermark or barrier goes out.
//
// chunk.More marks a chunk that has more rows of the same batch right
// behind it (a source splits a large read into small chunks). Every run of
// such chunks ends with a chunk without More or with a control message:
// a node that sent a More chunk and then has nothing else to send for the
// end of the run sends an empty chunk (endBatch), and a node skips the
// operator for empty chunks.
type batcher interface {
	FlushBatch(out *emitter) error
}

// wrapper is implemented by an operator that runs another (ckptOp). It
// implements every optional hook (batcher, selReceiver) and forwards it;
// has reports which ones the operator inside really has.
type wrapper interface{ wrapped() operator }

// has returns op as a T when op — or, through wrappers, the operator it
// runs — implements T.
func has[T any](op operator) (T, bool) {
	t, ok := op.(T)
	if !ok {
		return t, false
	}
	inner := op
	for w, isW := inner.(wrapper); isW; w, isW = inner.(wrapper) {
		inner = w.wrapped()
	}
	_, ok = inner.(T)
	return t, ok
}

// controlReceiver is implemented by terminal operators (materialize, sink)
// that consume the control messages a node would forward downstream.
type controlReceiver interface {
	OnControl(m chunk.Message) error
}

// emitter gathers an operator's output rows into chunks and sends them,
// and the control messages after them, to the node's outlet.
type emitter struct {
	ctx    context.Context
	n      *node
	width  int
	cur    *chunk.Chunk
	passed bool
	err    error // a send that failed while room made room
	more   bool  // the input chunk being handled has chunk.More: so do the chunks sent for it
}

// row appends an output row and returns it for the caller to fill; valid
// until the next call on the emitter.
func (e *emitter) row(op chunk.Op, t int64) types.Row {
	e.room()
	r := e.cur.AppendEmpty(op, t)
	return r
}

// append adds a copy of row.
func (e *emitter) append(op chunk.Op, t int64, row types.Row) {
	e.room()
	e.cur.Append(op, t, row)
}

// room makes sure the current chunk has room for a row: a full chunk is
// sent first, so that an operator emitting many rows at once (a window
// closing) sends chunks of chunkRows rows instead of growing one. A send
// error is returned by the next flush.
func (e *emitter) room() {
	if e.cur != nil && e.cur.Len() >= chunkRows {
		if err := e.flush(); err != nil && e.err == nil {
			e.err = err
		}
	}
	if e.cur == nil {
		e.cur = getChunk(e.width)
	}
}

// maybeFlush sends the current chunk when it is full.
func (e *emitter) maybeFlush() error {
	if e.cur != nil && e.cur.Len() >= chunkRows {
		return e.flush()
	}
	return nil
}

// pass forwards c as is (after anything gathered so far).
func (e *emitter) pass(c *chunk.Chunk) error {
	e.passed = true
	if err := e.flush(); err != nil {
		return err
	}
	if c.Len() == 0 {
		return nil
	}
	c.More = e.more
	return e.n.send(e.ctx, chunk.Message{Kind: chunk.Data, Chunk: c})
}

// flush sends the gathered rows (or returns the error of an earlier send).
func (e *emitter) flush() error {
	if err := e.err; err != nil {
		e.err = nil
		return err
	}
	if e.cur == nil || e.cur.Len() == 0 {
		return nil
	}
	c := e.cur
	e.cur = nil
	c.More = e.more
	return e.n.send(e.ctx, chunk.Message{Kind: chunk.Data, Chunk: c})
}

// node runs one operator in its own goroutine: it reads the shared inbox of
// its inputs, keeps per-input watermarks, idleness and barrier alignment,
// and calls the operator's hooks.
type node struct {
	name  string
	job   *job
	op    operator
	inbox chan envelope
	out   *outlet // nil for terminal nodes
	nIn   int

	wms     []int64
	idle    []bool
	eos     []bool
	barrier []bool // input delivered the pending barrier
	pending uint64 // epoch being aligned (0 = none)
	held    []envelope
	inWM    int64 // combined input watermark
	outWM   int64 // last forwarded watermark
	idleOut bool
	em      emitter
	// sentMore says that the last message sent was a chunk with More:
	// the run must still be ended (see batcher).
	sentMore bool
	// inline says that the node has no goroutine and no inbox of its own:
	// its single upstream calls accept for each message, on the upstream's
	// goroutine. A cheap node whose work is a fraction of its upstream's
	// (the shuffle in front of parallel copies) saves a hand-over from one
	// goroutine, and often one core's caches, to another for every chunk.
	inline bool
	done   bool    // inline: the node has handled the end of stream
	par    parRole // the node's place in a keyed operator run as copies
}

func newNode(j *job, name string, op operator, nIn, outWidth int) *node {
	n := &node{
		name: name, job: j, op: op, nIn: nIn,
		inbox: make(chan envelope, j.e.cfg.QueueSize),
		wms:   make([]int64, nIn), idle: make([]bool, nIn), eos: make([]bool, nIn), barrier: make([]bool, nIn),
		inWM: math.MinInt64, outWM: math.MinInt64,
	}
	for i := range n.wms {
		n.wms[i] = math.MinInt64
	}
	n.em = emitter{n: n, width: outWidth}
	if u, ok := op.(inputWMUser); ok {
		u.useInputWatermarks(n.wms)
	}
	return n
}

// inputWMUser is an operator of several inputs that reads each input's
// own watermark (not only their minimum, which OnWatermark gets): the
// node hands it the slice it keeps them in, read on the node's goroutine.
type inputWMUser interface{ useInputWatermarks(wms []int64) }

// send delivers a message downstream (or to the terminal operator).
func (n *node) send(ctx context.Context, m chunk.Message) error {
	n.sentMore = m.Kind == chunk.Data && m.Chunk.More
	if n.out == nil {
		if cr, ok := n.op.(controlReceiver); ok {
			return cr.OnControl(m)
		}
		if m.Kind == chunk.Data {
			putChunk(m.Chunk)
		}
		return nil
	}
	return n.out.deliver(ctx, envelope{in: n.out.in, msg: m})
}

// handleSelected hands the operator its rows of a chunk shared by the
// copies behind a shuffle, then releases the chunk: through OnSelected
// when the operator takes selections, else as a chunk of its own.
func (n *node) handleSelected(in int, c *chunk.Chunk, sel *selection) error {
	n.em.passed = false
	n.em.more = c.More
	var err error
	if r, ok := has[selReceiver](n.op); ok {
		err = r.OnSelected(c, sel.rows, sel.routed(), &n.em)
		if err == nil && n.em.passed {
			err = fmt.Errorf("operator %s passed on a shared chunk", n.name)
		}
		if err == nil {
			err = n.em.flush()
		}
	} else {
		own := sel.compact()
		err = n.op.OnData(in, own, &n.em)
		if err == nil {
			err = n.em.flush()
		}
		if !n.em.passed {
			putChunk(own)
		}
	}
	n.em.more = false
	sel.release()
	return err
}

// labelGoroutine labels the calling goroutine with its job and node, so
// CPU profiles attribute its samples to them: go tool pprof -tags (the
// split by job and node) or -tagfocus node=....
func labelGoroutine(ctx context.Context, j *job, node string) {
	pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("job", j.name, "node", node)))
}

// run is the node's goroutine.
func (n *node) run(ctx context.Context) {
	defer n.job.wg.Done()
	defer func() {
		if r := recover(); r != nil {
			n.job.fail(fmt.Errorf("operator %s panicked: %v\n%s", n.name, r, debug.Stack()))
		}
	}()
	n.em.ctx = ctx
	labelGoroutine(ctx, n.job, n.name)
	for {
		select {
		case env := <-n.inbox:
			done, err := n.step(ctx, env, len(n.inbox) == 0)
			if err != nil {
				if ctx.Err() == nil {
					n.job.fail(fmt.Errorf("operator %s: %w", n.name, err))
				}
				return
			}
			if done {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// step handles one message; dry says that no other message is waiting
// (the inbox is empty), so that a batching operator emits what it holds.
func (n *node) step(ctx context.Context, env envelope, dry bool) (bool, error) {
	more := env.msg.Kind == chunk.Data && env.msg.Chunk.More // read before handle recycles the chunk
	done, err := n.handle(ctx, env)
	if err == nil && !done && !more && n.sentMore {
		err = n.endBatch(ctx)
	}
	if err == nil && !done && !more && dry && env.msg.Kind == chunk.Data {
		// The input ran dry: let a batching operator emit.
		if b, ok := has[batcher](n.op); ok {
			if err = b.FlushBatch(&n.em); err == nil {
				err = n.em.flush()
			}
		}
	}
	return done, err
}

// accept runs an inline node (see node.inline) on one message, on the
// caller's goroutine; its errors are the caller's (named after the node).
func (n *node) accept(ctx context.Context, env envelope) error {
	if n.done {
		return fmt.Errorf("operator %s: message after the end of stream", n.name)
	}
	n.em.ctx = ctx
	done, err := n.step(ctx, env, true)
	n.done = done
	if err != nil {
		return fmt.Errorf("operator %s: %w", n.name, err)
	}
	return nil
}

func (n *node) handle(ctx context.Context, env envelope) (bool, error) {
	if n.pending != 0 && n.barrier[env.in] {
		// The input already delivered the barrier being aligned: hold what
		// follows until the other inputs catch up.
		n.held = append(n.held, env)
		return false, nil
	}
	m := env.msg
	in := env.in
	switch m.Kind {
	case chunk.Data:
		if n.idle[in] {
			n.idle[in] = false
		}
		if env.sel != nil {
			return false, n.handleSelected(in, m.Chunk, env.sel)
		}
		if m.Chunk.Len() == 0 { // the end of a run of chunks with More
			putChunk(m.Chunk)
			return false, nil
		}
		n.em.passed = false
		n.em.more = m.Chunk.More
		err := n.op.OnData(in, m.Chunk, &n.em)
		if err == nil {
			err = n.em.flush()
		}
		n.em.more = false
		if !n.em.passed {
			putChunk(m.Chunk)
		}
		return false, err
	case chunk.Watermark:
		n.idle[in] = false
		if m.Watermark > n.wms[in] {
			n.wms[in] = m.Watermark
		}
		return false, n.advance()
	case chunk.Idle:
		n.idle[in] = true
		if err := n.advance(); err != nil {
			return false, err
		}
		if n.allIdle() && !n.idleOut {
			n.idleOut = true
			return false, n.send(ctx, chunk.Message{Kind: chunk.Idle})
		}
		return false, nil
	case chunk.Barrier:
		if n.pending == 0 {
			n.pending = m.Epoch
		}
		n.barrier[in] = true
		return n.tryBarrier(ctx)
	case chunk.EndOfStream:
		n.eos[in] = true
		n.wms[in] = chunk.MaxWatermark
		if err := n.advance(); err != nil {
			return false, err
		}
		if n.pending != 0 {
			if done, err := n.tryBarrier(ctx); err != nil || done {
				return done, err
			}
		}
		for _, e := range n.eos {
			if !e {
				return false, nil
			}
		}
		return true, n.send(ctx, chunk.Message{Kind: chunk.EndOfStream})
	}
	return false, nil
}

// endBatch ends a run of chunks with More that the node sent with an
// empty chunk (see batcher).
func (n *node) endBatch(ctx context.Context) error {
	if n.out == nil {
		n.sentMore = false
		return nil
	}
	return n.send(ctx, chunk.Message{Kind: chunk.Data, Chunk: getChunk(n.em.width)})
}

// tryBarrier completes the pending barrier once every live input has
// delivered it, then replays the messages held meanwhile.
func (n *node) tryBarrier(ctx context.Context) (bool, error) {
	for i := range n.barrier {
		if !n.barrier[i] && !n.eos[i] {
			return false, nil
		}
	}
	epoch := n.pending
	n.pending = 0
	clear(n.barrier)
	if err := n.op.OnBarrier(epoch, &n.em); err != nil {
		return false, err
	}
	if err := n.em.flush(); err != nil {
		return false, err
	}
	if err := n.send(ctx, chunk.Message{Kind: chunk.Barrier, Epoch: epoch}); err != nil {
		return false, err
	}
	held := n.held
	n.held = nil
	for _, env := range held {
		// Messages of inputs that already delivered a newer pending
		// barrier are held again by handle, in order.
		done, err := n.handle(ctx, env)
		if err != nil || done {
			return done, err
		}
	}
	return false, nil
}

func (n *node) allIdle() bool {
	any := false
	for i := range n.idle {
		if n.eos[i] {
			continue
		}
		if !n.idle[i] {
			return false
		}
		any = true
	}
	return any
}

// advance recomputes the input watermark and calls OnWatermark when it
// moved forward.
func (n *node) advance() error {
	wm := int64(math.MaxInt64)
	active := false
	for i := range n.wms {
		if n.idle[i] && !n.eos[i] {
			continue
		}
		active = true
		wm = min(wm, n.wms[i])
	}
	if !active || wm <= n.inWM {
		return nil
	}
	n.inWM = wm
	fwd, err := n.op.OnWatermark(wm, &n.em)
	if err != nil {
		return err
	}
	if err := n.em.flush(); err != nil {
		return err
	}
	if fwd > n.outWM {
		n.outWM = fwd
		n.idleOut = false
		return n.send(n.em.ctx, chunk.Message{Kind: chunk.Watermark, Watermark: fwd})
	}
	return nil
}
