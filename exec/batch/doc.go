// Package batch is the snapshot (ad-hoc query) executor: it runs a
// planner/plan tree once over bounded inputs, Volcano style (each operator
// pulls rows from its children one at a time), and yields the result rows.
// pgwire queries over views, tables and system/catalog tables run here.
//
// A Provider supplies each Scan's rows (a consistent snapshot); inside
// Rows, PushedEquals turns the scan's pushed "key = value" conjuncts into
// values for an index lookup, evaluated with the statement's parameters
// (ExprContext). Run builds
// the operator tree; nothing is read until the first Next. Blocking
// operators (Sort, GroupAgg, WindowAgg, TopN, Dedup, a join's right side)
// read their whole input on first use. Aggregates come from exec/agg.
// Streaming-only nodes run to the end of their bounded input: WindowAgg and
// WindowAssign (windows, sessions), TopN, Dedup, LookupJoin and
// IntervalJoin (as ordinary joins); Materialize passes its input through;
// Sink is rejected.
//
// Subqueries: Run gives its copy of the expr.Context a RunSubquery that
// runs a subquery plan with Outer extended by the current row. A subquery
// whose plan reads no enclosing row (no OuterRef reaching outside it) runs
// once per Run and its rows are cached.
//
// Cancellation: Next and every loop over many rows check the
// context.Context (every 1024 rows) and return 57014 (query_canceled) when
// it is done, with the statement-timeout message for a deadline.
//
// Errors are *sqlerr.Error values from expressions (22012, 22003, ...),
// from the Provider, or 57014 on cancellation; a panic inside an operator
// or expression is recovered at Run, Next and Collect and returned as XX000
// with the stack in Detail.
//
// Goroutines and lifecycle: the package starts none. An Iterator belongs to
// one goroutine; Close releases it (it is safe to Close early or twice).
package batch
