// Package recovery holds the end-to-end crash-recovery tests of issue 4:
// the real sluice binary is killed with SIGKILL at random points while it
// consumes a deterministic stream with disorder into tumbling, hopping and
// session views, restarted on the same data directory, and the final view
// contents are compared (through pgx) with those of an uninterrupted run.
//
// The tests build the binary from the checkout (or use $SLUICE_BIN) and
// listen on free loopback ports only. They need no external service.
package recovery
