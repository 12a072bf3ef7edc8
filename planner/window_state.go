package planner

import (
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
)

// markWindowKeys sets GroupAgg.Window on every GroupAgg of a streaming
// plan that groups by a window bound of its input (Nexmark q5's
// `GROUP BY window_start` over a windowed count, or any GROUP BY
// window_start, k over a view of window results): exec then frees a
// group once its window can no longer change, instead of keeping one
// group per window forever. lateness is the view's allowed_lateness (the
// grace of window TVFs used without aggregation). Nodes are copied, never
// changed in place.
func (p *Planner) markWindowKeys(n plan.Node, lateness int64) plan.Node {
	kids := n.Children()
	if len(kids) > 0 {
		nk := make([]plan.Node, len(kids))
		changed := false
		for i, k := range kids {
			nk[i] = p.markWindowKeys(k, lateness)
			changed = changed || nk[i] != k
		}
		if changed {
			n = withInputs(n, nk)
		}
	}
	g, ok := n.(*plan.GroupAgg)
	if !ok || g.Window != nil {
		return n
	}
	for i, k := range g.GroupBy {
		c, ok := k.(*expr.ColRef)
		if !ok {
			continue
		}
		if wb, ok := p.windowClose(g.Input, c.Idx, lateness); ok {
			cp := *g
			wb.Col = i
			cp.Window = &wb
			return &cp
		}
	}
	return n
}

// viewWindowBounds lists the columns of a view's plan that hold a window
// bound (Relation.WindowBounds).
func (p *Planner) viewWindowBounds(n plan.Node, lateness int64) []plan.WindowBound {
	var out []plan.WindowBound
	for i := range n.Schema() {
		if wb, ok := p.windowClose(n, i, lateness); ok {
			wb.Col = i
			out = append(out, wb)
		}
	}
	return out
}

// windowClose reports whether column col of n holds a window bound
// (window_start, window_end or window_time of a window aggregate or window
// TVF), possibly passed on by operators whose output changes only when
// their input does (projections, filters, Top-N, dedup, GROUP BY keys,
// window, lookup and union inputs) or through a view; and when the rows
// carrying a value v in col stop changing: once the watermark that n's
// consumer sees reaches v + Closes + Lateness. The answer may be late, never
// early. The returned bound's Col is not set.
//
// A window aggregate's group keys are not followed: one emitting on window
// close emits rows long after a lower window's bound they carry has
// closed.
func (p *Planner) windowClose(n plan.Node, col int, lateness int64) (plan.WindowBound, bool) {
	switch x := n.(type) {
	case *plan.Filter:
		return p.windowClose(x.Input, col, lateness)
	case *plan.TopN:
		if col < len(x.Input.Schema()) {
			return p.windowClose(x.Input, col, lateness)
		}
	case *plan.Dedup:
		return p.windowClose(x.Input, col, lateness)
	case *plan.Project:
		if col < len(x.Exprs) {
			if c, ok := x.Exprs[col].(*expr.ColRef); ok {
				return p.windowClose(x.Input, c.Idx, lateness)
			}
		}
	case *plan.GroupAgg:
		if col < len(x.GroupBy) {
			if c, ok := x.GroupBy[col].(*expr.ColRef); ok {
				return p.windowClose(x.Input, c.Idx, lateness)
			}
		}
	case *plan.WindowAgg:
		if x.Window.Kind == plan.Session {
			return plan.WindowBound{}, false
		}
		// The aggregate forwards its input watermark minus the lateness,
		// so adding the lateness again is late by that much: safe.
		switch col - len(x.GroupBy) {
		case 0:
			return plan.WindowBound{Closes: x.Window.Size, Lateness: x.Lateness}, true
		case 1:
			return plan.WindowBound{Closes: 0, Lateness: x.Lateness}, true
		case 2:
			return plan.WindowBound{Closes: 1, Lateness: x.Lateness}, true
		}
	case *plan.WindowAssign:
		if x.Window.Kind == plan.Session {
			return plan.WindowBound{}, false
		}
		w := len(x.Input.Schema())
		switch col - w {
		case 0:
			return plan.WindowBound{Closes: x.Window.Size, Lateness: lateness}, true
		case 1:
			return plan.WindowBound{Closes: 0, Lateness: lateness}, true
		case 2:
			return plan.WindowBound{Closes: 1, Lateness: lateness}, true
		}
		if col < w {
			return p.windowClose(x.Input, col, lateness)
		}
	case *plan.WindowJoin:
		// A window join emits only when an input row arrives (no rows on
		// expiry), so its columns change when its inputs' do.
		nl := len(x.Left.Schema())
		if col < nl {
			return p.windowClose(x.Left, col, lateness)
		}
		return p.windowClose(x.Right, col-nl, lateness)
	case *plan.LookupJoin:
		// Table updates never revise emitted rows: the stream's columns
		// change when the stream does.
		if col < len(x.Stream.Schema()) {
			return p.windowClose(x.Stream, col, lateness)
		}
	case *plan.Union:
		// The latest of the inputs' closes.
		var total, late int64
		for _, in := range x.Inputs {
			wb, ok := p.windowClose(in, col, lateness)
			if !ok {
				return plan.WindowBound{}, false
			}
			total = max(total, wb.Closes+wb.Lateness)
			late = max(late, wb.Lateness)
		}
		return plan.WindowBound{Closes: total - late, Lateness: late}, len(x.Inputs) > 0
	case *plan.Scan:
		if x.Kind != plan.RelView || p.cat == nil {
			return plan.WindowBound{}, false
		}
		rel, err := p.cat.Relation(x.Name)
		if err != nil || rel == nil || len(rel.Cols) != len(x.Cols) {
			return plan.WindowBound{}, false
		}
		for _, wb := range rel.WindowBounds {
			if wb.Col == col {
				return wb, true
			}
		}
	}
	return plan.WindowBound{}, false
}
