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
// Rows carry an event time through UpdateAt (Update is UpdateAt without
// one): first_value, last_value and string_agg without ORDER BY order their
// inputs by it, then by arrival; Merge treats the receiver's rows as the
// earlier arrivals. They skip NULL inputs, as Flink's FIRST_VALUE does.
//
// Cost model. States are small structs behind one pointer (16-64 bytes for
// count, sum, avg, min, max, bool_and/or, first/last_value); the hot path
// of count/sum/avg/min/max over integers, floats and NUMERIC of up to 18
// digits does not allocate per Update (integer and numeric sums accumulate
// exactly in 128 bits; NUMERIC falls back to arbitrary precision beyond). min, max, first_value,
// last_value and string_agg are append-only by default; compiled with
// Options{Retract: true} they keep a small ordered multiset of their inputs
// so that Delete works. count, sum, avg, bool_and, bool_or and DISTINCT
// aggregates always retract.
//
// Flat forms. count, sum and avg over integers, intervals and floats,
// append-only min and max over integer-ordered kinds, and bool_and/bool_or
// (without DISTINCT) also exist as a few int64 words (Agg.FlatWords,
// FlatUpdate, FlatMerge, FlatResult; all-zero words are the empty state).
// Their States are those words behind a pointer and call the same code, so
// both forms agree; the engine's window, session and GROUP BY operators keep
// the words of all their groups inline in one slab instead of a State per
// group and aggregate.
//
// Goroutines and lifecycle: the package starts none. An Agg is immutable
// and may be shared; a State belongs to one goroutine at a time and lives
// as long as its group (the caller drops it when the group closes).
package agg
