// Package server is the sluice process shell: configuration from flags,
// environment and a config file (Config, Load, Usage), the HTTP API
// (POST /ingest/{source} from connectors/httpingest, GET /subscribe/{view}
// as server-sent events, GET /live/{view} — an embedded page rendering that
// stream —, /metrics, /healthz, /readyz), the embedded demo script
// (DemoSQL), the Prometheus
// collector that reads database statistics at scrape time, and Run, which
// ties the HTTP and Postgres endpoints to the database and shuts them down
// in order.
//
// Goroutines: Run starts one goroutine per endpoint (the HTTP server and
// pgwire start their own per connection) and returns after both stopped and
// the database closed. Each /subscribe request has one extra goroutine that
// pulls updates from the subscription; it ends with the request or when the
// server shuts down.
//
// Lifecycle: main loads a Config, opens the database, builds Deps and
// calls Run with a context that SIGTERM/SIGINT cancel. On cancellation Run
// stops accepting connections, ends subscriptions, waits for in-flight
// requests, then closes the database (final checkpoint, sink flush) within
// Config.ShutdownTimeout.
//
// The package reaches the database only through the small interfaces
// Database, Subscriber and httpingest.Target, so that it can be tested
// without the engine.
package server
