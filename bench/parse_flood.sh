#!/usr/bin/env bash
# Parser and body floods (security review item 7): a script for humans, not a
# test.
#
# Builds the release binary, then runs bench/parse_flood.py: for each binary
# (this build, and first the baseline when one is given), a `red server
# --dev` in a temporary directory; other clients (GET /health on a new
# connection, authenticated RESP PING and GET) are measured idle, then while
# 16 connections write 16,383-byte HTTP heads one byte per write, while 16
# anonymous wire connections write 64 KiB inline lines one byte per write,
# and while 4 clients POST 1 MiB bodies with a refused bearer. Prints one
# JSON document and a Markdown table: p50/p99 per phase and p99 against
# idle, server CPU seconds (and per KiB of flood), what the floods got
# answered. Bounded: about 25 s per binary with the defaults (3 s idle,
# 6 + 8 + 6 s of floods), plus start-up; the whole run is killed at 180 s.
#
# usage: bench/parse_flood.sh [--no-build] [--baseline PATH_TO_OLD_RED] [parse_flood.py options]
#   e.g. bench/parse_flood.sh --baseline /work/main/target/release/red
set -euo pipefail
cd "$(dirname "$0")/.."
build=1
args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --no-build) build=0 ;;
    --baseline)
        args+=(--baseline-red "$2")
        shift
        ;;
    *) args+=("$1") ;;
    esac
    shift
done
if [[ $build == 1 ]]; then
    cargo build --release --bin red >&2
fi
exec timeout --kill-after=30 180 \
    python3 bench/parse_flood.py --red target/release/red "${args[@]+"${args[@]}"}"
