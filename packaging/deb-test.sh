#!/usr/bin/env bash
# The package life-cycle test: builds the .deb with cargo-deb (twice: the
# second one, with a higher version, is the upgrade), checks its control
# data and lintian, then boots systemd as PID 1 in systemd-nspawn on the
# cached Debian bookworm root (packaging/lib.sh, as systemd-test.sh) and
# walks the operator's path with apt: install, bootstrap as reddb, start,
# health, a secret, reload, restart, upgrade, remove, reinstall, the
# certificate as an encrypted credential, purge. See packaging/README.md.
#
# Usage:  sudo packaging/deb-test.sh          (as root; cargo deb builds --release)
# Knobs:  REDDB_DEB_NO_BUILD=1  package target/release/red as it is (cargo deb --no-build)
#         REDDB_TEST_CACHE, REDDB_TEST_KEEP, REDDB_TEST_MIRROR, REDDB_TEST_HOLD:
#                               as for systemd-test.sh
#
# Any failed step stops the test with a message naming it, the guest's
# journal and unit status, and a non-zero exit status. The last line is
# "deb life-cycle test: N passed, M failed".
set -euo pipefail
umask 022

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
TEST_LABEL="deb life-cycle test"
TEST_SLUG=reddb-deb-test
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

lib_prerequisites dpkg-deb:dpkg lintian:lintian
if ! cargo deb --version >/dev/null 2>&1; then
  say "   installing cargo-deb (cargo install cargo-deb --locked; takes minutes)"
  cargo install cargo-deb --locked >/dev/null 2>&1 || fail "cargo install cargo-deb failed"
fi
pass "$(cargo deb --version 2>/dev/null | head -n 1), $(lintian --version)"
lib_workdir
PKGS=$WORK/pkgs
mkdir -p "$PKGS"

# -- the packages --------------------------------------------------------------

phase "build the packages (cargo deb)"
build_args=()
[ "${REDDB_DEB_NO_BUILD:-0}" = 1 ] && build_args+=(--no-build)
(cd "$repo" && cargo deb "${build_args[@]}" -o "$PKGS/" >"$WORK/cargo-deb.log" 2>&1) ||
  fail "cargo deb failed: $(tail -n 20 "$WORK/cargo-deb.log")"
DEB1=$(ls "$PKGS"/reddb_*.deb)
V1=$(dpkg-deb -f "$DEB1" Version)
V2=$V1+upgrade1
(cd "$repo" && cargo deb --no-build --deb-version "$V2" -o "$PKGS/" >>"$WORK/cargo-deb.log" 2>&1) ||
  fail "cargo deb --deb-version $V2 failed: $(tail -n 20 "$WORK/cargo-deb.log")"
DEB2=$PKGS/$(basename "${DEB1/_"$V1"_/_"$V2"_}")
[ -f "$DEB2" ] || fail "no upgrade package at $DEB2"
dpkg --compare-versions "$V2" gt "$V1" || fail "$V2 is not newer than $V1"
pass "$(basename "$DEB1") ($(stat -c %s "$DEB1") bytes) and the upgrade $(basename "$DEB2")"

phase "control data and contents (dpkg -I, dpkg -c)"
depends=$(dpkg-deb -f "$DEB1" Depends)
say "   Depends: $depends"
[[ "$depends" =~ ^libc6(\ \([^\)]*\))?$ ]] || fail "Depends is '$depends', expected libc6 only"
pass "Depends: $depends"
# (Listings are captured before grep -q: with pipefail, grep -q exiting at
# the first match makes the writer die of SIGPIPE and the pipeline "fail".)
ctrl_files=$(dpkg-deb --ctrl-tarfile "$DEB1" | tar -t)
for s in postinst prerm postrm; do
  grep -qx "./$s" <<<"$ctrl_files" || fail "no $s maintainer script"
done
dpkg-deb -c "$DEB1" >"$WORK/contents.txt"
expect_file() { # MODE PATH
  grep -qE "^$1 (root/root|0/0) +[0-9]+ [0-9-]+ [0-9:]+ \.$2\$" "$WORK/contents.txt" ||
    fail "the package has no $2 with mode $1 root/root: $(grep -F "$2" "$WORK/contents.txt" || echo absent)"
}
expect_file -rwxr-xr-x /usr/bin/red
for f in /usr/lib/systemd/system/reddb.service /usr/lib/systemd/system/reddb.socket \
  /usr/lib/systemd/system/reddb-wire.socket /usr/lib/sysusers.d/reddb.conf /usr/lib/tmpfiles.d/reddb.conf \
  /usr/share/man/man1/red.1.gz /usr/share/doc/reddb/README.md /usr/share/doc/reddb/OPERATIONS.md \
  /usr/share/doc/reddb/copyright /usr/share/doc/reddb/changelog.Debian.gz; do
  expect_file -rw-r--r-- "$f"
done
mkdir -p "$WORK/x"
dpkg-deb -x "$DEB1" "$WORK/x"
gzip -dc "$WORK/x/usr/share/man/man1/red.1.gz" | cmp -s - "$repo/packaging/red.1" || fail "red.1.gz is not packaging/red.1"
pass "postinst/prerm/postrm; /usr/bin/red 0755, three units, sysusers, tmpfiles, red.1.gz, docs (0644 root:root)"

phase "lintian"
lintian --allow-root "$DEB1" >"$WORK/lintian.txt" 2>&1 || true
sed 's/^/   /' "$WORK/lintian.txt"
grep -q '^E: ' "$WORK/lintian.txt" && fail "lintian reports errors"
pass "lintian: no error ($(grep -c '^W: ' "$WORK/lintian.txt" || true) warning(s), each explained in packaging/README.md)"

# -- the guest -----------------------------------------------------------------

lib_root
lib_ports
# The sockets on free ports (the guest shares the host's network): the
# operator's way, drop-ins in /etc, made before the package arrives.
mkdir -p "$ROOT/etc/systemd/system/reddb.socket.d" "$ROOT/etc/systemd/system/reddb-wire.socket.d"
printf '[Socket]\nListenStream=\nListenStream=127.0.0.1:%s\n' "$PORT" >"$ROOT/etc/systemd/system/reddb.socket.d/10-test-port.conf"
printf '[Socket]\nListenStream=\nListenStream=127.0.0.1:%s\n' "$WIRE_PORT" >"$ROOT/etc/systemd/system/reddb-wire.socket.d/10-test-port.conf"
lib_boot --bind-ro="$PKGS:/pkgs"

GDEB1=/pkgs/$(basename "$DEB1")
GDEB2=/pkgs/$(basename "$DEB2")
apt_get() { g env DEBIAN_FRONTEND=noninteractive apt-get -y -q=1 -o Dpkg::Use-Pty=0 "$@"; }
# shellcheck disable=SC2016 # dpkg-query's own ${...} format
installed_version() { g dpkg-query -W -f '${Version} ${db:Status-Abbrev}' reddb 2>/dev/null || true; }
secret_is() { # TOKEN: the secret still has its value
  http GET /secrets/red.secret.deb.check "$1"
  [ "$HTTP_CODE" = 200 ] || return 1
  case "$HTTP_BODY" in *"\"value\":\"$SECRET_VALUE\""*) return 0 ;; esac
  return 1
}
health_unsealed() {
  http GET /health
  [ "$HTTP_CODE" = 200 ] && case "$HTTP_BODY" in *'"sealed":false'*) true ;; *) false ;; esac
}

phase "1. apt install ./$(basename "$DEB1")"
g test -x /usr/bin/red && fail "/usr/bin/red exists before the package is installed"
apt_get install "$GDEB1" >"$WORK/apt-install.txt" 2>&1 || fail "apt-get install $GDEB1 failed: $(tail -n 20 "$WORK/apt-install.txt")"
sed -n '/^reddb:/,$p' "$WORK/apt-install.txt" | sed 's/^/   apt: /' | sed -n '1,12p'
[ "$(installed_version)" = "$V1 ii " ] || fail "dpkg-query says '$(installed_version)', expected '$V1 ii '"
grep -qF 'ConditionPathExists=/etc/reddb/certificate' "$WORK/apt-install.txt" ||
  fail "the postinst output does not say the service waits for /etc/reddb/certificate"
pass "installed $V1 offline from the bind-mounted /pkgs; postinst names ConditionPathExists=/etc/reddb/certificate"
g getent passwd reddb >/dev/null || fail "postinst did not create the reddb user"
got=$(g stat -c '%a %U:%G' /etc/reddb)
[ "$got" = "750 root:reddb" ] || fail "/etc/reddb is '$got', expected '750 root:reddb'"
got=$(g stat -c '%a %U:%G' /var/lib/reddb)
[ "$got" = "700 reddb:reddb" ] || fail "/var/lib/reddb is '$got', expected '700 reddb:reddb'"
for f in /usr/bin/red /usr/lib/systemd/system/reddb.service /usr/lib/sysusers.d/reddb.conf \
  /usr/lib/tmpfiles.d/reddb.conf /usr/share/man/man1/red.1.gz /usr/share/doc/reddb/README.md; do
  g test -f "$f" || fail "$f is not installed"
done
pass "user reddb (systemd-sysusers); /etc/reddb 0750 root:reddb, /var/lib/reddb 0700 reddb:reddb (systemd-tmpfiles); files in place"
[ "$(show LoadState)" = loaded ] || fail "reddb.service is $(show LoadState) after daemon-reload"
# Debian's merged /usr: systemd names /lib/systemd/system, the same directory.
[ "$(g realpath "$(show FragmentPath)")" = /usr/lib/systemd/system/reddb.service ] || fail "reddb.service comes from $(show FragmentPath)"
[ "$(show ActiveState)" = inactive ] || fail "reddb.service is $(show ActiveState) right after install"
[ "$(show ActiveState reddb.socket)" = inactive ] || fail "reddb.socket is $(show ActiveState reddb.socket) right after install"
en=$(g systemctl is-enabled reddb.service 2>/dev/null || true)
[ "$en" = disabled ] || fail "reddb.service is '$en' after install, expected disabled"
g systemctl start reddb.service || fail "systemctl start reddb.service (no certificate) returned an error"
[ "$(show ConditionResult)" = no ] || fail "ConditionResult=$(show ConditionResult) without a certificate"
g systemctl stop reddb.socket reddb-wire.socket
g red version >"$WORK/version.txt" 2>&1 || fail "red version failed: $(cat "$WORK/version.txt")"
pass "units loaded from /usr/lib/systemd/system, not enabled, not started; a start attempt: ConditionResult=no; $(head -n 1 "$WORK/version.txt")"

phase "2. bootstrap as reddb; certificate and admin token"
PASSWORD=pw-$(rand_hex 16)
printf '%s\n' "$PASSWORD" | g sh -c 'umask 077 && cat >/run/reddb-admin-password && chown reddb:reddb /run/reddb-admin-password' ||
  fail "cannot write the password file"
boot_out=$(g runuser -u reddb -- red bootstrap --path /var/lib/reddb/data.rdb --vault --username admin \
  --password-file /run/reddb-admin-password --print-certificate 2>"$WORK/bootstrap.err") ||
  fail "red bootstrap as reddb failed: $(cat "$WORK/bootstrap.err")"
g rm -f /run/reddb-admin-password
CERT=$(printf '%s\n' "$boot_out" | grep '^certificate:' | awk '{print $2}')
# shellcheck disable=SC2034 # read through ${!name} in step 11
API_KEY=$(printf '%s\n' "$boot_out" | grep '^api key:' | awk '{print $3}')
unset boot_out
[[ "$CERT" =~ ^[0-9a-f]{64}$ ]] || fail "bootstrap printed no 64-hex certificate line"
got=$(g stat -c '%a %U:%G' /var/lib/reddb/data.rdb)
[ "$got" = "600 reddb:reddb" ] || fail "data.rdb is '$got', expected '600 reddb:reddb'"
printf '%s\n' "$CERT" | g sh -c 'umask 077 && cat >/etc/reddb/certificate' || fail "cannot write /etc/reddb/certificate"
TOKEN1=tok-$(rand_hex 24)
printf '%s\n' "$TOKEN1" | g sh -c 'umask 077 && cat >/etc/reddb/admin-token' || fail "cannot write /etc/reddb/admin-token"
pass "runuser -u reddb -- red bootstrap: /var/lib/reddb/data.rdb 0600 reddb:reddb; /etc/reddb/{certificate,admin-token} 0600 root:root"

phase "3. systemctl enable --now; /health; a secret"
g systemctl enable --now reddb.socket reddb-wire.socket reddb.service >"$WORK/enable.txt" 2>&1 ||
  fail "systemctl enable --now failed: $(cat "$WORK/enable.txt")"
[ "$(show ActiveState)" = active ] || fail "reddb.service is $(show ActiveState)/$(show SubState)"
health_unsealed || fail "GET /health answered $HTTP_CODE $HTTP_BODY"
pass "enabled and started; GET http://127.0.0.1:$PORT/health -> 200 $HTTP_BODY"
SECRET_VALUE=v-$(rand_hex 16)
http POST /secrets/red.secret.deb.check "$TOKEN1" "{\"value\":\"$SECRET_VALUE\"}"
[ "$HTTP_CODE" = 200 ] || fail "POST /secrets/red.secret.deb.check answered $HTTP_CODE: $HTTP_BODY"
secret_is "$TOKEN1" || fail "GET of the secret answered $HTTP_CODE: $HTTP_BODY"
pass "POST then GET /secrets/red.secret.deb.check round-trips"
MAINPID=$(show MainPID)

phase "4. systemctl reload (admin token rotation)"
TOKEN2=tok-$(rand_hex 24)
printf '%s\n' "$TOKEN2" | g sh -c 'umask 077 && cat >/etc/reddb/admin-token.new && mv /etc/reddb/admin-token.new /etc/reddb/admin-token'
g systemctl reload reddb.service || fail "systemctl reload reddb failed"
[ "$(show MainPID)" = "$MAINPID" ] || fail "MainPID changed on reload"
secret_is "$TOKEN2" || fail "the new token got $HTTP_CODE after reload"
http GET /secrets/red.secret.deb.check "$TOKEN1"
[ "$HTTP_CODE" = 401 ] || fail "the old token answered $HTTP_CODE after reload, expected 401"
pass "reload: new token 200, old token 401, MainPID $MAINPID unchanged"

phase "5. systemctl restart"
g systemctl restart reddb.service || fail "systemctl restart reddb failed"
[ "$(show ActiveState)" = active ] || fail "reddb.service is $(show ActiveState) after restart"
[ "$(show MainPID)" != "$MAINPID" ] || fail "MainPID did not change on restart"
secret_is "$TOKEN2" || fail "after restart the secret answered $HTTP_CODE: $HTTP_BODY"
MAINPID=$(show MainPID)
pass "restart: new MainPID $MAINPID, the secret is still there"

phase "6. upgrade to $V2 over the running service"
apt_get install "$GDEB2" >"$WORK/apt-upgrade.txt" 2>&1 || fail "apt-get install $GDEB2 failed: $(tail -n 20 "$WORK/apt-upgrade.txt")"
grep '^reddb:' "$WORK/apt-upgrade.txt" | sed 's/^/   apt: /' || true
[ "$(installed_version)" = "$V2 ii " ] || fail "dpkg-query says '$(installed_version)', expected '$V2 ii '"
[ "$(show ActiveState)" = active ] || fail "reddb.service is $(show ActiveState) after the upgrade"
[ "$(show MainPID)" != "$MAINPID" ] || fail "the running daemon was not restarted by the upgrade (MainPID $MAINPID)"
health_unsealed || fail "after the upgrade GET /health answered $HTTP_CODE $HTTP_BODY"
secret_is "$TOKEN2" || fail "after the upgrade the secret answered $HTTP_CODE: $HTTP_BODY"
g cmp -s /etc/reddb/certificate /dev/stdin <<<"$CERT" || fail "the upgrade changed /etc/reddb/certificate"
pass "upgraded $V1 -> $V2: service restarted (MainPID $(show MainPID)), unsealed, the secret intact"

phase "7. apt remove reddb"
apt_get remove reddb >"$WORK/apt-remove.txt" 2>&1 || fail "apt-get remove reddb failed: $(tail -n 20 "$WORK/apt-remove.txt")"
grep '^reddb:' "$WORK/apt-remove.txt" | sed 's/^/   apt: /' || true
case "$(installed_version)" in "$V2 rc ") ;; *) fail "dpkg-query says '$(installed_version)' after remove, expected '$V2 rc '" ;; esac
g test -e /usr/bin/red && fail "/usr/bin/red is still there after remove"
g test -e /usr/lib/systemd/system/reddb.service && fail "reddb.service is still there after remove"
pgrep_out=$(g pgrep -x red || true)
[ -z "$pgrep_out" ] || fail "red still runs after remove (pid $pgrep_out)"
http GET /health
case "$HTTP_CODE" in curl-failed*) ;; *) fail "port $PORT still answers ($HTTP_CODE) after remove" ;; esac
got=$(g stat -c '%a %U:%G %s' /var/lib/reddb/data.rdb) || fail "/var/lib/reddb/data.rdb is gone after remove"
g test -s /etc/reddb/certificate || fail "/etc/reddb/certificate is gone after remove"
pass "removed: daemon stopped, sockets closed, binary and units gone; kept /var/lib/reddb/data.rdb ($got) and /etc/reddb"

phase "8. reinstall; the kept data opens"
apt_get install "$GDEB2" >"$WORK/apt-reinstall.txt" 2>&1 || fail "apt-get install (reinstall) failed: $(tail -n 20 "$WORK/apt-reinstall.txt")"
[ "$(installed_version)" = "$V2 ii " ] || fail "dpkg-query says '$(installed_version)' after reinstall"
grep -qF 'NOT started' "$WORK/apt-reinstall.txt" && fail "postinst says 'not started' although the certificate exists"
g systemctl start reddb.socket reddb-wire.socket reddb.service || fail "systemctl start after reinstall failed"
[ "$(show ActiveState)" = active ] || fail "reddb.service is $(show ActiveState) after reinstall"
health_unsealed || fail "after reinstall GET /health answered $HTTP_CODE $HTTP_BODY"
secret_is "$TOKEN2" || fail "after reinstall the secret answered $HTTP_CODE: $HTTP_BODY"
pass "reinstalled $V2; started; unsealed with the same certificate, the secret intact"

phase "9. the certificate as an encrypted credential (systemd-creds)"
g systemctl stop reddb.service || fail "systemctl stop failed"
g systemd-creds encrypt --name=certificate /etc/reddb/certificate /etc/reddb/certificate.cred >"$WORK/creds.txt" 2>&1 ||
  fail "systemd-creds encrypt failed: $(cat "$WORK/creds.txt")"
g grep -qF "$CERT" /etc/reddb/certificate.cred && fail "certificate.cred holds the certificate in clear"
g mkdir -p /etc/systemd/system/reddb.service.d
g sh -c 'cat >/etc/systemd/system/reddb.service.d/50-encrypted-certificate.conf' <<'EOF'
[Unit]
ConditionPathExists=
ConditionPathExists=/etc/reddb/certificate.cred
ConditionPathExists=/etc/reddb/admin-token
[Service]
LoadCredential=
LoadCredentialEncrypted=certificate:/etc/reddb/certificate.cred
EOF
g mv /etc/reddb/certificate /etc/reddb/certificate.plain
g systemctl daemon-reload
g systemctl start reddb.service || fail "systemctl start with LoadCredentialEncrypted= failed"
[ "$(show ActiveState)" = active ] || fail "reddb.service is $(show ActiveState) with the encrypted credential"
health_unsealed || fail "with the encrypted credential GET /health answered $HTTP_CODE $HTTP_BODY"
secret_is "$TOKEN2" || fail "with the encrypted credential the secret answered $HTTP_CODE"
pass "systemd-creds encrypt + LoadCredentialEncrypted= drop-in, no plain certificate on disk: unsealed, the secret intact"
g systemctl stop reddb.service
g rm -f /etc/systemd/system/reddb.service.d/50-encrypted-certificate.conf /etc/reddb/certificate.cred
g mv /etc/reddb/certificate.plain /etc/reddb/certificate
g systemctl daemon-reload

phase "10. apt purge reddb"
apt_get purge reddb >"$WORK/apt-purge.txt" 2>&1 || fail "apt-get purge reddb failed: $(tail -n 20 "$WORK/apt-purge.txt")"
grep '^reddb:' "$WORK/apt-purge.txt" | sed 's/^/   apt: /' || true
[ -z "$(installed_version)" ] || case "$(installed_version)" in *" pn ") ;; *) fail "dpkg-query says '$(installed_version)' after purge" ;; esac
g test -s /var/lib/reddb/data.rdb || fail "purge removed /var/lib/reddb/data.rdb"
g test -s /etc/reddb/certificate || fail "purge removed /etc/reddb/certificate"
g test -e /etc/systemd/system/multi-user.target.wants/reddb.service && fail "purge left the enablement symlink"
grep -qF 'rm -rf /var/lib/reddb' "$WORK/apt-purge.txt" || fail "purge does not tell the operator how to remove the data"
pass "purged: the enablement is gone; /var/lib/reddb and /etc/reddb are kept, and postrm says how to remove them"

phase "11. no secret in the journal or in apt's output"
g journalctl --sync || true
g journalctl -b -o cat --no-pager >"$WORK/journal-all.txt"
for name in CERT TOKEN1 TOKEN2 PASSWORD API_KEY SECRET_VALUE; do
  value=${!name}
  for f in "$WORK"/journal-all.txt "$WORK"/apt-*.txt; do
    grep -qF "$value" "$f" && fail "the $name value appears in $(basename "$f")"
  done
done
pass "neither the boot's journal nor any apt output holds the certificate, a token, the password, the api key or the secret"

phase_end
summary
