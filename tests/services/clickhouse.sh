#!/usr/bin/env bash
# tests/services/clickhouse.sh start|stop [--force]|status|env
#
# Runs a private ClickHouse server (Debian's clickhouse-server, 18.16 here)
# for the tests: installed with apt-get on first use, listening on free
# loopback ports, data in a temp dir, UTC, a passwordless loopback `default`
# user. `start` is idempotent: when the instance is already up it only prints
# its env lines again. The env lines (CLICKHOUSE_ADDR=127.0.0.1:<native port>,
# CLICKHOUSE_HTTP=...) are also kept in a state file for `env`. Callers of
# `start` are counted: `stop` kills the server by its PID and removes its
# data only for the last of them (`stop --force` regardless), so a test run
# that finds a developer's instance running leaves it running.
set -euo pipefail
STATE="${SLUICE_SERVICES_DIR:-$HOME/.cache/sluice/run}/clickhouse"
ENVF="$STATE/env"
PIDF="$STATE/pid"
USERSF="$STATE/users"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

alive() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }

ready() {
  [ -f "$ENVF" ] || return 1
  local http
  http=$(sed -n 's/^CLICKHOUSE_HTTP=//p' "$ENVF")
  [ -n "$http" ] && curl -fsS --max-time 2 "http://$http/ping" >/dev/null 2>&1
}

install() {
  if ! command -v clickhouse-server >/dev/null 2>&1; then
    echo "installing clickhouse-server with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q clickhouse-server clickhouse-client >&2 || { apt-get update -q >&2 && apt-get install -y -q clickhouse-server clickhouse-client >&2; }
  fi
}

start() {
  if alive && ready; then use 1 >/dev/null; cat "$ENVF"; return 0; fi
  if alive; then kill "$(cat "$PIDF")" 2>/dev/null || true; sleep 1; fi
  install
  mkdir -p "$STATE"
  local data tcp http
  data=$(mktemp -d "${TMPDIR:-/tmp}/sluice-clickhouse.XXXXXX")
  tcp=$(free_port); http=$(free_port)
  while [ "$http" = "$tcp" ]; do http=$(free_port); done
  mkdir -p "$data/tmp" "$data/user_files" "$data/format_schemas"
  cat > "$data/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$data/server.log</log><errorlog>$data/server.err.log</errorlog><size>100M</size><count>1</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>$tcp</tcp_port>
  <http_port>$http</http_port>
  <max_connections>256</max_connections>
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <mark_cache_size>268435456</mark_cache_size>
  <path>$data/</path>
  <tmp_path>$data/tmp/</tmp_path>
  <user_files_path>$data/user_files/</user_files_path>
  <format_schema_path>$data/format_schemas/</format_schema_path>
  <users_config>$data/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mlock_executable>false</mlock_executable>
  <builtin_dictionaries_reload_interval>3600</builtin_dictionaries_reload_interval>
  <max_session_timeout>3600</max_session_timeout>
  <default_session_timeout>60</default_session_timeout>
</yandex>
XML
  cat > "$data/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage><load_balancing>random</load_balancing></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
XML
  # exec, so that no shell lingers between us and the server holding our
  # stdout (a caller's $(...) would otherwise never see EOF), and the PID
  # recorded is the server's own.
  (cd "$data" && exec nohup clickhouse-server --config-file="$data/config.xml" </dev/null >"$data/stdout.log" 2>&1) &
  echo $! >"$PIDF"
  {
    echo "CLICKHOUSE_ADDR=127.0.0.1:$tcp"
    echo "CLICKHOUSE_HTTP=127.0.0.1:$http"
    echo "CLICKHOUSE_DATA=$data"
  } >"$ENVF"
  for _ in $(seq 1 150); do
    if ready; then echo 1 >"$USERSF"; cat "$ENVF"; return 0; fi
    if ! alive; then echo "clickhouse-server exited; log:" >&2; tail -20 "$data/server.err.log" "$data/stdout.log" >&2 || true; exit 1; fi
    sleep 0.2
  done
  echo "clickhouse-server did not become ready in 30 s" >&2
  tail -20 "$data/server.err.log" >&2 || true
  exit 1
}

use() { # delta: count the callers of start, so that stop ends the instance only for the last
  local n=0
  [ -f "$USERSF" ] && n=$(cat "$USERSF")
  n=$(( n + $1 ))
  [ "$n" -lt 0 ] && n=0
  echo "$n" >"$USERSF"
  echo "$n"
}

stop() {
  if [ "${1:-}" != "--force" ] && alive && [ "$(use -1)" -gt 0 ]; then
    echo "clickhouse still used by another caller of start; left running (stop --force ends it)" >&2
    return 0
  fi
  if alive; then
    local pid; pid=$(cat "$PIDF")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  if [ -f "$ENVF" ]; then
    local data; data=$(sed -n 's/^CLICKHOUSE_DATA=//p' "$ENVF")
    case "$data" in */sluice-clickhouse.*) rm -rf "$data";; esac
  fi
  rm -f "$PIDF" "$ENVF" "$USERSF"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  status) if alive && ready; then echo "clickhouse running (pid $(cat "$PIDF"))"; cat "$ENVF"; else echo "clickhouse not running"; exit 1; fi ;;
  env) if [ -f "$ENVF" ] && alive; then cat "$ENVF"; else echo "clickhouse not running; run $0 start" >&2; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
