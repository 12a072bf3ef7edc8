package types

import (
	"fmt"
	"strings"
)

// Kind is the SQL type family of a value or column.
type Kind uint8

// The kinds Sluice supports. Null is the kind of the NULL literal before it
// is coerced to a column type; a Value of any kind may be null (see Value.Null).
const (
	Null Kind = iota
	Bool
	Int16
	Int32
	Int64
	Float32
	Float64
	Numeric
	Text
	Bytea
	Date
	Timestamp
	TimestampTZ
	Interval
	JSONB
	numKinds
)

// Postgres type OIDs, as clients expect them (pg_type.oid).
const (
	OIDBool        uint32 = 16
	OIDBytea       uint32 = 17
	OIDName        uint32 = 19
	OIDInt8        uint32 = 20
	OIDInt2        uint32 = 21
	OIDInt4        uint32 = 23
	OIDRegproc     uint32 = 24
	OIDText        uint32 = 25
	OIDOid         uint32 = 26
	OIDFloat4      uint32 = 700
	OIDFloat8      uint32 = 701
	OIDUnknown     uint32 = 705
	OIDVarchar     uint32 = 1043
	OIDDate        uint32 = 1082
	OIDTimestamp   uint32 = 1114
	OIDTimestampTZ uint32 = 1184
	OIDInterval    uint32 = 1186
	OIDNumeric     uint32 = 1700
	OIDJSONB       uint32 = 3802
)

var kindNames = [numKinds]string{
	Null:        "unknown",
	Bool:        "boolean",
	Int16:       "smallint",
	Int32:       "integer",
	Int64:       "bigint",
	Float32:     "real",
	Float64:     "double precision",
	Numeric:     "numeric",
	Text:        "text",
	Bytea:       "bytea",
	Date:        "date",
	Timestamp:   "timestamp without time zone",
	TimestampTZ: "timestamp with time zone",
	Interval:    "interval",
	JSONB:       "jsonb",
}

var kindOIDs = [numKinds]uint32{
	Null:        OIDUnknown,
	Bool:        OIDBool,
	Int16:       OIDInt2,
	Int32:       OIDInt4,
	Int64:       OIDInt8,
	Float32:     OIDFloat4,
	Float64:     OIDFloat8,
	Numeric:     OIDNumeric,
	Text:        OIDText,
	Bytea:       OIDBytea,
	Date:        OIDDate,
	Timestamp:   OIDTimestamp,
	TimestampTZ: OIDTimestampTZ,
	Interval:    OIDInterval,
	JSONB:       OIDJSONB,
}

// String returns the Postgres name of the kind, as format_type prints it.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// IsNumeric reports whether arithmetic applies to the kind.
func (k Kind) IsNumeric() bool {
	switch k {
	case Int16, Int32, Int64, Float32, Float64, Numeric:
		return true
	}
	return false
}

// IsInteger reports whether the kind is an integer kind.
func (k Kind) IsInteger() bool { return k == Int16 || k == Int32 || k == Int64 }

// IsTime reports whether the kind is a point in time (usable as event time).
func (k Kind) IsTime() bool { return k == Timestamp || k == TimestampTZ }

// Type is a column or expression type. Precision and Scale apply to Numeric
// (0 means unconstrained) and Width to Text declared as VARCHAR(n) (0 means
// unbounded). Varchar records that the user wrote VARCHAR so that catalogs
// show it back.
type Type struct {
	Kind      Kind
	Precision int
	Scale     int
	Width     int
	Varchar   bool
}

// Common types, for brevity at call sites.
var (
	TNull        = Type{Kind: Null}
	TBool        = Type{Kind: Bool}
	TInt16       = Type{Kind: Int16}
	TInt32       = Type{Kind: Int32}
	TInt64       = Type{Kind: Int64}
	TFloat32     = Type{Kind: Float32}
	TFloat64     = Type{Kind: Float64}
	TNumeric     = Type{Kind: Numeric}
	TText        = Type{Kind: Text}
	TBytea       = Type{Kind: Bytea}
	TDate        = Type{Kind: Date}
	TTimestamp   = Type{Kind: Timestamp}
	TTimestampTZ = Type{Kind: TimestampTZ}
	TInterval    = Type{Kind: Interval}
	TJSONB       = Type{Kind: JSONB}
)

// OID returns the Postgres type OID clients see for the type.
func (t Type) OID() uint32 {
	if t.Kind == Text && t.Varchar {
		return OIDVarchar
	}
	if t.Kind < numKinds {
		return kindOIDs[t.Kind]
	}
	return OIDUnknown
}

// Typmod returns the Postgres type modifier (pg_attribute.atttypmod).
func (t Type) Typmod() int32 {
	switch {
	case t.Kind == Numeric && t.Precision > 0:
		return int32((t.Precision<<16)|t.Scale) + 4
	case t.Kind == Text && t.Width > 0:
		return int32(t.Width) + 4
	}
	return -1
}

// Size returns the Postgres typlen of the type (-1 for variable length).
func (t Type) Size() int16 {
	switch t.Kind {
	case Bool:
		return 1
	case Int16:
		return 2
	case Int32, Float32, Date:
		return 4
	case Int64, Float64, Timestamp, TimestampTZ:
		return 8
	case Interval:
		return 16
	}
	return -1
}

// String returns the SQL spelling of the type, as format_type prints it.
func (t Type) String() string {
	switch {
	case t.Kind == Numeric && t.Precision > 0:
		return fmt.Sprintf("numeric(%d,%d)", t.Precision, t.Scale)
	case t.Kind == Text && t.Varchar && t.Width > 0:
		return fmt.Sprintf("character varying(%d)", t.Width)
	case t.Kind == Text && t.Varchar:
		return "character varying"
	}
	return t.Kind.String()
}

// KindFromOID maps a Postgres type OID to a type; ok is false for OIDs
// Sluice does not support.
func KindFromOID(oid uint32) (Type, bool) {
	switch oid {
	case OIDVarchar:
		return Type{Kind: Text, Varchar: true}, true
	case OIDName:
		return TText, true
	case OIDOid, OIDRegproc:
		return TInt64, true
	case OIDUnknown, 0:
		return TNull, true
	}
	for k, o := range kindOIDs {
		if o == oid {
			return Type{Kind: Kind(k)}, true
		}
	}
	return Type{}, false
}

// ParseTypeName maps a SQL type name (as users write it in DDL or casts,
// case-insensitive, without modifiers) to a kind.
func ParseTypeName(name string) (Kind, bool) {
	switch strings.ToLower(strings.Join(strings.Fields(name), " ")) {
	case "bool", "boolean":
		return Bool, true
	case "smallint", "int2":
		return Int16, true
	case "int", "integer", "int4":
		return Int32, true
	case "bigint", "int8", "oid", "regclass", "regproc", "regtype":
		return Int64, true
	case "real", "float4":
		return Float32, true
	case "double precision", "double", "float8", "float":
		return Float64, true
	case "numeric", "decimal":
		return Numeric, true
	case "text", "varchar", "character varying", "char", "character", "string", "name", "bpchar":
		return Text, true
	case "bytea", "blob", "bytes":
		return Bytea, true
	case "date":
		return Date, true
	case "timestamp", "timestamp without time zone", "datetime":
		return Timestamp, true
	case "timestamptz", "timestamp with time zone":
		return TimestampTZ, true
	case "interval":
		return Interval, true
	case "jsonb", "json":
		return JSONB, true
	}
	return Null, false
}

// Column is one column of a relation or plan output.
type Column struct {
	Name     string
	Type     Type
	Nullable bool
	// Hidden columns (such as an internal row id) are not shown by SELECT *.
	Hidden bool
}

// Schema is the ordered list of columns of a relation or plan output.
type Schema []Column

// Index returns the position of the column named name (case-insensitive),
// or -1.
func (s Schema) Index(name string) int {
	for i, c := range s {
		if strings.EqualFold(c.Name, name) {
			return i
		}
	}
	return -1
}

// Names returns the column names in order.
func (s Schema) Names() []string {
	out := make([]string, len(s))
	for i, c := range s {
		out[i] = c.Name
	}
	return out
}

// String renders the schema as "(a bigint, b text)".
func (s Schema) String() string {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.Name)
		b.WriteByte(' ')
		b.WriteString(c.Type.String())
	}
	b.WriteByte(')')
	return b.String()
}
