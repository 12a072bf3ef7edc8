// Package httpingest is Sluice's HTTP push ingest: the 'http' connector
// (CREATE SOURCE s (...) WITH (connector = 'http')) and the handler of
// POST /ingest/{source}, which decodes newline-delimited JSON or a JSON
// array against the schema of a table or http source, hands accepted rows to
// the database and records rejected rows as dead letters with their raw
// bytes and the reason.
//
// The handler runs on the HTTP server's goroutines: one request at a time
// per goroutine, no goroutines of its own, no state between requests other
// than Prometheus counters. An http source has no reader: the database
// treats it as a push source (see IsPush) and OpenSource returns an error.
package httpingest
