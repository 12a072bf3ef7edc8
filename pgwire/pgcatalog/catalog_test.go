package pgcatalog

import (
	"strings"
	"testing"

	"github.com/sluice-db/sluice/sql/types"
)

type lister struct{ objs []Object }

func (l lister) Objects() []Object { return l.objs }
func (l lister) Settings() map[string]string {
	return map[string]string{"application_name": "psql", "statement_timeout": "5s", "sluice.checkpoint_interval": "10s"}
}
func (l lister) Database() string { return "sluice" }
func (l lister) User() string     { return "alice" }
func (l lister) Activity() []Activity {
	return []Activity{{PID: 42, User: "alice", Database: "sluice", State: "active", Query: "select 1", BackendStart: 1}}
}

var testObjects = []Object{
	{Name: "clicks", Kind: KindSource, Cols: types.Schema{
		{Name: "user_id", Type: types.TInt64}, {Name: "url", Type: types.Type{Kind: types.Text, Varchar: true, Width: 200}, Nullable: true},
		{Name: "ts", Type: types.TTimestampTZ}, {Name: "_rowid", Type: types.TInt64, Hidden: true}}},
	{Name: "per_minute", Kind: KindView, Definition: "SELECT window_start, count(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE) GROUP BY window_start",
		Cols: types.Schema{{Name: "window_start", Type: types.TTimestampTZ}, {Name: "n", Type: types.TInt64}}, Comment: "clicks per minute"},
	{Name: "to_ch", Kind: KindSink, Cols: types.Schema{{Name: "n", Type: types.Type{Kind: types.Numeric, Precision: 10, Scale: 2}}}},
	{Name: "t", Kind: KindTable, Schema: "analytics", OID: 99999, Cols: types.Schema{{Name: "a", Type: types.TInt32}}},
}

func find(rows []types.Row, col int, val string) types.Row {
	for _, r := range rows {
		if r[col].String() == val {
			return r
		}
	}
	return nil
}

func TestEveryTableHasWellFormedRows(t *testing.T) {
	l := lister{testObjects}
	tables := Tables()
	if len(tables) < 40 {
		t.Fatalf("only %d tables", len(tables))
	}
	for name, schema := range tables {
		rows, ok := Rows(name, l)
		if !ok {
			t.Fatalf("%s: no rows function", name)
		}
		for _, r := range rows {
			if len(r) != len(schema) {
				t.Fatalf("%s: row width %d, schema %d", name, len(r), len(schema))
			}
			for i, v := range r {
				if !v.IsNull() && v.K != schema[i].Type.Kind {
					t.Fatalf("%s.%s: value kind %v, column kind %v", name, schema[i].Name, v.K, schema[i].Type.Kind)
				}
			}
		}
	}
	if _, ok := Rows("no_such_table", l); ok {
		t.Fatal("unknown table reported as existing")
	}
	if _, ok := Rows("PG_CLASS", l); !ok {
		t.Fatal("unqualified, upper-case pg_class not found")
	}
}

func TestRelationsAndColumns(t *testing.T) {
	l := lister{testObjects}
	class, _ := Rows("pg_catalog.pg_class", l)
	sch := Tables()["pg_catalog.pg_class"]
	relkind, relname, relns, oidCol := sch.Index("relkind"), sch.Index("relname"), sch.Index("relnamespace"), sch.Index("oid")
	want := map[string]string{"clicks": "r", "per_minute": "m", "to_ch": "f", "t": "r", "pg_class": "r", "pg_tables": "v", "columns": "v"}
	for name, kind := range want {
		r := find(class, relname, name)
		if r == nil || r[relkind].S != kind {
			t.Errorf("%s: relkind row %v, want %s", name, r, kind)
		}
	}
	clicks := find(class, relname, "clicks")
	if got := clicks[relns].I; got != int64(OIDPublic) {
		t.Errorf("clicks namespace %d", got)
	}
	// OIDs are stable across calls and distinct.
	again, _ := Rows("pg_class", l)
	seen := map[int64]string{}
	for i, r := range class {
		if again[i][oidCol].I != r[oidCol].I {
			t.Fatalf("oid of %s changed", r[relname].S)
		}
		if prev, dup := seen[r[oidCol].I]; dup {
			t.Fatalf("oid %d shared by %s and %s", r[oidCol].I, prev, r[relname].S)
		}
		seen[r[oidCol].I] = r[relname].S
	}
	if find(class, relname, "t")[oidCol].I != 99999 {
		t.Error("explicit OID not used")
	}
	if find(class, relname, "pg_class")[oidCol].I != 1259 {
		t.Error("pg_class oid is not 1259")
	}

	// Hidden columns are not attributes; typmods and types are right.
	attrs, _ := Rows("pg_attribute", l)
	as := Tables()["pg_catalog.pg_attribute"]
	var clickCols []string
	for _, a := range attrs {
		if a[as.Index("attrelid")].I == clicks[oidCol].I {
			clickCols = append(clickCols, a[as.Index("attname")].S)
			if a[as.Index("attname")].S == "url" {
				if a[as.Index("atttypid")].I != 1043 || a[as.Index("atttypmod")].I != 204 {
					t.Errorf("url attribute %v", a)
				}
				if FormatType(uint32(a[as.Index("atttypid")].I), int32(a[as.Index("atttypmod")].I)) != "character varying(200)" {
					t.Error("format_type of url")
				}
			}
		}
	}
	if strings.Join(clickCols, ",") != "user_id,url,ts" {
		t.Errorf("clicks attributes %v", clickCols)
	}

	cols, _ := Rows("information_schema.columns", l)
	cs := Tables()["information_schema.columns"]
	n := 0
	for _, c := range cols {
		if c[cs.Index("table_name")].S == "to_ch" {
			n++
			if c[cs.Index("data_type")].S != "numeric" || c[cs.Index("numeric_precision")].I != 10 || c[cs.Index("numeric_scale")].I != 2 {
				t.Errorf("to_ch.n column %v", c)
			}
		}
	}
	if n != 1 {
		t.Errorf("to_ch has %d columns", n)
	}
	tabs, _ := Rows("information_schema.tables", l)
	ts := Tables()["information_schema.tables"]
	if r := find(tabs, ts.Index("table_name"), "per_minute"); r == nil || r[ts.Index("table_type")].S != "VIEW" {
		t.Errorf("per_minute in information_schema.tables: %v", r)
	}
	mv, _ := Rows("pg_matviews", l)
	if len(mv) != 1 || !strings.Contains(mv[0][6].S, "TUMBLE") {
		t.Errorf("pg_matviews %v", mv)
	}
	ns, _ := Rows("pg_namespace", l)
	if find(ns, 1, "analytics") == nil {
		t.Error("schema analytics missing from pg_namespace")
	}
	desc, _ := Rows("pg_description", l)
	if len(desc) != 1 || desc[0][3].S != "clicks per minute" {
		t.Errorf("pg_description %v", desc)
	}
	act, _ := Rows("pg_stat_activity", l)
	if len(act) != 1 || act[0][2].I != 42 {
		t.Errorf("pg_stat_activity %v", act)
	}
	set, _ := Rows("pg_settings", l)
	if r := find(set, 0, "statement_timeout"); r == nil || r[1].S != "5s" || r[8].S != "session" {
		t.Errorf("statement_timeout setting %v", r)
	}
	if find(set, 0, "sluice.checkpoint_interval") == nil {
		t.Error("custom setting missing")
	}
}

func TestPgType(t *testing.T) {
	rows, _ := Rows("pg_type", lister{})
	s := Tables()["pg_catalog.pg_type"]
	byName := map[string]types.Row{}
	for _, r := range rows {
		byName[r[s.Index("typname")].S] = r
	}
	for k := types.Bool; k <= types.JSONB; k++ {
		name, ok := TypeName(types.Type{Kind: k}.OID())
		if !ok || byName[name] == nil {
			t.Fatalf("kind %v has no pg_type row", k)
		}
		r := byName[name]
		if int16(r[s.Index("typlen")].I) != (types.Type{Kind: k}).Size() && k != types.Numeric {
			t.Errorf("%s typlen %d, Size %d", name, r[s.Index("typlen")].I, types.Type{Kind: k}.Size())
		}
		arr := byName["_"+name]
		if arr == nil || arr[s.Index("oid")].I != r[s.Index("typarray")].I || arr[s.Index("typelem")].I != r[s.Index("oid")].I {
			t.Errorf("%s array type wrong: %v", name, arr)
		}
	}
	for _, c := range []struct {
		oid    uint32
		typmod int32
		want   string
	}{{23, -1, "integer"}, {1700, (10<<16 | 2) + 4, "numeric(10,2)"}, {1009, -1, "text[]"}, {1184, -1, "timestamp with time zone"}, {424242, -1, "???"}} {
		if got := FormatType(c.oid, c.typmod); got != c.want {
			t.Errorf("FormatType(%d,%d) = %q, want %q", c.oid, c.typmod, got, c.want)
		}
	}
}

func TestViewDef(t *testing.T) {
	l := lister{append(testObjects[:len(testObjects):len(testObjects)],
		Object{Name: "v2", Kind: KindView, Definition: "create materialized view v2 as\n  select a, b from t where b > 1;\n"})}
	for _, o := range l.objs {
		def, ok := ViewDef(l, ObjectOID(o))
		switch o.Name {
		case "per_minute":
			if !ok || def != " SELECT window_start, count(*) AS n FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE) GROUP BY window_start;" {
				t.Errorf("per_minute: %q %v", def, ok)
			}
		case "v2":
			if !ok || def != " select a, b from t where b > 1;" {
				t.Errorf("v2: %q %v", def, ok)
			}
		default:
			if ok {
				t.Errorf("%s is not a view but has definition %q", o.Name, def)
			}
		}
	}
	if d, ok := Description(l, ObjectOID(testObjects[1])); !ok || d != "clicks per minute" {
		t.Errorf("description %q %v", d, ok)
	}
	if _, ok := Description(l, ObjectOID(testObjects[0])); ok {
		t.Error("clicks has no comment")
	}
}
