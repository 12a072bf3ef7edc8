package exec

import (
	"fmt"
	"strings"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// stateless is embedded by operators without watermark or barrier work.
type stateless struct{}

func (stateless) OnWatermark(wm int64, _ *emitter) (int64, error) { return wm, nil }
func (stateless) OnBarrier(uint64, *emitter) error                { return nil }

// filterOp keeps the rows for which pred is true, compacting the chunk in
// place.
type filterOp struct {
	stateless
	pred expr.Expr
	j    *job         // nil in some tests
	in   types.Schema // of the input rows (dead letters)
}

func (f *filterOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	w := c.Width
	k := 0
	for i := range c.Len() {
		keep, err := f.keeps(c.Row(i))
		if err != nil {
			if f.j.rowError(f.in, c.Row(i), c.Ops[i], "WHERE", err) {
				continue
			}
			return err
		}
		if !keep {
			continue
		}
		if k != i {
			copy(c.Vals[k*w:(k+1)*w], c.Vals[i*w:(i+1)*w])
			c.Ops[k], c.Times[k] = c.Ops[i], c.Times[i]
		}
		k++
	}
	clear(c.Vals[k*w:])
	c.Truncate(k)
	return out.pass(c)
}

// keeps reports whether the predicate is true for row.
func (f *filterOp) keeps(row types.Row) (bool, error) {
	v, err := f.pred.Eval(nil, row)
	if err != nil {
		return false, err
	}
	return !v.IsNull() && v.Bool(), nil
}

// projectOp computes expressions over each row.
type projectOp struct {
	stateless
	j     *job         // nil in some tests
	in    types.Schema // of the input rows (dead letters)
	exprs []expr.Expr
	cols  []int // the columns referenced, when every expression is a column reference
	mixed bool  // some expression is not a column reference
}

// colRefs returns the input columns of a projection made of column
// references only (else nil), and whether it is the identity on rows of
// width w.
func (p *projectOp) colRefs(w int) ([]int, bool) {
	if p.cols == nil && !p.mixed {
		for _, e := range p.exprs {
			c, ok := e.(*expr.ColRef)
			if !ok {
				p.mixed, p.cols = true, nil
				break
			}
			p.cols = append(p.cols, c.Idx)
		}
	}
	if p.mixed {
		return nil, false
	}
	identity := len(p.cols) == w
	for j, c := range p.cols {
		if c < 0 || c >= w {
			return nil, false // out of range: Eval reports it
		}
		identity = identity && c == j
	}
	return p.cols, identity
}

func (p *projectOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	if cols, identity := p.colRefs(c.Width); identity {
		return out.pass(c)
	} else if cols != nil {
		for i := range c.Len() {
			in := c.Row(i)
			row := out.row(c.Ops[i], c.Times[i])
			for j, k := range cols {
				row[j] = in[k]
			}
			if err := out.maybeFlush(); err != nil {
				return err
			}
		}
		return nil
	}
	for i := range c.Len() {
		in := c.Row(i)
		if err := p.eval(out.row(c.Ops[i], c.Times[i]), in); err != nil {
			if p.j.rowError(p.in, in, c.Ops[i], "SELECT", err) {
				out.cur.Truncate(out.cur.Len() - 1)
				continue
			}
			return err
		}
		if err := out.maybeFlush(); err != nil {
			return err
		}
	}
	return nil
}

// eval computes the projection of in into row.
func (p *projectOp) eval(row, in types.Row) error {
	for j, e := range p.exprs {
		v, err := e.Eval(nil, in)
		if err != nil {
			return err
		}
		row[j] = v
	}
	return nil
}

// rowError handles an error evaluating an expression of a view's filter,
// projection or key (clause) on one input row: with the view's on_error =
// 'dead_letter' a data exception (SQLSTATE class 22: division by zero, a
// bad cast, an overflow) sends the row to the dead letters, as JSON of the
// operator's input columns, and rowError reports true (the operator skips
// the row); otherwise the error fails the view. A row's retraction fails
// as its insertion did: it is skipped too, without a second letter.
func (j *job) rowError(schema types.Schema, row types.Row, op chunk.Op, clause string, err error) bool {
	if j == nil || !j.deadLetterErrors || !strings.HasPrefix(sqlerr.Code(err), "22") {
		return false
	}
	if op == chunk.Delete {
		return true
	}
	j.e.deadLetter(connectors.DeadLetter{Source: j.name, Raw: []byte(rowJSON(schema, row)),
		Reason: fmt.Sprintf("materialized view %s: %s: %v", j.name, clause, err), Time: j.e.now()})
	return true
}

// unionOp forwards every input.
type unionOp struct{ stateless }

func (unionOp) OnData(_ int, c *chunk.Chunk, out *emitter) error { return out.pass(c) }

// windows computes window boundaries for the tumble, hop and cumulate
// kinds.
type windows struct {
	spec plan.WindowSpec
	kind types.Kind // kind of the window_start/end/time columns
}

// start returns the start of the tumble window (or pane of width w) holding t.
func alignDown(t, w, offset int64) int64 {
	return types.FloorDiv(t-offset, w)*w + offset
}

// each calls f for every window [start, end) that holds t.
func (w *windows) each(t int64, f func(start, end int64)) {
	s := w.spec
	switch s.Kind {
	case plan.Tumble:
		st := alignDown(t, s.Size, s.Offset)
		f(st, st+s.Size)
	case plan.Hop:
		last := alignDown(t, s.Slide, s.Offset)
		for st := last; st > t-s.Size; st -= s.Slide {
			f(st, st+s.Size)
		}
	case plan.Cumulate:
		st := alignDown(t, s.Size, s.Offset)
		for end := alignDown(t, s.Step, s.Offset) + s.Step; end <= st+s.Size; end += s.Step {
			f(st, end)
		}
	}
}

func validateWindow(s plan.WindowSpec) error {
	switch s.Kind {
	case plan.Tumble:
		if s.Size <= 0 {
			return sqlerr.New(sqlerr.InvalidParameterValue, "window size must be positive")
		}
	case plan.Hop:
		if s.Size <= 0 || s.Slide <= 0 {
			return sqlerr.New(sqlerr.InvalidParameterValue, "hop size and slide must be positive")
		}
	case plan.Cumulate:
		if s.Size <= 0 || s.Step <= 0 || s.Size%s.Step != 0 {
			return sqlerr.New(sqlerr.InvalidParameterValue, "cumulate size must be a positive multiple of its step")
		}
	case plan.Session:
		if s.Gap <= 0 {
			return sqlerr.New(sqlerr.InvalidParameterValue, "session gap must be positive")
		}
	}
	return nil
}

// windowAssignOp appends window_start, window_end and window_time to each
// row, once per window the row belongs to.
type windowAssignOp struct {
	stateless
	w windows
}

func newWindowAssignOp(n *plan.WindowAssign) (*windowAssignOp, error) {
	if n.Window.Kind == plan.Session {
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "SESSION windows need an aggregate")
	}
	if err := validateWindow(n.Window); err != nil {
		return nil, err
	}
	k := types.Timestamp
	if len(n.Cols) >= 3 {
		k = n.Cols[len(n.Cols)-1].Type.Kind
	}
	return &windowAssignOp{w: windows{spec: n.Window, kind: k}}, nil
}

func (a *windowAssignOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	tc := a.w.spec.TimeCol
	var err error
	for i := range c.Len() {
		in := c.Row(i)
		t := eventTime(in[tc])
		if t == chunk.NoTime {
			continue
		}
		op := c.Ops[i]
		a.w.each(t, func(start, end int64) {
			row := out.row(op, c.Times[i])
			copy(row, in)
			n := len(in)
			row[n] = types.Value{K: a.w.kind, I: start}
			row[n+1] = types.Value{K: a.w.kind, I: end}
			row[n+2] = types.Value{K: a.w.kind, I: end - 1}
		})
		if err = out.maybeFlush(); err != nil {
			return err
		}
	}
	return nil
}
