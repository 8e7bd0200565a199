#!/usr/bin/env bash
# Pipelined commands on one collection of about 100 entries, reddb alone:
# what the packed forms (crates/storage/src/store/small_collection.rs) cost.
#
#   bench/collection_writes.sh [--requests N] [--skip-build]
#   (RED=path/to/red measures another build, e.g. an older commit's)
#
# Starts reddb (release, --dev, --fsync always) and runs, with
# `redis-benchmark -c 50 -P 16 -r 100` (100 distinct fields or members):
#   HSET h100 f:<n> <16 bytes>, HGET h100 f:<n>,
#   ZADD z100 <n> m:<n>, ZSCORE z100 m:<n>, ZRANGEBYSCORE z100 10 20.
# Prints requests per second for each. Needs redis-benchmark, redis-cli
# (apt install redis-server) and cargo; everything started is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUESTS=200000
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) REQUESTS="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--requests N] [--skip-build]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/servers.sh
source bench/servers.sh
bench_prepare redis-benchmark redis-cli
bench_servers_init reddb-collections
start_reddb
run() {
  timeout 600 redis-benchmark -h 127.0.0.1 -p "${PORT[reddb]}" -a "${PW[reddb]}" \
    -c 50 -n "$REQUESTS" -P 16 -r 100 --csv "$@" 2>/dev/null | tail -1 | cut -d, -f1,2
}
echo "reddb $("$RED" --version 2>/dev/null | head -1), $REQUESTS requests, 50 clients, -P 16"
run hset h100 f:__rand_int__ vvvvvvvvvvvvvvvv
run hget h100 f:__rand_int__
run zadd z100 __rand_int__ m:__rand_int__
run zscore z100 m:__rand_int__
run zrangebyscore z100 10 20
