#!/usr/bin/env bash
# Other clients' latency while the store compacts, reddb and Redis side by side.
#
#   bench/bgsave_latency.sh [--keys N] [--requests N] [--skip-redis] [--skip-build]
#
# Loads N keys (default 1,000,000) of 100-byte values into reddb (release
# build, `--dev`, `--fsync always`) and into Debian's redis-server
# (`appendonly yes, appendfsync always`), then measures GET and SET from 50
# clients (`redis-benchmark -t get,set -c 50 -r N`) three ways on each:
#   idle     nothing else runs;
#   bgsave   a loop sends BGSAVE every 50 ms for the whole run, so the store
#            is checkpointing (reddb) or forking a snapshot (Redis) throughout;
#   save     (reddb only) a loop sends SAVE every 500 ms: the one-go
#            compaction that BGSAVE ran on the loop before the incremental
#            checkpoint, shown for contrast.
# Prints p50/p99 per case and the p99 ratio to idle (target: bgsave <= 2x).
# --skip-redis measures reddb alone (its idle and bgsave cases only).
# Needs redis-server, redis-benchmark, redis-cli and cargo. Everything runs
# under `timeout`; everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=1000000
REQUESTS=400000
BUILD=1
REDIS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    --skip-redis) REDIS=0; shift ;;
    *) echo "usage: $0 [--keys N] [--requests N] [--skip-redis] [--skip-build]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/servers.sh
source bench/servers.sh
bench_prepare redis-server redis-benchmark redis-cli python3
bench_servers_init reddb-bgsave
LOOP_PID=""
bench_extra_cleanup() {
  if [ -n "$LOOP_PID" ]; then kill "$LOOP_PID" 2>/dev/null || true; fi
}

cli() { # name args...
  local name=$1; shift
  redis-cli -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" --no-auth-warning "$@"
}

load() { # name: KEYS keys key:__rand_int__-style names key:<i>, 100-byte values
  python3 - "$KEYS" >"$WORK/load.resp" <<'EOF'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
value = b"v" * 100
for i in range(n):
    key = b"key:%012d" % i
    out.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n" % (len(key), key, value))
EOF
  timeout 900 redis-cli -h 127.0.0.1 -p "${PORT[$1]}" -a "${PW[$1]}" --no-auth-warning \
    --pipe <"$WORK/load.resp" >/dev/null
}

declare -A P50 P99
measure() { # name case
  local out
  out=$(timeout 900 redis-benchmark -h 127.0.0.1 -p "${PORT[$1]}" -a "${PW[$1]}" \
    -t get,set -c 50 -n "$REQUESTS" -r "$KEYS" -d 100 --csv 2>/dev/null)
  local t
  for t in GET SET; do
    # "test","rps","avg","min","p50","p95","p99","max"
    P50[$1,$2,$t]=$(printf '%s\n' "$out" | awk -F'","' -v t="\"$t" '$1 == t {print $5; exit}')
    P99[$1,$2,$t]=$(printf '%s\n' "$out" | awk -F'","' -v t="\"$t" '$1 == t {print $7; exit}')
    echo "  $1 $2 $t p50 ${P50[$1,$2,$t]} ms p99 ${P99[$1,$2,$t]} ms" >&2
  done
}

with_loop() { # name case command interval
  local name=$1 label=$2 cmd=$3 every=$4
  # One connection sends the command, waits for its reply, sleeps the
  # interval, again (a new connection each time would measure reddb's
  # login audit commits, not the save).
  python3 - "${PORT[$name]}" "${PW[$name]}" "$cmd" "$every" <<'EOF' &
import socket, sys, time
port, password, cmd, every = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
def call(*args):
    s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    f.readline()
call(b"AUTH", password.encode())
while True:
    call(cmd.encode())
    time.sleep(every)
EOF
  LOOP_PID=$!
  measure "$name" "$label"
  kill "$LOOP_PID" 2>/dev/null || true
  wait "$LOOP_PID" 2>/dev/null || true
  LOOP_PID=""
}

echo "== loading $KEYS keys" >&2
start_reddb
load reddb
if [ "$REDIS" = 1 ]; then
  start_redis redis --appendonly yes --appendfsync always
  load redis
fi
echo "  reddb RSS $(ps -o rss= -p "$(pgrep -f "$WORK/reddb/data.rdb" | head -1)") KiB" >&2

before=$(grep -c "compaction done" "$WORK/reddb/stderr" || true)
measure reddb idle
with_loop reddb bgsave BGSAVE 0.05
after=$(grep -c "compaction done" "$WORK/reddb/stderr" || true)
ROWS=("reddb idle" "reddb bgsave")
if [ "$REDIS" = 1 ]; then
  with_loop reddb save SAVE 0.5
  measure redis idle
  with_loop redis bgsave BGSAVE 0.05
  ROWS+=("reddb save" "redis idle" "redis bgsave")
fi

ratio() { python3 -c "a=float('$1' or 0); b=float('$2' or 0); print(f'{a/b:.2f}' if b else '?')"; }
echo
echo "| server | case | GET p50 ms | GET p99 ms | GET p99 / idle | SET p50 ms | SET p99 ms | SET p99 / idle |"
echo "|---|---|---|---|---|---|---|---|"
for row in "${ROWS[@]}"; do
  set -- $row
  echo "| $1 | $2 | ${P50[$1,$2,GET]} | ${P99[$1,$2,GET]} | $(ratio "${P99[$1,$2,GET]}" "${P99[$1,idle,GET]}") | ${P50[$1,$2,SET]} | ${P99[$1,$2,SET]} | $(ratio "${P99[$1,$2,SET]}" "${P99[$1,idle,SET]}") |"
done
echo
echo "reddb checkpoints completed during the bgsave run: $((after - before)) ($KEYS keys, $REQUESTS requests per test, 50 clients)"
