# shellcheck shell=bash disable=SC2034 # the globals set here are read by the sourcing scripts
# packaging/lib.sh: the machinery shared by systemd-test.sh and deb-test.sh —
# step bookkeeping (phase/pass/fail/summary), a cached Debian bookworm root,
# systemd booted as PID 1 in systemd-nspawn, commands in the guest (g), HTTP
# from the host (http), and a clean-up trap that leaves nothing behind.
#
# The caller sets, before sourcing:
#   TEST_LABEL  words of the verdict line: "$TEST_LABEL: N passed, M failed"
#   TEST_SLUG   short name for the machine, cgroup and work directory
# and then calls, in order:
#   lib_prerequisites [PKG...]   root check; apt-get installs what is missing
#   lib_workdir                  WORK=/var/tmp/$TEST_SLUG.XXXXXX, ROOT=$WORK/root, trap
#   lib_root                     fresh root from the cached tarball (debootstrap once)
#   lib_ports                    PORT and WIRE_PORT: free loopback TCP ports
#   lib_boot [NSPAWN-ARG...]     boot the guest; sets LEADER (guest PID 1)
# See packaging/README.md.

here=${here:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
repo=${repo:-$(cd "$here/.." && pwd)}
SUITE=bookworm
# Bump when the root's package set changes: it names the cached tarball.
ROOT_VERSION=1
INCLUDE=systemd,systemd-sysv,dbus,procps
CACHE=${REDDB_TEST_CACHE:-$here/.cache}
MACHINE=$TEST_SLUG-$$
CGROUP=$TEST_SLUG-$$
GUEST_PATH=/usr/sbin:/usr/bin:/sbin:/bin

GUEST_PATH=/usr/sbin:/usr/bin:/sbin:/bin

t_start=$(date +%s%N)
passed=0
failed=0
phase_name=""
phase_t0=0
timings=()
WORK=""
NSPAWN_PID=""
LEADER=""
PORT=""

say() { printf '%s\n' "$*"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
fmt_ms() { printf '%d.%01ds' $(($1 / 1000)) $((($1 % 1000) / 100)); }

phase_end() {
  if [ -n "$phase_name" ]; then
    local ms
    ms=$(ms_since "$phase_t0")
    timings+=("$(printf '%-58s %8s' "$phase_name" "$(fmt_ms "$ms")")")
    say "   ($phase_name: $(fmt_ms "$ms"))"
  fi
  phase_name=""
}

phase() {
  phase_end
  phase_name=$1
  phase_t0=$(date +%s%N)
  say ""
  say "== $1"
}

pass() {
  passed=$((passed + 1))
  say "   ok   $*"
}

# Runs a command inside the guest, in every namespace of its PID 1, with a
# clean environment (nothing of the host's leaks in).
g() {
  nsenter -t "$LEADER" -a env -i PATH="$GUEST_PATH" LC_ALL=C SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

dump_guest() {
  [ -n "$LEADER" ] && [ -d "/proc/$LEADER" ] || return 0
  # journald may not have stored the last lines yet.
  g journalctl --sync >/dev/null 2>&1 || true
  sleep 0.5
  say ""
  say "---------- guest: systemctl status reddb.socket reddb.service"
  g systemctl --no-pager -l status reddb.socket reddb.service 2>&1 || true
  say "---------- guest: journalctl -u reddb.service -u reddb.socket"
  g journalctl --no-pager -o short-precise -u reddb.service -u reddb.socket 2>&1 | tail -n 100 || true
  say "---------- guest: journalctl -b (last 60 lines)"
  g journalctl --no-pager -o short-precise -b 2>&1 | tail -n 60 || true
  say "----------"
}

fail() {
  failed=$((failed + 1))
  say ""
  say "FAIL [${phase_name:-setup}]: $*" >&2
  dump_guest >&2
  if [ -n "$WORK" ] && [ -s "$WORK/console.log" ]; then
    say "---------- nspawn console (last 30 lines)" >&2
    tail -n 30 "$WORK/console.log" >&2 || true
  fi
  phase_end
  summary
  exit 1
}

summary() {
  say ""
  say "== timings"
  local t
  for t in "${timings[@]}"; do say "   $t"; done
  say "   $(printf '%-58s %8s' total "$(fmt_ms "$(ms_since "$t_start")")")"
  say ""
  say "$TEST_LABEL: $passed passed, $failed failed"
}

# -- clean-up ------------------------------------------------------------------

cgroup_dirs() {
  local d
  for d in /sys/fs/cgroup/*/"$CGROUP" /sys/fs/cgroup/"$CGROUP"; do
    [ -d "$d" ] && printf '%s\n' "$d"
  done
  return 0
}

cgroup_pids() {
  local d
  for d in $(cgroup_dirs); do
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then
    failed=1
    say "" >&2
    say "FAIL [${phase_name:-setup}]: unexpected error (exit status $rc); see the output above" >&2
    dump_guest >&2
    phase_end
    summary
  fi
  if [ "${REDDB_TEST_HOLD:-0}" = 1 ] && [ -n "$LEADER" ] && [ -d "/proc/$LEADER" ]; then
    touch "$WORK/hold"
    say "guest held for inspection: nsenter -t $LEADER -a bash   (rm $WORK/hold to clean up)"
    while [ -e "$WORK/hold" ] && [ -d "/proc/$LEADER" ]; do sleep 1; done
  fi
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    # SIGTERM makes nspawn ask the guest's systemd for an orderly shutdown.
    kill -TERM "$NSPAWN_PID" 2>/dev/null
    for _ in $(seq 1 100); do
      kill -0 "$NSPAWN_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$NSPAWN_PID" 2>/dev/null && kill -KILL "$NSPAWN_PID" 2>/dev/null
    wait "$NSPAWN_PID" 2>/dev/null
  fi
  # Whatever is left in our cgroup (it holds only nspawn and the guest).
  local pids p
  pids=$(cgroup_pids)
  if [ -n "$pids" ]; then
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
    sleep 0.3
  fi
  # Remove the cgroup subtrees nspawn left, depth first, in every hierarchy.
  local d
  for d in $(cgroup_dirs); do
    find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
    [ -d "$d" ] && say "warning: could not remove cgroup $d" >&2
  done
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    if [ "${REDDB_TEST_KEEP:-0}" = 1 ]; then
      say "kept: $WORK"
    else
      # Only after nspawn is gone: nothing is mounted below the root then.
      if grep -q " $WORK/" /proc/self/mounts; then
        say "warning: mounts left below $WORK; not removing it" >&2
      else
        rm -rf "$WORK"
      fi
    fi
  fi
  exit "$rc"
}


# -- preconditions -------------------------------------------------------------

# lib_prerequisites [PKG...]: must be root; installs debootstrap,
# systemd-container, zstd, curl (and the extra apt packages named, given as
# COMMAND:PACKAGE) when missing.
lib_prerequisites() {
  phase "prerequisites"
  [ "$(id -u)" = 0 ] || fail "must run as root (systemd-nspawn, debootstrap, nsenter)"
  local missing=() spec
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  command -v systemd-nspawn >/dev/null 2>&1 || missing+=(systemd-container)
  command -v zstd >/dev/null 2>&1 || missing+=(zstd)
  command -v curl >/dev/null 2>&1 || missing+=(curl)
  command -v nsenter >/dev/null 2>&1 || missing+=(util-linux)
  for spec in "$@"; do
    command -v "${spec%%:*}" >/dev/null 2>&1 || missing+=("${spec#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || fail "missing ${missing[*]} and no apt-get to install them"
    say "   installing ${missing[*]}"
    apt-get update -qq || fail "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
      fail "apt-get install ${missing[*]} failed"
  fi
  pass "debootstrap, systemd-nspawn, zstd, curl, nsenter${1:+, ${*%%:*}} present"
}

lib_workdir() {
  trap cleanup EXIT
  trap 'fail "interrupted"' INT TERM
  mkdir -p /var/tmp
  WORK=$(mktemp -d "/var/tmp/$TEST_SLUG.XXXXXX")
  chmod 0755 "$WORK"
  ROOT=$WORK/root
}

# -- the root file system ------------------------------------------------------

mirror() {
  if [ -n "${REDDB_TEST_MIRROR:-}" ]; then
    printf '%s\n' "$REDDB_TEST_MIRROR"
    return
  fi
  local f uri=""
  # deb822 sources: the URIs of a stanza whose Suites name the plain suite.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk -v suite="$SUITE" '
      BEGIN { RS = ""; FS = "\n" }
      {
        u = ""; ok = 0; deb = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); u = a[2] }
          if ($i ~ /^Types:/ && $i ~ /(^|[ \t])deb([ \t]|$)/) deb = 1
          if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/); for (j = 2; j <= n; j++) if (s[j] == suite) ok = 1 }
        }
        if (ok && deb && u != "") { print u; exit }
      }' "$f")
    [ -n "$uri" ] && break
  done
  # one-line sources
  if [ -z "$uri" ]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk -v suite="$SUITE" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } if ($(i+1) == suite) { print $i; exit } }')
  fi
  printf '%s\n' "${uri:-http://deb.debian.org/debian}"
}

lib_root() {
  phase "root file system"
  local tarball=$CACHE/$SUITE-minbase-v$ROOT_VERSION.tar.zst m
  mkdir -p "$CACHE"
  if [ -s "$tarball" ]; then
    mkdir "$ROOT"
    tar --numeric-owner --xattrs --xattrs-include='*' -I zstd -xpf "$tarball" -C "$ROOT" ||
      fail "cannot restore $tarball (delete it to rebuild)"
    pass "restored cached root from $tarball"
  else
    m=$(mirror)
    say "   debootstrap $SUITE (minbase + $INCLUDE) from $m"
    debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOT" "$m" >"$WORK/debootstrap.log" 2>&1 ||
      { tail -n 30 "$WORK/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
    # Drop what the guest never needs, to keep the tarball small.
    rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/debootstrap
    tar --numeric-owner --xattrs --xattrs-include='*' -I 'zstd -T0 -3' -cpf "$tarball.tmp.$$" -C "$ROOT" . ||
      { rm -f "$tarball.tmp.$$"; fail "cannot write $tarball"; }
    mv "$tarball.tmp.$$" "$tarball"
    pass "built root with debootstrap; cached as $tarball ($(du -h "$tarball" | cut -f1))"
  fi
  [ -x "$ROOT/lib/systemd/systemd" ] || fail "the root has no systemd"

  # Per-run guest configuration (cheap, so not cached).
  echo "$MACHINE" >"$ROOT/etc/hostname"
  mkdir -p "$ROOT/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\n' >"$ROOT/etc/systemd/journald.conf.d/volatile.conf"
  # Nothing the guest would start on its own is needed.
  ln -sf /dev/null "$ROOT/etc/systemd/system/getty@.service"
  ln -sf /dev/null "$ROOT/etc/systemd/system/console-getty.service"
}

# A free TCP port on the loopback (the guest shares the host's network).
port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v h=":$hex" 'NR > 1 && substr($2, length($2) - 4) == h { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

lib_ports() {
  local cand
  PORT=""
  for _ in $(seq 1 50); do
    cand=$((20000 + RANDOM % 40000))
    if ! port_in_use "$cand"; then
      PORT=$cand
      break
    fi
  done
  [ -n "$PORT" ] || fail "no free TCP port found"
  WIRE_PORT=""
  for _ in $(seq 1 50); do
    cand=$((20000 + RANDOM % 40000))
    if [ "$cand" != "$PORT" ] && ! port_in_use "$cand"; then
      WIRE_PORT=$cand
      break
    fi
  done
  [ -n "$WIRE_PORT" ] || fail "no free TCP port found for the wire socket"
}

# -- boot ----------------------------------------------------------------------

# lib_boot [NSPAWN-ARG...]: extra arguments go to systemd-nspawn (e.g.
# --bind-ro=HOSTDIR:/GUESTDIR).
lib_boot() {
  phase "boot systemd in systemd-nspawn"
  # nspawn runs in a cgroup of its own (in every hierarchy it uses), so that
  # everything it leaves behind can be removed by the trap.
  (
    for h in systemd unified; do
      if [ -d /sys/fs/cgroup/$h ]; then
        mkdir -p "/sys/fs/cgroup/$h/$CGROUP"
        echo "$BASHPID" >"/sys/fs/cgroup/$h/$CGROUP/cgroup.procs"
      fi
    done
    if [ -f /sys/fs/cgroup/cgroup.controllers ]; then # pure cgroup v2 host
      mkdir -p "/sys/fs/cgroup/$CGROUP"
      echo "$BASHPID" >"/sys/fs/cgroup/$CGROUP/cgroup.procs"
    fi
    # --register=no --keep-unit: the host has no systemd/machined to talk to.
    # CAP_NET_ADMIN: PrivateNetwork= needs it to set up the loopback.
    # @memlock: nspawn's own seccomp filter refuses mlock() with EPERM in a
    # container without CAP_IPC_LOCK (nspawn-seccomp.c); on a real machine
    # PID 1 has no such filter, so lift it (the container gets no capability).
    exec systemd-nspawn -q -D "$ROOT" -M "$MACHINE" -b --register=no --keep-unit \
      --console=read-only --capability=CAP_NET_ADMIN --system-call-filter=@memlock "$@"
  ) </dev/null >"$WORK/console.log" 2>&1 &
  NSPAWN_PID=$!

  # The guest's PID 1 is the first descendant of nspawn in another pid
  # namespace (nspawn forks twice).
  local state deadline
  host_pidns=$(readlink /proc/self/ns/pid)
  find_leader() {
    local queue=("$NSPAWN_PID") p c
    while [ ${#queue[@]} -gt 0 ]; do
      p=${queue[0]}
      queue=("${queue[@]:1}")
      if [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" != "$host_pidns" ] && [ -e "/proc/$p" ]; then
        echo "$p"
        return 0
      fi
      for c in $(cat "/proc/$p/task/"*/children 2>/dev/null); do queue+=("$c"); done
    done
    return 1
  }
  for _ in $(seq 1 200); do
    kill -0 "$NSPAWN_PID" 2>/dev/null || fail "systemd-nspawn exited early"
    LEADER=$(find_leader) && break
    LEADER=""
    sleep 0.05
  done
  [ -n "$LEADER" ] || fail "no guest PID 1 appeared"
  # Until the leader has exec'd systemd, systemctl says "offline".
  state=offline
  deadline=$(($(date +%s) + 60))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    kill -0 "$NSPAWN_PID" 2>/dev/null || fail "systemd-nspawn exited during boot"
    state=$(timeout 60 nsenter -t "$LEADER" -a env -i PATH="$GUEST_PATH" systemctl is-system-running --wait 2>/dev/null || true)
    [ "$state" = offline ] || [ -z "$state" ] || break
    sleep 0.1
  done
  case "$state" in
    running) pass "guest systemd is running (leader pid $LEADER, machine $MACHINE)" ;;
    degraded)
      say "   guest is degraded; failed units:"
      g systemctl --no-pager --failed --plain --no-legend | sed 's/^/     /'
      pass "guest systemd is up, degraded by units unrelated to reddb (leader pid $LEADER)"
      ;;
    *) fail "guest systemd did not reach running (state: '${state:-none}')" ;;
  esac
  say "   $(g systemctl --version | head -n 1)"
}

# -- helpers for the scenario --------------------------------------------------

rand_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

# HTTP from the host, through the socket systemd owns in the guest.
# http METHOD PATH TOKEN [BODY] -> sets HTTP_CODE and HTTP_BODY.
http() {
  local method=$1 path=$2 token=${3:-} body=${4:-}
  local hdr=$WORK/headers
  : >"$hdr"
  chmod 0600 "$hdr"
  [ -n "$token" ] && printf 'Authorization: Bearer %s\n' "$token" >>"$hdr"
  printf 'Content-Type: application/json\n' >>"$hdr"
  local args=(-sS --max-time 10 -o "$WORK/body" -w '%{http_code}' -X "$method" -H @"$hdr")
  [ -n "$body" ] && args+=(--data-binary @-)
  HTTP_CODE=$(printf '%s' "$body" | curl "${args[@]}" "http://127.0.0.1:$PORT$path" 2>"$WORK/curl.err") || HTTP_CODE="curl-failed: $(cat "$WORK/curl.err")"
  HTTP_BODY=$(tr -d ' \n' <"$WORK/body" 2>/dev/null || true)
}

show() { g systemctl show -P "$1" "${2:-reddb.service}"; }
