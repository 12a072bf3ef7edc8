package planner

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/mysql"
	"github.com/pingcap/tidb/pkg/parser/opcode"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// binder turns TiDB AST expressions into bound sql/expr expressions for
// one statement.
type binder struct {
	p      *Planner
	stream bool
	// params are the statement's parameter types ($1 is params[0]); a Null
	// entry is not yet inferred.
	params []types.Type
	// subst maps AST nodes already planned (aggregates, window functions,
	// GROUP BY expressions) to expressions over the current row.
	subst map[ast.ExprNode]expr.Expr
	// group, when set, binds expressions after aggregation: it returns the
	// replacement of n, or ok=false to bind n normally.
	group   func(n ast.ExprNode) (expr.Expr, bool, error)
	clause  string // for errors: "WHERE", "JOIN conditions", ...
	windows map[string]*sql.WindowTVF
	// tableFuncs are the statement's functions in FROM, by placeholder.
	tableFuncs map[string]*sql.TableFunc
	// ctes are the WITH names in scope, innermost last.
	ctes []*ast.CommonTableExpression
	// sel is the statement's query, to locate errors in the user's text.
	sel *sql.Select
	// viewOpts are the WITH options of CREATE MATERIALIZED VIEW.
	viewOpts map[string]string
	// viewEOWC is EMIT ON WINDOW CLOSE; lateness is allowed_lateness.
	viewEOWC bool
	lateness int64
	nsub     int // subqueries planned so far (their EXPLAIN labels)
	// joinWhere is the WHERE clause of the SELECT whose FROM is being
	// planned: in streaming plans, its conjuncts over both sides of an inner
	// join bound the join too (the filter is still applied above it).
	joinWhere ast.ExprNode
}

var aggNames = map[string]bool{
	"count": true, "sum": true, "avg": true, "min": true, "max": true,
	"approx_count_distinct": true, "approx_percentile": true,
	"first_value": true, "last_value": true, "bool_and": true, "bool_or": true,
	"every": true, "string_agg": true,
	// Names a front end may use for aggregates the TiDB grammar reserves
	// for window functions.
	"__first_value": true, "__last_value": true,
}

// isAggregate reports whether n is an aggregate call (including
// __filter(agg, cond)).
func isAggregate(n ast.ExprNode) bool {
	switch x := n.(type) {
	case *ast.AggregateFuncExpr:
		return true
	case *ast.FuncCallExpr:
		name := x.FnName.L
		if name == "__filter" {
			return true
		}
		if name == "__ordered" {
			// agg(args ORDER BY keys), as the front end writes it.
			return len(x.Args) > 0 && isAggregate(x.Args[0])
		}
		return aggNames[name]
	}
	return false
}

// legacyWindowFuncs are the group-window calls of GROUP BY (the front end
// renames TUMBLE(ts, size) to __tumble(ts, size), and so on).
var legacyWindowFuncs = map[string]bool{
	"tumble": true, "hop": true, "session": true, "cumulate": true,
	"__tumble": true, "__hop": true, "__session": true, "__cumulate": true,
}

// legacyBound maps TUMBLE_START etc. to 0 (start), 1 (end), 2 (rowtime).
func legacyBound(name string) (int, bool) {
	for _, w := range []string{"tumble", "hop", "session", "cumulate"} {
		switch name {
		case w + "_start":
			return 0, true
		case w + "_end":
			return 1, true
		case w + "_rowtime":
			return 2, true
		}
	}
	return 0, false
}

func (b *binder) errAt(code, format string, args ...any) *sqlerr.Error {
	return sqlerr.New(code, format, args...)
}

// bind binds n against sc. An error is located at n in the user's text
// (the innermost expression that failed).
func (b *binder) bind(n ast.ExprNode, sc *scope) (expr.Expr, error) {
	e, err := b.bind0(n, sc)
	if err != nil {
		return nil, b.locate(err, n)
	}
	return e, nil
}

// locate gives a *sqlerr.Error without a position the position of n.
func (b *binder) locate(err error, n ast.Node) error {
	se, ok := err.(*sqlerr.Error)
	if !ok || se.Line > 0 || b.sel == nil || n == nil {
		return err
	}
	off := n.OriginTextPosition()
	if off <= 0 {
		return err
	}
	pos := b.sel.UserPos(off)
	if pos.Line == 0 {
		return err
	}
	c := *se
	c.Line, c.Col, c.Position = pos.Line, pos.Col, b.sel.UserOffset(off)
	return &c
}

func (b *binder) bind0(n ast.ExprNode, sc *scope) (expr.Expr, error) {
	if e, ok := b.subst[n]; ok {
		return e, nil
	}
	if b.group != nil {
		e, ok, err := b.group(n)
		if err != nil {
			return nil, err
		}
		if ok {
			return e, nil
		}
	}
	switch x := n.(type) {
	case *ast.ParenthesesExpr:
		return b.bind(x.Expr, sc)
	case *ast.ColumnNameExpr:
		return b.column(x.Name, sc)
	case ast.ParamMarkerExpr:
		return b.param(paramOrder(x))
	case ast.ValueExpr:
		return constOf(x)
	case *ast.BinaryOperationExpr:
		return b.binary(x, sc)
	case *ast.UnaryOperationExpr:
		e, err := b.bind(x.V, sc)
		if err != nil {
			return nil, err
		}
		switch x.Op {
		case opcode.Minus:
			if c, ok := e.(*expr.Const); ok && c.V.K.IsNumeric() {
				return expr.Fold(&expr.Neg{E: c}), nil
			}
			return expr.NewNeg(e)
		case opcode.Plus:
			return e, nil
		case opcode.Not, opcode.Not2:
			if err := wantBool(e, "NOT"); err != nil {
				return nil, err
			}
			return &expr.Not{E: e}, nil
		}
		return nil, b.errAt(sqlerr.FeatureNotSupported, "operator %s is not supported", x.Op)
	case *ast.IsNullExpr:
		e, err := b.bind(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		return &expr.IsNull{E: e, Not: x.Not}, nil
	case *ast.IsTruthExpr:
		e, err := b.bind(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		if err := wantBool(e, "IS TRUE"); err != nil {
			return nil, err
		}
		return &expr.IsTruth{E: e, Truth: x.True != 0, Not: x.Not}, nil
	case *ast.BetweenExpr:
		e, err := b.bind(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		lo, err := b.bind(x.Left, sc)
		if err != nil {
			return nil, err
		}
		hi, err := b.bind(x.Right, sc)
		if err != nil {
			return nil, err
		}
		c1, err := b.cmp(expr.GE, e, lo)
		if err != nil {
			return nil, err
		}
		c2, err := b.cmp(expr.LE, e, hi)
		if err != nil {
			return nil, err
		}
		and := expr.NewAnd(c1, c2)
		if x.Not {
			return &expr.Not{E: and}, nil
		}
		return and, nil
	case *ast.PatternInExpr:
		return b.in(x, sc)
	case *ast.PatternLikeOrIlikeExpr:
		e, err := b.bind(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		p, err := b.bind(x.Pattern, sc)
		if err != nil {
			return nil, err
		}
		b.inferParam(e, types.TText)
		b.inferParam(p, types.TText)
		return expr.NewLike(e, p, !x.IsLike, x.Not)
	case *ast.PatternRegexpExpr:
		e, err := b.bind(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		p, err := b.bind(x.Pattern, sc)
		if err != nil {
			return nil, err
		}
		b.inferParam(e, types.TText)
		b.inferParam(p, types.TText)
		return expr.NewRegexp(e, p, false, x.Not)
	case *ast.CaseExpr:
		return b.caseExpr(x, sc)
	case *ast.FuncCallExpr:
		return b.funcCall(x, sc)
	case *ast.FuncCastExpr:
		e, err := b.bind(x.Expr, sc)
		if err != nil {
			return nil, err
		}
		t, err := parseTypeText(x.Tp.String())
		if err != nil {
			return nil, err
		}
		b.inferParam(e, t)
		return expr.NewCast(e, t)
	case *ast.AggregateFuncExpr:
		return nil, b.errAt(sqlerr.GroupingError, "aggregate functions are not allowed in %s", b.clauseName())
	case *ast.WindowFuncExpr:
		return nil, b.errAt(sqlerr.FeatureNotSupported, "window function %s is only supported in the SELECT list", x.Name)
	case *ast.SubqueryExpr:
		return b.subquery(x, sc, expr.ScalarSubquery, nil, expr.EQ, false, false)
	case *ast.ExistsSubqueryExpr:
		sq, ok := x.Sel.(*ast.SubqueryExpr)
		if !ok {
			return nil, b.errAt(sqlerr.FeatureNotSupported, "unsupported EXISTS form")
		}
		return b.subquery(sq, sc, expr.ExistsSubquery, nil, expr.EQ, false, x.Not)
	case *ast.CompareSubqueryExpr:
		l, err := b.bind(x.L, sc)
		if err != nil {
			return nil, err
		}
		op, ok := cmpOps[x.Op]
		if !ok {
			return nil, b.errAt(sqlerr.FeatureNotSupported, "operator %s ANY/ALL is not supported", x.Op)
		}
		sq, ok := x.R.(*ast.SubqueryExpr)
		if !ok {
			return nil, b.errAt(sqlerr.FeatureNotSupported, "ANY/ALL needs a subquery")
		}
		return b.subquery(sq, sc, expr.AnySubquery, l, op, x.All, false)
	case *ast.DefaultExpr:
		return nil, b.errAt(sqlerr.FeatureNotSupported, "DEFAULT is not supported here")
	case *ast.RowExpr:
		return nil, b.errAt(sqlerr.FeatureNotSupported, "row constructors are not supported")
	case *ast.TimeUnitExpr:
		return &expr.Const{V: types.NewText(strings.ToLower(x.Unit.String())), T: types.TText}, nil
	}
	return nil, b.errAt(sqlerr.FeatureNotSupported, "expression %T is not supported", n)
}

func (b *binder) clauseName() string {
	if b.clause == "" {
		return "this context"
	}
	return b.clause
}

func wantBool(e expr.Expr, what string) error {
	if k := e.Type().Kind; k != types.Bool && k != types.Null {
		return sqlerr.New(sqlerr.DatatypeMismatch, "argument of %s must be type boolean, not type %s", what, e.Type())
	}
	return nil
}

// paramOrder returns the 0-based index of a parameter marker.
func paramOrder(p ast.ParamMarkerExpr) int {
	v := reflect.ValueOf(p)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName("Order"); f.IsValid() && f.CanInt() {
			return int(f.Int())
		}
	}
	return 0
}

func (b *binder) param(idx int) (expr.Expr, error) {
	if idx < 0 || idx > 65535 {
		return nil, b.errAt(sqlerr.UndefinedObject, "there is no parameter $%d", idx+1)
	}
	for len(b.params) <= idx {
		b.params = append(b.params, types.TNull)
	}
	return &expr.Param{Idx: idx, T: b.params[idx]}, nil
}

// inferParam gives an untyped parameter the type t.
func (b *binder) inferParam(e expr.Expr, t types.Type) {
	p, ok := e.(*expr.Param)
	if !ok || p.T.Kind != types.Null || t.Kind == types.Null {
		return
	}
	p.T = t
	if p.Idx < len(b.params) && b.params[p.Idx].Kind == types.Null {
		b.params[p.Idx] = t
	}
}

// constOf converts a literal.
func constOf(v ast.ValueExpr) (expr.Expr, error) {
	switch x := v.GetValue().(type) {
	case nil:
		return &expr.Const{T: types.TNull}, nil
	case int64:
		if v.GetType().GetFlag()&mysql.IsBooleanFlag != 0 {
			return &expr.Const{V: types.NewBool(x != 0), T: types.TBool}, nil
		}
		if x >= -1<<31 && x < 1<<31 {
			return &expr.Const{V: types.NewIntKind(types.Int32, x), T: types.TInt32}, nil
		}
		return &expr.Const{V: types.NewInt(x), T: types.TInt64}, nil
	case uint64:
		if x <= 1<<63-1 {
			return &expr.Const{V: types.NewInt(int64(x)), T: types.TInt64}, nil
		}
		return numericConst(strconv.FormatUint(x, 10))
	case float64:
		return &expr.Const{V: types.NewFloat(x), T: types.TFloat64}, nil
	case float32:
		return &expr.Const{V: types.NewFloat(float64(x)), T: types.TFloat64}, nil
	case string:
		return &expr.Const{V: types.NewText(x), T: types.TText}, nil
	case []byte:
		return &expr.Const{V: types.NewText(string(x)), T: types.TText}, nil
	case bool:
		return &expr.Const{V: types.NewBool(x), T: types.TBool}, nil
	case fmt.Stringer:
		return numericConst(x.String())
	}
	return &expr.Const{V: types.NewText(fmt.Sprint(v.GetValue())), T: types.TText}, nil
}

func numericConst(s string) (expr.Expr, error) {
	v, err := types.ParseText(types.TNumeric, s)
	if err != nil {
		return nil, sqlerr.Wrap(sqlerr.InvalidTextRep, err)
	}
	return &expr.Const{V: v, T: types.TNumeric}, nil
}

// noParenFuncs are SQL keywords that name functions without parentheses.
var noParenFuncs = map[string]string{
	"current_timestamp": "now", "current_date": "current_date", "current_user": "current_user",
	"current_schema": "current_schema", "session_user": "session_user", "user": "current_user",
	"localtimestamp": "localtimestamp", "localtime": "localtimestamp", "current_catalog": "current_database",
	"current_role": "current_user",
}

func (b *binder) column(cn *ast.ColumnName, sc *scope) (expr.Expr, error) {
	table := cn.Table.L
	if cn.Schema.L != "" {
		table = cn.Schema.L + "." + cn.Table.L
	}
	name := cn.Name.O
	depth := 0
	for s := sc; s != nil; s = s.parent {
		i, err := s.find(table, name)
		if err != nil {
			return nil, err
		}
		if i < 0 && cn.Schema.L != "" {
			i, err = s.find(cn.Table.L, name)
			if err != nil {
				return nil, err
			}
		}
		if i >= 0 {
			c := s.cols[i]
			if depth == 0 {
				return &expr.ColRef{Idx: i, Name: c.name, T: c.t}, nil
			}
			for m := sc; m != nil; m = m.parent {
				if m.correlated != nil {
					*m.correlated = true
				}
				if m == s {
					break
				}
			}
			return &expr.OuterRef{Depth: depth, Idx: i, Name: c.name, T: c.t}, nil
		}
		depth++
	}
	if table == "" {
		if f, ok := noParenFuncs[strings.ToLower(name)]; ok {
			return expr.NewFunc(f, nil)
		}
	}
	return nil, sc.undefinedColumn(table, name)
}

var cmpOps = map[opcode.Op]expr.CmpOp{
	opcode.EQ: expr.EQ, opcode.NE: expr.NE, opcode.LT: expr.LT, opcode.LE: expr.LE, opcode.GT: expr.GT, opcode.GE: expr.GE,
}

var arithOps = map[opcode.Op]expr.ArithOp{
	opcode.Plus: expr.Add, opcode.Minus: expr.Sub, opcode.Mul: expr.Mul, opcode.Div: expr.Div, opcode.Mod: expr.Mod, opcode.IntDiv: expr.Div,
}

// coerce makes a text literal or untyped parameter on one side take the
// type of the other side (Postgres' unknown-type literals).
func (b *binder) coerce(l, r expr.Expr) (expr.Expr, expr.Expr, error) {
	b.inferParam(l, r.Type())
	b.inferParam(r, l.Type())
	var err error
	// Arrays are text in Sluice: an element (x[i]) takes the type of what it
	// is compared with, as the element type of the array would.
	if isSubscript(l) && r.Type().Kind != types.Text && r.Type().Kind != types.Null {
		if l, err = expr.NewCast(l, r.Type()); err != nil {
			return nil, nil, err
		}
	}
	if isSubscript(r) && l.Type().Kind != types.Text && l.Type().Kind != types.Null {
		if r, err = expr.NewCast(r, l.Type()); err != nil {
			return nil, nil, err
		}
	}
	if lc, ok := l.(*expr.Const); ok && lc.T.Kind == types.Text && r.Type().Kind != types.Text && r.Type().Kind != types.Null {
		if l, err = expr.NewCast(lc, r.Type()); err != nil {
			return nil, nil, err
		}
	}
	if rc, ok := r.(*expr.Const); ok && rc.T.Kind == types.Text && l.Type().Kind != types.Text && l.Type().Kind != types.Null {
		if r, err = expr.NewCast(rc, l.Type()); err != nil {
			return nil, nil, err
		}
	}
	return l, r, nil
}

func (b *binder) cmp(op expr.CmpOp, l, r expr.Expr) (expr.Expr, error) {
	l, r, err := b.coerce(l, r)
	if err != nil {
		return nil, err
	}
	return expr.NewCmp(op, l, r)
}

func (b *binder) binary(x *ast.BinaryOperationExpr, sc *scope) (expr.Expr, error) {
	if fc, ok := stripParens(x.R).(*ast.FuncCallExpr); ok && (fc.FnName.L == "__any" || fc.FnName.L == "__all") && len(fc.Args) == 1 {
		return b.anyArray(x, fc, sc)
	}
	l, err := b.bind(x.L, sc)
	if err != nil {
		return nil, err
	}
	r, err := b.bind(x.R, sc)
	if err != nil {
		return nil, err
	}
	switch x.Op {
	case opcode.LogicAnd, opcode.LogicOr:
		b.inferParam(l, types.TBool)
		b.inferParam(r, types.TBool)
		op := "AND"
		if x.Op == opcode.LogicOr {
			op = "OR"
		}
		if err := wantBool(l, op); err != nil {
			return nil, err
		}
		if err := wantBool(r, op); err != nil {
			return nil, err
		}
		if x.Op == opcode.LogicAnd {
			return expr.NewAnd(l, r), nil
		}
		var terms []expr.Expr
		for _, t := range []expr.Expr{l, r} {
			if o, ok := t.(*expr.Or); ok {
				terms = append(terms, o.Terms...)
			} else {
				terms = append(terms, t)
			}
		}
		return &expr.Or{Terms: terms}, nil
	case opcode.NullEQ:
		l, r, err := b.coerce(l, r)
		if err != nil {
			return nil, err
		}
		if !expr.Comparable(l.Type(), r.Type()) {
			return nil, sqlerr.New(sqlerr.DatatypeMismatch, "operator does not exist: %s IS NOT DISTINCT FROM %s", l.Type(), r.Type())
		}
		return &expr.IsDistinct{L: l, R: r, Not: true}, nil
	}
	if op, ok := cmpOps[x.Op]; ok {
		return b.cmp(op, l, r)
	}
	if op, ok := arithOps[x.Op]; ok {
		l, r, err := b.coerce(l, r)
		if err != nil {
			return nil, err
		}
		if lc, ok := l.(*expr.Const); ok && lc.T.Kind == types.Text {
			if l, err = expr.NewCast(lc, types.TNumeric); err != nil {
				return nil, err
			}
		}
		if rc, ok := r.(*expr.Const); ok && rc.T.Kind == types.Text {
			if r, err = expr.NewCast(rc, types.TNumeric); err != nil {
				return nil, err
			}
		}
		e, err := expr.NewArith(op, l, r)
		if err != nil {
			return nil, err
		}
		if x.Op == opcode.IntDiv && !e.Type().Kind.IsInteger() {
			return expr.NewFunc("trunc", []expr.Expr{e})
		}
		return e, nil
	}
	return nil, b.errAt(sqlerr.FeatureNotSupported, "operator %s is not supported", x.Op)
}

func (b *binder) in(x *ast.PatternInExpr, sc *scope) (expr.Expr, error) {
	e, err := b.bind(x.Expr, sc)
	if err != nil {
		return nil, err
	}
	if x.Sel != nil {
		sq, ok := x.Sel.(*ast.SubqueryExpr)
		if !ok {
			return nil, b.errAt(sqlerr.FeatureNotSupported, "unsupported IN form")
		}
		return b.subquery(sq, sc, expr.AnySubquery, e, expr.EQ, false, x.Not)
	}
	list := make([]expr.Expr, 0, len(x.List))
	for _, item := range x.List {
		v, err := b.bind(item, sc)
		if err != nil {
			return nil, err
		}
		e2, v2, err := b.coerce(e, v)
		if err != nil {
			return nil, err
		}
		e = e2
		if !expr.Comparable(e.Type(), v2.Type()) {
			return nil, sqlerr.New(sqlerr.DatatypeMismatch, "IN types %s and %s cannot be matched", e.Type(), v2.Type())
		}
		list = append(list, v2)
	}
	return &expr.In{E: e, List: list, Not: x.Not}, nil
}

// unify returns the common type of ts for CASE, COALESCE, UNION and
// VALUES, or a 42804 error naming the construct.
func unify(what string, ts []types.Type) (types.Type, error) {
	out := types.TNull
	for _, t := range ts {
		switch {
		case t.Kind == types.Null:
		case out.Kind == types.Null:
			out = t
		case out.Kind == t.Kind:
			if out != t {
				out = types.Type{Kind: t.Kind}
			}
		case out.Kind.IsNumeric() && t.Kind.IsNumeric():
			out = expr.PromoteNumeric(out, t)
		case out.Kind.IsTime() && t.Kind.IsTime():
			out = types.TTimestampTZ
		case (out.Kind == types.Date && t.Kind.IsTime()) || (out.Kind.IsTime() && t.Kind == types.Date):
			if !out.Kind.IsTime() {
				out = t
			}
		default:
			return types.Type{}, sqlerr.New(sqlerr.DatatypeMismatch, "%s types %s and %s cannot be matched", what, out, t)
		}
	}
	return out, nil
}

// castAll casts each expression to t where its type differs; text
// literals are parsed as t.
func castAll(es []expr.Expr, t types.Type) ([]expr.Expr, error) {
	out := make([]expr.Expr, len(es))
	for i, e := range es {
		if e.Type().Kind == t.Kind || t.Kind == types.Null {
			out[i] = e
			continue
		}
		c, err := expr.NewCast(e, t)
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func (b *binder) unifyExprs(what string, es []expr.Expr) ([]expr.Expr, types.Type, error) {
	// Text literals adopt the type of the typed arms.
	ts := make([]types.Type, 0, len(es))
	for _, e := range es {
		if c, ok := e.(*expr.Const); ok && c.T.Kind == types.Text {
			continue
		}
		ts = append(ts, e.Type())
	}
	t, err := unify(what, ts)
	if err != nil {
		return nil, t, err
	}
	if t.Kind == types.Null {
		for _, e := range es {
			if e.Type().Kind != types.Null {
				t = e.Type()
				break
			}
		}
	}
	for _, e := range es {
		b.inferParam(e, t)
	}
	out, err := castAll(es, t)
	return out, t, err
}

func (b *binder) caseExpr(x *ast.CaseExpr, sc *scope) (expr.Expr, error) {
	c := &expr.Case{}
	var err error
	if x.Value != nil {
		if c.Operand, err = b.bind(x.Value, sc); err != nil {
			return nil, err
		}
	}
	var results []expr.Expr
	for _, w := range x.WhenClauses {
		cond, err := b.bind(w.Expr, sc)
		if err != nil {
			return nil, err
		}
		if c.Operand != nil {
			op, cnd, err := b.coerce(c.Operand, cond)
			if err != nil {
				return nil, err
			}
			if !expr.Comparable(op.Type(), cnd.Type()) {
				return nil, sqlerr.New(sqlerr.DatatypeMismatch, "operator does not exist: %s = %s", op.Type(), cnd.Type())
			}
			c.Operand, cond = op, cnd
		} else if err := wantBool(cond, "CASE/WHEN"); err != nil {
			return nil, err
		}
		then, err := b.bind(w.Result, sc)
		if err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, expr.When{Cond: cond})
		results = append(results, then)
	}
	if x.ElseClause != nil {
		e, err := b.bind(x.ElseClause, sc)
		if err != nil {
			return nil, err
		}
		results = append(results, e)
	}
	results, t, err := b.unifyExprs("CASE", results)
	if err != nil {
		return nil, err
	}
	for i := range c.Whens {
		c.Whens[i].Then = results[i]
	}
	if x.ElseClause != nil {
		c.Else = results[len(results)-1]
	}
	c.T = t
	return c, nil
}

func (b *binder) args(args []ast.ExprNode, sc *scope) ([]expr.Expr, error) {
	out := make([]expr.Expr, len(args))
	for i, a := range args {
		e, err := b.bind(a, sc)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// constInterval evaluates n as a constant interval (window sizes, session
// gaps) in microseconds.
func (b *binder) constInterval(n ast.ExprNode, what string) (int64, error) {
	e, err := b.bind(n, &scope{})
	if err != nil {
		return 0, err
	}
	e = expr.Fold(e)
	c, ok := e.(*expr.Const)
	if ok && c.V.K == types.Text {
		v, err := expr.CastValue(c.V, types.TInterval)
		if err != nil {
			return 0, err
		}
		c = &expr.Const{V: v, T: types.TInterval}
	}
	if !ok || c.V.K != types.Interval {
		return 0, sqlerr.New(sqlerr.DatatypeMismatch, "%s must be a constant interval, got %s", what, e).
			WithHint("write it as INTERVAL '10' SECOND")
	}
	if c.V.I <= 0 {
		return 0, sqlerr.New(sqlerr.InvalidParameterValue, "%s must be positive, got %s", what, c.V)
	}
	return c.V.I, nil
}

func (b *binder) funcCall(x *ast.FuncCallExpr, sc *scope) (expr.Expr, error) {
	name := x.FnName.L
	if x.Schema.L != "" && x.Schema.L != "pg_catalog" {
		name = x.Schema.L + "." + name
	}
	switch name {
	case "__interval":
		if len(x.Args) != 1 {
			return nil, b.errAt(sqlerr.SyntaxError, "__interval takes one argument")
		}
		a, err := b.bind(x.Args[0], sc)
		if err != nil {
			return nil, err
		}
		c, ok := expr.Fold(a).(*expr.Const)
		if !ok || !c.V.K.IsNumeric() {
			return nil, b.errAt(sqlerr.SyntaxError, "invalid interval literal")
		}
		var us int64
		if c.V.K.IsInteger() {
			us = c.V.I
		} else {
			us = int64(c.V.Float())
		}
		return &expr.Const{V: types.NewIntervalMicros(us), T: types.TInterval}, nil
	case "__cast":
		if len(x.Args) != 2 {
			return nil, b.errAt(sqlerr.SyntaxError, "__cast takes two arguments")
		}
		e, err := b.bind(x.Args[0], sc)
		if err != nil {
			return nil, err
		}
		tv, ok := x.Args[1].(ast.ValueExpr)
		ts, _ := tv.GetValue().(string)
		if !ok || ts == "" {
			return nil, b.errAt(sqlerr.SyntaxError, "__cast needs a type name")
		}
		if k := e.Type().Kind; k == types.Text || (k == types.Null && isParam(e)) {
			// 'name'::regclass and friends name catalog objects.
			b.inferParam(e, types.TText)
			c, isConst := e.(*expr.Const)
			switch base := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(ts)), "pg_catalog."); base {
			case "regproc", "regprocedure":
				if isConst {
					return &expr.Const{V: types.NewText(strings.TrimPrefix(c.V.S, "pg_catalog.")), T: types.TText}, nil
				}
				return e, nil
			case "regclass", "regnamespace":
				return expr.NewFunc("__"+base, []expr.Expr{e})
			case "regtype":
				if isConst {
					t, err := parseTypeText(c.V.S)
					if err != nil {
						return nil, err
					}
					return &expr.Const{V: types.NewInt(int64(t.OID())), T: types.TInt64}, nil
				}
				return expr.NewFunc("__regtype", []expr.Expr{e})
			}
		}
		t, err := parseTypeText(ts)
		if err != nil {
			return nil, err
		}
		b.inferParam(e, t)
		return expr.NewCast(e, t)
	case "__param":
		if len(x.Args) == 1 {
			if v, ok := x.Args[0].(ast.ValueExpr); ok {
				if n, ok := v.GetValue().(int64); ok && n >= 1 {
					return b.param(int(n - 1))
				}
			}
		}
		return nil, b.errAt(sqlerr.SyntaxError, "invalid parameter reference")
	case "coalesce", "ifnull":
		args, err := b.args(x.Args, sc)
		if err != nil {
			return nil, err
		}
		if len(args) == 0 {
			return nil, b.errAt(sqlerr.SyntaxError, "coalesce needs arguments")
		}
		args, t, err := b.unifyExprs("COALESCE", args)
		if err != nil {
			return nil, err
		}
		return &expr.Coalesce{Args: args, T: t}, nil
	case "nullif":
		args, err := b.args(x.Args, sc)
		if err != nil {
			return nil, err
		}
		if len(args) != 2 {
			return nil, b.errAt(sqlerr.UndefinedFunction, "function nullif takes two arguments")
		}
		l, r, err := b.coerce(args[0], args[1])
		if err != nil {
			return nil, err
		}
		if !expr.Comparable(l.Type(), r.Type()) {
			return nil, sqlerr.New(sqlerr.DatatypeMismatch, "operator does not exist: %s = %s", l.Type(), r.Type())
		}
		return &expr.NullIf{L: l, R: r}, nil
	case "greatest", "least":
		args, err := b.args(x.Args, sc)
		if err != nil {
			return nil, err
		}
		args, t, err := b.unifyExprs(strings.ToUpper(name), args)
		if err != nil {
			return nil, err
		}
		return &expr.Extreme{Args: args, Greatest: name == "greatest", T: t}, nil
	case "if":
		args, err := b.args(x.Args, sc)
		if err != nil {
			return nil, err
		}
		if len(args) != 3 {
			return nil, b.errAt(sqlerr.UndefinedFunction, "function if takes three arguments")
		}
		res, t, err := b.unifyExprs("IF", args[1:])
		if err != nil {
			return nil, err
		}
		return &expr.Case{Whens: []expr.When{{Cond: args[0], Then: res[0]}}, Else: res[1], T: t}, nil
	case "date_add", "date_sub", "adddate", "subdate":
		if len(x.Args) == 3 {
			if u, ok := x.Args[2].(*ast.TimeUnitExpr); ok {
				t, err := b.bind(x.Args[0], sc)
				if err != nil {
					return nil, err
				}
				n, err := b.bind(x.Args[1], sc)
				if err != nil {
					return nil, err
				}
				mul, ok := types.UnitMicros(u.Unit.String())
				if !ok {
					return nil, b.errAt(sqlerr.FeatureNotSupported, "interval unit %s is not supported", u.Unit)
				}
				c, ok := expr.Fold(n).(*expr.Const)
				if !ok || !c.V.K.IsNumeric() {
					return nil, b.errAt(sqlerr.DatatypeMismatch, "interval amount must be a constant number")
				}
				iv := &expr.Const{V: types.NewIntervalMicros(int64(c.V.Float() * float64(mul))), T: types.TInterval}
				t, _, err = b.coerce(t, &expr.Const{V: types.NewTimestamp(0), T: types.TTimestamp})
				if err != nil {
					return nil, err
				}
				op := expr.Add
				if name == "date_sub" || name == "subdate" {
					op = expr.Sub
				}
				return expr.NewArith(op, t, iv)
			}
		}
	case "extract":
		if len(x.Args) == 2 {
			args, err := b.args(x.Args, sc)
			if err != nil {
				return nil, err
			}
			return expr.NewFunc("extract", args)
		}
	case "trim":
		if len(x.Args) >= 1 {
			fn := "btrim"
			args := x.Args
			if len(args) == 3 {
				if d, ok := args[2].(*ast.TrimDirectionExpr); ok {
					switch d.Direction {
					case ast.TrimLeading:
						fn = "ltrim"
					case ast.TrimTrailing:
						fn = "rtrim"
					}
				}
				args = args[:2]
			}
			bound, err := b.args(args, sc)
			if err != nil {
				return nil, err
			}
			if len(bound) == 2 {
				if c, ok := bound[1].(*expr.Const); ok && c.V.IsNull() {
					bound = bound[:1]
				}
			}
			return expr.NewFunc(fn, bound)
		}
	case "concat":
		args, err := b.args(x.Args, sc)
		if err != nil {
			return nil, err
		}
		if !b.isCall(x, "concat") && len(args) >= 2 {
			// a || b arrives as concat (PIPES_AS_CONCAT), but unlike
			// concat() Postgres' || is NULL when an operand is NULL.
			out := args[0]
			for _, a := range args[1:] {
				b.inferParam(out, types.TText)
				b.inferParam(a, types.TText)
				if out, err = expr.NewFunc("__concat_op", []expr.Expr{out, a}); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		return expr.NewFunc("concat", args)
	case "__filter":
		return nil, b.errAt(sqlerr.GroupingError, "FILTER is only allowed on aggregates in the SELECT list or HAVING")
	case "__ordered":
		if len(x.Args) > 0 && !isAggregate(x.Args[0]) {
			// ORDER BY on a call that is no aggregate: say what it is.
			if _, err := b.bind(x.Args[0], sc); err != nil {
				return nil, err
			}
			return nil, b.errAt(sqlerr.WrongObjectType, "ORDER BY specified, but %s is not an aggregate function", outputName(x.Args[0]))
		}
		return nil, b.errAt(sqlerr.GroupingError, "aggregate functions are not allowed in %s", b.clauseName())
	case "regexp_like":
		args, err := b.args(x.Args, sc)
		if err != nil {
			return nil, err
		}
		if len(args) < 2 || len(args) > 3 {
			return nil, b.errAt(sqlerr.UndefinedFunction, "function regexp_like takes two or three arguments")
		}
		fold := false
		if len(args) == 3 {
			c, ok := expr.Fold(args[2]).(*expr.Const)
			if !ok || c.V.K != types.Text {
				return nil, b.errAt(sqlerr.FeatureNotSupported, "regexp_like flags must be a constant")
			}
			fold = strings.Contains(c.V.S, "i")
		}
		b.inferParam(args[0], types.TText)
		b.inferParam(args[1], types.TText)
		return expr.NewRegexp(args[0], args[1], fold, false)
	case "__nulls_first", "__nulls_last":
		if len(x.Args) == 1 {
			return b.bind(x.Args[0], sc)
		}
	case "__array_sub":
		if len(x.Args) == 1 {
			if sq, ok := stripParens(x.Args[0]).(*ast.SubqueryExpr); ok {
				return b.subquery(sq, sc, expr.ArraySubquery, nil, expr.EQ, false, false)
			}
		}
		return nil, b.errAt(sqlerr.FeatureNotSupported, "unsupported ARRAY(...) form")
	case "row_number", "rank", "dense_rank":
		return nil, b.errAt(sqlerr.FeatureNotSupported, "window function %s requires an OVER clause", name)
	}
	if aggNames[name] {
		return nil, b.errAt(sqlerr.GroupingError, "aggregate functions are not allowed in %s", b.clauseName())
	}
	if legacyWindowFuncs[name] {
		return nil, b.errAt(sqlerr.FeatureNotSupported, "%s(...) is only allowed in GROUP BY or FROM", strings.ToUpper(name)).
			WithHint("use FROM %s(source, ts, INTERVAL ...) and GROUP BY window_start, window_end", strings.ToUpper(name))
	}
	if _, ok := legacyBound(name); ok {
		return nil, b.errAt(sqlerr.GroupingError, "%s needs GROUP BY %s(...)", strings.ToUpper(name), strings.ToUpper(name[:strings.Index(name, "_")]))
	}
	if _, ok := expr.LookupFunc(name); !ok {
		// Say so before binding the arguments: an unknown aggregate's
		// column would otherwise be reported as not grouped.
		_, err := expr.NewFunc(name, nil) // its 42883
		var se *sqlerr.Error
		if name == "array_agg" && errors.As(err, &se) {
			se.WithHint("Sluice has no array type; string_agg(x, ',' ORDER BY y) aggregates into text")
		}
		return nil, err
	}
	args, err := b.args(x.Args, sc)
	if err != nil {
		return nil, err
	}
	if def, ok := expr.LookupFunc(name); ok {
		for i, a := range args {
			if len(def.Args) > 0 {
				b.inferParam(a, types.Type{Kind: def.Args[min(i, len(def.Args)-1)]})
			}
			b.inferParam(a, types.TText)
		}
	}
	return expr.NewFunc(name, args)
}

// parseTypeText parses a type as written in a cast or DDL:
// "numeric(10,2)", "varchar(20)", "timestamp with time zone", "int4",
// "double precision", "pg_catalog.text", "text[]" (arrays are text).
func parseTypeText(s string) (types.Type, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "pg_catalog.")
	if strings.HasSuffix(t, "[]") {
		return types.TText, nil
	}
	var mods []int
	if i := strings.IndexByte(t, '('); i >= 0 {
		j := strings.IndexByte(t, ')')
		if j < i {
			return types.Type{}, sqlerr.New(sqlerr.SyntaxError, "invalid type name %q", s)
		}
		for _, m := range strings.Split(t[i+1:j], ",") {
			n, err := strconv.Atoi(strings.TrimSpace(m))
			if err != nil {
				return types.Type{}, sqlerr.New(sqlerr.SyntaxError, "invalid type modifier in %q", s)
			}
			mods = append(mods, n)
		}
		t = strings.TrimSpace(t[:i] + t[j+1:])
	}
	// MySQL spellings that TiDB's FieldType prints.
	t = strings.TrimSuffix(t, " binary")
	switch t {
	case "datetime":
		t = "timestamp"
	case "tinyint":
		t = "smallint"
	case "double unsigned", "decimal unsigned":
		t = strings.TrimSuffix(t, " unsigned")
	case "regclass", "regtype", "regproc", "regnamespace", "regprocedure", "oid", "xid", "cid", "tid":
		return types.TInt64, nil
	case "char", "character", "bpchar", "name", "unknown", "json", "uuid", "inet", "cidr":
		if t == "json" {
			return types.TJSONB, nil
		}
		return types.TText, nil
	}
	k, ok := types.ParseTypeName(t)
	if !ok {
		return types.Type{}, sqlerr.New(sqlerr.UndefinedObject, "type %q does not exist", s)
	}
	out := types.Type{Kind: k}
	switch k {
	case types.Numeric:
		if len(mods) > 0 {
			out.Precision = mods[0]
			if len(mods) > 1 {
				out.Scale = mods[1]
			}
		}
	case types.Text:
		if strings.HasPrefix(t, "varchar") || strings.HasPrefix(t, "character varying") {
			out.Varchar = true
			if len(mods) > 0 {
				out.Width = mods[0]
			}
		}
	}
	return out, nil
}

// subquery plans a subquery expression with sc as the outer scope.
func (b *binder) subquery(x *ast.SubqueryExpr, sc *scope, mode expr.SubqueryMode, test expr.Expr, op expr.CmpOp, all, not bool) (expr.Expr, error) {
	if b.stream {
		return nil, b.errAt(sqlerr.FeatureNotSupported, "subqueries in expressions are not supported in streaming queries").
			WithHint("use a join with a table or view instead")
	}
	correlated := false
	// The subquery's outer scope is sc itself (OuterRef depth 1), carrying
	// the subquery's own correlation flag.
	inner := &scope{cols: sc.cols, parent: sc.parent, correlated: &correlated}
	saveGroup, saveClause := b.group, b.clause
	b.group = nil
	node, err := b.query(x.Query, inner)
	b.group, b.clause = saveGroup, saveClause
	if err != nil {
		return nil, err
	}
	cols := node.Schema()
	b.nsub++
	s := &expr.Subquery{Mode: mode, Plan: node, Not: not, All: all, Op: op, Correlated: correlated, Label: "subquery " + itoa(b.nsub)}
	switch mode {
	case expr.ScalarSubquery:
		if len(cols) != 1 {
			return nil, sqlerr.New(sqlerr.SyntaxError, "subquery must return only one column")
		}
		s.T = cols[0].Type
	case expr.ExistsSubquery:
		s.T = types.TBool
	case expr.ArraySubquery:
		if len(cols) != 1 {
			return nil, sqlerr.New(sqlerr.SyntaxError, "subquery must return only one column")
		}
		s.T = types.TText
	case expr.AnySubquery:
		if len(cols) != 1 {
			return nil, sqlerr.New(sqlerr.SyntaxError, "subquery has too many columns")
		}
		b.inferParam(test, cols[0].Type)
		if !expr.Comparable(test.Type(), cols[0].Type) {
			return nil, sqlerr.New(sqlerr.DatatypeMismatch, "operator does not exist: %s %s %s", test.Type(), op, cols[0].Type)
		}
		s.Test = test
		s.T = types.TBool
	}
	return s, nil
}

// scanOf plans a catalog relation (or the view of a CTE-less query).
func (b *binder) scanOf(name string) (*plan.Scan, *Relation, error) {
	rel, err := b.p.cat.Relation(name)
	if err != nil {
		return nil, nil, err
	}
	if rel == nil {
		return nil, nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", name)
	}
	return rel.scan(), rel, nil
}

// anyArray plans x op ANY(array) / x op ALL(array). An ARRAY[...]
// constructor becomes an IN list; any other array (the text form "{a,b}"
// that Sluice uses for arrays) is searched by __array_contains.
func (b *binder) anyArray(x *ast.BinaryOperationExpr, fc *ast.FuncCallExpr, sc *scope) (expr.Expr, error) {
	all := fc.FnName.L == "__all"
	op, ok := cmpOps[x.Op]
	if !ok || (!all && op != expr.EQ) || (all && op != expr.NE) {
		return nil, b.errAt(sqlerr.FeatureNotSupported, "only = ANY(array) and <> ALL(array) are supported")
	}
	l, err := b.bind(x.L, sc)
	if err != nil {
		return nil, err
	}
	if arr, ok := stripParens(fc.Args[0]).(*ast.FuncCallExpr); ok && arr.FnName.L == "__array" {
		return b.in(&ast.PatternInExpr{Expr: x.L, List: arr.Args, Not: all}, sc)
	}
	a, err := b.bind(fc.Args[0], sc)
	if err != nil {
		return nil, err
	}
	b.inferParam(a, types.TText)
	lt, err := expr.NewCast(l, types.TText)
	if err != nil {
		return nil, err
	}
	e, err := expr.NewFunc("__array_contains", []expr.Expr{a, lt})
	if err != nil {
		return nil, err
	}
	if all {
		return &expr.Not{E: e}, nil
	}
	return e, nil
}

func isParam(e expr.Expr) bool {
	_, ok := e.(*expr.Param)
	return ok
}

func isSubscript(e expr.Expr) bool {
	f, ok := e.(*expr.Func)
	return ok && f.Name == "__subscript" && f.T.Kind == types.Text
}

// isCall reports whether the call x was written as name(...) in the
// user's text, as opposed to an operator the parser turned into a call
// (|| becomes concat). Without the text it assumes a call.
func (b *binder) isCall(x *ast.FuncCallExpr, name string) bool {
	if b.sel == nil {
		return true
	}
	off := x.OriginTextPosition()
	if off < 0 || off >= len(b.sel.Normalized) {
		return true
	}
	rest := b.sel.Normalized[off:]
	return len(rest) >= len(name) && strings.EqualFold(rest[:len(name)], name)
}
