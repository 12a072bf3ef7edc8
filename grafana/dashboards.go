package grafana

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Data source UIDs used by the provisioned data sources and dashboards.
const (
	SluiceDS     = "sluice"
	PrometheusDS = "sluice-prometheus"
)

// Dashboard is the subset of Grafana's dashboard JSON model Sluice uses.
type Dashboard struct {
	UID           string     `json:"uid"`
	Title         string     `json:"title"`
	Description   string     `json:"description,omitempty"`
	Tags          []string   `json:"tags"`
	Timezone      string     `json:"timezone"`
	Refresh       string     `json:"refresh"`
	SchemaVersion int        `json:"schemaVersion"`
	Version       int        `json:"version"`
	Editable      bool       `json:"editable"`
	Time          TimeRange  `json:"time"`
	Panels        []Panel    `json:"panels"`
	Templating    Templating `json:"templating"`
	Annotations   struct {
		List []any `json:"list"`
	} `json:"annotations"`
}

// TimeRange is the default time range of a dashboard.
type TimeRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Templating holds dashboard variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Variable is a query variable.
type Variable struct {
	Name       string      `json:"name"`
	Label      string      `json:"label,omitempty"`
	Type       string      `json:"type"`
	Datasource *Datasource `json:"datasource,omitempty"`
	Query      string      `json:"query"`
	Definition string      `json:"definition,omitempty"`
	Refresh    int         `json:"refresh"`
	Multi      bool        `json:"multi"`
	IncludeAll bool        `json:"includeAll"`
	AllValue   string      `json:"allValue,omitempty"`
	Current    any         `json:"current"`
}

// Datasource references a data source by type and uid.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// GridPos places a panel on the 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Panel is one panel.
type Panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	GridPos     GridPos        `json:"gridPos"`
	Datasource  *Datasource    `json:"datasource,omitempty"`
	Targets     []Target       `json:"targets,omitempty"`
	FieldConfig map[string]any `json:"fieldConfig"`
	Options     map[string]any `json:"options"`
}

// Target is one query of a panel: RawSQL for the PostgreSQL data source,
// Expr for Prometheus.
type Target struct {
	RefID        string      `json:"refId"`
	Datasource   *Datasource `json:"datasource"`
	Format       string      `json:"format,omitempty"`
	RawQuery     bool        `json:"rawQuery,omitempty"`
	EditorMode   string      `json:"editorMode,omitempty"`
	RawSQL       string      `json:"rawSql,omitempty"`
	Expr         string      `json:"expr,omitempty"`
	LegendFormat string      `json:"legendFormat,omitempty"`
}

var (
	pgDS   = &Datasource{Type: "grafana-postgresql-datasource", UID: SluiceDS}
	promDS = &Datasource{Type: "prometheus", UID: PrometheusDS}
)

func sqlTarget(format, q string) Target {
	return Target{RefID: "A", Datasource: pgDS, Format: format, RawQuery: true, EditorMode: "code", RawSQL: strings.TrimSpace(q)}
}

func promTarget(ref, expr, legend string) Target {
	return Target{RefID: ref, Datasource: promDS, Expr: expr, LegendFormat: legend, EditorMode: "code"}
}

func panel(typ, title, desc string, pos GridPos, ds *Datasource, targets ...Target) Panel {
	p := Panel{Type: typ, Title: title, Description: desc, GridPos: pos, Datasource: ds, Targets: targets,
		FieldConfig: map[string]any{"defaults": map[string]any{}, "overrides": []any{}}, Options: map[string]any{}}
	switch typ {
	case "timeseries":
		p.Options = map[string]any{"legend": map[string]any{"displayMode": "list", "placement": "bottom", "showLegend": true},
			"tooltip": map[string]any{"mode": "multi", "sort": "desc"}}
	case "table":
		p.Options = map[string]any{"showHeader": true, "cellHeight": "sm"}
	case "stat":
		p.Options = map[string]any{"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode": "value", "graphMode": "area", "textMode": "auto"}
	case "bargauge":
		p.Options = map[string]any{"orientation": "horizontal", "displayMode": "gradient",
			"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": true}}
	}
	return p
}

// DemoPanelSQL are the SQL queries of the demo dashboard (before Grafana
// expands its $__ macros and variables), exported so that tests can check
// them against the demo views.
func DemoPanelSQL() []string {
	var out []string
	for _, p := range DemoDashboard().Panels {
		for _, t := range p.Targets {
			out = append(out, t.RawSQL)
		}
	}
	return out
}

// DemoDashboard is the dashboard over the --demo views.
func DemoDashboard() Dashboard {
	d := Dashboard{
		UID:           "sluice-demo",
		Title:         "Sluice demo: marketing clickstream",
		Description:   "Continuous views of the sluice --demo clickstream, queried over the Postgres protocol.",
		Tags:          []string{"sluice", "demo"},
		Timezone:      "utc",
		Refresh:       "5s",
		SchemaVersion: 39,
		Version:       1,
		Editable:      true,
		Time:          TimeRange{From: "now-2h", To: "now"},
		Annotations: struct {
			List []any `json:"list"`
		}{List: []any{}},
		Templating: Templating{List: []Variable{{
			Name: "campaign", Label: "Campaign", Type: "query", Datasource: pgDS,
			Query:      "SELECT DISTINCT campaign FROM page_views_per_minute ORDER BY campaign",
			Definition: "SELECT DISTINCT campaign FROM page_views_per_minute ORDER BY campaign",
			Refresh:    1, Multi: true, IncludeAll: true,
			Current: map[string]any{"selected": true, "text": []string{"All"}, "value": []string{"$__all"}},
		}}},
	}
	d.Panels = []Panel{
		panel("timeseries", "Page views per minute by campaign", "page_views_per_minute: TUMBLE 1 minute",
			GridPos{H: 9, W: 16, X: 0, Y: 0}, pgDS, sqlTarget("time_series", `
SELECT window_start AS time, campaign AS metric, page_views AS value
FROM page_views_per_minute
WHERE $__timeFilter(window_start) AND campaign IN ($campaign)
ORDER BY 1`)),
		panel("stat", "Active users (sliding hour)", "active_users_hourly: count(DISTINCT user_id) over HOP 5 minutes / 1 hour",
			GridPos{H: 9, W: 8, X: 16, Y: 0}, pgDS, sqlTarget("time_series", `
SELECT window_end AS time, active_users
FROM active_users_hourly
WHERE $__timeFilter(window_end)
ORDER BY 1`)),
		panel("bargauge", "Checkout funnel (time range)", "checkout_funnel: sessions that reached each step, TUMBLE 10 minutes",
			GridPos{H: 9, W: 12, X: 0, Y: 9}, pgDS, sqlTarget("table", `
SELECT sum(viewed) AS viewed, sum(added_to_cart) AS added_to_cart,
       sum(started_checkout) AS started_checkout, sum(purchased) AS purchased
FROM checkout_funnel
WHERE $__timeFilter(window_start) AND campaign IN ($campaign)`)),
		panel("table", "Conversion by campaign", "checkout_funnel per campaign over the time range",
			GridPos{H: 9, W: 12, X: 12, Y: 9}, pgDS, sqlTarget("table", `
SELECT campaign, sum(viewed) AS sessions, sum(purchased) AS purchases,
       sum(revenue) AS revenue
FROM checkout_funnel
WHERE $__timeFilter(window_start) AND campaign IN ($campaign)
GROUP BY campaign
ORDER BY revenue DESC`)),
		panel("timeseries", "Revenue per 10 minutes", "checkout_funnel.revenue",
			GridPos{H: 8, W: 12, X: 0, Y: 18}, pgDS, sqlTarget("time_series", `
SELECT window_start AS time, sum(revenue) AS revenue
FROM checkout_funnel
WHERE $__timeFilter(window_start) AND campaign IN ($campaign)
GROUP BY window_start
ORDER BY 1`)),
		panel("table", "Carts abandoned for 30 minutes", "abandoned_carts: SESSION 30 minutes, cart added, no purchase",
			GridPos{H: 8, W: 12, X: 12, Y: 18}, pgDS, sqlTarget("table", `
SELECT abandoned_at, user_id, items_added, cart_value
FROM abandoned_carts
WHERE $__timeFilter(abandoned_at)
ORDER BY abandoned_at DESC
LIMIT 50`)),
		panel("table", "Most active users", "sessions_per_user over user_sessions (SESSION 5 minutes)",
			GridPos{H: 8, W: 24, X: 0, Y: 26}, pgDS, sqlTarget("table", `
SELECT user_id, sessions, events, last_seen
FROM sessions_per_user
ORDER BY sessions DESC, events DESC
LIMIT 20`)),
	}
	for i := range d.Panels {
		d.Panels[i].ID = i + 1
	}
	return d
}

// OpsDashboard is the operations dashboard over Sluice's /metrics.
func OpsDashboard() Dashboard {
	d := Dashboard{
		UID: "sluice-ops", Title: "Sluice: operations", Tags: []string{"sluice", "operations"},
		Description: "Throughput, watermark delay, late events, dead letters, checkpoints and pgwire, from /metrics via Prometheus.",
		Timezone:    "utc", Refresh: "10s", SchemaVersion: 39, Version: 1, Editable: true,
		Time: TimeRange{From: "now-1h", To: "now"},
		Annotations: struct {
			List []any `json:"list"`
		}{List: []any{}},
		Templating: Templating{List: []Variable{}},
	}
	d.Panels = []Panel{
		panel("timeseries", "Source events/s", "", GridPos{H: 8, W: 12, X: 0, Y: 0}, promDS,
			promTarget("A", `sum by (source) (rate(sluice_source_events_total[1m]))`, "{{source}}")),
		panel("timeseries", "View changes/s", "", GridPos{H: 8, W: 12, X: 12, Y: 0}, promDS,
			promTarget("A", `sum by (view) (rate(sluice_view_events_total{direction="out"}[1m]))`, "{{view}}")),
		panel("timeseries", "Watermark delay", "How far each view's event time is behind the wall clock", GridPos{H: 8, W: 12, X: 0, Y: 8}, promDS,
			promTarget("A", `sluice_view_watermark_delay_seconds`, "{{view}}")),
		panel("timeseries", "Late events and dead letters /s", "Rows kept in sluice_late_events and sluice_dead_letters", GridPos{H: 8, W: 12, X: 12, Y: 8}, promDS,
			promTarget("A", `sum by (view) (rate(sluice_late_events_total[5m]))`, "late {{view}}"),
			promTarget("B", `sum by (source) (rate(sluice_dead_letters_total[5m]))`, "dead {{source}}")),
		panel("timeseries", "State bytes", "", GridPos{H: 8, W: 8, X: 0, Y: 16}, promDS,
			promTarget("A", `sluice_state_bytes`, "{{view}}")),
		panel("timeseries", "Checkpoint duration", "Duration of each job's last checkpoint, and failures", GridPos{H: 8, W: 8, X: 8, Y: 16}, promDS,
			promTarget("A", `sluice_checkpoint_duration_seconds`, "{{job}}"),
			promTarget("B", `sum(rate(sluice_checkpoint_failures_total[5m]))`, "failures/s")),
		panel("timeseries", "Consumer lag", "", GridPos{H: 8, W: 8, X: 16, Y: 16}, promDS,
			promTarget("A", `sluice_source_lag`, "{{source}} ({{unit}})")),
		panel("timeseries", "pgwire connections and query latency p99", "", GridPos{H: 8, W: 12, X: 0, Y: 24}, promDS,
			promTarget("A", `sluice_pgwire_connections`, "connections"),
			promTarget("B", `histogram_quantile(0.99, sum by (le) (rate(sluice_pgwire_query_duration_seconds_bucket[5m])))`, "p99 latency")),
		panel("timeseries", "HTTP ingest rows/s", "", GridPos{H: 8, W: 12, X: 12, Y: 24}, promDS,
			promTarget("A", `sum by (source, result) (rate(sluice_http_ingest_rows_total[1m]))`, "{{source}} {{result}}")),
	}
	for i := range d.Panels {
		d.Panels[i].ID = i + 1
	}
	return d
}

const datasourcesYAML = `# Grafana data sources for Sluice (generated by go generate ./grafana).
# Sluice speaks the Postgres protocol: Grafana's PostgreSQL data source
# queries its views directly. Adjust url when --pg-addr is not the default.
apiVersion: 1
datasources:
  - name: Sluice
    uid: %s
    type: grafana-postgresql-datasource
    url: 127.0.0.1:4566
    user: sluice
    jsonData:
      database: sluice
      sslmode: disable
      postgresVersion: 1500
      timescaledb: false
  - name: Sluice metrics
    uid: %s
    type: prometheus
    url: http://127.0.0.1:9090
    jsonData:
      timeInterval: 10s
`

const dashboardsYAML = `# Grafana dashboard provider for Sluice (generated by go generate ./grafana).
# Mount grafana/dashboards at /var/lib/grafana/dashboards/sluice.
apiVersion: 1
providers:
  - name: sluice
    folder: Sluice
    type: file
    disableDeletion: false
    updateIntervalSeconds: 30
    options:
      path: /var/lib/grafana/dashboards/sluice
`

const prometheusYAML = `# Prometheus scrape configuration for Sluice (generated by go generate ./grafana).
scrape_configs:
  - job_name: sluice
    scrape_interval: 10s
    static_configs:
      - targets: ["127.0.0.1:8080"]
`

// Files returns every generated file, by path relative to grafana/.
func Files() (map[string][]byte, error) {
	out := map[string][]byte{
		"provisioning/datasources/sluice.yaml": fmt.Appendf(nil, datasourcesYAML, SluiceDS, PrometheusDS),
		"provisioning/dashboards/sluice.yaml":  []byte(dashboardsYAML),
		"prometheus.yml":                       []byte(prometheusYAML),
	}
	for name, d := range map[string]Dashboard{"dashboards/sluice-demo.json": DemoDashboard(), "dashboards/sluice-ops.json": OpsDashboard()} {
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode dashboard %s: %w", d.UID, err)
		}
		out[name] = append(b, '\n')
	}
	return out, nil
}
