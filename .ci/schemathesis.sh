#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document (GET /openapi.json,
# docs/openapi.json) with schemathesis: a `--dev` server of target/debug/red
# (the build `cargo test` in .ci/run leaves) on a free loopback port, the
# admin token as bearer, bounded examples per operation and a hard time
# limit; fails on any 5xx and on any status code, content type or body the
# document does not describe. The server is killed on exit, whatever happens.
#
#   bash .ci/schemathesis.sh   # REDDB_ST_EXAMPLES=20 REDDB_ST_SECONDS=300 REDDB_ST_SEED=1
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${REDDB_ST_EXAMPLES:-20}"
SECONDS_MAX="${REDDB_ST_SECONDS:-300}"
SEED="${REDDB_ST_SEED:-1}"
VENV=target/schemathesis-venv

# schemathesis 4.x from PyPI: the one on PATH, else a venv under target/
# (no system packages touched), else pip's --user / --break-system-packages.
if command -v st >/dev/null 2>&1 && st --version 2>/dev/null | grep -q 'version 4\.'; then
  ST=st
else
  if [ ! -x "$VENV/bin/st" ]; then
    if python3 -m venv "$VENV" >/dev/null 2>&1; then
      "$VENV/bin/pip" install -q 'schemathesis>=4,<5'
    else
      rm -rf "$VENV"
      python3 -m pip install -q --user 'schemathesis>=4,<5' 2>/dev/null \
        || python3 -m pip install -q --break-system-packages 'schemathesis>=4,<5'
    fi
  fi
  if [ -x "$VENV/bin/st" ]; then ST="$PWD/$VENV/bin/st"; else ST="$(python3 -m site --user-base)/bin/st"; fi
fi
"$ST" --version

cargo build -q --bin red
RED=target/debug/red

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
HTTP_PORT="$(free_port)"
WIRE_PORT="$(free_port)"
# The admin token (RED_ADMIN_TOKEN, docs/OPERATIONS.md): an admin bearer that no API call can revoke,
# so an operation the fuzzer calls (disabling a user, deleting a key) cannot
# lock the rest of the run out.
ADMIN_TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"

RED_ADMIN_TOKEN="$ADMIN_TOKEN" "$RED" server --dev --path "$WORK/data.rdb" \
  --http-bind "127.0.0.1:$HTTP_PORT" --wire-bind "127.0.0.1:$WIRE_PORT" \
  >"$WORK/server.stdout" 2>"$WORK/server.stderr" &
SERVER_PID=$!

BASE="http://127.0.0.1:$HTTP_PORT"
for _ in $(seq 1 300); do
  if curl -fsS "$BASE/health" 2>/dev/null | grep -q '"bootstrapped":true'; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "red server exited early:" >&2
    cat "$WORK/server.stderr" >&2
    exit 1
  fi
  sleep 0.1
done
curl -fsS "$BASE/health" >/dev/null

echo "== schemathesis: $BASE/openapi.json, $EXAMPLES examples per operation, at most ${SECONDS_MAX}s"
status=0
# From target/: schemathesis keeps what it needs to replay a failure in
# ./.schemathesis, which is not for the repository.
cd target
timeout --kill-after=10 "$SECONDS_MAX" "$ST" run "$BASE/openapi.json" \
  --url "$BASE" \
  -H "Authorization: Bearer $ADMIN_TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$EXAMPLES" \
  --phases examples,coverage,fuzzing,stateful \
  --workers 1 \
  --request-timeout 10 \
  --seed "$SEED" \
  --generation-database none \
  --no-color \
  || status=$?

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "red server died during the run:" >&2
  tail -n 50 "$WORK/server.stderr" >&2
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "schemathesis failed (exit $status); server log tail:" >&2
  tail -n 20 "$WORK/server.stderr" >&2
fi
exit "$status"
