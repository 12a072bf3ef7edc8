package planner

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluice-db/sluice/connectors"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// Planner binds and plans statements against a Catalog. A Planner holds no
// per-statement state; it is safe for concurrent use when its Catalog is.
type Planner struct {
	cat Catalog
}

// New returns a planner over cat.
func New(cat Catalog) *Planner { return &Planner{cat: cat} }

func (p *Planner) newBinder(stream bool, params []types.Type) *binder {
	return &binder{p: p, stream: stream, params: append([]types.Type(nil), params...), subst: map[ast.ExprNode]expr.Expr{}}
}

// viewOptions are the WITH keys CREATE MATERIALIZED VIEW accepts.
var viewOptions = map[string]string{
	"allowed_lateness":     "grace period for late rows of a closed window, e.g. '10 seconds'",
	"state_ttl":            "free a non-windowed group's state, and a regular join's rows per key, after this much processing time without updates",
	"session_max_duration": "maximum length of a session window",
	"parallelism":          "copies of each keyed aggregate, dedup, partitioned top-N and join on equal keys of this view (default: the server's --parallelism)",
	"on_error":             "what a row whose WHERE, SELECT, key (GROUP BY, PARTITION BY), join condition or aggregate input expression fails (division by zero, a bad cast) does: 'fail' the view (the default), or go to sluice_dead_letters ('dead_letter') while the view goes on",
}

// maxViewParallelism bounds a view's parallelism option.
const maxViewParallelism = 256

func optionMap(opts []sql.Option, allowed map[string]string, what string) (map[string]string, error) {
	out := map[string]string{}
	for _, o := range opts {
		if allowed != nil {
			if _, ok := allowed[o.Key]; !ok {
				keys := make([]string, 0, len(allowed))
				for k := range allowed {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				e := sqlerr.New(sqlerr.InvalidParameterValue, "unknown %s option %q", what, o.Key).
					WithHint("accepted options: %s", strings.Join(keys, ", "))
				e.Line, e.Col = o.Pos.Line, o.Pos.Col
				return nil, e
			}
		}
		out[o.Key] = o.Value
	}
	return out, nil
}

// PlanView plans CREATE MATERIALIZED VIEW into a streaming plan rooted at a
// Materialize, and returns the view's Relation for the catalog.
func (p *Planner) PlanView(v *sql.CreateView) (*plan.Materialize, *Relation, error) {
	opts, err := optionMap(v.With, viewOptions, "materialized view")
	if err != nil {
		return nil, nil, err
	}
	node, err := p.planStream(v.Query, opts, v.EmitOnWindowClose)
	if err != nil {
		return nil, nil, err
	}
	name := strings.ToLower(v.Name)
	cols := dedupNames(node.Schema())
	if len(cols) > 0 {
		node = renameTop(node, cols)
	}
	key := p.deriveKey(node)
	appendOnly := p.appendOnly(node)
	m := &plan.Materialize{Input: node, Name: name, Key: key, AppendOnly: appendOnly}
	if s, ok := opts["parallelism"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > maxViewParallelism {
			return nil, nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid parallelism %q", s).
				WithHint("write it as parallelism = 2: a whole number from 1 to %d", maxViewParallelism)
		}
		m.Parallelism = n
	}
	if s, ok := opts["on_error"]; ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "fail":
		case "dead_letter":
			m.DeadLetterErrors = true
		default:
			return nil, nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid on_error %q", s).
				WithHint("write on_error = 'fail' (the default) or on_error = 'dead_letter'")
		}
	}
	rel := &Relation{Name: name, Kind: plan.RelView, Cols: cols, NumPhysical: len(cols),
		AppendOnly: appendOnly, Key: key, TimeCol: timeCol(node), WindowBounds: p.viewWindowBounds(node, allowedLateness(opts)),
		Definition: v.Text()}
	if rel.TimeCol >= 0 && appendOnly {
		// An append-only view's rows are as out of order in their time
		// column as its inputs allow (window results, emitted as windows
		// close, are in order): that bound makes a watermark for windows
		// over the view. An updating view has no watermark of its own.
		rel.Watermark = &plan.Watermark{Col: rel.TimeCol, Delay: disorder(node)}
	}
	return m, rel, nil
}

// planStream plans a continuous query and applies the rewrite rules.
func (p *Planner) planStream(q *sql.Select, opts map[string]string, eowc bool) (plan.Node, error) {
	if q == nil || q.Stmt == nil {
		return nil, sqlerr.New(sqlerr.SyntaxError, "missing query")
	}
	b := p.newBinder(true, nil)
	b.windows, b.tableFuncs, b.sel = q.Windows, q.TableFuncs, q
	b.viewOpts = opts
	b.viewEOWC = eowc
	if s, ok := opts["allowed_lateness"]; ok {
		us, err := types.ParseInterval(s)
		if err != nil || us < 0 {
			return nil, sqlerr.New(sqlerr.InvalidParameterValue, "invalid allowed_lateness %q", s).WithHint("write it as allowed_lateness = '10 seconds'")
		}
		b.lateness = us
	}
	node, err := b.query(q.Stmt, &scope{})
	if err != nil {
		return nil, err
	}
	node = Optimize(node, true)
	if err := validateStream(node, eowc); err != nil {
		return nil, err
	}
	return p.markWindowKeys(PruneSourceScans(node), b.lateness), nil
}

// allowedLateness is a view's allowed_lateness option in microseconds (0
// when absent; planStream rejects invalid values).
func allowedLateness(opts map[string]string) int64 {
	us, err := types.ParseInterval(opts["allowed_lateness"])
	if err != nil || us < 0 {
		return 0
	}
	return us
}

// validateStream rejects streaming plans exec cannot run or whose state
// would grow without bound.
func validateStream(n plan.Node, eowc bool) error {
	var err error
	hasWindowAgg := false
	walkPlan(n, func(x plan.Node) {
		if err != nil {
			return
		}
		forEachExpr(x, func(e expr.Expr) {
			expr.Walk(e, func(z expr.Expr) bool {
				if f, ok := z.(*expr.Func); ok && f.Def != nil && f.Def.Volatile && err == nil {
					err = sqlerr.New(sqlerr.FeatureNotSupported, "%s() depends on the session or the processing-time clock and cannot be used in a continuous query", f.Name).
						WithHint("use the event-time column (for example window_end) instead of now()")
				}
				return err == nil
			})
		})
		if err != nil {
			return
		}
		switch y := x.(type) {
		case *plan.TopN:
			if y.N < 0 {
				err = sqlerr.New(sqlerr.FeatureNotSupported, "ROW_NUMBER() without a rank filter keeps every row").
					WithHint("filter on the row number, e.g. WHERE rn <= 10 in an outer query")
			}
		case *plan.WindowAssign:
			if y.Window.Kind == plan.Session {
				err = sqlerr.New(sqlerr.GroupingError, "a SESSION window must be aggregated with GROUP BY window_start, window_end")
			}
		case *plan.WindowAgg:
			hasWindowAgg = true
		case *plan.Sort, *plan.Limit:
			err = sqlerr.New(sqlerr.FeatureNotSupported, "ORDER BY/LIMIT are not supported in streaming queries here")
		case *plan.Scan:
			if y.Kind == plan.RelSystem {
				err = sqlerr.New(sqlerr.FeatureNotSupported, "a materialized view cannot read system table %s", y.Name)
			}
		}
	})
	if err == nil && eowc && !hasWindowAgg {
		err = sqlerr.New(sqlerr.FeatureNotSupported, "EMIT ON WINDOW CLOSE needs a windowed aggregation").
			WithHint("aggregate over TUMBLE/HOP/SESSION and GROUP BY window_start, window_end")
	}
	return err
}

func walkPlan(n plan.Node, f func(plan.Node)) {
	f(n)
	for _, c := range n.Children() {
		walkPlan(c, f)
	}
}

// dedupNames gives the output columns unique names (a view's columns are
// addressed by name): a repeated name gets _2, _3; "?column?" becomes
// column<N>.
func dedupNames(s types.Schema) types.Schema {
	out := append(types.Schema(nil), s...)
	seen := map[string]bool{}
	for i := range out {
		n := out[i].Name
		if n == "?column?" || n == "" {
			n = "column" + itoa(i+1)
		}
		base := n
		for k := 2; seen[strings.ToLower(n)]; k++ {
			n = base + "_" + itoa(k)
		}
		seen[strings.ToLower(n)] = true
		out[i].Name = n
		out[i].Nullable = true
	}
	return out
}

// renameTop sets the output names of the top Project (adding one if
// needed).
func renameTop(n plan.Node, cols types.Schema) plan.Node {
	if p, ok := n.(*plan.Project); ok {
		c := *p
		c.Cols = cols
		return &c
	}
	s := n.Schema()
	same := true
	for i := range s {
		if s[i].Name != cols[i].Name {
			same = false
		}
	}
	if same {
		return n
	}
	exprs := make([]expr.Expr, len(s))
	for i, c := range s {
		exprs[i] = &expr.ColRef{Idx: i, Name: c.Name, T: c.Type}
	}
	return &plan.Project{Input: n, Exprs: exprs, Cols: cols}
}

// deriveKey returns the primary key of n's output, or nil.
func (p *Planner) deriveKey(n plan.Node) []int {
	switch x := n.(type) {
	case *plan.Scan:
		if x.Kind == plan.RelView {
			if rel, err := p.cat.Relation(x.Name); err == nil && rel != nil && len(rel.Cols) == len(x.Cols) {
				return rel.Key
			}
		}
		return nil
	case *plan.WindowAgg:
		out := make([]int, len(x.GroupBy)+2)
		for i := range out {
			out[i] = i
		}
		return out
	case *plan.GroupAgg:
		if len(x.GroupBy) == 0 {
			return nil
		}
		out := make([]int, len(x.GroupBy))
		for i := range out {
			out[i] = i
		}
		return out
	case *plan.TopN:
		if !x.RankCol {
			if x.N != 1 || len(x.PartitionBy) == 0 {
				return nil
			}
			// A Top-1 has one row per partition.
			var out []int
			for _, e := range x.PartitionBy {
				c, ok := e.(*expr.ColRef)
				if !ok {
					return nil
				}
				out = append(out, c.Idx)
			}
			return out
		}
		var out []int
		for _, e := range x.PartitionBy {
			c, ok := e.(*expr.ColRef)
			if !ok {
				return nil
			}
			out = append(out, c.Idx)
		}
		return append(out, len(x.Cols)-1)
	case *plan.Dedup:
		var out []int
		for _, e := range x.Keys {
			c, ok := e.(*expr.ColRef)
			if !ok {
				return nil
			}
			out = append(out, c.Idx)
		}
		return out
	case *plan.Filter:
		return p.deriveKey(x.Input)
	case *plan.Project:
		in := p.deriveKey(x.Input)
		if in == nil {
			return nil
		}
		var out []int
		for _, k := range in {
			found := -1
			for i, e := range x.Exprs {
				if c, ok := e.(*expr.ColRef); ok && c.Idx == k {
					found = i
					break
				}
			}
			if found < 0 {
				return nil
			}
			out = append(out, found)
		}
		return out
	}
	return nil
}

// appendOnly reports whether n never retracts (plan.AppendOnly, with the
// catalog's word for the views n reads).
func (p *Planner) appendOnly(n plan.Node) bool {
	return plan.AppendOnly(n, func(view string) bool {
		rel, err := p.cat.Relation(view)
		return err == nil && rel != nil && rel.AppendOnly
	})
}

// sinkOptions strips "connector" from a sink's WITH list.
func connectorOf(opts map[string]string) (string, map[string]string) {
	name := opts["connector"]
	rest := map[string]string{}
	for k, v := range opts {
		if k != "connector" {
			rest[k] = v
		}
	}
	return name, rest
}

// checkSchema lets a connector that fills columns by name reject the
// physical columns of a source (connectors.SchemaChecker).
func checkSchema(name string, phys types.Schema, opts map[string]string) error {
	c, err := connectors.Lookup(name)
	if err != nil {
		return nil // validateConnector reported it
	}
	sc, ok := c.(connectors.SchemaChecker)
	if !ok {
		return nil
	}
	if err := sc.CheckSchema(phys, opts); err != nil {
		var se *sqlerr.Error
		if errors.As(err, &se) {
			return err
		}
		return &sqlerr.Error{Code: sqlerr.InvalidParameterValue, Message: err.Error(), Err: err}
	}
	return nil
}

func validateConnector(role, name string, opts map[string]string) (map[string]string, error) {
	if name == "" {
		return nil, sqlerr.New(sqlerr.SyntaxError, "missing connector option").WithHint("add WITH (connector = '...')")
	}
	c, err := connectors.Lookup(name)
	if err != nil {
		known := connectors.Names()
		e := sqlerr.New(sqlerr.UndefinedObject, "connector %q is not registered", name)
		if len(known) == 0 {
			e.Hint = "no connectors are registered in this build"
		} else {
			e.Hint = "known connectors: " + strings.Join(known, ", ")
		}
		e.Err = err
		return nil, e
	}
	specs := c.SourceOptions()
	if role == "sink" {
		specs = c.SinkOptions()
	}
	out, err := connectors.Validate(role, name, specs, opts)
	if err != nil {
		code := sqlerr.InvalidParameterValue
		if errors.Is(err, connectors.ErrUnknownOption) || errors.Is(err, connectors.ErrMissingOption) {
			code = sqlerr.SyntaxError
		}
		return nil, &sqlerr.Error{Code: code, Message: err.Error(), Err: err}
	}
	return out, nil
}

// PlanSink plans CREATE SINK (FROM view, or AS SELECT) and validates its
// connector options.
func (p *Planner) PlanSink(s *sql.CreateSink) (*plan.Sink, error) {
	all, err := optionMap(s.With, nil, "sink")
	if err != nil {
		return nil, err
	}
	conn, _ := connectorOf(all)
	opts, err := validateConnector("sink", conn, all)
	if err != nil {
		return nil, err
	}
	delete(opts, "connector")
	var input plan.Node
	var key []int
	var appendOnly bool
	if s.From != "" {
		rel, err := p.cat.Relation(s.From)
		if err != nil {
			return nil, err
		}
		input = rel.scan()
		key, appendOnly = rel.Key, rel.AppendOnly
		if rel.Kind == plan.RelSource || rel.Kind == plan.RelTable {
			appendOnly = true
		}
	} else {
		input, err = p.planStream(s.Query, map[string]string{}, false)
		if err != nil {
			return nil, err
		}
		input = renameTop(input, dedupNames(input.Schema()))
		key, appendOnly = p.deriveKey(input), p.appendOnly(input)
	}
	return &plan.Sink{Input: input, Name: strings.ToLower(s.Name), Connector: strings.ToLower(conn), Options: opts, Key: key, AppendOnly: appendOnly}, nil
}

// PlanQuery plans an ad-hoc (snapshot) query. paramTypes are the types the
// client declared for $1..$n (TNull for unspecified); the returned types
// are all parameters' types, inferred from use where unspecified (text when
// nothing constrains them).
func (p *Planner) PlanQuery(q *sql.Select, paramTypes []types.Type) (plan.Node, []types.Type, error) {
	if q == nil || q.Stmt == nil {
		return nil, nil, sqlerr.New(sqlerr.SyntaxError, "missing query")
	}
	b := p.newBinder(false, paramTypes)
	b.windows, b.tableFuncs, b.sel = q.Windows, q.TableFuncs, q
	node, err := b.query(q.Stmt, &scope{})
	if err != nil {
		return nil, nil, err
	}
	node = Optimize(node, false)
	unboundTopN(node)
	params := b.params
	for i, t := range params {
		if t.Kind == types.Null {
			params[i] = types.TText
		}
	}
	fixParams(node, params)
	return node, params, nil
}

// fixParams gives every Param node of the plan its final type.
func fixParams(n plan.Node, params []types.Type) {
	visit := func(e expr.Expr) {
		expr.Walk(e, func(x expr.Expr) bool {
			switch y := x.(type) {
			case *expr.Param:
				if y.T.Kind == types.Null && y.Idx < len(params) {
					y.T = params[y.Idx]
				}
			case *expr.Subquery:
				if pn, ok := y.Plan.(plan.Node); ok {
					fixParams(pn, params)
				}
			}
			return true
		})
	}
	walkPlan(n, func(x plan.Node) { forEachExpr(x, visit) })
}

// InsertPlan is a planned INSERT: Input produces rows in the table's
// physical column order, with the table's column types.
type InsertPlan struct {
	Table string
	Rel   *Relation
	Input plan.Node
	// Params are the statement's parameter types.
	Params []types.Type
}

// PlanInsert plans INSERT INTO table [(cols)] VALUES ... | SELECT ....
func (p *Planner) PlanInsert(ins *sql.Insert, paramTypes []types.Type) (*InsertPlan, error) {
	rel, err := p.cat.Relation(ins.Table)
	if err != nil {
		return nil, err
	}
	if rel.Kind != plan.RelTable {
		return nil, sqlerr.New(sqlerr.FeatureNotSupported, "cannot insert into %s %q", rel.Kind, rel.Name).
			WithHint("INSERT works on tables created with CREATE TABLE")
	}
	nphys := rel.NumPhysical
	if nphys == 0 {
		nphys = len(rel.Cols)
	}
	phys := rel.Cols[:nphys]
	target := make([]int, 0, nphys) // physical column per input column
	if len(ins.Columns) == 0 {
		for i := range phys {
			target = append(target, i)
		}
	} else {
		seen := map[int]bool{}
		for _, c := range ins.Columns {
			i := phys.Index(c)
			if i < 0 {
				return nil, scopeOf(rel.Name, phys).undefinedColumn("", c)
			}
			if seen[i] {
				return nil, sqlerr.New(sqlerr.SyntaxError, "column %q specified more than once", c)
			}
			seen[i] = true
			target = append(target, i)
		}
	}
	b := p.newBinder(false, paramTypes)
	var input plan.Node
	if ins.Query != nil {
		b.windows, b.tableFuncs, b.sel = ins.Query.Windows, ins.Query.TableFuncs, ins.Query
		if input, err = b.query(ins.Query.Stmt, &scope{}); err != nil {
			return nil, err
		}
	} else {
		var rows [][]expr.Expr
		for _, r := range ins.Rows {
			row, err := b.args(r, &scope{})
			if err != nil {
				return nil, err
			}
			if len(row) != len(target) {
				return nil, sqlerr.New(sqlerr.SyntaxError, "INSERT has %d expressions but %d target columns", len(row), len(target))
			}
			for j, e := range row {
				want := phys[target[j]].Type
				b.inferParam(e, want)
				if e.Type() == want {
					continue
				}
				if e.Type().Kind == types.Null {
					if _, isConst := e.(*expr.Const); isConst {
						row[j] = &expr.Const{T: want}
					}
					continue
				}
				if !expr.CanCast(e.Type(), want) {
					return nil, sqlerr.New(sqlerr.DatatypeMismatch, "column %q is of type %s but expression is of type %s", phys[target[j]].Name, want, e.Type()).
						WithHint("You will need to rewrite or cast the expression.")
				}
				c, err := expr.NewCast(e, want)
				if err != nil {
					return nil, err
				}
				row[j] = c
			}
			rows = append(rows, row)
		}
		if input, err = valuesNode(rows); err != nil {
			return nil, err
		}
	}
	in := input.Schema()
	if len(in) != len(target) {
		return nil, sqlerr.New(sqlerr.SyntaxError, "INSERT has %d expressions but %d target columns", len(in), len(target))
	}
	exprs := make([]expr.Expr, nphys)
	for i := range exprs {
		exprs[i] = &expr.Const{T: phys[i].Type}
	}
	for j, t := range target {
		var e expr.Expr = &expr.ColRef{Idx: j, Name: in[j].Name, T: in[j].Type}
		want := phys[t].Type
		if in[j].Type != want {
			if !expr.CanCast(in[j].Type, want) {
				return nil, sqlerr.New(sqlerr.DatatypeMismatch, "column %q is of type %s but expression is of type %s", phys[t].Name, want, in[j].Type).
					WithHint("You will need to rewrite or cast the expression.")
			}
			e = &expr.Cast{E: e, T: want}
		}
		exprs[t] = e
	}
	for i, c := range phys {
		if c.Nullable || !isNullConst(exprs[i]) {
			continue
		}
		return nil, sqlerr.New("23502", "null value in column %q violates not-null constraint", c.Name)
	}
	out := &plan.Project{Input: input, Exprs: exprs, Cols: append(types.Schema(nil), phys...)}
	params := b.params
	for i, t := range params {
		if t.Kind == types.Null {
			params[i] = types.TText
		}
	}
	node := Optimize(out, false)
	fixParams(node, params)
	return &InsertPlan{Table: rel.Name, Rel: rel, Input: node, Params: params}, nil
}

func isNullConst(e expr.Expr) bool {
	c, ok := e.(*expr.Const)
	return ok && c.V.IsNull()
}

// Explain renders the plan of stmt (CREATE MATERIALIZED VIEW, CREATE SINK,
// SELECT, INSERT, or a nested EXPLAIN's statement) as EXPLAIN prints it.
func (p *Planner) Explain(stmt sql.Statement) (string, error) {
	switch s := stmt.(type) {
	case *sql.Explain:
		return p.Explain(s.Stmt)
	case *sql.CreateView:
		m, _, err := p.PlanView(s)
		if err != nil {
			return "", err
		}
		return plan.Format(m) + sourceReads(m), nil
	case *sql.CreateSink:
		n, err := p.PlanSink(s)
		if err != nil {
			return "", err
		}
		return plan.Format(n) + sourceReads(n), nil
	case *sql.Select:
		n, _, err := p.PlanQuery(s, nil)
		if err != nil {
			return "", err
		}
		return FormatWithSubqueries(n), nil
	case *sql.Insert:
		ip, err := p.PlanInsert(s, nil)
		if err != nil {
			return "", err
		}
		return "Insert " + ip.Table + "\n" + indent(plan.Format(ip.Input)), nil
	case *sql.CreateSource:
		rel, err := p.BindSource(s)
		if err != nil {
			return "", err
		}
		return plan.Format(rel.scan()), nil
	case *sql.Subscribe:
		if s.Query != nil {
			n, err := p.planStream(s.Query, map[string]string{}, false)
			if err != nil {
				return "", err
			}
			return plan.Format(n), nil
		}
		rel, err := p.cat.Relation(s.View)
		if err != nil {
			return "", err
		}
		return plan.Format(rel.scan()), nil
	}
	return "", sqlerr.New(sqlerr.FeatureNotSupported, "EXPLAIN is not supported for %T", stmt)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if i == 0 {
			lines[i] = "  └─ " + l
		} else {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// FormatWithSubqueries is plan.Format followed by the plans of the
// subqueries the plan's expressions hold, each under its label.
func FormatWithSubqueries(n plan.Node) string {
	var b strings.Builder
	b.WriteString(plan.Format(n))
	var subs []*expr.Subquery
	var visit func(plan.Node)
	visit = func(n plan.Node) {
		walkPlan(n, func(x plan.Node) {
			forEachExpr(x, func(e expr.Expr) {
				expr.Walk(e, func(y expr.Expr) bool {
					if s, ok := y.(*expr.Subquery); ok {
						subs = append(subs, s)
						if pn, ok := s.Plan.(plan.Node); ok {
							visit(pn)
						}
					}
					return true
				})
			})
		})
	}
	visit(n)
	sort.SliceStable(subs, func(i, j int) bool { return subs[i].Label < subs[j].Label })
	for _, s := range subs {
		if pn, ok := s.Plan.(plan.Node); ok {
			corr := ""
			if s.Correlated {
				corr = " (correlated)"
			}
			fmt.Fprintf(&b, "%s%s:\n%s", s.Label, corr, indent(plan.Format(pn)))
		}
	}
	return b.String()
}

// unboundTopN gives a batch TopN without a rank filter (ROW_NUMBER() over
// every row) an N that keeps every row.
func unboundTopN(n plan.Node) {
	walkPlan(n, func(x plan.Node) {
		if t, ok := x.(*plan.TopN); ok && t.N < 0 {
			t.N = math.MaxInt64
		}
		forEachExpr(x, func(e expr.Expr) {
			expr.Walk(e, func(y expr.Expr) bool {
				if s, ok := y.(*expr.Subquery); ok {
					if pn, ok := s.Plan.(plan.Node); ok {
						unboundTopN(pn)
					}
				}
				return true
			})
		})
	})
}

// sourceReads lists, for EXPLAIN, the columns each connector source scan
// decodes and the generated columns it computes.
func sourceReads(n plan.Node) string {
	var b strings.Builder
	walkPlan(n, func(x plan.Node) {
		s, ok := x.(*plan.Scan)
		if !ok || s.Kind != plan.RelSource {
			return
		}
		fmt.Fprintf(&b, "source %s reads (%s)", s.Name, strings.Join(s.Cols[:s.NumPhysical].Names(), ", "))
		for _, g := range s.Generated {
			fmt.Fprintf(&b, ", computes %s = %s", s.Cols[g.Col].Name, g.Expr)
		}
		b.WriteByte('\n')
	})
	return b.String()
}

// disorder bounds how far behind the maximum event time seen so far a row
// of n's output can be (microseconds), for the watermark of a view.
func disorder(n plan.Node) int64 {
	switch x := n.(type) {
	case *plan.Scan:
		if x.Watermark != nil {
			return x.Watermark.Delay
		}
	case *plan.WindowAgg:
		if x.Emit == plan.EmitOnWindowClose {
			return 0
		}
		return x.Window.Size + x.Window.Gap + x.Lateness
	case *plan.IntervalJoin:
		return max(disorder(x.Left), disorder(x.Right)) + max(x.UpperBound, -x.LowerBound, 0)
	case *plan.LookupJoin:
		return disorder(x.Stream)
	case *plan.Union:
		d := int64(0)
		for _, in := range x.Inputs {
			d = max(d, disorder(in))
		}
		return d
	}
	if kids := n.Children(); len(kids) == 1 {
		return disorder(kids[0])
	}
	return 0
}
