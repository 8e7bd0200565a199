#!/usr/bin/env bash
# Idle-connection flood plus slowloris (a script for humans, not a test).
#
# Builds the release binary, raises the open-file limit of this shell (the
# client and the server it starts inherit it), then runs bench/idle_flood.py:
# a `red server --dev` in a temporary directory, 5,000 idle TCP connections
# (half HTTP, half wire), three slowloris clients (HTTP header trickle, HTTP
# body trickle, RESP trickle), and normal clients measured throughout
# (GET /health, an authenticated secret read, RESP PING and GET: p50/p99 and
# success counts, baseline vs flood), the server's VmRSS/VmHWM, the idle
# connections the server closes over time and how each slowloris connection
# ends. Prints one JSON document. Bounded: SECONDS of flood (default 75, so
# the 60 s idle timeout is seen) plus a few seconds of set-up.
#
# usage: bench/idle_flood.sh [SECONDS] [--idle N] [--no-build] [--server-arg ARG]...
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=75
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then
    seconds="$1"
    shift
fi
build=1
args=()
for a in "$@"; do
    if [[ "$a" == "--no-build" ]]; then build=0; else args+=("$a"); fi
done
if [[ $build == 1 ]]; then
    cargo build --release --bin red >&2
fi
hard=$(ulimit -Hn)
if [[ "$hard" == unlimited || "$hard" -ge 8192 ]]; then
    ulimit -Sn 8192
else
    ulimit -Sn "$hard"
fi
echo "open-file limit for the client and the server: $(ulimit -n) (hard $hard)" >&2
exec timeout --kill-after=30 $((seconds + 120)) \
    python3 bench/idle_flood.py --red target/release/red --seconds "$seconds" "${args[@]+"${args[@]}"}"
