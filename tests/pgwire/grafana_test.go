package pgwire_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// searchPathSchemas is the schema filter Grafana's PostgreSQL data source
// builds from search_path for its table and column pickers.
const searchPathSchemas = `quote_ident(table_schema) IN (
  SELECT CASE WHEN trim(s[i]) = '"$user"' THEN user ELSE trim(s[i]) END
  FROM generate_series(array_lower(string_to_array(current_setting('search_path'),','),1),
                       array_upper(string_to_array(current_setting('search_path'),','),1)) AS i,
       string_to_array(current_setting('search_path'),',') s)`

// grafanaQueries are the statements Grafana's PostgreSQL data source sends
// (connection check, version detection, schema/table/column pickers, a
// time series with $__timeGroupAlias and $__timeFilter expanded), with the
// rows Grafana needs back.
var grafanaQueries = []struct {
	name, sql string
	want      []string
}{
	{"connection check", "SELECT 1", []string{"1"}},
	{"version", "SELECT current_setting('server_version_num')::int/100 AS version", []string{"1500"}},
	{"timescaledb", "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'", nil},
	{"schemas", `SELECT schema_name AS "name" FROM information_schema.schemata
		WHERE schema_name NOT IN ('information_schema', 'pg_catalog', 'pg_toast') ORDER BY schema_name`, []string{"public"}},
	{"tables of schema", `SELECT quote_ident(table_name) AS "table" FROM information_schema.tables
		WHERE quote_ident(table_schema) = 'public' ORDER BY 1`, []string{"clicks", "per_user"}},
	{"tables", `SELECT CASE WHEN ` + searchPathSchemas + ` THEN quote_ident(table_name)
		ELSE quote_ident(table_schema) || '.' || quote_ident(table_name) END AS "table"
		FROM information_schema.tables WHERE quote_ident(table_schema) NOT IN ('information_schema', 'pg_catalog')
		ORDER BY CASE WHEN ` + searchPathSchemas + ` THEN 0 ELSE 1 END, 1`, []string{"clicks", "per_user"}},
	{"columns", `SELECT quote_ident(column_name) AS "column", data_type AS "type" FROM information_schema.columns
		WHERE CASE WHEN array_length(parse_ident('clicks'),1) = 2
		  THEN quote_ident(table_schema) = (parse_ident('clicks'))[1] AND quote_ident(table_name) = (parse_ident('clicks'))[2]
		  ELSE quote_ident(table_name) = 'clicks' AND ` + searchPathSchemas + ` END`,
		[]string{"user_id|bigint", "url|character varying", "amount|numeric", "ts|timestamp without time zone"}},
	{"time series", `SELECT floor(extract(epoch from ts)/60)*60 AS "time", count(*) AS clicks FROM clicks
		WHERE ts BETWEEN '2024-01-01T00:00:00Z' AND '2024-01-01T00:10:00Z' GROUP BY 1 ORDER BY 1`,
		[]string{"1704067200|2", "1704067260|1"}},
}

func TestGrafanaQueries(t *testing.T) {
	addr, d := startDB(t, setupSQL)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.Exec(ctx, `INSERT INTO clicks VALUES (1, 'a', 1.50, '2024-01-01 00:00:10'), (2, 'b', 2.00, '2024-01-01 00:00:50'),
		(1, 'c', 3.25, '2024-01-01 00:01:30'), (3, 'd', 1.00, '2024-01-01 01:00:00')`); err != nil {
		t.Fatal(err)
	}
	// Grafana's Go backend uses lib/pq-compatible text queries; pgx's
	// simple protocol sends the same bytes.
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		c := connectMode(ctx, t, addr, "grafana", mode)
		for _, q := range grafanaQueries {
			t.Run(mode.String()+"/"+q.name, func(t *testing.T) {
				got, err := queryStrings(ctx, c, q.sql)
				if err != nil {
					t.Fatalf("%v\n%s", err, q.sql)
				}
				if strings.Join(got, "\n") != strings.Join(q.want, "\n") {
					t.Errorf("got %q, want %q", got, q.want)
				}
			})
		}
	}
}

// queryStrings runs sql and returns each row's text values joined by |.
func queryStrings(ctx context.Context, c *pgx.Conn, sql string) ([]string, error) {
	rows, err := c.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		raw := rows.RawValues()
		parts := make([]string, len(raw))
		fds := rows.FieldDescriptions()
		for i, b := range raw {
			if b == nil {
				parts[i] = "NULL"
				continue
			}
			if fds[i].Format == 0 {
				parts[i] = string(b)
				continue
			}
			vals, err := rows.Values()
			if err != nil {
				return nil, err
			}
			parts[i] = strings.TrimSpace(strings.Trim(strings.ReplaceAll(strings.ReplaceAll(fmtAny(vals[i]), "\n", " "), "  ", " "), " "))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return out, rows.Err()
}
