package expr

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluice-db/sluice/sql/types"
)

// Expr is a bound, type-checked scalar expression. Eval must be safe for
// concurrent use by several goroutines with distinct Contexts; an Expr holds
// no per-evaluation state.
type Expr interface {
	// Type is the result type.
	Type() types.Type
	// Eval computes the expression over row. ctx may be nil in streaming
	// operators; expressions that need it (subqueries, now(),
	// current_setting) return an error when it is nil.
	Eval(ctx *Context, row types.Row) (types.Value, error)
	// String renders the expression stably for EXPLAIN and golden files.
	String() string
}

// Context carries what some expressions need beyond the row.
type Context struct {
	// Now is the statement's clock (processing time). Never time.Now directly.
	Now func() time.Time
	// Setting returns a session setting by name (current_setting()).
	Setting func(name string) (string, bool)
	// Outer is the stack of enclosing rows for correlated subqueries;
	// OuterRef{Depth: 1} reads Outer[len(Outer)-1].
	Outer []types.Row
	// RunSubquery executes a subquery plan (a plan.Node, typed any to avoid
	// an import cycle) with ctx.Outer extended by the current row, and
	// returns its rows. The batch executor provides it.
	RunSubquery func(ctx *Context, plan any, outer types.Row) ([]types.Row, error)
	// Database and User are the session's, for current_database() etc.
	Database, User string
	// Params are the bound values of $1, $2, ... (Param{Idx: 0} is $1).
	Params []types.Value
	// Funcs overrides or supplies functions by lower-case name at run
	// time: catalog functions that need catalog data (pg_get_viewdef,
	// obj_description, pg_table_is_visible, ...) look here first and fall
	// back to their documented defaults. The session or executor sets it.
	Funcs map[string]func(ctx *Context, args []types.Value) (types.Value, error)
}

// Param reads parameter Idx ($Idx+1) of the statement from ctx.Params.
type Param struct {
	Idx int
	T   types.Type
}

// Type implements Expr.
func (p *Param) Type() types.Type { return p.T }

// Eval implements Expr.
func (p *Param) Eval(ctx *Context, _ types.Row) (types.Value, error) {
	if ctx == nil || p.Idx < 0 || p.Idx >= len(ctx.Params) {
		return types.Value{}, fmt.Errorf("parameter $%d has no value", p.Idx+1)
	}
	return ctx.Params[p.Idx], nil
}

// String implements Expr.
func (p *Param) String() string { return fmt.Sprintf("$%d", p.Idx+1) }

// ColRef reads column Idx of the input row.
type ColRef struct {
	Idx  int
	Name string
	T    types.Type
}

// Type implements Expr.
func (c *ColRef) Type() types.Type { return c.T }

// Eval implements Expr.
func (c *ColRef) Eval(_ *Context, row types.Row) (types.Value, error) {
	if c.Idx < 0 || c.Idx >= len(row) {
		return types.Value{}, fmt.Errorf("column %s (#%d) out of range of a row of %d", c.Name, c.Idx, len(row))
	}
	return row[c.Idx], nil
}

// String implements Expr.
func (c *ColRef) String() string {
	if c.Name != "" {
		return fmt.Sprintf("%s#%d", c.Name, c.Idx)
	}
	return fmt.Sprintf("#%d", c.Idx)
}

// OuterRef reads column Idx of an enclosing query's row (correlated
// subqueries); Depth 1 is the nearest enclosing query.
type OuterRef struct {
	Depth int
	Idx   int
	Name  string
	T     types.Type
}

// Type implements Expr.
func (c *OuterRef) Type() types.Type { return c.T }

// Eval implements Expr.
func (c *OuterRef) Eval(ctx *Context, _ types.Row) (types.Value, error) {
	if ctx == nil || c.Depth < 1 || c.Depth > len(ctx.Outer) {
		return types.Value{}, fmt.Errorf("outer reference %s has no enclosing row", c.Name)
	}
	row := ctx.Outer[len(ctx.Outer)-c.Depth]
	if c.Idx < 0 || c.Idx >= len(row) {
		return types.Value{}, fmt.Errorf("outer column %s out of range", c.Name)
	}
	return row[c.Idx], nil
}

// String implements Expr.
func (c *OuterRef) String() string { return fmt.Sprintf("outer(%d).%s#%d", c.Depth, c.Name, c.Idx) }

// Const is a literal.
type Const struct {
	V types.Value
	T types.Type
}

// Type implements Expr.
func (c *Const) Type() types.Type { return c.T }

// Eval implements Expr.
func (c *Const) Eval(*Context, types.Row) (types.Value, error) { return c.V, nil }

// String implements Expr.
func (c *Const) String() string {
	switch {
	case c.V.IsNull():
		return "NULL"
	case c.V.K == types.Text || c.V.K == types.JSONB:
		return "'" + strings.ReplaceAll(c.V.S, "'", "''") + "'"
	case c.V.K == types.Interval || c.V.K.IsTime() || c.V.K == types.Date:
		return c.T.Kind.String() + " '" + c.V.String() + "'"
	}
	return c.V.String()
}
