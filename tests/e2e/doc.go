// Package e2e holds end-to-end tests of the sluice binary: they build it
// (or use $SLUICE_BIN), start it on free loopback ports in a temporary data
// directory, and drive it with real clients — pgx, psql, HTTP — through the
// demo, restarts, HTTP ingest and /metrics.
//
// Each test starts its own processes and stops them with SIGTERM, requiring
// a clean exit; nothing is shared between tests but the built binary.
package e2e
