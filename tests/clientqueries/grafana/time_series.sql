-- Grafana PostgreSQL time-series queries with the macros expanded as the backend does
-- (pkg/tsdb/grafana-postgresql-datasource/macros.go) for a 5-minute range and a 1m interval:
-- $__timeGroupAlias(window_start, $__interval)  -> floor(extract(epoch from window_start)/60)*60 AS "time"
-- $__timeFilter(window_start)                    -> window_start BETWEEN '<from>' AND '<to>'
-- The first is what the visual query builder generates (sqlUtil.ts toRawSql).
SELECT floor(extract(epoch from window_start)/60)*60 AS "time", avg(bids) AS "bids" FROM bids_per_minute WHERE window_start BETWEEN '2026-11-29T12:00:00Z' AND '2026-11-29T12:05:00Z' GROUP BY 1 ORDER BY 1 LIMIT 50;

SELECT
  floor(extract(epoch from window_start)/60)*60 AS "time",
  auction AS metric,
  sum(bids) AS value
FROM bids_per_minute
WHERE
  window_start BETWEEN '2026-11-29T12:00:00.123Z' AND '2026-11-29T12:05:00.456Z'
GROUP BY 1, 2
ORDER BY 1, 2;

SELECT
  window_start AS "time",
  extract(epoch from window_start) as "time_sec",
  max_price
FROM bids_per_minute
WHERE
  window_start >= '2026-11-29T12:00:00Z' AND window_start <= '2026-11-29T12:05:00Z'
  AND auction IN ('1','2','3')
ORDER BY 1;

SELECT
  floor((ts_epoch)/300)*300 AS "time",
  count(*)
FROM bids
WHERE ts_epoch >= 1795953600 AND ts_epoch <= 1795953900
GROUP BY 1
ORDER BY 1;
