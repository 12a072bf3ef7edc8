-- Grafana PostgreSQL data source (grafana/grafana, pkg/tsdb/grafana-postgresql-datasource and
-- public/app/plugins/datasource/grafana-postgresql-datasource/postgresMetaQuery.ts).
-- "Save & test" calls pgxpool Ping, which sends the empty query "-- ping" (it parses as an
-- empty statement; see sql/testdata/parse). The configuration page then auto-detects the
-- server version and TimescaleDB:
SELECT current_setting('server_version_num')::int/100 as version;

SELECT extversion FROM pg_extension WHERE extname = 'timescaledb';
