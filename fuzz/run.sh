#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each and prints one
# summary line per target. Exits non-zero if any target crashed or failed.
#
#   bash fuzz/run.sh SECONDS [TARGET...]
#   FUZZ_SEED=1 bash fuzz/run.sh SECONDS [TARGET...]   (replay mode)
#
# Without FUZZ_SEED each run explores from a random seed: the campaign mode,
# which finds new bugs and so may fail on any day. With FUZZ_SEED the run is
# a replay: a fixed seed and a fixed number of runs per target (replay_runs
# below) from the committed seeds only, so every machine executes the same
# inputs and the result changes only when the code does. CI runs the
# replay; a campaign's finds are fixed and their inputs committed as seeds.
#
# Seeds are read from fuzz/corpus/TARGET (committed); new inputs the fuzzer
# finds go to fuzz/corpus-work/TARGET (git-ignored). Crash reproducers land
# in fuzz/artifacts/TARGET and full logs in fuzz/logs/TARGET.log.
#
# Every target is built first; the runs then start the built binaries
# directly, so nothing is rebuilt (and no budget is spent compiling) while
# the targets run, even if sources change meanwhile.
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

# Runs per target in replay mode (FUZZ_SEED set): about half of what each
# target executes in 60 s on a 2-core CI machine, so a replay finishes
# within its time limit there.
declare -A replay_runs=(
    [meta_page]=1000000 [vault_page]=1500000 [log_record]=250000
    [log_page]=100000 [certificate]=3000000 [resp]=800000
    [http_request]=500000 [json_body]=15000 [credentials]=70000
    [share]=300000 [wire_commands]=20000 [lua_cjson_decode]=15000 [lua_resp]=40000
    [rdb]=150000
)

all_targets=(meta_page vault_page log_record log_page certificate resp http_request json_body credentials share wire_commands lua_cjson_decode lua_resp rdb)
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

# Build everything first so each target's time budget is spent fuzzing:
# one `cargo fuzz build` for all targets, so the library (whose build script
# reruns on every commit) is compiled once, not once per target.
cargo fuzz build
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="target/$host/release"

mkdir -p logs
failed=0
summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "corpus-work/$t" "artifacts/$t"
    log="logs/$t.log"
    echo "== fuzzing $t for ${max_time}s (log: fuzz/$log)" >&2
    # json_body keeps an unsealed database (guarded key memory) alive
    # across inputs, which LeakSanitizer cannot scan: see its header.
    extra=()
    if [[ "$t" == json_body ]]; then
        extra=(-detect_leaks=0)
    fi
    corpora=("corpus-work/$t" "corpus/$t")
    if [[ -n "${FUZZ_SEED:-}" ]]; then
        # Replay mode: a fixed seed, a fixed number of runs, and only the
        # committed seeds as the starting corpus (new finds go to a fresh
        # directory), so the run is the same sequence of inputs on every
        # machine; the time limit only caps a slow machine.
        extra+=(-seed="$FUZZ_SEED" -runs="${replay_runs[$t]}")
        rm -rf "corpus-replay/$t"
        mkdir -p "corpus-replay/$t"
        corpora=("corpus-replay/$t" "corpus/$t")
    fi
    rc=0
    "$bin_dir/$t" -artifact_prefix="artifacts/$t/" \
        -max_total_time="$max_time" -rss_limit_mb=2048 -print_final_stats=1 \
        "${extra[@]}" "${corpora[@]}" >"$log" 2>&1 || rc=$?

    stat() { sed -n "s/^stat::$1: *\([0-9][0-9]*\).*/\1/p" "$log" | tail -n 1; }
    runs=$(stat number_of_executed_units)
    if [[ -z "$runs" ]]; then
        runs=$(sed -n 's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$log" | tail -n 1)
    fi
    execs=$(stat average_exec_per_sec)
    cov=$(sed -n 's/.* cov: \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    ft=$(sed -n 's/.* ft: \([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    corp=$(sed -n 's/.* corp: \([0-9][0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' "$log" | tail -n 1)
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
    summary+=("$(printf '%-12s runs=%-10s exec/s=%-7s cov=%-6s ft=%-6s corpus=%-12s crashes=%-3s %s' \
        "$t" "${runs:-?}" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes" "$status")")
    # Printed as it goes too, so a long campaign's log shows progress.
    echo "${summary[-1]}" >&2
done

echo
echo "fuzz summary (${max_time}s per target, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores):"
printf '%s\n' "${summary[@]}"
exit "$failed"
