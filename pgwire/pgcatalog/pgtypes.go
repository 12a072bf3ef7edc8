package pgcatalog

import (
	"fmt"

	"github.com/sluice-db/sluice/sql/types"
)

// pgType is one row of pg_type.
type pgType struct {
	oid      uint32
	name     string
	len      int16
	byval    bool
	typtype  string // b base, p pseudo
	category string
	pref     bool
	elem     uint32 // element type of an array
	array    uint32 // array type of this type
	io       string // prefix of the I/O function names ("int4" → int4in ...)
	align    string
	storage  string
	collate  bool
}

// baseTypes are the types Sluice supports plus the ones catalog columns
// and clients use; each has an array type below.
var baseTypes = []pgType{
	{16, "bool", 1, true, "b", "B", true, 0, 1000, "bool", "c", "p", false},
	{17, "bytea", -1, false, "b", "U", false, 0, 1001, "bytea", "i", "x", false},
	{18, "char", 1, true, "b", "Z", false, 0, 1002, "char", "c", "p", false},
	{19, "name", 64, false, "b", "S", false, 0, 1003, "name", "c", "p", true},
	{20, "int8", 8, true, "b", "N", false, 0, 1016, "int8", "d", "p", false},
	{21, "int2", 2, true, "b", "N", false, 0, 1005, "int2", "s", "p", false},
	{22, "int2vector", -1, false, "b", "A", false, 21, 1006, "int2vector", "i", "p", false},
	{23, "int4", 4, true, "b", "N", false, 0, 1007, "int4", "i", "p", false},
	{24, "regproc", 4, true, "b", "N", false, 0, 1008, "regproc", "i", "p", false},
	{25, "text", -1, false, "b", "S", true, 0, 1009, "text", "i", "x", true},
	{26, "oid", 4, true, "b", "N", true, 0, 1028, "oid", "i", "p", false},
	{30, "oidvector", -1, false, "b", "A", false, 26, 1013, "oidvector", "i", "p", false},
	{114, "json", -1, false, "b", "U", false, 0, 199, "json", "i", "x", false},
	{700, "float4", 4, true, "b", "N", false, 0, 1021, "float4", "i", "p", false},
	{701, "float8", 8, true, "b", "N", true, 0, 1022, "float8", "d", "p", false},
	{705, "unknown", -2, false, "p", "X", false, 0, 0, "unknown", "c", "p", false},
	{1042, "bpchar", -1, false, "b", "S", false, 0, 1014, "bpchar", "i", "x", true},
	{1043, "varchar", -1, false, "b", "S", false, 0, 1015, "varchar", "i", "x", true},
	{1082, "date", 4, true, "b", "D", false, 0, 1182, "date", "i", "p", false},
	{1114, "timestamp", 8, true, "b", "D", false, 0, 1115, "timestamp", "d", "p", false},
	{1184, "timestamptz", 8, true, "b", "D", true, 0, 1185, "timestamptz", "d", "p", false},
	{1186, "interval", 16, false, "b", "T", true, 0, 1187, "interval", "d", "p", false},
	{1700, "numeric", -1, false, "b", "N", false, 0, 1231, "numeric", "i", "m", false},
	{2205, "regclass", 4, true, "b", "N", false, 0, 2210, "regclass", "i", "p", false},
	{2206, "regtype", 4, true, "b", "N", false, 0, 2211, "regtype", "i", "p", false},
	{2249, "record", -1, false, "p", "P", false, 0, 2287, "record", "d", "x", false},
	{2278, "void", 4, true, "p", "P", false, 0, 0, "void", "i", "p", false},
	{2950, "uuid", 16, false, "b", "U", false, 0, 2951, "uuid", "c", "p", false},
	{3802, "jsonb", -1, false, "b", "U", false, 0, 3807, "jsonb", "i", "x", false},
	{1033, "aclitem", 12, false, "b", "U", false, 0, 1034, "aclitem", "i", "p", false},
	{194, "pg_node_tree", -1, false, "b", "Z", false, 0, 0, "pg_node_tree", "i", "x", true},
	{28, "xid", 4, true, "b", "U", false, 0, 1011, "xid", "i", "p", false},
	{2277, "anyarray", -1, false, "p", "P", false, 0, 0, "anyarray", "d", "x", false},
	{2283, "anyelement", 4, true, "p", "P", false, 0, 0, "anyelement", "i", "p", false},
}

// allTypes is baseTypes plus their array types.
var allTypes = func() []pgType {
	out := append([]pgType(nil), baseTypes...)
	for _, t := range baseTypes {
		if t.array == 0 {
			continue
		}
		align := "i"
		if t.align == "d" {
			align = "d"
		}
		out = append(out, pgType{
			oid: t.array, name: "_" + t.name, len: -1, typtype: "b", category: "A", elem: t.oid,
			io: "array", align: align, storage: "x", collate: t.collate,
		})
	}
	return out
}()

var typesByOID = func() map[uint32]pgType {
	m := map[uint32]pgType{}
	for _, t := range allTypes {
		m[t.oid] = t
	}
	return m
}()

// TypeName returns the pg_type.typname of oid ("int4", "_text").
func TypeName(oid uint32) (string, bool) {
	t, ok := typesByOID[oid]
	return t.name, ok
}

// sqlNames are format_type's spellings of base types.
var sqlNames = map[uint32]string{
	16: "boolean", 18: "\"char\"", 20: "bigint", 21: "smallint", 23: "integer", 700: "real",
	701: "double precision", 1042: "character", 1043: "character varying", 1114: "timestamp without time zone",
	1184: "timestamp with time zone",
}

// FormatType is the SQL function format_type(oid, typmod): the SQL name of
// a type with its modifier ("character varying(20)", "numeric(10,2)",
// "integer[]"). It returns "???" for an unknown OID, as Postgres does.
func FormatType(oid uint32, typmod int32) string {
	t, ok := typesByOID[oid]
	if !ok {
		return "???"
	}
	if t.category == "A" && t.elem != 0 && t.name[0] == '_' {
		return FormatType(t.elem, typmod) + "[]"
	}
	name, ok := sqlNames[oid]
	if !ok {
		name = t.name
	}
	if typmod < 0 {
		return name
	}
	switch oid {
	case 1043, 1042:
		return fmt.Sprintf("%s(%d)", name, typmod-4)
	case 1700:
		m := typmod - 4
		return fmt.Sprintf("numeric(%d,%d)", (m>>16)&0xffff, m&0xffff)
	case 1114:
		return fmt.Sprintf("timestamp(%d) without time zone", typmod)
	case 1184:
		return fmt.Sprintf("timestamp(%d) with time zone", typmod)
	}
	return name
}

// typeRows returns pg_type.
func typeRows(Lister) [][]any {
	out := make([][]any, 0, len(allTypes))
	for _, t := range allTypes {
		var collation uint32
		if t.collate {
			collation = OIDDefaultCollation
		}
		subscript := "-"
		if t.category == "A" && t.elem != 0 {
			subscript = "array_subscript_handler"
		}
		in, outf, recv, send := t.io+"_in", t.io+"_out", t.io+"_recv", t.io+"_send"
		if t.io != "array" {
			in, outf, recv, send = t.io+"in", t.io+"out", t.io+"recv", t.io+"send"
		}
		out = append(out, []any{
			t.oid, t.name, OIDPgCatalog, OIDSuperuser, t.len, t.byval, t.typtype, t.category, t.pref, true, ",", 0,
			subscript, t.elem, t.array, in, outf, recv, send, "-", "-", "-", t.align, t.storage, false, 0, -1, 0,
			collation, nil, nil, nil,
		})
	}
	return out
}

// typeOID returns the pg_type OID of a column type.
func typeOID(t types.Type) uint32 { return t.OID() }
