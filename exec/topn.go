package exec

import (
	"math"
	"slices"
	"strings"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// topEntry is one row of a Top-N partition with its precomputed sort key.
type topEntry struct {
	row  types.Row
	sort types.Row
	t    int64
}

type topPart struct {
	rows []topEntry // sorted; with an append-only input only the first N
	out  []topEntry // the rows currently emitted, in rank order
	end  int64      // window end of the partition (math.MaxInt64 if none)
	ck   uint8      // checkpoint flags (keyCkDirty, keyCkSaved)
}

// topNOp keeps the first N rows per partition with updating output: each
// change emits retractions of rows that left the top (or changed rank) and
// inserts of rows that entered it. A partition whose window the watermark
// passed is freed.
type topNOp struct {
	keyFilter // rescale: the keys this copy takes
	j         *job
	n         *plan.TopN
	stats     *opStats
	keys      *keyEval
	parts     *rowMap[topPart]
	endCol    int // input column holding window_end, -1 if none
	retract   bool
	touched   []*rowEntry[topPart]
	byEnd     map[int64][]*rowEntry[topPart]
	bytes     int64
	wm        int64
	late      lateRecorder
	sortBuf   types.Row

	ck  entryTracker[topPart] // incremental checkpoints
	enc encSizer
}

func newTopNOp(j *job, n *plan.TopN, retract bool) *topNOp {
	st := &opStats{}
	j.stats = append(j.stats, st)
	o := &topNOp{j: j, n: n, stats: st, keys: newKeyEval(n.PartitionBy).deadLetters(j, n.Input.Schema(), keyClause(n)), parts: newRowMap[topPart](64),
		endCol: -1, retract: retract, byEnd: map[int64][]*rowEntry[topPart]{},
		wm: math.MinInt64, late: lateRecorder{j: j, schema: n.Input.Schema()}}
	o.ck.flags = func(e *rowEntry[topPart]) *uint8 { return &e.val.ck }
	in := n.Input.Schema()
	windowed := false
	for _, e := range n.PartitionBy {
		if s := strings.ToLower(e.String()); strings.HasPrefix(s, "window_start") || strings.HasPrefix(s, "window_end") {
			windowed = true
		}
	}
	if windowed {
		o.endCol = in.Index("window_end")
	}
	return o
}

func (o *topNOp) cmp(a, b topEntry) int {
	for i, k := range o.n.OrderBy {
		x, y := a.sort[i], b.sort[i]
		var c int
		switch {
		case x.IsNull() && y.IsNull():
			c = 0
		case x.IsNull() || y.IsNull():
			// The NULLS FIRST/LAST position is absolute: DESC does not flip it.
			if x.IsNull() == k.NullsFirst {
				return -1
			}
			return 1
		default:
			c = types.Compare(x, y)
		}
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func (o *topNOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	return o.OnSelected(c, nil, nil, out)
}

// sortKeys evaluates row's ORDER BY keys into sort, before any state
// takes the row. A key that fails fails the view, or (on_error =
// 'dead_letter') sends the row to the dead letters and skip says to leave
// it out, as a failing PARTITION BY does.
func (o *topNOp) sortKeys(row types.Row, op chunk.Op, sort types.Row) (skip bool, _ error) {
	for k, sk := range o.n.OrderBy {
		v, err := sk.Expr.Eval(nil, row)
		if err != nil {
			return o.j.rowError(o.keys.in, row, op, "ORDER BY", err), err
		}
		sort[k] = v
	}
	return false, nil
}

// OnSelected handles the rows of c listed in rows (every row when rows is
// nil), taking their keys and key hashes from r when it is not nil (a copy
// behind a shuffle: selReceiver).
func (o *topNOp) OnSelected(c *chunk.Chunk, rows []int32, r *routed, out *emitter) error {
	for x := range selLen(c, rows) {
		i := selRow(rows, x)
		row := c.Row(i)
		if o.endCol >= 0 && row[o.endCol].I <= o.wm {
			// The row's window was freed: it is late.
			o.late.record(row, c.Times[i], o.wm)
			continue
		}
		key, h, err := o.keys.evalHashed(row, r, i)
		if err != nil {
			if o.keys.skip(row, c.Ops[i], err) {
				continue
			}
			return err
		}
		if cap(o.sortBuf) < len(o.n.OrderBy) {
			o.sortBuf = make(types.Row, len(o.n.OrderBy))
		}
		probe := topEntry{row: row, sort: o.sortBuf[:len(o.n.OrderBy)], t: c.Times[i]}
		if skip, err := o.sortKeys(row, c.Ops[i], probe.sort); skip {
			continue
		} else if err != nil {
			return err
		}
		pe := o.parts.get(h, key)
		if pe == nil {
			pe = o.parts.insert(h, copyRow(key))
			pe.val.end = math.MaxInt64
			if o.endCol >= 0 {
				pe.val.end = row[o.endCol].I
				o.byEnd[pe.val.end] = append(o.byEnd[pe.val.end], pe)
			}
		}
		p := &pe.val
		if !o.retract && c.Ops[i] == chunk.Insert && int64(len(p.rows)) >= o.n.N && o.cmp(probe, p.rows[len(p.rows)-1]) >= 0 {
			continue // an append-only input: a row outside the top never enters it
		}
		ent := topEntry{row: copyRow(row), sort: copyRow(probe.sort), t: probe.t}
		pos, _ := slices.BinarySearchFunc(p.rows, ent, o.cmp)
		if c.Ops[i] == chunk.Delete {
			for j := pos; j < len(p.rows) && o.cmp(p.rows[j], ent) == 0; j++ {
				if types.EqualRows(p.rows[j].row, ent.row) {
					p.rows = slices.Delete(p.rows, j, j+1)
					o.bytes -= int64(rowBytes(ent.row) + rowBytes(ent.sort))
					break
				}
			}
		} else {
			for pos < len(p.rows) && o.cmp(p.rows[pos], ent) == 0 {
				pos++ // ties keep arrival order
			}
			p.rows = slices.Insert(p.rows, pos, ent)
			o.bytes += int64(rowBytes(ent.row) + rowBytes(ent.sort))
		}
		o.touched = append(o.touched, pe)
		o.ck.mark(pe)
	}
	for _, pe := range o.touched {
		o.diff(pe, out)
	}
	clear(o.touched)
	o.touched = o.touched[:0]
	o.stats.stateBytes.Store(max(o.bytes, 0))
	return nil
}

func (o *topNOp) outRow(out *emitter, op chunk.Op, e topEntry, rank int) {
	if !o.n.RankCol {
		out.append(op, e.t, e.row)
		return
	}
	r := out.row(op, e.t)
	copy(r, e.row)
	r[len(e.row)] = types.NewInt(int64(rank + 1))
}

// diff emits the changes between what a partition last emitted and its
// current top N.
func (o *topNOp) diff(pe *rowEntry[topPart], out *emitter) {
	p := &pe.val
	n := int(min(int64(len(p.rows)), o.n.N))
	same := func(a, b topEntry) bool { return types.EqualRows(a.row, b.row) }
	// Retract emitted rows that left the top or moved (when ranks show).
	next := p.rows[:n]
	for i, e := range p.out {
		keep := false
		if o.n.RankCol {
			keep = i < n && same(next[i], e)
		} else {
			for _, x := range next {
				if same(x, e) {
					keep = true
					break
				}
			}
		}
		if !keep {
			o.outRow(out, chunk.Delete, e, i)
		}
	}
	for i, e := range next {
		had := false
		if o.n.RankCol {
			had = i < len(p.out) && same(p.out[i], e)
		} else {
			for _, x := range p.out {
				if same(x, e) {
					had = true
					break
				}
			}
		}
		if !had {
			o.outRow(out, chunk.Insert, e, i)
		}
	}
	p.out = append(p.out[:0], next...)
	if !o.retract && len(p.rows) > n {
		for _, e := range p.rows[n:] {
			o.bytes -= int64(rowBytes(e.row) + rowBytes(e.sort))
		}
		clear(p.rows[n:])
		p.rows = p.rows[:n]
	}
}

func (o *topNOp) OnWatermark(wm int64, _ *emitter) (int64, error) {
	o.wm = wm
	for end, ps := range o.byEnd {
		if end > wm {
			continue
		}
		for _, pe := range ps {
			o.removePart(pe)
		}
		delete(o.byEnd, end)
	}
	o.publishStats()
	return wm, nil
}

// removePart frees partition pe (its byEnd entry is the caller's).
func (o *topNOp) removePart(pe *rowEntry[topPart]) {
	for _, e := range pe.val.rows {
		o.bytes -= int64(rowBytes(e.row) + rowBytes(e.sort))
	}
	o.parts.remove(pe)
	o.ck.removed(pe)
}

func (o *topNOp) OnBarrier(uint64, *emitter) error { return nil }

func (o *topNOp) lateRec() *lateRecorder { return &o.late }
