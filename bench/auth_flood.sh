#!/usr/bin/env bash
# Credential-flood bench (a script for humans, not a test): other clients'
# latency idle and while one peer floods bad bearers, failed wire AUTH,
# NOAUTH and failed logins (security review items 4 and 5), with the audit
# events each flood adds. See bench/auth_flood.py for the phases.
#
# usage: bench/auth_flood.sh [--before OLD_BINARY] [--seconds S] [--threads N] [--kinds a,b] [--no-build]
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
exec python3 bench/auth_flood.py --red target/release/red "${args[@]+"${args[@]}"}"
