#!/usr/bin/env bash
# tests/services/postgres.sh start|stop|status|env
#
# Runs a private PostgreSQL cluster (Debian's postgresql, 15 here) for the
# tests and for capturing what clients send: installed with apt-get on first
# use, initdb in a temp dir, owned by and run as the non-root user `postgres`
# (or the calling user when not root), listening on a free loopback port,
# trust authentication on loopback only, UTC. `start` is idempotent: when the
# cluster is already up it only prints its env lines again
# (PGHOST=127.0.0.1, PGPORT=<port>, PGUSER=postgres, PGDATABASE=postgres),
# which are also kept in a state file for `env`. `stop` stops the server by
# its PID (fast shutdown, then SIGKILL after 20 s) and removes its data.
# `status` prints "running" with the env lines, or "stopped" and exits 1.
set -euo pipefail
STATE="${SLUICE_SERVICES_DIR:-$HOME/.cache/sluice/run}/postgres"
ENVF="$STATE/env"
PIDF="$STATE/pid"
DATAF="$STATE/datadir"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

install() {
  if ! bindir >/dev/null; then
    echo "installing postgresql with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q postgresql postgresql-client >&2 || { apt-get update -q >&2 && apt-get install -y -q postgresql postgresql-client >&2; }
  fi
}

# as_owner runs a command as the cluster owner: `postgres` when we are root
# (the server refuses to run as root), else the calling user.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

owner() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }

alive() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }

ready() {
  [ -f "$ENVF" ] || return 1
  local port bin
  port=$(sed -n 's/^PGPORT=//p' "$ENVF")
  bin=$(bindir) || return 1
  [ -n "$port" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2
}

start() {
  if alive && ready; then cat "$ENVF"; return 0; fi
  if alive; then stop >/dev/null; fi
  install
  local bin data port user
  bin=$(bindir)
  user=$(owner)
  mkdir -p "$STATE"
  data=$(mktemp -d "${TMPDIR:-/tmp}/sluice-postgres.XXXXXX")
  chmod 755 "$data"
  [ "$(id -u)" = 0 ] && chown "$user" "$data"
  as_owner "$bin/initdb" -D "$data/db" -U "$user" --auth=trust -E UTF8 --locale=C.UTF-8 >"$data/initdb.log" 2>&1 || {
    cat "$data/initdb.log" >&2; exit 1; }
  cat >> "$data/db/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
timezone = 'UTC'
log_timezone = 'UTC'
fsync = off
max_connections = 50
CONF
  port=$(free_port)
  echo "$data" > "$DATAF"
  as_owner "$bin/pg_ctl" -D "$data/db" -o "-p $port" -l "$data/server.log" -w -t 60 start >/dev/null || {
    cat "$data/server.log" >&2; exit 1; }
  head -n 1 "$data/db/postmaster.pid" > "$PIDF"
  cat > "$ENVF" <<ENV
PGHOST=127.0.0.1
PGPORT=$port
PGUSER=$user
PGDATABASE=postgres
ENV
  cat "$ENVF"
}

stop() {
  if alive; then
    local pid i
    pid=$(cat "$PIDF")
    kill -INT "$pid" 2>/dev/null || true
    for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  if [ -f "$DATAF" ]; then
    local data
    data=$(cat "$DATAF")
    case "$data" in */sluice-postgres.*) rm -rf "$data" ;; esac
  fi
  rm -f "$PIDF" "$ENVF" "$DATAF"
  echo "stopped"
}

status() {
  if alive && ready; then echo "running"; cat "$ENVF"; else echo "stopped"; return 1; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) [ -f "$ENVF" ] && cat "$ENVF" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
