#!/usr/bin/env bash
# The systemd life-cycle test: boots a real systemd as PID 1 in
# `systemd-nspawn -b` on a Debian bookworm root, installs reddb the way a
# package would (binary, units, sysusers, tmpfiles) and proves, step by
# step, that the units work under it: start condition, socket activation,
# confinement of the running daemon, credentials, token rotation on reload,
# watchdog, restart, clean stop, a journal free of secrets, and the
# `systemd-analyze security` exposure. See packaging/README.md.
#
# Usage:  sudo packaging/systemd-test.sh          (as root; builds --release)
#         RED_BIN=target/release/red packaging/systemd-test.sh
# Knobs:  RED_BIN=PATH          test this binary instead of building one
#         REDDB_TEST_CACHE=DIR  where the root tarball lives (packaging/.cache)
#         REDDB_TEST_KEEP=1     keep the work directory (root, logs) on exit
#         REDDB_TEST_MIRROR=URL Debian mirror (default: the one apt uses)
#         REDDB_TEST_HOLD=1     on exit, keep the guest running until
#                               WORK/hold is removed (prints how to enter it)
#
# Any failed step stops the test with a message naming it, the guest's
# journal and unit status, and a non-zero exit status.
set -euo pipefail
umask 022

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
TEST_LABEL="systemd life-cycle test"
TEST_SLUG=reddb-systemd-test
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

lib_prerequisites
lib_workdir

# -- the binary ----------------------------------------------------------------

phase "build"
if [ -n "${RED_BIN:-}" ]; then
  [ -x "$RED_BIN" ] || fail "RED_BIN=$RED_BIN is not an executable file"
  bin=$RED_BIN
  say "   using RED_BIN=$bin"
else
  (cd "$repo" && cargo build --release --quiet) || fail "cargo build --release failed"
  bin=$repo/target/release/red
fi
[ -x "$bin" ] || fail "no binary at $bin"
pass "binary $(basename "$bin") ($(stat -c %s "$bin") bytes)"

lib_root
lib_ports
lib_boot

# -- scenario ------------------------------------------------------------------

phase "1. install (binary, units, sysusers, tmpfiles, drop-ins)"
install -m 0755 "$bin" "$ROOT/usr/bin/red"
install -m 0644 "$repo/systemd/reddb.service" "$repo/systemd/reddb.socket" "$repo/systemd/reddb-wire.socket" "$ROOT/etc/systemd/system/"
install -D -m 0644 "$repo/systemd/reddb.sysusers" "$ROOT/usr/lib/sysusers.d/reddb.conf"
install -D -m 0644 "$repo/systemd/reddb.tmpfiles" "$ROOT/usr/lib/tmpfiles.d/reddb.conf"
mkdir -p "$ROOT/etc/systemd/system/reddb.socket.d" "$ROOT/etc/systemd/system/reddb-wire.socket.d" "$ROOT/etc/systemd/system/reddb.service.d"
cat >"$ROOT/etc/systemd/system/reddb-wire.socket.d/10-test-port.conf" <<EOF
# systemd-test.sh: a free port instead of the default 5050.
[Socket]
ListenStream=
ListenStream=127.0.0.1:$WIRE_PORT
EOF
cat >"$ROOT/etc/systemd/system/reddb.socket.d/10-test-port.conf" <<EOF
# systemd-test.sh: a free port instead of the default 5000.
[Socket]
ListenStream=
ListenStream=127.0.0.1:$PORT
EOF
cat >"$ROOT/etc/systemd/system/reddb.service.d/10-test-watchdog.conf" <<EOF
# systemd-test.sh: a short watchdog, so a missed ping shows within seconds.
[Service]
WatchdogSec=3s
EOF
g systemctl daemon-reload || fail "systemctl daemon-reload failed"
g red version >"$WORK/version.txt" 2>&1 || fail "red version failed in the guest: $(cat "$WORK/version.txt")"
say "   $(head -n 1 "$WORK/version.txt")"
g systemd-analyze verify --man=no /etc/systemd/system/reddb.socket /etc/systemd/system/reddb-wire.socket /etc/systemd/system/reddb.service \
  >"$WORK/verify.txt" 2>&1 || fail "systemd-analyze verify: $(cat "$WORK/verify.txt")"
[ -s "$WORK/verify.txt" ] && sed 's/^/   verify: /' "$WORK/verify.txt"
listen=$(g systemctl show -p Listen --value reddb.socket)
[ "$listen" = "127.0.0.1:$PORT (Stream)" ] || fail "reddb.socket listens on '$listen', expected 127.0.0.1:$PORT"
grep -q 10-test-watchdog.conf <<<"$(g systemctl show -P DropInPaths reddb.service)" || fail "the WatchdogSec drop-in is not loaded"
pass "installed; socket on 127.0.0.1:$PORT, WatchdogSec=3s drop-in loaded; systemd-analyze verify clean"

phase "2. sysusers, tmpfiles, start condition"
g getent passwd reddb >/dev/null && fail "user reddb exists before systemd-sysusers ran"
g systemd-sysusers /usr/lib/sysusers.d/reddb.conf 2>&1 | sed 's/^/   sysusers: /'
[ "${PIPESTATUS[0]}" = 0 ] || fail "systemd-sysusers failed"
g getent passwd reddb >/dev/null || fail "systemd-sysusers did not create user reddb"
g systemd-tmpfiles --create /usr/lib/tmpfiles.d/reddb.conf || fail "systemd-tmpfiles --create failed"
got=$(g stat -c '%a %U:%G' /etc/reddb)
[ "$got" = "750 root:reddb" ] || fail "/etc/reddb is '$got', expected '750 root:reddb'"
got=$(g stat -c '%a %U:%G' /var/lib/reddb)
[ "$got" = "700 reddb:reddb" ] || fail "/var/lib/reddb is '$got', expected '700 reddb:reddb'"
pass "user reddb created; /etc/reddb 0750 root:reddb; /var/lib/reddb 0700 reddb:reddb"
g systemctl start reddb.service || fail "systemctl start reddb.service (condition unmet) returned an error"
cond=$(show ConditionResult)
active=$(show ActiveState)
[ "$cond" = no ] || fail "ConditionResult=$cond before any certificate exists, expected no"
[ "$active" = inactive ] || fail "reddb.service is $active without a certificate, expected inactive"
pass "without /etc/reddb/certificate: ConditionResult=no, service inactive"
g systemctl stop reddb.socket

phase "3. bootstrap as the reddb user"
PASSWORD=pw-$(rand_hex 16)
printf '%s\n' "$PASSWORD" | g sh -c 'umask 077 && cat >/run/reddb-admin-password && chown reddb:reddb /run/reddb-admin-password' ||
  fail "cannot write the password file"
if g sh -c 'command -v runuser' >/dev/null; then
  asuser=(runuser -u reddb --)
else
  asuser=(setpriv --reuid=reddb --regid=reddb --init-groups --)
fi
boot_out=$(g "${asuser[@]}" red bootstrap --path /var/lib/reddb/data.rdb --vault --username admin \
  --password-file /run/reddb-admin-password --print-certificate 2>"$WORK/bootstrap.err") ||
  fail "red bootstrap failed: $(cat "$WORK/bootstrap.err")"
g rm -f /run/reddb-admin-password
CERT=$(printf '%s\n' "$boot_out" | grep '^certificate:' | awk '{print $2}')
API_KEY=$(printf '%s\n' "$boot_out" | grep '^api key:' | awk '{print $3}')
unset boot_out
[[ "$CERT" =~ ^[0-9a-f]{64}$ ]] || fail "bootstrap printed no 64-hex certificate line"
[[ "$API_KEY" =~ ^rdb_k_[0-9a-f]{32}$ ]] || fail "bootstrap printed no api key line"
got=$(g stat -c '%U:%G' /var/lib/reddb/data.rdb)
[ "$got" = "reddb:reddb" ] || fail "data.rdb is owned by $got, expected reddb:reddb"
TOKEN1=tok-$(rand_hex 24)
printf '%s\n' "$TOKEN1" | g sh -c 'umask 077 && cat >/etc/reddb/admin-token' || fail "cannot write /etc/reddb/admin-token"
# With the token but still no certificate, the start condition names it.
g systemctl start reddb.service || fail "systemctl start reddb.service (no certificate) returned an error"
[ "$(show ConditionResult)" = no ] || fail "ConditionResult=$(show ConditionResult) without a certificate, expected no"
g journalctl --sync
grep -qF 'ConditionPathExists=/etc/reddb/certificate' <<<"$(g journalctl -u reddb.service -o cat --no-pager | tail -n 1)" ||
  fail "the unmet condition does not name /etc/reddb/certificate"
g systemctl stop reddb.socket
pass "with the admin token but no certificate: still not started, the journal names ConditionPathExists=/etc/reddb/certificate"
printf '%s\n' "$CERT" | g sh -c 'umask 077 && cat >/etc/reddb/certificate' || fail "cannot write /etc/reddb/certificate"
got=$(g stat -c '%a %U:%G' /etc/reddb/certificate)
[ "$got" = "600 root:root" ] || fail "/etc/reddb/certificate is '$got', expected '600 root:root'"
pass "bootstrapped as reddb; certificate in /etc/reddb/certificate (0600 root:root), admin token in /etc/reddb/admin-token"

phase "4. socket activation, /health from the host"
g systemctl start reddb.socket reddb-wire.socket reddb.service || fail "systemctl start reddb.socket reddb-wire.socket reddb.service failed"
[ "$(show ActiveState)" = active ] || fail "reddb.service is $(show ActiveState)/$(show SubState), expected active"
http GET /health
[ "$HTTP_CODE" = 200 ] || fail "GET /health answered $HTTP_CODE"
case "$HTTP_BODY" in
  *'"sealed":false'*) ;;
  *) fail "GET /health did not say sealed:false: $HTTP_BODY" ;;
esac
pass "GET http://127.0.0.1:$PORT/health -> 200 $HTTP_BODY"
wire_reply=$(timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/'"$WIRE_PORT"'; printf "*1\r\n\$4\r\nPING\r\n" >&3; IFS= read -r line <&3; printf "%s\n" "$line"' 2>/dev/null | tr -d '\r' || true)
case "$wire_reply" in
  -NOAUTH*) ;;
  *) fail "the wire socket (fd named wire) answered '$wire_reply', expected -NOAUTH" ;;
esac
pass "RESP PING on the socket-activated wire port 127.0.0.1:$WIRE_PORT -> $wire_reply"
MAINPID=$(show MainPID)
[ "$MAINPID" -gt 0 ] 2>/dev/null || fail "no MainPID"

phase "5. confinement of the running daemon"
status_file=/proc/$LEADER/root/proc/$MAINPID/status
[ -r "$status_file" ] || fail "cannot read $status_file"
field() { awk -v k="$1:" '$1 == k { print $2 }' "$status_file"; }
seccomp=$(field Seccomp)
nnp=$(field NoNewPrivs)
capeff=$(field CapEff)
capprm=$(field CapPrm)
capbnd=$(field CapBnd)
vmlck=$(field VmLck)
say "   /proc/$MAINPID/status: Seccomp $seccomp, NoNewPrivs $nnp, CapEff $capeff, CapPrm $capprm, CapBnd $capbnd, VmLck $vmlck kB"
[ "$seccomp" = 2 ] || fail "Seccomp is '$seccomp', expected 2"
[ "$nnp" = 1 ] || fail "NoNewPrivs is '$nnp', expected 1"
[ "$capeff" = 0000000000000000 ] || fail "CapEff is '$capeff', expected all zero"
[ "${vmlck:-0}" -gt 0 ] 2>/dev/null || fail "VmLck is '${vmlck:-?}' kB, expected > 0"
pass "Seccomp 2, NoNewPrivs 1, CapEff 0, VmLck $vmlck kB > 0"
uid=$(field Uid)
want_uid=$(g id -u reddb)
[ "$uid" = "$want_uid" ] || fail "the daemon runs as uid $uid, expected reddb ($want_uid)"
netns=$(readlink "/proc/$LEADER/root/proc/$MAINPID/ns/net")
[ "$netns" != "$(readlink "/proc/$LEADER/ns/net")" ] || fail "the daemon shares the network namespace of the guest (PrivateNetwork= not applied)"
pass "runs as reddb (uid $uid) in a private network namespace, serving only the socket systemd passed"
# The file-system sandbox as the daemon sees it (last mount on each path wins).
mnt=/proc/$LEADER/root/proc/$MAINPID/mountinfo
mount_opts() { awk -v m="$1" '$5 == m { o = $6 } END { print o }' "$mnt"; }
mount_field() { awk -v m="$2" -v f="$3" '$5 == m { v = $f } END { print v }' "$1"; }
case ",$(mount_opts /)," in *,ro,*) ;; *) fail "/ is not read-only for the daemon (ProtectSystem=strict)" ;; esac
case ",$(mount_opts /var/lib/reddb)," in *,rw,*) ;; *) fail "/var/lib/reddb is not writable for the daemon" ;; esac
[ "$(mount_field "$mnt" /dev 3)" != "$(mount_field "/proc/$LEADER/mountinfo" /dev 3)" ] ||
  fail "the daemon sees the guest's /dev (PrivateDevices=yes not applied)"
case "$(mount_field "$mnt" /tmp 4)" in
  /systemd-private-*) ;;
  *) fail "/tmp of the daemon is not a systemd-private directory (PrivateTmp=yes not applied)" ;;
esac
say "   seccomp filters stacked on the daemon: $(field Seccomp_filters) (systemd's, then its own)"
pass "file system: / read-only, /var/lib/reddb writable, private /dev and /tmp"
environ=$(tr '\0' '\n' <"/proc/$LEADER/root/proc/$MAINPID/environ") || fail "cannot read the daemon's environ"
grep -qF "$CERT" <<<"$environ" && fail "the certificate is in /proc/PID/environ"
grep -qF "$TOKEN1" <<<"$environ" && fail "the admin token is in /proc/PID/environ"
grep -qE '_FILE=|^CREDENTIALS_DIRECTORY=|/run/credentials|/etc/reddb' <<<"$environ" &&
  fail "a credential path is in /proc/PID/environ: $(printf '%s\n' "$environ" | grep -E '_FILE=|CREDENTIALS|/etc/reddb' | cut -d= -f1)"
pass "/proc/PID/environ holds no certificate, token, _FILE or credential path ($(printf '%s\n' "$environ" | grep -c .) variables)"
limits=$(awk '/Max locked memory/ { print $4, $5 }' "/proc/$LEADER/root/proc/$MAINPID/limits")
say "   RLIMIT_MEMLOCK soft/hard (bytes): $limits"
say "   daemon: $(g journalctl -u reddb.service -o cat --no-pager | grep -m1 'red: hardened' || echo '(no hardening line)')"

phase "6. write and read a secret with the admin token"
SECRET_VALUE=v-$(rand_hex 16)
http POST /secrets/red.secret.systemd.check "$TOKEN1" "{\"value\":\"$SECRET_VALUE\"}"
[ "$HTTP_CODE" = 200 ] || fail "POST /secrets/red.secret.systemd.check answered $HTTP_CODE: $HTTP_BODY"
http GET /secrets/red.secret.systemd.check "$TOKEN1"
[ "$HTTP_CODE" = 200 ] || fail "GET /secrets/red.secret.systemd.check answered $HTTP_CODE: $HTTP_BODY"
case "$HTTP_BODY" in
  *"\"value\":\"$SECRET_VALUE\""*) ;;
  *) fail "GET returned another value" ;;
esac
pass "POST then GET /secrets/red.secret.systemd.check with the admin token round-trips"
http POST /config/red.config.systemd.check "$TOKEN1" '{"value":"on"}'
[ "$HTTP_CODE" = 200 ] || fail "POST /config/red.config.systemd.check answered $HTTP_CODE: $HTTP_BODY"
http GET /config/red.config.systemd.check
[ "$HTTP_CODE" = 401 ] || fail "anonymous GET /config/red.config.systemd.check answered $HTTP_CODE under the packaged unit"
pass "anonymous GET /config/* -> 401 under the packaged unit (--require-auth)"
# A logical backup inside the unit's sandbox and seccomp filter: the file is
# created next to the database (StateDirectory), 0600 reddb, sealed.
http POST /admin/backup "$TOKEN1" '{}'
[ "$HTTP_CODE" = 200 ] || fail "POST /admin/backup answered $HTTP_CODE: $HTTP_BODY"
backup_file=$(sed -n 's/.*"file":"\(reddb-backup-[0-9a-f]*\.rdbk\)".*/\1/p' <<<"$HTTP_BODY")
[ -n "$backup_file" ] || fail "POST /admin/backup named no file: $HTTP_BODY"
backup_mode=$(g stat -c '%a %U' "/var/lib/reddb/$backup_file" 2>/dev/null || echo missing)
[ "$backup_mode" = "600 reddb" ] || fail "/var/lib/reddb/$backup_file is '$backup_mode', expected '600 reddb'"
if g grep -q -- "$SECRET_VALUE" "/var/lib/reddb/$backup_file"; then
  fail "the secret value is in clear in the backup file"
fi
g systemctl is-active --quiet reddb.service || fail "reddb.service is not active after POST /admin/backup"
pass "POST /admin/backup under the sandbox and seccomp writes /var/lib/reddb/$backup_file (0600 reddb, no value in clear)"

phase "7. admin token rotation with systemctl reload"
# First, what systemd itself does (informational, not a check): a probe
# unit with LoadCredential= and an ExecReload=; change the source; reload.
cat >"$ROOT/etc/systemd/system/reddb-credprobe.service" <<'EOF'
[Service]
Type=exec
ExecStart=/bin/sleep 300
ExecReload=/bin/true
LoadCredential=probe:/etc/reddb-credprobe
EOF
echo before >"$ROOT/etc/reddb-credprobe"
g systemctl daemon-reload
if g systemctl start reddb-credprobe.service; then
  echo after >"$ROOT/etc/reddb-credprobe"
  g systemctl reload reddb-credprobe.service || true
  probe=$(g cat /run/credentials/reddb-credprobe.service/probe 2>/dev/null || echo unreadable)
  g systemctl stop reddb-credprobe.service
  case "$probe" in
    after) say "   probe: this systemd refreshes LoadCredential= copies on reload" ;;
    before) say "   probe: this systemd does NOT refresh LoadCredential= copies on reload (hence ExecReload=+install in the unit)" ;;
    *) say "   probe: credential copy is '$probe' after reload" ;;
  esac
else
  say "   probe: could not start the credential probe unit"
fi
rm -f "$ROOT/etc/systemd/system/reddb-credprobe.service" "$ROOT/etc/reddb-credprobe"
g systemctl daemon-reload
TOKEN2=tok-$(rand_hex 24)
printf '%s\n' "$TOKEN2" | g sh -c 'umask 077 && cat >/etc/reddb/admin-token.new && mv /etc/reddb/admin-token.new /etc/reddb/admin-token' ||
  fail "cannot write the new admin token"
g systemctl reload reddb.service || fail "systemctl reload reddb failed"
[ "$(show MainPID)" = "$MAINPID" ] || fail "MainPID changed on reload ($MAINPID -> $(show MainPID))"
[ "$(show ActiveState)" = active ] || fail "reddb.service is $(show ActiveState) after reload"
http GET /secrets/red.secret.systemd.check "$TOKEN2"
[ "$HTTP_CODE" = 200 ] || fail "the new admin token is refused after reload ($HTTP_CODE: $HTTP_BODY); reload log: $(g journalctl -u reddb.service -o cat --no-pager | grep -i reload | tail -n 3 | tr '\n' '|')"
http GET /secrets/red.secret.systemd.check "$TOKEN1"
[ "$HTTP_CODE" = 401 ] || fail "the old admin token answered $HTTP_CODE after reload, expected 401"
pass "after reload: new token 200, old token 401, MainPID $MAINPID unchanged"
say "   daemon: $(g journalctl -u reddb.service -o cat --no-pager | grep 'reload:' | tail -n 1)"
# A bad rotation never leaves the daemon without its token: an empty file
# is refused by the daemon, a missing one makes the reload itself fail.
g sh -c ': >/etc/reddb/admin-token'
g systemctl reload reddb.service || fail "systemctl reload with an empty token file failed"
http GET /secrets/red.secret.systemd.check "$TOKEN2"
[ "$HTTP_CODE" = 200 ] || fail "after a reload with an empty token file the current token answered $HTTP_CODE"
g journalctl --sync
grep -q 'empty; keeping the previous value' <<<"$(g journalctl -u reddb.service -o cat --no-pager | tail -n 3)" ||
  fail "no error logged for the empty token file"
g mv /etc/reddb/admin-token /etc/reddb/admin-token.away
g systemctl reload reddb.service 2>/dev/null && fail "systemctl reload succeeded without /etc/reddb/admin-token"
http GET /secrets/red.secret.systemd.check "$TOKEN2"
[ "$HTTP_CODE" = 200 ] || fail "after a failed reload the current token answered $HTTP_CODE"
[ "$(show ActiveState)" = active ] && [ "$(show MainPID)" = "$MAINPID" ] || fail "the daemon did not survive the failed reload"
printf '%s\n' "$TOKEN2" | g sh -c 'umask 077 && cat >/etc/reddb/admin-token'
g rm -f /etc/reddb/admin-token.away
pass "empty token file: reload keeps the token and logs an error; missing file: reload fails, daemon and token unchanged"

phase "8. watchdog"
[ "$(show WatchdogUSec)" = 3s ] || fail "the watchdog is not armed: WatchdogUSec=$(show WatchdogUSec)"
ping0=$(show WatchdogTimestampMonotonic)
say "   waiting 8 s with WatchdogSec=3s"
sleep 8
ping1=$(show WatchdogTimestampMonotonic)
[ "$ping1" -gt "$ping0" ] 2>/dev/null || fail "no watchdog ping in 8 s (WatchdogTimestampMonotonic $ping0 -> $ping1)"
say "   last ping $(((ping1 - ping0) / 1000)) ms after the first reading"
nrestarts=$(show NRestarts)
[ "$nrestarts" = 0 ] || fail "NRestarts=$nrestarts: the watchdog (or something) restarted the daemon"
[ "$(show ActiveState)" = active ] || fail "reddb.service is $(show ActiveState) after 8 s"
[ "$(show MainPID)" = "$MAINPID" ] || fail "MainPID changed during the watchdog wait"
pass "after 8 s with WatchdogSec=3s: active, NRestarts=0, same MainPID"

phase "9. restart keeps data; stop is clean"
g systemctl restart reddb.service || fail "systemctl restart reddb failed"
[ "$(show ActiveState)" = active ] || fail "reddb.service is $(show ActiveState) after restart"
[ "$(show MainPID)" != "$MAINPID" ] || fail "MainPID did not change on restart"
http GET /secrets/red.secret.systemd.check "$TOKEN2"
[ "$HTTP_CODE" = 200 ] || fail "after restart GET answered $HTTP_CODE: $HTTP_BODY"
case "$HTTP_BODY" in
  *"\"value\":\"$SECRET_VALUE\""*) ;;
  *) fail "after restart the secret has another value" ;;
esac
pass "after restart the secret is still there (new MainPID $(show MainPID))"

phase "9b. no certificate on the host: unseal with k-of-n shares"
# The drop-in of docs/OPERATIONS.md "Unsealing a running server with shares".
shares=$(g sh -c 'REDDB_CERTIFICATE_FILE=/etc/reddb/certificate red certificate split --shares 3 --threshold 2' |
  sed -n 's/^share: //p')
[ "$(grep -c . <<<"$shares")" = 3 ] || fail "red certificate split did not print 3 shares"
SHARE1=$(sed -n 1p <<<"$shares")
SHARE3=$(sed -n 3p <<<"$shares")
g mkdir -p /etc/systemd/system/reddb.service.d
g sh -c 'cat >/etc/systemd/system/reddb.service.d/unseal-with-shares.conf' <<'EOF_DROPIN'
[Unit]
ConditionPathExists=
ConditionPathExists=/etc/reddb/admin-token
[Service]
LoadCredential=
ExecStart=
ExecStart=/usr/bin/red server --path /var/lib/reddb/data.rdb --require-auth
EOF_DROPIN
g systemctl daemon-reload
g systemctl restart reddb.service || fail "restart with the unseal drop-in failed"
[ "$(show ActiveState)" = active ] || fail "reddb.service is $(show ActiveState) without a certificate"
http GET /health
case "$HTTP_BODY" in *'"sealed":true'*) ;; *) fail "without a certificate /health says $HTTP_BODY" ;; esac
http GET /secrets/red.secret.systemd.check "$TOKEN2"
[ "$HTTP_CODE" = 503 ] || fail "a sealed read answered $HTTP_CODE"
http POST /sys/unseal "" "{\"share\":\"$SHARE3\"}"
case "$HTTP_BODY" in *'"progress":1'*'"threshold":2'*) ;; *) fail "first share: $HTTP_CODE $HTTP_BODY" ;; esac
http POST /sys/unseal "" "{\"share\":\"$SHARE1\"}"
case "$HTTP_BODY" in *'"sealed":false'*) ;; *) fail "second share: $HTTP_CODE $HTTP_BODY" ;; esac
http GET /secrets/red.secret.systemd.check "$TOKEN2"
case "$HTTP_CODE $HTTP_BODY" in
  "200 "*"\"value\":\"$SECRET_VALUE\""*) ;;
  *) fail "after the unseal GET answered $HTTP_CODE" ;;
esac
g rm -f /etc/systemd/system/reddb.service.d/unseal-with-shares.conf
g systemctl daemon-reload
g systemctl restart reddb.service || fail "restart without the drop-in failed"
http GET /secrets/red.secret.systemd.check "$TOKEN2"
[ "$HTTP_CODE" = 200 ] || fail "back on the certificate credential GET answered $HTTP_CODE"
pass "started sealed without the certificate, unsealed in place by 2 of 3 shares over HTTP; back on the credential after"
g systemctl stop reddb.service 2>&1 | sed 's/^/   systemctl: /'
[ "${PIPESTATUS[0]}" = 0 ] || fail "systemctl stop reddb failed"
status=$(show ExecMainStatus)
result=$(show Result)
[ "$status" = 0 ] || fail "ExecMainStatus=$status after stop, expected 0"
[ "$result" = success ] || fail "Result=$result after stop, expected success"
pass "stop: ExecMainStatus=0, Result=success"
g systemctl stop reddb.socket reddb-wire.socket

phase "10. no secret in the journal"
g journalctl --sync || true
g journalctl -u reddb.service -u reddb.socket -o cat --no-pager >"$WORK/journal-reddb.txt"
g journalctl -b -o cat --no-pager >"$WORK/journal-all.txt"
[ -s "$WORK/journal-reddb.txt" ] || fail "journalctl -u reddb is empty"
for name in CERT TOKEN1 TOKEN2 PASSWORD API_KEY SECRET_VALUE SHARE1 SHARE3; do
  value=${!name}
  for j in reddb all; do
    if grep -qF "$value" "$WORK/journal-$j.txt"; then
      fail "the $name value appears in the journal ($j)"
    fi
  done
done
pass "journal ($(wc -l <"$WORK/journal-reddb.txt") lines of reddb, $(wc -l <"$WORK/journal-all.txt") in the boot) holds no certificate, token, password, api key or secret value"

phase "11. systemd-analyze security --offline=true"
if command -v systemd-analyze >/dev/null 2>&1 &&
  systemd-analyze security --offline=true "$repo/systemd/reddb.service" >"$WORK/security.txt" 2>&1; then
  where=host
else
  g systemd-analyze security --offline=true /etc/systemd/system/reddb.service >"$WORK/security.txt" 2>&1 ||
    fail "systemd-analyze security failed: $(tail -n 5 "$WORK/security.txt")"
  where=guest
fi
line=$(grep 'Overall exposure level' "$WORK/security.txt") || fail "no exposure level in the output"
exposure=$(printf '%s\n' "$line" | sed -E 's/.*: ([0-9.]+) .*/\1/')
say "   ($where) $line"
awk -v e="$exposure" 'BEGIN { exit !(e + 0 <= 0.5) }' || fail "exposure $exposure > 0.5"
pass "exposure $exposure <= 0.5"

phase_end
summary
