#!/usr/bin/env bash
# `red migrate` throughput: seed 001's shape (OAuth tokens as JSON strings
# with a 30-day TTL, one token-index set per user) copied from Debian's
# redis-server into reddb, and — the same command, the same data — into a
# second redis-server with `appendonly yes, appendfsync always`, so the
# target's share of the cost shows side by side.
#
#   bench/migrate.sh [--tokens N] [--users N] [--batch N] [--skip-build]
#
# Defaults: 200,000 tokens, 10,000 users (their token-index sets hold 20
# tokens each), batch 1000. Prints per target: keys, seconds, keys/s, the
# peak RSS of `red migrate`, and the reddb/redis time ratio. Needs
# redis-server, redis-cli, python3, GNU time and cargo. Everything runs
# under `timeout`; everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

TOKENS=200000
USERS=10000
BATCH=1000
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --tokens) TOKENS="$2"; shift 2 ;;
    --users) USERS="$2"; shift 2 ;;
    --batch) BATCH="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--tokens N] [--users N] [--batch N] [--skip-build]" >&2; exit 2 ;;
  esac
done
for tool in redis-server redis-cli python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt install redis-server time)" >&2; exit 2; }
done
if [ "$BUILD" = 1 ]; then
  timeout 1500 cargo build --release --quiet
fi
RED=target/release/red
[ -x "$RED" ] || { echo "no $RED" >&2; exit 2; }

# shellcheck source=bench/servers.sh
. bench/servers.sh
bench_servers_init red-migrate-bench

start_redis source
start_redis redis-target --appendonly yes --appendfsync always
start_reddb reddb

echo "filling the source: $TOKENS tokens, $USERS token-index sets"
python3 - "$TOKENS" "$USERS" <<'PY' | timeout 600 redis-cli -h 127.0.0.1 -p "${PORT[source]}" -a "$PASS" --no-auth-warning --pipe >/dev/null
import sys
tokens, users = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
def cmd(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    out.write(b"".join(parts))
for i in range(tokens):
    user = i % max(users, 1)
    cmd("SET", "oauth:token:jti_%08d" % i,
        '{"client_id":"client_%d","user_id":"github|user%d","scope":"mcp:*",'
        '"issued_at":"2024-01-01T00:00:00Z","expires_at":"2024-01-31T00:00:00Z"}' % (i % 500, user),
        "EX", "2592000")
    if users:
        cmd("SADD", "oauth:user_tokens:user%d" % user, "jti_%08d" % i)
PY
KEYS=$(redis-cli -h 127.0.0.1 -p "${PORT[source]}" -a "$PASS" --no-auth-warning DBSIZE)
echo "source keys: $KEYS"

run_migrate() { # target-name -> prints "seconds peak_rss_kib"
  local name=$1
  REDDB_MIGRATE_FROM_PASSWORD="$PASS" REDDB_MIGRATE_TO_KEY="${PW[$name]}" \
    timeout 1800 /usr/bin/time -f "%e %M" -o "$WORK/$name.time" \
    "$RED" migrate --from "redis://127.0.0.1:${PORT[source]}/0" \
    --to "redis://127.0.0.1:${PORT[$name]}/0" --batch "$BATCH" \
    --state "$WORK/$name.state" >"$WORK/$name.out"
  local copied
  copied=$(redis-cli -h 127.0.0.1 -p "${PORT[$name]}" -a "${PW[$name]}" --no-auth-warning DBSIZE)
  [ "$copied" = "$KEYS" ] || { echo "$name holds $copied keys, the source $KEYS" >&2; exit 1; }
  cat "$WORK/$name.time"
}

read -r REDDB_S REDDB_RSS < <(run_migrate reddb)
read -r REDIS_S REDIS_RSS < <(run_migrate redis-target)
python3 - "$KEYS" "$REDDB_S" "$REDDB_RSS" "$REDIS_S" "$REDIS_RSS" <<'PY'
import sys
keys = int(sys.argv[1])
rows = [("reddb (--fsync always)", float(sys.argv[2]), int(sys.argv[3])),
        ("redis-server (appendfsync always)", float(sys.argv[4]), int(sys.argv[5]))]
print("%-36s %8s %8s %9s %22s" % ("target", "keys", "seconds", "keys/s", "red migrate peak RSS"))
for name, s, rss in rows:
    print("%-36s %8d %8.2f %9.0f %18.1f MiB" % (name, keys, s, keys / max(s, 1e-9), rss / 1024))
print("time ratio reddb / redis-server: %.2f" % (rows[0][1] / max(rows[1][1], 1e-9)))
PY
