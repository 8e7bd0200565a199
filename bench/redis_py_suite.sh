#!/usr/bin/env bash
# redis-py's own test suite as an outside oracle: run it against Debian's
# redis-server (requirepass) and against reddb, then compare.
#
#   bench/redis_py_suite.sh [--sdist PATH] [--red BIN] [--out DIR]
#                           [--protocols "2 3"] [--files "test_commands.py ..."]
#                           [--test-timeout SECS] [--run-timeout SECS] [-k EXPR]
#
# --sdist         redis-py source tarball holding tests/ (default
#                 /tmp/redispy/redis-8.2.0.tar.gz; same version as the
#                 installed redis-py)
# --red           reddb binary (default target/release/red, else target/debug/red)
# --out           where the JUnit XML files and the reports go (default a new
#                 /tmp/redis-py-suite.XXXXXX, kept and printed at the end)
# --protocols     RESP versions to run with the conftest's --protocol (default "2 3")
# --files         test files under tests/ (default test_commands.py
#                 test_connection.py test_pipeline.py test_pubsub.py test_scripting.py)
# --test-timeout  pytest-timeout per test (default 20)
# --run-timeout   `timeout` around each pytest run (default 1500)
# -k              passed to pytest as -k (select tests)
#
# For every protocol, a fresh redis-server (`--requirepass`, no persistence)
# and a fresh reddb (`red server --dev`, its printed API key as password) are
# started on free loopback ports, pytest runs the files against each with
# `--redis-url=redis://:PASS@127.0.0.1:PORT/0 --protocol N --junitxml=...`,
# both servers are stopped (test_auth is deselected: it clears requirepass),
# and bench/redis_py_suite.py prints: tests that pass
# on redis-server, how many of those pass on reddb, and reddb's failures
# grouped by command family (from redis-server's COMMAND DOCS) with the first
# line of each failure. Outputs: OUT/{redis,reddb}-resp{N}.xml, OUT/report-resp{N}.txt.
# Needs: redis-server, python3 with redis-py, pytest, pytest-timeout,
# pytest-asyncio (pip install pytest pytest-timeout pytest-asyncio).
# Builds nothing; every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
HERE=$(pwd)

SDIST=/tmp/redispy/redis-8.2.0.tar.gz
RED=""
OUT=""
PROTOCOLS="2 3"
FILES="test_commands.py test_connection.py test_pipeline.py test_pubsub.py test_scripting.py"
TEST_TIMEOUT=20
RUN_TIMEOUT=1500
KEXPR=""
usage() {
  echo "usage: $0 [--sdist PATH] [--red BIN] [--out DIR] [--protocols \"2 3\"] [--files \"...\"] [--test-timeout S] [--run-timeout S] [-k EXPR]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --sdist) SDIST="$2"; shift 2 ;;
    --red) RED="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --protocols) PROTOCOLS="$2"; shift 2 ;;
    --files) FILES="$2"; shift 2 ;;
    --test-timeout) TEST_TIMEOUT="$2"; shift 2 ;;
    --run-timeout) RUN_TIMEOUT="$2"; shift 2 ;;
    -k) KEXPR="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
done

command -v redis-server >/dev/null || { echo "missing redis-server (apt install redis-server)" >&2; exit 2; }
python3 -c 'import redis, pytest, pytest_timeout, pytest_asyncio' 2>/dev/null || {
  echo "missing python modules: pip install pytest pytest-timeout pytest-asyncio (and redis)" >&2; exit 2; }
[ -f "$SDIST" ] || { echo "no sdist at $SDIST" >&2; exit 2; }
if [ -z "$RED" ]; then
  if [ -x target/release/red ]; then RED=target/release/red; else RED=target/debug/red; fi
fi
[ -x "$RED" ] || { echo "no reddb binary at $RED" >&2; exit 2; }
RED=$(cd "$(dirname "$RED")" && pwd)/$(basename "$RED")
[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/redis-py-suite.XXXXXX)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

WORK=$(mktemp -d /tmp/redis-py-suite-work.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() { # pid: stop one server we started
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # port password
  local i
  for i in $(seq 1 300); do
    if timeout 5 python3 - "$1" "$2" <<'EOF' 2>/dev/null; then return 0; fi
import sys, redis
redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), password=sys.argv[2], protocol=2,
            socket_timeout=2).ping()
EOF
    sleep 0.1
  done
  echo "server on port $1 did not come up" >&2
  return 1
}

# One build for the whole run, even if target/ is rebuilt meanwhile.
RED_DESC="$RED, built $(date -u -r "$RED" +%Y-%m-%dT%H:%MZ)$(git rev-parse --short HEAD 2>/dev/null | sed 's/^/, tree at /')"
cp "$RED" "$WORK/red"
RED="$WORK/red"

tar -xzf "$SDIST" -C "$WORK"
SRC=$(find "$WORK" -maxdepth 3 -path '*/tests/conftest.py' -printf '%h\n' | head -1)
SRC=$(dirname "${SRC:-/nonexistent/x}")
[ -f "$SRC/tests/conftest.py" ] || { echo "no tests/conftest.py in $SDIST" >&2; exit 2; }
# Use the installed redis-py, not the sdist's copy of the package.
rm -rf "$SRC/redis"
SUITE_VERSION=$(basename "$SRC")
INSTALLED=$(python3 -c 'import redis; print(redis.__version__)')

PASS=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
REDIS_PID="" REDIS_PORT="" RED_PID="" RED_PORT="" RED_KEY=""

start_redis() { # dir
  REDIS_PORT=$(free_port)
  mkdir -p "$1"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --requirepass "$PASS" --dir "$1" \
    --daemonize no --save "" --appendonly no --protected-mode yes \
    --enable-debug-command local --logfile "$1/log" &
  REDIS_PID=$!
  PIDS+=("$REDIS_PID")
  wait_port "$REDIS_PORT" "$PASS"
}

start_reddb() { # dir
  RED_PORT=$(free_port)
  local http; http=$(free_port)
  mkdir -p "$1"
  "$RED" server --dev --path "$1/data.rdb" --http-bind "127.0.0.1:$http" \
    --wire-bind "127.0.0.1:$RED_PORT" >"$1/stdout" 2>"$1/stderr" &
  RED_PID=$!
  PIDS+=("$RED_PID")
  RED_KEY=""
  local i
  for i in $(seq 1 300); do
    RED_KEY=$(sed -n 's/^api key: //p' "$1/stdout" 2>/dev/null || true)
    [ -n "$RED_KEY" ] && break
    sleep 0.1
  done
  [ -n "$RED_KEY" ] || { echo "reddb did not print its API key" >&2; cat "$1/stderr" >&2; exit 1; }
  wait_port "$RED_PORT" "$RED_KEY"
}

TEST_PATHS=()
for f in $FILES; do TEST_PATHS+=("tests/$f"); done
# The upstream suite assumes a server without a password. test_auth sets
# `requirepass` and then clears it, which leaves redis-server open and every
# later AUTH failing ("called without any password configured"), so it is
# left out on both sides.
DESELECT=(--deselect tests/test_commands.py::TestRedisCommands::test_auth)
KARGS=()
[ -n "$KEXPR" ] && KARGS=(-k "$KEXPR")

run_pytest() { # name port password protocol
  local name=$1 port=$2 pw=$3 proto=$4
  local xml="$OUT/$name-resp$proto.xml" log="$OUT/$name-resp$proto.log"
  echo "== pytest ($name, RESP$proto) -> $xml" >&2
  # Exit status 1 (some tests failed) is the point of the exercise; 124 is the
  # overall timeout, reported but not fatal (the XML may be missing then).
  local rc=0
  (cd "$SRC" && timeout -k 10 "$RUN_TIMEOUT" python3 -m pytest "${TEST_PATHS[@]}" \
      --redis-url="redis://:$pw@127.0.0.1:$port/0" --protocol "$proto" \
      --junitxml="$xml" -o junit_family=xunit1 -o addopts="" -o log_cli=false \
      -p no:cacheprovider -q -rN --timeout="$TEST_TIMEOUT" \
      -W ignore "${DESELECT[@]}" "${KARGS[@]}") >"$log" 2>&1 || rc=$?
  tail -1 "$log" >&2
  case $rc in
    0|1) ;;
    124|137) echo "   pytest ($name, RESP$proto) hit the ${RUN_TIMEOUT}s run timeout" >&2 ;;
    *) echo "   pytest ($name, RESP$proto) exited $rc; see $log" >&2 ;;
  esac
}

COMMANDS_JSON="$OUT/command-groups.json"
for proto in $PROTOCOLS; do
  start_redis "$WORK/redis-$proto"
  if [ ! -s "$COMMANDS_JSON" ]; then
    timeout 30 python3 - "$REDIS_PORT" "$PASS" "$COMMANDS_JSON" <<'EOF'
import json, sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), password=sys.argv[2], protocol=2)
conn = r.connection_pool.get_connection()
conn.send_command("COMMAND", "DOCS")
raw = conn.read_response()
groups = {}
for i in range(0, len(raw), 2):
    name = raw[i].decode()
    doc = raw[i + 1]
    d = {doc[j].decode(): doc[j + 1] for j in range(0, len(doc), 2)}
    g = d.get(b"group") or d.get("group")
    groups[name.lower()] = g.decode() if isinstance(g, bytes) else str(g)
json.dump(groups, open(sys.argv[3], "w"), indent=0, sort_keys=True)
EOF
  fi
  run_pytest redis "$REDIS_PORT" "$PASS" "$proto"
  stop "$REDIS_PID"
  start_reddb "$WORK/reddb-$proto"
  run_pytest reddb "$RED_PORT" "$RED_KEY" "$proto"
  stop "$RED_PID"
  cp "$WORK/reddb-$proto/stderr" "$OUT/reddb-resp$proto.stderr" 2>/dev/null || true
done

echo >&2
for proto in $PROTOCOLS; do
  {
    echo "# redis-py $SUITE_VERSION tests (installed redis-py $INSTALLED), RESP$proto:" \
      "redis-server $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p') vs reddb ($RED_DESC)"
    timeout 60 python3 "$HERE/bench/redis_py_suite.py" --groups "$COMMANDS_JSON" \
      "$OUT/redis-resp$proto.xml" "$OUT/reddb-resp$proto.xml"
  } | tee "$OUT/report-resp$proto.txt"
  echo
done
echo "outputs in $OUT" >&2
