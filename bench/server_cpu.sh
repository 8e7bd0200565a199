#!/usr/bin/env bash
# Server CPU time per request, reddb and redis-server side by side: a
# figure that moves less than requests/s on a shared machine (the client's
# own share of the two CPUs drops out).
#
#   bench/server_cpu.sh [--test get] [--requests N] [--pipeline N] [--rounds N]
#                       [--pin] [--against PATH] [--skip-build]
#   (RED=path/to/red measures another build)
#
# Starts Debian's redis-server (no persistence) and reddb (release,
# --dev, --fsync always), writes 20,000 SETs to each, then runs
# `redis-benchmark -t TEST -c 50 -n N -P PIPELINE` against each while
# `perf stat -e task-clock -p <server>` counts the server's CPU time, and
# prints microseconds of server CPU per request. With `--rounds N` the
# servers take turns N times (rotating order) and the last lines give each
# one's median and its ratio to Redis's; `--pin` runs the servers on CPU 0
# and the client on CPU 1 (then a pipelined test keeps the server's core
# busy and the figure is steady to a few per cent); `--against PATH` adds
# a second reddb build (`reddb-b`, e.g. the commit before a change) to the
# same run. Needs perf (apt install linux-perf), redis-server,
# redis-benchmark, redis-cli and cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
TEST=get
REQUESTS=500000
PIPELINE=16
BUILD=1
ROUNDS=1
PIN=0
AGAINST=""
while [ $# -gt 0 ]; do
  case "$1" in
    --test) TEST="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --pipeline) PIPELINE="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --pin) PIN=1; shift ;;
    --against) AGAINST="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--test get] [--requests N] [--pipeline N] [--rounds N] [--pin] [--against PATH] [--skip-build]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/servers.sh
source bench/servers.sh
bench_prepare perf redis-server redis-benchmark redis-cli
bench_servers_init reddb-cpu
SERVERS=(redis reddb)
start_redis redis
start_reddb
if [ -n "$AGAINST" ]; then
  start_reddb_build "$AGAINST" reddb-b
  SERVERS+=(reddb-b)
fi
if [ "$PIN" = 1 ]; then
  bench_pin "${SERVERS[@]}"
fi
for name in "${SERVERS[@]}"; do
  timeout 300 redis-benchmark -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" -c 50 \
    -P "$PIPELINE" -n 20000 -t set >/dev/null 2>&1
done
declare -A US
count=${#SERVERS[@]}
for round in $(seq 1 "$ROUNDS"); do
  for i in $(seq 0 $((count - 1))); do
    name=${SERVERS[$(((round - 1 + i) % count))]}
    args=(-h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" -c 50 -P "$PIPELINE" --csv)
    perf stat -e task-clock -x, -o "$WORK/$name.stat" -p "${PID[$name]}" &
    stat_pid=$!
    sleep 0.5
    rps=$(timeout 600 "${CLIENT_CPU[@]}" redis-benchmark "${args[@]}" -n "$REQUESTS" -t "$TEST" 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"')
    kill -INT "$stat_pid"; wait "$stat_pid" || true
    # task-clock is in milliseconds: µs per request = ms * 1000 / N.
    us=$(awk -F, -v n="$REQUESTS" '$3 ~ /task-clock/ { printf "%.3f", $1 * 1000 / n }' "$WORK/$name.stat")
    US[$name,$round]=$us
    printf '%-7s %s -P %s: %s requests/s, %s us of server CPU per request\n' \
      "$name" "$TEST" "$PIPELINE" "$rps" "$us"
  done
done
if [ "$ROUNDS" -gt 1 ] || [ -n "$AGAINST" ]; then
  echo "median of $ROUNDS round(s)$([ "$PIN" = 1 ] && echo ", servers on CPU 0, client on CPU 1"):"
  redis_us=""
  for name in "${SERVERS[@]}"; do
    values=()
    for round in $(seq 1 "$ROUNDS"); do values+=("${US[$name,$round]}"); done
    m=$(bench_median "${values[@]}")
    [ "$name" = redis ] && redis_us=$m
    printf '%-7s %s us per request, %s of redis-server'"'"'s\n' "$name" "$m" "$(bench_ratio "$m" "$redis_us")"
  done
fi
