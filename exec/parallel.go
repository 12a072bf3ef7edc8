package exec

import (
	"context"
	"strconv"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
)

// Parallelism (Config.Parallelism > 1): a keyed aggregate (window, session
// or updating GROUP BY with at least one group key) runs as N copies. A
// shuffle node hashes each row's group key to one copy, so every key's rows
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
// Copies are ordinary nodes: they are checkpointed (and restored) one
// part each, and a checkpoint restores only into the same parallelism
// (the plan fingerprint includes it).
//
// What parallelism costs: the shuffle hashes every row's key (the copy
// hashes it again) and copies every row into its copy's chunk — about 265
// instructions per event (valgrind --tool=cachegrind, BenchmarkScaling at
// SLUICE_SCALE_EVENTS=600000), 11-21% more than one worker executes
// outside the Go runtime for the scaling benchmark's queries. The merge
// and the watermark and barrier alignment across copies cost under 1%.
// Both shuffle costs would go if the copies read the shuffle's input chunk
// through a row selection and took the hashes it computed (a prototype:
// 4% instead of 21% for the tumbling query); that needs the keyed
// operators to accept such chunks.

// parallelAgg builds a keyed aggregate as Config.Parallelism copies; it
// reports false (and builds nothing) when the aggregate runs as one node.
func (b *builder) parallelAgg(name string, width int, input plan.Node, keys []expr.Expr,
	mk func() (operator, error), out outlet) (bool, error) {
	p := b.e.cfg.Parallelism
	if p <= 1 || len(keys) == 0 {
		return false, nil
	}
	merge := b.add(name+" merge", unionOp{}, p, width, out)
	sh := newShuffleOp(b.j.ctx, newKeyEval(keys), p)
	for i := range p {
		op, err := mk()
		if err != nil {
			return true, err
		}
		c := b.add(name+" "+strconv.Itoa(i), op, 1, width, outlet{ch: merge.inbox, in: i})
		sh.outs = append(sh.outs, outlet{ch: c.inbox, in: 0})
	}
	sn := newNode(b.j, name+" shuffle", sh, 1, len(input.Schema()))
	b.j.nodes = append(b.j.nodes, sn)
	return true, b.build(input, outlet{ch: sn.inbox, in: 0})
}

// shuffleOp routes rows to the copies of a keyed operator by the hash of
// their key. Its node has no outlet: what the node forwards (watermarks,
// barriers, idleness, end of stream) comes to OnControl and goes to every
// copy.
//
// Rows gather per copy across input chunks until a copy's chunk is full
// (chunkRows rows), so the copies receive as few, as large chunks as a
// single aggregate would; what is gathered goes out when the shuffle's
// input runs dry (FlushBatch) and before any control message, so every
// copy still sees its rows in their order relative to the watermarks and
// barriers.
//
// A full chunk sent while the shuffle's input chunk has chunk.More carries
// More too, so a batching copy waits for the rest of the batch; a copy's
// run of such chunks ends with a chunk without More (its gathered rows, or
// an empty chunk when it has none) once the input's batch ends, or with
// the next control message.
type shuffleOp struct {
	stateless
	ctx      context.Context
	keys     *keyEval
	outs     []outlet
	bufs     []*chunk.Chunk // per copy: the rows gathered so far (nil: none)
	sentMore []bool         // per copy: the last message sent was a chunk with More
	width    int            // of the rows
	dest     []uint32       // per row of the chunk being routed: its copy
}

func newShuffleOp(ctx context.Context, keys *keyEval, n int) *shuffleOp {
	return &shuffleOp{ctx: ctx, keys: keys, bufs: make([]*chunk.Chunk, n), sentMore: make([]bool, n)}
}

// route fills s.dest with the copy of every row of c: the copy of a row
// is (hash of its key >> 17) mod the number of copies, where the hash is
// the aggregate's own key hash (keyEval), so that a checkpoint taken at a
// parallelism restores every key into the copy that holds its state.
func (s *shuffleOp) route(c *chunk.Chunk) ([]uint32, error) {
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
			if pow2 {
				dest[i] = uint32((h >> 17) & mask)
			} else {
				dest[i] = uint32((h >> 17) % copies)
			}
		}
		return dest, nil
	}
	for i := range dest {
		_, h, err := s.keys.eval(c.Row(i))
		if err != nil {
			return nil, err
		}
		dest[i] = uint32((h >> 17) % copies)
	}
	return dest, nil
}

func (s *shuffleOp) OnData(_ int, c *chunk.Chunk, em *emitter) error {
	dest, err := s.route(c)
	if err != nil {
		return err
	}
	more := em != nil && em.more // the input's batch goes on after c
	w := c.Width
	s.width = w
	for i := 0; i < len(dest); {
		k := dest[i]
		b := s.bufs[k]
		if b == nil {
			b = getChunk(w)
			s.bufs[k] = b
		}
		// Copy the run of rows bound for the same copy at once (fewer,
		// larger copies; the chunk is not grown past chunkRows rows).
		j := i + 1
		for end := min(len(dest), i+chunkRows-b.Len()); j < end && dest[j] == k; j++ {
		}
		b.Vals = append(b.Vals, c.Vals[i*w:j*w]...)
		for r := i; r < j; r++ { // runs are short: no bulk copy
			b.Ops = append(b.Ops, c.Ops[r])
			b.Times = append(b.Times, c.Times[r])
		}
		i = j
		if len(b.Ops) >= chunkRows {
			s.bufs[k] = nil
			b.More = more
			if err := s.sendTo(int(k), chunk.Message{Kind: chunk.Data, Chunk: b}); err != nil {
				return err
			}
		}
	}
	if !more {
		return s.endRuns()
	}
	return nil
}

// endRuns ends the run of More chunks of every copy that has no rows
// gathered (those rows, when they go, end it) with an empty chunk.
func (s *shuffleOp) endRuns() error {
	for k, more := range s.sentMore {
		if more && s.bufs[k] == nil {
			if err := s.sendTo(k, chunk.Message{Kind: chunk.Data, Chunk: getChunk(s.width)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// FlushBatch sends the rows gathered for every copy (the node calls it
// when the shuffle's input runs dry).
func (s *shuffleOp) FlushBatch(*emitter) error {
	if err := s.flushGathered(); err != nil {
		return err
	}
	return s.endRuns()
}

// flushGathered sends the rows gathered for every copy.
func (s *shuffleOp) flushGathered() error {
	for k, b := range s.bufs {
		if b == nil {
			continue
		}
		s.bufs[k] = nil
		if err := s.sendTo(k, chunk.Message{Kind: chunk.Data, Chunk: b}); err != nil {
			return err
		}
	}
	return nil
}

func (s *shuffleOp) sendTo(k int, m chunk.Message) error {
	s.sentMore[k] = m.Kind == chunk.Data && m.Chunk.More
	select {
	case s.outs[k].ch <- envelope{in: s.outs[k].in, msg: m}:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// OnControl broadcasts a control message to every copy, after the rows
// gathered before it.
func (s *shuffleOp) OnControl(m chunk.Message) error {
	if m.Kind == chunk.Data {
		// The shuffle emits no rows of its own.
		putChunk(m.Chunk)
		return nil
	}
	// The control message ends any run of More chunks.
	if err := s.flushGathered(); err != nil {
		return err
	}
	for k := range s.outs {
		if err := s.sendTo(k, m); err != nil {
			return err
		}
	}
	return nil
}
