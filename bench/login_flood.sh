#!/usr/bin/env bash
# Login-flood bench (a script for humans, not a test).
#
# Builds the release binary, starts a bootstrapped `red server` on a free
# loopback port in a temporary directory, and measures secret-read latency
# (p50/p99 over sequential GETs on one keep-alive connection):
#   1. alone;
#   2. while 200 concurrent clients hammer POST /auth/login with wrong
#      passwords, each from its own loopback address (127.77.0.x), so the
#      per-peer limiter does not shed them and the Argon2 pool stays saturated;
#   3. while the same 200 clients hammer from one address (127.0.0.1), where
#      the per-peer limiter answers 429 without Argon2 work.
# Prints p50/p99/max of each phase and the ratios to the idle phase.
# Everything is bounded in time and count (the measurement itself well under
# 2 minutes); the server is killed on exit.
#
# With at least 2 CPUs allowed the processes are pinned with taskset (and
# printed): the server on --server-cpu (default the first allowed CPU), the
# flood clients on --client-cpu (default the next one), and the measuring
# reader on --reader-cpu (default the client CPU: it is a client, and on the
# server's core it would take the loop's time). So the load generator never
# runs on the server's core and the figure measures the server. --no-pin
# turns it off. Each phase also prints the reader's own wake-up jitter on its
# core, without any request, to tell client-side delay from server delay.
#
# usage: bench/login_flood.sh [--requests N] [--threads N] [--min-seconds S] [--max-seconds S]
#                             [--server-cpu CPU] [--client-cpu CPU] [--reader-cpu CPU] [--no-pin]
#                             [--server-workers N] [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
args=()
for a in "$@"; do
    if [[ "$a" == "--no-build" ]]; then build=0; else args+=("$a"); fi
done
if [[ $build == 1 ]]; then
    cargo build --release --bin red >&2
fi
exec python3 bench/login_flood.py --red target/release/red "${args[@]+"${args[@]}"}"
