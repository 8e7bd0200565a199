#!/usr/bin/env bash
# What one pipelined wire command costs in user space, parsing to encoded
# reply, in process: no sockets, no kernel, no load generator on the other
# core (crates/server/src/wire/command_path_bench.rs, an ignored test).
# On this kind of shared VM a socket benchmark drifts by ±9 % between
# rounds and whole runs by up to 2×; this one, run in short turns and
# read by its fastest round, separates builds about 5 % apart (the
# same build lands within ±6 % of itself across 6 turns).
#
#   bench/command_path.sh [--turns N] [--rounds N] [--against GIT-REV]
#
# Builds the server crate's test binary (release) and runs the benchmark
# --turns times (default 5), each run --rounds rounds (default 5) of
# 20,000 commands per workload (SET, GET, INCR, LPUSH, and SADD/ZADD of a
# member already there; 16 per batch), on
# CPU 1. With --against REV the same test of REV (built in a worktree
# under target/command-path-against) takes turns with this tree's, and the
# last lines give each workload's fastest round in both and their ratio.
# Prints nanoseconds per command: the median of each turn's medians and
# the fastest round of all turns.
set -euo pipefail
cd "$(dirname "$0")/.."
TURNS=5
ROUNDS=5
AGAINST=""
while [ $# -gt 0 ]; do
  case "$1" in
    --turns) TURNS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --against) AGAINST="$2"; shift 2 ;;
    *) echo "usage: $0 [--turns N] [--rounds N] [--against GIT-REV]" >&2; exit 2 ;;
  esac
done
# shellcheck source=bench/servers.sh
source bench/servers.sh # bench_median, bench_ratio
WORK=$(mktemp -d /tmp/command-path.XXXXXX)
cleanup() {
  if [ -n "$AGAINST" ] && [ -d "$WORK/tree" ]; then
    git worktree remove --force "$WORK/tree" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

build() { # [dir] [target-dir]: prints the test binary's path
  local dir=${1:-.} target=${2:-target}
  (cd "$dir" && CARGO_TARGET_DIR=$target timeout 1800 cargo test --release -p reddb-server \
    --lib --no-run --message-format=json 2>/dev/null) |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "reddb_server" and m.get("executable"):
        print(m["executable"])'
}

declare -A BIN
BIN[this]=$(build)
names=(this)
if [ -n "$AGAINST" ]; then
  git worktree add --detach "$WORK/tree" "$AGAINST" >/dev/null 2>&1
  # The same benchmark on the revision's code: this tree's copy of it
  # (registered, for a revision from before it).
  if ! grep -q '^mod command_path_bench;' "$WORK/tree/crates/server/src/wire/mod.rs"; then
    sed -i 's/^mod command_clock;$/mod command_clock;\n#[cfg(test)]\nmod command_path_bench;/' \
      "$WORK/tree/crates/server/src/wire/mod.rs"
  fi
  cp crates/server/src/wire/command_path_bench.rs "$WORK/tree/crates/server/src/wire/"
  BIN[against]=$(build "$WORK/tree" "$PWD/target/command-path-against")
  names+=(against)
fi
for n in "${names[@]}"; do
  [ -x "${BIN[$n]}" ] || { echo "no test binary for $n" >&2; exit 2; }
done

cpu=()
[ "$(nproc)" -ge 2 ] && cpu=(taskset -c 1)
for turn in $(seq 1 "$TURNS"); do
  for n in "${names[@]}"; do
    ROUNDS=$ROUNDS "${cpu[@]}" "${BIN[$n]}" command_path --ignored --nocapture --test-threads 1 2>/dev/null |
      sed -n 's/.*\(SET\|GET\|INCR\|LPUSH\|SADD\|ZADD\) *-P 16: *\([0-9.]*\) ns.*fastest *\([0-9.]*\).*/\1 \2 \3/p' |
      while read -r test median fastest; do echo "$n $test $median $fastest"; done >>"$WORK/results"
  done
  echo "turn $turn of $TURNS done" >&2
done

declare -A FAST
echo "ns per command, turns: $TURNS, rounds per turn: $ROUNDS (median of the turns' medians, fastest round)"
for test in SET GET INCR LPUSH SADD ZADD; do
  line="$test -P 16:"
  for n in "${names[@]}"; do
    # shellcheck disable=SC2046
    med=$(bench_median $(awk -v n="$n" -v t="$test" '$1 == n && $2 == t { print $3 }' "$WORK/results"))
    fast=$(awk -v n="$n" -v t="$test" '$1 == n && $2 == t { print $4 }' "$WORK/results" | sort -g | head -1)
    line="$line  $n $med (fastest $fast)"
    FAST[$n]=$fast
  done
  if [ -n "$AGAINST" ]; then
    line="$line  this/against fastest $(bench_ratio "${FAST[this]}" "${FAST[against]}")"
  fi
  echo "$line"
done
