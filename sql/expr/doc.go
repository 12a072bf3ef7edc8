// Package expr holds bound scalar expressions (the planner builds them,
// exec evaluates them) and the function library.
//
// Nodes: ColRef, OuterRef, Const, Param ($n, from Context.Params), Arith
// (numeric promotion int2 < int4 < int8 < numeric < float4 < float8, and
// timestamp/date/interval arithmetic), Neg, Cmp, And, Or, Not, IsNull,
// IsTruth, IsDistinct, Case, Coalesce, NullIf, Extreme (greatest/least),
// In, Like (LIKE/ILIKE), Regexp (~), Cast, Func (library functions) and
// Subquery (scalar, EXISTS, IN/ANY/ALL through Context.RunSubquery).
// Constructors (NewArith, NewCmp, NewCast, NewFunc, NewLike, NewRegexp)
// type-check and return *sqlerr.Error values with Postgres SQLSTATEs.
//
// Performance: Eval of column references, comparisons and integer/float
// arithmetic does not allocate; Func gathers up to four arguments on the
// stack. Constant LIKE patterns and regular expressions are prepared once.
//
// Functions: string (lower, upper, substr/substring, concat, concat_ws,
// length, split_part, btrim/ltrim/rtrim/trim, replace, position, strpos,
// left, right, ...), time (date_trunc, extract, date_part, to_timestamp,
// now/current_timestamp, current_date), JSON (json_get, json_get_text:
// the -> and ->> operators), math (abs, round, floor, ceil, ...), and the
// catalog/session functions Postgres clients call (format_type,
// pg_get_expr, pg_table_is_visible, pg_get_userbyid, obj_description,
// col_description, pg_get_viewdef, has_*_privilege, quote_ident,
// current_schema(s), current_database, current_setting, version,
// array_to_string, ...). Catalog functions return documented defaults;
// a session that has catalog data overrides any function by name through
// Context.Funcs.
//
// Volatile functions (now(), current_setting(), the catalog functions)
// need a Context; in streaming operators ctx may be nil and they return an
// error. Fold evaluates constant sub-expressions at plan time.
//
// The package has no goroutines; expressions are immutable after binding
// and safe for concurrent use with distinct Contexts.
package expr
