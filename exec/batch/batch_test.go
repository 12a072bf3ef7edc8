package batch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// memProvider serves relations from memory and counts reads per relation.
type memProvider struct {
	rel   map[string][]types.Row
	reads map[string]int
}

func newMem() *memProvider {
	return &memProvider{rel: map[string][]types.Row{}, reads: map[string]int{}}
}

func (m *memProvider) Rows(_ context.Context, s *plan.Scan) ([]types.Row, error) {
	rows, ok := m.rel[s.Name]
	if !ok {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", s.Name)
	}
	m.reads[s.Name]++
	return rows, nil
}

func i64(v int64) types.Value  { return types.NewInt(v) }
func txt(s string) types.Value { return types.NewText(s) }

var null = types.NullValue

func schema(cols ...string) types.Schema {
	var s types.Schema
	for _, c := range cols {
		name, kind, _ := strings.Cut(c, " ")
		t := types.TInt64
		switch kind {
		case "text":
			t = types.TText
		case "ts":
			t = types.TTimestamp
		case "float":
			t = types.TFloat64
		case "bool":
			t = types.TBool
		}
		s = append(s, types.Column{Name: name, Type: t, Nullable: true})
	}
	return s
}

func scan(name string, cols types.Schema) *plan.Scan {
	return &plan.Scan{Name: name, Kind: plan.RelView, Cols: cols, NumPhysical: len(cols)}
}

func cref(s types.Schema, i int) *expr.ColRef {
	return &expr.ColRef{Idx: i, Name: s[i].Name, T: s[i].Type}
}

func cnst(v types.Value) *expr.Const {
	t := types.Type{Kind: v.K}
	return &expr.Const{V: v, T: t}
}

// ex unwraps an expression constructor's result (test fixtures only).
func ex(e expr.Expr, err error) expr.Expr {
	if err != nil {
		panic(err)
	}
	return e
}

func cmp(t testing.TB, op expr.CmpOp, l, r expr.Expr) expr.Expr {
	return ex(expr.NewCmp(op, l, r))
}

func collect(t testing.TB, p Provider, root plan.Node) []types.Row {
	t.Helper()
	rows, err := Collect(context.Background(), &expr.Context{}, root, p)
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	return rows
}

// render prints rows as "a|b;c|d" with NULL as "NULL" for compact asserts.
func render(rows []types.Row) string {
	var parts []string
	for _, r := range rows {
		var cells []string
		for _, v := range r {
			if v.IsNull() {
				cells = append(cells, "NULL")
			} else {
				cells = append(cells, v.String())
			}
		}
		parts = append(parts, strings.Join(cells, "|"))
	}
	return strings.Join(parts, ";")
}

func expectRows(t testing.TB, got []types.Row, want string) {
	t.Helper()
	if g := render(got); g != want {
		t.Fatalf("rows:\n got: %s\nwant: %s", g, want)
	}
}

// Fixtures: users(id, name, city) and orders(id, user_id, amount).
var (
	usersS  = schema("id", "name text", "city text")
	ordersS = schema("id", "user_id", "amount")
)

func fixture() *memProvider {
	m := newMem()
	m.rel["users"] = []types.Row{
		{i64(1), txt("ann"), txt("oslo")},
		{i64(2), txt("bob"), txt("rome")},
		{i64(3), txt("cat"), null},
		{i64(4), txt("dan"), txt("oslo")},
	}
	m.rel["orders"] = []types.Row{
		{i64(10), i64(1), i64(5)},
		{i64(11), i64(1), i64(7)},
		{i64(12), i64(2), i64(3)},
		{i64(13), null, i64(100)},
		{i64(14), i64(9), i64(1)},
	}
	return m
}

func TestScanFilterProject(t *testing.T) {
	p := fixture()
	users := scan("users", usersS)
	root := &plan.Project{
		Input: &plan.Filter{Input: users, Pred: cmp(t, expr.EQ, cref(usersS, 2), cnst(txt("oslo")))},
		Exprs: []expr.Expr{cref(usersS, 1), ex(expr.NewArith(expr.Mul, cref(usersS, 0), cnst(i64(10))))},
		Cols:  schema("name text", "x"),
	}
	expectRows(t, collect(t, p, root), "ann|10;dan|40")

	// Pushed predicates are applied even when the provider ignores them.
	pushed := scan("users", usersS)
	pushed.Pushed = []expr.Expr{cmp(t, expr.EQ, cref(usersS, 0), cnst(i64(2)))}
	expectRows(t, collect(t, p, pushed), "2|bob|rome")
}

func TestGeneratedColumns(t *testing.T) {
	p := newMem()
	p.rel["src"] = []types.Row{{i64(2)}, {i64(5)}}
	cols := schema("x", "y")
	s := &plan.Scan{Name: "src", Kind: plan.RelTable, Cols: cols, NumPhysical: 1,
		Generated: []plan.Generated{{Col: 1, Expr: ex(expr.NewArith(expr.Add, cref(cols, 0), cnst(i64(1))))}}}
	expectRows(t, collect(t, p, s), "2|3;5|6")
}

func TestValuesAndErrors(t *testing.T) {
	cols := schema("a")
	v := &plan.Values{Rows: [][]expr.Expr{{cnst(i64(1))}, {cnst(i64(2))}}, Cols: cols}
	expectRows(t, collect(t, newMem(), v), "1;2")

	div := &plan.Values{Rows: [][]expr.Expr{{ex(expr.NewArith(expr.Div, cnst(i64(1)), cnst(i64(0))))}}, Cols: cols}
	_, err := Collect(context.Background(), nil, div, newMem())
	if sqlerr.Code(err) != sqlerr.DivisionByZero {
		t.Fatalf("want 22012, got %v (%s)", err, sqlerr.Code(err))
	}
	_, err = Collect(context.Background(), nil, scan("nope", cols), newMem())
	if sqlerr.Code(err) != sqlerr.UndefinedTable {
		t.Fatalf("provider errors pass through, got %v", err)
	}
	_, err = Run(context.Background(), nil, &plan.Sink{Input: v, Name: "s"}, newMem())
	if sqlerr.Code(err) != sqlerr.FeatureNotSupported {
		t.Fatalf("sink: want 0A000, got %v", err)
	}
}

func aggCall(fn string, arg expr.Expr, typ types.Type) plan.AggCall {
	c := plan.AggCall{Func: fn, Type: typ, Name: fn}
	if arg != nil {
		c.Args = []expr.Expr{arg}
	}
	return c
}

func TestGroupAgg(t *testing.T) {
	p := fixture()
	orders := scan("orders", ordersS)
	g := &plan.GroupAgg{Input: orders, GroupBy: []expr.Expr{cref(ordersS, 1)},
		Aggs: []plan.AggCall{aggCall("count", nil, types.TInt64), aggCall("sum", cref(ordersS, 2), types.TNumeric),
			aggCall("max", cref(ordersS, 0), types.TInt64)},
		Cols: schema("user_id", "count", "sum", "max")}
	expectRows(t, collect(t, p, g), "1|2|12|11;2|1|3|12;NULL|1|100|13;9|1|1|14")

	// No GROUP BY over no rows: exactly one row, count 0 and sum NULL.
	empty := &plan.Filter{Input: orders, Pred: cnst(types.NewBool(false))}
	g2 := &plan.GroupAgg{Input: empty, Aggs: []plan.AggCall{aggCall("count", nil, types.TInt64),
		aggCall("sum", cref(ordersS, 2), types.TNumeric)}, Cols: schema("count", "sum")}
	expectRows(t, collect(t, p, g2), "0|NULL")

	// GROUP BY over no rows: no rows.
	g3 := &plan.GroupAgg{Input: empty, GroupBy: []expr.Expr{cref(ordersS, 1)},
		Aggs: []plan.AggCall{aggCall("count", nil, types.TInt64)}, Cols: schema("u", "count")}
	expectRows(t, collect(t, p, g3), "")

	bad := &plan.GroupAgg{Input: orders, Aggs: []plan.AggCall{aggCall("sum", cref(usersS, 1), types.Type{})}}
	if _, err := Run(context.Background(), nil, bad, p); sqlerr.Code(err) != sqlerr.UndefinedFunction {
		t.Fatalf("sum(text): want 42883, got %v", err)
	}
}

func TestSortLimit(t *testing.T) {
	p := fixture()
	users := scan("users", usersS)
	byCity := &plan.Sort{Input: users, Keys: []plan.SortKey{{Expr: cref(usersS, 2)}}}
	// ASC: NULLS LAST; stable for equal keys (ann before dan).
	expectRows(t, collect(t, p, &plan.Project{Input: byCity, Exprs: []expr.Expr{cref(usersS, 1)}, Cols: schema("n text")}),
		"ann;dan;bob;cat")
	desc := &plan.Sort{Input: users, Keys: []plan.SortKey{{Expr: cref(usersS, 2), Desc: true, NullsFirst: true}, {Expr: cref(usersS, 0), Desc: true}}}
	expectRows(t, collect(t, p, &plan.Project{Input: desc, Exprs: []expr.Expr{cref(usersS, 1)}, Cols: schema("n text")}),
		"cat;bob;dan;ann")

	lim := &plan.Limit{Input: &plan.Sort{Input: users, Keys: []plan.SortKey{{Expr: cref(usersS, 0)}}}, Count: 2, Offset: 1}
	expectRows(t, collect(t, p, lim), "2|bob|rome;3|cat|NULL")
	expectRows(t, collect(t, p, &plan.Limit{Input: users, Count: -1, Offset: 3}), "4|dan|oslo")
	expectRows(t, collect(t, p, &plan.Limit{Input: users, Count: 0}), "")
}

func TestJoins(t *testing.T) {
	p := fixture()
	users, orders := scan("users", usersS), scan("orders", ordersS)
	joined := append(append(types.Schema{}, usersS...), ordersS...)
	proj := func(in plan.Node) plan.Node {
		// name, order id
		return &plan.Project{Input: in, Exprs: []expr.Expr{cref(joined, 1), cref(joined, 3)}, Cols: schema("n text", "o")}
	}
	mk := func(kind plan.JoinKind, keyed bool, cond expr.Expr) *plan.Join {
		j := &plan.Join{Left: users, Right: orders, Kind: kind, Cond: cond, Cols: joined}
		if keyed {
			j.LeftKey = []expr.Expr{cref(usersS, 0)}
			j.RightKey = []expr.Expr{cref(ordersS, 1)}
		}
		return j
	}
	eqCond := cmp(t, expr.EQ, cref(joined, 0), cref(joined, 4))
	for _, keyed := range []bool{true, false} {
		var cond expr.Expr
		if !keyed {
			cond = eqCond
		}
		name := fmt.Sprintf("keyed=%v", keyed)
		expectRows(t, collect(t, p, proj(mk(plan.InnerJoin, keyed, cond))), "ann|10;ann|11;bob|12")
		expectRows(t, collect(t, p, proj(mk(plan.LeftJoin, keyed, cond))), "ann|10;ann|11;bob|12;cat|NULL;dan|NULL")
		expectRows(t, collect(t, p, proj(mk(plan.RightJoin, keyed, cond))), "ann|10;ann|11;bob|12;NULL|13;NULL|14")
		expectRows(t, collect(t, p, proj(mk(plan.FullJoin, keyed, cond))), "ann|10;ann|11;bob|12;cat|NULL;dan|NULL;NULL|13;NULL|14")
		semi := mk(plan.SemiJoin, keyed, cond)
		semi.Cols = usersS
		expectRows(t, collect(t, p, &plan.Project{Input: semi, Exprs: []expr.Expr{cref(usersS, 1)}, Cols: schema("n text")}), "ann;bob")
		anti := mk(plan.AntiJoin, keyed, cond)
		anti.Cols = usersS
		expectRows(t, collect(t, p, &plan.Project{Input: anti, Exprs: []expr.Expr{cref(usersS, 1)}, Cols: schema("n text")}), "cat;dan")
		_ = name
	}
	// Keyed join with a residual condition.
	big := cmp(t, expr.GT, cref(joined, 5), cnst(i64(5)))
	expectRows(t, collect(t, p, proj(mk(plan.LeftJoin, true, big))), "ann|11;bob|NULL;cat|NULL;dan|NULL")
	// Cross join counts.
	cross := &plan.Join{Left: users, Right: orders, Kind: plan.CrossJoin, Cols: joined}
	if n := len(collect(t, p, cross)); n != 20 {
		t.Fatalf("cross join: %d rows, want 20", n)
	}
	// Keys of different numeric kinds still match.
	floats := scan("fl", schema("f float"))
	p.rel["fl"] = []types.Row{{types.NewFloat(2)}, {types.NewFloat(2.5)}}
	mixed := &plan.Join{Left: users, Right: floats, Kind: plan.InnerJoin,
		LeftKey: []expr.Expr{cref(usersS, 0)}, RightKey: []expr.Expr{&expr.ColRef{Idx: 0, T: types.TFloat64}},
		Cols: append(append(types.Schema{}, usersS...), schema("f float")...)}
	expectRows(t, collect(t, p, mixed), "2|bob|rome|2")
}

func TestUnion(t *testing.T) {
	p := fixture()
	u := &plan.Union{Inputs: []plan.Node{
		&plan.Values{Rows: [][]expr.Expr{{cnst(i64(1))}}, Cols: schema("a")},
		&plan.Project{Input: scan("users", usersS), Exprs: []expr.Expr{cref(usersS, 0)}, Cols: schema("a")},
	}}
	expectRows(t, collect(t, p, u), "1;1;2;3;4")
}

func TestSubqueries(t *testing.T) {
	p := fixture()
	users, orders := scan("users", usersS), scan("orders", ordersS)

	// Uncorrelated scalar subquery: SELECT name FROM users WHERE id = (SELECT max(user_id) FROM orders WHERE amount < 4)
	maxQ := &plan.GroupAgg{
		Input: &plan.Filter{Input: orders, Pred: cmp(t, expr.LT, cref(ordersS, 2), cnst(i64(4)))},
		Aggs:  []plan.AggCall{aggCall("max", cref(ordersS, 1), types.TInt64)}, Cols: schema("m")}
	sub := &expr.Subquery{Mode: expr.ScalarSubquery, Plan: maxQ, T: types.TInt64, Label: "max"}
	root := &plan.Filter{Input: users, Pred: cmp(t, expr.EQ, cref(usersS, 0), sub)}
	before := p.reads["orders"]
	expectRows(t, collect(t, p, root), "")
	// max(user_id) where amount<4 = max(2, 9) = 9: no user 9.
	if got := p.reads["orders"] - before; got != 1 {
		t.Fatalf("uncorrelated subquery ran %d times, want 1 (cached)", got)
	}

	// Correlated: SELECT name, (SELECT sum(amount) FROM orders WHERE user_id = users.id) FROM users
	outerID := &expr.OuterRef{Depth: 1, Idx: 0, Name: "id", T: types.TInt64}
	sumQ := &plan.GroupAgg{
		Input: &plan.Filter{Input: orders, Pred: cmp(t, expr.EQ, cref(ordersS, 1), outerID)},
		Aggs:  []plan.AggCall{aggCall("sum", cref(ordersS, 2), types.TNumeric)}, Cols: schema("s")}
	corr := &expr.Subquery{Mode: expr.ScalarSubquery, Plan: sumQ, T: types.TNumeric, Correlated: true, Label: "sum"}
	proj := &plan.Project{Input: users, Exprs: []expr.Expr{cref(usersS, 1), corr}, Cols: schema("n text", "s")}
	before = p.reads["orders"]
	expectRows(t, collect(t, p, proj), "ann|12;bob|3;cat|NULL;dan|NULL")
	if got := p.reads["orders"] - before; got != 1 {
		t.Fatalf("orders read %d times, want 1: one snapshot per statement", got)
	}

	// EXISTS / NOT EXISTS, correlated.
	existsQ := &plan.Filter{Input: orders, Pred: cmp(t, expr.EQ, cref(ordersS, 1), outerID)}
	ex := &expr.Subquery{Mode: expr.ExistsSubquery, Plan: existsQ, T: types.TBool, Correlated: true}
	names := func(pred expr.Expr) plan.Node {
		return &plan.Project{Input: &plan.Filter{Input: users, Pred: pred}, Exprs: []expr.Expr{cref(usersS, 1)}, Cols: schema("n text")}
	}
	expectRows(t, collect(t, p, names(ex)), "ann;bob")
	notEx := *ex
	notEx.Not = true
	expectRows(t, collect(t, p, names(&notEx)), "cat;dan")

	// IN (subquery), uncorrelated, with a NULL among the rows.
	inQ := &plan.Project{Input: orders, Exprs: []expr.Expr{cref(ordersS, 1)}, Cols: schema("u")}
	in := &expr.Subquery{Mode: expr.AnySubquery, Plan: inQ, Test: cref(usersS, 0), Op: expr.EQ, T: types.TBool}
	expectRows(t, collect(t, p, names(in)), "ann;bob")

	// Nested: a subquery inside a correlated subquery that reads the
	// outermost row (Depth 2) is correlated; one reading only its own
	// enclosing subquery row is not.
	deep := &expr.OuterRef{Depth: 2, Idx: 0, Name: "id", T: types.TInt64}
	inner := &plan.Filter{Input: orders, Pred: cmp(t, expr.EQ, cref(ordersS, 1), deep)}
	mid := &plan.Filter{Input: &plan.Values{Rows: [][]expr.Expr{{cnst(i64(0))}}, Cols: schema("z")},
		Pred: &expr.Subquery{Mode: expr.ExistsSubquery, Plan: inner, T: types.TBool}}
	if !planIsCorrelated(mid, 1) {
		t.Fatal("a Depth 2 reference two levels down reads the outer row")
	}
	expectRows(t, collect(t, p, names(&expr.Subquery{Mode: expr.ExistsSubquery, Plan: mid, T: types.TBool})), "ann;bob")
	if planIsCorrelated(maxQ, 1) {
		t.Fatal("maxQ has no outer references")
	}

	// More than one row from a scalar subquery is an error.
	many := &expr.Subquery{Mode: expr.ScalarSubquery, Plan: inQ, T: types.TInt64}
	_, err := Collect(context.Background(), nil, &plan.Project{Input: users, Exprs: []expr.Expr{many}, Cols: schema("x")}, p)
	if sqlerr.Code(err) != "21000" {
		t.Fatalf("want 21000, got %v", err)
	}
}

func TestCancellation(t *testing.T) {
	p := newMem()
	var rows []types.Row
	for i := range 5000 {
		rows = append(rows, types.Row{i64(int64(i))})
	}
	p.rel["big"] = rows
	cols := schema("x")
	root := &plan.Sort{Input: scan("big", cols), Keys: []plan.SortKey{{Expr: cref(cols, 0), Desc: true}}}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Collect(ctx, nil, root, p)
	var se *sqlerr.Error
	if !errors.As(err, &se) || se.Code != sqlerr.QueryCanceled || !strings.Contains(se.Message, "user request") {
		t.Fatalf("cancelled: got %v", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatal("the cause is kept")
	}

	// A deadline mid-iteration: the iterator stops with the timeout message.
	ctx2, cancel2 := context.WithCancel(context.Background())
	it, err := Run(ctx2, nil, scan("big", cols), p)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if r, err := it.Next(ctx2); err != nil || r == nil {
		t.Fatalf("first row: %v %v", r, err)
	}
	cancel2()
	if _, err := it.Next(ctx2); sqlerr.Code(err) != sqlerr.QueryCanceled {
		t.Fatalf("after cancel: %v", err)
	}
	dl, cancel3 := context.WithTimeout(context.Background(), 0)
	defer cancel3()
	<-dl.Done()
	_, err = Collect(dl, nil, root, p)
	if !errors.As(err, &se) || !strings.Contains(se.Message, "statement timeout") {
		t.Fatalf("deadline: got %v", err)
	}
}

func TestIteratorCloseEarly(t *testing.T) {
	p := fixture()
	it, err := Run(context.Background(), nil, scan("users", usersS), p)
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := it.Next(context.Background()); r == nil {
		t.Fatal("want a row")
	}
	it.Close()
	it.Close()
	if r, err := it.Next(context.Background()); r != nil || err != nil {
		t.Fatalf("after Close: %v %v", r, err)
	}
}

func TestTableFunc(t *testing.T) {
	tf := &plan.TableFunc{Name: "generate_series", Args: []expr.Expr{cnst(i64(1)), cnst(i64(3))}, Ordinality: true,
		Cols: schema("g", "ordinality")}
	expectRows(t, collect(t, newMem(), tf), "1|1;2|2;3|3")
}

// panicExpr panics when evaluated (a bug in some expression).
type panicExpr struct{}

func (panicExpr) Type() types.Type { return types.TInt64 }
func (panicExpr) Eval(*expr.Context, types.Row) (types.Value, error) {
	panic("boom")
}
func (panicExpr) String() string { return "panic()" }

func TestPanicBecomesInternalError(t *testing.T) {
	v := &plan.Values{Rows: [][]expr.Expr{{panicExpr{}}}, Cols: schema("x")}
	_, err := Collect(context.Background(), nil, v, newMem())
	if sqlerr.Code(err) != sqlerr.Internal || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("want XX000 with the panic, got %v", err)
	}
	it, err := Run(context.Background(), nil, v, newMem())
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if _, err := it.Next(context.Background()); sqlerr.Code(err) != sqlerr.Internal {
		t.Fatalf("Next: want XX000, got %v", err)
	}
	if _, err := Run(context.Background(), nil, nil, newMem()); err == nil {
		t.Fatal("a nil plan is an error")
	}
}

// TestTopKMatchesSort checks ORDER BY ... LIMIT (bounded heap) against a
// full sort then limit, with many ties, NULLs and both directions.
func TestTopKMatchesSort(t *testing.T) {
	p := newMem()
	var rows []types.Row
	for i := range 500 {
		v := i64(int64((i * 7919) % 13))
		if i%17 == 0 {
			v = null
		}
		rows = append(rows, types.Row{v, i64(int64(i))})
	}
	p.rel["t"] = rows
	cols := schema("k", "seq")
	for _, keys := range [][]plan.SortKey{
		{{Expr: cref(cols, 0)}},
		{{Expr: cref(cols, 0), Desc: true, NullsFirst: true}},
		{{Expr: cref(cols, 0), Desc: true}},
	} {
		srt := &plan.Sort{Input: scan("t", cols), Keys: keys}
		full := collect(t, p, srt)
		for _, lim := range []struct{ count, offset int64 }{{0, 0}, {1, 0}, {10, 5}, {50, 480}, {1000, 0}} {
			got := collect(t, p, &plan.Limit{Input: srt, Count: lim.count, Offset: lim.offset})
			lo := min(int(lim.offset), len(full))
			hi := min(lo+int(lim.count), len(full))
			if render(got) != render(full[lo:hi]) {
				t.Fatalf("keys %v limit %v: top-k differs from sort+limit", keys, lim)
			}
		}
	}
}
