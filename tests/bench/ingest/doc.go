// Package ingest benchmarks HTTP ingest into a tumbling-window view
// through the real sluice binary ($SLUICE_BIN, or built from the checkout):
// events/s accepted by POST /ingest/{source} with NDJSON bodies from two
// parallel clients, followed by a check that the view counted every
// accepted event.
//
//	go test -run '^$' -bench . -benchtime 200x ./tests/bench/ingest/
//
// The benchmark starts one sluice process per run and stops it with
// SIGTERM; it has no goroutines of its own beyond the parallel clients.
package ingest
