#!/usr/bin/env bash
# Server CPU time per request, reddb and redis-server side by side: a
# figure that moves less than requests/s on a shared machine (the client's
# own share of the two CPUs drops out).
#
#   bench/server_cpu.sh [--test get] [--requests N] [--pipeline N] [--skip-build]
#   (RED=path/to/red measures another build)
#
# Starts Debian's redis-server (no persistence) and reddb (release,
# --dev, --fsync always), writes 20,000 SETs to each, then runs
# `redis-benchmark -t TEST -c 50 -n N -P PIPELINE` against each while
# `perf stat -e task-clock -p <server>` counts the server's CPU time, and
# prints microseconds of server CPU per request. Needs perf (apt install
# linux-perf), redis-server, redis-benchmark, redis-cli and cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
TEST=get
REQUESTS=500000
PIPELINE=16
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --test) TEST="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --pipeline) PIPELINE="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--test get] [--requests N] [--pipeline N] [--skip-build]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/servers.sh
source bench/servers.sh
bench_prepare perf redis-server redis-benchmark redis-cli
bench_servers_init reddb-cpu
start_redis redis
start_reddb
for name in redis reddb; do
  args=(-h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" -c 50 -P "$PIPELINE" --csv)
  timeout 300 redis-benchmark "${args[@]}" -n 20000 -t set >/dev/null 2>&1
  perf stat -e task-clock -x, -o "$WORK/$name.stat" -p "${PID[$name]}" &
  stat_pid=$!
  sleep 0.5
  rps=$(timeout 600 redis-benchmark "${args[@]}" -n "$REQUESTS" -t "$TEST" 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"')
  kill -INT "$stat_pid"; wait "$stat_pid" || true
  # task-clock is in milliseconds: µs per request = ms * 1000 / N.
  awk -F, -v n="$REQUESTS" -v s="$name" -v rps="$rps" -v t="$TEST" -v p="$PIPELINE" \
    '$3 ~ /task-clock/ { printf "%-6s %s -P %s: %s requests/s, %.3f us of server CPU per request\n", s, t, p, rps, $1 * 1000 / n }' \
    "$WORK/$name.stat"
done
