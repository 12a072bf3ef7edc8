package pgcatalog

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"sort"
	"strings"

	"github.com/sluice-db/sluice/sql/types"
)

// Object kinds of Object.Kind.
const (
	KindSource = "source"
	KindTable  = "table"
	KindView   = "view" // a materialized view
	KindSink   = "sink"
	// KindPlainView is a non-materialized view (relkind 'v'), if the
	// database ever has one.
	KindPlainView = "plain view"
)

// Object is one user relation as the catalog shows it.
type Object struct {
	Name string
	// Kind is "source", "table", "view" (materialized) or "sink".
	Kind       string
	Cols       types.Schema
	Definition string // the CREATE statement or the view's query
	// OID is the relation's pg_class.oid; 0 derives a stable one from the
	// kind and name (see ObjectOID).
	OID uint32
	// Schema is the namespace ("public" when empty).
	Schema string
	// Comment is shown by obj_description and \d+ (optional).
	Comment string
}

// Activity is one connection, for pg_stat_activity.
type Activity struct {
	PID             int32
	User, Database  string
	ApplicationName string
	ClientAddr      string
	BackendStart    int64 // micros since the epoch
	QueryStart      int64 // micros since the epoch, 0 if none
	State           string
	Query           string
}

// Lister is what the catalog reads from the database.
type Lister interface {
	Objects() []Object
	// Settings are the session's settings (name → value) for pg_settings.
	Settings() map[string]string
	Database() string
	User() string
}

// ActivityLister is an optional interface of a Lister that knows the open
// connections (pg_stat_activity).
type ActivityLister interface {
	Activity() []Activity
}

// Well-known OIDs.
const (
	OIDPgCatalog         uint32 = 11
	OIDPublic            uint32 = 2200
	OIDInformationSchema uint32 = 13000
	OIDPgToast           uint32 = 99
	OIDSuperuser         uint32 = 10
	OIDDatabase          uint32 = 16384
	OIDHeapAM            uint32 = 2
	OIDBtreeAM           uint32 = 403
	OIDDefaultTablespace uint32 = 1663
	OIDGlobalTablespace  uint32 = 1664
	OIDDefaultCollation  uint32 = 100
	OIDPgClass           uint32 = 1259
	OIDForeignServer     uint32 = 16385
	OIDForeignWrapper    uint32 = 16386
	firstUserOID         uint32 = 16400
)

// ObjectOID returns o's OID: o.OID, or a hash of its kind, schema and name
// that stays the same across restarts.
func ObjectOID(o Object) uint32 {
	if o.OID != 0 {
		return o.OID
	}
	return hashOID("rel", o.schema(), o.Name)
}

func hashOID(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		_, _ = h.Write([]byte(p))
		_, _ = h.Write([]byte{0})
	}
	// User OIDs live above 16384; keep clear of the 32-bit top so that
	// clients reading oid as int4 see a positive number.
	return firstUserOID + h.Sum32()%(1<<30)
}

func (o Object) schema() string {
	if o.Schema == "" {
		return "public"
	}
	return o.Schema
}

// relkind returns the pg_class.relkind of an object: sources and tables
// are ordinary tables ('r', listed by \dt), materialized views are 'm'
// (\dm), sinks are foreign tables ('f', \dE: they live in another system).
func relkind(kind string) string {
	switch kind {
	case KindView:
		return "m"
	case KindSink:
		return "f"
	case KindPlainView:
		return "v"
	}
	return "r"
}

// column is a catalog column: a name and a Postgres type name.
type column struct{ name, pgtype string }

// table is a virtual catalog relation.
type table struct {
	schema, name string
	cols         []column
	view         bool // relkind 'v' in pg_class
	rows         func(l Lister) [][]any
}

// kindOfPG maps the Postgres types used by catalog columns to kinds.
func kindOfPG(t string) types.Type {
	switch t {
	case "oid", "xid", "regclass", "regtype", "int8":
		return types.TInt64
	case "int2":
		return types.TInt16
	case "int4":
		return types.TInt32
	case "float4":
		return types.TFloat32
	case "float8":
		return types.TFloat64
	case "bool":
		return types.TBool
	case "timestamptz":
		return types.TTimestampTZ
	case "varchar":
		return types.Type{Kind: types.Text, Varchar: true}
	}
	return types.TText // name, text, char, regproc, arrays, vectors, pg_node_tree, inet, ...
}

func (t *table) schemaOf() types.Schema {
	s := make(types.Schema, len(t.cols))
	for i, c := range t.cols {
		s[i] = types.Column{Name: c.name, Type: kindOfPG(c.pgtype), Nullable: true}
	}
	return s
}

func (t *table) qualified() string { return t.schema + "." + t.name }

var registry = map[string]*table{}
var registryOrder []*table

func register(schema, name, cols string, rows func(Lister) [][]any) *table {
	t := &table{schema: schema, name: name, rows: rows}
	for _, c := range strings.Split(cols, ",") {
		f := strings.Fields(c)
		if len(f) != 2 {
			panic(fmt.Sprintf("pgcatalog: bad column %q of %s", c, name))
		}
		t.cols = append(t.cols, column{f[0], f[1]})
	}
	if _, dup := registry[t.qualified()]; dup {
		panic("pgcatalog: duplicate table " + t.qualified())
	}
	registry[t.qualified()] = t
	registryOrder = append(registryOrder, t)
	return t
}

// Tables returns the schema of every virtual table, keyed by qualified
// name ("pg_catalog.pg_class", "information_schema.columns").
func Tables() map[string]types.Schema {
	out := make(map[string]types.Schema, len(registry))
	for k, t := range registry {
		out[k] = t.schemaOf()
	}
	return out
}

// Rows returns the current contents of the virtual table name (qualified,
// or unqualified for pg_catalog), or false if there is no such table.
func Rows(name string, l Lister) ([]types.Row, bool) {
	t := lookup(name)
	if t == nil {
		return nil, false
	}
	var raw [][]any
	if t.rows != nil {
		raw = t.rows(l)
	}
	schema := t.schemaOf()
	out := make([]types.Row, len(raw))
	for i, r := range raw {
		if len(r) != len(schema) {
			panic(fmt.Sprintf("pgcatalog: %s row has %d values, want %d", t.qualified(), len(r), len(schema)))
		}
		row := make(types.Row, len(r))
		for j, v := range r {
			row[j] = toValue(schema[j].Type, v)
		}
		out[i] = row
	}
	return out, true
}

func lookup(name string) *table {
	n := strings.ToLower(name)
	if t, ok := registry[n]; ok {
		return t
	}
	if !strings.Contains(n, ".") {
		return registry["pg_catalog."+n]
	}
	return nil
}

func toValue(t types.Type, v any) types.Value {
	switch x := v.(type) {
	case nil:
		return types.NullValue
	case bool:
		return types.NewBool(x)
	case string:
		return types.Value{K: types.Text, S: x}
	case int:
		return intValue(t, int64(x))
	case int16:
		return intValue(t, int64(x))
	case int32:
		return intValue(t, int64(x))
	case int64:
		return intValue(t, x)
	case uint32:
		return intValue(t, int64(x))
	case float64:
		if t.Kind == types.Float32 {
			return types.NewFloat32(x)
		}
		return types.NewFloat(x)
	case types.Value:
		return x
	}
	panic(fmt.Sprintf("pgcatalog: unsupported value %T", v))
}

func intValue(t types.Type, i int64) types.Value {
	switch t.Kind {
	case types.Int16, types.Int32, types.Int64:
		return types.Value{K: t.Kind, I: i}
	case types.TimestampTZ:
		return types.NewTimestampTZ(i)
	case types.Float32:
		return types.NewFloat32(float64(i))
	case types.Float64:
		return types.NewFloat(float64(i))
	}
	return types.NewText(fmt.Sprint(i))
}

// sortedObjects returns the user objects ordered by schema and name.
func sortedObjects(l Lister) []Object {
	objs := append([]Object(nil), l.Objects()...)
	sort.Slice(objs, func(i, j int) bool {
		if objs[i].schema() != objs[j].schema() {
			return objs[i].schema() < objs[j].schema()
		}
		return objs[i].Name < objs[j].Name
	})
	return objs
}

// relation is a row of pg_class: a user object or a catalog table.
type relation struct {
	oid       uint32
	name      string
	namespace uint32
	schema    string
	kind      string // relkind
	cols      types.Schema
	def       string
	comment   string
	object    *Object
}

func namespaceOID(schema string) uint32 {
	switch schema {
	case "pg_catalog":
		return OIDPgCatalog
	case "public":
		return OIDPublic
	case "information_schema":
		return OIDInformationSchema
	}
	return hashOID("ns", schema)
}

// relations lists every relation: catalog tables first, then user objects.
func relations(l Lister) []relation {
	var out []relation
	for _, t := range registryOrder {
		k := "r"
		if t.view || t.schema == "information_schema" {
			k = "v"
		}
		out = append(out, relation{
			oid: catalogOID(t), name: t.name, namespace: namespaceOID(t.schema), schema: t.schema,
			kind: k, cols: t.schemaOf(),
		})
	}
	for _, o := range sortedObjects(l) {
		o := o
		out = append(out, relation{
			oid: ObjectOID(o), name: o.Name, namespace: namespaceOID(o.schema()), schema: o.schema(),
			kind: relkind(o.Kind), cols: visible(o.Cols), def: o.Definition, comment: o.Comment, object: &o,
		})
	}
	return out
}

func visible(s types.Schema) types.Schema {
	out := make(types.Schema, 0, len(s))
	for _, c := range s {
		if !c.Hidden {
			out = append(out, c)
		}
	}
	return out
}

// catalogOID returns the OID of a catalog table: Postgres' own where
// clients rely on it (pg_class is 1259), a stable hash otherwise.
func catalogOID(t *table) uint32 {
	if oid, ok := fixedRelOIDs[t.qualified()]; ok {
		return oid
	}
	for i, r := range registryOrder {
		if r == t {
			return 14000 + uint32(i)
		}
	}
	return 0
}

var fixedRelOIDs = map[string]uint32{
	"pg_catalog.pg_type":        1247,
	"pg_catalog.pg_attribute":   1249,
	"pg_catalog.pg_proc":        1255,
	"pg_catalog.pg_class":       1259,
	"pg_catalog.pg_namespace":   2615,
	"pg_catalog.pg_constraint":  2606,
	"pg_catalog.pg_description": 2609,
	"pg_catalog.pg_database":    1262,
}

var createViewRE = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:MATERIALIZED\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?.*?\s+AS\s+(.*?)\s*;?\s*$`)

// viewQuery returns the query of a view definition as pg_get_viewdef and
// pg_views.definition show it (" SELECT ...;"): the text after AS when
// the definition is the CREATE statement itself.
func viewQuery(def string) string {
	if def == "" {
		return ""
	}
	q := strings.TrimSpace(def)
	if m := createViewRE.FindStringSubmatch(q); m != nil {
		q = m[1]
	}
	q = strings.TrimRight(q, "; \t\n")
	return " " + q + ";"
}

// ViewDef is pg_get_viewdef(oid): the query of the view (materialized or
// not) with that OID, or false when oid is not a view.
func ViewDef(l Lister, oid uint32) (string, bool) {
	for _, o := range l.Objects() {
		if ObjectOID(o) == oid && (o.Kind == KindView || o.Kind == KindPlainView) {
			return viewQuery(o.Definition), true
		}
	}
	return "", false
}

// Description is obj_description(oid, 'pg_class'): the comment of the
// relation with that OID, or false when it has none.
func Description(l Lister, oid uint32) (string, bool) {
	for _, o := range l.Objects() {
		if ObjectOID(o) == oid && o.Comment != "" {
			return o.Comment, true
		}
	}
	return "", false
}
