package sql

import (
	"github.com/pingcap/tidb/pkg/parser/ast"

	"github.com/sluice-db/sluice/sql/types"
)

// Statement is one parsed statement of the Sluice dialect. The streaming
// statements are Sluice's own structs; SELECT bodies and expressions are
// TiDB parser ASTs (github.com/pingcap/tidb/pkg/parser/ast) produced from the
// normalised text (see rewrite contract in doc.go).
type Statement interface {
	// Text is the statement's original text, as the user wrote it.
	Text() string
}

// Span is a statement's text and its place in the input.
type Span struct {
	SQL       string // the original text of this statement
	StartLine int    // 1-based line of the first character in the input
	StartCol  int    // 1-based column
}

// Text implements Statement.
func (s Span) Text() string { return s.SQL }

func (s Span) start() (int, int) { return s.StartLine, s.StartCol }

// Option is one `key = 'value'` pair of a WITH clause, in the order written.
// Keys are lower-cased; values are the unquoted literal text. A bare key
// (WITH (progress)) has the value "true".
type Option struct {
	Key, Value string
	Pos        Pos
}

// Pos is a 1-based line and column in the original input.
type Pos struct{ Line, Col int }

// ColumnDef is one column of CREATE SOURCE / CREATE TABLE.
type ColumnDef struct {
	Name string
	Type types.Type
	// Generated is the expression of a generated column (`name AS expr`);
	// nil for physical columns. Its type is inferred when Type.Kind is Null.
	Generated  ast.ExprNode
	NotNull    bool
	PrimaryKey bool
	Pos        Pos
}

// WatermarkDef is `WATERMARK FOR col AS expr`.
type WatermarkDef struct {
	Column string
	Expr   ast.ExprNode
	Pos    Pos
}

// CreateSource is CREATE SOURCE, or CREATE TABLE when IsTable.
type CreateSource struct {
	Span
	Name        string
	IfNotExists bool
	IsTable     bool
	Columns     []ColumnDef
	Watermark   *WatermarkDef
	With        []Option
}

// Select is a query. Stmt is the TiDB AST of the normalised query; window
// table functions in FROM were replaced by table names that are keys of
// Windows, and set operations are in Union.
type Select struct {
	Span
	Stmt ast.ResultSetNode // *ast.SelectStmt or *ast.SetOprStmt
	// Windows maps placeholder table names (as they appear in Stmt) to the
	// window table functions they stand for. It holds the windows of
	// nested subqueries too; placeholders are unique per statement.
	Windows map[string]*WindowTVF
	// TableFuncs maps placeholder table names (__tablefunc_<n>) to the
	// set-returning functions in FROM they stand for (unnest(x) AS u,
	// generate_series(1, 10) g, ...), including those of nested subqueries.
	TableFuncs map[string]*TableFunc
	// ColumnAliases maps the alias of a FROM item written with a column
	// alias list (FROM t AS x(a, b), (VALUES ...) AS v(id, name)) to the
	// column names, in order; TiDB sees only the alias. It includes the
	// lists of nested subqueries (aliases are looked up innermost first by
	// the planner; a repeated alias keeps the last list).
	ColumnAliases map[string][]string
	// Normalized is the text TiDB parsed (see the rewrite contract).
	Normalized string

	pm  *posMap
	src string
}

// UserPos maps a byte offset of Normalized (such as a TiDB node's
// OriginTextPosition) to the line and column of the user's text, for
// errors found after parsing.
func (s *Select) UserPos(offset int) Pos {
	if s == nil || s.pm == nil {
		return Pos{}
	}
	l, c, _ := lineCol(s.src, s.pm.user(offset))
	return Pos{Line: l, Col: c}
}

// UserOffset maps a byte offset of Normalized to the 1-based character
// position in the text given to Parse (sqlerr.Error.Position).
func (s *Select) UserOffset(offset int) int {
	if s == nil || s.pm == nil {
		return 0
	}
	_, _, char := lineCol(s.src, s.pm.user(offset))
	return char
}

// TableFunc is a set-returning function in FROM. In the TiDB AST it is a
// table named by its placeholder, aliased to Alias or, without one, to the
// function's name (as Postgres names it).
type TableFunc struct {
	// Name is the lower-case function name; a pg_catalog. qualifier is
	// dropped, other schemas are kept ("information_schema._pg_expandarray").
	Name           string
	Args           []ast.ExprNode
	Alias          string   // "" when none was written
	ColumnAliases  []string // AS t(a, b)
	WithOrdinality bool
	Pos            Pos
}

// WindowKind names a window table function.
type WindowKind uint8

// Window table functions.
const (
	Tumble WindowKind = iota
	Hop
	Cumulate
	Session
)

// WindowTVF is a window table function in FROM, in either dialect:
// RisingWave `TUMBLE(src, ts, size [, offset])` or Flink
// `TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), size [, offset]))`.
type WindowTVF struct {
	Kind WindowKind
	// Source is the relation name, or "" when Subquery is set.
	Source   string
	Alias    string
	Subquery *Select
	TimeCol  string
	// Args are the interval arguments in written order: TUMBLE(size
	// [,offset]); HOP(slide, size [,offset]); CUMULATE(step, size
	// [,offset]); SESSION(gap [, max_duration]).
	Args        []ast.ExprNode
	PartitionBy []string // Flink SESSION(TABLE src PARTITION BY k, ...)
	Flink       bool
	Pos         Pos
}

// CreateView is CREATE MATERIALIZED VIEW.
type CreateView struct {
	Span
	Name        string
	IfNotExists bool
	Query       *Select
	// EmitOnWindowClose is EMIT ON WINDOW CLOSE.
	EmitOnWindowClose bool
	// With holds view options, such as allowed_lateness = '10 seconds'.
	With []Option
}

// CreateSink is CREATE SINK name FROM view WITH (...) or
// CREATE SINK name AS SELECT ... WITH (...).
type CreateSink struct {
	Span
	Name        string
	IfNotExists bool
	From        string  // set for FROM view
	Query       *Select // set for AS SELECT
	With        []Option
}

// ObjectKind is the kind of a catalog object in DROP / SHOW.
type ObjectKind uint8

// Catalog object kinds.
const (
	ObjSource ObjectKind = iota
	ObjTable
	ObjView
	ObjSink
)

// Drop is DROP SOURCE|TABLE|MATERIALIZED VIEW|SINK [IF EXISTS] name [CASCADE].
type Drop struct {
	Span
	Kind     ObjectKind
	Names    []string
	IfExists bool
	Cascade  bool
}

// ShowObjects is SHOW SOURCES|TABLES|MATERIALIZED VIEWS|SINKS.
type ShowObjects struct {
	Span
	Kind ObjectKind
}

// Describe is DESCRIBE name (also DESC name).
type Describe struct {
	Span
	Name string
}

// Explain is EXPLAIN <statement>.
type Explain struct {
	Span
	Stmt    Statement
	Analyze bool // EXPLAIN ANALYZE or (ANALYZE)
	Verbose bool
}

// Insert is INSERT INTO table [(cols)] VALUES (...), ... or INSERT ... SELECT.
type Insert struct {
	Span
	Table   string
	Columns []string
	Rows    [][]ast.ExprNode
	Query   *Select
}

// Set is SET [SESSION|LOCAL] name = value | TO value (also SET TIME ZONE).
type Set struct {
	Span
	Name  string
	Value string // DEFAULT resets
	Local bool
	// Default is set for SET name TO DEFAULT (Value is then "DEFAULT").
	Default bool
}

// ShowVar is SHOW name | SHOW ALL.
type ShowVar struct {
	Span
	Name string
}

// Reset is RESET name | RESET ALL.
type Reset struct {
	Span
	Name string
}

// TxnKind is a transaction-control statement.
type TxnKind uint8

// Transaction statements.
const (
	Begin TxnKind = iota
	Commit
	Rollback
)

// Txn is BEGIN/START TRANSACTION, COMMIT/END, ROLLBACK/ABORT.
type Txn struct {
	Span
	Kind TxnKind
}

// Subscribe is SUBSCRIBE [TO] view | (query) [WITH (options)].
type Subscribe struct {
	Span
	View  string
	Query *Select
	With  []Option
}

// DeclareCursor is DECLARE name CURSOR [WITH[OUT] HOLD] FOR <query or SUBSCRIBE>.
type DeclareCursor struct {
	Span
	Name string
	Stmt Statement // *Subscribe or *Select
	Hold bool      // WITH HOLD
}

// Fetch is FETCH [count|ALL|NEXT] [FROM|IN] cursor [WITH (timeout = '...')].
type Fetch struct {
	Span
	Cursor string
	Count  int64 // -1 for ALL
	With   []Option
}

// CloseCursor is CLOSE cursor | CLOSE ALL.
type CloseCursor struct {
	Span
	Name string
	All  bool // CLOSE ALL (Name is "")
}

// Empty is an empty query (only comments or whitespace).
type Empty struct{ Span }

// Copy is COPY (query | SUBSCRIBE ...) TO STDOUT [WITH (options)]: the rows
// go to the client in the COPY text format, which is how psql shows a
// subscription as it streams.
type Copy struct {
	Span
	Stmt Statement // *Select or *Subscribe
	With []Option
}
