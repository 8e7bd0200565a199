#!/usr/bin/env bash
# scripts/crash_torture.sh — owns the long run of the real-binary crash
# torture (issue 8, part 3): tests/crash_torture.rs with
# REDDB_TORTURE_CYCLES set, then a summary of its figures.
#
#   scripts/crash_torture.sh [CYCLES]      default 1000
#
# Builds and runs the test in the release profile (the `red` binary it
# starts is then the release one too, as shipped). REDDB_TORTURE_PROFILE=debug
# runs the debug build instead. REDDB_TORTURE_SEED=<n> replays the kill
# schedule a failure printed; REDDB_TORTURE_KEEP=1 keeps the database
# directory. Exit status: the test's.
set -euo pipefail

cycles="${1:-1000}"
case "$cycles" in
    '' | *[!0-9]*)
        echo "usage: $0 [CYCLES]   (CYCLES: a positive number, default 1000)" >&2
        exit 2
        ;;
esac
profile="${REDDB_TORTURE_PROFILE:-release}"
case "$profile" in
    release) profile_flag=(--release) ;;
    debug) profile_flag=() ;;
    *)
        echo "REDDB_TORTURE_PROFILE must be release or debug" >&2
        exit 2
        ;;
esac

cd "$(dirname "$0")/.."
log="$(mktemp "${TMPDIR:-/tmp}/crash-torture-log.XXXXXX")"
trap 'rm -f "$log"' EXIT

echo "crash torture: $cycles cycles, $profile build, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
started=$(date +%s)
set +e
REDDB_TORTURE_CYCLES="$cycles" cargo test "${profile_flag[@]}" --test crash_torture -- \
    --nocapture --test-threads 1 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
wall=$(($(date +%s) - started))

summary="$(grep -E '^crash torture: seed=' "$log" || true)"
if [ "$status" -ne 0 ] || [ -z "$summary" ]; then
    echo
    echo "crash torture FAILED (exit $status) after ${wall}s wall time."
    grep -E 'crash torture FAILED|directory kept' "$log" || true
    exit $(( status == 0 ? 1 : status ))
fi

declare -A f
for kv in ${summary#crash torture: }; do
    f["${kv%%=*}"]="${kv#*=}"
done

echo
echo "=== crash torture summary ($profile build) ==="
echo "seed:                        ${f[seed]}"
echo "cycles:                      ${f[cycles]} (kill -9 under load; ${f[kills]} kills in all, ${f[recovery_kills]} of them during recovery)"
echo "acknowledged writes checked: ${f[acked_ops_checked]} operations (${f[multi_key_acked]} of them multi-key: MSET, multi-field HSET, MULTI/EXEC)"
echo "cells read back:             ${f[cells_checked]} written in their cycle + ${f[sampled_checked]} sampled older ones; ${f[full_checks]} full read-backs"
echo "in-doubt writes:             ${f[in_doubt]} (survived whole: ${f[in_doubt_applied]}, absent whole: ${f[in_doubt_absent]}, half-applied: 0)"
echo "live cells at the end:       ${f[live_cells]} (file ${f[file_bytes]} bytes; ${f[compactions]} compactions completed under load)"
echo "red check after the run:     $(grep -E '^red check after the last kill: ' "$log" | sed 's/^red check after the last kill: //')"
echo "kill delay / restart:        mean ${f[mean_kill_delay_ms]} ms after the writers start / restart to serving mean ${f[mean_restart_ms]} ms, max ${f[max_restart_ms]} ms"
echo "elapsed:                     ${f[elapsed_s]} s in the test, ${wall} s wall (build included)"
