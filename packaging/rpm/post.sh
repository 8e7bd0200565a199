# reddb %post ($1: 1 = install, 2 = upgrade). Never starts the daemon: it
# cannot run before the operator has bootstrapped and placed the certificate.
# The same directories by hand without systemd-tmpfiles, or where it cannot
# run (a chroot without /proc, as when building an image).
if ! { command -v systemd-tmpfiles >/dev/null 2>&1 &&
    systemd-tmpfiles --create /usr/lib/tmpfiles.d/reddb.conf; }; then
    install -d -m 0750 -o root -g reddb /etc/reddb
    install -d -m 0700 -o reddb -g reddb /var/lib/reddb
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload || :
fi
if [ ! -e /etc/reddb/certificate ] && [ ! -e /etc/reddb/certificate.cred ]; then
    echo "reddb: installed but NOT started: reddb.service has ConditionPathExists=/etc/reddb/certificate."
    echo "reddb: bootstrap as reddb, place /etc/reddb/certificate and /etc/reddb/admin-token, then"
    echo "reddb:   systemctl enable --now reddb.socket reddb-wire.socket reddb.service   (see red(1))"
fi
exit 0
