package agg

import (
	"math"
	"math/big"
	"strconv"

	"github.com/sluice-db/sluice/exec/chunk"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// flatKind names the aggregates whose whole state is a few int64 words.
// Their States (countStarState, countState, intSumState, floatSumState,
// minMaxIntState, boolState) are those words behind a pointer and call the
// Flat methods, so both forms share one implementation.
type flatKind uint8

const (
	flatNone      flatKind = iota
	flatCountStar          // [n]
	flatCount              // [n]
	flatIntSum             // [sum.hi, sum.lo, n]
	flatFloatSum           // [float64 bits of sum, n]
	flatMinMaxInt          // [v, set]
	flatBool               // [trues, falses]
)

var flatWords = [...]int{flatNone: 0, flatCountStar: 1, flatCount: 1, flatIntSum: 3, flatFloatSum: 2, flatMinMaxInt: 2, flatBool: 2}

// FlatWords is the number of int64 words that hold a state of a in flat
// form, or 0 when a has no flat form (its state must be a State). The
// flat forms exist for count, sum and avg over integers, intervals and
// floats, append-only min and max over integer-ordered kinds, and bool_and
// / bool_or, without DISTINCT. All-zero words are the empty state.
//
// A caller that keeps many groups (window aggregates, sessions) stores the
// words inline, in one slab, instead of a State interface pointing to a
// separately allocated struct.
func (a *Agg) FlatWords() int { return flatWords[a.flat] }

// FlatUpdate is State.Update on the flat state w (FlatWords words): it adds
// or retracts row. On error w is unchanged.
func (a *Agg) FlatUpdate(w []int64, ctx *expr.Context, row types.Row, op chunk.Op) error {
	if a.flat == flatCountStar {
		w[0] += int64(op)
		return nil
	}
	v, ok, err := a.input(ctx, row)
	if !ok {
		return err
	}
	switch a.flat {
	case flatCount:
		w[0] += int64(op)
	case flatIntSum:
		s := int128{hi: w[0], lo: uint64(w[1])}
		if op == chunk.Delete {
			s = s.sub(v.I)
		} else {
			s = s.add(v.I)
		}
		if err := a.checkSum(s); err != nil {
			return err
		}
		w[0], w[1] = s.hi, int64(s.lo)
		w[2] += int64(op)
	case flatFloatSum:
		s := math.Float64frombits(uint64(w[0]))
		if op == chunk.Delete {
			s -= v.Float()
		} else {
			s += v.Float()
		}
		w[0] = int64(math.Float64bits(s))
		w[1] += int64(op)
	case flatMinMaxInt:
		if op == chunk.Delete {
			return a.errNoRetract()
		}
		a.minMaxAdd(w, v.I)
	case flatBool:
		if v.Bool() {
			w[0] += int64(op)
		} else {
			w[1] += int64(op)
		}
	}
	return nil
}

func (a *Agg) minMaxAdd(w []int64, i int64) {
	if w[1] == 0 || (a.max && i > w[0]) || (!a.max && i < w[0]) {
		w[0], w[1] = i, 1
	}
}

// checkSum rejects a running integer sum outside the result type
// (sum(integer) is bigint in Postgres and errors on overflow; numeric
// results never do).
func (a *Agg) checkSum(sum int128) error {
	if sum.fits() || a.avg {
		return nil
	}
	switch a.typ.Kind {
	case types.Numeric, types.Float32, types.Float64:
		return nil
	}
	return outOfRange(a.typ.Kind)
}

// FlatMerge is State.Merge on flat states: it folds o into w. o is not
// changed. On error w is unchanged.
func (a *Agg) FlatMerge(w, o []int64) error {
	switch a.flat {
	case flatCountStar, flatCount:
		w[0] += o[0]
	case flatIntSum:
		s := int128{hi: w[0], lo: uint64(w[1])}.plus(int128{hi: o[0], lo: uint64(o[1])})
		if err := a.checkSum(s); err != nil {
			return err
		}
		w[0], w[1] = s.hi, int64(s.lo)
		w[2] += o[2]
	case flatFloatSum:
		w[0] = int64(math.Float64bits(math.Float64frombits(uint64(w[0])) + math.Float64frombits(uint64(o[0]))))
		w[1] += o[1]
	case flatMinMaxInt:
		if o[1] != 0 {
			a.minMaxAdd(w, o[0])
		}
	case flatBool:
		w[0] += o[0]
		w[1] += o[1]
	}
	return nil
}

// FlatResult is State.Result of the flat state w.
func (a *Agg) FlatResult(w []int64) types.Value {
	switch a.flat {
	case flatCountStar, flatCount:
		return types.NewInt(w[0])
	case flatIntSum:
		return a.intSumResult(int128{hi: w[0], lo: uint64(w[1])}, w[2])
	case flatFloatSum:
		if w[1] <= 0 {
			return types.NullValue
		}
		sum := math.Float64frombits(uint64(w[0]))
		if a.avg {
			return floatResult(a.typ.Kind, sum/float64(w[1]))
		}
		return floatResult(a.typ.Kind, sum)
	case flatMinMaxInt:
		if w[1] == 0 {
			return types.NullValue
		}
		return types.Value{K: a.typ.Kind, I: w[0]}
	case flatBool:
		if w[0] <= 0 && w[1] <= 0 {
			return types.NullValue
		}
		if a.max { // bool_or
			return types.NewBool(w[0] > 0)
		}
		return types.NewBool(w[1] <= 0)
	}
	return types.NullValue
}

func (a *Agg) intSumResult(sum int128, n int64) types.Value {
	if n <= 0 {
		return types.NullValue
	}
	k := a.typ.Kind
	if a.avg {
		switch k {
		case types.Numeric:
			return divNumeric(sum.decimal(), 0, n)
		case types.Float32, types.Float64:
			return floatResult(k, sum.float()/float64(n))
		}
		// interval (or an integer result the planner asked for): truncate.
		if sum.fits() {
			return types.Value{K: k, I: int64(sum.lo) / n}
		}
		q := new(big.Int).Quo(sum.big(), big.NewInt(n))
		return types.Value{K: k, I: q.Int64()}
	}
	switch k {
	case types.Numeric:
		if sum.fits() {
			return types.Value{K: types.Numeric, S: strconv.FormatInt(int64(sum.lo), 10)}
		}
		return types.Value{K: types.Numeric, S: sum.big().String()}
	case types.Float32, types.Float64:
		return floatResult(k, sum.float())
	}
	return types.Value{K: k, I: int64(sum.lo)}
}
