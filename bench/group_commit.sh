#!/usr/bin/env bash
# The group commit under load: durable writes per second, how many commands
# each sync carried and how long a sync took, reddb against Redis's
# `appendfsync always` in one run.
#
#   bench/group_commit.sh [--tests set,incr] [--requests N] [--rounds N]
#                         [--against PATH] [--skip-build]
#   (RED=path/to/red measures another build)
#
# Starts Debian's redis-server (`appendonly yes`, `appendfsync always`)
# and reddb (release, --dev, --fsync always, `--metrics-loopback`), pinned:
# servers on CPU 0, the client on CPU 1. For each test, unpipelined and
# `-P 16`, 50 clients: `redis-benchmark -t TEST -c 50 -n N` against each
# server; for reddb, `GET /metrics` before and after gives the group
# commits (`reddb_store_commits_total`) and their summed write+sync time
# (`reddb_store_flush_duration_seconds_sum`), so the line shows commands
# per group and milliseconds per group. `--against PATH` adds a second
# reddb build (`reddb-b`) to the same run; `--rounds N` repeats everything
# (rotating order) and prints each figure's median. Needs redis-server,
# redis-benchmark, redis-cli, curl and cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
TESTS=set,incr
REQUESTS=200000
ROUNDS=1
BUILD=1
AGAINST=""
while [ $# -gt 0 ]; do
  case "$1" in
    --tests) TESTS="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --against) AGAINST="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--tests set,incr] [--requests N] [--rounds N] [--against PATH] [--skip-build]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/servers.sh
source bench/servers.sh
bench_prepare redis-server redis-benchmark redis-cli curl
bench_servers_init reddb-group
RED_EXTRA=(--metrics-loopback)
SERVERS=(redis reddb)
start_redis redis --appendonly yes --appendfsync always
start_reddb
if [ -n "$AGAINST" ]; then
  start_reddb_build "$AGAINST" reddb-b
  SERVERS+=(reddb-b)
fi
bench_pin "${SERVERS[@]}"

metric() { # name metric: one value from the server's /metrics
  curl -s "http://127.0.0.1:${HTTP[$1]}/metrics" | awk -v m="$2" '$1 == m { print $2 }'
}

declare -A FIG
IFS=, read -r -a TEST_LIST <<<"$TESTS"
for round in $(seq 1 "$ROUNDS"); do
  n=${#SERVERS[@]}
  for i in $(seq 0 $((n - 1))); do
    name=${SERVERS[$(((i + round - 1) % n))]}
    for test in "${TEST_LIST[@]}"; do
      for pipeline in 1 16; do
        before_groups=0; before_secs=0
        if [ "$name" != redis ]; then
          before_groups=$(metric "$name" reddb_store_commits_total)
          before_secs=$(metric "$name" reddb_store_flush_duration_seconds_sum)
        fi
        rps=$(timeout 600 "${CLIENT_CPU[@]}" redis-benchmark -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" \
          -c 50 -n "$REQUESTS" -P "$pipeline" -t "$test" --csv 2>/dev/null |
          awk -F'","' 'NR > 1 { gsub(/"/, "", $2); print $2; exit }')
        key="$name $test P$pipeline"
        FIG["$key rps"]+="$rps "
        if [ "$name" != redis ]; then
          groups=$(awk -v a="$(metric "$name" reddb_store_commits_total)" -v b="$before_groups" 'BEGIN { print a - b }')
          secs=$(awk -v a="$(metric "$name" reddb_store_flush_duration_seconds_sum)" -v b="$before_secs" 'BEGIN { print a - b }')
          per=$(awk -v r="$REQUESTS" -v g="$groups" 'BEGIN { if (g > 0) printf "%.1f", r / g; else print 0 }')
          ms=$(awk -v s="$secs" -v g="$groups" 'BEGIN { if (g > 0) printf "%.3f", 1000 * s / g; else print 0 }')
          FIG["$key per"]+="$per "
          FIG["$key ms"]+="$ms "
          echo "  round $round $key: $rps requests/s, $groups groups, $per commands per group, $ms ms per group" >&2
        else
          echo "  round $round $key: $rps requests/s" >&2
        fi
      done
    done
  done
done

median_of() { # key
  # shellcheck disable=SC2086
  bench_median ${FIG["$1"]}
}

echo
echo "Durable writes, 50 clients, $REQUESTS requests per test, median of $ROUNDS round(s); servers on CPU 0, client on CPU 1"
echo
header="| test | redis always (requests/s) |"
rule="|---|---:|"
for name in "${SERVERS[@]:1}"; do
  header+=" $name (requests/s) | $name / redis | $name commands per group | $name ms per group |"
  rule+="---:|---:|---:|---:|"
done
echo "$header"
echo "$rule"
for test in "${TEST_LIST[@]}"; do
  for pipeline in 1 16; do
    label=${test^^}; [ "$pipeline" = 16 ] && label+=" -P 16"
    redis=$(median_of "redis $test P$pipeline rps")
    line="| $label | $redis |"
    for name in "${SERVERS[@]:1}"; do
      rps=$(median_of "$name $test P$pipeline rps")
      line+=" $rps | $(bench_ratio "$rps" "$redis") | $(median_of "$name $test P$pipeline per") | $(median_of "$name $test P$pipeline ms") |"
    done
    echo "$line"
  done
done
