# reddb %postun ($1: 0 = erase, 1 = upgrade). The database (/var/lib/reddb),
# the certificate (/etc/reddb) and the reddb user are always kept.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart reddb.service >/dev/null 2>&1 || :
    fi
fi
if [ "$1" -eq 0 ]; then
    echo "reddb: removed; KEPT /var/lib/reddb (the database) and /etc/reddb (its certificate)."
    echo "reddb: remove them yourself once no copy is needed: rm -rf /var/lib/reddb /etc/reddb"
fi
exit 0
