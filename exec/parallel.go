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

// parallelAgg builds a keyed aggregate as Config.Parallelism copies; it
// reports false (and builds nothing) when the aggregate runs as one node.
func (b *builder) parallelAgg(name string, width int, input plan.Node, keys []expr.Expr,
	mk func() (operator, error), out outlet) (bool, error) {
	p := b.e.cfg.Parallelism
	if p <= 1 || len(keys) == 0 {
		return false, nil
	}
	merge := b.add(name+" merge", unionOp{}, p, width, out)
	sh := &shuffleOp{ctx: b.j.ctx, keys: newKeyEval(keys), bufs: make([]*chunk.Chunk, p)}
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
type shuffleOp struct {
	stateless
	ctx  context.Context
	keys *keyEval
	outs []outlet
	bufs []*chunk.Chunk
}

func (s *shuffleOp) OnData(_ int, c *chunk.Chunk, _ *emitter) error {
	n := uint64(len(s.outs))
	for i := range c.Len() {
		row := c.Row(i)
		_, h, err := s.keys.eval(row)
		if err != nil {
			return err
		}
		k := (h >> 17) % n
		if s.bufs[k] == nil {
			s.bufs[k] = getChunk(c.Width)
		}
		s.bufs[k].Append(c.Ops[i], c.Times[i], row)
	}
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
	select {
	case s.outs[k].ch <- envelope{in: s.outs[k].in, msg: m}:
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
	for k := range s.outs {
		if err := s.sendTo(k, m); err != nil {
			return err
		}
	}
	return nil
}
