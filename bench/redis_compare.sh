#!/usr/bin/env bash
# reddb against Redis on loopback, side by side, with the same client.
#
#   bench/redis_compare.sh [--requests N] [--keys N] [--tests LIST] [--threads N]
#                          [--rounds N] [--pin] [--skip-rss] [--skip-build]
#
# Starts Debian's redis-server twice (requirepass; `appendonly yes,
# appendfsync always` and no persistence at all) and reddb (release build,
# `--dev`, default `--fsync always`), then for each:
#   redis-benchmark -a PASS -t LIST -c 50 -n N        (unpipelined)
#   redis-benchmark -a PASS -t LIST -c 50 -n N -P 16  (pipelined)
# (LIST defaults to set,get; the data-type families of issue 16 are
# `--tests lpush,lpop,zadd,hset,incr,sadd`), with `--threads N` the same two
# again with `redis-benchmark --threads N` (on 2 cores the client itself is
# part of the figure); with `--rounds N` all of it N times, the servers
# taking turns in a rotating order, and the table shows each figure's
# median over the rounds (a shared 2-CPU machine drifts by 20 % or more
# between minutes; one round's ratio is not a result); with `--pin` every
# server runs on CPU 0 and the client on CPU 1 (`taskset`), so that a
# pipelined figure is the server's own speed (each server saturates its
# core) rather than where the scheduler placed server and client. Unless --skip-rss, the
# resident set size after loading 1,000,000 keys of 100-byte values
# (redis-cli --pipe, read 3 s after the load ends). Prints a Markdown table with reddb/redis ratios.
# Needs redis-server, redis-benchmark, redis-cli (apt install redis-server)
# and cargo. Every step runs under `timeout`; everything started here is
# stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=100000
KEYS=1000000
TESTS=set,get
RSS_STEP=1
BUILD=1
THREADS=0
ROUNDS=1
PIN=0
while [ $# -gt 0 ]; do
  case "$1" in
    --requests) REQUESTS="$2"; shift 2 ;;
    --keys) KEYS="$2"; shift 2 ;;
    --tests) TESTS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --pin) PIN=1; shift ;;
    --skip-rss) RSS_STEP=0; shift ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--requests N] [--keys N] [--tests LIST] [--threads N] [--rounds N] [--pin] [--skip-rss] [--skip-build]" >&2; exit 2 ;;
  esac
done
# redis-benchmark's CSV names (upper case), in the order asked.
NAMES=$(printf '%s' "$TESTS" | tr 'a-z,' 'A-Z ')

for tool in redis-server redis-benchmark redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt install redis-server)" >&2; exit 2; }
done

if [ "$BUILD" = 1 ]; then
  timeout 1200 cargo build --release --quiet
fi
RED=target/release/red
[ -x "$RED" ] || { echo "no $RED" >&2; exit 2; }

# shellcheck source=bench/servers.sh
source bench/servers.sh
bench_servers_init reddb-bench

declare -A RPS
ROUND=1
bench() { # name label extra-args...: one round's figures, in RPS[name,TEST label,round]
  local name=$1 label=$2; shift 2
  local out
  out=$(timeout 600 "${CLIENT_CPU[@]}" redis-benchmark -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" \
    -t "$TESTS" -c 50 -n "$REQUESTS" --csv "$@" 2>/dev/null)
  local t rps shown=""
  for t in $NAMES; do
    rps=$(printf '%s\n' "$out" | awk -F'","' -v t="\"$t" '$1 == t {print $2; exit}')
    RPS[$name,$t$label,$ROUND]=${rps:-0}
    shown="$shown $t ${rps:-?}"
  done
  echo "  round $ROUND $name $label (requests/s):$shown" >&2
}

median() { # name key: the median over the rounds of RPS[name,key,*]
  local r values=()
  for r in $(seq 1 "$ROUNDS"); do values+=("${RPS[$1,$2,$r]}"); done
  bench_median "${values[@]}"
}

load_file="$WORK/load.resp"
make_load() { # KEYS SET commands, 100-byte values
  write_set_load "$load_file" "$KEYS" constant
}

declare -A RSS
load_and_measure() { # name
  local name=$1
  timeout 900 redis-cli -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" --no-auth-warning \
    --pipe <"$load_file" >"$WORK/$name.pipe" 2>&1 || { cat "$WORK/$name.pipe" >&2; exit 1; }
  # Settled: reddb returns what a burst of writes freed at its next
  # once-a-second tick (bench/memory_compare.sh has the other shapes).
  sleep 3
  local n
  n=$(redis-cli -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" --no-auth-warning dbsize)
  local kb
  kb=$(awk '/^VmRSS:/ {print $2}' "/proc/${PID[$name]}/status")
  RSS[$name]=$((kb / 1024))
  echo "  $name: $n keys, RSS ${RSS[$name]} MiB ($(tail -1 "$WORK/$name.pipe"))" >&2
}

echo "== starting servers" >&2
start_redis redis-always --appendonly yes --appendfsync always
start_redis redis-nopersist --appendonly no
start_reddb
if [ "$PIN" = 1 ]; then
  bench_pin redis-always redis-nopersist reddb
fi
echo "== redis-benchmark -t $TESTS -c 50 -n $REQUESTS (then -P 16), $ROUNDS round(s)" >&2
SERVERS=(redis-always redis-nopersist reddb)
for ROUND in $(seq 1 "$ROUNDS"); do
  for i in 0 1 2; do
    # Round r starts with server r-1 (mod 3): no server always runs first.
    name=${SERVERS[$(((ROUND - 1 + i) % 3))]}
    bench "$name" ""
    bench "$name" " P16" -P 16
    if [ "$THREADS" -gt 0 ]; then
      bench "$name" " T" --threads "$THREADS"
      bench "$name" " P16 T" -P 16 --threads "$THREADS"
    fi
  done
done
if [ "$RSS_STEP" = 1 ]; then
  echo "== loading $KEYS keys of 100 bytes into each (redis-cli --pipe)" >&2
  make_load
  for name in redis-always redis-nopersist reddb; do
    load_and_measure "$name"
  done
fi


echo
echo "reddb vs Redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p'), loopback, $(nproc) CPUs, 50 clients, $REQUESTS requests per test$([ "$ROUNDS" -gt 1 ] && echo ", median of $ROUNDS rounds")$([ "$PIN" = 1 ] && echo ", servers on CPU 0 and the client on CPU 1")"
echo
echo "| test | redis (appendfsync always) | redis (no persistence) | reddb (fsync always) | reddb / redis always | reddb / redis no-persist |"
echo "|---|---:|---:|---:|---:|---:|"
LABELS=("" " P16")
[ "$THREADS" -gt 0 ] && LABELS+=(" T" " P16 T")
for label in "${LABELS[@]}"; do
  shown=${label/ P16/ -P 16}
  shown=${shown/ T/ --threads $THREADS}
  for t in $NAMES; do
    a=$(median redis-always "$t$label"); b=$(median redis-nopersist "$t$label"); r=$(median reddb "$t$label")
    echo "| $t$shown (requests/s) | $a | $b | $r | $(bench_ratio "$r" "$a") | $(bench_ratio "$r" "$b") |"
  done
done
if [ "$RSS_STEP" = 1 ]; then
  a=${RSS[redis-always]}; b=${RSS[redis-nopersist]}; r=${RSS[reddb]}
  echo "| RSS after $KEYS x 100-byte keys (MiB) | $a | $b | $r | $(bench_ratio "$r" "$a") | $(bench_ratio "$r" "$b") |"
fi
