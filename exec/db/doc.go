// Package db is the database: it ties the SQL front end, the planner, the
// streaming engine, the batch executor and the connectors together behind
// the pgwire.Backend interface and the product shell.
//
// What it owns:
//   - the catalog of sources, tables, materialized views and sinks, persisted
//     in the data directory as the ordered DDL that created them (catalog.json,
//     written atomically with a checksum) and replayed on Open;
//   - statement execution for sessions (DDL, INSERT, ad-hoc SELECT over
//     snapshots, SUBSCRIBE and cursors, SET/SHOW, EXPLAIN);
//   - plan caching for ad-hoc SELECTs (plancache.go): by query text, and,
//     for simple-protocol queries that differ only in literals compared
//     with columns in WHERE (pgbench -M simple, BI tools), by query shape
//     (autoparam.go: sql.Parameterize replaces the literals by parameters,
//     the shape is planned once and each query binds its literals; a
//     shape whose plan would depend on the values is never cached). Any
//     DDL invalidates both;
//   - the system tables (sluice_sources, sluice_views, sluice_sinks,
//     sluice_late_events, sluice_dead_letters) and, through pgwire/pgcatalog,
//     pg_catalog and information_schema.
//
// Goroutines: DB itself starts none beyond the engine's; each SUBSCRIBE
// cursor runs one pump goroutine that ends when the cursor is closed or the
// session ends.
//
// Lifecycle: Open → (sessions, Ingest, Exec) → Close. DDL statements are
// serialised by one mutex; reads of the catalog take a read lock briefly and
// never while planning, so planning a query never blocks DDL for long.
package db
