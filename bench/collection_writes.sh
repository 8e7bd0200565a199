#!/usr/bin/env bash
# Pipelined commands on one collection of about 100 entries, reddb side by
# side with redis-server: what the packed forms
# (crates/storage/src/store/small_collection.rs) cost against Redis's
# listpacks.
#
#   bench/collection_writes.sh [--requests N] [--rounds N] [--skip-build]
#   (RED=path/to/red measures another build, e.g. an older commit's)
#
# Starts Debian's redis-server twice (`appendonly yes, appendfsync always`
# and no persistence) and reddb (release, --dev, --fsync always), and runs
# on each, with `redis-benchmark -c 50 -P 16 -r 100` (100 distinct fields
# or members):
#   HSET h100 f:<n> <16 bytes>, HGET h100 f:<n>,
#   ZADD z100 <n> m:<n>, ZSCORE z100 m:<n>, ZRANGEBYSCORE z100 10 20.
# With --rounds N (default 3) all of it N times, the servers taking turns
# in a rotating order; the table shows each figure's median and the
# ratios reddb / redis. Needs redis-server, redis-benchmark, redis-cli
# (apt install redis-server) and cargo; everything started is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=200000
ROUNDS=3
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) REQUESTS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--requests N] [--rounds N] [--skip-build]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/servers.sh
source bench/servers.sh
bench_prepare redis-server redis-benchmark redis-cli
bench_servers_init reddb-collections
start_redis redis-always --appendonly yes --appendfsync always
start_redis redis-nopersist --appendonly no
start_reddb

TESTS=(
  "hset h100 f:__rand_int__ vvvvvvvvvvvvvvvv"
  "hget h100 f:__rand_int__"
  "zadd z100 __rand_int__ m:__rand_int__"
  "zscore z100 m:__rand_int__"
  "zrangebyscore z100 10 20"
)
declare -A RPS
run() { # server round test-index
  local name=$1 round=$2 t=$3 rps
  # shellcheck disable=SC2086 # the test is its words
  rps=$(timeout 600 redis-benchmark -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" \
    -c 50 -n "$REQUESTS" -P 16 -r 100 --csv ${TESTS[$t]} 2>/dev/null | tail -1 | cut -d, -f2 | tr -d '"')
  RPS[$name,$t,$round]=${rps:-0}
}
median() { # server test-index: over the rounds
  local r values=()
  for r in $(seq 1 "$ROUNDS"); do values+=("${RPS[$1,$2,$r]}"); done
  bench_median "${values[@]}"
}

SERVERS=(redis-always redis-nopersist reddb)
for round in $(seq 1 "$ROUNDS"); do
  for i in 0 1 2; do
    name=${SERVERS[$(((round - 1 + i) % 3))]}
    for t in "${!TESTS[@]}"; do run "$name" "$round" "$t"; done
    echo "  round $round $name: $(for t in "${!TESTS[@]}"; do printf '%s ' "${RPS[$name,$t,$round]}"; done)" >&2
  done
done

echo
echo "reddb $("$RED" --version 2>/dev/null | head -1) vs Redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p'), $REQUESTS requests, 50 clients, -P 16, median of $ROUNDS rounds"
echo
echo "| command (requests/s) | redis (appendfsync always) | redis (no persistence) | reddb (fsync always) | reddb / redis always | reddb / redis no-persist |"
echo "|---|---:|---:|---:|---:|---:|"
for t in "${!TESTS[@]}"; do
  a=$(median redis-always "$t"); b=$(median redis-nopersist "$t"); r=$(median reddb "$t")
  echo "| \`${TESTS[$t]%% *}\` | $a | $b | $r | $(bench_ratio "$r" "$a") | $(bench_ratio "$r" "$b") |"
done
