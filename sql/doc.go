// Package sql is Sluice's SQL front end: it turns statement text into
// Statements (ast.go). Streaming statements (CREATE SOURCE/TABLE/SINK/
// MATERIALIZED VIEW, DROP, SHOW, SUBSCRIBE, ...) are parsed here; query
// bodies and expressions are parsed by github.com/pingcap/tidb/pkg/parser
// after a normalisation pass that rewrites Postgres-flavoured input into
// text the TiDB parser accepts, keeping a map back to the user's positions.
//
// Rewrite contract (the planner relies on these internal function names):
//   - interval literals (INTERVAL '1' MINUTE, INTERVAL '1 minute',
//     INTERVAL 1 MINUTE) become __interval(<microseconds>);
//   - expr::type and CAST(expr AS type) become __cast(expr, 'type text');
//   - a -> b becomes json_get(a, b); a ->> b becomes json_get_text(a, b);
//   - agg(...) FILTER (WHERE cond) becomes __filter(agg(...), cond);
//   - E'...' strings become ordinary literals with escapes resolved;
//   - "quoted" identifiers are identifiers (ANSI_QUOTES).
//
// The package has no goroutines and no global mutable state.
package sql
