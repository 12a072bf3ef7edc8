package sqltest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluice-db/sluice/exec/batch"
	"github.com/sluice-db/sluice/pgwire/pgcatalog"
	"github.com/sluice-db/sluice/planner"
	"github.com/sluice-db/sluice/planner/plan"
	"github.com/sluice-db/sluice/sql"
	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/sqlerr"
	"github.com/sluice-db/sluice/sql/types"
)

// userRel is a user relation of the test database with its rows.
type userRel struct {
	rel  *planner.Relation
	kind string // pgcatalog kind: source, table, view, sink
	rows []types.Row
}

// db is a test database: user relations plus the system catalogs.
type db struct {
	user map[string]*userRel
	sys  map[string]types.Schema
}

func col(name string, t types.Type) types.Column {
	return types.Column{Name: name, Type: t, Nullable: true}
}

func newDB() *db {
	d := &db{user: map[string]*userRel{}, sys: pgcatalog.Tables()}
	ts := func(s string) types.Value {
		us, err := types.ParseTimestamp(s)
		if err != nil {
			panic(err)
		}
		return types.NewTimestamp(us)
	}
	d.add("bids", "source", plan.RelSource, types.Schema{
		col("auction", types.TInt64), col("bidder", types.TInt64), col("price", types.TInt64),
		col("channel", types.TText), col("ts", types.TTimestamp), col("ts_epoch", types.TInt64)},
		[]types.Row{
			{types.NewInt(1), types.NewInt(10), types.NewInt(100), types.NewText("web"), ts("2026-01-01 10:00:01"), types.NewInt(ts("2026-01-01 10:00:01").I / types.MicrosPerSecond)},
			{types.NewInt(1), types.NewInt(11), types.NewInt(150), types.NewText("app"), ts("2026-01-01 10:00:05"), types.NewInt(ts("2026-01-01 10:00:05").I / types.MicrosPerSecond)},
			{types.NewInt(2), types.NewInt(10), types.NewInt(90), types.NewText("web"), ts("2026-01-01 10:00:07"), types.NewInt(ts("2026-01-01 10:00:07").I / types.MicrosPerSecond)},
			{types.NewInt(2), types.NewInt(12), types.NewInt(95), types.NullValue, ts("2026-01-01 10:01:02"), types.NewInt(ts("2026-01-01 10:01:02").I / types.MicrosPerSecond)},
			{types.NewInt(3), types.NewInt(11), types.NewInt(300), types.NewText("app"), ts("2026-01-01 10:01:30"), types.NewInt(ts("2026-01-01 10:01:30").I / types.MicrosPerSecond)},
		})
	d.add("auctions", "table", plan.RelTable, types.Schema{
		col("id", types.TInt64), col("item", types.TText), col("seller", types.TInt64)},
		[]types.Row{
			{types.NewInt(1), types.NewText("lamp"), types.NewInt(7)},
			{types.NewInt(2), types.NewText("chair"), types.NewInt(8)},
			{types.NewInt(3), types.NewText("desk"), types.NewInt(7)},
			{types.NewInt(4), types.NewText("rug"), types.NewInt(9)},
		})
	// What the captured psql sessions (a table bids, a view v_bids, a
	// materialized view mv_bids) and Grafana dashboards (bids_per_minute)
	// look at.
	d.add("v_bids", "view", plan.RelView, types.Schema{col("auction", types.TInt64), col("price", types.TInt64)},
		[]types.Row{{types.NewInt(1), types.NewInt(100)}})
	d.add("mv_bids", "view", plan.RelView, types.Schema{col("auction", types.TInt64), col("n", types.TInt64)},
		[]types.Row{{types.NewInt(1), types.NewInt(2)}})
	var bpm []types.Row
	for i := range int64(6) {
		start := ts("2026-11-29 12:00:00").I + i*types.MicrosPerMinute
		for a := range int64(3) {
			bpm = append(bpm, types.Row{types.NewInt(a + 1), types.NewTimestamp(start),
				types.NewTimestamp(start + types.MicrosPerMinute), types.NewInt(10*i + a), types.NewInt(100 * (a + 1))})
		}
	}
	d.add("bids_per_minute", "view", plan.RelView, types.Schema{col("auction", types.TInt64),
		col("window_start", types.TTimestamp), col("window_end", types.TTimestamp),
		col("bids", types.TInt64), col("max_price", types.TInt64)}, bpm)
	d.add("max_bid", "view", plan.RelView, types.Schema{
		col("auction", types.TInt64), col("top", types.TInt64)},
		[]types.Row{
			{types.NewInt(1), types.NewInt(150)},
			{types.NewInt(2), types.NewInt(95)},
			{types.NewInt(3), types.NewInt(300)},
		})
	return d
}

func (d *db) add(name, kind string, rk plan.RelKind, cols types.Schema, rows []types.Row) {
	d.user[name] = &userRel{
		rel:  &planner.Relation{Name: name, Kind: rk, Cols: cols, NumPhysical: len(cols), TimeCol: -1, AppendOnly: rk != plan.RelView},
		kind: kind,
		rows: rows,
	}
}

// Relation implements planner.Catalog.
func (d *db) Relation(name string) (*planner.Relation, error) {
	n := strings.ToLower(name)
	n = strings.TrimPrefix(n, "public.")
	if u, ok := d.user[n]; ok {
		return u.rel, nil
	}
	q := n
	if !strings.Contains(q, ".") {
		q = "pg_catalog." + q
	}
	if s, ok := d.sys[q]; ok {
		return &planner.Relation{Name: q, Kind: plan.RelSystem, Cols: s, NumPhysical: len(s), TimeCol: -1}, nil
	}
	return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", name)
}

// Rows implements batch.Provider.
func (d *db) Rows(_ context.Context, s *plan.Scan) ([]types.Row, error) {
	if s.Kind == plan.RelSystem {
		rows, ok := pgcatalog.Rows(s.Name, d)
		if !ok {
			return nil, sqlerr.New(sqlerr.UndefinedTable, "system relation %q does not exist", s.Name)
		}
		return rows, nil
	}
	u, ok := d.user[s.Name]
	if !ok {
		return nil, sqlerr.New(sqlerr.UndefinedTable, "relation %q does not exist", s.Name)
	}
	return u.rows, nil
}

// Objects implements pgcatalog.Lister.
func (d *db) Objects() []pgcatalog.Object {
	var out []pgcatalog.Object
	for name, u := range d.user {
		out = append(out, pgcatalog.Object{Name: name, Kind: u.kind, Cols: u.rel.Cols, Definition: "CREATE ... " + name})
	}
	return out
}

func (d *db) Settings() map[string]string {
	return map[string]string{"search_path": `"$user", public`, "TimeZone": "UTC",
		"server_version": "15.0", "server_version_num": "150000", "standard_conforming_strings": "on"}
}
func (d *db) Database() string { return "sluice" }
func (d *db) User() string     { return "sluice" }

// ectx is the statement context of the tests: a fixed clock.
func (d *db) ectx(params ...types.Value) *expr.Context {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	return &expr.Context{
		Now:      func() time.Time { return now },
		Setting:  func(name string) (string, bool) { v, ok := d.Settings()[name]; return v, ok },
		Database: "sluice", User: "sluice", Params: params,
	}
}

// query parses, plans and runs one SELECT.
func (d *db) query(text string, params ...types.Value) (types.Schema, []types.Row, error) {
	node, params, err := d.plan(text, params...)
	if err != nil {
		return nil, nil, err
	}
	rows, err := batch.Collect(context.Background(), d.ectx(params...), node, d)
	return node.Schema(), rows, err
}

// plan parses and plans one SELECT. Parameters the caller left out get a
// plausible value of their type (the captured client queries pass type
// names and OIDs); plan returns all of them.
func (d *db) plan(text string, params ...types.Value) (plan.Node, []types.Value, error) {
	st, err := sql.ParseOne(text)
	if err != nil {
		return nil, nil, err
	}
	sel, ok := st.(*sql.Select)
	if !ok {
		return nil, nil, sqlerr.New(sqlerr.FeatureNotSupported, "not a query: %T", st)
	}
	pt := make([]types.Type, len(params))
	for i, p := range params {
		pt[i] = types.Type{Kind: p.K}
	}
	node, ptypes, err := planner.New(d).PlanQuery(sel, pt)
	if err != nil {
		return nil, nil, err
	}
	for i := len(params); i < len(ptypes); i++ {
		v := types.NewText("int4")
		if ptypes[i].Kind.IsInteger() {
			v = types.Value{K: ptypes[i].Kind, I: 23}
		}
		params = append(params, v)
	}
	return node, params, nil
}

// render prints rows as "a|b;c|d" with NULL as "NULL".
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

func (d *db) expect(t *testing.T, text, want string, params ...types.Value) {
	t.Helper()
	_, rows, err := d.query(text, params...)
	if err != nil {
		t.Fatalf("%s\n  error: %v (%s)", text, err, sqlerr.Code(err))
	}
	if got := render(rows); got != want {
		t.Fatalf("%s\n   got: %s\n  want: %s", text, got, want)
	}
}

func (d *db) expectErr(t *testing.T, text, code string) {
	t.Helper()
	_, _, err := d.query(text)
	if sqlerr.Code(err) != code {
		t.Fatalf("%s\n  want error %s, got %v (%s)", text, code, err, sqlerr.Code(err))
	}
}
