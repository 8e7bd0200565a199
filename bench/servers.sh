# Sourced by the bench scripts (not run): a work directory removed on exit,
# free loopback ports, and Debian's redis-server and reddb started side by
# side with a password. `bench_prepare TOOL...` checks the tools, builds
# red unless BUILD=0 and sets RED (kept when given). After
# `bench_servers_init PREFIX` (needs $RED):
#   start_redis NAME [redis-server args...]   e.g. --appendonly yes --appendfsync always
#   start_reddb [NAME]                        release build, --dev, --fsync always
#                                             (plus the arguments in RED_EXTRA, if set)
#   start_reddb_build PATH NAME               the same with another build of red
#   write_set_load FILE N [constant|random]   N SETs of 100-byte values as RESP
# fill PORT[NAME], PW[NAME] and PID[NAME] (and HTTP[NAME], reddb's HTTP port). `bench_pin NAME...` moves
# those servers (every thread) to CPU 0 and sets CLIENT_CPU so that
# `${CLIENT_CPU[@]} redis-benchmark ...` runs the client on CPU 1: the
# server then has a core of its own and a pipelined figure measures the
# server, not where the scheduler put the two. `bench_ratio A B` and
# `bench_median V...` print the figures' ratio and median. Everything started is stopped on
# exit; a script may add its own `bench_extra_cleanup` function.

bench_prepare() { # tool... : checks the tools, builds red unless BUILD=0, sets RED
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "missing $tool (apt install redis-server)" >&2; exit 2; }
  done
  if [ "${BUILD:-1}" = 1 ]; then
    timeout 1200 cargo build --release --quiet
  fi
  RED=${RED:-target/release/red}
  [ -x "$RED" ] || { echo "no $RED" >&2; exit 2; }
}

bench_ratio() { # a b: a / b to two places ("n/a" when b is 0)
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
}

bench_median() { # value...: the median (of a --rounds run's figures)
  printf '%s\n' "$@" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

CLIENT_CPU=()
RED_EXTRA=()
bench_pin() { # name...: servers on CPU 0, the client (CLIENT_CPU) on CPU 1
  [ "$(nproc)" -ge 2 ] || { echo "pinning needs 2 CPUs" >&2; exit 2; }
  local name
  for name in "$@"; do
    taskset -a -p -c 0 "${PID[$name]}" >/dev/null
  done
  CLIENT_CPU=(taskset -c 1)
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() { # port password
  for _ in $(seq 1 600); do
    if redis-cli -h 127.0.0.1 -p "$1" -a "$2" --no-auth-warning ping 2>/dev/null | grep -q PONG; then
      return 0
    fi
    sleep 0.1
  done
  echo "server on port $1 did not come up" >&2
  return 1
}

bench_cleanup() {
  if declare -F bench_extra_cleanup >/dev/null; then bench_extra_cleanup; fi
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}

bench_servers_init() { # work-directory prefix
  WORK=$(mktemp -d "/tmp/$1.XXXXXX")
  PIDS=()
  PASS=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  declare -gA PORT PW PID HTTP
  trap bench_cleanup EXIT
}

start_redis() { # name redis-server-args...
  local name=$1; shift
  local port; port=$(free_port)
  mkdir -p "$WORK/$name"
  redis-server --port "$port" --bind 127.0.0.1 --requirepass "$PASS" --dir "$WORK/$name" \
    --daemonize no --save "" --protected-mode yes --logfile "$WORK/$name/log" "$@" &
  local pid=$!
  PIDS+=("$pid")
  PORT[$name]=$port; PW[$name]=$PASS; PID[$name]=$pid
  wait_port "$port" "$PASS"
}

start_reddb() { # [name]
  local name=${1:-reddb}
  local port http key=""; port=$(free_port); http=$(free_port)
  mkdir -p "$WORK/$name"
  "$RED" server --dev --path "$WORK/$name/data.rdb" --http-bind "127.0.0.1:$http" \
    --wire-bind "127.0.0.1:$port" "${RED_EXTRA[@]}" >"$WORK/$name/stdout" 2>"$WORK/$name/stderr" &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 1 300); do
    key=$(sed -n 's/^api key: //p' "$WORK/$name/stdout" 2>/dev/null || true)
    [ -n "$key" ] && break
    sleep 0.1
  done
  [ -n "$key" ] || { echo "reddb did not print its API key" >&2; cat "$WORK/$name/stderr" >&2; exit 1; }
  PORT[$name]=$port; PW[$name]=$key; PID[$name]=$pid; HTTP[$name]=$http
  wait_port "$port" "$key"
}

start_reddb_build() { # path name: start_reddb with another build of red
  [ -x "$1" ] || { echo "no $1" >&2; exit 2; }
  local main=$RED
  RED=$1
  start_reddb "$2"
  RED=$main
}

write_set_load() { # file keys [constant|random]
  # N `SET key:%010d <100 bytes>` commands as RESP, for `redis-cli --pipe`.
  # Values are 100 'v's (constant) or random hex, as tokens are (random:
  # a constant value lets Redis's LZF-compressed RDB/AOF base shrink to
  # almost nothing). Seeded: every run writes the same file.
  awk -v n="$2" -v values="${3:-constant}" 'BEGIN {
    srand(1);
    c = sprintf("%0100d", 0); gsub(/0/, "v", c);
    for (i = 0; i < n; i++) {
      k = sprintf("key:%010d", i);
      v = c;
      if (values == "random") {
        v = "";
        for (j = 0; j < 12; j++) v = v sprintf("%08x", int(rand() * 4294967296));
        v = v sprintf("%04x", int(rand() * 65536));
      }
      printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$100\r\n%s\r\n", length(k), k, v;
    }
  }' >"$1"
}
