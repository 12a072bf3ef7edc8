package exec

import (
	"container/heap"
	"math"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/types"
)

// session is one open session window of one key.
type session struct {
	start, last int64 // first and last event time
	states      []accState
	n           int64
	prev        types.Row
	dirty       bool
	dead        bool
	queued      int64 // end under which the session sits in the end heap
	keys        *rowEntry[[]*session]
}

// sessionOp aggregates session windows per key with a gap and an optional
// maximum duration. A row joins every session it is within gap of; an
// out-of-order row that bridges two sessions merges them. A row whose event
// time is behind the watermark minus the allowed lateness is late: a
// session it would extend may already have been emitted, so it is recorded
// instead (this keeps the output equal to sessionizing the on-time rows). Sessions close when the
// watermark passes their end (last event + gap, capped at start + max
// duration) plus the allowed lateness.
type sessionOp struct {
	j      *job
	n      *plan.WindowAgg
	stats  *opStats
	aggs   []aggFn
	keys   *keyEval
	nk     int
	kind   types.Kind
	late   lateRecorder
	gap    int64
	maxDur int64

	byKey *rowMap[[]*session]
	ends  endHeap
	wm    int64
	open  int64
	bytes int64

	dirty   []*session
	retired []*session // merged away this chunk: retract their rows
}

func newSessionOp(j *job, n *plan.WindowAgg, aggs []aggFn, kind types.Kind, st *opStats) *sessionOp {
	return &sessionOp{j: j, n: n, stats: st, aggs: aggs, keys: newKeyEval(n.GroupBy), nk: len(n.GroupBy), kind: kind,
		late: lateRecorder{j: j, schema: n.Input.Schema()}, gap: n.Window.Gap, maxDur: n.Window.MaxDuration,
		byKey: newRowMap[[]*session](256), wm: math.MinInt64}
}

func (o *sessionOp) end(s *session) int64 {
	e := s.last + o.gap
	if o.maxDur > 0 && s.start+o.maxDur < e {
		e = s.start + o.maxDur
	}
	return e
}

// fits reports whether a session spanning [lo, hi] respects the maximum
// duration.
func (o *sessionOp) fits(lo, hi int64) bool { return o.maxDur <= 0 || hi-lo < o.maxDur }

func (o *sessionOp) OnData(_ int, c *chunk.Chunk, out *emitter) error {
	tc := o.n.Window.TimeCol
	for i := range c.Len() {
		row := c.Row(i)
		t := eventTime(row[tc])
		if t == chunk.NoTime {
			continue
		}
		if o.wm != math.MinInt64 && t < o.wm-o.n.Lateness {
			// Behind the watermark (minus the grace): any session the row
			// could have joined or bridged may already be emitted.
			o.late.record(row, t, o.wm)
			continue
		}
		key, h, err := o.keys.eval(row)
		if err != nil {
			return err
		}
		ke := o.byKey.get(h, key)
		var hits []*session
		if ke != nil {
			for _, s := range ke.val {
				if t >= s.start-o.gap && t < s.last+o.gap && t < o.end(s)+o.gap {
					hits = append(hits, s)
				}
			}
		}
		// Keep the longest prefix of hits that fits the maximum duration.
		lo, hi := t, t
		k := 0
		for _, s := range hits {
			nlo, nhi := min(lo, s.start), max(hi, s.last)
			if !o.fits(nlo, nhi) {
				break
			}
			lo, hi = nlo, nhi
			k++
		}
		hits = hits[:k]
		op := c.Ops[i]
		if len(hits) == 0 {
			if op == chunk.Delete {
				continue // retraction of a row whose session is gone
			}
			if ke == nil {
				ke = o.byKey.insert(h, copyRow(key))
			}
			s := &session{start: t, last: t, states: make([]accState, len(o.aggs)), keys: ke, queued: math.MinInt64}
			for i, a := range o.aggs {
				s.states[i] = a.NewState()
				o.bytes += int64(s.states[i].SizeBytes())
			}
			o.bytes += int64(96 + 16*len(o.aggs))
			o.open++
			ke.val = append(ke.val, s)
			hits = append(hits, s)
		}
		s := hits[0]
		for _, other := range hits[1:] {
			for i := range s.states {
				if err := s.states[i].Merge(other.states[i]); err != nil {
					return err
				}
			}
			s.n += other.n
			s.start = min(s.start, other.start)
			s.last = max(s.last, other.last)
			o.kill(other)
		}
		for _, st := range s.states {
			if err := st.UpdateAt(nil, row, op, t); err != nil {
				return err
			}
		}
		s.n += int64(op)
		s.start = min(s.start, t)
		s.last = max(s.last, t)
		if e := o.end(s); s.queued == math.MinInt64 || e < s.queued {
			s.queued = e
			heap.Push(&o.ends, endItem{end: e, s: s})
		}
		if o.n.Emit == plan.EmitOnUpdate && !s.dirty {
			s.dirty = true
			o.dirty = append(o.dirty, s)
		}
	}
	if len(o.dirty) >= maxDirty {
		o.emitUpdates(out)
	}
	o.publish()
	return nil
}

// FlushBatch emits the updates gathered since the last flush.
func (o *sessionOp) FlushBatch(out *emitter) error {
	o.emitUpdates(out)
	return nil
}

// kill removes a session merged into another.
func (o *sessionOp) kill(s *session) {
	s.dead = true
	ke := s.keys
	for i, x := range ke.val {
		if x == s {
			ke.val = append(ke.val[:i], ke.val[i+1:]...)
			break
		}
	}
	o.open--
	o.bytes -= int64(96+16*len(o.aggs)) + stateSize(s.states) // checkpoint: free the states' bytes too
	if s.prev != nil {
		o.retired = append(o.retired, s)
	}
}

func (o *sessionOp) output(out *emitter, op chunk.Op, key types.Row, s *session) types.Row {
	end := o.end(s)
	row := out.row(op, end-1)
	copy(row, key)
	row[o.nk] = types.Value{K: o.kind, I: s.start}
	row[o.nk+1] = types.Value{K: o.kind, I: end}
	row[o.nk+2] = types.Value{K: o.kind, I: end - 1}
	for i, st := range s.states {
		row[o.nk+3+i] = st.Result()
	}
	return row
}

func (o *sessionOp) emitUpdates(out *emitter) {
	for _, s := range o.retired {
		out.append(chunk.Delete, s.prev[o.nk+2].I, s.prev)
		s.prev = nil
	}
	clear(o.retired)
	o.retired = o.retired[:0]
	for _, s := range o.dirty {
		s.dirty = false
		if s.dead {
			continue
		}
		if s.prev != nil {
			out.append(chunk.Delete, s.prev[o.nk+2].I, s.prev)
			s.prev = nil
		}
		if s.n > 0 {
			s.prev = copyRow(o.output(out, chunk.Insert, s.keys.key, s))
		}
	}
	clear(o.dirty)
	o.dirty = o.dirty[:0]
}

func (o *sessionOp) OnWatermark(wm int64, out *emitter) (int64, error) {
	o.emitUpdates(out)
	o.wm = wm
	for len(o.ends) > 0 {
		it := o.ends[0]
		if it.end+o.n.Lateness > wm {
			break
		}
		heap.Pop(&o.ends)
		s := it.s
		if s.dead || s.queued != it.end {
			continue // stale entry: the session was merged or requeued
		}
		if e := o.end(s); e > it.end {
			s.queued = e // the session grew: wait for its new end
			heap.Push(&o.ends, endItem{end: e, s: s})
			continue
		}
		if o.n.Emit == plan.EmitOnWindowClose && s.n > 0 {
			o.output(out, chunk.Insert, s.keys.key, s)
			if err := out.maybeFlush(); err != nil {
				return 0, err
			}
		}
		s.dead = true
		ke := s.keys
		for i, x := range ke.val {
			if x == s {
				ke.val = append(ke.val[:i], ke.val[i+1:]...)
				break
			}
		}
		if len(ke.val) == 0 {
			o.byKey.remove(ke)
		}
		o.open--
		o.bytes -= int64(96+16*len(o.aggs)) + stateSize(s.states) // checkpoint: free the states' bytes too
	}
	o.publish()
	return satSub(wm, o.n.Lateness), nil
}

func (o *sessionOp) OnBarrier(_ uint64, out *emitter) error {
	o.emitUpdates(out)
	return nil
}

func (o *sessionOp) publish() {
	o.stats.openWindows.Store(o.open)
	o.stats.stateBytes.Store(max(o.bytes, 0) + int64(len(o.ends))*24)
}

type endItem struct {
	end int64
	s   *session
}

// endHeap orders session end entries; entries go stale when a session
// grows and are skipped when popped.
type endHeap []endItem

func (h endHeap) Len() int           { return len(h) }
func (h endHeap) Less(i, j int) bool { return h[i].end < h[j].end }
func (h endHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)        { *h = append(*h, x.(endItem)) }
func (h *endHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = endItem{}
	*h = old[:len(old)-1]
	return it
}
