// Package planner binds statements of the Sluice dialect against a Catalog
// and plans them into physical plans (package planner/plan) that exec runs.
//
// What it owns:
//   - Binding and type checking of TiDB parser ASTs into sql/expr
//     expressions (bind.go): names with aliases and qualifiers, `*`,
//     Postgres-style implicit typing of literals and $n parameters, the
//     internal functions of the sql front end's rewrite contract
//     (__interval, __cast, __filter, __param, json_get, json_get_text).
//   - Streaming planning of CREATE MATERIALIZED VIEW / CREATE SINK
//     (PlanView, PlanSink): window TVFs in both dialects and the legacy
//     GROUP BY TUMBLE/HOP/SESSION form become WindowAgg; other GROUP BYs
//     become GroupAgg (view option state_ttl sets its TTL; a GroupAgg
//     keyed by a window bound of its input, also through views, gets
//     GroupAgg.Window so that exec frees each closed window's groups:
//     window_state.go, Relation.WindowBounds); ROW_NUMBER()
//     with a rank filter becomes TopN (or Dedup for a Top-1 ordered by event
//     time); stream-to-table/view joins become LookupJoin, time-bounded
//     stream-stream joins IntervalJoin, joins of windowed inputs on equal
//     window bounds WindowJoin, and other stream-stream equi-joins
//     StreamJoin (join_stream.go).
//   - Batch planning of ad-hoc queries (PlanQuery) and INSERT (PlanInsert),
//     including subqueries (expr.Subquery, run by the batch executor through
//     expr.Context.RunSubquery) and the catalog queries of Postgres clients.
//   - Rewrite rules (rules.go), each a func(plan.Node) (plan.Node, bool),
//     applied bottom-up to a fixed point: constant folding, filter merging,
//     predicate push-down through projections, sorts, window assignment and
//     into join inputs, projection merging, Top-N from rank filters; then,
//     for batch plans, predicates copied into Scan.Pushed, and for
//     streaming plans projection pruning of connector source scans
//     (prune.go: the connector decodes only Scan.Cols[:NumPhysical], with
//     generated columns and the watermark column re-indexed). Scans of
//     tables and views keep their full schema because exec feeds them from
//     the relation's full rows.
//   - EXPLAIN text (Explain), golden-tested under testdata/ (go test
//     ./planner -rewrite regenerates them). testdata/nexmark_* records
//     which Nexmark queries plan and why the others do not;
//     testdata/clientqueries plans the catalog queries of psql, pgx, JDBC
//     and Grafana.
//
// Batch (ad-hoc) specifics: functions in FROM become plan.TableFunc
// (unnest, generate_series, or any scalar function as one row); WITH
// (non-recursive) is inlined per reference; ARRAY(subquery) and scalar,
// EXISTS, IN, ANY/ALL subqueries are expr.Subquery nodes whose plans the
// executor runs through Context.RunSubquery (OuterRef Depth 1 is the
// row the Subquery expression is evaluated over); a ROW_NUMBER() without
// a rank filter is a TopN with N = math.MaxInt64. 'name'::regclass and
// ::regnamespace call __regclass/__regnamespace, which a session with
// catalog OIDs supplies through expr.Context.Funcs.
//
// Streaming joins: a join with a table or view on either side is a
// LookupJoin from the stream (conditions on the table side go into the
// residual, since exec looks rows up in the relation itself); a join of
// two streams is an IntervalJoin whose bounds come from ON and, for inner
// joins, from WHERE conjuncts over both sides. window_end of a windowed
// aggregate counts as event time (its watermark is window_time's). When
// the conditions do not bound the event times, a join whose ON equates
// window bounds of two windowed inputs (window_start or window_end of a
// window aggregate or TVF, through projections, filters and GROUP BY
// keys, e.g. Nexmark q5's per-window maximum) is a WindowJoin whose state
// the watermark frees; any other equi-join is a StreamJoin.
//
// Errors are *sqlerr.Error with Postgres SQLSTATEs; errors in expressions
// carry the line and column of the failing expression (through
// sql.Select.UserPos).
//
// Streaming rules of boundedness (what is rejected and why):
//   - A window (TVF or legacy group window) must be over the input's
//     event-time column, which must carry a watermark (42P17, with a hint
//     to add WATERMARK FOR ...).
//   - A stream-stream join is bounded when it bounds the difference of the
//     two event-time columns from both sides (interval join) or joins equal
//     windows (window join); a join with a table or view is a lookup join
//     and is always bounded. Any other stream-stream join (a regular
//     StreamJoin) needs an equality between the sides and keeps each
//     side's current rows: it is allowed when both inputs are keyed
//     changelogs (GROUP BY, Top-N or dedup results, at most one row per
//     key) or when the view sets state_ttl, which becomes StreamJoin.TTL;
//     otherwise it fails with 0A000 and a hint to add
//     WITH (state_ttl = '1 hour').
//   - A non-windowed GROUP BY over a stream is allowed: its state is one
//     accumulator per key, bounded by the key space, not by the stream's
//     length. state_ttl frees idle keys when the key space itself grows
//     (e.g. grouping by a session id).
//   - ROW_NUMBER() needs a rank filter (TopN with a bound N); LIMIT needs
//     ORDER BY (a global Top-N); ORDER BY alone is ignored in views.
//
// Types of aggregates: count and approx_count_distinct are bigint; sum of
// integers is bigint, of floats double precision, of numeric numeric; avg
// of integers and floats is double precision, of numeric numeric;
// approx_percentile is double precision (or the timestamp type of its
// argument); min, max, first_value, last_value keep the argument type;
// string_agg is text; bool_and/bool_or are boolean.
//
// The package has no goroutines and no mutable global state; a Planner is
// safe for concurrent use when its Catalog is.
package planner
