// Package sql is Sluice's SQL front end: it turns statement text into
// Statements (ast.go).
//
// Entry points: Parse (one or more statements), ParseOne, Split (split on
// semicolons outside quotes, comments and dollar quotes), Parameterize
// (autoparam.go: replaces the literals of a plain SELECT's WHERE that are
// compared with a column by $1..$n, for plan caching by query shape).
//
// How it works. A Postgres-style lexer (lexer.go) tokenises the input.
// Streaming and utility statements (CREATE SOURCE/TABLE/MATERIALIZED
// VIEW/SINK, DROP, SHOW, DESCRIBE, EXPLAIN, SUBSCRIBE, DECLARE/FETCH/CLOSE,
// SET/RESET, BEGIN/COMMIT/ROLLBACK, INSERT) are parsed by a small
// recursive-descent parser (parser.go). Query bodies and expressions are
// parsed by github.com/pingcap/tidb/pkg/parser after the normalisation pass
// (rewrite.go), which rewrites Postgres-flavoured and streaming input into
// text TiDB accepts, in SQL mode SQLMode (ANSI_QUOTES,
// NO_BACKSLASH_ESCAPES, PIPES_AS_CONCAT), and keeps a map from normalised
// offsets back to the user's text. Every error is a *sqlerr.Error with
// SQLSTATE 42601 (syntax), 0A000 (not supported), 22P02 (bad interval
// literal), 42704 (unknown type) or 42703 (unknown key column); Line, Col
// and Position (1-based, in characters) locate it in the text given to
// Parse. Planner errors on a Select can be located with Select.UserPos.
//
// Literals in TiDB ASTs are *test_driver.ValueExpr
// (github.com/pingcap/tidb/pkg/parser/test_driver), which this package
// registers. Identifiers: unquoted names are folded to lower case before
// TiDB sees them, "quoted" names keep their case (ast.CIStr.O).
//
// # Rewrite contract
//
// The planner relies on exactly these rewrites and internal names. The
// normalised text is available as Select.Normalized.
//
//   - Interval literals in every form (INTERVAL '1' MINUTE, INTERVAL
//     '1 minute', INTERVAL 1 MINUTE, INTERVAL '10' MINUTES, INTERVAL
//     '1:30' MINUTE TO SECOND, INTERVAL '-5' SECOND) become
//     __interval(<microseconds>), an INTERVAL constant. Months count 30
//     days and years 365 days.
//   - expr::type, CAST(expr AS type) and typed literals (TIMESTAMP '...',
//     DATE '...', JSONB '...', TIMESTAMP WITH TIME ZONE '...') become
//     __cast(expr, 'type') where 'type' is the lower-case type name with a
//     schema qualifier dropped and modifiers kept: 'int', 'numeric(10,2)',
//     'double precision', 'timestamp with time zone', 'regclass', 'oid',
//     'char' (from "char"), 'text[]'. types.ParseTypeName accepts the base
//     name.
//   - a -> b becomes json_get(a, b); a ->> b becomes json_get_text(a, b);
//     a #> b becomes json_get_path(a, b); a #>> b becomes
//     json_get_path_text(a, b). Chains nest left to right:
//     x->'a'->>'b' is json_get_text(json_get(x, 'a'), 'b').
//   - agg(...) FILTER (WHERE cond) becomes __filter(agg(...), cond).
//   - agg(args ORDER BY k1, k2 DESC) (array_agg, string_agg, ...) becomes
//     __ordered(agg(args), k1, __desc(k2)): aggregate in that order.
//   - Regular-expression operators: a ~ b becomes regexp_like(a, b);
//     a ~* b becomes regexp_like(a, b, 'i'); a !~ b becomes
//     (not regexp_like(a, b)); a !~* b becomes (not regexp_like(a, b, 'i')).
//     OPERATOR(pg_catalog.~) is the operator ~ (likewise for the others).
//   - a ^ b becomes power(a, b).
//   - a IS DISTINCT FROM b becomes (not (a <=> b)); a IS NOT DISTINCT
//     FROM b becomes (a <=> b) (ast.BinaryOperationExpr with
//     opcode.NullEQ).
//   - x op ANY(array) and x op SOME(array) (not a subquery) become
//     x op __any(array); x op ALL(array) becomes x op __all(array).
//     With a subquery TiDB's own ANY/ALL (ast.CompareSubqueryExpr) is kept.
//   - ARRAY[a, b] becomes __array(a, b); ARRAY(subquery) becomes
//     __array_sub((subquery)); x[i] becomes __subscript(x, i).
//   - $n parameters become __param(n) (n is 1-based), except directly
//     after LIMIT or OFFSET, where TiDB accepts only a literal or a marker:
//     there $n becomes a *test_driver.ParamMarkerExpr whose Order is n-1.
//   - E'...', N'...' and $$...$$ strings become ordinary literals with
//     escapes resolved.
//   - "quoted" identifiers stay quoted (ANSI_QUOTES); unquoted names are
//     folded to lower case (ASCII letters only, as Postgres does), and
//     names TiDB reserves but Postgres does not (key, rank, ...) are quoted
//     when not followed by (; so are row and partition used as names.
//   - pg_catalog.fn(...) becomes fn(...); other schema-qualified calls stay
//     qualified (ast.FuncCallExpr.Schema).
//   - EXTRACT(field FROM x) becomes date_part('field', x) ('epoch',
//     'year', ... lower case).
//   - COLLATE name is dropped; LIMIT ALL, LIMIT NULL and OFFSET NULL are
//     dropped; a quoted count (LIMIT '10', as clients inline parameters)
//     is a number; OFFSET n ROW[S] is
//     OFFSET n; FETCH FIRST|NEXT [n] ROW[S] ONLY is LIMIT n; an OFFSET
//     without LIMIT gets LIMIT 18446744073709551615 (TiDB renders
//     LIMIT off,count).
//   - ORDER BY e [ASC|DESC] NULLS FIRST becomes ORDER BY __nulls_first(e)
//     [ASC|DESC] (and __nulls_last for NULLS LAST): sort by e in the
//     written direction with NULLs placed explicitly. Without NULLS the
//     planner applies Postgres' default (NULLs sort as larger than any
//     value).
//   - Window table functions in FROM, RisingWave form TUMBLE(src, ts,
//     size [, offset]), HOP(src, ts, slide, size [, offset]),
//     CUMULATE(src, ts, step, size [, offset]), SESSION(src, ts, gap [,
//     max]), and Flink form TABLE(TUMBLE(TABLE src, DESCRIPTOR(ts), ...)),
//     TABLE(SESSION(TABLE src PARTITION BY k, DESCRIPTOR(ts), gap)), become
//     a table named __window_<n> (n counts from 1 per statement), recorded
//     in Select.Windows. Without an alias the placeholder is aliased to the
//     source's name (FROM __window_1 AS "bid"), so bid.price resolves; with
//     an alias the alias is kept and WindowTVF.Alias records it. The source
//     may also be a parenthesised subquery (WindowTVF.Subquery).
//   - The group-window form in GROUP BY (and anywhere outside FROM):
//     TUMBLE(ts, size), HOP(ts, slide, size), SESSION(ts, gap),
//     CUMULATE(ts, step, size) become __tumble(...), __hop(...),
//     __session(...), __cumulate(...); TUMBLE_START/TUMBLE_END/
//     TUMBLE_ROWTIME, HOP_START/HOP_END, SESSION_START/SESSION_END are left
//     as plain function calls (tumble_start(ts, size), ...) whose
//     arguments repeat the grouping call's.
//   - FOR SYSTEM_TIME AS OF x after a joined table (Flink's temporal
//     join) is dropped: a join of a stream with a table or view always
//     reads the table's current state (a lookup join).
//   - VALUES (a, b), (c, d) as a query (not INSERT's VALUES, whose rows
//     are Insert.Rows) becomes VALUES ROW(a, b), ROW(c, d); TiDB names its
//     columns column_0, column_1, ... where Postgres says column1, ...
//   - Set-returning functions in FROM (generate_series(1, 10) AS g,
//     unnest(x) WITH ORDINALITY AS u(v, n), pg_catalog.unnest(...)) become
//     a table named __tablefunc_<n>, aliased to the written alias or else
//     the function's name, and recorded in Select.TableFuncs.
//   - x AT TIME ZONE z becomes timezone(z, x).
//   - agg(args) WITHIN GROUP (ORDER BY k) becomes __ordered(agg(args), k),
//     as for ordered aggregates.
//   - An interval literal that is a window frame bound (RANGE BETWEEN
//     INTERVAL '1' HOUR PRECEDING ...) becomes TiDB's INTERVAL <micros>
//     MICROSECOND (ast.FrameBound with Unit ast.TimeUnitMicrosecond).
//   - A column alias list on a FROM item (t AS x(a, b)) is removed and
//     recorded in Select.ColumnAliases["x"] = [a b]; on a table function it
//     is TableFunc.ColumnAliases.
//   - The parameterless SQL functions current_user, session_user, user,
//     current_role and current_schema become calls (current_user(), ...);
//     current_catalog becomes current_database().
//   - SELECT DISTINCT ON, GROUP BY ROLLUP/CUBE/GROUPING SETS and SIMILAR TO
//     are rejected with 0A000 and a hint.
//   - EMIT ON WINDOW CLOSE and the view's WITH (...) options are removed
//     from the query and recorded on CreateView.
//
// The package has no goroutines. Its only shared state is a sync.Pool of
// TiDB parsers (safe for concurrent use); Parse may be called from any
// number of goroutines.
package sql
