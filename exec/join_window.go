package exec

import (
	"fmt"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// windowJoinOp joins two windowed changelogs on equal windows plus keys
// (plan.WindowJoin). Rows join, retract and NULL-pad as in the regular
// join; a window's rows on both sides are freed once the watermark reaches
// the window bound plus Expire, when no row of that window can follow.
type windowJoinOp struct {
	joinCore
	n *plan.WindowJoin
	// winKey is the position of the window bound among each side's keys.
	winKey [2]int
	// byWin lists each side's key entries per window bound value, and live
	// counts those not dropped: a window all of whose rows were retracted
	// is not open.
	byWin [2]map[int64][]*rowEntry[sjKey]
	live  [2]map[int64]int
	wm    int64
	ckWM  int64 // wm at the last capture
}

func newWindowJoinOp(j *job, n *plan.WindowJoin) (*windowJoinOp, error) {
	o := &windowJoinOp{n: n, joinCore: newJoinCore(j, n.Kind, n.LeftKey, n.RightKey, n.Residual, n.Left, n.Right),
		byWin: [2]map[int64][]*rowEntry[sjKey]{{}, {}}, wm: chunk.NoTime}
	for s, ks := range [2][]expr.Expr{n.LeftKey, n.RightKey} {
		col := n.LeftWindow
		if s == 1 {
			col = n.RightWindow
		}
		o.winKey[s] = -1
		for k, e := range ks {
			if c, ok := e.(*expr.ColRef); ok && c.Idx == col {
				o.winKey[s] = k
				break
			}
		}
		if o.winKey[s] < 0 {
			return nil, fmt.Errorf("window join: window column #%d is not a join key", col)
		}
	}
	o.touched = o.track
	o.dropped = o.untrack
	o.live = [2]map[int64]int{{}, {}}
	return o, nil
}

// untrack takes a dropped key entry out of its window's live count, and
// the window out of byWin once none is left.
func (o *windowJoinOp) untrack(s int, e *rowEntry[sjKey]) {
	w := e.val.win
	if o.live[s][w]--; o.live[s][w] <= 0 {
		delete(o.live[s], w)
		delete(o.byWin[s], w)
	}
}

// track files a key entry under its window the first time it is seen.
func (o *windowJoinOp) track(s int, e *rowEntry[sjKey], key types.Row) {
	if e.val.last != 0 {
		return
	}
	e.val.last = 1
	w := eventTime(key[o.winKey[s]])
	e.val.win = w
	o.byWin[s][w] = append(o.byWin[s][w], e)
	o.live[s][w]++
}

func (o *windowJoinOp) OnData(in int, c *chunk.Chunk, out *emitter) error {
	err := o.onData(in, c, out)
	o.countWindows()
	return err
}

// countWindows reports the windows with state on either side.
func (o *windowJoinOp) countWindows() {
	n := len(o.byWin[0])
	for w := range o.byWin[1] {
		if _, ok := o.byWin[0][w]; !ok {
			n++
		}
	}
	o.stats.openWindows.Store(int64(n))
}

// OnWatermark frees the windows the watermark has closed on both inputs.
func (o *windowJoinOp) OnWatermark(wm int64, _ *emitter) (int64, error) {
	o.wm = wm
	o.freeClosed()
	o.stats.stateBytes.Store(max(o.bytes, 0))
	o.countWindows()
	return wm, nil
}

// freeClosed frees the windows closed at the watermark.
func (o *windowJoinOp) freeClosed() {
	wm := o.wm
	for s := range 2 {
		for w, es := range o.byWin[s] {
			if satAdd(w, o.n.Expire) > wm {
				continue
			}
			for _, e := range es {
				if !e.val.dead {
					o.drop(s, e)
				}
			}
			delete(o.byWin[s], w)
		}
	}
}

func (o *windowJoinOp) OnBarrier(uint64, *emitter) error { return nil }

// satAdd is a+b, saturating at the int64 limits.
func satAdd(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return 1<<63 - 1
	case b < 0 && s > a:
		return -1 << 63
	}
	return s
}

// Snapshot encodes the open windows' rows.
func (o *windowJoinOp) Snapshot() ([]byte, error) {
	e := &snapEnc{}
	e.varint(o.wm)
	e.bytes(o.snapshot(false))
	return e.b, nil
}

// Restore replaces the open windows' rows with a snapshot's.
func (o *windowJoinOp) Restore(b []byte) error {
	d := &snapDec{b: b}
	o.wm = d.varint()
	body := d.bytes()
	if err := d.done(); err != nil {
		return fmt.Errorf("restore window join: %w", err)
	}
	o.byWin = [2]map[int64][]*rowEntry[sjKey]{{}, {}}
	o.live = [2]map[int64]int{{}, {}}
	if err := o.restore(body, false, o.restored); err != nil {
		return fmt.Errorf("restore window join: %w", err)
	}
	o.countWindows()
	return nil
}

// restoreMore adds a snapshot's keys to those held (rescaler). Every old
// copy saw the same watermarks, so its watermark is the one held.
func (o *windowJoinOp) restoreMore(b []byte) error {
	d := &snapDec{b: b}
	o.wm = max(o.wm, d.varint())
	body := d.bytes()
	if err := d.done(); err != nil {
		return fmt.Errorf("restore window join: %w", err)
	}
	if err := o.restore(body, true, o.restored); err != nil {
		return fmt.Errorf("restore window join: %w", err)
	}
	return nil
}

func (o *windowJoinOp) rescaled() {
	o.stats.stateBytes.Store(max(o.bytes, 0))
	o.countWindows()
}

// restored files a restored key entry under its window (one replaced in
// place is filed already).
func (o *windowJoinOp) restored(s int, e *rowEntry[sjKey], added bool) {
	if added {
		e.val.last = 0
		o.track(s, e, e.key)
	}
}

func (o *windowJoinOp) SnapshotBase() ([]byte, error) {
	e := &snapEnc{}
	e.varint(o.wm)
	e.bytes(o.snapshotBase())
	o.ckWM = o.wm
	return e.b, nil
}

func (o *windowJoinOp) SnapshotDelta() (b []byte, changes, superseded int, err error) {
	e := o.enc.encoder(o.pending())
	e.uvarint(snapJoinDeltaVersion)
	e.varint(o.wm)
	changes, superseded = o.delta(e)
	if o.wm != o.ckWM {
		changes++ // the header counts: the watermark moved
		o.ckWM = o.wm
	}
	return e.b, changes, superseded, nil
}

func (o *windowJoinOp) RestoreDelta(b []byte) error {
	d := &snapDec{b: b}
	if v := d.uvarint(); d.err == nil && v != snapJoinDeltaVersion {
		return fmt.Errorf("restore window join delta: %w", errSnapshotVersion(v, snapJoinDeltaVersion))
	}
	o.wm = d.varint()
	o.restoreDelta(d, o.restored)
	if err := d.done(); err != nil {
		return fmt.Errorf("restore window join delta: %w", err)
	}
	// Windows the watermark closed hold only entries the delta dropped.
	o.freeClosed()
	o.countWindows()
	return nil
}
