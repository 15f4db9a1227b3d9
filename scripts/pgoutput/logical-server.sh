#!/usr/bin/env bash
# A throwaway PostgreSQL with wal_level=logical, for logical replication tests and captures:
#   PG_BIN=… scripts/pgoutput/logical-server.sh start DIR   # initdb in DIR, start on a free port; prints the port
#   PG_BIN=… scripts/pgoutput/logical-server.sh stop DIR    # stop it and remove DIR
# User postgres, trust authentication on 127.0.0.1. As root, the server runs as the OS user postgres
# (scripts/install-deps.sh creates it). The server inherits no descriptor above 2 (not a caller's flock).
set -euo pipefail
: "${PG_BIN:?set PG_BIN to a PostgreSQL bin directory (see .run/servers.env)}"
command="${1:?start or stop}" dir="${2:?a directory}"
as_pg() { if [ "$(id -u)" = 0 ]; then (cd "$dir" && runuser -u postgres -- "$@"); else "$@"; fi; }
case "$command" in
start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    as_pg "$PG_BIN/initdb" -D "$dir/db" -U postgres -E UTF8 --no-locale --no-sync --auth=trust >"$dir/initdb.log" 2>&1
    for fd in /proc/$$/fd/*; do
        fd="${fd##*/}"
        if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    as_pg "$PG_BIN/pg_ctl" -D "$dir/db" -l "$dir/server.log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c wal_level=logical \
        -c max_replication_slots=8 -c max_wal_senders=8 -c fsync=off" start >/dev/null
    echo "$port" >"$dir/port"
    echo "$port"
    ;;
stop)
    as_pg "$PG_BIN/pg_ctl" -D "$dir/db" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 64 ;;
esac
