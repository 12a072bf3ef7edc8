package expr

import (
	"fmt"

	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// NullIf is NULLIF(L, R): NULL when L = R, else L.
type NullIf struct{ L, R Expr }

// Type implements Expr.
func (n *NullIf) Type() types.Type { return n.L.Type() }

// String implements Expr.
func (n *NullIf) String() string { return "nullif(" + n.L.String() + ", " + n.R.String() + ")" }

// Eval implements Expr.
func (n *NullIf) Eval(ctx *Context, row types.Row) (types.Value, error) {
	l, err := n.L.Eval(ctx, row)
	if err != nil || l.K == types.Null {
		return types.Value{}, err
	}
	r, err := n.R.Eval(ctx, row)
	if err != nil {
		return types.Value{}, err
	}
	if r.K != types.Null && types.Compare(l, r) == 0 {
		return types.Value{}, nil
	}
	return l, nil
}

// Extreme is GREATEST(...) or LEAST(...): NULL arguments are ignored.
type Extreme struct {
	Args     []Expr
	Greatest bool
	T        types.Type
}

// Type implements Expr.
func (n *Extreme) Type() types.Type { return n.T }

// String implements Expr.
func (n *Extreme) String() string {
	if n.Greatest {
		return "greatest" + joinArgs(n.Args)
	}
	return "least" + joinArgs(n.Args)
}

// Eval implements Expr.
func (n *Extreme) Eval(ctx *Context, row types.Row) (types.Value, error) {
	var best types.Value
	for _, a := range n.Args {
		v, err := a.Eval(ctx, row)
		if err != nil {
			return types.Value{}, err
		}
		if v.K == types.Null {
			continue
		}
		if best.K == types.Null {
			best = v
			continue
		}
		c := types.Compare(v, best)
		if (n.Greatest && c > 0) || (!n.Greatest && c < 0) {
			best = v
		}
	}
	return best, nil
}

// SubqueryMode is what a Subquery computes from the subquery's rows.
type SubqueryMode uint8

// Subquery modes.
const (
	// ScalarSubquery yields the single value of the single row (NULL when
	// no row; more than one row is an error 21000).
	ScalarSubquery SubqueryMode = iota
	// ExistsSubquery yields whether there is a row.
	ExistsSubquery
	// AnySubquery yields Test Op ANY(rows) (IN is Op EQ); with All it is
	// Test Op ALL(rows).
	AnySubquery
	// ArraySubquery yields ARRAY(subquery): the first column of every row,
	// as array text ("{a,b}").
	ArraySubquery
)

// Subquery evaluates a subquery plan through ctx.RunSubquery; Plan is a
// planner/plan.Node (typed any to avoid an import cycle). OuterRefs inside
// the plan read the row Eval is called with. Not negates the result (NOT
// EXISTS, NOT IN).
type Subquery struct {
	Mode SubqueryMode
	Plan any
	// Test and Op are the left side and operator of ANY/ALL/IN.
	Test Expr
	Op   CmpOp
	All  bool
	Not  bool
	// Correlated is true when the plan reads the outer row; an executor
	// may cache the rows of an uncorrelated subquery for a statement.
	Correlated bool
	T          types.Type
	// Label renders the plan in String (set by the planner).
	Label string
}

// Type implements Expr.
func (s *Subquery) Type() types.Type { return s.T }

// String implements Expr.
func (s *Subquery) String() string {
	neg := ""
	if s.Not {
		neg = "NOT "
	}
	switch s.Mode {
	case ExistsSubquery:
		return neg + "EXISTS(" + s.Label + ")"
	case ArraySubquery:
		return "ARRAY(" + s.Label + ")"
	case AnySubquery:
		q := "ANY"
		if s.All {
			q = "ALL"
		}
		return neg + "(" + s.Test.String() + " " + s.Op.String() + " " + q + "(" + s.Label + "))"
	}
	return "(" + s.Label + ")"
}

// Eval implements Expr.
func (s *Subquery) Eval(ctx *Context, row types.Row) (types.Value, error) {
	if ctx == nil || ctx.RunSubquery == nil {
		return types.Value{}, sqlerr.New(sqlerr.FeatureNotSupported, "subqueries are not supported in this context")
	}
	var test types.Value
	if s.Mode == AnySubquery {
		v, err := s.Test.Eval(ctx, row)
		if err != nil {
			return types.Value{}, err
		}
		test = v
	}
	rows, err := ctx.RunSubquery(ctx, s.Plan, row)
	if err != nil {
		return types.Value{}, fmt.Errorf("run subquery: %w", err)
	}
	switch s.Mode {
	case ScalarSubquery:
		switch len(rows) {
		case 0:
			return types.Value{}, nil
		case 1:
			return rows[0][0], nil
		}
		return types.Value{}, sqlerr.New("21000", "more than one row returned by a subquery used as an expression")
	case ExistsSubquery:
		return types.NewBool((len(rows) > 0) != s.Not), nil
	case ArraySubquery:
		vals := make([]types.Value, len(rows))
		for i, r := range rows {
			vals[i] = r[0]
		}
		return types.NewText(ArrayText(vals)), nil
	}
	// ANY / ALL with SQL NULL semantics.
	if test.K == types.Null {
		if len(rows) == 0 {
			return types.NewBool(s.All != s.Not), nil
		}
		return types.Value{}, nil
	}
	null := false
	for _, r := range rows {
		v := r[0]
		if v.K == types.Null {
			null = true
			continue
		}
		h := s.Op.holds(types.Compare(test, v))
		if s.All && !h {
			return types.NewBool(s.Not), nil
		}
		if !s.All && h {
			return types.NewBool(!s.Not), nil
		}
	}
	if null {
		return types.Value{}, nil
	}
	return types.NewBool(s.All != s.Not), nil
}

// Children returns the direct sub-expressions of e (nil for leaves and for
// node types this package does not know).
func Children(e Expr) []Expr {
	switch n := e.(type) {
	case *Arith:
		return []Expr{n.L, n.R}
	case *Neg:
		return []Expr{n.E}
	case *Cmp:
		return []Expr{n.L, n.R}
	case *And:
		return n.Terms
	case *Or:
		return n.Terms
	case *Not:
		return []Expr{n.E}
	case *IsNull:
		return []Expr{n.E}
	case *IsTruth:
		return []Expr{n.E}
	case *IsDistinct:
		return []Expr{n.L, n.R}
	case *Case:
		var out []Expr
		if n.Operand != nil {
			out = append(out, n.Operand)
		}
		for _, w := range n.Whens {
			out = append(out, w.Cond, w.Then)
		}
		if n.Else != nil {
			out = append(out, n.Else)
		}
		return out
	case *Coalesce:
		return n.Args
	case *In:
		return append([]Expr{n.E}, n.List...)
	case *Like:
		return []Expr{n.E, n.Pattern}
	case *Regexp:
		return []Expr{n.E, n.Pattern}
	case *Cast:
		return []Expr{n.E}
	case *Func:
		return n.Args
	case *NullIf:
		return []Expr{n.L, n.R}
	case *Extreme:
		return n.Args
	case *Subquery:
		if n.Test != nil {
			return []Expr{n.Test}
		}
	}
	return nil
}

// Transform rebuilds e bottom-up: children first, then f on the node with
// its new children. f returns the node itself to keep it.
func Transform(e Expr, f func(Expr) (Expr, error)) (Expr, error) {
	if e == nil {
		return nil, nil
	}
	kids := Children(e)
	if len(kids) > 0 {
		nk := make([]Expr, len(kids))
		changed := false
		for i, k := range kids {
			c, err := Transform(k, f)
			if err != nil {
				return nil, err
			}
			nk[i] = c
			changed = changed || c != k
		}
		if changed {
			e = withChildren(e, nk)
		}
	}
	return f(e)
}

// withChildren returns a copy of e with its children replaced (same order
// as Children).
func withChildren(e Expr, k []Expr) Expr {
	switch n := e.(type) {
	case *Arith:
		c := *n
		c.L, c.R = k[0], k[1]
		return &c
	case *Neg:
		return &Neg{E: k[0]}
	case *Cmp:
		return &Cmp{Op: n.Op, L: k[0], R: k[1]}
	case *And:
		return &And{Terms: k}
	case *Or:
		return &Or{Terms: k}
	case *Not:
		return &Not{E: k[0]}
	case *IsNull:
		return &IsNull{E: k[0], Not: n.Not}
	case *IsTruth:
		return &IsTruth{E: k[0], Truth: n.Truth, Not: n.Not}
	case *IsDistinct:
		return &IsDistinct{L: k[0], R: k[1], Not: n.Not}
	case *Case:
		c := &Case{T: n.T}
		i := 0
		if n.Operand != nil {
			c.Operand = k[0]
			i = 1
		}
		for range n.Whens {
			c.Whens = append(c.Whens, When{Cond: k[i], Then: k[i+1]})
			i += 2
		}
		if n.Else != nil {
			c.Else = k[i]
		}
		return c
	case *Coalesce:
		return &Coalesce{Args: k, T: n.T}
	case *In:
		return &In{E: k[0], List: k[1:], Not: n.Not}
	case *Like:
		c := *n
		c.E, c.Pattern = k[0], k[1]
		return &c
	case *Regexp:
		c := *n
		c.E, c.Pattern = k[0], k[1]
		return &c
	case *Cast:
		return &Cast{E: k[0], T: n.T}
	case *Func:
		c := *n
		c.Args = k
		return &c
	case *NullIf:
		return &NullIf{L: k[0], R: k[1]}
	case *Extreme:
		return &Extreme{Args: k, Greatest: n.Greatest, T: n.T}
	case *Subquery:
		c := *n
		c.Test = k[0]
		return &c
	}
	return e
}

// Walk calls f on e and every sub-expression, parents first; f returning
// false stops descent below that node.
func Walk(e Expr, f func(Expr) bool) {
	if e == nil || !f(e) {
		return
	}
	for _, k := range Children(e) {
		Walk(k, f)
	}
}

// IsConstant reports whether e reads no column, parameter, outer row,
// subquery or volatile function, so that it can be folded at plan time.
func IsConstant(e Expr) bool {
	ok := true
	Walk(e, func(x Expr) bool {
		switch n := x.(type) {
		case *ColRef, *OuterRef, *Param, *Subquery:
			ok = false
		case *Func:
			if n.Def != nil && n.Def.Volatile {
				ok = false
			}
		case *Const, *Arith, *Neg, *Cmp, *And, *Or, *Not, *IsNull, *IsTruth, *IsDistinct,
			*Case, *Coalesce, *In, *Like, *Regexp, *Cast, *NullIf, *Extreme:
		default:
			ok = false
		}
		return ok
	})
	return ok
}

// Fold evaluates constant sub-expressions of e into Consts; errors leave
// the sub-expression unfolded (it fails at run time, if it runs at all).
func Fold(e Expr) Expr {
	out, _ := Transform(e, func(x Expr) (Expr, error) {
		if _, ok := x.(*Const); ok || !IsConstant(x) {
			return x, nil
		}
		v, err := x.Eval(nil, nil)
		if err != nil {
			return x, nil
		}
		return &Const{V: v, T: x.Type()}, nil
	})
	return out
}
