#!/usr/bin/env bash
# tests/bench/pgbench/run.sh [rows] [seconds] [clients]
#
# Point lookups with pgbench: `SELECT v FROM kv_view WHERE k = :k` on a
# materialized view in Sluice against `SELECT v FROM kv WHERE k = :k` on a
# PostgreSQL 15 table (primary key) holding the same rows, on this machine.
# Prints queries/s, p99 latency and queries per server CPU-second for both
# and the Sluice/PostgreSQL ratios. Uses tests/services/postgres.sh for
# PostgreSQL and builds the sluice binary ($SLUICE_BIN to use a prebuilt
# one). Everything listens on 127.0.0.1 and stops by itself.
#
# Defaults: 100000 rows, 10 s per server, 4 clients (2 pgbench threads),
# extended protocol with prepared statements (-M prepared).
set -euo pipefail
ROWS=${1:-100000}
SECS=${2:-10}
CLIENTS=${3:-4}
MODE=${PGBENCH_MODE:-prepared}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-pgbench.XXXXXX")
SLUICE_PID=

cleanup() {
  [ -n "$SLUICE_PID" ] && kill "$SLUICE_PID" 2>/dev/null && wait "$SLUICE_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# rows_sql emits INSERT statements for the rows in batches of 1000.
rows_sql() {
  local table=$1
  awk -v n="$ROWS" -v t="$table" 'BEGIN {
    for (i = 1; i <= n; i++) {
      if ((i - 1) % 1000 == 0) printf "INSERT INTO %s VALUES ", t; else printf ", ";
      printf "(%d, '\''value-%d'\'')", i, i;
      if (i % 1000 == 0 || i == n) printf ";\n";
    }
  }'
}

# p99 reads pgbench --log files (latency in µs is field 3) and prints the
# 99th percentile in milliseconds.
p99() {
  cat "$@" | awk '{print $3}' | sort -n | awk '{a[NR]=$1} END {
    if (NR == 0) { print "nan"; exit }
    i = int(NR * 0.99); if (i < 1) i = 1; printf "%.3f", a[i] / 1000 }'
}

# cpu_ticks PID: CPU time (user+system, clock ticks) of the process and of
# its exited, reaped children (/proc/PID/stat fields 14-17). PostgreSQL
# runs a backend process per connection; the postmaster reaps them when
# pgbench disconnects, so their CPU time shows up in its child fields.
cpu_ticks() {
  awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat"
}

# bench NAME HOST PORT USER DB QUERY SERVER_PID: runs pgbench, prints
# "qps p99_ms server_cpu_seconds".
bench() {
  local name=$1 host=$2 port=$3 user=$4 db=$5 query=$6 spid=$7
  printf '\\set k random(1, %d)\n%s\n' "$ROWS" "$query" > "$WORK/$name.sql"
  local c0 c1
  c0=$(cpu_ticks "$spid")
  (cd "$WORK" && pgbench -n -h "$host" -p "$port" -U "$user" -d "$db" -f "$name.sql" -M "$MODE" \
    -c "$CLIENTS" -j 2 -T "$SECS" --log --log-prefix="$name" > "$WORK/$name.out" 2>&1) || {
    cat "$WORK/$name.out" >&2; exit 1; }
  sleep 0.5 # let the postmaster reap the backends
  c1=$(cpu_ticks "$spid")
  local qps
  qps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$WORK/$name.out" | tail -1)
  echo "$qps $(p99 "$WORK/$name".*) $(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')"
}

command -v pgbench >/dev/null || { echo "pgbench not found (apt-get install postgresql-client)" >&2; exit 1; }

# PostgreSQL: a table with a primary key.
eval "$(bash "$ROOT/tests/services/postgres.sh" start | sed 's/^/export /')"
psql -q -X -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning; DROP TABLE IF EXISTS kv; CREATE TABLE kv (k bigint PRIMARY KEY, v text);" >/dev/null
rows_sql kv | psql -q -X -v ON_ERROR_STOP=1 >/dev/null
psql -q -X -c "ANALYZE kv" >/dev/null

# Sluice: a table and a materialized view keyed by k.
BIN=${SLUICE_BIN:-}
if [ -z "$BIN" ]; then
  BIN="$WORK/sluice"
  (cd "$ROOT" && go build -o "$BIN" .)
fi
SPORT=$(free_port)
"$BIN" --data-dir "$WORK/data" --pg-addr "127.0.0.1:$SPORT" --http-addr 127.0.0.1:0 --log-level warn 2> "$WORK/sluice.log" &
SLUICE_PID=$!
for _ in $(seq 1 100); do
  pg_isready -q -h 127.0.0.1 -p "$SPORT" && break
  sleep 0.1
done
spsql() { psql -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$SPORT" -U sluice -d sluice "$@"; }
spsql -c "CREATE TABLE kv (k BIGINT, v TEXT)" >/dev/null
spsql -c "CREATE MATERIALIZED VIEW kv_view AS SELECT k, max(v) AS v FROM kv GROUP BY k" >/dev/null
rows_sql kv | spsql >/dev/null
for _ in $(seq 1 300); do
  n=$(spsql -At -c "SELECT count(*) FROM kv_view")
  [ "$n" = "$ROWS" ] && break
  sleep 0.1
done
[ "$n" = "$ROWS" ] || { echo "kv_view has $n rows, want $ROWS" >&2; exit 1; }

PG_PID=$(cat "${SLUICE_SERVICES_DIR:-$HOME/.cache/sluice/run}/postgres/pid")
read -r PG_QPS PG_P99 PG_CPU < <(bench postgres "$PGHOST" "$PGPORT" "$PGUSER" "$PGDATABASE" 'SELECT v FROM kv WHERE k = :k;' "$PG_PID")
read -r SL_QPS SL_P99 SL_CPU < <(bench sluice 127.0.0.1 "$SPORT" sluice sluice 'SELECT v FROM kv_view WHERE k = :k;' "$SLUICE_PID")

# queries per server CPU-second: the machine may be shared, so throughput
# alone depends on what else runs; CPU cost per query does much less.
printf 'point lookup, %d rows, %d clients, %ds, -M %s\n' "$ROWS" "$CLIENTS" "$SECS" "$MODE"
printf '%-10s %12s %10s %14s %18s\n' server 'queries/s' 'p99 ms' 'server CPU s' 'queries/CPU-s'
printf '%-10s %12.0f %10s %14s %18.0f\n' postgresql "$PG_QPS" "$PG_P99" "$PG_CPU" "$(awk -v q="$PG_QPS" -v s="$SECS" -v c="$PG_CPU" 'BEGIN { print (c > 0 ? q * s / c : 0) }')"
printf '%-10s %12.0f %10s %14s %18.0f\n' sluice "$SL_QPS" "$SL_P99" "$SL_CPU" "$(awk -v q="$SL_QPS" -v s="$SECS" -v c="$SL_CPU" 'BEGIN { print (c > 0 ? q * s / c : 0) }')"
awk -v a="$SL_QPS" -v b="$PG_QPS" -v c="$SL_P99" -v d="$PG_P99" -v e="$SL_CPU" -v f="$PG_CPU" -v s="$SECS" \
  'BEGIN { printf "ratio sluice/postgresql: queries/s %.2fx, p99 %.2fx, queries/CPU-s %.2fx (target: queries/s >= 1.0x)\n", a / b, c / d, (e > 0 && f > 0 ? (a / e) / (b / f) : 0) }'
