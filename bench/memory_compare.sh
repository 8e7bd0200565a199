#!/usr/bin/env bash
# Memory of reddb against Redis, side by side, for the shapes of issue 18.
#
#   bench/memory_compare.sh [--shapes strings,hashes,sets,zsets] [--scale F] [--settle S] [--skip-build]
#   (RED=path/to/red measures another build, e.g. an older commit's)
#
# For each shape, starts a fresh Debian redis-server (requirepass, no
# persistence) and a fresh reddb (release build, `--dev`), loads the same
# generated commands into both with `redis-cli --pipe`, waits --settle
# seconds (default 3; reddb returns the heap pages a burst of writes freed
# at its next once-a-second tick, Redis's jemalloc purges on its own
# clock) and reads each server's VmRSS from /proc. Shapes (--scale
# multiplies the counts, for a quick run):
#   strings  1,000,000 x SET key:%010d <100 bytes>
#   hashes     100,000 x HSET hash:%08d with 10 fields (8-byte names, 16-byte values)
#   sets       100,000 x SADD set:%08d with 10 members of 16 bytes
#   zsets       10,000 x ZADD zset:%06d with 100 members of 16 bytes, integer scores
# Values and members are random hex (seeded: every run loads the same
# bytes). Prints a Markdown table with reddb/redis ratios. Needs
# redis-server and redis-cli (apt install redis-server) and cargo; every
# step runs under `timeout`; everything started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

SHAPES=strings,hashes,sets,zsets
SCALE=1
SETTLE=3
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --shapes) SHAPES="$2"; shift 2 ;;
    --scale) SCALE="$2"; shift 2 ;;
    --settle) SETTLE="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--shapes LIST] [--scale F] [--settle S] [--skip-build]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/servers.sh
source bench/servers.sh
bench_prepare redis-server redis-cli
bench_servers_init reddb-memory

count() { awk -v n="$1" -v f="$SCALE" 'BEGIN { printf "%d", n * f }'; }

# write_shape FILE SHAPE: the shape's commands as RESP.
write_shape() {
  case "$2" in
    strings) write_set_load "$1" "$(count 1000000)" random; return ;;
    hashes) n=$(count 100000) ;;
    sets) n=$(count 100000) ;;
    zsets) n=$(count 10000) ;;
    *) echo "unknown shape $2" >&2; exit 2 ;;
  esac
  awk -v n="$n" -v shape="$2" '
    function hex(len,   s) { s = ""; while (length(s) < len) s = s sprintf("%08x", int(rand() * 4294967296)); return substr(s, 1, len) }
    function bulk(s) { return sprintf("$%d\r\n%s\r\n", length(s), s) }
    BEGIN {
      srand(1);
      for (i = 0; i < n; i++) {
        if (shape == "hashes") {
          out = "*22\r\n" bulk("HSET") bulk(sprintf("hash:%08d", i));
          for (j = 0; j < 10; j++) out = out bulk(sprintf("field:%02d", j)) bulk(hex(16));
        } else if (shape == "sets") {
          out = "*12\r\n" bulk("SADD") bulk(sprintf("set:%08d", i));
          for (j = 0; j < 10; j++) out = out bulk(hex(16));
        } else {
          out = "*202\r\n" bulk("ZADD") bulk(sprintf("zset:%06d", i));
          for (j = 0; j < 100; j++) out = out bulk(sprintf("%d", int(rand() * 1000000))) bulk(hex(16));
        }
        printf "%s", out;
      }
    }' >"$1"
}

rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

declare -A RSS_OF KEYS_OF
IFS=, read -r -a shape_list <<<"$SHAPES"
for shape in "${shape_list[@]}"; do
  echo "== $shape" >&2
  file="$WORK/$shape.resp"
  write_shape "$file" "$shape"
  start_redis "redis-$shape" --appendonly no
  start_reddb "reddb-$shape"
  for server in "redis-$shape" "reddb-$shape"; do
    timeout 900 redis-cli -h 127.0.0.1 -p "${PORT[$server]}" -a "${PW[$server]}" --no-auth-warning \
      --pipe <"$file" >"$WORK/$server.pipe" 2>&1 || { cat "$WORK/$server.pipe" >&2; exit 1; }
  done
  sleep "$SETTLE"
  for server in "redis-$shape" "reddb-$shape"; do
    KEYS_OF[$server]=$(redis-cli -h 127.0.0.1 -p "${PORT[$server]}" -a "${PW[$server]}" --no-auth-warning dbsize)
    RSS_OF[$server]=$(rss_mib "${PID[$server]}")
    echo "  $server: ${KEYS_OF[$server]} keys, RSS ${RSS_OF[$server]} MiB ($(tail -1 "$WORK/$server.pipe"))" >&2
  done
  # This shape's servers stop before the next one starts.
  for server in "redis-$shape" "reddb-$shape"; do
    kill "${PID[$server]}" 2>/dev/null || true
    wait "${PID[$server]}" 2>/dev/null || true
  done
  rm -f "$file"
done

echo
echo "RSS after loading, reddb vs Redis $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p') (no persistence), settled ${SETTLE} s"
echo
echo "| shape | keys | redis RSS (MiB) | reddb RSS (MiB) | reddb / redis |"
echo "|---|---:|---:|---:|---:|"
for shape in "${shape_list[@]}"; do
  a=${RSS_OF[redis-$shape]}; r=${RSS_OF[reddb-$shape]}
  echo "| $shape | ${KEYS_OF[reddb-$shape]} | $a | $r | $(awk -v a="$a" -v r="$r" 'BEGIN { printf "%.2f", r / a }') |"
done
