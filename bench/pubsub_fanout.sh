#!/usr/bin/env bash
# PUBLISH fan-out to 100 subscribers, redis-server and red side by side in
# one run (a script for humans, not a test): messages delivered per second
# and the ratio. See bench/pubsub_fanout.py for what is measured.
#
# usage: bench/pubsub_fanout.sh [--subscribers N] [--messages N] [--size BYTES] [--batch N] [--no-build]
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
exec timeout 900 python3 bench/pubsub_fanout.py --red target/release/red "${args[@]+"${args[@]}"}"
