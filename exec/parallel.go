package exec

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// Parallelism (Config.Parallelism > 1): a keyed aggregate (window, session
// or updating GROUP BY with at least one group key), a dedup, a top-N
// partitioned by a key and every equi-join (regular, window, interval) run
// as N copies; a lookup join and a join without equal keys run as one
// node. A shuffle node hashes each row's group key (a join's: each input's
// join key, through a shuffle of its own) to one copy, so every key's rows
// reach one copy in their original order, and broadcasts watermarks,
// barriers, idleness and end of stream to all of them; a merge node (a
// union with N inputs) combines the copies' outputs, forwarding the
// minimum of their watermarks and aligning their barriers. Each copy sees
// the same watermarks relative to its rows as the single operator would,
// so the results are identical to a run with one worker.
//
//	input -> shuffle -+-> agg copy 0 -+-> merge -> downstream
//	                  +-> agg copy 1 -+
//
// The shuffle has no goroutine of its own: it runs inline on its input's
// (node.inline), so a chunk is handed from one goroutine to another once
// on its way to a copy, not twice.
//
// Copies are ordinary nodes: they are checkpointed (and restored) one
// part each. The plan fingerprint includes the parallelism; a checkpoint
// taken at another one is repartitioned on restore (restoreRescaled).
//
// What parallelism costs: the shuffle hashes every row's key and lists
// each copy's rows; it neither copies rows (each copy reads the shared
// input chunk through its selection) nor makes the copies hash the keys
// again (they take the shuffle's hashes, selReceiver). Outside the Go
// runtime, two workers execute 3-7% more instructions per event than one
// for the scaling benchmark's queries (valgrind --tool=cachegrind,
// BenchmarkScaling at SLUICE_SCALE_EVENTS=600000: tumble +7.1%, hop +2.9%,
// group by +3.5%), against 12-21% when the shuffle copied rows into
// chunks per copy. The merge and the watermark and barrier alignment
// across copies cost under 1%.

// keyedAgg builds a keyed operator of one input (aggregate, dedup,
// top-N) made by mk (see keyed).
func (b *builder) keyedAgg(name string, width int, input plan.Node, keys []expr.Expr,
	mk func() (operator, error), out outlet) error {
	return b.keyed(name, width, []plan.Node{input}, [][]expr.Expr{keys}, mk, out)
}

// keyed builds a keyed operator of one or two inputs (a join: keys[i] are
// input i's join keys, which hash alike for equal values) made by mk: as
// the job's parallelism copies (Config.Parallelism: jobParallelism), with
// one shuffle per input, or as one node at parallelism 1 or without keys.
// The nodes of copies are added in the order merge, copy 0 .. copy n-1,
// then the shuffles in input order, then the inputs' nodes
// (restoreRescaled relies on it).
func (b *builder) keyed(name string, width int, inputs []plan.Node, keys [][]expr.Expr,
	mk func() (operator, error), out outlet) error {
	p := b.j.par
	if p <= 1 || len(keys[0]) == 0 {
		op, err := mk()
		if err != nil {
			return err
		}
		b.single = len(keys[0]) > 0
		node := b.add(name, op, len(inputs), width, out)
		for k, in := range inputs {
			if err := b.build(in, outlet{ch: node.inbox, in: k}); err != nil {
				return err
			}
		}
		return nil
	}
	merge := b.add(name+" merge", unionOp{}, p, width, out)
	merge.par = parMerge
	shuffles := make([]*shuffleOp, len(inputs))
	for k := range inputs {
		shuffles[k] = newShuffleOp(b.j.ctx, newKeyEval(keys[k]), p)
	}
	b.j.groups++
	for i := range p {
		stats := len(b.j.stats)
		op, err := mk()
		if err != nil {
			return err
		}
		for _, st := range b.j.stats[stats:] {
			st.group = b.j.groups
		}
		c := b.add(name+" "+strconv.Itoa(i), op, len(inputs), width, outlet{ch: merge.inbox, in: i})
		c.par = parCopy
		for k, sh := range shuffles {
			sh.outs = append(sh.outs, outlet{ch: c.inbox, in: k})
		}
	}
	nodes := make([]*node, len(inputs))
	for k, sh := range shuffles {
		sname := name + " shuffle"
		if len(inputs) > 1 {
			sname += " " + [...]string{"left", "right"}[k]
		}
		nodes[k] = newNode(b.j, sname, sh, 1, len(inputs[k].Schema()))
		nodes[k].par = parShuffle
		nodes[k].inline = true
		b.j.nodes = append(b.j.nodes, nodes[k])
	}
	for k, in := range inputs {
		if err := b.build(in, outlet{inline: nodes[k]}); err != nil {
			return err
		}
	}
	return nil
}

// parRole is a node's place in a keyed operator that runs as copies:
// the nodes of one such operator are added in the order merge, copy 0 ..
// copy n-1, one shuffle per input (builder.keyed), or as one node
// (parSingle) at parallelism 1. A restore at another parallelism maps the checkpoint's
// nodes to the job's through it (restoreRescaled).
type parRole uint8

const (
	parNone parRole = iota
	parSingle
	parMerge
	parCopy
	parShuffle
)

// shuffleOp routes rows to the copies of a keyed operator by the hash of
// their key. Its node has no outlet: what the node forwards (watermarks,
// barriers, idleness, end of stream) comes to OnControl and goes to every
// copy.
//
// Rows are not copied: every copy that has rows in an input chunk receives
// that same chunk with a selection (envelope.sel) of its rows and the key
// hash of every row of the chunk, so it neither copies rows nor hashes
// keys again (see selReceiver). The chunk goes back to the pool when the
// last copy has released it. Nothing is held back: every copy sees its
// rows in their order relative to the watermarks and barriers.
//
// A chunk sent while the shuffle's input chunk has chunk.More carries More
// too (it is the same chunk), so a batching copy waits for the rest of the
// batch; a copy's run of such chunks ends with a chunk without More (its
// rows of the batch's last chunk, or an empty chunk when it has none) once
// the input's batch ends, or with the next control message.
type shuffleOp struct {
	stateless
	ctx      context.Context
	keys     *keyEval
	outs     []outlet
	sentMore []bool   // per copy: the last message sent was a chunk with More
	width    int      // of the rows
	dest     []uint32 // per row of the chunk being routed: its copy
	live     []int    // the copies with rows in the chunk being routed
}

func newShuffleOp(ctx context.Context, keys *keyEval, n int) *shuffleOp {
	return &shuffleOp{ctx: ctx, keys: keys, sentMore: make([]bool, n)}
}

// fan is one input chunk of a shuffle shared by the copies that have rows
// in it: their selections, the key hash of every row, and a count of the
// copies that have not yet released it. The last release returns the
// chunk to the pool and the fan to fanPool.
type fan struct {
	c    *chunk.Chunk
	refs atomic.Int32
	r    routed
	sels []selection
}

// routed is what a shuffle computed for every row of a chunk it hands to
// copies: each row's key hash and, when the key is not made of plain
// columns (GROUP BY lower(campaign), a dedup on v / 100000), the key's
// values, nk per row: no copy evaluates or hashes a key again.
type routed struct {
	hashes []uint64
	keys   []types.Value // empty for column keys
	bad    []bool        // nil, or true for a row whose key failed (route)
}

var fanPool = sync.Pool{New: func() any { return new(fan) }}

// selection is the rows of a shared chunk (fan) that one copy handles.
type selection struct {
	f    *fan
	rows []int32 // indexes of the copy's rows in the chunk, ascending
}

// routed returns the key hash (as keyEval.eval computes it) and, for
// expression keys, the key of every row of the chunk, indexed like the
// chunk's rows.
func (s *selection) routed() *routed { return &s.f.r }

// compact copies the selected rows into a chunk of their own (for an
// operator that does not take selections).
func (s *selection) compact() *chunk.Chunk {
	c := s.f.c
	out := getChunk(c.Width)
	out.Partition = c.Partition
	out.More = c.More
	w := c.Width
	for _, i := range s.rows {
		out.Vals = append(out.Vals, c.Vals[int(i)*w:int(i+1)*w]...)
		out.Ops = append(out.Ops, c.Ops[i])
		out.Times = append(out.Times, c.Times[i])
	}
	return out
}

// release gives the copy's share of the chunk back; neither the chunk nor
// the selection may be used after it.
func (s *selection) release() {
	f := s.f
	s.f = nil
	if f.refs.Add(-1) != 0 {
		return
	}
	putChunk(f.c)
	f.c = nil
	clear(f.r.keys) // the strings the keys refer to
	f.r.keys, f.r.bad = f.r.keys[:0], nil
	for k := range f.sels {
		f.sels[k] = selection{rows: f.sels[k].rows[:0]}
	}
	fanPool.Put(f)
}

// selReceiver is implemented by the operators that run as copies behind a
// shuffle and read its chunks through a selection: the node calls
// OnSelected instead of OnData for such a chunk. c is shared with the
// other copies and stays the shuffle's: the operator must neither modify
// it nor pass it on, and only reads the rows of rows (in their order);
// r holds the key hash of row i of c as keyEval.eval computes it, and for
// expression keys the key (keyEval.evalHashed reads them); nil when the
// chunk did not come through a shuffle.
// An operator that does not implement it gets the selected rows copied
// into a chunk of its own (selection.compact).
type selReceiver interface {
	OnSelected(c *chunk.Chunk, rows []int32, r *routed, out *emitter) error
}

// selLen is how many rows OnSelected visits, and selRow the index in c of
// the x-th of them (rows nil: every row of c, in order).
func selLen(c *chunk.Chunk, rows []int32) int {
	if rows != nil {
		return len(rows)
	}
	return c.Len()
}

func selRow(rows []int32, x int) int {
	if rows != nil {
		return int(rows[x])
	}
	return x
}

// route fills s.dest with the copy of every row of c and r with the hash
// of its key (and, for expression keys, the key): the copy of a row is
// (hash of its key >> 17) mod the number of copies, where the hash is the
// aggregate's own key hash (keyEval), so that a checkpoint taken at a
// parallelism restores every key into the copy that holds its state.
func (s *shuffleOp) route(c *chunk.Chunk, r *routed) ([]uint32, error) {
	hs := r.hashes
	n := c.Len()
	if cap(s.dest) < n {
		s.dest = make([]uint32, n)
	}
	dest := s.dest[:n]
	copies := uint64(len(s.outs))
	mask := copies - 1
	pow2 := copies&mask == 0
	if cols := s.keys.cols; cols != nil {
		// Column keys (the common case): hash in place, as keyEval.eval
		// does, without gathering the key.
		w, vals := c.Width, c.Vals[:n*c.Width]
		for i := range dest {
			h := uint64(0x9e3779b97f4a7c15)
			for _, col := range cols {
				h = hashValue(h, vals[i*w+col])
			}
			hs[i] = h
			if pow2 {
				dest[i] = uint32((h >> 17) & mask)
			} else {
				dest[i] = uint32((h >> 17) % copies)
			}
		}
		return dest, nil
	}
	keys := r.keys[:0]
	for i := range dest {
		key, h, err := s.keys.eval(c.Row(i))
		if err != nil {
			// The row has no key, and no copy holds state of it: copy
			// 0 evaluates the key again and does with the error what
			// the operator at parallelism 1 does (a late row is late
			// before its key is evaluated; then the view fails, or the
			// row goes to the dead letters: keyEval.skip), once.
			if r.bad == nil {
				r.bad = make([]bool, n)
			}
			r.bad[i] = true
			keys = append(keys, make(types.Row, len(s.keys.exprs))...)
			hs[i], dest[i] = 0, 0
			continue
		}
		keys = append(keys, key...)
		hs[i] = h
		dest[i] = uint32((h >> 17) % copies)
	}
	r.keys = keys
	return dest, nil
}

func (s *shuffleOp) OnData(_ int, c *chunk.Chunk, em *emitter) error {
	more := em != nil && em.more // the input's batch goes on after c
	s.width = c.Width
	n := c.Len()
	f := fanPool.Get().(*fan)
	if cap(f.r.hashes) < n {
		f.r.hashes = make([]uint64, n)
	}
	f.r.hashes = f.r.hashes[:n]
	dest, err := s.route(c, &f.r)
	if err != nil {
		fanPool.Put(f)
		return err
	}
	if len(f.sels) != len(s.outs) {
		f.sels = make([]selection, len(s.outs))
	}
	for i, k := range dest {
		f.sels[k].rows = append(f.sels[k].rows, int32(i))
	}
	live := s.live[:0]
	for k := range f.sels {
		if len(f.sels[k].rows) > 0 {
			f.sels[k].f = f
			live = append(live, k)
		}
	}
	s.live = live
	if len(live) == 0 {
		fanPool.Put(f)
		if !more {
			return s.endRuns()
		}
		return nil
	}
	// The chunk is the copies' from here on: the shuffle's node must not
	// recycle it.
	if em != nil {
		em.passed = true
	}
	c.More = more
	f.c = c
	f.refs.Store(int32(len(live)))
	// Once the last copy has its selection it may release the fan at any
	// time: from the first send on, only live (the shuffle's) is read.
	for _, k := range live {
		if err := s.send(k, chunk.Message{Kind: chunk.Data, Chunk: c}, &f.sels[k]); err != nil {
			return err
		}
	}
	if !more {
		return s.endRuns()
	}
	return nil
}

// endRuns ends the run of More chunks of every copy (with an empty chunk)
// whose last message was a chunk with More.
func (s *shuffleOp) endRuns() error {
	for k, more := range s.sentMore {
		if more {
			if err := s.sendTo(k, chunk.Message{Kind: chunk.Data, Chunk: getChunk(s.width)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// FlushBatch ends the copies' runs of More chunks (the node calls it when
// the shuffle's input runs dry).
func (s *shuffleOp) FlushBatch(*emitter) error { return s.endRuns() }

func (s *shuffleOp) sendTo(k int, m chunk.Message) error { return s.send(k, m, nil) }

func (s *shuffleOp) send(k int, m chunk.Message, sel *selection) error {
	s.sentMore[k] = m.Kind == chunk.Data && m.Chunk.More
	select {
	case s.outs[k].ch <- envelope{in: s.outs[k].in, msg: m, sel: sel}:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// OnControl broadcasts a control message to every copy.
func (s *shuffleOp) OnControl(m chunk.Message) error {
	if m.Kind == chunk.Data {
		// The shuffle emits no rows of its own.
		putChunk(m.Chunk)
		return nil
	}
	// The control message ends any run of More chunks.
	for k := range s.outs {
		if err := s.sendTo(k, m); err != nil {
			return err
		}
	}
	return nil
}
