#!/usr/bin/env bash
# Restart with N keys: process start to first PONG, reddb against
# redis-server loading its append-only file, side by side.
#
#   bench/restart_compare.sh [--keys N] [--rounds R] [--values random|constant] [--skip-build]
#
# Loads N SET commands of 100-byte random values (redis-cli --pipe) into reddb
# (release, --dev, --fsync always) and into redis-server (`appendonly yes`,
# `appendfsync always`, no RDB snapshots: a restart replays the AOF), stops
# both cleanly (reddb: SIGTERM; redis: SHUTDOWN NOSAVE, so the AOF is what
# it loads), then R times restarts each and times process start → the first
# PONG (redis answers -LOADING until its AOF is in). Prints the times and
# the reddb/redis ratio (lower is better). Needs redis-server, redis-cli
# (apt install redis-server) and cargo. Every step runs under `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=1000000
ROUNDS=3
BUILD=1
VALUES=random
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --values) VALUES="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--keys N] [--rounds R] [--values random|constant] [--skip-build]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/servers.sh
source bench/servers.sh
bench_prepare redis-server redis-cli
bench_servers_init reddb-restart

load_file="$WORK/load.resp"
write_set_load "$load_file" "$KEYS" "$VALUES"

now_ns() { date +%s%N; }

# Milliseconds from `start` until PING answers PONG on port $1 with password $2.
until_pong() { # port password start_ns
  for _ in $(seq 1 30000); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$1" -a "$2" --no-auth-warning ping 2>/dev/null)" = PONG ]; then
      echo $(( ($(now_ns) - $3) / 1000000 ))
      return 0
    fi
    sleep 0.005
  done
  echo "no PONG on port $1" >&2
  return 1
}

echo "== loading $KEYS keys of 100 bytes into each" >&2
start_redis redis --appendonly yes --appendfsync always
start_reddb reddb
for name in redis reddb; do
  timeout 900 redis-cli -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" --no-auth-warning \
    --pipe <"$load_file" >"$WORK/$name.pipe" 2>&1 || { cat "$WORK/$name.pipe" >&2; exit 1; }
  echo "  $name: $(redis-cli -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" --no-auth-warning dbsize) keys" >&2
done
redis-cli -h 127.0.0.1 -p "${PORT[redis]}" -a "$PASS" --no-auth-warning shutdown nosave >/dev/null 2>&1 || true
kill -TERM "${PID[reddb]}"
wait "${PID[redis]}" 2>/dev/null || true
wait "${PID[reddb]}" 2>/dev/null || true
echo "  files: redis $(du -sh "$WORK/redis" | cut -f1), reddb $(du -sh "$WORK/reddb/data.rdb" | cut -f1)" >&2

declare -a T_REDIS T_REDDB
for round in $(seq 1 "$ROUNDS"); do
  start=$(now_ns)
  redis-server --port "${PORT[redis]}" --bind 127.0.0.1 --requirepass "$PASS" --dir "$WORK/redis" \
    --daemonize no --save "" --appendonly yes --appendfsync always --logfile "$WORK/redis/log" &
  rp=$!; PIDS+=("$rp")
  T_REDIS+=("$(until_pong "${PORT[redis]}" "$PASS" "$start")")
  redis-cli -h 127.0.0.1 -p "${PORT[redis]}" -a "$PASS" --no-auth-warning shutdown nosave >/dev/null 2>&1 || true
  wait "$rp" 2>/dev/null || true

  http=$(free_port)
  start=$(now_ns)
  "$RED" server --dev --path "$WORK/reddb/data.rdb" --http-bind "127.0.0.1:$http" \
    --wire-bind "127.0.0.1:${PORT[reddb]}" >"$WORK/reddb/stdout.$round" 2>"$WORK/reddb/stderr.$round" &
  dp=$!; PIDS+=("$dp")
  T_REDDB+=("$(until_pong "${PORT[reddb]}" "${PW[reddb]}" "$start")")
  kill -TERM "$dp"
  wait "$dp" 2>/dev/null || true
  echo "  round $round: redis ${T_REDIS[-1]} ms, reddb ${T_REDDB[-1]} ms" >&2
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
r=$(median "${T_REDIS[@]}"); d=$(median "${T_REDDB[@]}")
echo
echo "Restart with $KEYS keys of 100-byte $VALUES values, process start to first PONG, median of $ROUNDS"
echo
echo "| server | ms | reddb / redis |"
echo "|---|---:|---:|"
echo "| redis-server $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p') (AOF, appendfsync always) | $r | |"
echo "| reddb (fsync always) | $d | $(awk -v a="$d" -v b="$r" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }') |"
