// Package grafana is Sluice's Grafana dashboards as code. Dashboards are
// Go values (Dashboard, Panel, Target) rendered to the JSON model Grafana
// loads from files; Files returns every provisioning file (data sources,
// dashboard provider, dashboards) and `go generate ./grafana` writes them
// under grafana/provisioning and grafana/dashboards, where a test checks
// they are current.
//
// The demo dashboard queries the demo views through Grafana's PostgreSQL
// data source pointed at Sluice's Postgres endpoint (--pg-addr); the
// operations dashboard reads Sluice's /metrics through Prometheus. Live
// changes of a view are also available as server-sent events from
// GET /subscribe/{view} on the HTTP endpoint (see exec/server).
//
// The package has no goroutines and no state.
package grafana

//go:generate go run ./gen
