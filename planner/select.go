package planner

import (
	"strings"

	"github.com/shopspring/decimal"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// query plans a SELECT or set operation. outer is the enclosing scope
// for correlated subqueries (may be an empty scope).
func (b *binder) query(n ast.ResultSetNode, outer *scope) (plan.Node, error) {
	switch x := n.(type) {
	case *ast.SelectStmt:
		if x.Kind == ast.SelectStmtKindValues {
			return b.values(x, outer)
		}
		return b.selectStmt(x, outer)
	case *ast.SetOprStmt:
		return b.setOpr(x, outer)
	case *ast.SubqueryExpr:
		return b.query(x.Query, outer)
	}
	return nil, sqlerr.New(sqlerr.FeatureNotSupported, "query form %T is not supported", n)
}

func (b *binder) values(x *ast.SelectStmt, outer *scope) (plan.Node, error) {
	var rows [][]expr.Expr
	for _, r := range x.Lists {
		row, err := b.args(r.Values, outer)
		if err != nil {
			return nil, err
		}
		if len(rows) > 0 && len(row) != len(rows[0]) {
			return nil, sqlerr.New(sqlerr.SyntaxError, "VALUES lists must all be the same length")
		}
		rows = append(rows, row)
	}
	return valuesNode(rows)
}

func valuesNode(rows [][]expr.Expr) (plan.Node, error) {
	if len(rows) == 0 {
		return &plan.Values{}, nil
	}
	cols := make(types.Schema, len(rows[0]))
	for j := range cols {
		col := make([]expr.Expr, len(rows))
		for i := range rows {
			col[i] = rows[i][j]
		}
		t, err := unify("VALUES", exprTypes(col))
		if err != nil {
			return nil, err
		}
		if t.Kind == types.Null {
			t = types.TText
		}
		col, err = castAll(col, t)
		if err != nil {
			return nil, err
		}
		for i := range rows {
			rows[i][j] = col[i]
		}
		cols[j] = types.Column{Name: "column" + itoa(j+1), Type: t, Nullable: true}
	}
	return &plan.Values{Rows: rows, Cols: cols}, nil
}

func exprTypes(es []expr.Expr) []types.Type {
	out := make([]types.Type, len(es))
	for i, e := range es {
		out[i] = e.Type()
	}
	return out
}

func (b *binder) setOpr(x *ast.SetOprStmt, outer *scope) (plan.Node, error) {
	var inputs []plan.Node
	distinct := false
	for i, s := range x.SelectList.Selects {
		rs, ok := s.(ast.ResultSetNode)
		if !ok {
			return nil, sqlerr.New(sqlerr.FeatureNotSupported, "set operation member %T is not supported", s)
		}
		var after *ast.SetOprType
		switch y := s.(type) {
		case *ast.SelectStmt:
			after = y.AfterSetOperator
		case *ast.SetOprSelectList:
			after = y.AfterSetOperator
		}
		if i > 0 && after != nil {
			switch *after {
			case ast.UnionAll:
			case ast.Union:
				distinct = true
			default:
				return nil, sqlerr.New(sqlerr.FeatureNotSupported, "%s is not supported; use UNION ALL", after.String())
			}
		}
		var n plan.Node
		var err error
		if l, ok := s.(*ast.SetOprSelectList); ok {
			n, err = b.setOpr(&ast.SetOprStmt{SelectList: l}, outer)
		} else {
			n, err = b.query(rs, outer)
		}
		if err != nil {
			return nil, err
		}
		inputs = append(inputs, n)
	}
	width := len(inputs[0].Schema())
	for _, in := range inputs[1:] {
		if len(in.Schema()) != width {
			return nil, sqlerr.New(sqlerr.SyntaxError, "each UNION query must have the same number of columns")
		}
	}
	cols := append(types.Schema(nil), inputs[0].Schema()...)
	for j := range cols {
		ts := make([]types.Type, len(inputs))
		for i, in := range inputs {
			ts[i] = in.Schema()[j].Type
		}
		t, err := unify("UNION", ts)
		if err != nil {
			return nil, err
		}
		cols[j].Type = t
	}
	for i, in := range inputs {
		need := false
		exprs := make([]expr.Expr, width)
		for j, c := range in.Schema() {
			exprs[j] = &expr.ColRef{Idx: j, Name: c.Name, T: c.Type}
			if c.Type.Kind != cols[j].Type.Kind && cols[j].Type.Kind != types.Null {
				e, err := expr.NewCast(exprs[j], cols[j].Type)
				if err != nil {
					return nil, err
				}
				exprs[j] = e
				need = true
			}
		}
		if need || i > 0 {
			pc := append(types.Schema(nil), cols...)
			inputs[i] = &plan.Project{Input: in, Exprs: exprs, Cols: pc}
		}
	}
	var node plan.Node = &plan.Union{Inputs: inputs}
	if distinct {
		node = distinctOf(node)
	}
	sc := scopeOf("", node.Schema())
	sc.parent = outer
	return b.orderLimit(node, sc, x.OrderBy, x.Limit, nil, nil)
}

func distinctOf(n plan.Node) plan.Node {
	s := n.Schema()
	keys := make([]expr.Expr, len(s))
	for i, c := range s {
		keys[i] = &expr.ColRef{Idx: i, Name: c.Name, T: c.Type}
	}
	return &plan.GroupAgg{Input: n, GroupBy: keys, Cols: append(types.Schema(nil), s...)}
}

// item is one SELECT list entry after * expansion.
type item struct {
	ast  ast.ExprNode // nil for expanded columns
	col  int          // column of the FROM scope for expanded columns
	name string
}

func (b *binder) selectStmt(sel *ast.SelectStmt, outer *scope) (plan.Node, error) {
	// The grouping hook belongs to one SELECT: subqueries in FROM must not
	// leak theirs into the enclosing query, nor see the enclosing one.
	saveGroup, saveClause := b.group, b.clause
	b.group = nil
	defer func() { b.group, b.clause = saveGroup, saveClause }()
	if sel.With != nil {
		pop, err := b.pushCTEs(sel.With)
		if err != nil {
			return nil, err
		}
		defer pop()
	}
	saveWhere := b.joinWhere
	b.joinWhere = nil
	if b.stream {
		b.joinWhere = sel.Where
	}
	node, sc, err := b.from(sel.From, outer)
	b.joinWhere = saveWhere
	if err != nil {
		return nil, err
	}
	sc.parent = outer
	if outer != nil {
		sc.correlated = outer.correlated
	}
	if sel.Where != nil {
		b.clause = "WHERE"
		pred, err := b.bind(sel.Where, sc)
		if err != nil {
			return nil, err
		}
		b.inferParam(pred, types.TBool)
		if err := wantBool(pred, "WHERE"); err != nil {
			return nil, err
		}
		node = &plan.Filter{Input: node, Pred: pred}
	}
	b.clause = ""

	// Expand the SELECT list.
	var items []item
	for _, f := range sel.Fields.Fields {
		if f.WildCard != nil {
			tbl := f.WildCard.Table.L
			if f.WildCard.Schema.L != "" {
				tbl = f.WildCard.Schema.L + "." + tbl
			}
			found := false
			for i, c := range sc.cols {
				if c.hidden || (tbl != "" && !strings.EqualFold(c.table, tbl) && !strings.HasSuffix(tbl, "."+c.table)) {
					continue
				}
				found = true
				items = append(items, item{col: i, name: c.name})
			}
			if tbl != "" && !found {
				return nil, sqlerr.New(sqlerr.UndefinedTable, "missing FROM-clause entry for table %q", tbl)
			}
			continue
		}
		name := f.AsName.O
		if name == "" {
			name = outputName(f.Expr)
		}
		items = append(items, item{ast: f.Expr, col: -1, name: name})
	}

	// Aggregation.
	var aggExprs []ast.ExprNode
	collect := func(n ast.ExprNode) {
		if n != nil {
			aggExprs = append(aggExprs, findAggs(n)...)
		}
	}
	for _, it := range items {
		collect(it.ast)
	}
	if sel.Having != nil {
		collect(sel.Having.Expr)
	}
	if sel.OrderBy != nil {
		for _, o := range sel.OrderBy.Items {
			collect(o.Expr)
		}
	}
	preScope := sc
	grouped := len(aggExprs) > 0 || sel.GroupBy != nil
	if grouped {
		if node, sc, err = b.aggregate(node, sc, sel, items, aggExprs); err != nil {
			return nil, err
		}
		if sel.Having != nil {
			b.clause = "HAVING"
			pred, err := b.bind(sel.Having.Expr, sc)
			if err != nil {
				return nil, err
			}
			if err := wantBool(pred, "HAVING"); err != nil {
				return nil, err
			}
			node = &plan.Filter{Input: node, Pred: pred}
			b.clause = ""
		}
	} else if sel.Having != nil {
		return nil, sqlerr.New(sqlerr.GroupingError, "HAVING needs GROUP BY or an aggregate")
	}

	// ROW_NUMBER() OVER (...) → TopN with a rank column.
	for _, it := range items {
		wf, ok := stripParens(it.ast).(*ast.WindowFuncExpr)
		if !ok {
			continue
		}
		if node, sc, err = b.rowNumber(node, sc, wf); err != nil {
			return nil, err
		}
	}

	// Projection.
	b.clause = "SELECT"
	exprs := make([]expr.Expr, len(items))
	cols := make(types.Schema, len(items))
	for i, it := range items {
		var e expr.Expr
		if it.ast == nil {
			c := preScope.cols[it.col]
			if grouped {
				ce := &ast.ColumnNameExpr{Name: &ast.ColumnName{Name: ast.NewCIStr(c.name), Table: ast.NewCIStr(c.table)}}
				if e, err = b.bind(ce, sc); err != nil {
					return nil, err
				}
			} else {
				e = &expr.ColRef{Idx: it.col, Name: c.name, T: c.t}
			}
		} else if e, err = b.bind(it.ast, sc); err != nil {
			return nil, err
		}
		if p, ok := e.(*expr.Param); ok && p.T.Kind == types.Null {
			b.inferParam(p, types.TText)
		}
		exprs[i] = e
		cols[i] = types.Column{Name: it.name, Type: e.Type(), Nullable: true}
	}
	b.clause = ""
	proj := &plan.Project{Input: node, Exprs: exprs, Cols: cols}
	out := scopeOf("", cols)
	out.parent = outer
	if sel.Distinct {
		return b.orderLimit(distinctOf(proj), out, sel.OrderBy, sel.Limit, nil, nil)
	}
	return b.orderLimit(proj, out, sel.OrderBy, sel.Limit, sc, items)
}

func stripParens(n ast.ExprNode) ast.ExprNode {
	for {
		p, ok := n.(*ast.ParenthesesExpr)
		if !ok {
			return n
		}
		n = p.Expr
	}
}

// orderLimit adds ORDER BY and LIMIT over a projection. When inner is set
// (not DISTINCT, not a set operation) sort keys may be any expression over
// the projection's input: the Sort is placed below the Project.
func (b *binder) orderLimit(node plan.Node, out *scope, ob *ast.OrderByClause, lim *ast.Limit, inner *scope, items []item) (plan.Node, error) {
	if b.stream && lim == nil {
		// A view has no order: ORDER BY without LIMIT is ignored.
		ob = nil
	}
	if ob != nil && len(ob.Items) > 0 {
		proj, _ := node.(*plan.Project)
		var keys []plan.SortKey
		// A streaming Top-N sits above the projection and orders by
		// output columns.
		below := inner != nil && proj != nil && !b.stream
		for _, it := range ob.Items {
			k := plan.SortKey{Desc: it.Desc, NullsFirst: it.Desc}
			if fc, ok := stripParens(it.Expr).(*ast.FuncCallExpr); ok && len(fc.Args) == 1 {
				switch fc.FnName.L {
				case "__nulls_first":
					k.NullsFirst = true
					it = &ast.ByItem{Expr: fc.Args[0], Desc: it.Desc}
				case "__nulls_last":
					k.NullsFirst = false
					it = &ast.ByItem{Expr: fc.Args[0], Desc: it.Desc}
				}
			}
			var e expr.Expr
			// Ordinal or output name.
			if pos, ok := ordinal(it.Expr); ok {
				if pos < 1 || pos > len(out.cols) {
					return nil, sqlerr.New("42P10", "ORDER BY position %d is not in select list", pos)
				}
				e = &expr.ColRef{Idx: pos - 1, Name: out.cols[pos-1].name, T: out.cols[pos-1].t}
			} else if cn, ok := stripParens(it.Expr).(*ast.ColumnNameExpr); ok && cn.Name.Table.L == "" {
				if i, err := out.find("", cn.Name.Name.O); err == nil && i >= 0 {
					e = &expr.ColRef{Idx: i, Name: out.cols[i].name, T: out.cols[i].t}
				}
			}
			if e != nil {
				if below {
					e = proj.Exprs[e.(*expr.ColRef).Idx]
				}
			} else {
				if !below {
					var err error
					if e, err = b.bind(it.Expr, out); err != nil {
						return nil, err
					}
				} else {
					var err error
					b.clause = "ORDER BY"
					if e, err = b.bind(it.Expr, inner); err != nil {
						return nil, err
					}
					b.clause = ""
				}
			}
			k.Expr = e
			keys = append(keys, k)
		}
		if len(keys) > 0 {
			if below {
				proj.Input = &plan.Sort{Input: proj.Input, Keys: keys}
			} else if b.stream {
				l, err := b.limitValues(lim)
				if err != nil {
					return nil, err
				}
				if l.CountParam != nil || l.OffsetParam != nil {
					return nil, sqlerr.New(sqlerr.FeatureNotSupported, "the LIMIT of a continuous query must be a constant")
				}
				if l.Offset != 0 {
					return nil, sqlerr.New(sqlerr.FeatureNotSupported, "OFFSET is not supported in streaming queries")
				}
				return &plan.TopN{Input: node, OrderBy: keys, N: l.Count, Cols: node.Schema()}, nil
			} else {
				node = &plan.Sort{Input: node, Keys: keys}
			}
		}
	}
	if lim != nil {
		if b.stream {
			return nil, sqlerr.New(sqlerr.FeatureNotSupported, "LIMIT without ORDER BY is not supported in streaming queries").
				WithHint("use ORDER BY ... LIMIT n (a Top-N) or ROW_NUMBER() OVER (...)")
		}
		l, err := b.limitValues(lim)
		if err != nil {
			return nil, err
		}
		l.Input = node
		node = l
	}
	return node, nil
}

func ordinal(n ast.ExprNode) (int, bool) {
	switch x := stripParens(n).(type) {
	case *ast.PositionExpr:
		return x.N, true
	case ast.ValueExpr:
		if _, isParam := x.(ast.ParamMarkerExpr); isParam {
			return 0, false
		}
		if i, ok := x.GetValue().(int64); ok {
			return int(i), true
		}
		if u, ok := x.GetValue().(uint64); ok {
			return int(u), true
		}
	}
	return 0, false
}

// limitValues returns a Limit (without its input) of lim's count and
// offset: constants, or parameters (LIMIT $1) read when the statement runs.
func (b *binder) limitValues(lim *ast.Limit) (*plan.Limit, error) {
	var err error
	l := &plan.Limit{}
	if l.Count, l.CountParam, err = b.limitValue(lim.Count, "LIMIT"); err != nil {
		return nil, err
	}
	if l.Offset, l.OffsetParam, err = b.limitValue(lim.Offset, "OFFSET"); err != nil {
		return nil, err
	}
	l.Offset = max(l.Offset, 0)
	return l, nil
}

// limitValue binds a LIMIT or OFFSET (what) count: a constant (-1: none),
// or a parameter, typed bigint, read when the statement runs.
func (b *binder) limitValue(n ast.ExprNode, what string) (int64, *expr.Param, error) {
	if n == nil {
		return -1, nil, nil
	}
	e, err := b.bind(n, &scope{})
	if err != nil {
		return 0, nil, err
	}
	if p, ok := e.(*expr.Param); ok {
		b.inferParam(p, types.TInt64)
		if !p.T.Kind.IsInteger() {
			return 0, nil, sqlerr.New(sqlerr.DatatypeMismatch, "argument of %s must be type bigint, not type %s", what, p.T)
		}
		return 0, p, nil
	}
	c, ok := expr.Fold(e).(*expr.Const)
	if ok && c.V.K == types.Numeric && c.V.Decimal().GreaterThan(decimal.NewFromInt(1<<62)) {
		return -1, nil, nil // LIMIT ALL, as TiDB renders OFFSET without LIMIT
	}
	if !ok || !c.V.K.IsInteger() || c.V.I < 0 {
		if c != nil && c.V.IsNull() {
			return -1, nil, nil
		}
		return 0, nil, sqlerr.New(sqlerr.FeatureNotSupported, "LIMIT and OFFSET must be non-negative integer constants")
	}
	return c.V.I, nil, nil
}

// outputName names a SELECT item without an alias, as Postgres does.
func outputName(n ast.ExprNode) string {
	switch x := stripParens(n).(type) {
	case *ast.ColumnNameExpr:
		return x.Name.Name.O
	case *ast.FuncCallExpr:
		switch x.FnName.L {
		case "__cast":
			// As Postgres' FigureColname: a cast keeps the name of a column
			// or function it converts; otherwise the (outermost) type names it.
			s, _ := castName(x)
			return s
		case "__filter", "__ordered":
			if len(x.Args) > 0 {
				return outputName(x.Args[0])
			}
		case "__interval":
			return "interval"
		case "json_get", "json_get_text", "json_get_path", "json_get_path_text":
			return "?column?"
		case "__array", "__array_sub":
			return "array"
		case "__subscript":
			if len(x.Args) > 0 {
				return outputName(x.Args[0])
			}
		case "concat", "regexp_like", "__concat_op", "__any", "__all", "__param":
			return "?column?"
		}
		return strings.TrimPrefix(x.FnName.L, "__")
	case *ast.AggregateFuncExpr:
		return strings.ToLower(x.F)
	case *ast.WindowFuncExpr:
		return strings.ToLower(x.Name)
	case *ast.FuncCastExpr:
		return outputName(x.Expr)
	case *ast.CaseExpr:
		return "case"
	case *ast.ExistsSubqueryExpr:
		return "exists"
	case *ast.SubqueryExpr:
		if s, ok := x.Query.(*ast.SelectStmt); ok && s.Fields != nil && len(s.Fields.Fields) == 1 {
			f := s.Fields.Fields[0]
			if f.AsName.O != "" {
				return f.AsName.O
			}
			if f.Expr != nil {
				return outputName(f.Expr)
			}
		}
	}
	return "?column?"
}

// findAggs returns the aggregate calls in n, not descending into
// subqueries or into aggregates themselves.
func findAggs(n ast.ExprNode) []ast.ExprNode {
	var out []ast.ExprNode
	v := &aggFinder{out: &out}
	n.Accept(v)
	return out
}

type aggFinder struct{ out *[]ast.ExprNode }

func (v *aggFinder) Enter(n ast.Node) (ast.Node, bool) {
	switch x := n.(type) {
	case *ast.SubqueryExpr:
		return n, true
	case ast.ExprNode:
		if isAggregate(x) {
			*v.out = append(*v.out, x)
			return n, true
		}
	}
	return n, false
}

func (v *aggFinder) Leave(n ast.Node) (ast.Node, bool) { return n, true }

// from plans the FROM clause.
func (b *binder) from(f *ast.TableRefsClause, outer *scope) (plan.Node, *scope, error) {
	if f == nil || f.TableRefs == nil {
		return &plan.Values{Rows: [][]expr.Expr{{}}}, &scope{}, nil
	}
	return b.tableRef(f.TableRefs, outer)
}

func (b *binder) tableRef(n ast.ResultSetNode, outer *scope) (plan.Node, *scope, error) {
	switch x := n.(type) {
	case *ast.Join:
		if x.Right == nil {
			return b.tableRef(x.Left, outer)
		}
		return b.join(x, outer)
	case *ast.TableSource:
		alias := x.AsName.L
		switch src := x.Source.(type) {
		case *ast.TableName:
			name := src.Name.L
			if src.Schema.L != "" {
				name = src.Schema.L + "." + src.Name.L
			}
			if w, ok := b.windows[src.Name.O]; ok && src.Schema.L == "" {
				return b.windowTVF(w, alias, outer)
			}
			if tf, ok := b.tableFuncs[src.Name.O]; ok && src.Schema.L == "" {
				return b.tableFunc(tf, alias, outer)
			}
			if src.Schema.L == "" {
				for i := len(b.ctes) - 1; i >= 0; i-- {
					if c := b.ctes[i]; c.Name.L == src.Name.L {
						return b.cteRef(c, alias, outer)
					}
				}
			}
			if w, ok := b.windows[name]; ok {
				return b.windowTVF(w, alias, outer)
			}
			scan, _, err := b.scanOf(name)
			if err != nil {
				return nil, nil, err
			}
			if alias == "" {
				alias = src.Name.L
			}
			return scan, scopeOf(alias, scan.Cols), nil
		case *ast.SelectStmt, *ast.SetOprStmt:
			node, err := b.query(src, outer)
			if err != nil {
				return nil, nil, err
			}
			return node, scopeOf(alias, node.Schema()), nil
		case *ast.Join:
			node, sc, err := b.tableRef(src, outer)
			if err != nil {
				return nil, nil, err
			}
			if alias != "" {
				for i := range sc.cols {
					sc.cols[i].table = alias
				}
			}
			return node, sc, nil
		}
		return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "FROM item %T is not supported", x.Source)
	case *ast.SelectStmt, *ast.SetOprStmt:
		node, err := b.query(x, outer)
		if err != nil {
			return nil, nil, err
		}
		return node, scopeOf("", node.Schema()), nil
	}
	return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "FROM item %T is not supported", n)
}

// windowTVF plans a window table function in FROM as a WindowAssign
// (turned into a WindowAgg when the query groups by the window bounds).
func (b *binder) windowTVF(w *sql.WindowTVF, alias string, outer *scope) (plan.Node, *scope, error) {
	var input plan.Node
	var err error
	qual := alias
	if w.Subquery != nil {
		// The subquery's own placeholders (nested TVFs, functions in FROM).
		for k, v := range w.Subquery.Windows {
			if b.windows == nil {
				b.windows = map[string]*sql.WindowTVF{}
			}
			if _, ok := b.windows[k]; !ok {
				b.windows[k] = v
			}
		}
		for k, v := range w.Subquery.TableFuncs {
			if b.tableFuncs == nil {
				b.tableFuncs = map[string]*sql.TableFunc{}
			}
			if _, ok := b.tableFuncs[k]; !ok {
				b.tableFuncs[k] = v
			}
		}
		input, err = b.query(w.Subquery.Stmt, outer)
		if err != nil {
			return nil, nil, err
		}
	} else {
		input, _, err = b.scanOf(w.Source)
		if err != nil {
			return nil, nil, err
		}
		if qual == "" {
			qual = strings.ToLower(w.Source)
		}
	}
	if qual == "" {
		qual = strings.ToLower(w.Alias)
	}
	in := input.Schema()
	tc := in.Index(w.TimeCol)
	if tc < 0 {
		return nil, nil, scopeOf(qual, in).undefinedColumn("", w.TimeCol)
	}
	if !in[tc].Type.Kind.IsTime() {
		return nil, nil, sqlerr.New(sqlerr.DatatypeMismatch, "window time column %s must be a timestamp, not %s", w.TimeCol, in[tc].Type)
	}
	spec, err := b.windowSpec(w.Kind, tc, w.Args)
	if err != nil {
		return nil, nil, err
	}
	if b.stream {
		if err := requireWatermark(input, tc, w.TimeCol, describeInput(w)); err != nil {
			return nil, nil, err
		}
	}
	cols := append(append(types.Schema(nil), in...), windowCols(in[tc].Type)...)
	wa := &plan.WindowAssign{Input: input, Window: spec, Cols: cols}
	sc := scopeOf(qual, cols)
	// The TVF's window columns shadow input columns of the same name (a
	// window over a windowed view).
	for i := range in {
		switch strings.ToLower(in[i].Name) {
		case "window_start", "window_end", "window_time":
			sc.cols[i].hidden, sc.cols[i].table, sc.cols[i].name = true, "", "\x00"+in[i].Name
		}
	}
	for _, k := range w.PartitionBy {
		if i, _ := sc.find("", k); i < 0 {
			return nil, nil, sc.undefinedColumn("", k)
		}
	}
	return wa, sc, nil
}

func describeInput(w *sql.WindowTVF) string {
	if w.Source != "" {
		return w.Source
	}
	return "the subquery"
}

func windowCols(t types.Type) types.Schema {
	return types.Schema{
		{Name: "window_start", Type: t},
		{Name: "window_end", Type: t},
		{Name: "window_time", Type: t},
	}
}

func (b *binder) windowSpec(kind sql.WindowKind, tc int, args []ast.ExprNode) (plan.WindowSpec, error) {
	spec := plan.WindowSpec{TimeCol: tc}
	iv := make([]int64, len(args))
	names := map[sql.WindowKind][]string{
		sql.Tumble:   {"window size", "window offset"},
		sql.Hop:      {"hop slide", "hop size", "window offset"},
		sql.Cumulate: {"cumulate step", "cumulate size", "window offset"},
		sql.Session:  {"session gap", "session max duration"},
	}[kind]
	if len(args) > len(names) || len(args) < len(names)-1 {
		return spec, sqlerr.New(sqlerr.SyntaxError, "wrong number of window arguments: got %d", len(args))
	}
	for i, a := range args {
		if strings.HasSuffix(names[i], "offset") {
			v, err := b.constIntervalAllowZero(a, names[i])
			if err != nil {
				return spec, err
			}
			iv[i] = v
			continue
		}
		v, err := b.constInterval(a, names[i])
		if err != nil {
			return spec, err
		}
		iv[i] = v
	}
	switch kind {
	case sql.Tumble:
		spec.Kind, spec.Size = plan.Tumble, iv[0]
		if len(iv) > 1 {
			spec.Offset = iv[1]
		}
	case sql.Hop:
		spec.Kind, spec.Slide, spec.Size = plan.Hop, iv[0], iv[1]
		if len(iv) > 2 {
			spec.Offset = iv[2]
		}
		if spec.Size%spec.Slide != 0 {
			return spec, sqlerr.New(sqlerr.InvalidParameterValue, "HOP size %s must be a multiple of the slide %s",
				types.AppendInterval(nil, spec.Size), types.AppendInterval(nil, spec.Slide))
		}
	case sql.Cumulate:
		spec.Kind, spec.Step, spec.Size = plan.Cumulate, iv[0], iv[1]
		if len(iv) > 2 {
			spec.Offset = iv[2]
		}
		if spec.Size%spec.Step != 0 {
			return spec, sqlerr.New(sqlerr.InvalidParameterValue, "CUMULATE size must be a multiple of the step")
		}
	case sql.Session:
		spec.Kind, spec.Gap = plan.Session, iv[0]
		if len(iv) > 1 {
			spec.MaxDuration = iv[1]
		}
		if b.viewOpts != nil && spec.MaxDuration == 0 {
			if s, ok := b.viewOpts["session_max_duration"]; ok {
				us, err := types.ParseInterval(s)
				if err != nil || us <= 0 {
					return spec, sqlerr.New(sqlerr.InvalidParameterValue, "invalid session_max_duration %q", s)
				}
				spec.MaxDuration = us
			}
		}
	}
	return spec, nil
}

func (b *binder) constIntervalAllowZero(a ast.ExprNode, what string) (int64, error) {
	e, err := b.bind(a, &scope{})
	if err != nil {
		return 0, err
	}
	if c, ok := expr.Fold(e).(*expr.Const); ok && c.V.K == types.Interval && c.V.I >= 0 {
		return c.V.I, nil
	}
	return b.constInterval(a, what)
}

// requireWatermark checks that column tc of input is its event-time column
// with a watermark.
func requireWatermark(input plan.Node, tc int, colName, what string) error {
	t := timeCol(input)
	if t < 0 {
		return sqlerr.New("42P17", "cannot window %s by %s: it has no watermark", what, colName).
			WithHint("add WATERMARK FOR %s AS %s - INTERVAL '5' SECOND to the source definition", colName, colName)
	}
	if t != tc {
		return sqlerr.New("42P17", "cannot window %s by %s: its event-time column is %s", what, colName, input.Schema()[t].Name).
			WithHint("window by %s, or declare WATERMARK FOR %s in the source", input.Schema()[t].Name, colName)
	}
	return nil
}

// timeCol returns the output column of n that carries event time with a
// watermark, or -1.
func timeCol(n plan.Node) int {
	switch x := n.(type) {
	case *plan.Scan:
		if x.Watermark != nil {
			return x.Watermark.Col
		}
	case *plan.Filter, *plan.Sort, *plan.Limit, *plan.Dedup:
		return timeCol(n.Children()[0])
	case *plan.TopN:
		return timeCol(x.Input)
	case *plan.Project:
		t := timeCol(x.Input)
		if t < 0 {
			return -1
		}
		for i, e := range x.Exprs {
			if c, ok := e.(*expr.ColRef); ok && c.Idx == t {
				return i
			}
		}
		// window_end of a window aggregate is window_time + 1µs: the
		// watermark on window_time is a valid (conservative) one for it.
		if wa, ok := x.Input.(*plan.WindowAgg); ok {
			for i, e := range x.Exprs {
				if c, ok := e.(*expr.ColRef); ok && c.Idx == len(wa.GroupBy)+1 {
					return i
				}
			}
		}
	case *plan.WindowAssign:
		return timeCol(x.Input)
	case *plan.WindowAgg:
		return len(x.GroupBy) + 2
	case *plan.IntervalJoin:
		return x.LeftTime
	case *plan.LookupJoin:
		return timeCol(x.Stream)
	case *plan.Union:
		t := timeCol(x.Inputs[0])
		for _, in := range x.Inputs[1:] {
			if timeCol(in) != t {
				return -1
			}
		}
		return t
	}
	return -1
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// tableFunc plans a function in FROM. Its arguments may read parameters
// and, inside a subquery, the outer query's row, but not other FROM items.
func (b *binder) tableFunc(tf *sql.TableFunc, alias string, outer *scope) (plan.Node, *scope, error) {
	if b.stream {
		return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "function %s in FROM is not supported in streaming queries", tf.Name)
	}
	// Arguments see no FROM item of their own query, only enclosing
	// queries (as outer references: the function runs over no input row).
	argScope := &scope{parent: outer}
	if outer != nil {
		argScope.correlated = outer.correlated
	}
	args, err := b.args(tf.Args, argScope)
	if err != nil {
		return nil, nil, err
	}
	ts := exprTypes(args)
	t, srf, err := expr.TableFuncType(tf.Name, ts)
	if err != nil {
		return nil, nil, err
	}
	name := tf.Name
	if !srf {
		if strings.HasPrefix(tf.Name, "information_schema.") {
			return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "function %s in FROM is not supported", tf.Name)
		}
		call, err := expr.NewFunc(tf.Name, args)
		if err != nil {
			return nil, nil, err
		}
		args, t, name = []expr.Expr{call}, call.Type(), "__scalar"
	} else if tf.Name == "unnest" {
		b.inferParam(args[0], types.TText)
	}
	colName := tf.Name
	if i := strings.LastIndexByte(colName, '.'); i >= 0 {
		colName = colName[i+1:]
	}
	if tf.Alias != "" {
		colName = tf.Alias
	}
	if len(tf.ColumnAliases) > 0 {
		colName = tf.ColumnAliases[0]
	}
	cols := types.Schema{{Name: colName, Type: t, Nullable: true}}
	if tf.WithOrdinality {
		on := "ordinality"
		if len(tf.ColumnAliases) > 1 {
			on = tf.ColumnAliases[1]
		}
		cols = append(cols, types.Column{Name: on, Type: types.TInt64})
	}
	if alias == "" {
		alias = tf.Alias
	}
	if alias == "" {
		alias = colName
	}
	n := &plan.TableFunc{Name: name, Args: args, Ordinality: tf.WithOrdinality, Cols: cols}
	return n, scopeOf(alias, cols), nil
}

// pushCTEs makes the WITH clause's names visible until pop is called.
func (b *binder) pushCTEs(w *ast.WithClause) (pop func(), err error) {
	if w.IsRecursive {
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "WITH RECURSIVE is not supported")
	}
	n := len(b.ctes)
	b.ctes = append(b.ctes, w.CTEs...)
	return func() { b.ctes = b.ctes[:n] }, nil
}

// cteRef plans a reference to a common table expression (inlined: each
// reference plans the query again).
func (b *binder) cteRef(c *ast.CommonTableExpression, alias string, outer *scope) (plan.Node, *scope, error) {
	if c.Query == nil {
		return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "WITH %s has no query", c.Name.O)
	}
	// The CTE's own and later names are not visible inside it.
	save := b.ctes
	for i, x := range b.ctes {
		if x == c {
			b.ctes = b.ctes[:i:i]
			break
		}
	}
	node, err := b.query(c.Query.Query, &scope{})
	b.ctes = save
	if err != nil {
		return nil, nil, err
	}
	if len(c.ColNameList) > 0 {
		s := node.Schema()
		if len(c.ColNameList) > len(s) {
			return nil, nil, sqlerr.New(sqlerr.SyntaxError, "WITH query %q has %d columns available but %d columns specified", c.Name.O, len(s), len(c.ColNameList))
		}
		cols := append(types.Schema(nil), s...)
		exprs := make([]expr.Expr, len(s))
		for i, col := range s {
			exprs[i] = &expr.ColRef{Idx: i, Name: col.Name, T: col.Type}
			if i < len(c.ColNameList) {
				cols[i].Name = c.ColNameList[i].O
			}
		}
		node = &plan.Project{Input: node, Exprs: exprs, Cols: cols}
	}
	if alias == "" {
		alias = c.Name.L
	}
	return node, scopeOf(alias, node.Schema()), nil
}

// castName names a __cast call: strength 2 when the name comes from a
// column or function inside, 1 when it is the type name.
func castName(x *ast.FuncCallExpr) (string, int) {
	if len(x.Args) != 2 {
		return "?column?", 0
	}
	inner := stripParens(x.Args[0])
	if f, ok := inner.(*ast.FuncCallExpr); ok && f.FnName.L == "__cast" {
		if s, st := castName(f); st == 2 {
			return s, 2
		}
	} else if s := outputName(inner); s != "?column?" {
		return s, 2
	}
	if v, ok := x.Args[1].(ast.ValueExpr); ok {
		if s, ok := v.GetValue().(string); ok {
			t := strings.TrimSpace(strings.Split(strings.TrimPrefix(strings.ToLower(s), "pg_catalog."), "(")[0])
			if pg, ok := pgTypeNames[t]; ok {
				return pg, 1
			}
			return t, 1
		}
	}
	return "?column?", 0
}

// pgTypeNames are the internal names Postgres gives a cast's column.
var pgTypeNames = map[string]string{
	"int": "int4", "integer": "int4", "bigint": "int8", "smallint": "int2", "real": "float4",
	"double precision": "float8", "float": "float8", "boolean": "bool", "character varying": "varchar",
	"decimal": "numeric", "char": "bpchar", "character": "bpchar",
	"timestamp with time zone": "timestamptz", "timestamp without time zone": "timestamp",
}
