// Package agg implements SQL aggregate functions as incremental states:
// each State takes rows one at a time (inserts and, where the function
// allows, retractions), merges with another state of the same aggregate
// (hop panes, session merges, parallel partials), reports its current
// Result, and marshals itself for checkpoints.
//
// Compile validates a plan.AggCall once and returns an Agg, which makes
// States. ResultType types an aggregate call the way Postgres does, for the
// planner.
//
// Functions: count(*), count(x), sum, avg, min, max, bool_and, bool_or,
// string_agg, first_value, last_value, approx_count_distinct (HyperLogLog)
// and approx_percentile (t-digest); any of them with DISTINCT and FILTER.
//
// Cost model. States are small structs behind one pointer; the hot path of
// count/sum/avg/min/max over integers and floats does not allocate per
// Update (integer sums accumulate in 128 bits). min, max, first_value,
// last_value and string_agg are append-only by default; compiled with
// Options{Retract: true} they keep a small ordered multiset of their inputs
// so that Delete works. count, sum, avg, bool_and, bool_or and DISTINCT
// aggregates always retract.
//
// Goroutines and lifecycle: the package starts none. An Agg is immutable
// and may be shared; a State belongs to one goroutine at a time and lives
// as long as its group (the caller drops it when the group closes).
package agg
