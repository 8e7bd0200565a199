#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each and prints one
# summary line per target. Exits non-zero if any target crashed or failed.
#
#   bash fuzz/run.sh SECONDS [TARGET...]
#
# Seeds are read from fuzz/corpus/TARGET (committed); new inputs the fuzzer
# finds go to fuzz/corpus-work/TARGET (git-ignored). Crash reproducers land
# in fuzz/artifacts/TARGET and full logs in fuzz/logs/TARGET.log.
set -euo pipefail

usage() {
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
}

[[ $# -ge 1 ]] || usage
max_time="$1"
shift
[[ "$max_time" =~ ^[1-9][0-9]*$ ]] || usage

cd "$(dirname "${BASH_SOURCE[0]}")"

all_targets=(meta_page vault_page log_record log_page certificate resp http_request)
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    targets=("${all_targets[@]}")
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz not found: installing it" >&2
    cargo install cargo-fuzz --locked
fi

# cargo-fuzz builds with -Zsanitizer=address and other unstable flags; this
# is a stable toolchain, so allow them explicitly.
export RUSTC_BOOTSTRAP=1

# Build everything first so each target's time budget is spent fuzzing.
for t in "${targets[@]}"; do
    cargo fuzz build "$t"
done

mkdir -p logs
failed=0
summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "corpus-work/$t" "artifacts/$t"
    log="logs/$t.log"
    echo "== fuzzing $t for ${max_time}s (log: fuzz/$log)" >&2
    rc=0
    cargo fuzz run "$t" "corpus-work/$t" "corpus/$t" -- \
        -max_total_time="$max_time" -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1 || rc=$?

    runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    if [[ -z "$runs" ]]; then
        runs=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)
    fi
    cov=$(sed -n 's/.* cov: \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    crashes=$(find "artifacts/$t" -type f | wc -l | tr -d ' ')

    status=ok
    if [[ "$crashes" -gt 0 ]]; then
        status=CRASHED
    elif [[ "$rc" -ne 0 ]]; then
        status="FAILED(exit $rc)"
    fi
    if [[ "$status" != ok ]]; then
        failed=1
        echo "-- last lines of fuzz/$log:" >&2
        tail -n 40 "$log" >&2
    fi
    summary+=("$(printf '%-12s runs=%-10s cov=%-6s crashes=%-3s %s' \
        "$t" "${runs:-?}" "${cov:-?}" "$crashes" "$status")")
done

echo
echo "fuzz summary (${max_time}s per target):"
printf '%s\n' "${summary[@]}"
exit "$failed"
