#!/usr/bin/env bash
# `red import` of a Redis dump against redis-server loading the same dump.
#
#   bench/rdb_import.sh [--keys N] [--skip-build]
#
# Fills Debian's redis-server with N keys (default 1,000,000): N - N/10
# strings from `DEBUG POPULATE` (100-byte values), and N/10 more keys of
# seed 001's shape written through a pipe — JSON client registrations,
# tokens with a 30-day TTL, and small token-index sets — then `SAVE`s
# (rdbcompression on, Redis's default). On that one dump.rdb it measures:
#   redis load   a fresh redis-server started on the dump: wall time from
#                exec to the first PONG (PING answers -LOADING until the
#                dump is in), the load time Redis logs, and its peak RSS
#                (VmHWM) once loaded;
#   red import   `red import` into a fresh `--dev` database: wall time and
#                peak RSS (getrusage of the child);
#   red start    `red server` on the imported file: wall time to the first
#                PONG (the replay of the snapshot the import wrote).
# Prints the figures side by side with ratios to redis's load.
# Needs redis-server, redis-cli, python3 and cargo. Everything started here
# is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=1000000
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --keys) KEYS="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--keys N] [--skip-build]" >&2; exit 2 ;;
  esac
done
for tool in redis-server redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt install redis-server)" >&2; exit 2; }
done
if [ "$BUILD" = 1 ]; then
  timeout 1200 cargo build --release --quiet
fi
RED=$(pwd)/target/release/red
[ -x "$RED" ] || { echo "no $RED" >&2; exit 2; }

# shellcheck source=bench/servers.sh
source bench/servers.sh
bench_servers_init reddb-rdb-import

cli() { # name args...
  local name=$1; shift
  redis-cli -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" --no-auth-warning "$@"
}

echo "== filling redis-server with $KEYS keys" >&2
start_redis source --enable-debug-command local
SHAPED=$((KEYS / 10))
cli source DEBUG POPULATE $((KEYS - SHAPED)) key 100 >/dev/null
python3 - "$SHAPED" >"$WORK/shaped.resp" <<'EOF'
import sys
n = int(sys.argv[1])
out = sys.stdout.buffer
def cmd(*args):
    out.write(b"*%d\r\n" % len(args))
    for a in args:
        out.write(b"$%d\r\n%s\r\n" % (len(a), a))
for i in range(n):
    kind = i % 3
    if kind == 0:
        body = (b'{"client_id":"client_%d","client_secret":"secret_%d","client_name":"MCP client",'
                b'"redirect_uris":["http://localhost:8080/callback"],"grant_types":["authorization_code"]}'
                % (i, i))
        cmd(b"SET", b"oauth:client:client_%d" % i, body)
    elif kind == 1:
        cmd(b"SET", b"oauth:token:jti-%d" % i,
            b'{"client_id":"client_%d","user_id":"github|u%d","scope":"mcp:*"}' % (i, i),
            b"EX", b"2592000")
    else:
        cmd(b"SADD", b"oauth:user_tokens:user%d" % i, b"jti-%d" % i, b"jti-%d" % (i + 1))
EOF
cli source --pipe <"$WORK/shaped.resp" >/dev/null
cli source SAVE >/dev/null
DUMP="$WORK/source/dump.rdb"
DUMP_BYTES=$(stat -c %s "$DUMP")
HAVE=$(cli source DBSIZE)
echo "dump: $HAVE keys, $DUMP_BYTES bytes" >&2

# Times a command (python: wall clock and the child's peak RSS in KiB).
measure() { # out-file cmd...
  local out=$1; shift
  python3 - "$out" "$@" <<'EOF'
import resource, subprocess, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t0 = time.monotonic()
p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.monotonic() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
sys.stderr.buffer.write(p.stdout + p.stderr)
open(out, "w").write("%.3f %d %d\n" % (wall, rss, p.returncode))
EOF
}

# Wall seconds from exec of a server to its first PONG.
time_to_pong() { # port password start-command...
  local port=$1 pw=$2; shift 2
  python3 - "$port" "$pw" "$@" <<'EOF'
import subprocess, sys, time
port, pw, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
t0 = time.monotonic()
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while True:
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", port, "-a", pw, "--no-auth-warning", "ping"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    if r.stdout.strip() == b"PONG":
        break
    if p.poll() is not None or time.monotonic() - t0 > 600:
        print("server did not come up", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.005)
print("%.3f %d" % (time.monotonic() - t0, p.pid))
EOF
}

echo "== redis-server loading the dump" >&2
mkdir -p "$WORK/load"
cp "$DUMP" "$WORK/load/dump.rdb"
LPORT=$(free_port)
read -r REDIS_WALL REDIS_PID < <(time_to_pong "$LPORT" "$PASS" redis-server --port "$LPORT" \
  --bind 127.0.0.1 --requirepass "$PASS" --dir "$WORK/load" --save "" --appendonly no \
  --logfile "$WORK/load/log")
PIDS+=("$REDIS_PID")
REDIS_LOGGED=$(sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' "$WORK/load/log" | tail -1)
REDIS_RSS=$(awk '/VmHWM/ {print $2}' "/proc/$REDIS_PID/status")
LOADED=$(redis-cli -h 127.0.0.1 -p "$LPORT" -a "$PASS" --no-auth-warning DBSIZE)
kill "$REDIS_PID"

echo "== red import of the same dump" >&2
start_reddb target
KEY=${PW[target]}
kill "${PID[target]}"; wait "${PID[target]}" 2>/dev/null || true
export REDDB_CERTIFICATE_FILE="$WORK/target/data.rdb.cert"
measure "$WORK/import.time" "$RED" import --path "$WORK/target/data.rdb" --rdb "$DUMP" \
  2>"$WORK/import.out"
read -r RED_WALL RED_RSS RED_RC <"$WORK/import.time"
[ "$RED_RC" = 0 ] || { echo "red import failed:" >&2; cat "$WORK/import.out" >&2; exit 1; }
IMPORTED=$(sed -n 's/^total: \([0-9]*\) keys imported.*/\1/p' "$WORK/import.out")
DB_BYTES=$(stat -c %s "$WORK/target/data.rdb")

echo "== red server on the imported file" >&2
RPORT=$(free_port); HPORT=$(free_port)
read -r START_WALL START_PID < <(time_to_pong "$RPORT" "$KEY" "$RED" server \
  --path "$WORK/target/data.rdb" --http-bind "127.0.0.1:$HPORT" --wire-bind "127.0.0.1:$RPORT")
PIDS+=("$START_PID")
SERVED=$(redis-cli -h 127.0.0.1 -p "$RPORT" -a "$KEY" --no-auth-warning DBSIZE)
START_RSS=$(awk '/VmHWM/ {print $2}' "/proc/$START_PID/status")

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
echo
echo "rdb import, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores; dump: $HAVE keys, $((DUMP_BYTES / 1048576)) MiB"
printf '%-34s %10s %12s %10s\n' "" "seconds" "peak RSS MiB" "vs redis"
printf '%-34s %10s %12s %10s\n' "redis-server load (to PONG)" "$REDIS_WALL" "$((REDIS_RSS / 1024))" "1.00"
printf '%-34s %10s %12s %10s\n' "  (as redis logs it)" "${REDIS_LOGGED:-?}" "" ""
printf '%-34s %10s %12s %10s\n' "red import" "$RED_WALL" "$((RED_RSS / 1024))" "$(ratio "$RED_WALL" "$REDIS_WALL")"
printf '%-34s %10s %12s %10s\n' "red server start on the result" "$START_WALL" "$((START_RSS / 1024))" "$(ratio "$START_WALL" "$REDIS_WALL")"
echo "keys: redis loaded $LOADED, red imported $IMPORTED, red serves $SERVED; database file $((DB_BYTES / 1048576)) MiB"
echo "peak RSS ratio (red import / redis load): $(ratio "$RED_RSS" "$REDIS_RSS")"
