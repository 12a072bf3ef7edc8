// Package pgcatalog holds the contents of the Postgres system catalogs
// that clients query: pg_catalog (pg_namespace, pg_class, pg_attribute,
// pg_type, pg_database, pg_settings, pg_roles, pg_user, pg_proc,
// pg_description, pg_index, pg_constraint, pg_am, pg_views, pg_matviews,
// pg_tables, pg_stat_activity and the rest that psql, pgx, JDBC and
// Grafana touch) and information_schema (schemata, tables, views,
// columns, ...).
//
// The planner registers Tables() in its catalog and, when a query reads
// one of them, asks Rows(name, lister) for the contents at that moment.
// The database implements Lister to describe its user objects.
//
// How objects appear (pg_class.relkind): sources and tables are ordinary
// tables ('r', so psql's \dt lists them), materialized views are 'm' (\dm)
// and sinks are foreign tables ('f', \dE) served by the foreign server
// "sluice_sinks", because their rows live in another system. Object OIDs
// are stable: Object.OID when set, otherwise a hash of schema and name
// above 16384. Catalog tables get fixed OIDs below 16384 (Postgres' own
// for pg_class, pg_type, pg_attribute, pg_proc, pg_namespace, ...).
//
// The package is pure data: no goroutines, no state beyond the table
// registry built at init.
package pgcatalog
