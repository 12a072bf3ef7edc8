package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-db/sluice/sql/expr"
	"github.com/sluice-db/sluice/sql/types"
)

// Node is one operator of a physical plan. Plans are immutable once built;
// exec reads them and never changes them.
type Node interface {
	// Schema is the node's output columns.
	Schema() types.Schema
	// Children are the inputs, in order.
	Children() []Node
	// Explain describes the node on one line, without its children.
	Explain() string
}

// RelKind says what a scanned relation is.
type RelKind uint8

// Relation kinds.
const (
	RelSource RelKind = iota // an external stream (connector)
	RelTable                 // an append-only table filled by INSERT
	RelView                  // a materialized view
	RelSystem                // a system table (sluice_*, pg_catalog, information_schema)
)

func (k RelKind) String() string {
	return [...]string{"source", "table", "view", "system"}[k]
}

// Watermark is the WATERMARK FOR clause of a source: the watermark is
// max(Expr) over the rows seen (per source partition) minus Delay.
type Watermark struct {
	// Col is the index (in the scan's full output, generated columns
	// included) of the event-time column.
	Col int
	// Delay is the bounded out-of-orderness in microseconds.
	Delay int64
}

// Generated is a computed column of a source: `name AS expr`. Expr is
// evaluated over the physical columns (the first NumPhysical columns).
type Generated struct {
	Col  int
	Expr expr.Expr
}

// Scan reads a relation. For a source or table in a streaming plan it is the
// stream of appended rows; in a batch (ad-hoc) plan it is a consistent
// snapshot of the relation's current contents.
type Scan struct {
	Name string // catalog name, lower-case; schema-qualified for system tables ("pg_catalog.pg_class")
	Kind RelKind
	// Cols is the full output schema: physical columns, then generated ones.
	Cols        types.Schema
	NumPhysical int
	Generated   []Generated
	Watermark   *Watermark // nil when the relation has no watermark
	// Connector and Options are copied from CREATE SOURCE for sources.
	Connector string
	Options   map[string]string
	// Pushed are conjuncts of the query's WHERE over this scan's columns
	// that a snapshot provider may use to narrow what it reads (an equality
	// on a view's key becomes an index lookup). Batch plans only; the
	// executor still applies them, so a provider may ignore them.
	Pushed []expr.Expr
}

func (n *Scan) Schema() types.Schema { return n.Cols }
func (n *Scan) Children() []Node     { return nil }
func (n *Scan) Explain() string {
	s := fmt.Sprintf("Scan %s %s", n.Kind, n.Name)
	if n.Watermark != nil {
		s += fmt.Sprintf(" watermark=%s-%s", n.Cols[n.Watermark.Col].Name, fmtMicros(n.Watermark.Delay))
	}
	return s
}

// Filter keeps rows for which Pred is true.
type Filter struct {
	Input Node
	Pred  expr.Expr
}

func (n *Filter) Schema() types.Schema { return n.Input.Schema() }
func (n *Filter) Children() []Node     { return []Node{n.Input} }
func (n *Filter) Explain() string      { return "Filter " + n.Pred.String() }

// Project computes Exprs over each input row; Cols names and types them.
type Project struct {
	Input Node
	Exprs []expr.Expr
	Cols  types.Schema
}

func (n *Project) Schema() types.Schema { return n.Cols }
func (n *Project) Children() []Node     { return []Node{n.Input} }
func (n *Project) Explain() string {
	parts := make([]string, len(n.Exprs))
	for i, e := range n.Exprs {
		parts[i] = e.String()
		if i < len(n.Cols) && n.Cols[i].Name != "" && n.Cols[i].Name != e.String() {
			parts[i] += " AS " + n.Cols[i].Name
		}
	}
	return "Project " + strings.Join(parts, ", ")
}

// WindowKind is the kind of an event-time window.
type WindowKind uint8

// Window kinds.
const (
	Tumble WindowKind = iota
	Hop
	Cumulate
	Session
)

func (k WindowKind) String() string {
	return [...]string{"tumble", "hop", "cumulate", "session"}[k]
}

// WindowSpec describes window assignment. All lengths are microseconds.
//   - Tumble: Size, Offset.
//   - Hop: Size, Slide, Offset (a row belongs to Size/Slide windows).
//   - Cumulate: Size (the max window), Step, Offset: windows
//     [start, start+Step), [start, start+2*Step), ... [start, start+Size).
//   - Session: Gap, MaxDuration (0 = unbounded); keyed by the group keys
//     (or PARTITION BY keys of the Flink form).
type WindowSpec struct {
	Kind        WindowKind
	TimeCol     int // index in the input of the event-time column
	Size        int64
	Slide       int64
	Step        int64
	Offset      int64
	Gap         int64
	MaxDuration int64
}

func (w WindowSpec) String() string {
	switch w.Kind {
	case Tumble:
		return fmt.Sprintf("tumble(#%d, size=%s%s)", w.TimeCol, fmtMicros(w.Size), fmtOffset(w.Offset))
	case Hop:
		return fmt.Sprintf("hop(#%d, slide=%s, size=%s%s)", w.TimeCol, fmtMicros(w.Slide), fmtMicros(w.Size), fmtOffset(w.Offset))
	case Cumulate:
		return fmt.Sprintf("cumulate(#%d, step=%s, size=%s%s)", w.TimeCol, fmtMicros(w.Step), fmtMicros(w.Size), fmtOffset(w.Offset))
	default:
		s := fmt.Sprintf("session(#%d, gap=%s", w.TimeCol, fmtMicros(w.Gap))
		if w.MaxDuration > 0 {
			s += ", max=" + fmtMicros(w.MaxDuration)
		}
		return s + ")"
	}
}

func fmtOffset(o int64) string {
	if o == 0 {
		return ""
	}
	return ", offset=" + fmtMicros(o)
}

func fmtMicros(us int64) string { return string(types.AppendInterval(nil, us)) }

// EmitMode says when a windowed aggregate emits.
type EmitMode uint8

// Emit modes.
const (
	// EmitOnUpdate emits a retraction and the new row whenever a result
	// changes (the default for views queried while windows are open).
	EmitOnUpdate EmitMode = iota
	// EmitOnWindowClose emits each window's final rows once, when the
	// watermark passes the window end (plus allowed lateness).
	EmitOnWindowClose
)

func (m EmitMode) String() string {
	if m == EmitOnWindowClose {
		return "on-window-close"
	}
	return "on-update"
}

// AggCall is one aggregate. Func is the lower-case name: count, sum, avg,
// min, max, approx_count_distinct, approx_percentile, first_value,
// last_value, bool_and, bool_or, string_agg. count(*) has no Args.
type AggCall struct {
	Func     string
	Args     []expr.Expr
	Distinct bool
	Filter   expr.Expr // FILTER (WHERE ...); nil when absent
	// Params are constant arguments: the fraction of approx_percentile, the
	// separator of string_agg.
	Params []types.Value
	// OrderBy orders first_value/last_value/string_agg inputs; when empty
	// they follow event time, then arrival order.
	OrderBy []SortKey
	Type    types.Type
	Name    string // output column name
}

func (a AggCall) String() string {
	var b strings.Builder
	b.WriteString(a.Func)
	b.WriteByte('(')
	if a.Distinct {
		b.WriteString("DISTINCT ")
	}
	if len(a.Args) == 0 && a.Func == "count" {
		b.WriteByte('*')
	}
	for i, e := range a.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(e.String())
	}
	for _, p := range a.Params {
		b.WriteString(", ")
		b.WriteString((&expr.Const{V: p, T: types.Type{Kind: p.K}}).String())
	}
	b.WriteByte(')')
	if a.Filter != nil {
		b.WriteString(" FILTER (WHERE " + a.Filter.String() + ")")
	}
	return b.String()
}

// WindowAgg groups rows by window and GroupBy and aggregates them.
// Output columns: GroupBy values, then window_start, window_end, window_time
// (window_end minus one microsecond, Flink's rowtime), then one column per
// Agg. A Project above reorders to the SELECT list. Output rows carry
// window_time as their event time.
type WindowAgg struct {
	Input   Node
	Window  WindowSpec
	GroupBy []expr.Expr
	Aggs    []AggCall
	Emit    EmitMode
	// Lateness is the allowed lateness (grace) in microseconds: a window's
	// state is kept that long past its end, and late rows within it update
	// the result. Rows later than that go to the late-events table.
	Lateness int64
	Cols     types.Schema
}

func (n *WindowAgg) Schema() types.Schema { return n.Cols }
func (n *WindowAgg) Children() []Node     { return []Node{n.Input} }
func (n *WindowAgg) Explain() string {
	return fmt.Sprintf("WindowAgg %s keys=[%s] aggs=[%s] emit=%s lateness=%s",
		n.Window, joinExprs(n.GroupBy), joinAggs(n.Aggs), n.Emit, fmtMicros(n.Lateness))
}

// WindowAssign adds window_start, window_end and window_time to each input
// row (a hop or cumulate window repeats the row once per window it belongs
// to). It is the window TVF used without aggregation (window Top-N, window
// joins, SELECT * FROM TUMBLE(...)). Sessions are not assigned this way.
type WindowAssign struct {
	Input  Node
	Window WindowSpec
	Cols   types.Schema
}

func (n *WindowAssign) Schema() types.Schema { return n.Cols }
func (n *WindowAssign) Children() []Node     { return []Node{n.Input} }
func (n *WindowAssign) Explain() string      { return "WindowAssign " + n.Window.String() }

// GroupAgg is a non-windowed GROUP BY: in a streaming plan its results
// update (retract + insert); in a batch plan it is a hash aggregate.
// Output: GroupBy values, then one column per Agg.
type GroupAgg struct {
	Input   Node
	GroupBy []expr.Expr
	Aggs    []AggCall
	// TTL, when > 0, frees a group's state that many microseconds of
	// processing time after its last update (streaming only).
	TTL int64
	// Window, when not nil, says that the group key GroupBy[Window.Col]
	// holds a window bound of the input (streaming only): a group's state
	// is freed once the watermark reaches that key's value plus
	// Window.Closes plus Window.Lateness, and rows of freed groups are
	// late.
	Window *WindowBound
	Cols   types.Schema
}

func (n *GroupAgg) Schema() types.Schema { return n.Cols }
func (n *GroupAgg) Children() []Node     { return []Node{n.Input} }
func (n *GroupAgg) Explain() string {
	s := fmt.Sprintf("GroupAgg keys=[%s] aggs=[%s]", joinExprs(n.GroupBy), joinAggs(n.Aggs))
	if n.TTL > 0 {
		s += " ttl=" + fmtMicros(n.TTL)
	}
	if n.Window != nil {
		s += fmt.Sprintf(" window_key=#%d closes=+%s", n.Window.Col, fmtMicros(n.Window.Closes))
		if n.Window.Lateness > 0 {
			s += " lateness=" + fmtMicros(n.Window.Lateness)
		}
	}
	return s
}

// WindowBound says that a column holds a bound of the window its row
// belongs to (window_start, window_end or window_time), and when that
// window's rows stop changing: once the watermark reaches the column's
// value plus Closes plus Lateness (microseconds), no row with that value
// changes any more.
type WindowBound struct {
	// Col is the column; in GroupAgg.Window, the index in GroupBy (which
	// is also the output column).
	Col int
	// Closes is the offset from the column's value to the window's close:
	// the window size for window_start, 0 for window_end, 1µs for
	// window_time.
	Closes int64
	// Lateness is the allowed lateness of the windows upstream.
	Lateness int64
}

// Close returns when the window of a row whose column holds v stops
// changing: v + Closes + Lateness, saturating at the int64 limits.
func (w WindowBound) Close(v int64) int64 {
	c := v
	for _, d := range [2]int64{w.Closes, w.Lateness} {
		s := c + d
		switch {
		case d > 0 && s < c:
			return 1<<63 - 1
		case d < 0 && s > c:
			return -1 << 63
		}
		c = s
	}
	return c
}

// JoinKind is the kind of a join.
type JoinKind uint8

// Join kinds.
const (
	InnerJoin JoinKind = iota
	LeftJoin
	RightJoin
	FullJoin
	CrossJoin
	SemiJoin
	AntiJoin
)

func (k JoinKind) String() string {
	return [...]string{"inner", "left", "right", "full", "cross", "semi", "anti"}[k]
}

// LookupJoin enriches each row of Stream with the matching rows of Table (a
// table or view) as the table is when the stream row arrives (processing
// time, like Flink's lookup join). Table updates do not revise rows already
// emitted. Output: stream columns, then table columns. Kind is inner or left.
type LookupJoin struct {
	Stream    Node
	Table     Node
	Kind      JoinKind
	StreamKey []expr.Expr // evaluated over stream rows
	TableKey  []int       // column indexes of Table
	Residual  expr.Expr   // over the joined row; nil when none
	Cols      types.Schema
}

func (n *LookupJoin) Schema() types.Schema { return n.Cols }
func (n *LookupJoin) Children() []Node     { return []Node{n.Stream, n.Table} }
func (n *LookupJoin) Explain() string {
	s := fmt.Sprintf("LookupJoin %s stream_key=[%s] table_key=%v", n.Kind, joinExprs(n.StreamKey), n.TableKey)
	if n.Residual != nil {
		s += " residual=" + n.Residual.String()
	}
	return s
}

// IntervalJoin joins two streams on equal keys where
// LowerBound <= right_time - left_time <= UpperBound (microseconds). State
// on each side is freed when the other side's watermark makes a match
// impossible. Output: left columns, then right columns.
type IntervalJoin struct {
	Left, Right         Node
	Kind                JoinKind // inner or left (left emits unmatched rows when they expire)
	LeftKey, RightKey   []expr.Expr
	LeftTime, RightTime int // event-time column indexes in each input
	LowerBound          int64
	UpperBound          int64
	Residual            expr.Expr
	Cols                types.Schema
}

func (n *IntervalJoin) Schema() types.Schema { return n.Cols }
func (n *IntervalJoin) Children() []Node     { return []Node{n.Left, n.Right} }
func (n *IntervalJoin) Explain() string {
	return fmt.Sprintf("IntervalJoin %s keys=[%s]=[%s] right.#%d-left.#%d in [%s, %s]", n.Kind,
		joinExprs(n.LeftKey), joinExprs(n.RightKey), n.RightTime, n.LeftTime, fmtMicros(n.LowerBound), fmtMicros(n.UpperBound))
}

// StreamJoin is a regular equi-join of two changelog streams (no time
// bound): each side's rows are kept per key as a multiset, a retracted
// input row retracts the joined rows it produced, and a left join emits a
// NULL-padded row for a left row without matches and retracts it when a
// match arrives. TTL, when > 0, frees a key's state on one side that many
// microseconds of processing time after its last update (its joined rows
// stay emitted). Output: left columns, then right columns.
type StreamJoin struct {
	Left, Right       Node
	Kind              JoinKind // inner or left
	LeftKey, RightKey []expr.Expr
	Residual          expr.Expr // over the joined row; nil when none
	TTL               int64
	Cols              types.Schema
}

func (n *StreamJoin) Schema() types.Schema { return n.Cols }
func (n *StreamJoin) Children() []Node     { return []Node{n.Left, n.Right} }
func (n *StreamJoin) Explain() string {
	s := fmt.Sprintf("StreamJoin %s keys=[%s]=[%s]", n.Kind, joinExprs(n.LeftKey), joinExprs(n.RightKey))
	if n.Residual != nil {
		s += " residual=" + n.Residual.String()
	}
	if n.TTL > 0 {
		s += " ttl=" + fmtMicros(n.TTL)
	}
	return s
}

// WindowJoin joins two windowed streams (window aggregations or window
// TVFs, possibly aggregated again per window) on equal windows plus keys.
// LeftWindow and RightWindow are the columns holding the window bound the
// inputs are joined on (window_start or window_end; the equality is also
// among the keys). Rows are handled as in StreamJoin (retractions, left
// joins), and a window's state on both sides is freed once the watermark
// reaches the bound's value plus Expire (the window length plus allowed
// lateness for window_start, the lateness for window_end): no input row of
// that window can follow. Output: left columns, then right columns.
type WindowJoin struct {
	Left, Right             Node
	Kind                    JoinKind // inner or left
	LeftKey, RightKey       []expr.Expr
	Residual                expr.Expr
	LeftWindow, RightWindow int
	Expire                  int64
	Cols                    types.Schema
}

func (n *WindowJoin) Schema() types.Schema { return n.Cols }
func (n *WindowJoin) Children() []Node     { return []Node{n.Left, n.Right} }
func (n *WindowJoin) Explain() string {
	s := fmt.Sprintf("WindowJoin %s keys=[%s]=[%s] window=left.#%d=right.#%d expire=%s", n.Kind,
		joinExprs(n.LeftKey), joinExprs(n.RightKey), n.LeftWindow, n.RightWindow, fmtMicros(n.Expire))
	if n.Residual != nil {
		s += " residual=" + n.Residual.String()
	}
	return s
}

// Join is a general join for batch (ad-hoc) plans: hash join on
// LeftKey = RightKey when keys are given, nested loop otherwise, then Cond.
// Semi and anti joins output left columns only.
type Join struct {
	Left, Right       Node
	Kind              JoinKind
	LeftKey, RightKey []expr.Expr
	Cond              expr.Expr // over left columns then right columns; nil when none
	Cols              types.Schema
}

func (n *Join) Schema() types.Schema { return n.Cols }
func (n *Join) Children() []Node     { return []Node{n.Left, n.Right} }
func (n *Join) Explain() string {
	s := "Join " + n.Kind.String()
	if len(n.LeftKey) > 0 {
		s += fmt.Sprintf(" keys=[%s]=[%s]", joinExprs(n.LeftKey), joinExprs(n.RightKey))
	}
	if n.Cond != nil {
		s += " cond=" + n.Cond.String()
	}
	return s
}

// SortKey orders by Expr.
type SortKey struct {
	Expr       expr.Expr
	Desc       bool
	NullsFirst bool
}

func (k SortKey) String() string {
	s := k.Expr.String()
	if k.Desc {
		s += " DESC"
	}
	if k.NullsFirst {
		s += " NULLS FIRST"
	}
	return s
}

// TopN keeps, per PartitionBy group, the first N rows by OrderBy
// (ROW_NUMBER() OVER (PARTITION BY .. ORDER BY ..) <= N). With RankCol the
// output has a trailing row_number column. In a streaming plan the result
// updates; a partition key that includes window_start lets the watermark
// free closed windows' state.
type TopN struct {
	Input       Node
	PartitionBy []expr.Expr
	OrderBy     []SortKey
	N           int64
	RankCol     bool
	Cols        types.Schema
}

func (n *TopN) Schema() types.Schema { return n.Cols }
func (n *TopN) Children() []Node     { return []Node{n.Input} }
func (n *TopN) Explain() string {
	return fmt.Sprintf("TopN n=%d partition=[%s] order=[%s]", n.N, joinExprs(n.PartitionBy), joinSort(n.OrderBy))
}

// Dedup keeps the first row per Keys (ROW_NUMBER() ... ORDER BY time = 1).
type Dedup struct {
	Input Node
	Keys  []expr.Expr
	// KeepLast keeps the latest row instead (updating output).
	KeepLast bool
	Cols     types.Schema
}

func (n *Dedup) Schema() types.Schema { return n.Cols }
func (n *Dedup) Children() []Node     { return []Node{n.Input} }
func (n *Dedup) Explain() string {
	return fmt.Sprintf("Dedup keys=[%s] keep_last=%v", joinExprs(n.Keys), n.KeepLast)
}

// Union concatenates inputs of the same schema (UNION ALL).
type Union struct {
	Inputs []Node
}

func (n *Union) Schema() types.Schema { return n.Inputs[0].Schema() }
func (n *Union) Children() []Node     { return n.Inputs }
func (n *Union) Explain() string      { return "Union all" }

// Values produces constant rows (batch plans; SELECT without FROM).
type Values struct {
	Rows [][]expr.Expr
	Cols types.Schema
}

func (n *Values) Schema() types.Schema { return n.Cols }
func (n *Values) Children() []Node     { return nil }
func (n *Values) Explain() string      { return fmt.Sprintf("Values rows=%d", len(n.Rows)) }

// TableFunc is a function in FROM (batch plans only): a set-returning
// function (unnest, generate_series) yields one row per element, any other
// function one row holding its value. Args are evaluated once per
// execution, over no input row, with the executor's Context (they may read
// parameters, the session and, in a correlated subquery, outer rows).
// Executors call Rows; the function library lives in sql/expr.
type TableFunc struct {
	Name       string
	Args       []expr.Expr
	Ordinality bool // WITH ORDINALITY: a trailing bigint column counting from 1
	Cols       types.Schema
}

func (n *TableFunc) Schema() types.Schema { return n.Cols }
func (n *TableFunc) Children() []Node     { return nil }
func (n *TableFunc) Explain() string {
	s := "TableFunc " + n.Name + "(" + joinExprs(n.Args) + ")"
	if n.Ordinality {
		s += " with ordinality"
	}
	return s
}

// Rows evaluates the function.
func (n *TableFunc) Rows(ctx *expr.Context) ([]types.Row, error) {
	return expr.TableFuncRows(ctx, n.Name, n.Args, n.Ordinality)
}

// Sort orders rows (batch plans).
type Sort struct {
	Input Node
	Keys  []SortKey
}

func (n *Sort) Schema() types.Schema { return n.Input.Schema() }
func (n *Sort) Children() []Node     { return []Node{n.Input} }
func (n *Sort) Explain() string      { return "Sort " + joinSort(n.Keys) }

// Limit skips Offset rows then returns at most Count rows (-1: no limit).
type Limit struct {
	Input  Node
	Count  int64 // -1: no limit
	Offset int64
	// CountParam and OffsetParam, when set, are the statement parameters
	// (LIMIT $1) the count and offset are read from when the statement
	// runs; Count and Offset are then unused.
	CountParam, OffsetParam *expr.Param
}

func (n *Limit) Schema() types.Schema { return n.Input.Schema() }
func (n *Limit) Children() []Node     { return []Node{n.Input} }
func (n *Limit) Explain() string {
	count, offset := strconv.FormatInt(n.Count, 10), strconv.FormatInt(n.Offset, 10)
	if n.CountParam != nil {
		count = n.CountParam.String()
	}
	if n.OffsetParam != nil {
		offset = n.OffsetParam.String()
	}
	return "Limit count=" + count + " offset=" + offset
}

// Materialize is the root of a materialized view: it keeps the view's
// current contents keyed by Key (column indexes of the output; empty means
// the view is append-only and rows are kept as a multiset) and publishes
// its changes to downstream views, sinks and subscribers.
type Materialize struct {
	Input Node
	Name  string
	Key   []int
	// AppendOnly is true when Input never retracts (e.g. EMIT ON WINDOW CLOSE).
	AppendOnly bool
	// Parallelism is the view's parallelism option: the copies of each
	// keyed operator (0: the engine's Config.Parallelism).
	Parallelism int
	// DeadLetterErrors is the view's on_error = 'dead_letter': a row whose
	// filter or projection fails with a data exception (SQLSTATE class 22)
	// goes to the dead letters instead of failing the view.
	DeadLetterErrors bool
}

func (n *Materialize) Schema() types.Schema { return n.Input.Schema() }
func (n *Materialize) Children() []Node     { return []Node{n.Input} }
func (n *Materialize) Explain() string {
	s := fmt.Sprintf("Materialize %s key=%v append_only=%v", n.Name, n.Key, n.AppendOnly)
	if n.Parallelism > 0 {
		s += fmt.Sprintf(" parallelism=%d", n.Parallelism)
	}
	if n.DeadLetterErrors {
		s += " on_error=dead_letter"
	}
	return s
}

// Sink is the root of a CREATE SINK: Input's changes go to a connector.
type Sink struct {
	Input     Node
	Name      string
	Connector string
	Options   map[string]string
	Key       []int // primary key of Input's rows, for upsert sinks
	// AppendOnly is true when Input never retracts.
	AppendOnly bool
}

func (n *Sink) Schema() types.Schema { return n.Input.Schema() }
func (n *Sink) Children() []Node     { return []Node{n.Input} }
func (n *Sink) Explain() string {
	return fmt.Sprintf("Sink %s connector=%s append_only=%v", n.Name, n.Connector, n.AppendOnly)
}

// Format renders a plan tree, one node a line, children indented, for EXPLAIN.
func Format(n Node) string {
	var b strings.Builder
	var walk func(Node, int)
	walk = func(n Node, depth int) {
		b.WriteString(strings.Repeat("  ", depth))
		if depth > 0 {
			b.WriteString("└─ ")
		}
		b.WriteString(n.Explain())
		b.WriteByte('\n')
		for _, c := range n.Children() {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}

func joinExprs(es []expr.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, ", ")
}

func joinAggs(as []AggCall) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.String()
	}
	return strings.Join(parts, ", ")
}

func joinSort(ks []SortKey) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k.String()
	}
	return strings.Join(parts, ", ")
}

// AppendOnly reports whether n never retracts a row it emitted: what a
// Materialize or a Sink over it may assume (Materialize.AppendOnly).
// view reports it for a view n reads (nil: no view is).
func AppendOnly(n Node, view func(name string) bool) bool {
	switch x := n.(type) {
	case *Scan:
		if x.Kind == RelView {
			return view != nil && view(x.Name)
		}
		return true
	case *Filter, *Project, *WindowAssign, *Limit, *Sort:
		return AppendOnly(n.Children()[0], view)
	case *WindowAgg:
		// Late rows within the allowed lateness revise emitted results, and
		// sessions merge: both retract (as exec does).
		return x.Emit == EmitOnWindowClose && x.Lateness == 0 && x.Window.Kind != Session && AppendOnly(x.Input, view)
	case *Dedup:
		return !x.KeepLast && AppendOnly(x.Input, view)
	case *LookupJoin:
		return AppendOnly(x.Stream, view)
	case *IntervalJoin:
		return AppendOnly(x.Left, view) && AppendOnly(x.Right, view)
	case *StreamJoin: // an inner join of append-only inputs only inserts
		return x.Kind == InnerJoin && AppendOnly(x.Left, view) && AppendOnly(x.Right, view)
	case *WindowJoin:
		return x.Kind == InnerJoin && AppendOnly(x.Left, view) && AppendOnly(x.Right, view)
	case *Union:
		for _, in := range x.Inputs {
			if !AppendOnly(in, view) {
				return false
			}
		}
		return true
	}
	return false
}
