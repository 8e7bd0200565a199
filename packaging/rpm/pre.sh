# reddb %pre: the service account must exist before rpm unpacks
# /var/lib/reddb (owned by reddb) and /etc/reddb (group reddb). The same
# lines as /usr/lib/sysusers.d/reddb.conf, which is not unpacked yet.
if command -v systemd-sysusers >/dev/null 2>&1; then
    systemd-sysusers --replace=/usr/lib/sysusers.d/reddb.conf - <<'SYSUSERS'
g reddb - -
u reddb - "reddb secret store" /var/lib/reddb /usr/sbin/nologin
SYSUSERS
else
    getent group reddb >/dev/null || groupadd --system reddb
    getent passwd reddb >/dev/null ||
        useradd --system --gid reddb --home-dir /var/lib/reddb --no-create-home \
            --shell /usr/sbin/nologin --comment "reddb secret store" reddb
fi
exit 0
