package exec

import (
	"github.com/sluice-db/sluice/exec/agg"
	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// accState is one aggregate's accumulator for one group: an exec/agg State.
// The engine relies on Merge leaving its argument intact (hop panes are
// merged into every window that holds them), which exec/agg's states do.
type accState = agg.State

// aggFn makes states for one compiled aggregate call (an *agg.Agg).
type aggFn interface {
	NewState() agg.State
	Retractable() bool
}

// compileAggs compiles the calls with exec/agg; retract says that the input
// may retract, so min/max-like states must keep their inputs.
func compileAggs(calls []plan.AggCall, retract bool) ([]aggFn, error) {
	out := make([]aggFn, len(calls))
	for i, c := range calls {
		a, err := agg.CompileOptions(c, agg.Options{Retract: retract})
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// aggLayout places the accumulators of one group in two records: int64
// words and accStates. Word 0 is the group's net row count (inserts minus
// retractions); the aggregates with a flat form (agg.Agg.FlatWords: count,
// sum, avg, integer min/max, bool_and/or) follow it inline, and the others
// are accStates. A window table or a session store keeps the records of
// all its groups in two slabs (recs), so a group of count and sum costs 40
// bytes of words instead of two interfaces and two heap objects.
type aggLayout struct {
	place  []aggPlace
	words  int     // words per group, word 0 included
	states []aggFn // the aggregates kept as accStates, in order
	// checked are the aggregates whose input can fail (agg.Agg.CheckRow).
	checked []*agg.Agg
}

// aggPlace is where one aggregate's state lives in a group.
type aggPlace struct {
	a      *agg.Agg
	off, n int // flat: its words; n is 0 for an accState
	si     int // accState: its index among the group's states
}

func newAggLayout(calls []plan.AggCall, retract bool) (*aggLayout, error) {
	fns, err := compileAggs(calls, retract)
	if err != nil {
		return nil, err
	}
	l := &aggLayout{words: 1}
	for _, f := range fns {
		a := f.(*agg.Agg)
		p := aggPlace{a: a, n: a.FlatWords(), si: -1}
		if p.n > 0 {
			p.off = l.words
			l.words += p.n
		} else {
			p.si = len(l.states)
			l.states = append(l.states, a)
		}
		l.place = append(l.place, p)
		if a.Checks() {
			l.checked = append(l.checked, a)
		}
	}
	return l, nil
}

// init makes the accStates of a new group.
func (l *aggLayout) init(ss []accState) {
	for i, f := range l.states {
		ss[i] = f.NewState()
	}
}

// cloneStates returns a copy of r (the accStates of groups laid out by l)
// that later changes to r do not reach: each state is merged into a new
// one, which shares no mutable memory with it (agg.State.Merge).
func (l *aggLayout) cloneStates(r *recs[accState]) (recs[accState], error) {
	c := r.clone()
	w := len(l.states)
	if w == 0 {
		return c, nil
	}
	for _, pg := range c.pages {
		for i, s := range pg {
			if s == nil {
				continue
			}
			n := l.states[i%w].NewState()
			if err := n.Merge(s); err != nil {
				return recs[accState]{}, err
			}
			pg[i] = n
		}
	}
	return c, nil
}

// aggClause names an aggregate in a dead letter: "aggregate sum".
func aggClause(c plan.AggCall) string { return "aggregate " + c.Func }

// aggRowFails judges a row of an aggregate whose key failed (err) or
// whose aggregates' inputs are to be checked (agg.Agg.CheckRow) before
// any group takes the row: the operator calls it only then, after
// keyEval.evalHashed. A failing key or input fails the view (err), or
// (on_error = 'dead_letter') sends the row to the dead letters, named by
// the key's clause or the aggregate (aggClause), and skip says to leave
// the row out.
func aggRowFails(k *keyEval, l *aggLayout, row types.Row, op chunk.Op, err error) (skip bool, _ error) {
	if err != nil {
		return k.skip(row, op, err), err
	}
	for _, a := range l.checked {
		if err := a.CheckRow(row); err != nil {
			return k.j.rowError(k.in, row, op, aggClause(a.Call()), err), err
		}
	}
	return false, nil
}

// update adds (op Insert) or retracts row, of event time t, to a group.
func (l *aggLayout) update(w []int64, ss []accState, row types.Row, op chunk.Op, t int64) error {
	for i := range l.place {
		p := &l.place[i]
		var err error
		if p.n > 0 {
			err = p.a.FlatUpdate(w[p.off:p.off+p.n], nil, row, op)
		} else {
			err = ss[p.si].UpdateAt(nil, row, op, t)
		}
		if err != nil {
			return err
		}
	}
	w[0] += int64(op)
	return nil
}

// merge folds a group (ow, oss) into another (w, ss); ow and oss keep
// their contents.
func (l *aggLayout) merge(w []int64, ss []accState, ow []int64, oss []accState) error {
	for i := range l.place {
		p := &l.place[i]
		var err error
		if p.n > 0 {
			err = p.a.FlatMerge(w[p.off:p.off+p.n], ow[p.off:p.off+p.n])
		} else {
			err = ss[p.si].Merge(oss[p.si])
		}
		if err != nil {
			return err
		}
	}
	w[0] += ow[0]
	return nil
}

// results writes the aggregates' results of a group to out.
func (l *aggLayout) results(out types.Row, w []int64, ss []accState) {
	for i := range l.place {
		p := &l.place[i]
		if p.n > 0 {
			out[i] = p.a.FlatResult(w[p.off : p.off+p.n])
		} else {
			out[i] = ss[p.si].Result()
		}
	}
}

// pure reports whether results is a function of the flat words alone:
// every aggregate keeps its state in words (no accState, whose Result may
// reorganise it, as a t-digest compresses), so results computed from the
// same words are the same values.
func (l *aggLayout) pure() bool { return len(l.states) == 0 }

// groupBytes is the heap a group's accumulators take in their slabs (and,
// for accStates, in their own objects).
func (l *aggLayout) groupBytes(ss []accState) int64 {
	n := int64(8*l.words + 16*len(ss))
	for _, s := range ss {
		n += int64(s.SizeBytes())
	}
	return n
}

// encode writes a group's accumulators for a checkpoint.
func (l *aggLayout) encode(e *snapEnc, w []int64, ss []accState) error {
	for _, x := range w {
		e.varint(x)
	}
	return e.accs(ss)
}

// decode reads a group's accumulators written by encode into w and ss.
func (l *aggLayout) decode(d *snapDec, w []int64, ss []accState) {
	for i := range w {
		w[i] = d.varint()
	}
	st := d.accs(l.states)
	if d.err == nil {
		copy(ss, st)
	}
}

// skip reads past a group's accumulators written by encode (a restore
// that does not keep the group: rescale).
func (l *aggLayout) skip(d *snapDec) {
	for range l.words {
		d.varint()
	}
	d.accs(l.states)
}

// keyBytes approximates the heap a key takes when stored by value in a
// keyIndex: its values, and the strings they refer to rounded to 8 bytes.
func keyBytes(key types.Row) int64 {
	n := int64(32 * len(key))
	for _, v := range key {
		if len(v.S) > 0 {
			n += int64(len(v.S)+7) &^ 7
		}
	}
	return n
}
