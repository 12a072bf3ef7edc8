#!/usr/bin/env bash
# tests/services/pulsar.sh start|stop [--force]|status|env
#
# Runs a private Apache Pulsar 4.0.8 standalone broker for the tests. On first
# use it fetches org.apache.pulsar:pulsar-server-distribution:4.0.8:tar.gz:bin
# with Maven and unpacks it into $SLUICE_CACHE (default ~/.cache/sluice),
# outside the checkout. Each start uses free loopback ports and a temp data
# dir, small heap settings, transactions and broker deduplication enabled
# (the Pulsar sink relies on deduplication). `start` is idempotent and waits
# until /admin/v2/namespaces/public answers; it prints the env lines
# PULSAR_URL=pulsar://127.0.0.1:<port> and PULSAR_ADMIN_URL=http://127.0.0.1:<port>
# and keeps them in a state file for `env`. Callers of `start` are counted:
# `stop` ends the broker (by PID) only for the last of them, so a test run
# that finds a developer's instance running leaves it running; `stop
# --force` ends it regardless.
set -euo pipefail
VERSION=4.0.8
CACHE="${SLUICE_CACHE:-$HOME/.cache/sluice}"
HOME_DIR="$CACHE/apache-pulsar-$VERSION"
STATE="${SLUICE_SERVICES_DIR:-$CACHE/run}/pulsar"
ENVF="$STATE/env"
PIDF="$STATE/pid"
USERSF="$STATE/users"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

alive() { [ -f "$PIDF" ] && kill -0 "$(cat "$PIDF")" 2>/dev/null; }

ready() {
  [ -f "$ENVF" ] || return 1
  local admin
  admin=$(sed -n 's/^PULSAR_ADMIN_URL=//p' "$ENVF")
  [ -n "$admin" ] && curl -fsS --max-time 3 "$admin/admin/v2/namespaces/public" >/dev/null 2>&1
}

install() {
  if [ -x "$HOME_DIR/bin/pulsar" ]; then return 0; fi
  mkdir -p "$CACHE"
  # The repository is named to Maven explicitly: its default follows the
  # JVM's user.home (from the password file, not $HOME) and settings.xml.
  local repo="$HOME/.m2/repository"
  local tgz="$repo/org/apache/pulsar/pulsar-server-distribution/$VERSION/pulsar-server-distribution-$VERSION-bin.tar.gz"
  if [ ! -f "$tgz" ]; then
    echo "fetching pulsar-server-distribution $VERSION with maven (245 MB)" >&2
    mvn -B -q dependency:get -Dtransitive=false -Dmaven.repo.local="$repo" \
      -Dartifact="org.apache.pulsar:pulsar-server-distribution:$VERSION:tar.gz:bin" >&2
  fi
  echo "unpacking into $CACHE" >&2
  tar -xzf "$tgz" -C "$CACHE"
}

start() {
  if alive && ready; then use 1 >/dev/null; cat "$ENVF"; return 0; fi
  if alive; then stop --force; fi
  install
  mkdir -p "$STATE"
  local data broker web bk ss
  data=$(mktemp -d "${TMPDIR:-/tmp}/sluice-pulsar.XXXXXX")
  broker=$(free_port); web=$(free_port); bk=$(free_port); ss=$(free_port)
  sed -e "s/^brokerServicePort=.*/brokerServicePort=$broker/" \
      -e "s/^webServicePort=.*/webServicePort=$web/" \
      -e "s/^bindAddress=.*/bindAddress=127.0.0.1/" \
      -e "s/^advertisedAddress=.*/advertisedAddress=127.0.0.1/" \
      -e "s/^transactionCoordinatorEnabled=.*/transactionCoordinatorEnabled=true/" \
      -e "s/^brokerDeduplicationEnabled=.*/brokerDeduplicationEnabled=true/" \
      "$HOME_DIR/conf/standalone.conf" >"$data/standalone.conf"
  {
    echo "PULSAR_URL=pulsar://127.0.0.1:$broker"
    echo "PULSAR_ADMIN_URL=http://127.0.0.1:$web"
    echo "PULSAR_DATA=$data"
  } >"$ENVF"
  (
    cd "$data"
    export PULSAR_STANDALONE_CONF="$data/standalone.conf"
    export PULSAR_MEM="-Xms256m -Xmx768m -XX:MaxDirectMemorySize=768m"
    export PULSAR_GC="-XX:+UseG1GC -XX:+PerfDisableSharedMem"
    export PULSAR_LOG_DIR="$data/logs"
    nohup "$HOME_DIR/bin/pulsar" standalone --no-functions-worker --no-stream-storage -a 127.0.0.1 \
      --metadata-dir "$data/metadata" --bookkeeper-dir "$data/bookkeeper" \
      --bookkeeper-port "$bk" --stream-storage-port "$ss" </dev/null >"$data/stdout.log" 2>&1 &
    echo $! >"$PIDF"
  )
  for _ in $(seq 1 240); do
    if ready; then echo 1 >"$USERSF"; cat "$ENVF"; return 0; fi
    if ! alive; then echo "pulsar exited; log:" >&2; tail -30 "$data/stdout.log" >&2 || true; exit 1; fi
    sleep 0.5
  done
  echo "pulsar did not become ready in 120 s" >&2
  tail -30 "$data/stdout.log" >&2 || true
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
    echo "pulsar still used by another caller of start; left running (stop --force ends it)" >&2
    return 0
  fi
  if alive; then
    local pid; pid=$(cat "$PIDF")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  if [ -f "$ENVF" ]; then
    local data; data=$(sed -n 's/^PULSAR_DATA=//p' "$ENVF")
    case "$data" in */sluice-pulsar.*) rm -rf "$data";; esac
  fi
  rm -f "$PIDF" "$ENVF" "$USERSF"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  status) if alive && ready; then echo "pulsar running (pid $(cat "$PIDF"))"; cat "$ENVF"; else echo "pulsar not running"; exit 1; fi ;;
  env) if [ -f "$ENVF" ] && alive; then cat "$ENVF"; else echo "pulsar not running; run $0 start" >&2; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
