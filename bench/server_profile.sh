#!/usr/bin/env bash
# Where reddb's server time goes during one redis-benchmark test: perf
# samples the server (with DWARF call graphs) and prints the top symbols by
# their own share and by the share of everything under them.
#
#   bench/server_profile.sh [--test get] [--requests N] [--pipeline N] [--skip-build]
#   (RED=path/to/red profiles another build; it wants debug info for names
#   of inlined functions)
#
# Builds a release `red` with debug info into target/profile-build (the
# release profile with CARGO_PROFILE_RELEASE_DEBUG=1: the same code,
# symbols kept), starts it (--dev, --fsync always), writes 20,000 SETs,
# then runs `redis-benchmark -t TEST -c 50 -n N -P PIPELINE` while
# `perf record -F 2000 --call-graph dwarf` samples the server. Needs perf
# (apt install linux-perf), redis-benchmark, redis-cli and cargo.
set -euo pipefail
cd "$(dirname "$0")/.."
TEST=get
REQUESTS=1000000
PIPELINE=16
BUILD=1
while [ $# -gt 0 ]; do
  case "$1" in
    --test) TEST="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --pipeline) PIPELINE="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    *) echo "usage: $0 [--test get] [--requests N] [--pipeline N] [--skip-build]" >&2; exit 2 ;;
  esac
done
if [ -z "${RED:-}" ]; then
  if [ "$BUILD" = 1 ]; then
    CARGO_TARGET_DIR=target/profile-build CARGO_PROFILE_RELEASE_DEBUG=1 \
      timeout 1200 cargo build --release --quiet --bin red
  fi
  RED=target/profile-build/release/red
fi
# shellcheck source=bench/servers.sh
source bench/servers.sh
BUILD=0 bench_prepare perf redis-benchmark redis-cli
bench_servers_init reddb-profile
start_reddb
args=(-h 127.0.0.1 -p "${PORT[reddb]}" -a "${PW[reddb]}" -c 50 -P "$PIPELINE" --csv)
timeout 300 redis-benchmark "${args[@]}" -n 20000 -t set >/dev/null 2>&1
perf record -q -F 2000 --call-graph dwarf,16384 -o "$WORK/perf.data" -p "${PID[reddb]}" 2>/dev/null &
perf_pid=$!
sleep 0.5
timeout 600 redis-benchmark "${args[@]}" -n "$REQUESTS" -t "$TEST" 2>/dev/null | tail -1
kill -INT "$perf_pid"; wait "$perf_pid" || true
report() { perf report -i "$WORK/perf.data" --stdio -g none --sort sym "$@" 2>/dev/null | grep -v '^#' | grep -v '^$'; }
echo "== own share (--no-children), top 25"
report --no-children --percent-limit 0.5 | head -25
echo "== with everything under it (--children), top 40"
report --children --percent-limit 2 | head -40
