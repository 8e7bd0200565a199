#!/usr/bin/env bash
# EVALSHA of a sliding-window rate limiter, reddb against Redis, side by
# side in one run.
#
#   bench/script_compare.sh [--requests N] [--clients N] [--skip-build]
#
# Starts Debian's redis-server (requirepass, `appendonly yes`,
# `appendfsync always`) and reddb (release build, `--dev`, default
# `--fsync always`), loads the same script into both (SCRIPT LOAD), then
#   redis-benchmark -c 50 -n N -r 1000 EVALSHA <sha> 1 rl:__rand_int__ 1000 __rand_int__
# against each: every call is ZREMRANGEBYSCORE + ZADD + ZCARD + PEXPIRE on
# one of 1000 keys, as one atomic script and one durable write. Prints a
# Markdown table with the reddb/redis ratio. Needs redis-server,
# redis-benchmark and redis-cli (apt install redis-server) and cargo.
# Every step runs under `timeout`; everything started here is stopped on
# exit.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=100000
CLIENTS=50
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) REQUESTS="$2"; shift 2 ;;
    --clients) CLIENTS="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--requests N] [--clients N] [--skip-build]" >&2; exit 2 ;;
  esac
done

for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt install redis-server)" >&2; exit 2; }
done
if [ "$BUILD" = 1 ]; then
  timeout 1800 cargo build --release --quiet
fi
RED=target/release/red
[ -x "$RED" ] || { echo "no $RED" >&2; exit 2; }

# shellcheck source=bench/servers.sh
source bench/servers.sh
bench_servers_init reddb-script-bench

# The limiter: drop entries older than the window, add this call, count,
# keep the key as long as the window. The time comes from TIME (no client
# clock); ARGV[1] is the window in ms, ARGV[2] makes the member unique.
LIMITER="local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
redis.call('ZADD', KEYS[1], now, t[1] .. '.' .. t[2] .. ':' .. ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
redis.call('PEXPIRE', KEYS[1], window)
return count"

declare -A RPS
bench() { # name
  local name=$1 cli sha out rps
  cli=(redis-cli -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" --no-auth-warning)
  sha=$("${cli[@]}" SCRIPT LOAD "$LIMITER")
  # One call by hand: the script runs and counts.
  [ "$("${cli[@]}" EVALSHA "$sha" 1 rl:check 1000 x)" = 1 ] \
    || { echo "$name: the limiter did not answer 1" >&2; exit 1; }
  out=$(timeout 900 redis-benchmark -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" \
    -c "$CLIENTS" -n "$REQUESTS" -r 1000 --csv \
    EVALSHA "$sha" 1 rl:__rand_int__ 1000 __rand_int__ 2>/dev/null)
  rps=$(printf '%s\n' "$out" | tail -n 1 | awk -F'","' '{print $2}')
  RPS[$name]=${rps:-0}
  echo "  $name: ${rps:-?} EVALSHA/s ($("${cli[@]}" DBSIZE) limiter keys)" >&2
}

echo "== starting servers" >&2
start_redis redis --appendonly yes --appendfsync always
start_reddb
echo "== redis-benchmark -c $CLIENTS -n $REQUESTS EVALSHA <limiter>" >&2
bench redis
bench reddb

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo
echo "EVALSHA sliding-window limiter, reddb vs Redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p'), loopback, $(nproc) CPUs, $CLIENTS clients, $REQUESTS calls"
echo
echo "| test | redis (appendfsync always) | reddb (fsync always) | reddb / redis |"
echo "|---|---:|---:|---:|"
echo "| EVALSHA limiter (calls/s) | ${RPS[redis]} | ${RPS[reddb]} | $(ratio "${RPS[reddb]}" "${RPS[redis]}") |"
