#!/usr/bin/env bash
# The .rpm check: builds the package with cargo-generate-rpm, checks its
# file list, modes, owners, scriptlets and requirements with rpm -q…p, then
# installs it twice: with --noscripts into an empty root (files exactly as
# packed), and with its scriptlets (run chrooted) into the cached Debian root
# of packaging/lib.sh, where %pre makes the reddb user and %post the
# directories; then an upgrade and an erase that keep the data. No systemd
# runs here (this host has no RPM distribution root); the life cycle under
# systemd is deb-test.sh's. See packaging/README.md.
#
# Usage:  sudo packaging/rpm-check.sh
# Knobs:  REDDB_RPM_NO_BUILD=1  package target/release/red as it is (no cargo build)
#         REDDB_TEST_CACHE, REDDB_TEST_KEEP, REDDB_TEST_MIRROR: as for systemd-test.sh
# The last line is "rpm check: N passed, M failed".
set -euo pipefail
umask 022

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
TEST_LABEL="rpm check"
TEST_SLUG=reddb-rpm-check
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

lib_prerequisites rpm:rpm
if ! cargo generate-rpm --version >/dev/null 2>&1; then
  say "   installing cargo-generate-rpm (cargo install cargo-generate-rpm --locked; takes minutes)"
  cargo install cargo-generate-rpm --locked >/dev/null 2>&1 || fail "cargo install cargo-generate-rpm failed"
fi
pass "$(cargo generate-rpm --version 2>/dev/null | head -n 1), $(rpm --version)"
lib_workdir

phase "build the package (cargo generate-rpm)"
if [ "${REDDB_RPM_NO_BUILD:-0}" != 1 ]; then
  (cd "$repo" && cargo build --release --quiet) || fail "cargo build --release failed"
fi
[ -x "$repo/target/release/red" ] || fail "no target/release/red"
# cargo-generate-rpm packs files as they are: the man page is gzipped here.
mkdir -p "$repo/target/packaging"
gzip -9n -c "$repo/packaging/red.1" >"$repo/target/packaging/red.1.gz"
(cd "$repo" && cargo generate-rpm -o "$WORK/" >"$WORK/generate-rpm.log" 2>&1) ||
  fail "cargo generate-rpm failed: $(tail -n 20 "$WORK/generate-rpm.log")"
RPM1=$(ls "$WORK"/reddb-*.rpm)
mkdir -p "$WORK/upgrade"
(cd "$repo" && cargo generate-rpm -s 'release = "2"' -o "$WORK/upgrade/" >>"$WORK/generate-rpm.log" 2>&1) ||
  fail "cargo generate-rpm (release 2) failed: $(tail -n 20 "$WORK/generate-rpm.log")"
RPM2=$(ls "$WORK"/upgrade/reddb-*.rpm)
pass "$(basename "$RPM1") ($(stat -c %s "$RPM1") bytes) and the upgrade $(basename "$RPM2")"
rpm -qip "$RPM1" 2>/dev/null | sed 's/^/   /' | sed -n '1,12p'

phase "file list (rpm -qlp), modes and owners (rpm -qlvp)"
expected="/usr/bin/red
/usr/lib/systemd/system/reddb-wire.socket
/usr/lib/systemd/system/reddb.service
/usr/lib/systemd/system/reddb.socket
/usr/lib/sysusers.d/reddb.conf
/usr/lib/tmpfiles.d/reddb.conf
/usr/share/doc/reddb/OPERATIONS.md
/usr/share/doc/reddb/README.md
/usr/share/doc/reddb/SECURITY.md
/usr/share/man/man1/red.1.gz"
rpm -qlp "$RPM1" 2>/dev/null | sort >"$WORK/list.txt"
if ! diff -u <(printf '%s\n' "$expected") "$WORK/list.txt" >"$WORK/list.diff"; then
  fail "rpm -qlp differs from the expected list: $(cat "$WORK/list.diff")"
fi
pass "rpm -qlp: the $(wc -l <"$WORK/list.txt") expected paths, nothing else"
# The same files as the .deb (which adds Debian's copyright, changelog and
# lintian override). In both, /etc/reddb and /var/lib/reddb come from the
# scriptlets (systemd-tmpfiles), checked below.
if cargo deb --version >/dev/null 2>&1; then
  (cd "$repo" && cargo deb --no-build -o "$WORK/deb/" >"$WORK/cargo-deb.log" 2>&1) || fail "cargo deb failed: $(tail -n 20 "$WORK/cargo-deb.log")"
  dpkg-deb -c "$WORK"/deb/*.deb | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' |
    grep -vE '^/usr/share/doc/reddb/(copyright|changelog\.Debian\.gz)$|^/usr/share/lintian/' | sort >"$WORK/deb-list.txt"
  cp "$WORK/list.txt" "$WORK/rpm-files.txt"
  diff -u "$WORK/deb-list.txt" "$WORK/rpm-files.txt" >"$WORK/debrpm.diff" ||
    fail "the .rpm and the .deb install different files: $(cat "$WORK/debrpm.diff")"
  pass "the .rpm and the .deb install the same $(wc -l <"$WORK/rpm-files.txt") files"
else
  say "   (cargo-deb not installed: the comparison with the .deb is skipped)"
fi
rpm -qlvp "$RPM1" 2>/dev/null | awk '{ print $1, $3, $4, $NF }' >"$WORK/listv.txt"
sed 's/^/   /' "$WORK/listv.txt"
want_mode() { # PERMS USER GROUP PATH
  grep -qxF -e "$1 $2 $3 $4" "$WORK/listv.txt" || fail "$4 is '$(grep " $4\$" "$WORK/listv.txt")', expected '$1 $2 $3'"
}
want_mode -rwxr-xr-x root root /usr/bin/red
for f in /usr/lib/systemd/system/reddb.service /usr/lib/systemd/system/reddb.socket /usr/lib/systemd/system/reddb-wire.socket \
  /usr/lib/sysusers.d/reddb.conf /usr/lib/tmpfiles.d/reddb.conf /usr/share/man/man1/red.1.gz \
  /usr/share/doc/reddb/README.md /usr/share/doc/reddb/OPERATIONS.md /usr/share/doc/reddb/SECURITY.md; do
  want_mode -rw-r--r-- root root "$f"
done
pass "rpm -qlvp: /usr/bin/red 0755 root:root, the rest 0644 root:root"
rpm -qp --scripts "$RPM1" 2>/dev/null >"$WORK/scripts.txt"
for s in preinstall postinstall preuninstall postuninstall; do
  grep -q "^$s scriptlet" "$WORK/scripts.txt" || fail "no $s scriptlet"
done
rpm -qp --requires "$RPM1" 2>/dev/null | sort -u >"$WORK/requires.txt"
say "   requires: $(tr '\n' ' ' <"$WORK/requires.txt")"
# Only glibc (libc, libm: the vendored Lua's math library), libgcc_s and
# rpm's own capabilities: no library outside the base system.
grep -vE '^(/bin/sh|libc\.so\.6.*|libm\.so\.6.*|libgcc_s\.so\.1.*|ld-linux.*|rtld\(GNU_HASH\)|rpmlib\(.*)$' "$WORK/requires.txt" >"$WORK/odd-requires.txt" &&
  fail "unexpected requirements: $(tr '\n' ' ' <"$WORK/odd-requires.txt")"
pass "scriptlets %pre %post %preun %postun; requires only the C library and /bin/sh"

phase "rpm --root EMPTY -i --nodeps --noscripts"
SCRATCH=$WORK/scratch
mkdir -p "$SCRATCH"
rpm --root "$SCRATCH" --initdb
rpm --root "$SCRATCH" -i --nodeps --noscripts "$RPM1" >"$WORK/rpm-i.txt" 2>&1 || fail "rpm -i failed: $(cat "$WORK/rpm-i.txt")"
got=$(stat -c '%a %u:%g' "$SCRATCH/usr/bin/red")
[ "$got" = "755 0:0" ] || fail "/usr/bin/red is '$got'"
cmp -s "$SCRATCH/usr/bin/red" "$repo/target/release/red" || fail "the installed /usr/bin/red is not target/release/red"
gzip -dc "$SCRATCH/usr/share/man/man1/red.1.gz" | cmp -s - "$repo/packaging/red.1" || fail "red.1.gz is not packaging/red.1"
rpm --root "$SCRATCH" -V --nodeps reddb >"$WORK/verify.txt" 2>&1 || fail "rpm -V: $(cat "$WORK/verify.txt")"
pass "files, modes and owners on disk as listed; rpm -V clean; red and red.1.gz are the repository's"

lib_root
phase "with scriptlets, chrooted into the Debian root (no systemd running)"
R=$ROOT
rpm --root "$R" --initdb
chroot "$R" getent passwd reddb >/dev/null && fail "user reddb exists before %pre"
rpm --root "$R" -i --nodeps "$RPM1" >"$WORK/rpm-install.txt" 2>&1 || fail "rpm -i failed: $(cat "$WORK/rpm-install.txt")"
sed 's/^/   rpm: /' "$WORK/rpm-install.txt"
chroot "$R" getent passwd reddb >/dev/null || fail "%pre did not create user reddb"
got=$(chroot "$R" stat -c '%a %U:%G' /etc/reddb /var/lib/reddb | tr '\n' ' ') || true
[ "$got" = "750 root:reddb 700 reddb:reddb " ] || fail "directories are '$got'"
grep -qF 'ConditionPathExists=/etc/reddb/certificate' "$WORK/rpm-install.txt" || fail "%post does not say the service waits for the certificate"
pass "%pre made user reddb (systemd-sysusers); /etc/reddb 0750 root:reddb, /var/lib/reddb 0700 reddb:reddb; %post names the start condition"
PW=pw-$(rand_hex 16)
printf '%s\n' "$PW" >"$R/run/pw" && chroot "$R" chown reddb:reddb /run/pw
chroot "$R" runuser -u reddb -- red bootstrap --path /var/lib/reddb/data.rdb --vault --username admin \
  --password-file /run/pw --print-certificate >/dev/null 2>"$WORK/bootstrap.err" ||
  fail "red bootstrap as reddb failed: $(cat "$WORK/bootstrap.err")"
before=$(sha256sum <"$R/var/lib/reddb/data.rdb")
pass "runuser -u reddb -- red bootstrap --path /var/lib/reddb/data.rdb works"
rpm --root "$R" -U --nodeps "$RPM2" >"$WORK/rpm-upgrade.txt" 2>&1 || fail "rpm -U failed: $(cat "$WORK/rpm-upgrade.txt")"
[ "$(rpm --root "$R" -q --qf '%{RELEASE}' reddb)" = 2 ] || fail "release 2 is not installed after rpm -U"
[ "$(sha256sum <"$R/var/lib/reddb/data.rdb")" = "$before" ] || fail "the upgrade changed data.rdb"
pass "rpm -U to release 2: data.rdb unchanged"
rpm --root "$R" -e reddb >"$WORK/rpm-erase.txt" 2>&1 || fail "rpm -e failed: $(cat "$WORK/rpm-erase.txt")"
sed 's/^/   rpm: /' "$WORK/rpm-erase.txt"
[ ! -e "$R/usr/bin/red" ] || fail "/usr/bin/red is still there after rpm -e"
[ "$(sha256sum <"$R/var/lib/reddb/data.rdb")" = "$before" ] || fail "rpm -e removed or changed data.rdb"
[ -d "$R/etc/reddb" ] || fail "rpm -e removed /etc/reddb"
pass "rpm -e: binary gone; /var/lib/reddb/data.rdb and /etc/reddb kept"

phase_end
summary
