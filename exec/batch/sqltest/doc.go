// Package sqltest holds end-to-end tests of the batch executor: SQL text is
// parsed (sql), planned (planner.PlanQuery) over a test catalog with user
// relations and the pg_catalog/information_schema tables of
// pgwire/pgcatalog, and run by exec/batch. It has no non-test code; it is a
// separate package so that exec/batch's own tests do not depend on the
// parser and planner.
package sqltest
