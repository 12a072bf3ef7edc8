package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/sluice-db/sluice/exec/server"
	"github.com/sluice-db/sluice/grafana"
)

var demoCampaigns = []string{"organic", "direct", "brand_search", "spring_sale", "newsletter_weekly",
	"retargeting", "influencer_collab", "affiliate_deals"}

// viewCheck queries one demo view and judges its rows.
type viewCheck struct {
	view  string
	query string
	check func(rows pgx.Rows) (int, error)
}

func demoChecks() []viewCheck {
	return []viewCheck{
		{"page_views_per_minute", `SELECT campaign, window_start, window_end, page_views, visitors FROM page_views_per_minute`,
			func(rows pgx.Rows) (int, error) {
				n := 0
				for rows.Next() {
					var c string
					var s, e time.Time
					var pv, vis int64
					if err := rows.Scan(&c, &s, &e, &pv, &vis); err != nil {
						return n, err
					}
					if e.Sub(s) != time.Minute || s.Second() != 0 || pv <= 0 || vis <= 0 || vis > pv || !slices.Contains(demoCampaigns, c) {
						return n, fmt.Errorf("bad row (%s, %v, %v, %d views, %d visitors)", c, s, e, pv, vis)
					}
					n++
				}
				return n, rows.Err()
			}},
		{"active_users_hourly", `SELECT window_start, window_end, active_users, events FROM active_users_hourly`,
			func(rows pgx.Rows) (int, error) {
				n := 0
				for rows.Next() {
					var s, e time.Time
					var au, ev int64
					if err := rows.Scan(&s, &e, &au, &ev); err != nil {
						return n, err
					}
					if e.Sub(s) != time.Hour || au <= 0 || au > 5000 || ev < au {
						return n, fmt.Errorf("bad row (%v, %v, %d users, %d events)", s, e, au, ev)
					}
					n++
				}
				return n, rows.Err()
			}},
		{"user_sessions", `SELECT user_id, session_start, session_end, events, page_views, purchases FROM user_sessions`,
			func(rows pgx.Rows) (int, error) {
				n := 0
				for rows.Next() {
					var u, ev, pv, pu int64
					var s, e time.Time
					if err := rows.Scan(&u, &s, &e, &ev, &pv, &pu); err != nil {
						return n, err
					}
					if !e.After(s) || e.Sub(s) < 5*time.Minute || ev < 1 || ev < pv+pu {
						return n, fmt.Errorf("bad session (%d, %v, %v, %d, %d, %d)", u, s, e, ev, pv, pu)
					}
					n++
				}
				return n, rows.Err()
			}},
		{"sessions_per_user", `SELECT user_id, sessions, events FROM sessions_per_user`,
			func(rows pgx.Rows) (int, error) {
				n := 0
				for rows.Next() {
					var u, s, ev int64
					if err := rows.Scan(&u, &s, &ev); err != nil {
						return n, err
					}
					if s < 1 || ev < s {
						return n, fmt.Errorf("bad row (%d, %d sessions, %d events)", u, s, ev)
					}
					n++
				}
				return n, rows.Err()
			}},
		{"checkout_funnel", `SELECT campaign, viewed, added_to_cart, started_checkout, purchased FROM checkout_funnel`,
			func(rows pgx.Rows) (int, error) {
				n := 0
				var pv, ca, co, pu int64
				for rows.Next() {
					var c string
					var a, b, d, e int64
					if err := rows.Scan(&c, &a, &b, &d, &e); err != nil {
						return n, err
					}
					pv, ca, co, pu = pv+a, ca+b, co+d, pu+e
					n++
				}
				if n > 0 && !(pv > ca && ca > co && co > pu && pu > 0) {
					return n, fmt.Errorf("funnel does not narrow: %d sessions viewed, %d added to cart, %d started checkout, %d purchased", pv, ca, co, pu)
				}
				return n, rows.Err()
			}},
		{"abandoned_carts", `SELECT user_id, first_seen, abandoned_at, items_added FROM abandoned_carts`,
			func(rows pgx.Rows) (int, error) {
				n := 0
				for rows.Next() {
					var u, items int64
					var s, e time.Time
					if err := rows.Scan(&u, &s, &e, &items); err != nil {
						return n, err
					}
					if items < 1 || e.Sub(s) < 30*time.Minute {
						return n, fmt.Errorf("bad abandoned cart (%d, %v, %v, %d items)", u, s, e, items)
					}
					n++
				}
				return n, rows.Err()
			}},
	}
}

func checkDemoViews(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	for _, vc := range demoChecks() {
		eventually(t, 60*time.Second, vc.view+" has sensible rows", func() error {
			rows, err := conn.Query(context.Background(), vc.query)
			if err != nil {
				return err
			}
			defer rows.Close()
			n, err := vc.check(rows)
			if err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("no rows yet")
			}
			return nil
		})
	}
}

type windowRow struct {
	Campaign string
	Start    time.Time
	Views    int64
}

// earliestWindows returns the oldest closed page-view windows: long
// closed, they must not change across a restart.
func earliestWindows(t *testing.T, conn *pgx.Conn) []windowRow {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		`SELECT campaign, window_start, page_views FROM page_views_per_minute ORDER BY window_start, campaign LIMIT 20`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[windowRow])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDemoEndToEnd starts `sluice --demo`, checks every demo view with pgx
// and psql, the Grafana dashboard queries and /metrics, then restarts the
// process and checks that the catalog and the results survived.
func TestDemoEndToEnd(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir, nil, "--demo")
	conn := s.connect(t)
	checkDemoViews(t, conn)

	t.Run("psql", func(t *testing.T) {
		views := s.psql(t, "SHOW MATERIALIZED VIEWS")
		for _, v := range server.DemoViews {
			if !strings.Contains(views, v) {
				t.Errorf("SHOW MATERIALIZED VIEWS lacks %s:\n%s", v, views)
			}
			n, err := strconv.Atoi(s.psql(t, "SELECT count(*) FROM "+v))
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 && v != "app_events_per_minute" {
				t.Errorf("psql: %s is empty", v)
			}
		}
	})

	t.Run("late events are kept", func(t *testing.T) {
		eventually(t, 30*time.Second, "late events recorded", func() error {
			var n int64
			if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM sluice_late_events`).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("no late events although the demo makes 0.1%% of events late")
			}
			return nil
		})
	})

	t.Run("grafana dashboard queries run", func(t *testing.T) {
		macro := regexp.MustCompile(`\$__timeFilter\((\w+)\)`)
		// As Grafana's PostgreSQL data source expands $__timeFilter.
		from := time.Now().UTC().Add(-3 * time.Hour).Format(time.RFC3339Nano)
		to := time.Now().UTC().Add(time.Hour).Format(time.RFC3339Nano)
		quoted := make([]string, len(demoCampaigns))
		for i, c := range demoCampaigns {
			quoted[i] = "'" + c + "'"
		}
		for _, q := range grafana.DemoPanelSQL() {
			q = macro.ReplaceAllString(q, fmt.Sprintf("$1 BETWEEN '%s' AND '%s'", from, to))
			q = strings.ReplaceAll(q, "$campaign", strings.Join(quoted, ","))
			rows, err := conn.Query(context.Background(), q)
			if err != nil {
				t.Errorf("dashboard query failed: %v\n%s", err, q)
				continue
			}
			n := 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil {
				t.Errorf("dashboard query failed: %v\n%s", err, q)
			}
			if n == 0 {
				t.Errorf("dashboard query returned no rows:\n%s", q)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		fams := scrape(t, s.HTTP)
		if v := value(fams, "sluice_source_events_total", "source", "clickstream"); v <= 0 {
			t.Errorf("sluice_source_events_total{source=clickstream} = %v", v)
		}
		for _, v := range []string{"page_views_per_minute", "checkout_funnel", "abandoned_carts"} {
			if got := value(fams, "sluice_view_events_total", "view", v); got <= 0 {
				t.Errorf("sluice_view_events_total{view=%s} = %v", v, got)
			}
			if _, ok := fams["sluice_view_watermark_delay_seconds"]; !ok {
				t.Error("no sluice_view_watermark_delay_seconds")
			}
		}
		if value(fams, "sluice_late_events_total", "view", "page_views_per_minute") < 0 {
			t.Error("no late events metric for page_views_per_minute")
		}
		if v := value(fams, "sluice_pgwire_connections_total", "", ""); v < 1 {
			t.Errorf("sluice_pgwire_connections_total = %v", v)
		}
		for _, name := range []string{"sluice_state_bytes", "sluice_checkpoints_total", "sluice_checkpoint_duration_seconds", "sluice_pgwire_query_duration_seconds"} {
			if _, ok := fams[name]; !ok {
				t.Errorf("metric %s missing", name)
			}
		}
	})

	t.Run("server-sent events", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.HTTP+"/subscribe/page_views_per_minute", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("subscribe: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
		}
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var event string
		inserts := 0
		for inserts < 5 && sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data := []byte(strings.TrimPrefix(line, "data: "))
				if !json.Valid(data) {
					t.Fatalf("event %s carries invalid JSON %q", event, data)
				}
				if event == "insert" {
					var row map[string]any
					json.Unmarshal(data, &row)
					if row["campaign"] == nil || row["page_views"] == nil || row["window_start"] == nil {
						t.Fatalf("insert row %v", row)
					}
					inserts++
				}
			}
		}
		if inserts < 5 {
			t.Fatalf("only %d insert events: %v", inserts, sc.Err())
		}
	})

	// A view of our own, to see it come back after the restart.
	if _, err := conn.Exec(context.Background(), `CREATE MATERIALIZED VIEW revenue_by_country AS
		SELECT country, window_start, window_end, count(*) AS orders
		FROM TUMBLE(clickstream, ts, INTERVAL '15' MINUTE)
		WHERE event_type = 'purchase'
		GROUP BY country, window_start, window_end`); err != nil {
		t.Fatal(err)
	}
	before := earliestWindows(t, conn)
	if len(before) == 0 {
		t.Fatal("no windows before restart")
	}
	conn.Close(context.Background())
	s.stop()

	// Restart without --demo: everything must come from the data directory.
	s2 := start(t, dir, nil)
	conn2 := s2.connect(t)
	views := s2.psql(t, "SHOW MATERIALIZED VIEWS")
	for _, v := range append(slices.Clone(server.DemoViews), "revenue_by_country") {
		if !strings.Contains(views, v) {
			t.Errorf("after restart, SHOW MATERIALIZED VIEWS lacks %s", v)
		}
	}
	checkDemoViews(t, conn2)
	eventually(t, 60*time.Second, "closed windows survive the restart", func() error {
		after := earliestWindows(t, conn2)
		for i := range before {
			if i >= len(after) || before[i] != after[i] {
				var got any = "nothing"
				if i < len(after) {
					got = after[i]
				}
				return fmt.Errorf("closed window %d before restart %+v, after %+v", i, before[i], got)
			}
		}
		return nil
	})

	// A crash: kill -9, restart from the last checkpoint. The generator
	// replays deterministically from the checkpointed position, so closed
	// windows are the same again.
	conn2.Close(context.Background())
	s2.kill()
	s3 := start(t, dir, nil)
	conn3 := s3.connect(t)
	checkDemoViews(t, conn3)
	eventually(t, 60*time.Second, "closed windows survive a crash", func() error {
		after := earliestWindows(t, conn3)
		if !slices.Equal(before, after) {
			return fmt.Errorf("closed windows before the crash %v, after %v", before[:3], after[:min(3, len(after))])
		}
		return nil
	})
	s3.stop()
}

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value returns the value of the first sample of name whose label equals
// val (any sample when label is empty), or -1.
func value(fams map[string]*dto.MetricFamily, name, label, val string) float64 {
	f, ok := fams[name]
	if !ok {
		return -1
	}
	for _, m := range f.Metric {
		match := label == ""
		for _, lp := range m.Label {
			if lp.GetName() == label && lp.GetValue() == val {
				match = true
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Summary != nil:
			return float64(m.Summary.GetSampleCount())
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}
