package planner

import (
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// PruneSourceScans narrows the Scans of connector sources in a streaming
// plan to the columns the plan reads: the connector then decodes only
// those (exec opens it with Scan.Cols[:NumPhysical]). Generated columns
// that are not read are dropped; the physical columns their expressions
// and the watermark need are kept. Every expression above is re-indexed.
// Scans of tables and views are left whole (exec feeds them from the
// relation's full rows), and the plan's output schema never changes.
func PruneSourceScans(n plan.Node) plan.Node {
	out, _ := prune(n, allNeeded(len(n.Schema())))
	return out
}

func allNeeded(n int) []bool {
	b := make([]bool, n)
	for i := range b {
		b[i] = true
	}
	return b
}

func identity(n int) []int {
	m := make([]int, n)
	for i := range m {
		m[i] = i
	}
	return m
}

// markCols sets need[i] for every column e reads.
func markCols(need []bool, es ...expr.Expr) {
	for _, e := range es {
		expr.Walk(e, func(x expr.Expr) bool {
			if c, ok := x.(*expr.ColRef); ok && c.Idx < len(need) {
				need[c.Idx] = true
			}
			return true
		})
	}
}

// remap re-indexes the column references of e through m (old index to new).
func remap(e expr.Expr, m []int) expr.Expr {
	if e == nil {
		return nil
	}
	out, _ := expr.Transform(e, func(x expr.Expr) (expr.Expr, error) {
		if c, ok := x.(*expr.ColRef); ok && c.Idx < len(m) && m[c.Idx] != c.Idx {
			return &expr.ColRef{Idx: m[c.Idx], Name: c.Name, T: c.T}, nil
		}
		return x, nil
	})
	return out
}

func remapAll(es []expr.Expr, m []int) []expr.Expr {
	if es == nil {
		return nil
	}
	out := make([]expr.Expr, len(es))
	for i, e := range es {
		out[i] = remap(e, m)
	}
	return out
}

func remapSort(ks []plan.SortKey, m []int) []plan.SortKey {
	out := make([]plan.SortKey, len(ks))
	for i, k := range ks {
		out[i] = k
		out[i].Expr = remap(k.Expr, m)
	}
	return out
}

func remapAggs(as []plan.AggCall, m []int) []plan.AggCall {
	out := make([]plan.AggCall, len(as))
	for i, a := range as {
		out[i] = a
		out[i].Args = remapAll(a.Args, m)
		out[i].Filter = remap(a.Filter, m)
		out[i].OrderBy = remapSort(a.OrderBy, m)
	}
	return out
}

func aggExprs(as []plan.AggCall) []expr.Expr {
	var out []expr.Expr
	for _, a := range as {
		out = append(out, a.Args...)
		if a.Filter != nil {
			out = append(out, a.Filter)
		}
		for _, k := range a.OrderBy {
			out = append(out, k.Expr)
		}
	}
	return out
}

func sortExprs(ks []plan.SortKey) []expr.Expr {
	out := make([]expr.Expr, len(ks))
	for i, k := range ks {
		out[i] = k.Expr
	}
	return out
}

// keptSchema returns the columns of s that m keeps, in order.
func keptSchema(s types.Schema, m []int) types.Schema {
	var out types.Schema
	for i, c := range s {
		if m[i] >= 0 {
			out = append(out, c)
		}
	}
	return out
}

// prune returns n rewritten to produce at least the needed columns, and
// the map from n's output columns to the new node's (-1: dropped).
func prune(n plan.Node, need []bool) (plan.Node, []int) {
	switch x := n.(type) {
	case *plan.Scan:
		return pruneScan(x, need)
	case *plan.Filter:
		cn := append([]bool(nil), need...)
		markCols(cn, x.Pred)
		in, m := prune(x.Input, cn)
		return &plan.Filter{Input: in, Pred: remap(x.Pred, m)}, m
	case *plan.Project:
		cn := make([]bool, len(x.Input.Schema()))
		markCols(cn, x.Exprs...)
		in, m := prune(x.Input, cn)
		c := *x
		c.Input, c.Exprs = in, remapAll(x.Exprs, m)
		return &c, identity(len(x.Cols))
	case *plan.WindowAssign:
		w := len(x.Input.Schema())
		cn := append([]bool(nil), need[:w]...)
		cn[x.Window.TimeCol] = true
		in, m := prune(x.Input, cn)
		nw := len(in.Schema())
		c := *x
		c.Input = in
		c.Window.TimeCol = m[x.Window.TimeCol]
		c.Cols = append(keptSchema(x.Input.Schema(), m), x.Cols[w:]...)
		out := append(append([]int(nil), m...), nw, nw+1, nw+2)
		return &c, out
	case *plan.WindowAgg:
		cn := make([]bool, len(x.Input.Schema()))
		cn[x.Window.TimeCol] = true
		markCols(cn, x.GroupBy...)
		markCols(cn, aggExprs(x.Aggs)...)
		in, m := prune(x.Input, cn)
		c := *x
		c.Input, c.GroupBy, c.Aggs = in, remapAll(x.GroupBy, m), remapAggs(x.Aggs, m)
		c.Window.TimeCol = m[x.Window.TimeCol]
		return &c, identity(len(x.Cols))
	case *plan.GroupAgg:
		cn := make([]bool, len(x.Input.Schema()))
		markCols(cn, x.GroupBy...)
		markCols(cn, aggExprs(x.Aggs)...)
		in, m := prune(x.Input, cn)
		c := *x
		c.Input, c.GroupBy, c.Aggs = in, remapAll(x.GroupBy, m), remapAggs(x.Aggs, m)
		return &c, identity(len(x.Cols))
	case *plan.TopN:
		w := len(x.Input.Schema())
		cn := append([]bool(nil), need[:w]...)
		markCols(cn, x.PartitionBy...)
		markCols(cn, sortExprs(x.OrderBy)...)
		in, m := prune(x.Input, cn)
		c := *x
		c.Input, c.PartitionBy, c.OrderBy = in, remapAll(x.PartitionBy, m), remapSort(x.OrderBy, m)
		c.Cols = keptSchema(x.Input.Schema(), m)
		out := append([]int(nil), m...)
		if x.RankCol {
			out = append(out, len(c.Cols))
			c.Cols = append(c.Cols, x.Cols[w])
		}
		return &c, out
	case *plan.Dedup:
		cn := append([]bool(nil), need...)
		markCols(cn, x.Keys...)
		if t := timeCol(x.Input); t >= 0 {
			cn[t] = true
		}
		in, m := prune(x.Input, cn)
		c := *x
		c.Input, c.Keys, c.Cols = in, remapAll(x.Keys, m), keptSchema(x.Cols, m)
		return &c, m
	case *plan.LookupJoin:
		ns := len(x.Stream.Schema())
		cn := append([]bool(nil), need[:ns]...)
		markCols(cn, x.StreamKey...)
		rn := make([]bool, len(x.Cols))
		markCols(rn, x.Residual)
		for i := range ns {
			cn[i] = cn[i] || rn[i]
		}
		in, m := prune(x.Stream, cn)
		nsNew := len(in.Schema())
		full := append([]int(nil), m...)
		for i := ns; i < len(x.Cols); i++ {
			full = append(full, nsNew+i-ns)
		}
		c := *x
		c.Stream, c.StreamKey, c.Residual = in, remapAll(x.StreamKey, m), remap(x.Residual, full)
		c.Cols = keptSchema(x.Cols, full)
		return &c, full
	case *plan.IntervalJoin:
		nl := len(x.Left.Schema())
		all := append([]bool(nil), need...)
		markCols(all, x.Residual)
		ln := append([]bool(nil), all[:nl]...)
		rn := append([]bool(nil), all[nl:]...)
		markCols(ln, x.LeftKey...)
		markCols(rn, x.RightKey...)
		ln[x.LeftTime], rn[x.RightTime] = true, true
		l, lm := prune(x.Left, ln)
		r, rm := prune(x.Right, rn)
		nlNew := len(l.Schema())
		full := append([]int(nil), lm...)
		for _, v := range rm {
			if v >= 0 {
				v += nlNew
			}
			full = append(full, v)
		}
		c := *x
		c.Left, c.Right = l, r
		c.LeftKey, c.RightKey = remapAll(x.LeftKey, lm), remapAll(x.RightKey, rm)
		c.LeftTime, c.RightTime = lm[x.LeftTime], rm[x.RightTime]
		c.Residual = remap(x.Residual, full)
		c.Cols = keptSchema(x.Cols, full)
		return &c, full
	case *plan.StreamJoin, *plan.WindowJoin: // joins:
		return pruneJoin(x, need)
	}
	// Anything else reads all of its inputs' columns.
	kids := n.Children()
	if len(kids) == 0 {
		return n, identity(len(n.Schema()))
	}
	nk := make([]plan.Node, len(kids))
	for i, k := range kids {
		// With every column needed, a child keeps its schema.
		nk[i], _ = prune(k, allNeeded(len(k.Schema())))
	}
	return withInputs(n, nk), identity(len(n.Schema()))
}

// pruneScan narrows a connector source's scan.
func pruneScan(s *plan.Scan, need []bool) (plan.Node, []int) {
	if s.Kind != plan.RelSource || s.Connector == "" {
		return s, identity(len(s.Cols))
	}
	keep := append([]bool(nil), need...)
	if s.Watermark != nil {
		keep[s.Watermark.Col] = true
	}
	for _, g := range s.Generated {
		if keep[g.Col] {
			markCols(keep, g.Expr)
		}
	}
	if s.Watermark != nil {
		// The watermark column may be generated: its inputs are needed too.
		for _, g := range s.Generated {
			if g.Col == s.Watermark.Col {
				markCols(keep, g.Expr)
			}
		}
	}
	m := make([]int, len(s.Cols))
	next := 0
	for i := range s.Cols {
		if keep[i] {
			m[i] = next
			next++
		} else {
			m[i] = -1
		}
	}
	if next == len(s.Cols) {
		return s, identity(len(s.Cols))
	}
	if next == 0 {
		// Keep one column: a row must still be decoded to be counted.
		keep[0], m[0], next = true, 0, 1
		for i := 1; i < len(m); i++ {
			if m[i] >= 0 {
				m[i]++
			}
		}
	}
	c := *s
	c.Cols = keptSchema(s.Cols, m)
	c.NumPhysical = 0
	for i := 0; i < s.NumPhysical; i++ {
		if m[i] >= 0 {
			c.NumPhysical++
		}
	}
	c.Generated = nil
	for _, g := range s.Generated {
		if m[g.Col] >= 0 {
			c.Generated = append(c.Generated, plan.Generated{Col: m[g.Col], Expr: remap(g.Expr, m)})
		}
	}
	if s.Watermark != nil {
		w := *s.Watermark
		w.Col = m[w.Col]
		c.Watermark = &w
	}
	return &c, m
}
