package expr

import (
	"fmt"
	"math"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// ArithOp is an arithmetic operator.
type ArithOp uint8

// Arithmetic operators.
const (
	Add ArithOp = iota
	Sub
	Mul
	Div
	Mod
)

func (o ArithOp) String() string { return [...]string{"+", "-", "*", "/", "%"}[o] }

// arithMode selects the evaluation path of an Arith, fixed at bind time.
type arithMode uint8

const (
	amInt arithMode = iota
	amFloat
	amNumeric
	amTimeInterval   // timestamp|date ± interval -> timestamp
	amTimeTime       // timestamp - timestamp -> interval
	amDateInt        // date ± int -> date
	amDateDate       // date - date -> int
	amIntervalIntv   // interval ± interval
	amIntervalNum    // interval * or / number
	amNumInterval    // number * interval
	amIntervalAddTim // interval + timestamp
)

// Arith is L Op R with numeric promotion, timestamp/interval arithmetic and
// date arithmetic. Build it with NewArith, which type-checks.
type Arith struct {
	Op   ArithOp
	L, R Expr
	T    types.Type
	mode arithMode
}

// numRank orders numeric kinds for promotion.
func numRank(k types.Kind) int {
	switch k {
	case types.Int16:
		return 1
	case types.Int32:
		return 2
	case types.Int64:
		return 3
	case types.Numeric:
		return 4
	case types.Float32:
		return 5
	case types.Float64:
		return 6
	}
	return 0
}

// PromoteNumeric returns the common numeric type of a and b (Postgres'
// implicit promotion: int2 < int4 < int8 < numeric < float4 < float8).
func PromoteNumeric(a, b types.Type) types.Type {
	if a.Kind == types.Null {
		return b
	}
	if b.Kind == types.Null {
		return a
	}
	if numRank(a.Kind) >= numRank(b.Kind) {
		if a.Kind == types.Numeric {
			return types.TNumeric
		}
		return a
	}
	if b.Kind == types.Numeric {
		return types.TNumeric
	}
	return b
}

func mismatch(format string, args ...any) *sqlerr.Error {
	return sqlerr.New(sqlerr.DatatypeMismatch, format, args...)
}

// NewArith type-checks L Op R and returns the expression.
func NewArith(op ArithOp, l, r Expr) (Expr, error) {
	lt, rt := l.Type(), r.Type()
	lk, rk := lt.Kind, rt.Kind
	a := &Arith{Op: op, L: l, R: r}
	isNum := func(k types.Kind) bool { return k.IsNumeric() || k == types.Null }
	switch {
	case isNum(lk) && isNum(rk):
		a.T = PromoteNumeric(lt, rt)
		if a.T.Kind == types.Null {
			a.T = types.TInt64
		}
		switch {
		case a.T.Kind.IsInteger():
			a.mode = amInt
			if a.T.Kind != types.Int64 && numRank(lk) != numRank(rk) {
				a.T = types.Type{Kind: max(lk, rk)}
			}
		case a.T.Kind == types.Numeric:
			a.T = types.TNumeric
			a.mode = amNumeric
		default:
			a.mode = amFloat
		}
		return a, nil
	case (lk.IsTime() || lk == types.Date) && rk == types.Interval && (op == Add || op == Sub):
		a.T = types.Type{Kind: lk}
		if lk == types.Date {
			a.T = types.TTimestamp
		}
		a.mode = amTimeInterval
		return a, nil
	case lk == types.Interval && (rk.IsTime() || rk == types.Date) && op == Add:
		a.T = types.Type{Kind: rk}
		if rk == types.Date {
			a.T = types.TTimestamp
		}
		a.mode = amIntervalAddTim
		return a, nil
	case lk.IsTime() && rk.IsTime() && op == Sub:
		a.T, a.mode = types.TInterval, amTimeTime
		return a, nil
	case lk == types.Date && rk.IsInteger() && (op == Add || op == Sub):
		a.T, a.mode = types.TDate, amDateInt
		return a, nil
	case lk == types.Date && rk == types.Date && op == Sub:
		a.T, a.mode = types.TInt32, amDateDate
		return a, nil
	case lk == types.Interval && rk == types.Interval && (op == Add || op == Sub):
		a.T, a.mode = types.TInterval, amIntervalIntv
		return a, nil
	case lk == types.Interval && rk.IsNumeric() && (op == Mul || op == Div):
		a.T, a.mode = types.TInterval, amIntervalNum
		return a, nil
	case lk.IsNumeric() && rk == types.Interval && op == Mul:
		a.T, a.mode = types.TInterval, amNumInterval
		return a, nil
	case lk == types.Interval && rk == types.Null, lk == types.Null && rk == types.Interval:
		a.T, a.mode = types.TInterval, amIntervalIntv
		return a, nil
	case (lk.IsTime() || lk == types.Date) && rk == types.Null:
		a.T, a.mode = types.Type{Kind: lk}, amTimeInterval
		return a, nil
	}
	return nil, mismatch("operator does not exist: %s %s %s", lt, op, rt).
		WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
}

// Type implements Expr.
func (a *Arith) Type() types.Type { return a.T }

// String implements Expr.
func (a *Arith) String() string {
	return "(" + a.L.String() + " " + a.Op.String() + " " + a.R.String() + ")"
}

var (
	errDivZero = sqlerr.New(sqlerr.DivisionByZero, "division by zero")
	errIntOvf  = sqlerr.New(sqlerr.NumericOutOfRange, "integer out of range")
)

// Eval implements Expr. Integer and float arithmetic does not allocate.
func (a *Arith) Eval(ctx *Context, row types.Row) (types.Value, error) {
	l, err := a.L.Eval(ctx, row)
	if err != nil || l.K == types.Null {
		return types.Value{}, err
	}
	r, err := a.R.Eval(ctx, row)
	if err != nil || r.K == types.Null {
		return types.Value{}, err
	}
	switch a.mode {
	case amInt:
		x, y := l.I, r.I
		var z int64
		switch a.Op {
		case Add:
			z = x + y
			if (z > x) != (y > 0) {
				return types.Value{}, errIntOvf
			}
		case Sub:
			z = x - y
			if (z < x) != (y > 0) {
				return types.Value{}, errIntOvf
			}
		case Mul:
			if x != 0 && y != 0 {
				z = x * y
				if z/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
					return types.Value{}, errIntOvf
				}
			}
		case Div:
			if y == 0 {
				return types.Value{}, errDivZero
			}
			z = x / y
		case Mod:
			if y == 0 {
				return types.Value{}, errDivZero
			}
			z = x % y
		}
		switch a.T.Kind {
		case types.Int32:
			if z < math.MinInt32 || z > math.MaxInt32 {
				return types.Value{}, errIntOvf
			}
		case types.Int16:
			if z < math.MinInt16 || z > math.MaxInt16 {
				return types.Value{}, errIntOvf
			}
		}
		return types.Value{K: a.T.Kind, I: z}, nil
	case amFloat:
		x, y := l.Float(), r.Float()
		var z float64
		switch a.Op {
		case Add:
			z = x + y
		case Sub:
			z = x - y
		case Mul:
			z = x * y
		case Div:
			if y == 0 {
				return types.Value{}, errDivZero
			}
			z = x / y
		case Mod:
			if y == 0 {
				return types.Value{}, errDivZero
			}
			z = math.Mod(x, y)
		}
		if a.T.Kind == types.Float32 {
			return types.NewFloat32(z), nil
		}
		return types.NewFloat(z), nil
	case amNumeric:
		x, y := l.Decimal(), r.Decimal()
		var z decimal.Decimal
		switch a.Op {
		case Add:
			z = x.Add(y)
		case Sub:
			z = x.Sub(y)
		case Mul:
			z = x.Mul(y)
		case Div:
			if y.IsZero() {
				return types.Value{}, errDivZero
			}
			z = x.DivRound(y, 16)
		case Mod:
			if y.IsZero() {
				return types.Value{}, errDivZero
			}
			z = x.Mod(y)
		}
		return types.NewNumeric(z), nil
	case amTimeInterval:
		t := l.I
		if l.K == types.Date {
			t *= types.MicrosPerDay
		}
		if a.Op == Add {
			return types.Value{K: a.T.Kind, I: t + r.I}, nil
		}
		return types.Value{K: a.T.Kind, I: t - r.I}, nil
	case amIntervalAddTim:
		t := r.I
		if r.K == types.Date {
			t *= types.MicrosPerDay
		}
		return types.Value{K: a.T.Kind, I: t + l.I}, nil
	case amTimeTime:
		return types.NewIntervalMicros(l.I - r.I), nil
	case amDateInt:
		if a.Op == Add {
			return types.NewDate(l.I + r.I), nil
		}
		return types.NewDate(l.I - r.I), nil
	case amDateDate:
		return types.Value{K: types.Int32, I: l.I - r.I}, nil
	case amIntervalIntv:
		if a.Op == Add {
			return types.NewIntervalMicros(l.I + r.I), nil
		}
		return types.NewIntervalMicros(l.I - r.I), nil
	case amIntervalNum:
		f := r.Float()
		if a.Op == Div {
			if f == 0 {
				return types.Value{}, errDivZero
			}
			return types.NewIntervalMicros(int64(math.Round(float64(l.I) / f))), nil
		}
		return types.NewIntervalMicros(int64(math.Round(float64(l.I) * f))), nil
	case amNumInterval:
		return types.NewIntervalMicros(int64(math.Round(float64(r.I) * l.Float()))), nil
	}
	return types.Value{}, fmt.Errorf("arith: unknown mode %d", a.mode)
}

// Neg is unary minus.
type Neg struct{ E Expr }

// NewNeg type-checks -e.
func NewNeg(e Expr) (Expr, error) {
	k := e.Type().Kind
	if !k.IsNumeric() && k != types.Interval && k != types.Null {
		return nil, mismatch("operator does not exist: - %s", e.Type())
	}
	return &Neg{E: e}, nil
}

// Type implements Expr.
func (n *Neg) Type() types.Type {
	if n.E.Type().Kind == types.Null {
		return types.TInt64
	}
	return n.E.Type()
}

// String implements Expr.
func (n *Neg) String() string { return "(-" + n.E.String() + ")" }

// Eval implements Expr.
func (n *Neg) Eval(ctx *Context, row types.Row) (types.Value, error) {
	v, err := n.E.Eval(ctx, row)
	if err != nil || v.K == types.Null {
		return types.Value{}, err
	}
	switch v.K {
	case types.Float32:
		return types.NewFloat32(-v.Float()), nil
	case types.Float64:
		return types.NewFloat(-v.Float()), nil
	case types.Numeric:
		return types.NewNumeric(v.Decimal().Neg()), nil
	}
	if v.I == math.MinInt64 {
		return types.Value{}, errIntOvf
	}
	return types.Value{K: v.K, I: -v.I}, nil
}

// CmpOp is a comparison operator.
type CmpOp uint8

// Comparison operators.
const (
	EQ CmpOp = iota
	NE
	LT
	LE
	GT
	GE
)

func (o CmpOp) String() string { return [...]string{"=", "<>", "<", "<=", ">", ">="}[o] }

// Commute returns the operator with sides swapped (a < b == b > a).
func (o CmpOp) Commute() CmpOp {
	return [...]CmpOp{EQ, NE, GT, GE, LT, LE}[o]
}

// Negate returns the operator of NOT (a op b).
func (o CmpOp) Negate() CmpOp {
	return [...]CmpOp{NE, EQ, GE, GT, LE, LT}[o]
}

func (o CmpOp) holds(c int) bool {
	switch o {
	case EQ:
		return c == 0
	case NE:
		return c != 0
	case LT:
		return c < 0
	case LE:
		return c <= 0
	case GT:
		return c > 0
	}
	return c >= 0
}

// Comparable reports whether values of a and b can be compared.
func Comparable(a, b types.Type) bool {
	ak, bk := a.Kind, b.Kind
	switch {
	case ak == types.Null || bk == types.Null || ak == bk:
		return true
	case ak.IsNumeric() && bk.IsNumeric():
		return true
	case (ak.IsTime() || ak == types.Date) && (bk.IsTime() || bk == types.Date):
		return true
	case (ak == types.Text && bk == types.JSONB) || (ak == types.JSONB && bk == types.Text):
		return true
	}
	return false
}

// Cmp compares L and R; NULL on either side gives NULL.
type Cmp struct {
	Op   CmpOp
	L, R Expr
}

// NewCmp type-checks L Op R.
func NewCmp(op CmpOp, l, r Expr) (Expr, error) {
	if !Comparable(l.Type(), r.Type()) {
		return nil, mismatch("operator does not exist: %s %s %s", l.Type(), op, r.Type()).
			WithHint("No operator matches the given name and argument types. You might need to add explicit type casts.")
	}
	return &Cmp{Op: op, L: l, R: r}, nil
}

// Type implements Expr.
func (c *Cmp) Type() types.Type { return types.TBool }

// String implements Expr.
func (c *Cmp) String() string {
	return "(" + c.L.String() + " " + c.Op.String() + " " + c.R.String() + ")"
}

// Eval implements Expr. Comparisons of integers, floats, times and text do
// not allocate.
func (c *Cmp) Eval(ctx *Context, row types.Row) (types.Value, error) {
	l, err := c.L.Eval(ctx, row)
	if err != nil || l.K == types.Null {
		return types.Value{}, err
	}
	r, err := c.R.Eval(ctx, row)
	if err != nil || r.K == types.Null {
		return types.Value{}, err
	}
	var res int
	switch {
	case l.K == r.K && (l.K.IsInteger() || l.K.IsTime() || l.K == types.Date || l.K == types.Bool || l.K == types.Interval):
		switch {
		case l.I < r.I:
			res = -1
		case l.I > r.I:
			res = 1
		}
	case l.K == r.K && (l.K == types.Text || l.K == types.Bytea):
		res = strings.Compare(l.S, r.S)
	default:
		res = types.Compare(l, r)
	}
	if c.Op.holds(res) {
		return types.Value{K: types.Bool, I: 1}, nil
	}
	return types.Value{K: types.Bool}, nil
}

// And is a three-valued conjunction of two or more terms.
type And struct{ Terms []Expr }

// Type implements Expr.
func (a *And) Type() types.Type { return types.TBool }

// String implements Expr.
func (a *And) String() string { return joinOp(a.Terms, " AND ") }

// Eval implements Expr.
func (a *And) Eval(ctx *Context, row types.Row) (types.Value, error) {
	null := false
	for _, t := range a.Terms {
		v, err := t.Eval(ctx, row)
		if err != nil {
			return types.Value{}, err
		}
		if v.K == types.Null {
			null = true
			continue
		}
		if v.I == 0 {
			return types.Value{K: types.Bool}, nil
		}
	}
	if null {
		return types.Value{}, nil
	}
	return types.Value{K: types.Bool, I: 1}, nil
}

// Or is a three-valued disjunction of two or more terms.
type Or struct{ Terms []Expr }

// Type implements Expr.
func (o *Or) Type() types.Type { return types.TBool }

// String implements Expr.
func (o *Or) String() string { return joinOp(o.Terms, " OR ") }

// Eval implements Expr.
func (o *Or) Eval(ctx *Context, row types.Row) (types.Value, error) {
	null := false
	for _, t := range o.Terms {
		v, err := t.Eval(ctx, row)
		if err != nil {
			return types.Value{}, err
		}
		if v.K == types.Null {
			null = true
			continue
		}
		if v.I != 0 {
			return types.Value{K: types.Bool, I: 1}, nil
		}
	}
	if null {
		return types.Value{}, nil
	}
	return types.Value{K: types.Bool}, nil
}

func joinOp(es []Expr, op string) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return "(" + strings.Join(parts, op) + ")"
}

// Not is three-valued negation.
type Not struct{ E Expr }

// Type implements Expr.
func (n *Not) Type() types.Type { return types.TBool }

// String implements Expr.
func (n *Not) String() string { return "(NOT " + n.E.String() + ")" }

// Eval implements Expr.
func (n *Not) Eval(ctx *Context, row types.Row) (types.Value, error) {
	v, err := n.E.Eval(ctx, row)
	if err != nil || v.K == types.Null {
		return types.Value{}, err
	}
	if v.I != 0 {
		return types.Value{K: types.Bool}, nil
	}
	return types.Value{K: types.Bool, I: 1}, nil
}

// NewAnd returns the conjunction of terms, flattening nested Ands; one
// term is returned as is, none gives true.
func NewAnd(terms ...Expr) Expr {
	var out []Expr
	for _, t := range terms {
		if a, ok := t.(*And); ok {
			out = append(out, a.Terms...)
		} else if t != nil {
			out = append(out, t)
		}
	}
	switch len(out) {
	case 0:
		return &Const{V: types.NewBool(true), T: types.TBool}
	case 1:
		return out[0]
	}
	return &And{Terms: out}
}

// Conjuncts splits e into its AND terms.
func Conjuncts(e Expr) []Expr {
	if e == nil {
		return nil
	}
	if a, ok := e.(*And); ok {
		var out []Expr
		for _, t := range a.Terms {
			out = append(out, Conjuncts(t)...)
		}
		return out
	}
	return []Expr{e}
}

// IsNull is E IS [NOT] NULL.
type IsNull struct {
	E   Expr
	Not bool
}

// Type implements Expr.
func (n *IsNull) Type() types.Type { return types.TBool }

// String implements Expr.
func (n *IsNull) String() string {
	if n.Not {
		return "(" + n.E.String() + " IS NOT NULL)"
	}
	return "(" + n.E.String() + " IS NULL)"
}

// Eval implements Expr.
func (n *IsNull) Eval(ctx *Context, row types.Row) (types.Value, error) {
	v, err := n.E.Eval(ctx, row)
	if err != nil {
		return types.Value{}, err
	}
	return types.NewBool((v.K == types.Null) != n.Not), nil
}

// IsTruth is E IS [NOT] TRUE|FALSE.
type IsTruth struct {
	E     Expr
	Truth bool
	Not   bool
}

// Type implements Expr.
func (n *IsTruth) Type() types.Type { return types.TBool }

// String implements Expr.
func (n *IsTruth) String() string {
	s := "(" + n.E.String() + " IS "
	if n.Not {
		s += "NOT "
	}
	if n.Truth {
		return s + "TRUE)"
	}
	return s + "FALSE)"
}

// Eval implements Expr.
func (n *IsTruth) Eval(ctx *Context, row types.Row) (types.Value, error) {
	v, err := n.E.Eval(ctx, row)
	if err != nil {
		return types.Value{}, err
	}
	is := v.K != types.Null && (v.I != 0) == n.Truth
	return types.NewBool(is != n.Not), nil
}

// IsDistinct is L IS [NOT] DISTINCT FROM R: a comparison where NULL equals
// NULL and the result is never NULL.
type IsDistinct struct {
	L, R Expr
	Not  bool
}

// Type implements Expr.
func (n *IsDistinct) Type() types.Type { return types.TBool }

// String implements Expr.
func (n *IsDistinct) String() string {
	if n.Not {
		return "(" + n.L.String() + " IS NOT DISTINCT FROM " + n.R.String() + ")"
	}
	return "(" + n.L.String() + " IS DISTINCT FROM " + n.R.String() + ")"
}

// Eval implements Expr.
func (n *IsDistinct) Eval(ctx *Context, row types.Row) (types.Value, error) {
	l, err := n.L.Eval(ctx, row)
	if err != nil {
		return types.Value{}, err
	}
	r, err := n.R.Eval(ctx, row)
	if err != nil {
		return types.Value{}, err
	}
	var same bool
	switch {
	case l.K == types.Null || r.K == types.Null:
		same = l.K == r.K
	default:
		same = types.Compare(l, r) == 0
	}
	return types.NewBool(same == n.Not), nil
}

// When is one WHEN cond THEN result arm of a Case.
type When struct {
	Cond, Then Expr
}

// Case is CASE [Operand] WHEN ... THEN ... [ELSE ...] END. With an Operand,
// each When.Cond is a value compared to it for equality.
type Case struct {
	Operand Expr
	Whens   []When
	Else    Expr
	T       types.Type
}

// Type implements Expr.
func (c *Case) Type() types.Type { return c.T }

// String implements Expr.
func (c *Case) String() string {
	var b strings.Builder
	b.WriteString("CASE")
	if c.Operand != nil {
		b.WriteString(" " + c.Operand.String())
	}
	for _, w := range c.Whens {
		b.WriteString(" WHEN " + w.Cond.String() + " THEN " + w.Then.String())
	}
	if c.Else != nil {
		b.WriteString(" ELSE " + c.Else.String())
	}
	b.WriteString(" END")
	return b.String()
}

// Eval implements Expr.
func (c *Case) Eval(ctx *Context, row types.Row) (types.Value, error) {
	var op types.Value
	if c.Operand != nil {
		v, err := c.Operand.Eval(ctx, row)
		if err != nil {
			return types.Value{}, err
		}
		op = v
	}
	for _, w := range c.Whens {
		v, err := w.Cond.Eval(ctx, row)
		if err != nil {
			return types.Value{}, err
		}
		var hit bool
		if c.Operand != nil {
			hit = op.K != types.Null && v.K != types.Null && types.Compare(op, v) == 0
		} else {
			hit = v.K != types.Null && v.I != 0
		}
		if hit {
			return w.Then.Eval(ctx, row)
		}
	}
	if c.Else != nil {
		return c.Else.Eval(ctx, row)
	}
	return types.Value{}, nil
}

// Coalesce returns its first non-NULL argument.
type Coalesce struct {
	Args []Expr
	T    types.Type
}

// Type implements Expr.
func (c *Coalesce) Type() types.Type { return c.T }

// String implements Expr.
func (c *Coalesce) String() string { return "coalesce" + joinArgs(c.Args) }

// Eval implements Expr.
func (c *Coalesce) Eval(ctx *Context, row types.Row) (types.Value, error) {
	for _, a := range c.Args {
		v, err := a.Eval(ctx, row)
		if err != nil {
			return types.Value{}, err
		}
		if v.K != types.Null {
			return v, nil
		}
	}
	return types.Value{}, nil
}

func joinArgs(es []Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// In is E [NOT] IN (List...), with SQL NULL semantics.
type In struct {
	E    Expr
	List []Expr
	Not  bool
}

// Type implements Expr.
func (n *In) Type() types.Type { return types.TBool }

// String implements Expr.
func (n *In) String() string {
	op := " IN "
	if n.Not {
		op = " NOT IN "
	}
	return "(" + n.E.String() + op + joinArgs(n.List) + ")"
}

// Eval implements Expr.
func (n *In) Eval(ctx *Context, row types.Row) (types.Value, error) {
	v, err := n.E.Eval(ctx, row)
	if err != nil || v.K == types.Null {
		return types.Value{}, err
	}
	null := false
	for _, e := range n.List {
		w, err := e.Eval(ctx, row)
		if err != nil {
			return types.Value{}, err
		}
		if w.K == types.Null {
			null = true
			continue
		}
		if types.Compare(v, w) == 0 {
			return types.NewBool(!n.Not), nil
		}
	}
	if null {
		return types.Value{}, nil
	}
	return types.NewBool(n.Not), nil
}
