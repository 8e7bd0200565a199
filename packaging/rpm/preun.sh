# reddb %preun ($1: 0 = erase, 1 = upgrade): stop the daemon and its sockets
# on erase only; an upgrade restarts it from %postun.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl stop reddb.service reddb.socket reddb-wire.socket >/dev/null 2>&1 || :
fi
exit 0
