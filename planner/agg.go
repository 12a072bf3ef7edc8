package planner

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// aggregate plans GROUP BY and aggregates. It returns the aggregation node
// and the scope to bind the SELECT list, HAVING and ORDER BY against (with
// b.group set to map grouped expressions and aggregates onto it).
func (b *binder) aggregate(node plan.Node, sc *scope, sel *ast.SelectStmt, items []item, aggASTs []ast.ExprNode) (plan.Node, *scope, error) {
	b.clause = "GROUP BY"
	var keys []expr.Expr
	var legacy *plan.WindowSpec
	if sel.GroupBy != nil {
		for _, it := range sel.GroupBy.Items {
			n := stripParens(it.Expr)
			if fc, ok := n.(*ast.FuncCallExpr); ok && legacyWindowFuncs[fc.FnName.L] {
				if legacy != nil {
					return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "only one group window is allowed")
				}
				spec, err := b.legacyWindow(fc, node, sc)
				if err != nil {
					return nil, nil, err
				}
				legacy = &spec
				continue
			}
			var e expr.Expr
			var err error
			if pos, ok := ordinal(n); ok {
				if pos < 1 || pos > len(items) {
					return nil, nil, sqlerr.New("42P10", "GROUP BY position %d is not in select list", pos)
				}
				if items[pos-1].ast == nil {
					c := sc.cols[items[pos-1].col]
					e = &expr.ColRef{Idx: items[pos-1].col, Name: c.name, T: c.t}
				} else if e, err = b.bind(items[pos-1].ast, sc); err != nil {
					return nil, nil, err
				}
			} else if cn, ok := n.(*ast.ColumnNameExpr); ok && cn.Name.Table.L == "" {
				if i, _ := sc.find("", cn.Name.Name.O); i < 0 {
					for _, itm := range items {
						if itm.ast != nil && strings.EqualFold(itm.name, cn.Name.Name.O) {
							n = itm.ast
							break
						}
					}
				}
			}
			if e == nil {
				if e, err = b.bind(n, sc); err != nil {
					return nil, nil, err
				}
			}
			keys = append(keys, e)
		}
	}
	b.clause = ""

	// Aggregate calls, deduplicated.
	var aggs []plan.AggCall
	aggIdx := map[ast.ExprNode]int{}
	byText := map[string]int{}
	for _, n := range aggASTs {
		call, err := b.aggCall(n, sc)
		if err != nil {
			return nil, nil, err
		}
		s := call.String()
		if i, ok := byText[s]; ok {
			aggIdx[n] = i
			continue
		}
		byText[s] = len(aggs)
		aggIdx[n] = len(aggs)
		call.Name = outputName(n)
		aggs = append(aggs, call)
	}

	// Choose the operator.
	var out plan.Node
	winOut := [3]int{-1, -1, -1} // output columns of window_start, _end, _time
	var winPre [3]expr.Expr      // their expressions in the input scope
	var winTable string          // qualifier of the window columns
	nk := len(keys)
	if legacy != nil {
		if b.stream {
			if err := requireWatermark(node, legacy.TimeCol, node.Schema()[legacy.TimeCol].Name, "the input"); err != nil {
				return nil, nil, err
			}
			out = b.windowAgg(node, *legacy, keys, aggs)
			winOut = [3]int{nk, nk + 1, nk + 2}
		} else {
			if legacy.Kind == plan.Session {
				return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "session windows are not supported in ad-hoc queries")
			}
			in := node.Schema()
			w := len(in)
			node = &plan.WindowAssign{Input: node, Window: *legacy, Cols: append(append(types.Schema(nil), in...), windowCols(in[legacy.TimeCol].Type)...)}
			for j := range 3 {
				c := node.Schema()[w+j]
				keys = append(keys, &expr.ColRef{Idx: w + j, Name: c.Name, T: c.Type})
			}
			out = b.groupAgg(node, keys, aggs)
			winOut = [3]int{nk, nk + 1, nk + 2}
		}
	} else if wa, filters := findWindowAssign(node); wa != nil {
		w := len(wa.Input.Schema())
		var rest []expr.Expr
		hasWin := false
		for _, k := range keys {
			if c, ok := k.(*expr.ColRef); ok && c.Idx >= w && c.Idx < w+3 {
				if c.Idx < w+2 {
					hasWin = true
				}
				continue
			}
			rest = append(rest, k)
		}
		for j := range 3 {
			c := wa.Cols[w+j]
			winPre[j] = &expr.ColRef{Idx: w + j, Name: c.Name, T: c.Type}
		}
		winTable = sc.cols[w].table
		switch {
		case b.stream && hasWin:
			if err := windowFree(w, append(append([]expr.Expr{}, rest...), filters...), aggs); err != nil {
				return nil, nil, err
			}
			var input plan.Node = wa.Input
			for i := len(filters) - 1; i >= 0; i-- {
				input = &plan.Filter{Input: input, Pred: filters[i]}
			}
			keys = rest
			nk = len(keys)
			out = b.windowAgg(input, wa.Window, keys, aggs)
			winOut = [3]int{nk, nk + 1, nk + 2}
		case wa.Window.Kind == plan.Session && !b.stream:
			return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "session windows are not supported in ad-hoc queries")
		case wa.Window.Kind == plan.Session:
			return nil, nil, sqlerr.New(sqlerr.GroupingError, "a SESSION window must be grouped by window_start and window_end")
		default:
			out = b.groupAgg(node, keys, aggs)
			for i, k := range keys {
				if c, ok := k.(*expr.ColRef); ok && c.Idx >= w && c.Idx < w+3 {
					winOut[c.Idx-w] = i
				}
			}
		}
	} else {
		out = b.groupAgg(node, keys, aggs)
	}
	if g, ok := out.(*plan.GroupAgg); ok && b.stream {
		if s, ok := b.viewOpts["state_ttl"]; ok {
			us, err := types.ParseInterval(s)
			if err != nil || us <= 0 {
				return nil, nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid state_ttl %q", s).WithHint("write it as state_ttl = '1 hour'")
			}
			g.TTL = us
		}
	}

	// The scope after aggregation.
	outCols := out.Schema()
	post := &scope{parent: sc.parent, correlated: sc.correlated}
	for i, c := range outCols {
		pc := col{name: c.Name, t: c.Type, hidden: true}
		if i < nk {
			if r, ok := keys[i].(*expr.ColRef); ok {
				pc.table, pc.hidden = sc.cols[r.Idx].table, false
			}
		}
		for j := range 3 {
			if winOut[j] == i {
				pc.table, pc.hidden = winTable, false
			}
		}
		post.cols = append(post.cols, pc)
	}
	aggBase := len(outCols) - len(aggs)
	keyText := map[string]int{}
	for i, k := range keys {
		if i < nk || legacy == nil {
			keyText[k.String()] = i
		}
	}
	for j := range 3 {
		if winPre[j] != nil && winOut[j] >= 0 {
			keyText[winPre[j].String()] = winOut[j]
		}
	}
	pre := sc
	b.group = func(n ast.ExprNode) (expr.Expr, bool, error) {
		if i, ok := aggIdx[n]; ok {
			a := aggs[i]
			return &expr.ColRef{Idx: aggBase + i, Name: a.Name, T: a.Type}, true, nil
		}
		switch x := n.(type) {
		case *ast.SubqueryExpr, *ast.ExistsSubqueryExpr, *ast.CompareSubqueryExpr, *ast.WindowFuncExpr, ast.ValueExpr:
			return nil, false, nil
		case *ast.PatternInExpr:
			if x.Sel != nil {
				return nil, false, nil
			}
		case *ast.FuncCallExpr:
			if j, ok := legacyBound(x.FnName.L); ok {
				if winOut[j] < 0 {
					return nil, false, sqlerr.New(sqlerr.GroupingError, "%s needs GROUP BY %s(...)", strings.ToUpper(x.FnName.L), strings.ToUpper(x.FnName.L[:strings.Index(x.FnName.L, "_")]))
				}
				if legacy != nil && len(x.Args) > 0 {
					if ts, err := b.bindPlain(x.Args[0], pre); err != nil || !sameCol(ts, legacy.TimeCol) {
						return nil, false, sqlerr.New(sqlerr.GroupingError, "%s must name the time column of the GROUP BY window", strings.ToUpper(x.FnName.L))
					}
				}
				c := outCols[winOut[j]]
				return &expr.ColRef{Idx: winOut[j], Name: c.Name, T: c.Type}, true, nil
			}
		}
		saveG, saveS := b.group, b.subst
		b.group, b.subst = nil, nil
		e, err := b.bind(n, pre)
		b.group, b.subst = saveG, saveS
		if err != nil {
			if _, isCol := n.(*ast.ColumnNameExpr); isCol {
				return nil, false, err
			}
			return nil, false, nil
		}
		if i, ok := keyText[e.String()]; ok {
			c := outCols[i]
			return &expr.ColRef{Idx: i, Name: c.Name, T: c.Type}, true, nil
		}
		if cn, isCol := n.(*ast.ColumnNameExpr); isCol {
			if _, outer := e.(*expr.OuterRef); outer {
				return e, true, nil
			}
			return nil, false, sqlerr.New(sqlerr.GroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", cn.Name.String())
		}
		if expr.IsConstant(e) {
			return e, true, nil
		}
		return nil, false, nil
	}
	return out, post, nil
}

// findWindowAssign finds a WindowAssign below Filters at the top of n and
// returns it with the filter predicates (outermost first).
func findWindowAssign(n plan.Node) (*plan.WindowAssign, []expr.Expr) {
	var filters []expr.Expr
	for {
		switch x := n.(type) {
		case *plan.WindowAssign:
			return x, filters
		case *plan.Filter:
			filters = append(filters, x.Pred)
			n = x.Input
		default:
			return nil, nil
		}
	}
}

// windowFree checks that expressions evaluated below a WindowAgg do not
// read the window columns (which exist only after aggregation).
func windowFree(w int, es []expr.Expr, aggs []plan.AggCall) error {
	for _, a := range aggs {
		es = append(es, a.Args...)
		if a.Filter != nil {
			es = append(es, a.Filter)
		}
	}
	for _, e := range es {
		bad := false
		expr.Walk(e, func(x expr.Expr) bool {
			if c, ok := x.(*expr.ColRef); ok && c.Idx >= w {
				bad = true
			}
			return !bad
		})
		if bad {
			return sqlerr.New(sqlerr.FeatureNotSupported, "%s reads window_start/window_end before the window aggregation", e).
				WithHint("filter on window bounds in HAVING or in an outer query")
		}
	}
	return nil
}

func (b *binder) windowAgg(input plan.Node, spec plan.WindowSpec, keys []expr.Expr, aggs []plan.AggCall) *plan.WindowAgg {
	in := input.Schema()
	var cols types.Schema
	for _, k := range keys {
		cols = append(cols, types.Column{Name: exprName(k), Type: k.Type(), Nullable: true})
	}
	cols = append(cols, windowCols(in[spec.TimeCol].Type)...)
	for _, a := range aggs {
		cols = append(cols, types.Column{Name: a.Name, Type: a.Type, Nullable: true})
	}
	wa := &plan.WindowAgg{Input: input, Window: spec, GroupBy: keys, Aggs: aggs, Cols: cols}
	if b.viewEOWC {
		wa.Emit = plan.EmitOnWindowClose
	}
	wa.Lateness = b.lateness
	return wa
}

func (b *binder) groupAgg(input plan.Node, keys []expr.Expr, aggs []plan.AggCall) *plan.GroupAgg {
	var cols types.Schema
	for _, k := range keys {
		cols = append(cols, types.Column{Name: exprName(k), Type: k.Type(), Nullable: true})
	}
	for _, a := range aggs {
		cols = append(cols, types.Column{Name: a.Name, Type: a.Type, Nullable: true})
	}
	return &plan.GroupAgg{Input: input, GroupBy: keys, Aggs: aggs, Cols: cols}
}

func exprName(e expr.Expr) string {
	switch x := e.(type) {
	case *expr.ColRef:
		return x.Name
	case *expr.Func:
		return x.Name
	}
	return "?column?"
}

// legacyWindow plans GROUP BY TUMBLE(ts, size) / HOP(ts, slide, size) /
// SESSION(ts, gap).
func (b *binder) legacyWindow(fc *ast.FuncCallExpr, node plan.Node, sc *scope) (plan.WindowSpec, error) {
	if len(fc.Args) < 2 {
		return plan.WindowSpec{}, sqlerr.New(sqlerr.SyntaxError, "%s needs a time column and an interval", strings.ToUpper(fc.FnName.L))
	}
	ts, err := b.bind(fc.Args[0], sc)
	if err != nil {
		return plan.WindowSpec{}, err
	}
	c, ok := ts.(*expr.ColRef)
	if !ok || !c.T.Kind.IsTime() {
		return plan.WindowSpec{}, sqlerr.New(sqlerr.DatatypeMismatch, "the first argument of %s must be a timestamp column", strings.ToUpper(fc.FnName.L))
	}
	kind := map[string]sql.WindowKind{"tumble": sql.Tumble, "hop": sql.Hop, "session": sql.Session, "cumulate": sql.Cumulate}[strings.TrimPrefix(fc.FnName.L, "__")]
	return b.windowSpec(kind, c.Idx, fc.Args[1:])
}

// aggCall binds one aggregate call.
func (b *binder) aggCall(n ast.ExprNode, sc *scope) (plan.AggCall, error) {
	var call plan.AggCall
	var filter ast.ExprNode
	if fc, ok := n.(*ast.FuncCallExpr); ok && fc.FnName.L == "__filter" {
		if len(fc.Args) != 2 || !isAggregate(fc.Args[0]) {
			return call, sqlerr.New(sqlerr.SyntaxError, "FILTER applies to an aggregate call")
		}
		n, filter = fc.Args[0], fc.Args[1]
	}
	// agg(args ORDER BY k1, k2 DESC) comes as __ordered(agg(args), k1,
	// __desc(k2)) (also from WITHIN GROUP).
	var order *ast.OrderByClause
	if fc, ok := n.(*ast.FuncCallExpr); ok && fc.FnName.L == "__ordered" {
		order = &ast.OrderByClause{}
		for _, k := range fc.Args[1:] {
			it := &ast.ByItem{Expr: k}
			if d, ok := k.(*ast.FuncCallExpr); ok && d.FnName.L == "__desc" && len(d.Args) == 1 {
				it.Expr, it.Desc = d.Args[0], true
			}
			order.Items = append(order.Items, it)
		}
		n = fc.Args[0]
	}
	var args []ast.ExprNode
	switch x := n.(type) {
	case *ast.AggregateFuncExpr:
		call.Func, args, call.Distinct = strings.ToLower(x.F), x.Args, x.Distinct
		if x.Order != nil {
			order = x.Order
		}
	case *ast.FuncCallExpr:
		call.Func, args = x.FnName.L, x.Args
	}
	switch call.Func {
	case "every":
		call.Func = "bool_and"
	case "__first_value", "__last_value":
		call.Func = strings.TrimPrefix(call.Func, "__")
	}
	if call.Func == "group_concat" {
		call.Func = "string_agg"
	}
	saveG, saveC := b.group, b.clause
	b.group = nil
	b.clause = "aggregate arguments"
	defer func() { b.group, b.clause = saveG, saveC }()
	for _, a := range args {
		if len(findAggs(a)) > 0 {
			return call, sqlerr.New(sqlerr.GroupingError, "aggregate function calls cannot be nested")
		}
	}
	bound, err := b.args(args, sc)
	if err != nil {
		return call, err
	}
	constArg := func(i int, what string) (types.Value, error) {
		c, ok := expr.Fold(bound[i]).(*expr.Const)
		if !ok {
			return types.Value{}, sqlerr.New(sqlerr.FeatureNotSupported, "the %s of %s must be a constant", what, call.Func)
		}
		return c.V, nil
	}
	switch call.Func {
	case "count":
		if len(bound) == 1 && !call.Distinct {
			if c, ok := bound[0].(*expr.Const); ok && !c.V.IsNull() {
				bound = nil
			}
		}
		if len(bound) > 1 {
			return call, sqlerr.New(sqlerr.FeatureNotSupported, "count with several arguments is not supported")
		}
		call.Type = types.TInt64
	case "approx_percentile":
		if len(bound) != 2 {
			return call, sqlerr.New(sqlerr.UndefinedFunction, "approx_percentile takes a value and a fraction")
		}
		v, err := constArg(1, "fraction")
		if err != nil {
			return call, err
		}
		f := v.Float()
		if !v.K.IsNumeric() || f < 0 || f > 1 {
			return call, sqlerr.New(sqlerr.InvalidParameterValue, "percentile fraction must be between 0 and 1, got %s", v)
		}
		call.Params = []types.Value{types.NewFloat(f)}
		bound = bound[:1]
		call.Type = types.TFloat64
		if k := bound[0].Type().Kind; k.IsTime() {
			call.Type = bound[0].Type()
		} else if !k.IsNumeric() && k != types.Null {
			return call, sqlerr.New(sqlerr.UndefinedFunction, "function approx_percentile(%s) does not exist", bound[0].Type())
		}
	case "string_agg":
		if len(bound) != 2 {
			return call, sqlerr.New(sqlerr.UndefinedFunction, "string_agg takes a value and a separator")
		}
		v, err := constArg(1, "separator")
		if err != nil {
			return call, err
		}
		call.Params = []types.Value{types.NewText(v.String())}
		bound = bound[:1]
		if k := bound[0].Type().Kind; k != types.Text {
			c, err := expr.NewCast(bound[0], types.TText)
			if err != nil {
				return call, err
			}
			bound[0] = c
		}
		call.Type = types.TText
	default:
		if len(bound) != 1 {
			return call, sqlerr.New(sqlerr.UndefinedFunction, "function %s takes one argument", call.Func)
		}
		t := bound[0].Type()
		switch call.Func {
		case "sum":
			switch {
			case t.Kind.IsInteger():
				call.Type = types.TInt64
			case t.Kind == types.Float32 || t.Kind == types.Float64:
				call.Type = types.TFloat64
			case t.Kind == types.Numeric, t.Kind == types.Null:
				call.Type = types.TNumeric
			case t.Kind == types.Interval:
				call.Type = types.TInterval
			default:
				return call, sqlerr.New(sqlerr.UndefinedFunction, "function sum(%s) does not exist", t)
			}
		case "avg":
			switch {
			case t.Kind.IsInteger(), t.Kind == types.Float32, t.Kind == types.Float64:
				call.Type = types.TFloat64
			case t.Kind == types.Numeric, t.Kind == types.Null:
				call.Type = types.TNumeric
			case t.Kind == types.Interval:
				call.Type = types.TInterval
			default:
				return call, sqlerr.New(sqlerr.UndefinedFunction, "function avg(%s) does not exist", t)
			}
		case "min", "max", "first_value", "last_value":
			if t.Kind == types.JSONB && (call.Func == "min" || call.Func == "max") {
				return call, sqlerr.New(sqlerr.UndefinedFunction, "function %s(jsonb) does not exist", call.Func)
			}
			call.Type = t
		case "approx_count_distinct":
			call.Type = types.TInt64
		case "bool_and", "bool_or":
			if t.Kind != types.Bool && t.Kind != types.Null {
				return call, sqlerr.New(sqlerr.UndefinedFunction, "function %s(%s) does not exist", call.Func, t)
			}
			call.Type = types.TBool
		default:
			return call, sqlerr.New(sqlerr.UndefinedFunction, "aggregate %s does not exist", call.Func)
		}
	}
	call.Args = bound
	if filter != nil {
		b.clause = "FILTER"
		f, err := b.bind(filter, sc)
		if err != nil {
			return call, err
		}
		if err := wantBool(f, "FILTER"); err != nil {
			return call, err
		}
		call.Filter = f
	}
	if order != nil {
		for _, it := range order.Items {
			e, err := b.bind(it.Expr, sc)
			if err != nil {
				return call, err
			}
			call.OrderBy = append(call.OrderBy, plan.SortKey{Expr: e, Desc: it.Desc})
		}
	}
	return call, nil
}

// rowNumber plans ROW_NUMBER() OVER (PARTITION BY .. ORDER BY ..) as a TopN
// with an unbounded N and a rank column; a rank filter above folds into N
// (rule topNFromFilter).
func (b *binder) rowNumber(node plan.Node, sc *scope, wf *ast.WindowFuncExpr) (plan.Node, *scope, error) {
	if strings.ToLower(wf.Name) != "row_number" {
		return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "window function %s is not supported; only ROW_NUMBER() for Top-N", wf.Name)
	}
	if wf.Spec.Name.L != "" || wf.Spec.Ref.L != "" {
		return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "named windows are not supported")
	}
	t := &plan.TopN{Input: node, N: -1, RankCol: true}
	b.clause = "window PARTITION BY"
	if wf.Spec.PartitionBy != nil {
		for _, it := range wf.Spec.PartitionBy.Items {
			e, err := b.bind(it.Expr, sc)
			if err != nil {
				return nil, nil, err
			}
			t.PartitionBy = append(t.PartitionBy, e)
		}
	}
	if wf.Spec.OrderBy != nil {
		for _, it := range wf.Spec.OrderBy.Items {
			e, err := b.bind(it.Expr, sc)
			if err != nil {
				return nil, nil, err
			}
			t.OrderBy = append(t.OrderBy, plan.SortKey{Expr: e, Desc: it.Desc, NullsFirst: it.Desc})
		}
	}
	b.clause = ""
	if len(t.OrderBy) == 0 && b.stream {
		return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "ROW_NUMBER() needs ORDER BY in a streaming query")
	}
	in := node.Schema()
	t.Cols = append(append(types.Schema(nil), in...), types.Column{Name: "row_number", Type: types.TInt64})
	out := &scope{parent: sc.parent, correlated: sc.correlated}
	out.cols = append(append(out.cols, sc.cols...), col{name: "row_number", t: types.TInt64, hidden: true})
	if b.subst == nil {
		b.subst = map[ast.ExprNode]expr.Expr{}
	}
	b.subst[wf] = &expr.ColRef{Idx: len(in), Name: "row_number", T: types.TInt64}
	return t, out, nil
}

// bindPlain binds n in sc without the grouping hook.
func (b *binder) bindPlain(n ast.ExprNode, sc *scope) (expr.Expr, error) {
	saveG, saveS := b.group, b.subst
	b.group, b.subst = nil, nil
	defer func() { b.group, b.subst = saveG, saveS }()
	return b.bind(n, sc)
}

func sameCol(e expr.Expr, idx int) bool {
	c, ok := e.(*expr.ColRef)
	return ok && c.Idx == idx
}
