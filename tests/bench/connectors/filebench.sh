#!/usr/bin/env bash
# tests/bench/connectors/filebench.sh — the file-source benchmark.
#
#   filebench.sh gen [-n N] [-o FILE]        generate N NDJSON bids (default 10M)
#   filebench.sh reader [-n N] [-o FILE]     connector-only baseline: read FILE
#                                            through the file source to the end
#   filebench.sh query [-n N] [-o FILE]      the benchmark query in one Sluice
#                                            database process (exec/db): source
#                                            over FILE, 10 s tumbling count/sum
#                                            per auction, watermark 4 s, to the
#                                            final watermark
#   filebench.sh run [-n N] -- CMD ARGS...   measure any command that consumes
#                                            FILE and exits (FILE in $BIDS_FILE)
#   filebench.sh pid PID N PROBE ARGS...     measure a running process (the
#                                            Sluice server) from now until PROBE
#                                            succeeds (e.g. a psql query seeing
#                                            every window closed)
#
# Every mode prints events, wall seconds, CPU seconds of the measured
# process (utime+stime from /proc/<pid>/stat, sampled every 20 ms), events/s
# and events per CPU-second. `query` measures the whole process (startup
# included); the same run against the sluice server over pgwire is the
# `pid` mode with a probe that sees the last window.
set -euo pipefail
cd "$(dirname "$0")/../../.."
N=10000000
FILE="${BIDS_FILE:-${TMPDIR:-/tmp}/sluice-bids.ndjson}"
TICKS=$(getconf CLK_TCK)

mode="${1:-}"; shift || true
while [ $# -gt 0 ]; do
  case "$1" in
    -n) N="$2"; shift 2 ;;
    -o) FILE="$2"; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
export BIDS_FILE="$FILE"

gen() {
  local want_lines have
  if [ -f "$FILE" ] && [ -f "$FILE.n" ] && [ "$(cat "$FILE.n")" = "$N" ]; then
    echo "using $FILE ($N bids)" >&2; return 0
  fi
  echo "generating $N bids into $FILE" >&2
  go run ./tests/bench/connectors/genbids -n "$N" -o "$FILE"
  echo "$N" >"$FILE.n"
}

cpu_ticks() { # pid -> utime+stime in ticks (fields 14 and 15, after the comm field)
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat="${stat##*) }"
  # After "pid (comm) " the state is field 3: utime is the 12th word here.
  set -- $stat
  echo $(( ${12} + ${13} ))
}

report() { # events wall_ns cpu_ticks
  awk -v n="$1" -v ns="$2" -v t="$3" -v hz="$TICKS" 'BEGIN {
    wall = ns / 1e9; cpu = t / hz;
    printf "events=%d wall_s=%.3f cpu_s=%.3f events_per_s=%.0f events_per_cpu_s=%.0f\n", n, wall, cpu, n / wall, (cpu > 0 ? n / cpu : 0) }'
}

measure_child() { # command... ; runs it, samples its CPU until it exits
  local start end pid last=0 t
  start=$(date +%s%N)
  "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if t=$(cpu_ticks "$pid"); then last=$t; fi
    sleep 0.02
  done
  wait "$pid"
  end=$(date +%s%N)
  report "$N" $(( end - start )) "$last"
}

measure_pid() { # pid probe... ; samples CPU from now until probe succeeds
  local pid="$1"; shift
  local start end c0 c1
  c0=$(cpu_ticks "$pid"); start=$(date +%s%N)
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { echo "process $pid exited" >&2; exit 1; }
    c1=$(cpu_ticks "$pid")
    sleep 0.02
  done
  c1=$(cpu_ticks "$pid"); end=$(date +%s%N)
  report "$N" $(( end - start )) $(( c1 - c0 ))
}

case "$mode" in
  gen) gen ;;
  reader)
    gen
    bin="${TMPDIR:-/tmp}/sluice-fileread"
    go build -o "$bin" ./tests/bench/connectors/fileread
    measure_child "$bin" -path "$FILE" ;;
  query)
    gen
    bin="${TMPDIR:-/tmp}/sluice-filequery"
    go build -o "$bin" ./tests/bench/connectors/filequery
    measure_child "$bin" -path "$FILE" -n "$N" ;;
  run) gen; measure_child "$@" ;;
  pid) pid="$1"; N="$2"; shift 2; measure_pid "$pid" "$@" ;;
  *) sed -n '2,27p' "$0"; exit 2 ;;
esac
