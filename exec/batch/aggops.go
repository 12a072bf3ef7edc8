package batch

import (
	"context"
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"
	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/exec/agg"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// ---- hashing ----

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a^0xa0761d6478bd642f, b^0xe7037ed1a0b428db)
	return hi ^ lo
}

// Hash tags for kinds that compare equal across kinds.
const (
	tagInt  = 1
	tagTime = 2
	tagStr  = 3
)

// hashValue hashes v consistently with types.Equal for values of one
// column. With numAsFloat, every numeric kind hashes by its float64 value
// (join keys whose sides have different numeric kinds).
func hashValue(v types.Value, seed uint64, numAsFloat bool) uint64 {
	if numAsFloat && v.K.IsNumeric() {
		f := v.Float()
		if f == 0 {
			f = 0 // -0
		}
		return mix(seed^uint64(types.Float64), uint64(types.NewFloat(f).I))
	}
	switch v.K {
	case types.Int16, types.Int32, types.Int64:
		return mix(seed^tagInt, uint64(v.I))
	case types.Timestamp, types.TimestampTZ:
		return mix(seed^tagTime, uint64(v.I))
	case types.Text, types.Bytea, types.JSONB:
		return mix(seed^tagStr, xxhash.Sum64String(v.S))
	case types.Numeric:
		if d, err := decimal.NewFromString(v.S); err == nil {
			return mix(seed^uint64(types.Numeric), xxhash.Sum64String(d.String()))
		}
		return mix(seed^uint64(types.Numeric), xxhash.Sum64String(v.S))
	}
	return mix(seed^uint64(v.K)<<8, uint64(v.I))
}

func hashRow(r types.Row, numAsFloat bool) uint64 {
	h := uint64(0x243f6a8885a308d3)
	for _, v := range r {
		h = hashValue(v, h, numAsFloat)
	}
	return h
}

// groupTable maps key rows to dense group numbers, in first-seen order.
type groupTable struct {
	index map[uint64]int32
	keys  []types.Row
	next  []int32 // hash chain
}

func newGroupTable() *groupTable { return &groupTable{index: map[uint64]int32{}} }

// find returns the group of key (hashing to h), or -1.
func (g *groupTable) find(h uint64, key types.Row) int {
	i, ok := g.index[h]
	if !ok {
		return -1
	}
	for ; i >= 0; i = g.next[i] {
		if types.EqualRows(g.keys[i], key) {
			return int(i)
		}
	}
	return -1
}

// insert adds key (which the table keeps) as a new group.
func (g *groupTable) insert(h uint64, key types.Row) int {
	n := int32(len(g.keys))
	g.keys = append(g.keys, key)
	if head, ok := g.index[h]; ok {
		g.next = append(g.next, head)
	} else {
		g.next = append(g.next, -1)
	}
	g.index[h] = n
	return int(n)
}

func compileAggs(calls []plan.AggCall) ([]*agg.Agg, error) {
	out := make([]*agg.Agg, len(calls))
	for i, c := range calls {
		a, err := agg.Compile(c)
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// ---- GROUP BY ----

// groupAggOp is a hash aggregate: it reads its whole input, then returns
// one row per group (group keys, then aggregates) in first-seen order.
// Without GROUP BY it returns exactly one row.
type groupAggOp struct {
	in     operator
	keys   []expr.Expr
	aggs   []*agg.Agg
	ectx   *expr.Context
	out    []types.Row
	i      int
	loaded bool
}

func newGroupAgg(in operator, keys []expr.Expr, calls []plan.AggCall, ectx *expr.Context) (operator, error) {
	aggs, err := compileAggs(calls)
	if err != nil {
		return nil, err
	}
	return &groupAggOp{in: in, keys: keys, aggs: aggs, ectx: ectx}, nil
}

func (g *groupAggOp) next(ctx context.Context) (types.Row, error) {
	if !g.loaded {
		if err := g.load(ctx); err != nil {
			return nil, err
		}
		g.loaded = true
	}
	if g.i >= len(g.out) {
		return nil, nil
	}
	r := g.out[g.i]
	g.out[g.i] = nil
	g.i++
	return r, nil
}

func (g *groupAggOp) load(ctx context.Context) error {
	na := len(g.aggs)
	table := newGroupTable()
	var states []agg.State
	scratch := make(types.Row, len(g.keys))
	var t ticker
	for {
		row, err := g.in.next(ctx)
		if err != nil {
			return err
		}
		if row == nil {
			break
		}
		if err := t.tick(ctx); err != nil {
			return err
		}
		for i, k := range g.keys {
			if scratch[i], err = k.Eval(g.ectx, row); err != nil {
				return err
			}
		}
		if len(g.keys) == 0 && len(states) > 0 {
			// One group: no hashing.
			for _, st := range states {
				if err := st.Update(g.ectx, row, chunk.Insert); err != nil {
					return err
				}
			}
			continue
		}
		h := hashRow(scratch, false)
		gi := table.find(h, scratch)
		if gi < 0 {
			gi = table.insert(h, slices.Clone(scratch))
			for _, a := range g.aggs {
				states = append(states, a.NewState())
			}
		}
		for _, st := range states[gi*na : (gi+1)*na] {
			if err := st.Update(g.ectx, row, chunk.Insert); err != nil {
				return err
			}
		}
	}
	if len(g.keys) == 0 && len(table.keys) == 0 {
		table.insert(0, types.Row{})
		for _, a := range g.aggs {
			states = append(states, a.NewState())
		}
	}
	g.out = make([]types.Row, len(table.keys))
	for gi, key := range table.keys {
		row := make(types.Row, len(key), len(key)+na)
		copy(row, key)
		for _, st := range states[gi*na : (gi+1)*na] {
			row = append(row, st.Result())
		}
		g.out[gi] = row
	}
	return nil
}

func (g *groupAggOp) close() { g.in.close(); g.out = nil }

// ---- windows ----

// windowTimeKind returns the kind of the window_start column (the first of
// the three window columns) in cols starting at idx, Timestamp by default.
func windowKindAt(cols types.Schema, idx int) types.Kind {
	if idx >= 0 && idx < len(cols) && cols[idx].Type.Kind.IsTime() {
		return cols[idx].Type.Kind
	}
	return types.Timestamp
}

// windowTimeKind is windowKindAt for WindowAssign's trailing columns.
func windowTimeKind(cols types.Schema) types.Kind { return windowKindAt(cols, len(cols)-3) }

func badWindow(w plan.WindowSpec) error {
	return sqlerr.New(sqlerr.InvalidParameterValue, "invalid window %s: sizes must be positive", w)
}

func checkWindow(w plan.WindowSpec) error {
	switch w.Kind {
	case plan.Tumble:
		if w.Size <= 0 {
			return badWindow(w)
		}
	case plan.Hop:
		if w.Size <= 0 || w.Slide <= 0 {
			return badWindow(w)
		}
	case plan.Cumulate:
		if w.Size <= 0 || w.Step <= 0 {
			return badWindow(w)
		}
	case plan.Session:
		if w.Gap <= 0 {
			return badWindow(w)
		}
	}
	return nil
}

// assignWindows appends to buf the [start, end) windows that contain t, in
// ascending start (then end) order.
func assignWindows(w plan.WindowSpec, t int64, buf [][2]int64) [][2]int64 {
	switch w.Kind {
	case plan.Tumble:
		s := types.FloorDiv(t-w.Offset, w.Size)*w.Size + w.Offset
		return append(buf, [2]int64{s, s + w.Size})
	case plan.Hop:
		last := types.FloorDiv(t-w.Offset, w.Slide)*w.Slide + w.Offset
		first := len(buf)
		for s := last; s > t-w.Size; s -= w.Slide {
			buf = append(buf, [2]int64{s, s + w.Size})
		}
		slices.Reverse(buf[first:])
		return buf
	case plan.Cumulate:
		s := types.FloorDiv(t-w.Offset, w.Size)*w.Size + w.Offset
		for e := s + w.Step; e <= s+w.Size; e += w.Step {
			if e > t {
				buf = append(buf, [2]int64{s, e})
			}
		}
		return buf
	}
	return buf
}

// windowAssignOp adds window_start, window_end, window_time to each row,
// repeating a row once per window (hop, cumulate). Rows with a NULL time
// belong to no window and are dropped.
type windowAssignOp struct {
	in      operator
	w       plan.WindowSpec
	kind    types.Kind
	pending []types.Row
	buf     [][2]int64
}

func (o *windowAssignOp) next(ctx context.Context) (types.Row, error) {
	if err := checkWindow(o.w); err != nil {
		return nil, err
	}
	for len(o.pending) == 0 {
		row, err := o.in.next(ctx)
		if row == nil || err != nil {
			return nil, err
		}
		tv := row[o.w.TimeCol]
		if tv.IsNull() {
			continue
		}
		o.buf = assignWindows(o.w, tv.I, o.buf[:0])
		for _, win := range o.buf {
			out := make(types.Row, len(row), len(row)+3)
			copy(out, row)
			out = append(out, types.Value{K: o.kind, I: win[0]}, types.Value{K: o.kind, I: win[1]},
				types.Value{K: o.kind, I: win[1] - 1})
			o.pending = append(o.pending, out)
		}
	}
	r := o.pending[0]
	o.pending = o.pending[1:]
	return r, nil
}

func (o *windowAssignOp) close() { o.in.close() }

// windowAggOp runs a WindowAgg over a bounded input: every window is final
// at the end of input. Output rows (group keys, window_start, window_end,
// window_time, aggregates) are ordered by window, then by first-seen key.
type windowAggOp struct {
	in     operator
	n      *plan.WindowAgg
	aggs   []*agg.Agg
	ectx   *expr.Context
	kind   types.Kind
	out    []types.Row
	i      int
	loaded bool
}

func newWindowAgg(in operator, n *plan.WindowAgg, ectx *expr.Context) (operator, error) {
	if err := checkWindow(n.Window); err != nil {
		return nil, err
	}
	aggs, err := compileAggs(n.Aggs)
	if err != nil {
		return nil, err
	}
	return &windowAggOp{in: in, n: n, aggs: aggs, ectx: ectx, kind: windowKindAt(n.Cols, len(n.GroupBy))}, nil
}

func (w *windowAggOp) next(ctx context.Context) (types.Row, error) {
	if !w.loaded {
		var err error
		if w.n.Window.Kind == plan.Session {
			err = w.loadSessions(ctx)
		} else {
			err = w.load(ctx)
		}
		if err != nil {
			return nil, err
		}
		w.loaded = true
	}
	if w.i >= len(w.out) {
		return nil, nil
	}
	r := w.out[w.i]
	w.out[w.i] = nil
	w.i++
	return r, nil
}

func (w *windowAggOp) close() { w.in.close(); w.out = nil }

// load aggregates tumble, hop and cumulate windows. Group keys are the
// GROUP BY values followed by window start and end.
func (w *windowAggOp) load(ctx context.Context) error {
	nk, na := len(w.n.GroupBy), len(w.aggs)
	table := newGroupTable()
	var states []agg.State
	scratch := make(types.Row, nk+2)
	var buf [][2]int64
	var t ticker
	for {
		row, err := w.in.next(ctx)
		if err != nil {
			return err
		}
		if row == nil {
			break
		}
		if err := t.tick(ctx); err != nil {
			return err
		}
		tv := row[w.n.Window.TimeCol]
		if tv.IsNull() {
			continue
		}
		for i, k := range w.n.GroupBy {
			if scratch[i], err = k.Eval(w.ectx, row); err != nil {
				return err
			}
		}
		buf = assignWindows(w.n.Window, tv.I, buf[:0])
		for _, win := range buf {
			scratch[nk] = types.Value{K: w.kind, I: win[0]}
			scratch[nk+1] = types.Value{K: w.kind, I: win[1]}
			h := hashRow(scratch, false)
			gi := table.find(h, scratch)
			if gi < 0 {
				gi = table.insert(h, slices.Clone(scratch))
				for _, a := range w.aggs {
					states = append(states, a.NewState())
				}
			}
			for _, st := range states[gi*na : (gi+1)*na] {
				if err := st.UpdateAt(w.ectx, row, chunk.Insert, tv.I); err != nil {
					return err
				}
			}
		}
	}
	order := make([]int, len(table.keys))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ka, kb := table.keys[a], table.keys[b]
		if c := types.Compare(ka[nk], kb[nk]); c != 0 {
			return c
		}
		return types.Compare(ka[nk+1], kb[nk+1])
	})
	w.out = make([]types.Row, 0, len(order))
	for _, gi := range order {
		key := table.keys[gi]
		w.out = append(w.out, w.outputRow(key[:nk], key[nk].I, key[nk+1].I, states[gi*na:(gi+1)*na]))
	}
	return nil
}

func (w *windowAggOp) outputRow(keys types.Row, start, end int64, states []agg.State) types.Row {
	row := make(types.Row, 0, len(keys)+3+len(states))
	row = append(row, keys...)
	row = append(row, types.Value{K: w.kind, I: start}, types.Value{K: w.kind, I: end}, types.Value{K: w.kind, I: end - 1})
	for _, st := range states {
		row = append(row, st.Result())
	}
	return row
}

// timedRow is an input row with its event time.
type timedRow struct {
	t   int64
	row types.Row
}

// loadSessions builds session windows per key: rows sorted by time join the
// open session while they come less than Gap after its last row (and, with
// MaxDuration, less than MaxDuration after its first); a session spans
// [first, last + Gap).
func (w *windowAggOp) loadSessions(ctx context.Context) error {
	nk := len(w.n.GroupBy)
	table := newGroupTable()
	var perKey [][]timedRow
	scratch := make(types.Row, nk)
	var t ticker
	for {
		row, err := w.in.next(ctx)
		if err != nil {
			return err
		}
		if row == nil {
			break
		}
		if err := t.tick(ctx); err != nil {
			return err
		}
		tv := row[w.n.Window.TimeCol]
		if tv.IsNull() {
			continue
		}
		for i, k := range w.n.GroupBy {
			if scratch[i], err = k.Eval(w.ectx, row); err != nil {
				return err
			}
		}
		h := hashRow(scratch, false)
		gi := table.find(h, scratch)
		if gi < 0 {
			gi = table.insert(h, slices.Clone(scratch))
			perKey = append(perKey, nil)
		}
		perKey[gi] = append(perKey[gi], timedRow{t: tv.I, row: row})
	}
	gap, maxDur := w.n.Window.Gap, w.n.Window.MaxDuration
	type session struct {
		start int64
		row   types.Row
	}
	var out []session
	for gi, rows := range perKey {
		slices.SortStableFunc(rows, func(a, b timedRow) int { return cmpInt(a.t, b.t) })
		var states []agg.State
		var start, last int64
		flush := func() {
			if states != nil {
				out = append(out, session{start: start, row: w.outputRow(table.keys[gi], start, last+gap, states)})
			}
		}
		for _, tr := range rows {
			if states == nil || tr.t >= last+gap || (maxDur > 0 && tr.t-start >= maxDur) {
				flush()
				states = make([]agg.State, len(w.aggs))
				for i, a := range w.aggs {
					states[i] = a.NewState()
				}
				start = tr.t
			}
			last = tr.t
			for _, st := range states {
				if err := st.UpdateAt(w.ectx, tr.row, chunk.Insert, tr.t); err != nil {
					return err
				}
			}
		}
		flush()
	}
	slices.SortStableFunc(out, func(a, b session) int { return cmpInt(a.start, b.start) })
	w.out = make([]types.Row, len(out))
	for i, s := range out {
		w.out[i] = s.row
	}
	return nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
