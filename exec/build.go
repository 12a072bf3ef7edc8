package exec

import (
	"fmt"

	"github.com/sluice-db/sluice/sql/types"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/sqlerr"
)

// builder turns a streaming plan into the nodes of a job.
type builder struct {
	e *Engine
	j *job
	// single: the next node added is a keyed operator that runs as one
	// node (parallelism 1), which another parallelism would split.
	single bool
}

// add creates a node for op with nIn inputs feeding out.
func (b *builder) add(name string, op operator, nIn, width int, out outlet) *node {
	n := newNode(b.j, name, op, nIn, width)
	n.out = &out
	if b.single {
		n.par, b.single = parSingle, false
	}
	b.j.nodes = append(b.j.nodes, n)
	return n
}

func (b *builder) child(name string, op operator, width int, input plan.Node, out outlet) error {
	n := b.add(name, op, 1, width, out)
	return b.build(input, outlet{ch: n.inbox, in: 0})
}

// mayRetract reports whether a plan's output may contain retractions.
func (b *builder) mayRetract(p plan.Node) bool {
	if joinRetracts(p) { // joins:
		return true
	}
	switch n := p.(type) {
	case *plan.Scan:
		if n.Kind == plan.RelView {
			r, err := b.e.rel(n.Name)
			return err != nil || !r.appendOnly
		}
		return false
	case *plan.WindowAgg:
		return n.Emit == plan.EmitOnUpdate || n.Window.Kind == plan.Session || n.Lateness > 0 || b.mayRetract(n.Input)
	case *plan.GroupAgg, *plan.TopN:
		return true
	case *plan.Dedup:
		return n.KeepLast || b.mayRetract(n.Input)
	}
	for _, c := range p.Children() {
		if b.mayRetract(c) {
			return true
		}
	}
	return false
}

func (b *builder) build(p plan.Node, out outlet) error {
	switch n := p.(type) {
	case *plan.Scan:
		return b.scan(n, out)
	case *plan.Filter:
		return b.child("filter", &filterOp{pred: n.Pred, j: b.j, in: n.Input.Schema()}, len(n.Schema()), n.Input, out)
	case *plan.Project:
		return b.child("project", &projectOp{exprs: n.Exprs, j: b.j, in: n.Input.Schema()}, len(n.Cols), n.Input, out)
	case *plan.WindowAssign:
		op, err := newWindowAssignOp(n)
		if err != nil {
			return err
		}
		return b.child("window-assign", op, len(n.Cols), n.Input, out)
	case *plan.WindowAgg:
		return b.keyedAgg("window-agg", len(n.Cols), n.Input, n.GroupBy, func() (operator, error) { // parallel:
			return newWindowAggOp(b.j, n, b.mayRetract(n.Input))
		}, out)
	case *plan.GroupAgg:
		return b.keyedAgg("group-agg", len(n.Cols), n.Input, n.GroupBy, func() (operator, error) { // parallel:
			return newGroupAggOp(b.j, n, b.mayRetract(n.Input))
		}, out)
	case *plan.TopN:
		return b.keyedAgg("top-n", len(n.Cols), n.Input, n.PartitionBy, func() (operator, error) { // parallel:
			return newTopNOp(b.j, n, b.mayRetract(n.Input)), nil
		}, out)
	case *plan.Dedup:
		return b.keyedAgg("dedup", len(n.Cols), n.Input, n.Keys, func() (operator, error) { // parallel:
			return newDedupOp(b.j, n), nil
		}, out)
	case *plan.LookupJoin:
		op, err := b.lookupJoin(n)
		if err != nil {
			return err
		}
		return b.child("lookup-join", op, len(n.Cols), n.Stream, out)
	case *plan.IntervalJoin, *plan.StreamJoin, *plan.WindowJoin: // joins:
		return b.buildJoin(n, out) // joins:
	case *plan.Union:
		node := b.add("union", unionOp{}, len(n.Inputs), len(n.Schema()), out)
		for i, in := range n.Inputs {
			if err := b.build(in, outlet{ch: node.inbox, in: i}); err != nil {
				return err
			}
		}
		return nil
	}
	return sqlerr.New(sqlerr.FeatureNotSupported, "%s cannot run in a continuous query", p.Explain())
}

func (b *builder) scan(n *plan.Scan, out outlet) error {
	s, err := newSourceNode(b.j, n, out)
	if err != nil {
		return err
	}
	b.j.reads[n.Name] = true
	r, rerr := b.e.rel(n.Name)
	switch {
	case rerr == nil:
		s.rel = r
		s.colMap = scanColMap(n, r.schema)
		wm := n.Watermark
		if wm == nil && r.isTable {
			wm = r.wm
		}
		if wm != nil {
			s.wmCol, s.delay = wm.Col, wm.Delay
		} else if !r.isTable {
			s.passWM = true
		}
	case n.Kind == plan.RelSource && n.Connector != "":
		if n.Watermark != nil {
			s.wmCol, s.delay = n.Watermark.Col, n.Watermark.Delay
		}
	default:
		return rerr
	}
	b.j.sources = append(b.j.sources, s)
	return nil
}

func (b *builder) lookupJoin(n *plan.LookupJoin) (operator, error) {
	scan, ok := n.Table.(*plan.Scan)
	if !ok {
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "a lookup join needs a table or view on its lookup side, not %s", n.Table.Explain())
	}
	r, err := b.e.rel(scan.Name)
	if err != nil {
		return nil, err
	}
	if len(n.TableKey) != len(n.StreamKey) {
		return nil, fmt.Errorf("lookup join: %d stream keys for %d table keys", len(n.StreamKey), len(n.TableKey))
	}
	b.j.reads[scan.Name] = true
	return newLookupJoinOp(b.j, n, r), nil
}

// scanColMap maps a scan's physical columns to a relation's columns by
// name, or returns nil when they are the relation's leading columns.
func scanColMap(n *plan.Scan, rel types.Schema) []int {
	np := n.NumPhysical
	if np == 0 || np > len(n.Cols) {
		np = len(n.Cols)
	}
	m := make([]int, np)
	identity := np <= len(rel)
	for i := range np {
		m[i] = rel.Index(n.Cols[i].Name)
		if m[i] < 0 {
			m[i] = min(i, len(rel)-1)
		}
		identity = identity && m[i] == i
	}
	if identity {
		return nil
	}
	return m
}
